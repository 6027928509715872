"""Load test: N concurrent browser sessions through Explore and Classify, R rounds on one server.

Starts ``streamlit run app.py`` on a free localhost port and opens one headless
Chromium. Each round opens N fresh, isolated browser contexts at once (or spread
over ``--ramp`` seconds); each session uploads its own clip on Explore and waits
for the spectrogram, then uploads another on Classify and waits for the
per-window timeline. Every clip is different (per session and per round), so no
session is served from another's cache.

A session acts like a person: after each click it waits until the page it asked
for is drawn and the app has finished running (``stApp``'s
``data-test-script-state`` is ``notRunning``) before its next click, so it
measures the app and not its own timing.

Prints, over all rounds: errors (the bar is 0 in every round), median, p95 and
worst latency per step, wall time per round, and the server's peak memory (VmHWM).
The browsers share this machine's cores with the server, so a step's latency is
mostly their drawing when many run at once; a second table gives the server's own
share, from the work queue's log (``$AUDIOCLF_QUEUE_LOG``): for each kind of heavy
job, the seconds from the request to its result (queue wait + work).

    python bench/load.py --sessions 10 --rounds 3
    python bench/load.py --sessions 20 --steps classify --clips $AUDIOCLF_DATA/esc10/audio --ramp 20
    python bench/load.py --sessions 20 --rounds 2 --steps classify --clips $AUDIOCLF_DATA/esc10/audio --ramp 20 \
        --browser-nice 19 --warm 20     # started as `make run` does, the first round 20 s after the start

``--warm`` aside, the server is started with ``streamlit run app.py`` and no warm start, as before.
``$AUDIOCLF_BATCH=0`` in the environment turns the server's batching off (:mod:`audioclf.service.serving`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audioclf.audio import synth
from audioclf.audio.io import write_audio  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402

TIMEOUT = 300_000  # ms per wait; a session that waits longer counts as an error
STEPS = {"explore": ("Explore", "Explore a clip", "upload → spectrogram (Explore)"),
         "classify": ("Classify", "Classify a clip", "upload → per-window timeline (Classify)")}
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def _synthetic_clips(folder: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        # Different clip per session and round: different pitch, length and noise.
        seconds = 2.0 + (i % 4)
        y = synth.harmonic_stack(110.0 * (1 + i % 7) + i // 7, seconds, 22050) + synth.noise(seconds, 22050,
                                                                                            amp=0.02, rng=i)
        paths.append(write_audio(folder / f"clip{i:03d}.wav", y.clip(-1, 1), 22050))
    return paths


def _real_clips(folder: Path, n: int) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".wav", ".flac", ".ogg", ".mp3"})
    if len(files) < n:
        raise SystemExit(f"error: {folder} holds {len(files)} audio files; this run needs {n}")
    step = len(files) // n  # spread over the folder (ESC-10 is sorted by class)
    return [files[i * step] for i in range(n)]


async def _wait_idle(page) -> None:
    await page.wait_for_selector(IDLE, state="attached", timeout=TIMEOUT)


async def _open(page, link: str, title: str) -> None:
    """Follow a sidebar link and wait, like a person, until the new page is drawn and done running."""
    await page.get_by_role("link", name=link).first.click()
    await page.get_by_role("heading", name=title).wait_for(timeout=TIMEOUT)
    await _wait_idle(page)


async def _upload(page, clip: Path) -> None:
    """Pick "Upload" in the page's clip chooser, wait for the uploader to appear, and give it the file."""
    chooser = page.locator('[data-testid="stRadio"]').filter(has=page.get_by_text("Clip", exact=True))
    await chooser.get_by_text("Upload", exact=True).click()
    uploader = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    await uploader.wait_for(state="attached", timeout=TIMEOUT)
    await _wait_idle(page)
    await uploader.set_input_files(str(clip))


