"""``python -m audioclf train --data PATH --out BUNDLE``: train a model and save it as a bundle.

Where it starts is decided as on the Train page (:func:`audioclf.engine.recipes.start_backbone`): with no
``--model`` or ``--backbone``, a dataset of at most 400 clips gets a head on its pretrained backbone (``speech``
for FSDD, ``sounds`` otherwise) and a larger one the quick recipe
(:func:`audioclf.engine.recipes.quick_recipe`); ``--start scratch`` or ``--start backbone`` chooses. The flags
become configs through :func:`audioclf.engine.recipes.make_recipe`, as the Train page's widgets do.
With ``--json`` the last line of stdout is one JSON object with ``accuracy``
(validation clip accuracy), ``window_accuracy``, ``epochs``, ``seconds``,
``bundle``, ``model``, ``split`` (the validation split: ``--split``, or the dataset's default, see
:func:`audioclf.engine.recipes.train_defaults`), ``device`` (what it trained on), ``start`` (``backbone`` or
``scratch``), ``backbone`` and ``head`` (null from scratch).
"""

from __future__ import annotations

import argparse
import math
import sys

from ._common import Bars, add_data_arguments, cache_arg, load_data, print_json, quiet_frameworks


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model on a dataset and save a bundle",
                       description="Train a model and save it as a bundle folder. Where it starts follows the "
                                   "data, as on the Train page: a dataset of at most 400 clips gets a light head on "
                                   "a pretrained backbone (speech for FSDD, sounds otherwise), a larger one the "
                                   "quick recipe (a compact sfc_dcnn on log-mel with SpecAugment and mixup), "
                                   "trained from scratch. --start, --model or --backbone choose.")
    add_data_arguments(p)
    p.add_argument("--out", required=True, metavar="BUNDLE", help="bundle folder to write (replaced if it exists)")
    p.add_argument("--start", choices=("auto", "backbone", "scratch"), default="auto",
                   help="where training starts without --model or --backbone: 'backbone' (a head on the dataset's "
                        "pretrained backbone), 'scratch' (the quick recipe), or 'auto' (default): a backbone for "
                        "at most 400 clips unless a flag only the zoo takes is given (--channels, --input-shape, "
                        "--sr, a feature flag, --center, --attention, --model-option, a spectrogram --augment)")
    p.add_argument("--model", default=None, help="architecture trained from scratch (see `python -m audioclf "
                                                 "models`); default: see --start")
    p.add_argument("--backbone", default=None, metavar="NAME",
                   help="train a light head on a pretrained backbone (sounds or speech; see `python -m audioclf "
                        "backbones`): the best choice for a few clips per class")
    p.add_argument("--head", choices=("linear", "mlp", "attention"), default=None,
                   help="with --backbone: the head (default: linear, fitted to convergence, below 20 training "
                        "clips in some class, mlp from 20 on; attention weighs the windows over time)")
    p.add_argument("--fine-tune", action="store_true",
                   help="with --backbone: also train the backbone's top block (from its pretrained weights, at a "
                        "tenth of the head's learning rate); slower, and the bundle carries the trained block")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 30)")
    p.add_argument("--channels", default=None, help="comma-separated feature channels (spectrogram / multichannel)")
    p.add_argument("--split", default=None,
                   help="validation split: fold:K, group:NAME, split:test or ratio:R; 'none' trains on every clip "
                        "and scores the training clips. Default: the dataset's own, as on the Train page: its "
                        "last fold, else its test split, else ratio:0.2 (the JSON's 'split' says which)")
    p.add_argument("--attention", default=None, help="attention kind the model supports: cnn, rnn or self")
    p.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                   help="builder option of the architecture, repeatable: 'filters=32,32,64,64,128,128', "
                        "'dropout=0.3', 'gate=sigmoid', 'dense_units=' (empty: none); see "
                        "`python -m audioclf models --json` for each model's options. With the quick recipe "
                        "these change its own options")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--batch-size", type=int, default=None, help="default 32")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the recipe's)")
    p.add_argument("--weight-decay", type=float, default=None,
                   help="decoupled weight decay (AdamW) in [0, 1) (default 0: plain Adam)")
    p.add_argument("--label-smoothing", type=float, default=None,
                   help="spread this much of each target's probability over the classes, in [0, 1) (default 0)")
    p.add_argument("--augment", default=None, help="none, light, standard, strong or speech, optionally with fields changed: "
                        "'speech,freq_warp=0.2,mixup=0' (default: standard for the "
                                                   "quick recipe, none otherwise)")
    p.add_argument("--patience", type=int, default=None, help="early stopping patience in epochs (default: off)")
    p.add_argument("--keep", choices=("last", "best"), default=None, help="weights kept at the end (default last)")
    p.add_argument("--class-weight", choices=("balanced",), default=None, help="weigh classes by inverse frequency")
    p.add_argument("--sr", type=int, default=None, help="sample rate of the pipeline (default 22050)")
    p.add_argument("--input-shape", default=None, metavar="F,T",
                   help="input size, e.g. 64,64 (freq bins, frames) or 16000 (waveform samples)")
    p.add_argument("--n-fft", type=int, default=None, help="STFT frame length in samples (default 2048)")
    p.add_argument("--hop-length", type=int, default=None, help="samples between frames (default 512)")
    p.add_argument("--n-mels", type=int, default=None,
                   help="mel bands of channels built on mel (mfcc, delta...; the mel channel itself takes the "
                        "input's frequency size)")
    p.add_argument("--n-mfcc", type=int, default=None, help="MFCC coefficients kept (default 40)")
    p.add_argument("--fmin", type=float, default=None, help="lowest mel frequency in Hz (default 0)")
    p.add_argument("--fmax", type=float, default=None, help="highest mel frequency in Hz (default sr/2)")
    p.add_argument("--overlap", type=float, default=None,
                   help="window overlap in [0, 1) (default 0 for the quick recipe, 0.5 otherwise)")
    p.add_argument("--split-silence", type=float, default=None, metavar="TOP_DB",
                   help="remove silences quieter than TOP_DB below the loudest frame before features (default off)")
    p.add_argument("--denoise", choices=("stationary", "nonstationary"), default=None,
                   help="spectral-gating denoise before features, noise profile from the whole clip (default off)")
    p.add_argument("--trim", choices=("on", "off"), default=None,
                   help="cut every clip back to its sound (the room noise before and after a word) before anything "
                        "else; default on with the speech backbone, off otherwise")
    p.add_argument("--center", choices=("none", "time"), default=None,
                   help="'time': subtract each frequency bin's mean over the window (cepstral mean normalisation; "
                        "removes a fixed colouring such as a microphone or a voice's tilt)")
    p.add_argument("--pad", choices=("repeat", "constant"), default=None,
                   help="how a clip shorter than one window is filled: repeated (default) or with silence")
    p.add_argument("--precision", choices=("float32", "mixed"), default=None,
                   help="float32, or mixed (mixed_float16; needs a GPU, warns and trains in float32 on a CPU). "
                        "Default: mixed where the backend can use a GPU, float32 on a CPU "
                        "(`python -m audioclf device` says which)")
    p.add_argument("--mixed-precision", action="store_true", help="the same as --precision mixed (older spelling)")
    p.add_argument("--devices", type=int, default=None, metavar="N",
                   help="data-parallel training over N local devices (GPUs, or CPU devices), each batch split "
                        "across them: TensorFlow MirroredStrategy or JAX DataParallel (default 1). Several "
                        "machines: set TF_CONFIG on each (docs/gpu.md, 'Several machines')")
    p.add_argument("--checkpoint", metavar="FILE.keras", default=None,
                   help="also save the best model so far to this .keras file after each improvement")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(handler=run)


