"""Compile librosa's numba kernels once, in one process, into numba's on-disk cache.

numba's cache index is not safe against two processes adding different
signatures of one function at the same moment (each writes the next data file
under the same number, and a later load can run the other's machine code: a
segfault). ``make`` runs this right after installing, so the test suite's and
the app's worker processes only read the cache.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audioclf.audio.preprocess import SplitConfig, split_silence  # noqa: E402
from audioclf.features import compute_channels, list_channels  # noqa: E402

rng = np.random.default_rng(0)
for sr in (8000, 16000, 22050, 44100):
    y = (0.1 * rng.standard_normal(2 * sr)).astype(np.float32)
    compute_channels(y, sr, [c.name for c in list_channels()])
    split_silence(y, sr, config=SplitConfig())
print("numba kernels compiled")