async def _session(browser, url: str, steps: list[str], clips: dict[str, Path], results: list, errors: list,
                   delay: float) -> None:
    await asyncio.sleep(delay)
    ctx = await browser.new_context(viewport={"width": 1300, "height": 1400})
    page = await ctx.new_page()
    page.set_default_timeout(TIMEOUT)
    step = "home"
    try:
        await page.goto(url)
        await page.wait_for_selector('[data-testid="stMetric"]', timeout=TIMEOUT)
        await _wait_idle(page)
        for step in steps:
            link, title, _ = STEPS[step]
            clip = clips[step]
            await _open(page, link, title)
            t0 = time.perf_counter()
            await _upload(page, clip)
            await page.get_by_text(f"{clip.name}:").first.wait_for(timeout=TIMEOUT)
            if step == "explore":
                await page.wait_for_selector(".js-plotly-plot .heatmaplayer", timeout=TIMEOUT)
            else:
                await page.get_by_text("Per-window class probabilities").first.wait_for(timeout=TIMEOUT)
            results.append((step, time.perf_counter() - t0))
            await _wait_idle(page)
            if await page.locator(ERRORS).count():
                errors.append(f"{clip.name} ({step}): the page shows an error")
    except Exception as exc:  # record and carry on: the report counts failures
        errors.append(f"{clips.get(step, Path('-')).name} ({step}): {type(exc).__name__}: "
                      f"{str(exc).splitlines()[0][:160]}")
    finally:
        await ctx.close()


def _niced_browser(folder: Path, niceness: int) -> str:
    """A launcher that starts Chromium at ``niceness``: in a classroom the browsers run on the students'
    machines, not on the server's cores, so here they take only what the server leaves."""
    if niceness <= 0:
        return str(CHROMIUM)
    launcher = folder / "chromium-niced"
    # SCHED_IDLE as well as nice: Chromium sets its own processes' nice values (as root, even below 0).
    launcher.write_text(f'#!/bin/sh\nexec chrt --idle 0 nice -n {int(niceness)} "{CHROMIUM}" "$@"\n')
    launcher.chmod(0o755)
    return str(launcher)