def _dims(text: str | None) -> tuple[int, ...] | None:
    """``--input-shape 64,64`` (or ``64x64``, or ``16000``) as integers."""
    from ..errors import ParameterError

    if text is None:
        return None
    try:
        dims = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        dims = ()
    if not dims or any(d <= 0 for d in dims):
        raise ParameterError(f"--input-shape {text!r} must be positive integers, e.g. 64,64")
    return dims


def _augment(text: str):
    """``NAME[,field=value,...]``: a preset, optionally with some of its fields changed."""
    from ..audio.augment import AUGMENT_PRESETS, AugmentConfig
    from ..errors import ParameterError

    name, *pairs = [part.strip() for part in text.split(",")]
    if name not in AUGMENT_PRESETS:
        raise ParameterError(f"--augment {name!r} must be one of {', '.join(AUGMENT_PRESETS)} "
                             "(optionally followed by ,field=value pairs)")
    fields = AUGMENT_PRESETS[name].to_dict()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key.strip() not in fields:
            raise ParameterError(f"--augment: {pair!r} must be field=value with field one of {', '.join(fields)}")
        key = key.strip()
        try:
            fields[key] = int(value) if key in ("time_masks", "freq_masks") else float(value)
        except ValueError:
            raise ParameterError(f"--augment: {key}={value!r} is not a number") from None
    return AugmentConfig.from_dict(fields)


def _option_value(text: str):
    """A builder option's value: a number, true/false/none, a comma list (a tuple), or text."""
    text = text.strip()
    if text == "":
        return ()
    if "," in text:
        return tuple(_option_value(part) for part in text.split(",") if part.strip())
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _model_options(pairs: list[str]) -> dict:
    from ..errors import ParameterError

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--model-option {pair!r} must be KEY=VALUE, e.g. filters=32,32,64,64,128,128")
        options[key.strip()] = _option_value(value)
    return options


