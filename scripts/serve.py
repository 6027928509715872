"""Start the app's server with the default Classify model warming in the background (``make run``).

``streamlit run app.py`` runs nothing of the app until a first browser opens a page; this starts the server
the same way (Streamlit's own command line, in this process) after starting :func:`audioclf.service.serving.warm_start`,
so the model is loaded and has run once on a real clip before the first student classifies. Arguments are
``streamlit run``'s: ``python scripts/serve.py --server.port 8501``.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _warm_when_serving() -> None:
    """Start the warm start once the server runs: TensorFlow's import would otherwise hold the interpreter
    while Streamlit starts, and the health check would answer 2 s later (measured: 1.7 -> 4.0 s)."""
    import urllib.request

    from streamlit import config
    from streamlit.runtime import Runtime, RuntimeState

    from audioclf.service.serving import warm_start  # after the server's start: nothing of audioclf delays it

    while not (Runtime.exists() and Runtime.instance().state != RuntimeState.INITIAL):
        time.sleep(0.1)
    host = config.get_option("server.address") or "localhost"
    health = f"http://{host}:{config.get_option('server.port')}/_stcore/health"
    for _ in range(300):  # until the server answers (30 s at most: then warm anyway)
        try:
            with urllib.request.urlopen(health, timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    warm_start()  # returns at once: the model loads in its own thread


def main() -> None:
    from streamlit.web import cli

    threading.Thread(target=_warm_when_serving, name="audioclf-warm-when-serving", daemon=True).start()
    cli.main(["run", str(ROOT / "app.py"), *sys.argv[1:]], prog_name="streamlit")


if __name__ == "__main__":
    main()
