"""The registry of pretrained backbones: one frozen :class:`BackboneSpec` per network.

A spec is data only (no file is read here): names, credits, the front end's
settings and the weight file with its SHA-256. The hash lives in the source so
that an altered or swapped weight file is caught even when the JSON beside it
was altered too; ``scripts/convert_backbones.py`` prints the hash to put here.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import BackboneError

__all__ = ["BackboneSpec", "TopBlock", "list_backbones", "get_backbone_spec", "get_top_block", "backbones_dir",
           "RESTORE_HINT"]

#: The repository's folder of converted weights (``pretrained/backbones``).
BACKBONES_DIR = Path(__file__).resolve().parents[2] / "pretrained" / "backbones"
#: How to get the shipped weights back; every integrity error ends with it.
RESTORE_HINT = ("restore it with `git checkout pretrained/backbones` or re-create it with "
                "`python scripts/convert_backbones.py WHEEL_DIR`")


def backbones_dir() -> Path:
    """The weights' folder: ``$AUDIOCLF_BACKBONES`` if set, else the repository's ``pretrained/backbones``."""
    env = os.environ.get("AUDIOCLF_BACKBONES")
    return Path(env) if env else BACKBONES_DIR


@dataclass(frozen=True)
class BackboneSpec:
    """What a pretrained backbone is, where it came from and how it hears.

    Attributes
    ----------
    name : str
        Registry name (``"sounds"``, ``"speech"``).
    title, description : str
        For people.
    licence, citation : str
        Licence of the weights, and the work to cite.
    source : str
        The wheel and the file in it the weights were converted from.
    sample_rate : int
        Hz; clips are resampled to it.
    window_s, hop_s : float
        Length of one embedding window and the step between windows, in seconds.
    frames, frame_hop : int
        The same in front-end frames.
    n_bands : int
        Mel bands of the front end.
    embedding_dim : int
        Size of one window's embedding.
    params : int
        Parameters of the network.
    weights_file : str
        File name under ``pretrained/backbones/<name>/``.
    weights_sha256 : str
        SHA-256 of that file, checked on every load.
    """

    name: str
    title: str
    description: str
    licence: str
    citation: str
    source: str
    sample_rate: int
    window_s: float
    hop_s: float
    frames: int
    frame_hop: int
    n_bands: int
    embedding_dim: int
    params: int
    weights_file: str
    weights_sha256: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    @property
    def input_shape(self) -> tuple[int, int]:
        """One window of the front end, ``(frames, n_bands)``."""
        return (self.frames, self.n_bands)

    def weights_path(self, root: str | os.PathLike | None = None) -> Path:
        """Where the weight file lives (under ``root``, default :func:`backbones_dir`)."""
        return Path(root if root is not None else backbones_dir()) / self.name / self.weights_file


_SPECS: dict[str, BackboneSpec] = {
    "sounds": BackboneSpec(
        name="sounds",
        title="aiSFX sound-effects embedding (Ma and Lerch, ISMIR 2022)",
        description="A CNN of eight 3x3 convolutions in four blocks (64-512 channels) trained across "
                    "commercial sound-effects libraries (Pro Sound Effects, Soundly, UCS-mixed, Soundstorm, "
                    "Sound Ideas). Hears 2.3 s of 44.1 kHz audio as 96 mel bands and gives 512 numbers.",
        licence="CC BY 4.0",
        citation="A. B. Ma and A. Lerch, \"Representation Learning for the Automatic Indexing of Sound Effects "
                 "Libraries\", Proc. ISMIR 2022, pp. 866-875",
        source="aisfx==0.1.2 (PyPI wheel): aisfx/models/checkpoint.pth",
        sample_rate=44100,
        window_s=100 * 1024 / 44100,
        hop_s=50 * 1024 / 44100,
        frames=100,
        frame_hop=50,
        n_bands=96,
        embedding_dim=512,
        params=4_689_984,
        weights_file="model.keras",
        weights_sha256="9d8cfe29c82b32558008f48ebb07608e620cc859d530006c97f72ef2c1109109",
    ),
    "speech": BackboneSpec(
        name="speech",
        title="Google speech_embedding (Lin et al., ICASSP 2020), as shipped by openWakeWord",
        description="A small CNN of 20 convolutions, alternating along time and frequency, trained by Google on "
                    "speech for keyword spotting. Hears 0.78 s of 16 kHz audio as 32 log-mel bands every "
                    "10 ms and gives 96 numbers.",
        licence="Apache-2.0",
        citation="J. Lin, K. Kilgour, D. Roblek and M. Sharifi, \"Training Keyword Spotters with Limited and "
                 "Synthesized Speech Data\", Proc. ICASSP 2020, pp. 7474-7478",
        source="openwakeword==0.5.1 (PyPI wheel): openwakeword/resources/models/embedding_model.onnx",
        sample_rate=16000,
        window_s=(512 + 75 * 160) / 16000,
        hop_s=8 * 160 / 16000,
        frames=76,
        frame_hop=8,
        n_bands=32,
        embedding_dim=96,
        params=328_128,
        weights_file="model.keras",
        weights_sha256="73f518037fc09f1945dd90aa6acaf9f0c67e6588b6f256c9c70b1df001f3a4ab",
    ),
}


def list_backbones() -> list[BackboneSpec]:
    """Every registered backbone, in registry order.

    Examples
    --------
    >>> [s.name for s in list_backbones()]
    ['sounds', 'speech']
    """
    return list(_SPECS.values())


def get_backbone_spec(name: str) -> BackboneSpec:
    """The spec registered under ``name``.

    Raises
    ------
    BackboneError
        ``name`` is not registered; the message lists the valid names.
    """
    try:
        return _SPECS[name]
    except (KeyError, TypeError):
        raise BackboneError(f"unknown backbone {name!r}; expected one of: {', '.join(_SPECS)}") from None


@dataclass(frozen=True)
class TopBlock:
    """The part of a backbone that fine-tuning trains: every layer after ``cut``.

    Attributes
    ----------
    cut : str
        The layer whose output the pipeline computes (and caches) once per backbone window; the
        layers after it are copied into the trained model.
    input_shape : tuple of int
        That output for one window, without the batch axis.
    params : int
        Parameters of the top block.
    description : str
        For people.
    """

    cut: str
    input_shape: tuple[int, ...]
    params: int
    description: str


#: The top block of each backbone that has one (a backbone missing here cannot be fine-tuned).
TOP_BLOCKS: dict[str, TopBlock] = {
    "sounds": TopBlock(cut="block3_pool", input_shape=(12, 12, 256), params=3_543_040,
                       description="block 4: two 3x3 convolutions of 512 channels with batch norm, then the mean "
                                   "over frequency and the maximum over time"),
    "speech": TopBlock(cut="pool14", input_shape=(10, 2, 96), params=138_624,
                       description="the last five convolutions (96 channels), from 10 x 2 cells to one"),
}


def get_top_block(name: str) -> TopBlock:
    """The top block of backbone ``name``, which ``fine_tune`` trains.

    Raises
    ------
    BackboneError
        ``name`` is not registered, or the backbone has no top block to fine-tune.

    Examples
    --------
    >>> get_top_block("sounds").cut
    'block3_pool'
    """
    spec = get_backbone_spec(name)
    try:
        return TOP_BLOCKS[spec.name]
    except KeyError:
        able = ", ".join(TOP_BLOCKS) or "none"
        raise BackboneError(f"backbone {spec.name!r} has no top block to fine-tune (backbones that have one: "
                            f"{able}); train without fine_tune (--fine-tune)") from None
