"""Everything that depends on the Keras backend: precision, devices, workers.

The engine calls these from here and nothing backend-specific anywhere
else:

* :func:`training_scope` -- around building, compiling and fitting a model:
  picks the dtype policy (``mixed_float16`` by default on a GPU, ``float32``
  on a CPU) and, for ``devices > 1`` or several workers, the distribution
  (TensorFlow: ``tf.distribute.MirroredStrategy`` over N devices, or
  ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names several workers;
  JAX: ``keras.distribution.DataParallel`` over N devices).
* :func:`worker_info` / :func:`shard` / :func:`barrier` -- which worker this
  process is, its share of the clips for feature extraction, and a point all
  workers reach before reading the shared cache.
* :func:`is_chief` -- only the chief writes the bundle.

XLA (``jit_compile``) is left off: on the CPU it slows 11 of 12 zoo models
(docs/benchmarks.md, "Models"), and on a GPU it has not been measured yet. The
one exception is JAX over several devices (:func:`replicated_steps`), where a
step that is not compiled into one program can abort the process.

* :func:`check_devices` -- refuse a device set-up this machine cannot train
  with, before any feature is computed.
* :func:`variable_gradient` -- the one gradient Grad-CAM (:mod:`audioclf.explanations.gradcam`)
  needs, taken with TensorFlow's ``GradientTape``, ``jax.grad`` or torch autograd;
  any other backend raises :class:`~audioclf.errors.UnsupportedBackendError`.
  Attention maps need no gradients: they are the models' own outputs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .._validate import check_positive_int
from ..errors import ParameterError
from .device import DeviceInfo, device_info

__all__ = ["PRECISIONS", "resolve_precision", "precision_policy", "local_device_count", "WorkerInfo", "worker_info",
           "is_chief", "shard", "barrier", "start_workers", "extract_shards", "replicated", "check_devices",
           "distribution_scope", "replicated_steps", "training_scope", "variable_gradient"]

#: ``auto``: mixed on a GPU, float32 on a CPU.
PRECISIONS = ("auto", "float32", "mixed")


def resolve_precision(precision: str, device: DeviceInfo) -> str:
    """The Keras dtype policy for a ``precision`` choice on ``device``.

    Parameters
    ----------
    precision : {'auto', 'float32', 'mixed'}
    device : DeviceInfo

    Returns
    -------
    str
        ``"mixed_float16"`` or ``"float32"``. ``'mixed'`` on a CPU warns and
        gives ``"float32"``: float16 is emulated there, slower and less exact.

    Raises
    ------
    ParameterError
        An unknown choice.
    """
    if precision not in PRECISIONS:
        raise ParameterError(f"precision={precision!r} must be one of {', '.join(PRECISIONS)}")
    if precision == "float32":
        return "float32"
    if device.kind == "gpu":
        return "mixed_float16"
    if precision == "mixed":
        warnings.warn("mixed precision needs a GPU and none is usable here; training in float32", UserWarning,
                      stacklevel=3)
    return "float32"


@contextlib.contextmanager
def precision_policy(precision: str = "auto") -> Iterator[DeviceInfo]:
    """Build models under the policy :func:`resolve_precision` picks; the global policy is restored on exit.

    Layers keep the policy they were built with, so models built later are unaffected.

    Parameters
    ----------
    precision : {'auto', 'float32', 'mixed'}

    Yields
    ------
    DeviceInfo
        With the policy in effect inside the block.

    Examples
    --------
    >>> with precision_policy("mixed") as dev:          # doctest: +SKIP
    ...     model = build_model("sfc_dcnn", num_classes=10)
    """
    import keras

    info = device_info()
    policy = resolve_precision(precision, info)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield device_info(policy=policy)
    finally:
        keras.mixed_precision.set_global_policy(previous)


# ------------------------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class WorkerInfo:
    """This process's place among the workers of one training run.

    Attributes
    ----------
    index : int
        0 for the chief.
    count : int
        1 when training on one machine.
    """

    index: int = 0
    count: int = 1

    @property
    def chief(self) -> bool:
        return self.index == 0


def worker_info() -> WorkerInfo:
    """Read ``TF_CONFIG`` (``{"cluster": {"worker": [...]}, "task": {"type": "worker", "index": i}}``).

    Raises
    ------
    ParameterError
        ``TF_CONFIG`` that is not that JSON.
    """
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return WorkerInfo()
    try:
        cfg = json.loads(raw)
        workers = list(cfg["cluster"]["worker"]) + list(cfg["cluster"].get("chief", []))
        task = cfg["task"]
        index = int(task["index"]) + (1 if "chief" in cfg["cluster"] and task["type"] == "worker" else 0)
        if task["type"] == "chief":
            index = 0
    except (ValueError, KeyError, TypeError) as exc:
        raise ParameterError(f"TF_CONFIG is not valid ({exc}); expected e.g. "
                             '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                             '"task": {"type": "worker", "index": 0}}') from None
    if not 0 <= index < len(workers):
        raise ParameterError(f"TF_CONFIG task index {index} is outside the {len(workers)} workers")
    return WorkerInfo(index=index, count=len(workers))


def is_chief() -> bool:
    """True on one machine and on the chief worker (the one that writes the bundle)."""
    return worker_info().chief


def shard(items: Sequence[Any], worker: WorkerInfo | None = None) -> list[Any]:
    """This worker's share of ``items``: ``items[index::count]``."""
    worker = worker or worker_info()
    return list(items[worker.index::worker.count])


