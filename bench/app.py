"""App timings for one user, measured in a real browser.

Cold start of ``streamlit run app.py`` until Home answers (health check, then
the Home page rendered), and, for a 30-s clip, the time from upload to the
rendered feature view on Explore and to the per-window timeline on Classify
(median of ``--repeats`` uploads after the first).

    python bench/app.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audioclf.audio import synth
from audioclf.audio.io import write_audio  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server, upload_clip  # noqa: E402

T = 300_000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    rows: dict[str, list[float]] = {"explore": [], "classify": []}
    with tempfile.TemporaryDirectory() as tmp:
        clips = []
        for i in range(args.repeats + 1):
            y = synth.harmonic_stack(150.0 + 40 * i, 30.0, 22050) + synth.noise(30.0, 22050, amp=0.02, rng=i)
            clips.append(write_audio(Path(tmp) / f"clip30s_{i}.wav", y.clip(-1, 1), 22050))
        t0 = time.perf_counter()
        with streamlit_server() as url, sync_playwright() as p:
            health = time.perf_counter() - t0
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 1400})
            page.set_default_timeout(T)
            page.goto(url)
            page.wait_for_selector('[data-testid="stMetric"]')
            home = time.perf_counter() - t0
            page.close()
            for step, link, title, done in (
                    ("explore", "Explore", "Explore a clip", ".js-plotly-plot .heatmaplayer"),
                    ("classify", "Classify", "Classify a clip", "text=Per-window class probabilities")):
                for clip in clips:
                    # A fresh session per upload, so no chart of an earlier clip is on the page.
                    page = browser.new_page(viewport={"width": 1300, "height": 1400})
                    page.set_default_timeout(T)
                    page.goto(url)
                    page.wait_for_selector('[data-testid="stMetric"]')
                    page.get_by_role("link", name=link).first.click()
                    page.get_by_role("heading", name=title).wait_for()
                    upload_clip(page, clip, timeout=T)
                    t = time.perf_counter()
                    page.wait_for_selector(done)
                    rows[step].append(time.perf_counter() - t)
                    page.close()
            browser.close()
    print(f"\ncold start: /_stcore/health after {health:.1f} s, Home rendered after {home:.1f} s\n")
    print("| 30-s clip | first upload (s) | median of next (s) |\n| --- | ---: | ---: |")
    for step, label in (("explore", "upload → feature view (Explore)"), ("classify", "upload → timeline (Classify)")):
        ts = rows[step]
        print(f"| {label} | {ts[0]:.1f} | {statistics.median(ts[1:]) if len(ts) > 1 else float('nan'):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
