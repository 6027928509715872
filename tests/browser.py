"""Start ``streamlit run app.py`` on a free localhost port and drive Debian's Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(env: dict | None = None, timeout: float = 900.0, *, serve: bool = False) -> Iterator[str]:
    """Run the app; yield its base URL; stop it (and its children) afterwards.

    ``serve``: start it as ``make run`` does (``scripts/serve.py``: the default model warms as the server starts)
    instead of ``streamlit run app.py``.
    """
    port = free_port()
    start = [str(ROOT / "scripts" / "serve.py")] if serve else ["-m", "streamlit", "run", str(ROOT / "app.py")]
    cmd = [sys.executable, *start, "--server.port", str(port),
           "--server.headless", "true", "--server.address", "127.0.0.1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{proc.stdout.read().decode(errors='replace')}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("streamlit did not answer /_stcore/health in time")
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def wait_idle(page, timeout: float = 300_000) -> None:
    """Wait until the app's script run is over, as a person waits for the page to stop updating."""
    page.wait_for_selector(IDLE, state="attached", timeout=timeout)


def upload_clip(page, path: str | Path, timeout: float = 300_000) -> None:
    """Pick "Upload" in the page's clip chooser, wait for the uploader to be drawn and the run to end, then upload.

    The click is scoped to the "Clip" radio (another "Upload" on the page, e.g. Classify's model source,
    must not catch it), and the file is given only once the page is idle, so a rerun cannot swallow it.
    """
    wait_idle(page, timeout)
    chooser = page.locator('[data-testid="stRadio"]').filter(has=page.get_by_text("Clip", exact=True))
    chooser.get_by_text("Upload", exact=True).click()
    uploader = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    uploader.wait_for(state="attached", timeout=timeout)
    wait_idle(page, timeout)
    uploader.set_input_files(str(path))