_STRATEGY: dict[str, Any] = {}


def _multi_worker_strategy() -> Any:
    """One MultiWorkerMirroredStrategy per process (TensorFlow allows only one, made before collectives run)."""
    if "mw" not in _STRATEGY:
        import tensorflow as tf

        _STRATEGY["mw"] = tf.distribute.MultiWorkerMirroredStrategy()
        _patch_keras_multi_worker()
    return _STRATEGY["mw"]


def _patch_keras_multi_worker() -> None:
    """Work around two bugs of Keras 3's TensorFlow trainer that stop every ``fit`` with several workers.

    Both come from treating ``MultiWorkerMirroredStrategy``'s ``strategy.reduce``
    like the single-machine one (Keras 3 with TensorFlow 2.16 and later;
    keras-team/keras#20585, tensorflow/tensorflow#72388):

    * before the first step ``TensorFlowTrainer._maybe_symbolic_build`` reads the
      batch's shapes by averaging the whole (x, y, weights) batch over the
      replicas; ``strategy.reduce`` takes one tensor, not a nest, and fails with
      "Attempt to convert a value (PerReplica ...) with an unsupported type".
      Only shapes and dtypes are read, so this worker's share of the batch serves.
    * after every step ``reduce_per_replica`` averages the scalar logs (loss,
      accuracy) with ``strategy.reduce("MEAN", v, axis=0)``, and a scalar has no
      axis 0 ("Invalid reduction dimension 0"). ``axis=None`` averages over the
      replicas, as one machine's ``MirroredStrategy`` path does.

    Patched on the class and the module once per process, only in multi-worker runs.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_audioclf_multi_worker", False):
        return

    def _maybe_symbolic_build(self: Any, iterator: Any = None, data_batch: Any = None) -> None:
        strategy = self._distribute_strategy
        if strategy is None:
            return
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0]
                    if isinstance(v, tf.distribute.DistributedValues) else v, next(it))
                break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    keras_reduce = trainer.reduce_per_replica

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return keras_reduce(values, strategy, reduction)

    trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    trainer.reduce_per_replica = reduce_per_replica
    trainer._audioclf_multi_worker = True


def _all_layers(layer: Any) -> Iterator[Any]:
    """``layer`` and every layer inside it, nested models included (public ``.layers`` only)."""
    yield layer
    for inner in getattr(layer, "layers", ()):
        yield from _all_layers(inner)


def start_workers() -> WorkerInfo:
    """Join the other workers named by ``TF_CONFIG`` (a no-op on one machine); call before any other TF work.

    Raises
    ------
    ParameterError
        Several workers on a backend other than TensorFlow.
    """
    import keras

    worker = worker_info()
    if worker.count > 1:
        if keras.backend.backend() != "tensorflow":
            raise ParameterError(f"multi-worker training (TF_CONFIG) needs KERAS_BACKEND=tensorflow, "
                                 f"not {keras.backend.backend()}")
        _multi_worker_strategy()
    return worker


def extract_shards(datasets: Sequence[Any], *, extract: Any, config: Any, cache: Any, workers: int | None) -> None:
    """Multi-worker feature extraction: this worker computes its share of each dataset into the shared cache.

    Then it joins the other workers (:func:`start_workers`, which returns when
    every worker has connected, i.e. finished its share) and passes a
    :func:`barrier`; afterwards every clip is a cache hit on every worker.
    Extraction runs before TensorFlow's collective runtime starts (librosa's
    numba kernels crashed when run after it).

    Raises
    ------
    ParameterError
        No cache: the workers would have nothing to share.
    """
    import dataclasses

    worker = worker_info()
    if not cache:
        raise ParameterError("multi-worker training needs the feature cache (a folder every worker can read, "
                             "e.g. --cache-dir on shared storage); it was turned off")
    for ds in datasets:
        extract(dataclasses.replace(ds, clips=tuple(shard(ds.clips, worker))), config=config, cache=cache,
                workers=workers)
    start_workers()
    barrier()


def barrier() -> None:
    """Wait until every worker gets here (an all-reduce of one number); a no-op on one machine."""
    if worker_info().count <= 1:
        return
    import tensorflow as tf

    strategy = _multi_worker_strategy()
    one = strategy.run(lambda: tf.constant(1.0))
    total = float(strategy.reduce(tf.distribute.ReduceOp.SUM, one, axis=None))
    if round(total) != strategy.num_replicas_in_sync:
        raise RuntimeError(f"barrier counted {total} replicas, expected {strategy.num_replicas_in_sync}")


# ------------------------------------------------------------------------------------------- devices


def _split_cpu(n: int) -> None:
    """Without a GPU, split TensorFlow's CPU into ``n`` logical devices (possible only before TF starts its runtime)."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return
    cpus = tf.config.list_physical_devices("CPU")
    current = tf.config.get_logical_device_configuration(cpus[0])
    if current is not None and len(current) >= n:
        return
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:  # the runtime is up already: _local_devices says how many there are
        pass


