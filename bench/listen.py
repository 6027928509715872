"""The server's CPU while N browser tabs listen (issue 28): the model runs in the browsers, not on the server.

Starts ``streamlit run app.py`` on a free localhost port, exports the model for the browser first (as the
first listener would), then opens N tabs of one headless Chromium whose fake microphone plays real example
clips, each on Classify → the model → Listen → Start. Once every tab is listening, it reads the server
process's CPU time (user + system, from /proc) over ``--seconds``, and how many windows the tabs classified
in that time. A second figure, the same server with no tab open, is the idle floor.

    python bench/listen.py                       # 10 tabs, 60 s, fsdd_sfc_dcnn
    python bench/listen.py --tabs 10 --seconds 60 --model esc10_sfc_dcnn
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: E402

TIMEOUT = 600_000  # ms
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _server():
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
           "--server.headless", "true", "--server.address", "127.0.0.1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, "AUDIOCLF_WARM": "0"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            time.sleep(0.3)
        else:
            raise SystemExit("error: the server did not start")
        yield url, proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def _microphone_file(path: Path) -> None:
    import soundfile as sf

    from audioclf.datasets.examples import list_examples, load_example

    parts = []
    for e in list_examples("fsdd"):
        y, _ = load_example(e.id, sr=22050)
        parts += [0.5 * y / np.abs(y).max(), np.zeros(2205, np.float32)]
    sf.write(path, np.concatenate(parts * 3), 22050, subtype="PCM_16")


def _listen_tab(browser, url: str, model: str):
    ctx = browser.new_context(viewport={"width": 1300, "height": 1100})
    ctx.set_default_timeout(TIMEOUT)  # the tabs already listening share the cores with the next one's start
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_selector('[data-testid="stMetric"]', timeout=TIMEOUT)
    page.get_by_role("link", name="Classify").first.click()
    page.get_by_role("heading", name="Classify a clip").wait_for(timeout=TIMEOUT)
    page.wait_for_selector(IDLE, state="attached", timeout=TIMEOUT)
    page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text("Pretrained model", exact=True)).click()
    page.keyboard.type(f"{model}:")
    page.get_by_role("option").filter(has_text=f"{model}:").first.click()
    page.wait_for_selector(IDLE, state="attached", timeout=TIMEOUT)
    page.get_by_text("Listen (live)", exact=True).click()
    page.get_by_text("Runs in this browser").wait_for(timeout=TIMEOUT)
    frame = page.wait_for_selector('iframe[title*="audioclf_listen"]', timeout=TIMEOUT).content_frame()
    frame.wait_for_function("window.audioclfListen && window.audioclfListen.args", timeout=TIMEOUT)
    frame.get_by_role("button", name="Start").click()
    frame.wait_for_function("window.audioclfListen.classified > 0", timeout=TIMEOUT)
    return ctx, frame


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tabs", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--model", default="fsdd_sfc_dcnn")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from audioclf.engine.bundle import load_bundle
    from audioclf.service.listen import prepare, runtime_missing
    from audioclf.service.store import list_bundles

    if runtime_missing():
        raise SystemExit(f"error: {runtime_missing()}")
    entry = next((e for e in list_bundles() if e.name == args.model), None)
    if entry is None:
        raise SystemExit(f"error: no pretrained model {args.model!r}")
    live = prepare(load_bundle(entry.path), entry.path)  # the first listener's export, done before measuring
    print(f"export for the browser: {live.bytes / 1e6:.1f} MB "
          f"({f'{live.seconds:.1f} s' if live.seconds else 'exported earlier'})")
    with tempfile.TemporaryDirectory() as tmp, _server() as (url, pid):
        wav = Path(tmp) / "mic.wav"
        _microphone_file(wav)
        time.sleep(5)
        c0, w0 = _cpu_seconds(pid), time.monotonic()
        time.sleep(min(args.seconds, 20))
        idle = (_cpu_seconds(pid) - c0) / (time.monotonic() - w0)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                *CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={wav}"])
            tabs = []
            for i in range(args.tabs):
                tabs.append(_listen_tab(browser, url, args.model))
                print(f"tab {i + 1} listening", flush=True)
            time.sleep(3)  # the last page's script runs end
            counts = lambda: [f.evaluate("window.audioclfListen.classified") for _, f in tabs]  # noqa: E731
            errors = lambda: [f.evaluate("window.audioclfListen.error") for _, f in tabs]  # noqa: E731
            n0, c0, w0 = counts(), _cpu_seconds(pid), time.monotonic()
            time.sleep(args.seconds)
            c1, w1, n1 = _cpu_seconds(pid), time.monotonic(), counts()
            bad = [e for e in errors() if e]
            for ctx, _ in tabs:
                ctx.close()
            browser.close()
    wall = w1 - w0
    busy = (c1 - c0) / wall
    per_tab = [(b - a) / wall for a, b in zip(n0, n1, strict=True)]
    print()
    print("| tabs listening | seconds | server CPU (s) | server CPU, % of one core | idle server, % of one core "
          "| windows classified in the browsers | per tab per s (min-max) | tab errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {args.tabs} | {wall:.0f} | {c1 - c0:.2f} | {100 * busy:.1f} % | {100 * idle:.1f} % | "
          f"{sum(n1) - sum(n0)} | {min(per_tab):.2f}-{max(per_tab):.2f} | {len(bad)} |")
    for e in sorted(set(bad)):
        print(f"tab error: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
