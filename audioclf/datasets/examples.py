"""Real example clips shipped in ``examples/``, with their source, author and licence.

One environmental sound per ESC-10 class (clips whose own licence is CC0) and a
few spoken digits from FSDD (CC BY-SA 4.0); ``scripts/make_examples.py`` builds
the folder from the datasets. Each example knows where in its dataset it came
from, so the app can say whether a model was trained on it
(:func:`trained_on`): a right answer on a training clip proves little.

Examples
--------
>>> [e.id for e in list_examples()][:2]                       # doctest: +SKIP
['esc10_chainsaw', 'esc10_clock_tick']
>>> y, sr = load_example("esc10_dog", sr=22050)               # doctest: +SKIP
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = ["Example", "EXAMPLES_DIR", "OPENING_EXAMPLE", "list_examples", "get_example", "opening_example",
           "load_example", "example_bytes", "trained_on"]

#: The shipped folder (beside the package, in the repository).
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


#: The clip the app opens on (the Explore page): a dog barking, short, with clear onsets, harmonics and
#: silence between the barks, so every feature channel has something to show.
OPENING_EXAMPLE = "esc10_dog"


@dataclass(frozen=True)
class Example:
    """One real clip and where it comes from.

    Attributes
    ----------
    id, title : str
    path : Path
        The audio file.
    label : str
        Its class in its dataset.
    dataset : str
        ``"esc10"`` or ``"fsdd"``: the dataset it was taken from.
    origin : dict
        Its place in that dataset: ``path`` and ``fold`` (ESC-10) or ``speaker`` and ``split`` (FSDD).
    source, author, licence : str
        Attribution, shown beside the clip.
    """

    id: str
    title: str
    path: Path
    label: str
    dataset: str
    origin: dict = field(default_factory=dict)
    source: str = ""
    author: str = ""
    licence: str = ""

    @property
    def credit(self) -> str:
        """One line of attribution for the page."""
        return f"{self.source} -- {self.author} -- licence {self.licence}"


@functools.cache
def _read(folder: Path) -> tuple[Example, ...]:
    index = folder / "examples.json"
    try:
        items = json.loads(index.read_text(encoding="utf-8"))["examples"]
    except FileNotFoundError:
        return ()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ParameterError(f"{index} is not a valid example index ({exc}); rebuild it with "
                             "scripts/make_examples.py") from None
    return tuple(Example(id=e["id"], title=e["title"], path=folder / Path(e["file"]).name, label=e["label"],
                         dataset=e["dataset"], origin=dict(e.get("origin") or {}), source=e.get("source", ""),
                         author=e.get("author", ""), licence=e.get("licence", "")) for e in items)


def list_examples(dataset: str | None = None, *, folder: str | Path | None = None) -> list[Example]:
    """The shipped examples (all, or those of one ``dataset``), in index order."""
    found = _read(Path(folder) if folder is not None else EXAMPLES_DIR)
    return [e for e in found if dataset is None or e.dataset == dataset]


def get_example(example_id: str, *, folder: str | Path | None = None) -> Example:
    """One example by id.

    Raises
    ------
    ParameterError
        If no example has that id; the message lists the ids there are.
    """
    found = list_examples(folder=folder)
    for e in found:
        if e.id == example_id:
            return e
    raise ParameterError(f"unknown example {example_id!r}; choose one of: {', '.join(e.id for e in found) or '(none)'}")


def opening_example(*, folder: str | Path | None = None) -> Example | None:
    """The real clip the app opens on: :data:`OPENING_EXAMPLE`, or the first shipped example without it.

    Returns
    -------
    Example or None
        None when no example is shipped (the app then opens on a synthesized clip).
    """
    found = list_examples(folder=folder)
    return next((e for e in found if e.id == OPENING_EXAMPLE), found[0] if found else None)


def example_bytes(example_id: str, *, folder: str | Path | None = None) -> bytes:
    """The example's audio file as bytes (what an upload would give)."""
    return get_example(example_id, folder=folder).path.read_bytes()


def load_example(example_id: str, *, sr: int | None = 22050, folder: str | Path | None = None
                 ) -> tuple[np.ndarray, int]:
    """Load an example's samples with :func:`audioclf.audio.io.load_audio` (mono, resampled to ``sr``)."""
    from ..audio.io import load_audio

    e = get_example(example_id, folder=folder)
    return load_audio(e.path, sr=sr, name=e.path.name)


def trained_on(example: Example, description: dict[str, Any]) -> bool | None:
    """Whether the model described by ``description`` (a ``bundle.json``) was trained on ``example``.

    Returns
    -------
    bool or None
        ``False`` for another dataset or a held-out part of this one, ``True`` when
        the training side of the model's split held the clip, ``None`` when the
        split cannot be replayed (a random ``ratio`` split).
    """
    training = description.get("training") or {}
    dataset = (training.get("dataset") or {}).get("name")
    if dataset != example.dataset:
        return False
    split = str(training.get("split", "none")).strip().lower()
    kind, _, value = split.partition(":")
    if kind == "none":
        return True
    if kind == "fold":
        return str(example.origin.get("fold")) != value
    if kind == "group":
        return str(example.origin.get("speaker", example.origin.get("group"))) != value
    if kind == "split":
        return str(example.origin.get("split")) != value
    return None
