"""The kinds of model input, shared by the pipelines (which make them) and the models (which read them).

* ``summary``: one vector (or matrix) of feature statistics per window;
* ``spectrogram``: one (frequency, time, 1) image per window;
* ``multichannel``: several feature channels stacked as planes of one (frequency, time, c) image;
* ``waveform``: the raw samples of a window, (length, 1);
* ``embedding``: K consecutive window embeddings of a pretrained backbone, (K, dim).
"""

INPUT_KINDS = ("summary", "spectrogram", "multichannel", "waveform", "embedding")
