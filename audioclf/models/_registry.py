"""The model registry: one :class:`ModelSpec` per architecture, looked up by name.

Each family module registers its builders with :func:`register_model` when
``audioclf.models`` is imported; nothing here is ever chosen with ``eval``.
Every builder has the signature ``(input_shape, num_classes, *, attention=None,
**options) -> keras.Model`` and returns a functional model whose outputs are a
dict with at least ``"probs"`` (softmax, shape ``(batch, num_classes)``).
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .._kinds import INPUT_KINDS
from ..errors import ModelError

__all__ = [
    "ModelSpec",
    "INPUT_KINDS",
    "ATTENTION_KINDS",
    "register_model",
    "list_models",
    "get_model_spec",
    "build_model",
    "count_params",
]

#: Attention kinds a model may support (see :mod:`audioclf.models.readout`).
ATTENTION_KINDS = ("cnn", "rnn", "self")

_REGISTRY: dict[str, ModelSpec] = {}


@dataclass(frozen=True)
class ModelSpec:
    """Everything the library, the CLI and the app know about one architecture.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"cldnn"``; also the name of every built ``keras.Model``.
    family : str
        The module / idea it belongs to (``"dcnn"``, ``"recurrent"``, ...).
    input_kind : str
        One of :data:`INPUT_KINDS`.
    default_input_shape : tuple of int
        Input shape without the batch axis, e.g. ``(128, 128, 1)`` = (freq, time, 1).
    attention : tuple of str
        Attention kinds the builder accepts (subset of :data:`ATTENTION_KINDS`).
    description : str
        Plain-language text for learners: what the model looks at, why it may work.
    source : str
        The paper or code the architecture follows.
    builder : callable
        ``builder(input_shape, num_classes, *, attention=None, **options) -> keras.Model``.
    extra_outputs : Mapping[str, str]
        Output keys besides ``"probs"`` and what they hold.
    """

    name: str
    family: str
    input_kind: str
    default_input_shape: tuple[int, ...]
    attention: tuple[str, ...]
    description: str
    source: str
    builder: Callable[..., Any] = field(repr=False, compare=False)
    extra_outputs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def options(self) -> dict[str, Any]:
        """Builder options and their defaults (``attention`` excluded).

        Returns
        -------
        dict
            ``{option_name: default}`` read from the builder's signature.
        """
        sig = inspect.signature(self.builder)
        return {
            p.name: p.default
            for p in sig.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "attention"
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly description (no builder), for the CLI and the app."""
        return {
            "name": self.name,
            "family": self.family,
            "input": self.input_kind,
            "input_shape": list(self.default_input_shape),
            "attention": list(self.attention),
            "description": self.description,
            "source": self.source,
            "extra_outputs": dict(self.extra_outputs),
            "options": {k: v for k, v in self.options().items() if _jsonable(v)},
        }


def _jsonable(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str, tuple, list))


