"""Convert the pretrained backbones once from their PyPI wheels into ``pretrained/backbones/``.

    pip download --no-deps aisfx==0.1.2 openwakeword==0.5.1 -d WHEELS
    python scripts/convert_backbones.py WHEELS [--out pretrained/backbones]

Reads aiSFX's torch checkpoint with audioclf's restricted unpickler (no torch,
no unrestricted pickle) and speech_embedding's ONNX graph with ``onnx``; builds
each network in Keras, copies the weights (float32), saves ``<name>/model.keras``
and ``<name>/spec.json`` (every spec field, with the file's SHA-256), and writes
``LICENSES.md``. Prints each SHA-256: the registry
(``audioclf/backbones/registry.py``) must hold the same value, or loading refuses
the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from audioclf.backbones._onnx import speech_convs_from_onnx  # noqa: E402
from audioclf.backbones._torchzip import read_torch_zip  # noqa: E402
from audioclf.backbones.core import file_sha256  # noqa: E402
from audioclf.backbones.networks import (  # noqa: E402
    build_sounds_network,
    build_speech_network,
    set_sounds_weights,
    set_speech_weights,
)
from audioclf.backbones.registry import get_backbone_spec  # noqa: E402

WHEELS = {"sounds": ("aisfx-0.1.2-py2.py3-none-any.whl", "aisfx/models/checkpoint.pth"),
          "speech": ("openwakeword-0.5.1-py3-none-any.whl", "openwakeword/resources/models/embedding_model.onnx")}

LICENSES = """# Licences of the pretrained backbones

The weights in this folder were converted (not retrained) by `scripts/convert_backbones.py` from the
PyPI wheels named below. Each folder's `spec.json` records the source and the SHA-256 of `model.keras`.

## sounds -- aiSFX

- Source: `aisfx==0.1.2`, file `aisfx/models/checkpoint.pth` (the embedding network of model
  X-Sequential-CE).
- Licence: **Creative Commons Attribution 4.0 International (CC BY 4.0)**, as the wheel's LICENSE file and
  README state for the pre-trained model and paper (the wheel's classifier says MIT; we credit it under
  CC BY 4.0). <https://creativecommons.org/licenses/by/4.0/>
- Changes: the PyTorch weights were copied into a Keras 3 model of the same architecture; nothing else.
- Cite: Alison Bernice Ma and Alexander Lerch, "Representation Learning for the Automatic Indexing of
  Sound Effects Libraries", Proceedings of the 23rd International Society for Music Information Retrieval
  Conference (ISMIR), 2022, pp. 866-875.

## speech -- Google speech_embedding, via openWakeWord

- Source: `openwakeword==0.5.1`, files `openwakeword/resources/models/embedding_model.onnx` (the network)
  and `melspectrogram.onnx` (the front end, re-implemented in numpy/librosa here).
- Licence: **Apache License 2.0** -- Google's `speech_embedding` model (TensorFlow Hub) and openWakeWord
  (Copyright 2022 David Scripka) are both released under Apache-2.0.
  <https://www.apache.org/licenses/LICENSE-2.0>
- Changes: the ONNX weights were copied into a Keras 3 model of the same architecture; nothing else.
- Cite: James Lin, Kevin Kilgour, Dominik Roblek and Matthew Sharifi, "Training Keyword Spotters with
  Limited and Synthesized Speech Data", Proc. IEEE ICASSP 2020, pp. 7474-7478.
"""


def _member(wheel_dir: Path, name: str, tmp: Path) -> Path:
    wheel, member = WHEELS[name]
    path = wheel_dir / wheel
    if not path.is_file():
        sys.exit(f"error: {path} not found; fetch it with "
                 f"`pip download --no-deps aisfx==0.1.2 openwakeword==0.5.1 -d {wheel_dir}`")
    with zipfile.ZipFile(path) as zf:
        out = tmp / Path(member).name
        out.write_bytes(zf.read(member))
    return out


def _repack(src: Path, dest: Path) -> None:
    """Rewrite a ``.keras`` zip so the same weights give the same bytes (and so the same SHA-256).

    Keras stamps the save time into ``metadata.json``, numbers shared objects by
    their memory address in ``config.json`` and dates the zip entries; the
    weights file itself is already deterministic.
    """
    ids: dict[str, str] = {}

    def renumber(m: re.Match) -> str:
        return f'"shared_object_id": {ids.setdefault(m.group(1), str(len(ids) + 1))}'

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for name in sorted(zin.namelist()):
            data = zin.read(name)
            if name == "metadata.json":
                meta = json.loads(data)
                meta["date_saved"] = "converted by scripts/convert_backbones.py"
                data = json.dumps(meta).encode()
            elif name == "config.json":
                data = re.sub(r'"shared_object_id": (\d+)', renumber, data.decode()).encode()
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, data)


def _save(model, spec_name: str, out: Path) -> str:
    folder = out / spec_name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "model.keras"
    raw, tmp = folder / ".tmp-raw.keras", folder / ".tmp-model.keras"
    model.save(raw)
    _repack(raw, tmp)
    raw.unlink()
    os.replace(tmp, target)
    digest = file_sha256(target)
    spec = dataclasses.replace(get_backbone_spec(spec_name), weights_sha256=digest, params=model.count_params())
    (folder / ".tmp-spec.json").write_text(json.dumps(spec.as_dict(), indent=2) + "\n")
    os.replace(folder / ".tmp-spec.json", folder / "spec.json")
    return digest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wheels", type=Path, help="folder holding the two wheels")
    ap.add_argument("--out", type=Path, default=ROOT / "pretrained" / "backbones")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        state, _ = read_torch_zip(_member(args.wheels, "sounds", tmp))
        sounds = build_sounds_network()
        set_sounds_weights(sounds, state)
        speech = build_speech_network()
        set_speech_weights(speech, speech_convs_from_onnx(_member(args.wheels, "speech", tmp)))
        for name, model in (("sounds", sounds), ("speech", speech)):
            digest = _save(model, name, args.out)
            registered = get_backbone_spec(name).weights_sha256
            note = "matches the registry" if digest == registered else "UPDATE audioclf/backbones/registry.py"
            print(f"{name}: {model.count_params():,} parameters, SHA-256 {digest} ({note})")
    (args.out / "LICENSES.md").write_text(LICENSES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
