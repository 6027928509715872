"""Model bundles: one folder per trained model, loadable on its own.

A bundle ``NAME/`` holds ``model.keras`` (architecture + weights),
``bundle.json`` (everything needed to reproduce the inputs: classes, sample
rate, preprocessing, channels and feature parameters, normalisation
statistics, windowing, input kind and shape, plus how it was trained and how
well it did) and an optional ``card.md`` for people. Bundles are written into
``NAME.tmp-XXXX/`` and moved into place with ``os.replace``, so a half-written
bundle is never loadable. Loading checks the description against the model
and refuses anything inconsistent or unsafe with one clear :class:`BundleError`.

A bundle also travels as one ``.zip`` (for download and upload in the app),
see :mod:`audioclf.engine.bundle_zip`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import fsync_path
from ..errors import AudioclfError, BundleError
from ..features.normalization import NormStats
from .openset import OpenSetCalibration
from .pipeline import PipelineConfig

__all__ = ["Bundle", "SCHEMA_VERSION", "save_bundle", "load_bundle", "read_description", "bundle_folder",
           "MODEL_FILE", "DESCRIPTION_FILE", "CARD_FILE"]

SCHEMA_VERSION = 1
_SCHEMA = "audioclf.bundle"
MODEL_FILE = "model.keras"
DESCRIPTION_FILE = "bundle.json"
CARD_FILE = "card.md"


@dataclass(frozen=True)
class Bundle:
    """A loaded model bundle.

    Attributes
    ----------
    path : Path
        The bundle folder.
    model : keras.Model
    pipeline : PipelineConfig
        The exact clip-to-input mapping used in training.
    classes : tuple of str
        Class names, in the order of the model's ``probs`` output.
    stats : NormStats or None
        Standardisation statistics (None when ``pipeline.normalize == 'none'``).
    architecture : str
        Registry name of the model.
    options : dict
        Builder options it was built with.
    attention : str or None
    description : dict
        The whole ``bundle.json`` (training summary, metrics, versions, date).
    """

    path: Path
    model: Any = field(repr=False)
    pipeline: PipelineConfig
    classes: tuple[str, ...]
    stats: NormStats | None
    architecture: str
    options: dict = field(default_factory=dict)
    attention: str | None = None
    description: dict = field(default_factory=dict, repr=False)
    open_set: OpenSetCalibration | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def metrics(self) -> dict:
        return dict(self.description.get("metrics") or {})


def _versions() -> dict[str, str]:
    import keras
    import librosa

    from .._version import __version__

    return {"audioclf": __version__, "keras": keras.__version__, "backend": keras.backend.backend(),
            "numpy": np.__version__, "librosa": librosa.__version__}


def _jsonable(obj: Any) -> Any:
    """Tuples to lists, numpy scalars to Python, recursively (options and summaries)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _card(d: dict) -> str:
    arch = d["architecture"]
    m = d.get("metrics") or {}
    t = d.get("training") or {}
    lines = [f"# {d.get('name', 'model')}", "",
             f"- Architecture: `{arch['name']}`" + (f" with {arch['attention']} attention" if arch.get("attention")
                                                     else ""),
             f"- Classes ({len(d['classes'])}): {', '.join(d['classes'])}",
             f"- Input: {d['pipeline']['input_kind']} {tuple(d['pipeline']['input_shape'])}, "
             f"channels {', '.join(d['pipeline']['channels']) or '-'}, {d['pipeline']['sr']} Hz"]
    if t:
        lines.append(f"- Trained on: {t.get('dataset', {}).get('name', '?')}, split `{t.get('split', '?')}`, "
                     f"{t.get('epochs', '?')} epochs in {t.get('seconds', 0):.0f} s")
    if m:
        lines.append(f"- Validation clip accuracy: {m.get('accuracy', float('nan')):.3f}, window accuracy: "
                     f"{m.get('window_accuracy', float('nan')):.3f}")
    lines += ["", f"Created {d.get('created', '?')} with audioclf {d.get('versions', {}).get('audioclf', '?')}.", ""]
    return "\n".join(lines)