def register_model(
    *,
    name: str,
    family: str,
    input_kind: str,
    default_input_shape: tuple[int, ...],
    description: str,
    source: str,
    attention: tuple[str, ...] = (),
    extra_outputs: Mapping[str, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a builder under ``name``.

    Raises
    ------
    ModelError
        If ``name`` is taken or a field is not one of the known values.

    Examples
    --------
    >>> @register_model(name="tiny", family="demo", input_kind="summary",
    ...                 default_input_shape=(8,), description="...", source="...")
    ... def build_tiny(input_shape, num_classes, *, attention=None): ...
    """
    if input_kind not in INPUT_KINDS:
        raise ModelError(f"input_kind={input_kind!r} must be one of {INPUT_KINDS}")
    bad = [a for a in attention if a not in ATTENTION_KINDS]
    if bad:
        raise ModelError(f"attention kinds {bad} must be among {ATTENTION_KINDS}")

    def decorator(builder: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise ModelError(f"model name {name!r} is already registered")
        _REGISTRY[name] = ModelSpec(
            name=name,
            family=family,
            input_kind=input_kind,
            default_input_shape=tuple(default_input_shape),
            attention=tuple(attention),
            description=" ".join(description.split()),
            source=" ".join(source.split()),
            builder=builder,
            extra_outputs=MappingProxyType(dict(extra_outputs or {})),
        )
        return builder

    return decorator


def list_models() -> list[ModelSpec]:
    """All registered models, in registration order.

    Returns
    -------
    list of ModelSpec

    Examples
    --------
    >>> [s.name for s in list_models()][:3]
    ['feature_mlp', 'feature_cnn2d', 'lstm']
    """
    return list(_REGISTRY.values())


def get_model_spec(name: str | ModelSpec) -> ModelSpec:
    """Look up a model by name.

    Raises
    ------
    ModelError
        If ``name`` is not registered; the message lists the valid names.
    """
    if isinstance(name, ModelSpec):
        return name
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ModelError(
            f"unknown model {name!r}; expected one of: {', '.join(_REGISTRY)}"
        ) from None


def _check_shape(spec: ModelSpec, input_shape: Any) -> tuple[int, ...]:
    try:
        dims = tuple(input_shape)
    except TypeError:
        dims = None
    if (
        not dims
        or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) for d in dims)
        or any(d <= 0 for d in dims)
    ):
        raise ModelError(
            f"input_shape={input_shape!r} must be a tuple of positive ints without the "
            f"batch axis, e.g. {spec.default_input_shape}"
        )
    shape = tuple(int(d) for d in dims)
    rank = len(spec.default_input_shape)
    if len(shape) != rank:
        raise ModelError(
            f"{spec.name} takes a {spec.input_kind} input of rank {rank} "
            f"(e.g. {spec.default_input_shape}, batch axis excluded); got input_shape={shape}"
        )
    if spec.input_kind == "spectrogram" and shape[-1] != 1:
        raise ModelError(
            f"{spec.name} takes a 1-channel spectrogram (freq, time, 1); got {shape} "
            f"with {shape[-1]} channels (use a multichannel model such as mfc_dcnn)"
        )
    if spec.input_kind == "waveform" and shape[-1] != 1:
        raise ModelError(f"{spec.name} takes mono samples (n_samples, 1); got {shape}")
    return shape


def build_model(
    name: str,
    *,
    input_shape: tuple[int, ...] | None = None,
    num_classes: int,
    attention: str | None = None,
    **options: Any,
):
    """Build a registered model.

    Parameters
    ----------
    name : str
        Registry name (see :func:`list_models`).
    input_shape : tuple of int, optional
        Shape without the batch axis; the spec's default if omitted.
    num_classes : int
        Number of classes, at least 2.
    attention : {None, 'cnn', 'rnn', 'self'}
        Attention kind; must be one the model supports.
    **options
        Builder options (see ``get_model_spec(name).options()``).

    Returns
    -------
    keras.Model
        Functional model named ``name`` with dict outputs ``{"probs": (batch,
        num_classes), ...extras}``.

    Raises
    ------
    ModelError
        Unknown name, option or attention kind, ``num_classes < 2``, or an
        input shape the architecture cannot process.

    Examples
    --------
    >>> model = build_model("cldnn", num_classes=10, attention="rnn")
    >>> model.output_shape["probs"]
    (None, 10)
    """
    spec = get_model_spec(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ModelError(f"num_classes={num_classes!r} must be an integer >= 2")
    if attention is not None and attention not in spec.attention:
        supported = ", ".join(spec.attention) if spec.attention else "none"
        raise ModelError(
            f"{spec.name} does not support attention={attention!r}; supported: {supported}"
        )
    valid = spec.options()
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ModelError(
            f"unknown option(s) {unknown} for {spec.name}; valid options: "
            f"{', '.join(valid) or 'none'}"
        )
    shape = _check_shape(spec, spec.default_input_shape if input_shape is None else input_shape)
    kwargs = dict(options)
    if spec.attention:
        kwargs["attention"] = attention
    try:
        return spec.builder(shape, num_classes, **kwargs)
    except ModelError:
        raise
    except ValueError as exc:
        # Keras says "negative dimension" / "too small" deep inside a layer;
        # turn it into one line that names the model and the shape.
        raise ModelError(
            f"cannot build {spec.name} for input_shape={shape}: {exc}".splitlines()[0]
        ) from exc


def count_params(
    name: str, input_shape: tuple[int, ...] | None = None, num_classes: int = 10, **options: Any
) -> int:
    """Number of parameters of ``name`` built for ``input_shape`` and ``num_classes``.

    Examples
    --------
    >>> count_params("feature_mlp", input_shape=(40,), num_classes=10) > 0
    True
    """
    model = build_model(name, input_shape=input_shape, num_classes=num_classes, **options)
    return int(model.count_params())
