"""Honest numbers: metrics on the test pixels, the comparison table against the paper's, and the
saved runs that stand for each model on a split."""
