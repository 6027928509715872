"""``python -m audioclf features FILE``: compute feature channels of one clip."""

from __future__ import annotations

import argparse

from .._atomic import write_bytes_atomic
from ._common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("features", help="compute feature channels of an audio file",
                       description="Load a clip, optionally denoise and remove silences, and compute feature channels.")
    p.add_argument("file", help="audio file (WAV, FLAC, OGG, MP3)")
    p.add_argument("--channels", default="all", help="comma-separated channel names, or 'all' (default)")
    p.add_argument("--sr", type=int, default=22050, help="resample to this rate (default 22050; 0 keeps the native rate)")
    p.add_argument("--denoise", action="store_true",
                   help="spectral-gating denoise before features (non-stationary by default, like the library "
                        "and the app)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--stationary", action="store_true", help="with --denoise: one fixed noise floor")
    mode.add_argument("--nonstationary", action="store_true",
                      help="with --denoise: track a changing noise floor (the default)")
    p.add_argument("--strength", type=float, default=1.0, help="with --denoise: prop_decrease in [0, 1] (default 1)")
    p.add_argument("--split", action="store_true", help="remove silences (reports the kept intervals)")
    p.add_argument("--top-db", type=float, default=30.0, help="with --split: silence threshold in dB below the peak")
    p.add_argument("--n-fft", type=int, default=None)
    p.add_argument("--hop", type=int, default=None, help="hop length in samples")
    p.add_argument("--n-mels", type=int, default=None)
    p.add_argument("--n-mfcc", type=int, default=None)
    p.add_argument("--save", metavar="NPZ", help="also save every channel's values and axes to this .npz file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..audio.io import load_audio
    from ..audio.preprocess import DenoiseConfig, PreprocessConfig, SplitConfig, preprocess
    from ..errors import ParameterError
    from ..features import FeatureConfig, compute_channels, list_channels

    if args.sr is not None and args.sr < 0:
        raise ParameterError(f"--sr {args.sr} must be a positive rate, or 0 to keep the native rate")
    known = [c.name for c in list_channels()]
    if args.channels.strip() == "all":
        names = known
    else:
        names = [n.strip() for n in args.channels.split(",") if n.strip()]
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise ParameterError(f"unknown channel(s) {', '.join(unknown) or '(none given)'}; "
                                 f"run `python -m audioclf channels` for the list")
    overrides = {k: v for k, v in {"n_fft": args.n_fft, "hop_length": args.hop, "n_mels": args.n_mels,
                                   "n_mfcc": args.n_mfcc}.items() if v is not None}
    fconfig = FeatureConfig(**overrides)
    pconfig = PreprocessConfig(
        denoise=DenoiseConfig(stationary=args.stationary, prop_decrease=args.strength) if args.denoise else None,
        split=SplitConfig(top_db=args.top_db) if args.split else None,
    )
    y, sr = load_audio(args.file, sr=args.sr or None)
    pre = preprocess(y, sr, config=pconfig, name=args.file)
    chans = compute_channels(pre.y, sr, names, config=fconfig)
    out: dict = {
        "file": args.file,
        "sr": sr,
        "duration": round(pre.duration, 6),
        "preprocess": pconfig.to_dict(),
        "channels": {n: {"shape": list(c.values.shape), "units": c.units, "scale": c.scale} for n, c in chans.items()},
    }
    if pre.intervals is not None:
        out["intervals"] = [[round(a / sr, 6), round(b / sr, 6)] for a, b in pre.intervals]
    if args.save:
        from ..service.downloads import channels_npz_bytes

        write_bytes_atomic(args.save, channels_npz_bytes(chans, sr=sr))
        out["saved"] = args.save
    if args.json:
        print_json(out)
    else:
        print(f"{args.file}: {out['duration']:.3f} s at {sr} Hz")
        for n, c in out["channels"].items():
            print(f"  {n:20s} {c['shape'][0]:4d} bins x {c['shape'][1]:5d} frames  [{c['units']}, {c['scale']}]")
        for a, b in out.get("intervals", []):
            print(f"  sound {a:.3f}-{b:.3f} s")
    return 0
