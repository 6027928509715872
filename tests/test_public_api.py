"""The public surface: everything in __all__ exists, and importing audioclf stays light."""

import subprocess
import sys

import audioclf
from tests.conftest import ROOT


def test_all_names_resolve():
    missing = [n for n in audioclf.__all__ if not hasattr(audioclf, n)]
    assert missing == []
    assert len(set(audioclf.__all__)) == len(audioclf.__all__)


def test_public_modules_are_covered():
    # Every public function of the core modules is re-exported.
    import importlib

    for mod in (importlib.import_module(f"audioclf.audio.{m}") for m in ("io", "preprocess", "windowing")):
        for name in mod.__all__:
            if not name.isupper() and name not in ("AudioSource", "AudioInfo", "Preprocessed", "SplitResult",
                                                   "require_sound", "PAD_POLICIES"):
                assert name in audioclf.__all__, f"{mod.__name__}.{name} is not re-exported"


def test_import_does_not_load_keras_or_tensorflow():
    code = "import sys, audioclf; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_unknown_attribute():
    try:
        audioclf.nope  # noqa: B018
    except AttributeError as exc:
        assert "nope" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