async def _round(n: int, url: str, steps: list[str], clips: list[Path], ramp: float,
                 browser_path: str) -> tuple[list, list, float]:
    from playwright.async_api import async_playwright

    results: list = []
    errors: list = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=browser_path, headless=True, args=CHROMIUM_ARGS)
        t = time.perf_counter()
        await asyncio.gather(*(
            _session(browser, url, steps, {s: clips[(len(steps) * i + k) % len(clips)] for k, s in enumerate(steps)},
                     results, errors, ramp * i / max(n, 1))
            for i in range(n)))
        wall = time.perf_counter() - t
        await browser.close()
    return results, errors, wall


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the server process has used (load-independent, unlike latencies)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_pid(url: str) -> int:
    port = url.rsplit(":", 1)[1]
    out = subprocess.run(["pgrep", "-f", "--", f"server.port {port} "], capture_output=True, text=True).stdout
    return int(out.split()[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10, help="browser sessions per round, all at once")
    ap.add_argument("--rounds", type=int, default=3, help="rounds on the same server, fresh sessions each")
    ap.add_argument("--steps", default="explore,classify", help="comma-separated: explore, classify")
    ap.add_argument("--clips", type=Path, default=None,
                    help="a folder of real clips (default: synthesized 2-5 s clips, all different)")
    ap.add_argument("--ramp", type=float, default=0.0, help="spread the session starts over this many seconds")
    ap.add_argument("--warm", type=float, default=None, metavar="S",
                    help="start the server as `make run` does (scripts/serve.py: the default model warms in the "
                         "background) and wait S seconds after its health check before the first round")
    ap.add_argument("--browser-nice", type=int, default=0,
                    help="run the browsers at this niceness (e.g. 19), so the server's work goes first, as when "
                         "the students' browsers run on their own machines (default 0: same priority)")
    args = ap.parse_args()
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    if not steps or any(s not in STEPS for s in steps):
        print(f"error: --steps {args.steps!r}: choose from {', '.join(STEPS)}", file=sys.stderr)
        return 2
    if args.sessions < 1 or args.rounds < 1:
        print("error: --sessions and --rounds must be at least 1", file=sys.stderr)
        return 2
    per_round = args.sessions * len(steps)
    with tempfile.TemporaryDirectory() as tmp, \
            streamlit_server(env={"AUDIOCLF_QUEUE_LOG": str(Path(tmp) / "queue.jsonl"),
                                  # a new, empty cache: a real clip's features or embeddings computed by an
                                  # earlier run on this machine must not be read instead of computed
                                  "AUDIOCLF_CACHE": str(Path(tmp) / "cache"),
                                  # tests/conftest.py turns the warm start off for the test process
                                  "AUDIOCLF_WARM": "1" if args.warm is not None else "0"},
                             serve=args.warm is not None) as url:
        pid = _server_pid(url)
        if args.warm:
            time.sleep(args.warm)  # as a class that opens the app some time after it was started
        queue_log = Path(tmp) / "queue.jsonl"
        clips = (_real_clips(args.clips, per_round * args.rounds) if args.clips
                 else _synthetic_clips(Path(tmp), per_round * args.rounds))
        rounds = []
        cpu = []
        for r in range(args.rounds):
            c0 = _cpu_seconds(pid)
            res, errs, wall = asyncio.run(_round(args.sessions, url, steps,
                                                 clips[r * per_round:(r + 1) * per_round], args.ramp,
                                                 _niced_browser(Path(tmp), args.browser_nice)))
            rounds.append((res, errs, wall))
            cpu.append(_cpu_seconds(pid) - c0)
            print(f"round {r + 1}: {wall:.1f} s wall, server CPU {cpu[-1]:.1f} s "
                  f"({cpu[-1] / args.sessions:.2f} s per session), {len(errs)} error(s)", flush=True)
        peak = _peak_rss_mb(pid)
        jobs = [json.loads(line) for line in queue_log.read_text().splitlines()] if queue_log.is_file() else []
    load = os.getloadavg()
    first = next((j for j in jobs if j.get("kind") == "classify"), None)
    if first is not None:  # the warm start's target: the first student's answer
        print(f"first classification: {first.get('waited', 0) + first.get('ran', 0):.2f} s of server time "
              f"({first.get('waited', 0):.2f} s waiting)")
    print(f"\n{args.sessions} concurrent sessions × {args.rounds} rounds (browsers at niceness {args.browser_nice}), "
          f"wall per round "
          f"{', '.join(f'{w:.0f} s' for *_, w in rounds)}; server CPU per session "
          f"{', '.join(f'{c / args.sessions:.2f} s' for c in cpu)}; server peak memory {peak:.0f} MB; "
          f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)\n")
    print("| step | done | errors | median (s) | p95 (s) | worst (s) |\n| --- | ---: | ---: | ---: | ---: | ---: |")
    for step in steps:
        ts = np.array([t for res, *_ in rounds for s, t in res if s == step])
        n_err = sum(f"({step})" in e for _, errs, _ in rounds for e in errs)
        if len(ts):
            print(f"| {STEPS[step][2]} | {len(ts)} | {n_err} | {np.median(ts):.1f} | {np.percentile(ts, 95):.1f} | "
                  f"{ts.max():.1f} |")
        else:
            print(f"| {STEPS[step][2]} | 0 | {n_err} | – | – | – |")
    if jobs:
        print("\nServer side, all rounds (work queue: request -> result, in seconds; `waited` is the queue's part):\n")
        print("| job | count | median | p95 | worst | p95 waited |\n| --- | ---: | ---: | ---: | ---: | ---: |")
        for kind in sorted({j["kind"] for j in jobs}):
            tot = np.array([j["waited"] + j["ran"] for j in jobs if j["kind"] == kind])
            waited = np.array([j["waited"] for j in jobs if j["kind"] == kind])
            print(f"| {kind} | {len(tot)} | {np.median(tot):.2f} | {np.percentile(tot, 95):.2f} | {tot.max():.2f} | "
                  f"{np.percentile(waited, 95):.2f} |")
    total = sum(len(errs) for _, errs, _ in rounds)
    print(f"\nerrors: {total} ({', '.join(str(len(errs)) for _, errs, _ in rounds)} per round)")
    for r, (_, errs, _) in enumerate(rounds):
        for e in errs:
            print(f"  round {r + 1}: {e}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
