"""Load test: N concurrent browser sessions through Explore and Classify on different clips.

Starts ``streamlit run app.py`` on a free localhost port, opens N isolated
browser contexts in one headless Chromium, and in each: uploads its own clip on
Explore and waits for the spectrogram, then uploads another on Classify and
waits for the per-window timeline. Prints errors (must be 0), median and worst
latency per step, and the server's peak memory (VmHWM).

    python bench/load.py --sessions 10
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audioclf import synth  # noqa: E402
from audioclf.io import write_audio  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402

TIMEOUT = 300_000


def _clips(folder: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        # Different clip per session: different pitch, length and content.
        y = synth.harmonic_stack(110.0 * (1 + i % 7), 2.0 + (i % 4), 22050) + synth.noise(2.0 + (i % 4), 22050,
                                                                                          amp=0.02, rng=i)
        paths.append(write_audio(folder / f"clip{i:02d}.wav", y.clip(-1, 1), 22050))
    return paths


async def _session(browser, url: str, clip: Path, results: list, errors: list) -> None:
    ctx = await browser.new_context(viewport={"width": 1300, "height": 1400})
    page = await ctx.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        await page.goto(url)
        await page.wait_for_selector('[data-testid="stMetric"]', timeout=TIMEOUT)
        await page.get_by_role("link", name="Explore").first.click()
        await page.get_by_text("Upload", exact=True).click()
        t0 = time.perf_counter()
        await page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(clip))
        await page.get_by_text(f"{clip.name}:").wait_for(timeout=TIMEOUT)
        await page.wait_for_selector(".js-plotly-plot .heatmaplayer", timeout=TIMEOUT)
        results.append(("explore", time.perf_counter() - t0))
        await page.get_by_role("link", name="Classify").first.click()
        await page.get_by_text("Upload", exact=True).click()
        t1 = time.perf_counter()
        await page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(clip))
        await page.get_by_text("Per-window class probabilities").wait_for(timeout=TIMEOUT)
        results.append(("classify", time.perf_counter() - t1))
        if await page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count():
            errors.append(f"{clip.name}: the page shows an error")
    except Exception as exc:  # record and carry on: the report counts failures
        errors.append(f"{clip.name}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    finally:
        await ctx.close()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _run(n: int, url: str, clips: list[Path]) -> tuple[list, list, float]:
    from playwright.async_api import async_playwright

    results: list = []
    errors: list = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        t = time.perf_counter()
        await asyncio.gather(*(_session(browser, url, clips[i], results, errors) for i in range(n)))
        wall = time.perf_counter() - t
        await browser.close()
    return results, errors, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, streamlit_server() as url:
        import subprocess

        pid = int(subprocess.run(["pgrep", "-f", "--", f"server.port {url.rsplit(':', 1)[1]}"], capture_output=True,
                                 text=True).stdout.split()[0])
        clips = _clips(Path(tmp), args.sessions)
        results, errors, wall = asyncio.run(_run(args.sessions, url, clips))
        peak = _peak_rss_mb(pid)
    print(f"\n{args.sessions} concurrent sessions, {wall:.1f} s wall, server peak memory {peak:.0f} MB\n")
    print("| step | sessions done | median (s) | worst (s) |\n| --- | ---: | ---: | ---: |")
    for step in ("explore", "classify"):
        ts = [t for s, t in results if s == step]
        if ts:
            print(f"| upload → {'spectrogram' if step == 'explore' else 'timeline'} | {len(ts)} | "
                  f"{statistics.median(ts):.1f} | {max(ts):.1f} |")
    print(f"\nerrors: {len(errors)}")
    for e in errors:
        print("  " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
