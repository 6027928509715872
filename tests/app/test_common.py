"""pages/_common.py: the private Streamlit hook it replaces is still there."""

from __future__ import annotations


def test_streamlit_still_has_the_clean_up_hook_the_app_replaces():
    # pages/_common._keep_tensorflow_warm replaces a private Streamlit function (tests/service/test_concurrency.py
    # checks the effect in a running app, in the slow run); this fails fast when Streamlit renames it.
    import streamlit
    from streamlit.runtime.scriptrunner import script_runner

    assert hasattr(script_runner, "_clean_problem_modules"), (
        f"streamlit {streamlit.__version__} changed: script_runner._clean_problem_modules is gone; "
        "pages/_common._keep_tensorflow_warm replaces it to keep Keras warm between runs")
