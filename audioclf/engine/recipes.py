"""Sensible defaults: the pipeline that fits each model, the quick training recipe, and
:func:`make_recipe`, the one function that turns a person's choices (the CLI's flags, the Train
page's widgets) into a ``(TrainConfig, PipelineConfig)`` pair."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from .._validate import check_choice, check_number, is_int
from ..audio.augment import AUGMENT_PRESETS, AugmentConfig
from ..audio.preprocess import DenoiseConfig, PreprocessConfig, SplitConfig, TrimConfig
from ..audio.windowing import WindowConfig, hop_for_overlap
from ..errors import ParameterError
from ..features import FeatureConfig
from .config import TrainConfig
from .pipeline import SUMMARY_MATRIX_SHAPE, SUMMARY_VECTOR_SHAPE, PipelineConfig, expand_channels

__all__ = ["DEFAULT_MODEL", "default_pipeline", "quick_recipe", "make_recipe", "hop_for_overlap", "transfer_pipeline",
           "transfer_recipe", "TRANSFER_WINDOWS", "FINE_TUNE_EPOCHS", "default_head", "default_split",
           "default_backbone", "train_defaults", "TrainDefaults", "SMALL_DATASET", "MLP_FROM_CLIPS", "STARTS",
           "start_backbone"]

#: The CLI's default architecture (see :func:`quick_recipe`).
DEFAULT_MODEL = "sfc_dcnn"


# Channels of the multichannel models, by number of planes (mfc_dcnn's four first).
_MULTI_DEFAULTS = {
    1: ("mel",),
    2: ("stft_magphase",),
    3: ("mel", "mfcc", "cqt"),
    4: ("mfcc", "gfcc", "cqt", "chroma_stft"),
}


def default_pipeline(model_name: str, *, sr: int = 22050, input_shape: tuple[int, ...] | None = None,
                     channels: tuple[str, ...] | None = None, overlap: float = 0.5,
                     preprocess: PreprocessConfig | None = None, features: FeatureConfig | None = None,
                     normalize: str = "channel", level: str = "peak", backbone: str | None = None
                     ) -> PipelineConfig:
    """A sensible pipeline for a registered model.

    Spectrogram models read ``mel`` with ``n_mels`` equal to the input's
    frequency axis; ``mfc_dcnn`` reads ``mfcc, gfcc, cqt, chroma_stft``;
    waveform models read windows of their input length (a clip shorter
    than one window is padded); summary models read one summary per window
    of 128 frames (about 3 s at 22 050 Hz).

    Parameters
    ----------
    model_name : str
        A registered architecture (see :func:`audioclf.models.list_models`).
    sr : int
    input_shape : tuple of int, optional
        Override the model's default input shape (e.g. ``(64, 64, 1)``).
    channels : tuple of str, optional
        Override the channels (spectrogram and multichannel models).
    overlap : float
        Window overlap in [0, 1): the hop is ``length * (1 - overlap)``.
    preprocess, features : optional
        Override preprocessing and feature parameters (``n_mels`` is still
        set from the input shape for ``mel`` spectrograms).
    normalize : {'channel', 'none'}
    level : {'peak', 'raw'}
        Scale each clip to full-scale peak first (default), or keep the recorded level.
    backbone : str, optional
        Heads on embeddings (``head_*``): the backbone (default ``"sounds"``); see
        :func:`transfer_pipeline`. ``sr`` is then the backbone's rate.

    Returns
    -------
    PipelineConfig

    Raises
    ------
    ModelError
        If ``model_name`` is not registered.
    ParameterError
        If the overrides do not fit together.
    """
    from ..models import get_model_spec

    spec = get_model_spec(model_name)
    kind = spec.input_kind
    shape = tuple(input_shape) if input_shape is not None else tuple(spec.default_input_shape)
    feats = features or FeatureConfig()
    pre = preprocess or PreprocessConfig()

    def hop(length: int) -> int:
        return hop_for_overlap(length, overlap)

    if kind == "embedding":
        return transfer_pipeline(backbone or "sounds", overlap=overlap, preprocess=preprocess, normalize=normalize,
                                 level=level, windows=shape[0] if input_shape is not None else None)
    if kind == "summary":
        shape = SUMMARY_VECTOR_SHAPE if len(shape) == 1 else SUMMARY_MATRIX_SHAPE
        window = WindowConfig(length=128, hop=hop(128))
        chans: tuple[str, ...] = ()
    elif kind == "waveform":
        window = WindowConfig(length=shape[0], hop=hop(shape[0]))
        chans = ()
    else:
        f, t = shape[0], shape[1]
        if kind == "spectrogram":
            chans = tuple(channels) if channels else ("mel",)
        else:
            chans = tuple(channels) if channels else _MULTI_DEFAULTS.get(shape[2], ("mel",) * shape[2])
            shape = (f, t, len(expand_channels(chans)))
        if "mel" in expand_channels(chans) and feats.n_mels != f:
            # The mel channel at the input's resolution: no interpolation needed.
            feats = FeatureConfig(**{**feats.to_dict(), "n_mels": f, "n_mfcc": min(feats.n_mfcc, f)})
        window = WindowConfig(length=t, hop=hop(t))
    return PipelineConfig(sr=sr, preprocess=pre, features=feats, channels=chans, window=window,
                          input_kind=kind, input_shape=shape, normalize=normalize, level=level)


def quick_recipe(*, sr: int = 22050, epochs: int | None = None) -> tuple[TrainConfig, PipelineConfig]:
    """The CLI's default: a compact ``sfc_dcnn`` on 64 x 64 log-mel windows with SpecAugment and mixup.

    Chosen by experiment (``bench/engine.py``) to train ESC-10 in a few
    minutes on two CPU cores: about 88 % clip accuracy on fold 4 (folds 1-3
    for training) in about 140 s, features included; FSDD's test split 100 %.

    * narrow blocks (16-64 filters) and no hidden dense layer: the default
      512-unit ReLU head died early in training on FSDD with augmentation;
    * with ``cnn`` attention, bounded sigmoid gates (``gate="sigmoid"``): the
      paper's ReLU gates made this model underfit (FSDD test split 68.8 % vs 98.4 %);
    * 64 mel bands x 64 frames (1.5 s at 22 050 Hz), windows without overlap;
    * every clip peak-normalised (see :class:`~audioclf.engine.pipeline.PipelineConfig`
      ``level``): FSDD's quietest speaker went from 28 % to 82 % when held out;
    * 30 epochs of Adam at 2e-3 with cosine decay, batch 32, the ``standard``
      augmentation (time shift, 2 time + 2 frequency masks, mixup 0.2).

    Parameters
    ----------
    sr : int
        Sample rate of the pipeline.
    epochs : int, optional
        Override the 30 epochs.

    Returns
    -------
    (TrainConfig, PipelineConfig)
    """
    config = TrainConfig(
        model=DEFAULT_MODEL,
        # gate: bounded sigmoid attention gates when attention is asked for (the paper's
        # ReLU gates made this compact model underfit; see audioclf.models.dcnn._block)
        model_options={"filters": (16, 16, 32, 32, 64, 64), "dense_units": (), "gate": "sigmoid"},
        epochs=epochs or 30,
        batch_size=32,
        learning_rate=2e-3,
        schedule="cosine",
        augment=AUGMENT_PRESETS["standard"],
    )
    # Non-overlapping windows: overlap added little accuracy for 1.5x the training time,
    # and the random time shift already shows each sound at many offsets.
    pipeline = default_pipeline(DEFAULT_MODEL, sr=sr, input_shape=(64, 64, 1), overlap=0.0)
    return config, pipeline


def make_recipe(*, model: str | None = None, sr: int | None = None, channels: Sequence[str] | None = None,
                input_shape: Sequence[int] | None = None, overlap: float | None = None,
                features: Mapping[str, Any] | None = None, split_silence: float | None = None,
                denoise: str | None = None, center: str | None = None, pad: str | None = None,
                augment: AugmentConfig | None = None, model_options: Mapping[str, Any] | None = None,
                training: Mapping[str, Any] | None = None, backbone: str | None = None,
                head: str | None = None, fine_tune: bool = False, dataset: Any = None, start: str = "auto",
                trim: bool | None = None) -> tuple[TrainConfig, PipelineConfig]:
    """Turn a person's choices into ``(TrainConfig, PipelineConfig)``: used by the CLI's ``train`` and the Train page.

    Every argument left as None keeps the default. With no ``model`` the quick
    recipe is the base (:func:`quick_recipe`: its options, augmentation and
    windows without overlap); with a model, its :func:`default_pipeline` and a
    plain ``TrainConfig(model=...)``; with a ``backbone``, a head on its
    embeddings (:func:`transfer_recipe`).

    Parameters
    ----------
    model : str, optional
        A registered architecture; None for the quick recipe.
    sr : int, optional
        Pipeline sample rate (default 22 050 Hz).
    channels : sequence of str, optional
        Feature channels (spectrogram and multichannel models only).
    input_shape : sequence of int, optional
        ``(freq, frames)`` for spectrogram-like models, ``(samples,)`` for waveform models.
    overlap : float, optional
        Window overlap in [0, 1) (default 0 for the quick recipe, 0.5 otherwise).
    features : mapping, optional
        :class:`FeatureConfig` fields to change (``n_fft``, ``hop_length``, ``n_mels`` ...).
    split_silence : float, optional
        Remove silences quieter than this many dB below the loudest frame.
    denoise : {'stationary', 'nonstationary'}, optional
        Spectral-gating denoise before features.
    trim : bool, optional
        Cut every clip back to its sound before anything else (:class:`~audioclf.audio.preprocess.TrimConfig`);
        default: on for the ``speech`` backbone (:data:`TRANSFER_TRIM`), off otherwise.
    center : {'none', 'time'}, optional
    pad : {'repeat', 'constant'}, optional
    augment : AugmentConfig, optional
    model_options : mapping, optional
        Builder options, merged over the recipe's own.
    training : mapping, optional
        Other :class:`TrainConfig` fields (``epochs``, ``split``, ``seed`` ...).
    backbone : str, optional
        Train a light head on this pretrained backbone (``sounds``, ``speech``); the
        backbone has its own front end, so ``sr``, ``channels``, ``input_shape``,
        ``features`` and ``center`` do not apply.
    head : {'linear', 'mlp', 'attention'}, optional
        The head on the backbone (default: :func:`default_head` of ``dataset`` and the split, or
        ``linear`` without a dataset).
    fine_tune : bool
        With a ``backbone``: train the backbone's top block with the head (see
        :func:`transfer_recipe`).
    dataset : Dataset, optional
        The data it will train on: decides the head and, with ``start='auto'``, whether to start from a
        backbone (:func:`start_backbone`).
    start : {'auto', 'backbone', 'scratch'}
        Where training starts when no ``backbone`` is named: ``'auto'`` as the Train page preselects (a
        head on the dataset's backbone for at most :data:`SMALL_DATASET` clips when no choice of the
        zoo's is made, else from scratch), ``'backbone'`` the dataset's backbone, ``'scratch'`` the zoo.

    Returns
    -------
    (TrainConfig, PipelineConfig)

    Raises
    ------
    ModelError
        An unknown model, attention kind or option.
    ParameterError
        Choices that do not fit together (channels for a waveform model, an
        ``n_mels`` that differs from the mel input's height ...).

    Example
    -------
    >>> config, pipeline = make_recipe(training={"epochs": 5})  # doctest: +SKIP
    """
    from ..models import get_model_spec

    channels = tuple(channels) if channels else None
    if overlap is not None:
        check_number(overlap, "overlap", low=0, high=1, high_open=True)
    if not isinstance(fine_tune, bool):
        raise ParameterError(f"fine_tune={fine_tune!r} must be True or False")
    if fine_tune and backbone is None:
        raise ParameterError("fine_tune fine-tunes a pretrained backbone's top block; choose a backbone "
                             "(--backbone sounds or speech), or train without fine-tuning")
    backbone = start_backbone(dataset, start=start, model=model, backbone=backbone, head=head, fine_tune=fine_tune,
                              zoo_choices={"sr": sr, "channels": channels, "input_shape": input_shape,
                                           "features": features, "center": center, "model_options": model_options,
                                           "attention": (training or {}).get("attention"), "augment": augment})
    if backbone is not None and head is None and dataset is not None and not fine_tune:
        head = default_head(dataset, (training or {}).get("split") or TrainConfig().split,
                            seed=(training or {}).get("seed") or 0)
    if backbone is not None or head is not None:
        config, pipeline = _transfer_base(backbone, head, model=model, overlap=overlap, fine_tune=fine_tune, sr=sr,
                                          channels=channels, input_shape=input_shape, features=features,
                                          center=center)
        features = None
    elif model is None:
        sr = 22050 if sr is None else sr
        config, pipeline = quick_recipe(sr=sr)
        if channels or input_shape or overlap is not None:
            shape = _input_shape(input_shape, get_model_spec(config.model).input_kind, 1) or pipeline.input_shape
            pipeline = default_pipeline(config.model, sr=sr, input_shape=shape, channels=channels,
                                        overlap=0.0 if overlap is None else overlap)
    else:
        sr = 22050 if sr is None else sr
        spec = get_model_spec(model)
        n = len(expand_channels(channels)) if channels else (spec.default_input_shape[-1] if
                                                             spec.input_kind == "multichannel" else 1)
        if channels and spec.input_kind in ("waveform", "summary"):
            raise ParameterError(f"channels={channels} does not apply to {spec.name}, which reads {spec.input_kind} inputs")
        shape = _input_shape(input_shape, spec.input_kind, n)
        if spec.input_kind == "multichannel" and channels and shape is None:
            shape = spec.default_input_shape[:2] + (n,)
        pipeline = default_pipeline(spec.name, sr=sr, input_shape=shape, channels=channels,
                                    overlap=0.5 if overlap is None else overlap)
        config = TrainConfig(model=spec.name)
    feats = {k: v for k, v in (features or {}).items() if v is not None}
    n_mels = feats.get("n_mels")
    if n_mels is not None and "mel" in expand_channels(pipeline.channels) and n_mels != pipeline.input_shape[0]:
        raise ParameterError(f"n_mels={n_mels}: the mel channel has as many bands as the input has frequency bins "
                             f"({pipeline.input_shape[0]}); set the input shape to {n_mels},"
                             f"{pipeline.input_shape[1]} instead")
    if feats:
        pipeline = dataclasses.replace(pipeline, features=FeatureConfig(**{**pipeline.features.to_dict(), **feats}))
    if trim is not None and not isinstance(trim, bool):
        raise ParameterError(f"trim={trim!r} must be True, False or None (the recipe's default)")
    if split_silence is not None or denoise is not None or trim is not None:
        if denoise is not None:
            check_choice(denoise, "denoise", DENOISE_MODES)
        pre = pipeline.preprocess
        if trim is not None:  # keep a trim the recipe already has (its settings), add the default one, or drop it
            pre = dataclasses.replace(pre, trim=(pre.trim or TrimConfig()) if trim else None)
        pipeline = dataclasses.replace(pipeline, preprocess=dataclasses.replace(
            pre, denoise=DenoiseConfig(stationary=denoise == "stationary") if denoise else pre.denoise,
            split=SplitConfig(top_db=split_silence) if split_silence is not None else pre.split))
    if center is not None:
        pipeline = dataclasses.replace(pipeline, center=center)
    if pad is not None:
        pipeline = dataclasses.replace(pipeline, window=dataclasses.replace(pipeline.window, pad=pad))
    changes = {k: v for k, v in (training or {}).items() if v is not None}
    if augment is not None:
        changes["augment"] = augment
    if model_options:
        changes["model_options"] = {**config.model_options, **model_options}
    config = dataclasses.replace(config, **changes)
    config.check_model()  # before any data is read
    return config, pipeline


#: ``start=`` choices of :func:`make_recipe` (and the CLI's ``--start``).
STARTS = ("auto", "backbone", "scratch")


def start_backbone(dataset: Any, *, start: str = "auto", model: str | None = None, backbone: str | None = None,
                   head: str | None = None, fine_tune: bool = False,
                   zoo_choices: Mapping[str, Any] | None = None) -> str | None:
    """The backbone a training run starts from, or None for an architecture trained from scratch.

    One rule for the Train page's "How to start" and the CLI's ``train``: a named ``backbone`` wins;
    ``start='scratch'`` trains the zoo; ``start='backbone'`` takes the dataset's backbone
    (:func:`default_backbone`); ``start='auto'`` takes it when :func:`train_defaults` says so (at most
    :data:`SMALL_DATASET` clips) and nothing asks for the zoo: a ``model``, or a choice only the zoo's
    front end takes (``zoo_choices``: sample rate, channels, input shape, feature settings, centring,
    builder options, attention, a spectrogram augmentation).

    Parameters
    ----------
    dataset : Dataset or None
        None (the flags checked before the data is read): ``'auto'`` stays from scratch.
    start : {'auto', 'backbone', 'scratch'}
    model, backbone, head : str, optional
    fine_tune : bool
    zoo_choices : mapping, optional
        Choices by name; any that is set (not None, not empty) keeps ``'auto'`` from scratch.

    Returns
    -------
    str or None

    Raises
    ------
    ParameterError
        ``start`` is unknown, or ``'scratch'`` with a backbone, head or fine-tuning.
    """
    from ..audio.augment import AUGMENT_PRESETS

    check_choice(start, "start", STARTS)
    if start == "scratch":
        asked = [name for name, value in (("backbone", backbone), ("head", head), ("fine_tune", fine_tune or None))
                 if value is not None]
        if asked:
            raise ParameterError(f"start='scratch' trains an architecture from scratch, which takes no "
                                 f"{', '.join(asked)}; drop it or start from a backbone")
        return None
    if backbone is not None:
        return backbone
    if start == "backbone":
        if model is not None and head is None:
            raise ParameterError(f"start='backbone' trains a head on a pretrained backbone, not model={model!r}; "
                                 "choose a head (linear, mlp, attention) or start='scratch'")
        return default_backbone(dataset) if dataset is not None else "sounds"
    if dataset is None or model is not None or head is not None or fine_tune:
        return None  # 'head needs a backbone' and the like are make_recipe's to say

    def chosen(name: str, value: Any) -> bool:
        if name == "augment":
            return value is not None and value not in (AUGMENT_PRESETS["embedding"], AUGMENT_PRESETS["none"])
        if isinstance(value, Mapping):
            return any(v is not None for v in value.values())
        return value is not None and value != () and value != {}

    if any(chosen(name, value) for name, value in (zoo_choices or {}).items()):
        return None
    return default_backbone(dataset) if train_defaults(dataset).transfer else None


def _transfer_base(backbone: str | None, head: str | None, *, model: str | None, overlap: float | None,
                   fine_tune: bool = False, **front_end: Any) -> tuple[TrainConfig, PipelineConfig]:
    """:func:`transfer_recipe` for :func:`make_recipe`, refusing the choices a backbone's own front end replaces."""
    from ..models.transfer import HEADS

    if backbone is None:
        raise ParameterError("head needs a backbone (see `python -m audioclf backbones`)")
    given = sorted(k for k, v in front_end.items() if v is not None and v != {} and v != ()
                   and not (isinstance(v, Mapping) and all(x is None for x in v.values())))
    if given:
        raise ParameterError(f"{', '.join(given)} do(es) not apply with backbone={backbone!r}: the backbone has "
                             "its own front end")
    head = head or "linear"
    check_choice(head, "head", tuple(HEADS))
    if model is not None and model != HEADS[head][0]:
        raise ParameterError(f"model={model!r} does not fit a backbone, which takes a head: "
                             f"{', '.join(HEADS)} ({', '.join(sorted({m for m, _ in HEADS.values()}))})")
    config, pipeline = transfer_recipe(backbone, head=head, fine_tune=fine_tune)
    if overlap is not None:
        pipeline = dataclasses.replace(pipeline, window=dataclasses.replace(
            pipeline.window, hop=hop_for_overlap(pipeline.window.length, overlap)))
    return config, pipeline


#: ``denoise=`` choices of :func:`make_recipe` (and the CLI's ``--denoise``).
DENOISE_MODES = ("stationary", "nonstationary")


def _input_shape(dims: Sequence[int] | None, kind: str, channels: int) -> tuple[int, ...] | None:
    """The model input shape for ``dims`` typed by a person: ``(F, T)`` or ``(samples,)``."""
    if dims is None:
        return None
    dims = tuple(dims)
    if not dims or not all(is_int(d) and d > 0 for d in dims):
        raise ParameterError(f"input_shape={dims} must be positive integers, e.g. (64, 64)")
    if kind == "waveform":
        return (int(dims[0]), 1)
    if kind in ("spectrogram", "multichannel") and len(dims) >= 2:
        return (int(dims[0]), int(dims[1]), channels)
    raise ParameterError(f"input_shape={dims} does not apply to {kind} models")


#: Backbone windows per model input and how a shorter clip is filled, by backbone: three
#: 2.3-s windows (4.6 s) of ``sounds``, looped when shorter (a bark, a knock); eight 0.78-s windows
#: (1.3 s) of ``speech``, a shorter clip centred in silence (a word as a keyword spotter hears it).
TRANSFER_WINDOWS = {"sounds": (3, "repeat"), "speech": (8, "constant")}
#: Backbones whose pipeline trims every take to its sound by default (:class:`~audioclf.audio.preprocess.TrimConfig`):
#: a spoken word recorded with a second of room noise around it lost 17 points against the same words cut
#: tight, and trimming both the training takes and the clips classified won them back (``bench/takes.py``).
#: Not ``sounds``: rain, an engine or a crackling fire last the whole clip, and a bark's echo is part of it.
TRANSFER_TRIM = frozenset({"speech"})


def transfer_pipeline(backbone: str, *, windows: int | None = None, overlap: float = 0.5,
                      preprocess: PreprocessConfig | None = None, normalize: str = "channel",
                      level: str = "peak", fine_tune: bool = False) -> PipelineConfig:
    """The pipeline of a head on a backbone: ``windows`` consecutive embeddings per input.

    Parameters
    ----------
    backbone : str
        ``"sounds"`` or ``"speech"`` (:func:`audioclf.backbones.list_backbones`).
    windows : int, optional
        Backbone windows per input (default :data:`TRANSFER_WINDOWS`).
    overlap : float
        Overlap of consecutive inputs in [0, 1).
    preprocess : PreprocessConfig, optional
        Default: a trim of each take to its sound for the backbones of :data:`TRANSFER_TRIM` (``speech``),
        nothing for the others.
    fine_tune : bool
        Inputs are what the backbone's top block reads, ``(windows, *TopBlock.input_shape)``,
        unnormalised (``normalize`` is then ignored).

    Returns
    -------
    PipelineConfig
        ``input_kind="embedding"``, ``sr`` the backbone's rate, ``input_shape=(windows, embedding_dim)``.

    Raises
    ------
    BackboneError
        If ``backbone`` is not a known backbone, or ``fine_tune`` and it has no top block.
    """
    from ..backbones import get_backbone_spec, get_top_block

    spec = get_backbone_spec(backbone)
    default_k, pad = TRANSFER_WINDOWS.get(spec.name, (4, "repeat"))
    k = default_k if windows is None else windows
    if not (is_int(k) and k >= 1):
        raise ParameterError(f"windows={windows!r} must be a positive integer (backbone windows per input)")
    shape = (k, *get_top_block(spec.name).input_shape) if fine_tune else (k, spec.embedding_dim)
    if preprocess is None:
        preprocess = PreprocessConfig(trim=TrimConfig() if spec.name in TRANSFER_TRIM else None)
    return PipelineConfig(sr=spec.sample_rate, preprocess=preprocess, channels=(),
                          window=WindowConfig(length=k, hop=hop_for_overlap(k, overlap), pad=pad),
                          input_kind="embedding", input_shape=shape, normalize="none" if fine_tune else normalize,
                          level=level, backbone=spec.name, fine_tune=fine_tune)


#: Epochs of fine-tuning (``fine_tune=True``): fewer, since each step runs the top block forward and
#: back; the top block learns at a tenth of the head's rate (see :mod:`audioclf.engine.finetune`).
FINE_TUNE_EPOCHS = 15


#: The default head (:func:`default_head`) is the ``mlp`` head from this many training clips per class
#: (the smallest class) on, the ``linear`` head fitted to convergence below it: measured by
#: ``bench/transfer.py`` on every ESC-10 fold and FSDD speaker (docs/benchmarks.md, "Few clips per class").
MLP_FROM_CLIPS = 20


#: Datasets of at most this many clips start from a pretrained backbone by default (:func:`train_defaults`);
#: recorded sets always do, as they hold at most ``MAX_TAKES`` (200) clips. Larger ones start from scratch,
#: where the zoo's architectures have the data to learn from.
SMALL_DATASET = 400


def default_split(dataset: Any) -> str:
    """The validation split a dataset trains with when none is asked for (the Train page and the CLI).

    Its own held-out part first: the last of its folds (ESC-50's fold 5), or its ``test`` split (FSDD's official
    test set, a manifest's ``split`` column) when other clips are left to train on; else a stratified 20 %
    (whole groups where the clips have groups).

    Parameters
    ----------
    dataset : Dataset

    Returns
    -------
    str
        ``fold:K`` (the highest fold), ``split:test`` or ``ratio:0.2``.

    Example
    -------
    >>> default_split(load_dataset("data/esc10"))                          # doctest: +SKIP
    'fold:5'
    """
    folds = dataset.folds
    if folds and any(c.fold != folds[-1] for c in dataset.clips):  # a single fold would leave nothing to train on
        return f"fold:{folds[-1]}"
    if "test" in dataset.splits and any(c.split != "test" for c in dataset.clips):
        return "split:test"
    return "ratio:0.2"


def default_backbone(dataset: Any) -> str:
    """The pretrained backbone a dataset starts from: ``speech`` for spoken words (FSDD), ``sounds`` otherwise."""
    return "speech" if dataset.kind == "fsdd" else "sounds"


@dataclasses.dataclass(frozen=True)
class TrainDefaults:
    """What training starts from for one dataset, when a person changes nothing (:func:`train_defaults`).

    Attributes
    ----------
    split : str
        :func:`default_split`.
    backbone : str
        :func:`default_backbone`.
    transfer : bool
        Start from the pretrained ``backbone`` (a dataset of at most :data:`SMALL_DATASET` clips) rather
        than train an architecture from scratch.
    head : str
        :func:`default_head` on the training side of ``split``.
    """

    split: str
    backbone: str
    transfer: bool
    head: str


def train_defaults(dataset: Any, *, seed: int = 0) -> TrainDefaults:
    """The one place that decides a dataset's defaults: its split, backbone, head, and transfer or scratch.

    The Train page preselects these; the CLI's ``train`` takes the split when ``--split`` is not given.

    Parameters
    ----------
    dataset : Dataset
    seed : int
        Seeds a ``ratio`` split when the head is chosen by the training side's size.

    Returns
    -------
    TrainDefaults

    Example
    -------
    >>> train_defaults(load_dataset("data/fsdd"))                              # doctest: +SKIP
    TrainDefaults(split='split:test', backbone='speech', transfer=False, head='mlp')
    """
    split = default_split(dataset)
    return TrainDefaults(split=split, backbone=default_backbone(dataset),
                         transfer=len(dataset.clips) <= SMALL_DATASET, head=default_head(dataset, split, seed=seed))


def default_head(dataset: Any, split: str = "none", *, seed: int = 0) -> str:
    """The head a backbone gets when none is asked for, by the size of the training side of ``split``.

    A few clips per class: ``linear``, the logistic regression on pooled, standardised embeddings fitted to
    convergence (:mod:`audioclf.engine.convex`); it needs no step budget, no early stopping and no
    augmentation, and loses nothing to the ``mlp`` head there. With at least :data:`MLP_FROM_CLIPS`
    clips in every class: ``mlp``, whose hidden layer is worth a point or two once the data can fit it.

    Parameters
    ----------
    dataset : Dataset
    split : str
        The training split (see :func:`audioclf.datasets.split_dataset`); ``'none'`` trains on every clip.
    seed : int

    Returns
    -------
    str
        ``'linear'`` or ``'mlp'``.
    """
    from ..datasets import split_dataset

    train_ds, _ = split_dataset(dataset, split, seed=seed)
    counts = train_ds.counts()
    smallest = min(counts.values()) if counts else 0
    return "mlp" if smallest >= MLP_FROM_CLIPS else "linear"


def transfer_recipe(backbone: str, *, head: str = "linear", epochs: int | None = None, fine_tune: bool = False
                    ) -> tuple[TrainConfig, PipelineConfig]:
    """A light head on a pretrained backbone: what users get by default for a few clips per class.

    The backbone stays frozen and its embeddings are cached, so training is the head alone:

    * ``linear``: logistic regression on the mean, max and standard deviation of the window embeddings,
      each pooled dimension standardised, fitted to convergence by L-BFGS (``solver='lbfgs'``,
      ``pooling='mean_max_std'``: two probes whose logits are averaged, see
      :func:`audioclf.engine.convex.fit_linear`): no epochs, batches or augmentation to tune, right with one
      clip per class as with hundreds;
    * ``mlp`` and ``attention``: 60 epochs of Adam at 1e-3 (batch 16), no augmentation (the
      ``embedding`` augmentation lost 0.4-3 points on ESC-10 and FSDD, see the shipped cards);
    * ``fine_tune``: 15 epochs with the ``embedding`` augmentation (window roll, noise, mixup).

    Parameters
    ----------
    backbone : str
        ``"sounds"`` (environmental sounds, music, effects) or ``"speech"`` (words, voices).
    head : {'linear', 'mlp', 'attention'}
    epochs : int, optional
        Override the 60 epochs (:data:`FINE_TUNE_EPOCHS` with ``fine_tune``).
    fine_tune : bool
        Also train the backbone's top block (:func:`audioclf.backbones.get_top_block`), from its
        pretrained weights, at a tenth of the head's learning rate and with batch norm in
        inference mode; the pipeline caches what the block reads instead of the embeddings,
        and the bundle holds the trained block. Slower (the block runs in every step) and
        larger bundles (block 4 of ``sounds``: 3.5 M parameters, 14 MB). Always trained by Adam.

    Returns
    -------
    (TrainConfig, PipelineConfig)

    Raises
    ------
    BackboneError
        Unknown backbone, or ``fine_tune`` and it has no top block.
    ParameterError
        Unknown head.
    """
    from ..models.transfer import HEADS

    check_choice(head, "head", tuple(HEADS))
    pipeline = transfer_pipeline(backbone, fine_tune=fine_tune)
    model, attention = HEADS[head]
    convex = head == "linear" and not fine_tune
    config = TrainConfig(model=model, attention=attention, epochs=epochs or (FINE_TUNE_EPOCHS if fine_tune else 60),
                         batch_size=16, learning_rate=1e-3, solver="lbfgs" if convex else "adam",
                         augment=AUGMENT_PRESETS["embedding" if fine_tune else "none"],
                         model_options={"pooling": "mean_max_std"} if convex else {})
    return config, pipeline