def _configs(args: argparse.Namespace, dataset=None):
    """The flags as ``(TrainConfig, PipelineConfig)``, by the same function the Train page uses.

    ``dataset`` decides what the flags leave open, as on the Train page: the split without ``--split``
    (:func:`audioclf.engine.recipes.train_defaults`) and the head on a backbone without ``--head``.
    """
    from ..engine.recipes import make_recipe, train_defaults

    split = args.split if args.split is not None or dataset is None else train_defaults(dataset).split
    channels = tuple(c.strip() for c in args.channels.split(",") if c.strip()) if args.channels else None
    return make_recipe(
        model=args.model, sr=args.sr, channels=channels, input_shape=_dims(args.input_shape), overlap=args.overlap,
        features={"n_fft": args.n_fft, "hop_length": args.hop_length, "fmin": args.fmin, "fmax": args.fmax,
                  "n_mels": args.n_mels, "n_mfcc": args.n_mfcc},
        split_silence=args.split_silence, denoise=args.denoise, center=args.center, pad=args.pad,
        trim=None if args.trim is None else args.trim == "on",
        augment=_augment(args.augment) if args.augment is not None else None,
        model_options=_model_options(args.model_option),
        training={"split": split, "seed": args.seed, "attention": args.attention,
                  "precision": args.precision or ("mixed" if args.mixed_precision else "auto"),
                  "devices": args.devices, "epochs": args.epochs, "batch_size": args.batch_size,
                  "learning_rate": args.lr, "patience": args.patience, "keep": args.keep,
                  "class_weight": args.class_weight, "weight_decay": args.weight_decay,
                  "label_smoothing": args.label_smoothing},
        backbone=args.backbone, head=args.head, fine_tune=args.fine_tune, dataset=dataset, start=args.start)


def _head_name(config) -> str:
    """The head's name (``linear``, ``mlp``, ``attention``) of a config on a backbone."""
    from ..models import HEADS

    return next((name for name, (model, attention) in HEADS.items()
                 if model == config.model and attention == config.attention), config.model)


def run(args: argparse.Namespace) -> int:
    quiet_frameworks()
    from ..engine.train import train
    _configs(args)  # bad flags fail before the data is read
    dataset = load_data(args.data, esc10=args.esc10)
    config, pipeline = _configs(args, dataset)  # the default split (and head) follow the data
    with Bars(enabled=not args.quiet) as bars:
        def on_progress(ev) -> None:
            if ev.kind == "phase" and ev.phase == "features":
                bars.show("features", ev.done, ev.total)
            elif ev.kind == "batch":
                bars.show("training", round(ev.epoch - 1 + ev.batch / max(1, ev.batches), 2), ev.epochs,
                          unit="epoch", loss=f"{ev.loss:.3f}")
            elif ev.kind == "epoch":
                bars.show("training", ev.epoch, ev.epochs, unit="epoch", loss=f"{ev.loss:.3f}",
                          val_acc=f"{ev.val_clip_accuracy:.3f}")

        result = train(dataset, config=config, pipeline=pipeline, out=args.out, cache=cache_arg(args),
                       workers=args.workers, progress=on_progress, checkpoint=args.checkpoint)
    ev = result.evaluation
    out = {
        "accuracy": round(ev.accuracy, 6),
        "window_accuracy": round(ev.window_accuracy, 6),
        "macro_f1": round(ev.macro_f1, 6),
        "epochs": result.epochs_run,
        "best_epoch": result.best_epoch,
        "seconds": round(result.seconds, 3),
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        "bundle": str(result.bundle_path),
        "model": config.model,
        "split": config.split,
        "classes": list(result.classes),
        "train_clips": result.summary["train"]["clips"],
        "val_clips": result.summary["val"]["clips"],
        "stopped": result.stopped,
        "device": result.device.get("device", ""),
        "start": "backbone" if pipeline.backbone else "scratch",
        "backbone": pipeline.backbone,
        "head": _head_name(config) if pipeline.backbone else None,
    }
    if args.json:
        print_json(out)
    else:
        start = (f"a {out['head']} head on the pretrained {pipeline.backbone} backbone" if pipeline.backbone
                 else f"{config.model} from scratch")
        why = " (the default for this dataset; --start chooses)" if args.start == "auto" and not (
            args.model or args.backbone) else ""
        print(f"trained {start}{why} for {result.epochs_run} epochs in {result.seconds:.1f} s "
              f"(features {result.timings.get('features', math.nan):.1f} s)")
        print(f"validation ({config.split}, {out['val_clips']} clips): clip accuracy {ev.accuracy:.3f}, "
              f"window accuracy {ev.window_accuracy:.3f}, macro F1 {ev.macro_f1:.3f}")
        print(f"bundle saved to {result.bundle_path}")
    sys.stdout.flush()
    return 0