def model_without_optimizer(model: Any) -> Any:
    """``model``, or where it holds an optimizer an uncompiled copy with the same weights.

    A bundle is read for prediction, evaluation and export, never to go on training, so it carries
    no optimizer state: Adam keeps two numbers per weight, which would triple a head's ``model.keras``
    (ESC-10's ``mlp`` head: 0.57 -> 1.67 MB) and add 28 MB to a fine-tuned ``sounds`` block's 14 MB.
    """
    if getattr(model, "optimizer", None) is None:
        return model
    import keras

    copy = keras.Model.from_config(model.get_config())  # clone_model would compile (and build) an optimizer too
    copy.set_weights(model.get_weights())
    return copy


def save_bundle(path: str | os.PathLike, *, model: Any, pipeline: PipelineConfig, classes: tuple[str, ...] | list[str],
                stats: NormStats | None, architecture: str, options: dict | None = None,
                attention: str | None = None, training: dict | None = None, metrics: dict | None = None,
                card: str | None = None, images: dict[str, bytes] | None = None,
                open_set: OpenSetCalibration | None = None) -> Path:
    """Write a bundle folder atomically (replacing an existing bundle of that name safely).

    Parameters
    ----------
    path : path
        The bundle folder ``NAME`` to create or replace.
    model : keras.Model
    pipeline : PipelineConfig
    classes : sequence of str
        In the order of the model's ``probs`` output.
    stats : NormStats or None
    architecture : str
        Registry name.
    options, attention
        How the model was built.
    training, metrics : dict, optional
        Training summary (dataset, split, config, epochs, seconds) and validation metrics.
    card : str, optional
        Markdown for people; a short one is generated when omitted.
    images : dict of name to PNG bytes, optional
        Figures to keep beside the model (e.g. ``"confusion.png"``).

    Returns
    -------
    Path
        The bundle folder.

    Raises
    ------
    BundleError
        If ``path`` exists and is not a bundle (nothing of yours is overwritten),
        or the description is inconsistent (see :func:`load_bundle`).
    """
    target = Path(path)
    if target.exists() and not (target / DESCRIPTION_FILE).is_file():
        raise BundleError(f"{target} exists and is not a model bundle (no {DESCRIPTION_FILE}); choose another "
                          "name or remove it")
    description = {
        "schema": _SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "name": target.name,
        "model_file": MODEL_FILE,
        "architecture": {"name": architecture, "options": _jsonable(options or {}), "attention": attention},
        "classes": list(classes),
        "pipeline": pipeline.to_dict(),
        "normalization": stats.to_dict() if stats is not None else None,
        "training": _jsonable(training or {}),
        "metrics": _jsonable(metrics or {}),
        "versions": _versions(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    if open_set is not None:
        description["open_set"] = open_set.to_dict()
    if pipeline.backbone is not None:
        from ..backbones import get_backbone_spec

        # The head needs these exact weights: loading checks the name and the hash.
        description["backbone"] = {"name": pipeline.backbone,
                                   "weights_sha256": get_backbone_spec(pipeline.backbone).weights_sha256}
    _check_description(description, where=str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f"{target.name}.tmp-"))
    try:
        model_without_optimizer(model).save(tmp / MODEL_FILE)
        (tmp / DESCRIPTION_FILE).write_text(json.dumps(description, indent=2), encoding="utf-8")
        (tmp / CARD_FILE).write_text(card if card is not None else _card(description), encoding="utf-8")
        for name, data in (images or {}).items():
            if not allowed_member(name) or not name.endswith(".png"):
                raise BundleError(f"image name {name!r} must be a plain file name ending in .png")
            (tmp / name).write_bytes(data)
        move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def move_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing bundle is moved aside first and removed after.

    A directory cannot be renamed over a non-empty one, so the old bundle steps
    aside; if the second rename fails it is put back. At no moment is a
    half-written folder reachable under ``target``. Every file in ``tmp`` is
    flushed to disk before the rename, so a crash just after it cannot leave
    empty files behind the new name.
    """
    for item in tmp.iterdir():
        fsync_path(item)
    fsync_path(tmp)
    if not target.exists():
        os.replace(tmp, target)
        return
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f"{target.name}.old-"))
    os.replace(target, old / "bundle")
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old / "bundle", target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def allowed_member(name: str) -> bool:
    """A plain file name inside the bundle: no folders, no '..', no hidden or odd names."""
    return (isinstance(name, str) and name == Path(name).name and name not in ("", ".", "..")
            and not name.startswith(".") and "/" not in name and "\\" not in name and ":" not in name
            and (name in (MODEL_FILE, DESCRIPTION_FILE, CARD_FILE) or name.endswith(".png")))


def _require(d: dict, key: str, types: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise BundleError(f"{where}: bundle.json lacks the key {key!r}; the bundle is incomplete -- "
                          "train or export it again")
    value = d[key]
    allowed = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        names = "/".join(t.__name__ for t in allowed)
        raise BundleError(f"{where}: bundle.json key {key!r} must be {names}, got {type(value).__name__}")
    return value


def _check_description(d: Any, *, where: str) -> tuple[PipelineConfig, NormStats | None]:
    """Validate a parsed bundle.json; return the pipeline and statistics it describes."""
    from ..models import get_model_spec, list_models

    if not isinstance(d, dict):
        raise BundleError(f"{where}: bundle.json must hold a JSON object, got {type(d).__name__}")
    if d.get("schema") != _SCHEMA:
        raise BundleError(f"{where}: bundle.json is not an audioclf bundle description (schema={d.get('schema')!r})")
    version = _require(d, "schema_version", int, where)
    if version > SCHEMA_VERSION:
        raise BundleError(f"{where}: bundle schema version {version} is newer than this audioclf understands "
                          f"({SCHEMA_VERSION}); upgrade audioclf")
    model_file = _require(d, "model_file", str, where)
    if model_file != MODEL_FILE:
        raise BundleError(f"{where}: model_file must be {MODEL_FILE!r} inside the bundle folder, got {model_file!r}")
    arch = _require(d, "architecture", dict, where)
    name = _require(arch, "name", str, where + " (architecture)")
    if not isinstance(arch.get("options", {}), dict):
        raise BundleError(f"{where}: architecture options must be a JSON object")
    if arch.get("attention") is not None and not isinstance(arch["attention"], str):
        raise BundleError(f"{where}: architecture attention must be a string or null")
    try:
        spec = get_model_spec(name)
    except AudioclfError:
        known = ", ".join(s.name for s in list_models())
        raise BundleError(f"{where}: unknown architecture {name!r}; this audioclf knows {known}") from None
    classes = _require(d, "classes", list, where)
    if len(classes) < 2 or not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes):
        raise BundleError(f"{where}: classes must be at least 2 distinct non-empty names, got {classes[:10]}")
    try:
        pipeline = PipelineConfig.from_dict(_require(d, "pipeline", dict, where))
    except AudioclfError as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError(f"{where}: the pipeline in bundle.json is invalid: {exc}") from None
    if pipeline.input_kind != spec.input_kind:
        raise BundleError(f"{where}: {name} reads {spec.input_kind} inputs but bundle.json describes "
                          f"{pipeline.input_kind} inputs")
    norm = d.get("normalization")
    stats = None
    if pipeline.normalize == "channel":
        if not isinstance(norm, dict):
            raise BundleError(f"{where}: bundle.json needs normalisation statistics (mean, std) for "
                              "normalize='channel'")
        try:
            stats = NormStats.from_dict(norm, input_shape=pipeline.input_shape)
        except AudioclfError as exc:
            raise BundleError(f"{where}: {exc}") from None
    if d.get("open_set") is not None:
        try:
            OpenSetCalibration.from_dict(d["open_set"], n_classes=len(classes))
        except AudioclfError as exc:
            raise BundleError(f"{where}: the open-set calibration in bundle.json is invalid: {exc}") from None
    if pipeline.backbone is not None:
        _check_backbone(d.get("backbone"), pipeline.backbone, where)
    return pipeline, stats


def _check_backbone(recorded: Any, name: str, where: str) -> None:
    """A transfer bundle names its backbone and the SHA-256 of the weights it was trained on."""
    from ..backbones import get_backbone_spec

    if not isinstance(recorded, dict) or recorded.get("name") != name or not isinstance(
            recorded.get("weights_sha256"), str):
        raise BundleError(f"{where}: bundle.json must name its backbone {name!r} and the SHA-256 of its weights "
                          "under 'backbone'; train or export the bundle again")
    installed = get_backbone_spec(name).weights_sha256
    if recorded["weights_sha256"] != installed:
        raise BundleError(f"{where}: this model was trained on {name} backbone weights "
                          f"{recorded['weights_sha256'][:12]}..., but this audioclf has {installed[:12]}...; "
                          "train the head again on this installation")


def read_description(path: str | os.PathLike) -> dict:
    """Read and validate ``bundle.json`` of a bundle folder without loading the model.

    Raises
    ------
    BundleError
        If the folder or its description is missing, not JSON, or inconsistent.
    """
    folder = bundle_folder(path)
    try:
        text = (folder / DESCRIPTION_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError(f"{folder} is not a model bundle: {DESCRIPTION_FILE} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{folder}: cannot read {DESCRIPTION_FILE} ({exc})") from None
    try:
        d = json.loads(text)
    except ValueError as exc:
        raise BundleError(f"{folder}: {DESCRIPTION_FILE} is not valid JSON ({exc})") from None
    _check_description(d, where=str(folder))
    return d


def bundle_folder(path: str | os.PathLike) -> Path:
    p = Path(path)
    if p.name == DESCRIPTION_FILE:
        p = p.parent
    if p.suffix.lower() == ".zip" and p.is_file():
        raise BundleError(f"{p} is a zipped bundle; import it first (audioclf.engine.bundle_zip.import_zip)")
    if p.suffix.lower() in (".h5", ".hdf5"):
        raise BundleError(f"refused to load {p}: legacy HDF5 model files can carry code; audioclf loads "
                          "bundle folders holding a .keras model")
    if not p.is_dir():
        raise BundleError(f"model bundle {p} not found: expected a folder with {MODEL_FILE} and {DESCRIPTION_FILE}")
    return p


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Load a bundle folder: validate its description, load the model safely, check they agree.

    Parameters
    ----------
    path : path
        The bundle folder (or its ``bundle.json``).

    Returns
    -------
    Bundle

    Raises
    ------
    BundleError
        Missing folder or files; invalid, incomplete or newer description; an
        unknown architecture; a model file outside the folder, in HDF5 or with
        unsafe layers; a model whose input shape, output size or name does not
        match the description.

    Examples
    --------
    >>> b = load_bundle("runs/esc10")                       # doctest: +SKIP
    >>> b.classes[:2], b.pipeline.input_shape               # doctest: +SKIP
    (('chainsaw', 'clock_tick'), (64, 64, 1))
    """
    from ..models import load_model_file

    folder = bundle_folder(path)
    d = read_description(folder)
    pipeline, stats = _check_description(d, where=str(folder))
    model_path = (folder / d["model_file"]).resolve()
    if not model_path.is_relative_to(folder.resolve()):
        raise BundleError(f"{folder}: model_file {d['model_file']!r} points outside the bundle folder")
    if pipeline.fine_tune:  # the copied top block holds the backbones' own layers (ClampedLeakyReLU)
        from ..backbones import networks  # noqa: F401 -- registers them for deserialisation
    model = load_model_file(model_path)
    arch = d["architecture"]
    where = str(folder)
    shape = tuple(model.inputs[0].shape[1:])
    if len(model.inputs) != 1 or shape != pipeline.input_shape:
        raise BundleError(f"{where}: the model reads inputs of shape {shape} but bundle.json describes "
                          f"{pipeline.input_shape}; the bundle is inconsistent")
    if "probs" not in model.output_names:
        raise BundleError(f"{where}: the model has no 'probs' output (outputs {model.output_names})")
    n_out = int(dict(zip(model.output_names, model.outputs, strict=True))["probs"].shape[-1])
    if n_out != len(d["classes"]):
        raise BundleError(f"{where}: bundle.json lists {len(d['classes'])} classes but the model predicts "
                          f"{n_out}; the bundle is inconsistent")
    if model.name != arch["name"]:
        raise BundleError(f"{where}: model.keras holds a {model.name!r} model but bundle.json says "
                          f"{arch['name']!r}")
    if pipeline.backbone is not None:
        from ..backbones import get_backbone

        get_backbone(pipeline.backbone)  # a missing or altered weight file: one BackboneError saying how to restore it
    open_set = (OpenSetCalibration.from_dict(d["open_set"], n_classes=len(d["classes"]))
                if d.get("open_set") is not None else None)
    return Bundle(path=folder, model=model, pipeline=pipeline, classes=tuple(d["classes"]), stats=stats,
                  architecture=arch["name"], options=dict(arch.get("options") or {}),
                  attention=arch.get("attention"), description=d, open_set=open_set)
