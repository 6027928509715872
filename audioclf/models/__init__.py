"""The model zoo: a registry of Keras 3 architectures for audio classification.

Every model is built by name with one signature and returns a functional
``keras.Model`` whose outputs are a dict with ``"probs"`` (softmax over the
classes) and, for some models, extras (``"reconstruction"``, ``"sub_probs"``).
All of them use only registered layers, so they save to ``.keras`` and load
again with ``safe_mode=True`` on any Keras backend.

Examples
--------
>>> from audioclf.models import build_model, compile_model, explain, list_models
>>> [s.name for s in list_models()]  # doctest: +ELLIPSIS
['feature_mlp', 'feature_cnn2d', 'lstm', 'cldnn', ...]
>>> model = compile_model(build_model("cldnn", num_classes=10, attention="rnn"))
>>> explain(model, x).attention["attn_rnn"].values.shape  # (batch, time steps)
"""

from __future__ import annotations

# Importing the family modules registers their builders; this order (the
# issue's numbering) is the order of list_models().
# isort: off
from . import baselines, recurrent, autoencoder, soundnet, dcnn, subspectral, crnn, mobilenet, transfer  # noqa: F401
# isort: on
from ._compile import SubbandCrossentropy, compile_model, output_names, training_targets
from ._registry import (
    ATTENTION_KINDS,
    INPUT_KINDS,
    ModelSpec,
    build_model,
    count_params,
    get_model_spec,
    list_models,
    register_model,
)
from .dcnn import MFC_DCNN_CHANNELS
from .files import check_model_config, load_model_file
from .layers import AdditiveTimeAttention, FrequencyBand
from .readout import AttentionMap, Explanation, attention_layer_names, explain
from .transfer import HEADS

__all__ = [
    "ATTENTION_KINDS",
    "HEADS",
    "INPUT_KINDS",
    "MFC_DCNN_CHANNELS",
    "AdditiveTimeAttention",
    "AttentionMap",
    "Explanation",
    "FrequencyBand",
    "ModelSpec",
    "SubbandCrossentropy",
    "attention_layer_names",
    "build_model",
    "check_model_config",
    "compile_model",
    "count_params",
    "explain",
    "get_model_spec",
    "list_models",
    "load_model_file",
    "output_names",
    "register_model",
    "training_targets",
]
