"""How long the app's first screen and page switches take on the server, in a fresh Python process.

    python scripts/time_first_screen.py [SECONDS]  # prints one line per step

SECONDS (default 8) is how long a person looks at the landing page before opening another one:
the app loads torch and the model code in the background meanwhile (`ui.loaders.warm_up`).

Runs the app through Streamlit's AppTest (the server side of a page: imports, scene, split,
figures; not the browser's drawing, which the browser test in tests/e2e measures). The first
run is a cold server: it pays the imports and builds the demo scene. A second session then
opens the landing page on the warm server, and switches to every page once (first visit)
and back. Saved
models are read from an empty temporary runs folder, so only the shipped demo checkpoint counts.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = (
    "pages/1_Train.py",
    "pages/2_Spectral_attention.py",
    "pages/3_Spatial_attention.py",
    "pages/4_Compare.py",
)


def main(think: float = 8.0) -> int:
    os.environ["SSAN_RUNS_DIR"] = tempfile.mkdtemp(prefix="ssan-timing-runs-")
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    start = time.perf_counter()
    from streamlit.testing.v1 import AppTest

    print(f"import streamlit's AppTest: {time.perf_counter() - start:.2f} s")
    cold = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    start = time.perf_counter()
    cold.run()
    print(f"landing page, cold server (imports, demo scene): {time.perf_counter() - start:.2f} s")
    print(
        f"  scikit-learn imported by then: {'sklearn' in sys.modules} (torch may be, by the background warm-up)"
    )
    warm = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    start = time.perf_counter()
    warm.run()
    print(f"landing page, new session on the warm server: {time.perf_counter() - start:.2f} s")
    time.sleep(think)
    print(
        f"(looked at the landing page for {think:g} s; model code loaded meanwhile: {'torch' in sys.modules})"
    )
    for page in PAGES:
        start = time.perf_counter()
        warm.switch_page(page).run()
        print(f"switch to {page}, first visit: {time.perf_counter() - start:.2f} s")
    for page in ("pages/0_Scene.py", *PAGES):
        start = time.perf_counter()
        warm.switch_page(page).run()
        print(f"switch to {page}, again: {time.perf_counter() - start:.2f} s")
    failed = [e.message for e in warm.exception]
    if failed:
        print(f"errors: {failed}")
    print(
        f"cores: {len(os.sched_getaffinity(0))}, load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 8.0))
