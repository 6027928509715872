"""Start the app's server with the default Classify model warming in the background (``make run``).

``streamlit run app.py`` runs nothing of the app until a first browser opens a page; this starts the server
the same way (Streamlit's own command line, in this process) after starting :func:`audioclf.serving.warm_start`,
so the model is loaded and has run once on a real clip before the first student classifies. Arguments are
``streamlit run``'s: ``python scripts/serve.py --server.port 8501``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audioclf.serving import warm_start  # noqa: E402


def main() -> None:
    from streamlit.web import cli

    warm_start()  # a background thread: the server answers its health check while the model loads
    cli.main(["run", str(ROOT / "app.py"), *sys.argv[1:]], prog_name="streamlit")


if __name__ == "__main__":
    main()
