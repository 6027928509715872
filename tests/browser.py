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


def pick(page, label: str, option: str, typed: str | None = None, timeout: float = 300_000) -> None:
    """Choose ``option`` in the select box labelled ``label``, as a person does (open it, type, click the option).

    The list is virtualised (options below its fold are not in the page): ``typed`` (default ``option``) filters
    it, as a person can. A rerun that redraws the box while it opens closes it again and the typing goes nowhere;
    a person then opens it again, and so does this, until the option shows or ``timeout`` (ms) is spent.
    Returns once the rerun the choice starts is over.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + timeout / 1000
    while True:
        wait_idle(page, timeout)
        page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text(label, exact=True)).click()
        page.keyboard.type(typed if typed is not None else option)
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=15_000)
            break
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
            page.keyboard.press("Escape")  # close what opened, if anything; the typed filter goes with it
            with contextlib.suppress(PlaywrightTimeout):
                page.locator('[role="listbox"]').first.wait_for(state="detached", timeout=5000)
    # The rerun the choice starts may not have begun yet: see it start (or already end), then wait for its end.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="running"]', state="attached",
                               timeout=5000)
    wait_idle(page, timeout)


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
