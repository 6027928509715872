"""``python -m audioclf export BUNDLE --format onnx|tflite --out DIR``: the model, front end inside, for use
without TensorFlow.

``--json`` prints one JSON object: ``format``, ``quantize``, ``files``, ``bytes`` (the model file),
``sample_rate``, ``window_samples``, ``hop_samples``, ``max_abs_diff`` (the largest difference between
the exported model's window probabilities and the Keras bundle's on the clips checked), ``agreement``
(the share of those clips with the same top class), ``clips``, ``warnings`` (e.g. a quantized model that
lost more than 1 point) and ``quantization_check`` (null unless quantized: ``clips``, ``agree``, ``measure``
-- ``accuracy`` on the labelled example clips, else ``agreement`` with the Keras bundle --
``accuracy_float``, ``accuracy_quantized`` and ``flagged``). ``--quantize int8`` keeps the front end in
float; TFLite calibrates its integer activations on the windows of those clips, ONNX quantizes them per call. The folder is written under a temporary name and renamed
into place: bad input leaves nothing in ``--out``.
"""

from __future__ import annotations

import argparse

from ._common import print_json, quiet_frameworks


def register(sub: argparse._SubParsersAction) -> None:
    from ..engine.export import EXPORT_FORMATS, QUANTIZE_OPTIONS

    p = sub.add_parser("export", help="export a bundle as ONNX or TFLite with its front end and classify.py",
                       description="Export a model bundle as one graph (raw audio frames -> probabilities) in "
                                   "ONNX or TFLite, with labels.json, a README and classify.py, which needs only "
                                   "numpy, soundfile, soxr and the runtime.")
    p.add_argument("bundle", help="bundle folder (trained, pretrained/NAME or unpacked from a zip)")
    p.add_argument("--format", required=True, help=f"one of {', '.join(EXPORT_FORMATS)}")
    p.add_argument("--out", required=True, help="folder to write (replaced if it holds an earlier export)")
    p.add_argument("--quantize", default="none", help=f"one of {', '.join(QUANTIZE_OPTIONS)} (default none)")
    p.add_argument("--no-check", action="store_true", help="skip the comparison with the Keras bundle")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..engine.export import EXPORT_FORMATS, QUANTIZE_OPTIONS
    from ..errors import ExportError

    # checked before TensorFlow is imported: a typo costs nothing
    if args.format not in EXPORT_FORMATS:
        raise ExportError(f"--format {args.format!r} must be one of {', '.join(EXPORT_FORMATS)}")
    if args.quantize not in QUANTIZE_OPTIONS:
        raise ExportError(f"--quantize {args.quantize!r} must be one of {', '.join(QUANTIZE_OPTIONS)}")
    quiet_frameworks()
    from ..engine.bundle import load_bundle
    from ..engine.export import export_bundle

    result = export_bundle(load_bundle(args.bundle), args.out, fmt=args.format, quantize=args.quantize,
                           check=not args.no_check)
    d = result.to_dict()
    if args.json:
        print_json(d)
    else:
        print(f"{result.folder}: {', '.join(result.files)} ({result.bytes / 1e6:.1f} MB model, {result.format}, "
              f"quantization {result.quantize}); max |p - p_keras| = {result.max_abs_diff:.2e} on "
              f"{len(result.clips)} clips, same top class on {result.agreement:.0%}")
        for w in result.warnings:
            print(f"warning: {w}")
    return 0