def _local_devices(backend: str, n: int) -> list[Any]:
    hint = ("; on a CPU, TensorFlow splits it with tf.config.set_logical_device_configuration and JAX with "
            "XLA_FLAGS=--xla_force_host_platform_device_count=N")
    if backend == "tensorflow":
        import tensorflow as tf

        _split_cpu(n)
        found = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    else:
        import jax

        found = jax.devices()
    if len(found) < n:
        raise ParameterError(f"devices={n}: the {backend} backend sees only {len(found)} device(s) "
                             f"({', '.join(str(getattr(d, 'name', d)) for d in found)}){hint}")
    return found[:n]


def local_device_count() -> int:
    """How many local devices ``devices=N`` can use with the active backend (GPUs if any, else CPUs)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return len(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU"))
    if backend == "jax":
        import jax

        return len(jax.devices())
    return 1


def replicated(model: Any) -> bool:
    """True when ``model`` runs under a TensorFlow distribution strategy with several replicas.

    Keras' ``predict_on_batch`` gives such a model's batch whole to every replica
    and concatenates what they return: N copies of every row (under
    ``MultiWorkerMirroredStrategy`` gathered from every worker too). ``model.predict``
    splits the batch over the replicas instead and keeps the order; use it for
    such a model (:func:`audioclf.engine.inference.model_outputs` does).
    JAX's ``DataParallel`` shards the batch itself, so this is False there.
    """
    strategy = getattr(model, "distribute_strategy", None)  # only Keras' TensorFlow trainer has one
    return strategy is not None and strategy.num_replicas_in_sync > 1


#: Backends that train over several local devices (``devices > 1``).
DATA_PARALLEL_BACKENDS = ("tensorflow", "jax")


def check_devices(devices: int = 1) -> int:
    """Refuse a device set-up that cannot train here, before any work is done.

    :func:`train <audioclf.engine.train.train>` calls it first, so a bad
    ``devices`` costs a second, not the feature extraction that comes before the
    model. On TensorFlow it also splits the CPU into ``devices`` logical devices
    while that is still possible (before TensorFlow's runtime starts).

    Parameters
    ----------
    devices : int
        Local devices asked for.

    Returns
    -------
    int
        ``devices``.

    Raises
    ------
    ParameterError
        Not a positive integer; ``devices > 1`` on a backend without data
        parallelism here (torch); fewer devices than asked (JAX sees one CPU
        device unless ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` is
        set before it starts); several ``TF_CONFIG`` workers on a backend other
        than TensorFlow.

    Examples
    --------
    >>> check_devices(3)          # doctest: +SKIP
    ParameterError: devices=3: the jax backend sees only 2 device(s) (cpu:0, cpu:1); ...
    """
    import keras

    devices = check_positive_int(devices, "devices")
    backend = keras.backend.backend()
    if worker_info().count > 1:
        if backend != "tensorflow":
            raise ParameterError(f"multi-worker training (TF_CONFIG) needs KERAS_BACKEND=tensorflow, not {backend}")
        return devices
    if devices == 1:
        return devices
    if backend not in DATA_PARALLEL_BACKENDS:
        raise ParameterError(f"devices={devices} needs KERAS_BACKEND=tensorflow or jax; {backend} trains on one "
                             "device here")
    _local_devices(backend, devices)
    return devices


def replicated_steps(model: Any) -> None:
    """Make a compiled model's training and prediction steps fit for several replicas.

    Every backend traces the step (eager steps would get TensorFlow's
    per-replica values). JAX also compiles it with XLA (``jit_compile``): Keras'
    JAX trainer runs a step that is not jitted operation by operation, and over
    several devices every batch reduction (batch normalisation, each gradient)
    then becomes its own small program with a cross-device all-reduce. XLA's CPU
    client launches those asynchronously on one pool of threads (as many as
    cores or devices, whichever is more: two here), and a launch waits while a device has 32 programs queued; with
    one pool thread waiting in an all-reduce for the other device and the other
    thread waiting to launch, nothing runs the other device's share, and after
    40 s XLA aborts the process (``rendezvous.cc: Termination timeout for all
    reduce``). Compiled, a step is one program per device whose all-reduces
    meet inside it, and the next step needs its results; the trainer's callbacks
    read each step's loss, so at most a step or two is ever queued.

    Parameters
    ----------
    model : keras.Model
        Compiled inside :func:`distribution_scope`.

    Raises
    ------
    ParameterError
        On JAX, a model with a layer that XLA cannot compile (Keras' ``supports_jit``).
    """
    import keras

    model.run_eagerly = False
    if keras.backend.backend() != "jax":
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras' "doesn't support jit_compile": refused below instead
        model.jit_compile = True
    if not model.jit_compile:
        layers = sorted({type(layer).__name__ for layer in _all_layers(model) if not layer.supports_jit})
        raise ParameterError(f"{model.name} cannot train over several devices on the jax backend: its layers "
                             f"{', '.join(layers) or '(unknown)'} cannot be compiled with XLA, and uncompiled steps "
                             "over several devices can stall XLA's collectives; train it with devices=1 or "
                             "KERAS_BACKEND=tensorflow")


@contextlib.contextmanager
def distribution_scope(devices: int = 1) -> Iterator[int]:
    """Replicate the model over ``devices`` local devices (or the workers of ``TF_CONFIG``) inside the block.

    Build, compile and fit inside it. Each step's batch is split across the
    replicas and the gradients are averaged, so N devices give the result of
    one within float rounding.

    Parameters
    ----------
    devices : int
        Local devices to use (1: no distribution).

    Yields
    ------
    int
        The number of replicas.

    Raises
    ------
    ParameterError
        Fewer devices than asked, or a backend without data parallelism here (torch).
    """
    import keras

    check_devices(devices)
    backend = keras.backend.backend()
    if worker_info().count > 1:
        strategy = _multi_worker_strategy()
        with strategy.scope():
            yield strategy.num_replicas_in_sync
        return
    if devices == 1:
        yield 1
        return
    if backend == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy([d.name for d in _local_devices(backend, devices)])
        with strategy.scope():
            yield devices
    else:  # jax (check_devices refused the others)
        dist = keras.distribution.DataParallel(devices=_local_devices(backend, devices))
        with dist.scope():
            yield devices


@contextlib.contextmanager
def training_scope(*, precision: str = "auto", devices: int = 1) -> Iterator[DeviceInfo]:
    """Precision and distribution for one training run: build, compile and fit inside it.

    Yields
    ------
    DeviceInfo
        The device, the policy in effect and the number of replicas.
    """
    with distribution_scope(devices) as replicas, precision_policy(precision) as info:
        yield dataclasses.replace(info, replicas=replicas)


# ------------------------------------------------------------------------------------------- gradients

#: Backends on which :func:`variable_gradient` differentiates a model.
GRADIENT_BACKENDS = ("tensorflow", "jax", "torch")


def variable_gradient(model: Any, variable: Any, x: Any, score: Any) -> tuple[list[Any], Any]:
    """Run ``model`` on ``x`` and take the gradient of a scalar score with respect to one of its variables.

    Grad-CAM (:mod:`audioclf.explanations.gradcam`) adds a zero "nudge" variable to an inner
    layer's output: the gradient with respect to it is the gradient with
    respect to that output, and a variable, unlike an inner tensor, can be
    differentiated on every backend (JAX through ``stateless_call``).

    Parameters
    ----------
    model : keras.Model
        Its outputs a list of tensors.
    variable : keras.Variable
        One of ``model.trainable_variables``.
    x : np.ndarray [shape=(batch, *input_shape)]
    score : callable
        The model's outputs (a list) -> a scalar tensor, with ``keras.ops`` only.

    Returns
    -------
    outputs : list of np.ndarray
        The model's outputs, float32.
    gradient : np.ndarray
        Shaped like ``variable``, float32.

    Raises
    ------
    UnsupportedBackendError
        On a backend without automatic differentiation (Keras's ``numpy`` backend).
    """
    import keras
    import numpy as np

    from ..errors import UnsupportedBackendError

    backend = keras.backend.backend()
    x = np.asarray(x, dtype=np.float32)
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            outs = model(x, training=False)
            target = score(outs)
        grad = tape.gradient(target, variable.value)
    elif backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]
        index = [id(v) for v in model.trainable_variables].index(id(variable))

        def run(value):
            values = list(trainable)
            values[index] = value
            outs, _ = model.stateless_call(values, frozen, x, training=False)
            return score(outs), outs

        grad, outs = jax.grad(run, has_aux=True)(trainable[index])
    elif backend == "torch":
        import torch

        outs = model(x, training=False)
        (grad,) = torch.autograd.grad(score(outs), variable.value)
    else:
        raise UnsupportedBackendError(
            f"gradients are computed on the {', '.join(GRADIENT_BACKENDS)} backends, not {backend!r}; start the "
            "app or script with KERAS_BACKEND=tensorflow (the default) for Grad-CAM")
    as_numpy = [np.asarray(keras.ops.convert_to_numpy(o), dtype=np.float32) for o in outs]
    return as_numpy, np.asarray(keras.ops.convert_to_numpy(grad), dtype=np.float32)
