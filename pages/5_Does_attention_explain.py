"""Does attention explain? Attention beside attributions, deletion tests, planted bands, branches, seeds."""

from __future__ import annotations

from ui import explain_page as explain
from ui import page

page.setup("Does attention explain?")
ctx = page.context()
fitted = explain.header(ctx)
explain.one_pixel(ctx, fitted)
explanation = explain.deletion_test(ctx, fitted)
if explanation is not None:
    explain.deletion_results(ctx, explanation)
explain.branches(ctx, fitted)
explain.seed_stability(ctx, fitted, explanation)
