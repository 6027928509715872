"""Train a model on a dataset and save it as a bundle: the engine behind the CLI and the app.

:func:`train` runs the steps in order: split the dataset without leakage
(every window of a clip on one side, whole folds / speakers / source
recordings on one side), extract and cache the inputs
(:mod:`~audioclf.engine.extract`), standardise them with statistics of the
training windows, build and compile the model, fit it with Keras
(:mod:`~audioclf.engine._fit`), score the validation side
(:mod:`~audioclf.engine.metrics`) and save a bundle
(:mod:`~audioclf.engine.bundle`). Nothing in the package imports this module
back: it is the top of the engine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError
from ..features.normalization import fit_stats
from .config import EAGER_STEPS, ProgressEvent, TrainConfig, TrainResult, class_weights
from .pipeline import PipelineConfig
from .recipes import default_pipeline


def _emitter(progress: Callable[[ProgressEvent], None] | None, epochs: int, steps: int) -> Callable[..., None]:
    def emit(kind: str, **fields: Any) -> None:
        if progress is not None:
            fields.setdefault("epochs", epochs)
            fields.setdefault("batches", steps)
            progress(ProgressEvent(kind=kind, **fields))
    return emit


def _dataset_summary(dataset: Any, train_ex: Any, val_ex: Any, split: str) -> dict:
    return {
        "dataset": {"name": dataset.name, "kind": dataset.kind, "root": str(dataset.root), "clips": len(dataset),
                    "classes": list(dataset.classes), "per_class": dataset.counts()},
        "split": split,
        "train": {"clips": len(train_ex.clips), "windows": len(train_ex), "failed": len(train_ex.failed)},
        "val": {"clips": len(val_ex.clips), "windows": len(val_ex), "failed": len(val_ex.failed)},
    }


def _optimizer(config: TrainConfig, steps: int, *, fine_tune: bool = False) -> Any:
    import keras

    total = max(1, config.epochs * steps)
    warm = min(total - 1, int(round(config.warmup_epochs * steps)))
    lr: Any = config.learning_rate
    if config.schedule == "cosine" or warm > 0:
        # Warm-up: a linear ramp from 1 % of the rate, which keeps the first batches of a
        # freshly initialised batch-normalised network from overshooting.
        lr = keras.optimizers.schedules.CosineDecay(
            config.learning_rate * (0.01 if warm > 0 else 1.0), decay_steps=max(1, total - warm),
            alpha=0.01 if config.schedule == "cosine" else 1.0,
            warmup_target=config.learning_rate if warm > 0 else None, warmup_steps=warm)
    if fine_tune:  # the pretrained top block learns more slowly than the head
        from .finetune import TopScaledAdam

        return TopScaledAdam(learning_rate=lr, weight_decay=config.weight_decay or None)
    if config.weight_decay > 0:
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=config.weight_decay)
    return keras.optimizers.Adam(learning_rate=lr)


def _clip_means(ex: Any) -> np.ndarray:
    """Each clip's mean input vector over its windows (and their K embeddings): (n_clips, dim)."""
    n = len(ex.clips)
    flat = ex.x.reshape(len(ex.x), -1, ex.x.shape[-1]).mean(axis=1, dtype=np.float64)  # (windows, dim)
    sums = np.zeros((n, flat.shape[1]))
    np.add.at(sums, ex.clip_index, flat)
    counts = np.bincount(ex.clip_index, minlength=n)[:, None]
    return sums / np.maximum(counts, 1)


#: The confidence threshold's share of known clips for models on embeddings, whose main test is the distance
#: to the class centroids (5 %): at 5 % as well, the confidence refused 6-16 % of a new ESC-10 fold's clips
#: (mostly ones the model got wrong) and caught fewer foreign sounds than the distance did.
EMBEDDING_CONFIDENCE_QUANTILE = 0.01
#: The share of known clips the distance to the class centroids lets fall to "unknown". The second, scaled
#: distance test (:mod:`audioclf.engine.openset`) is off by default (None): measured with ``bench/transfer.py
#: --only unknown`` (docs/benchmarks.md), raw 3 % + scaled 2 % refused 10.3 % of a new ESC-10 fold's clips (raw 5 %
#: alone: 9.1 %), let 24 % of FSDD digits past a 5 x 8 recorded set (15 %), and caught 55 % of spoken non-digit
#: words for a digits model (53 %; raw 2 % + scaled 3 %: 58 %): no better overall, so the single raw test stays.
EMBEDDING_DISTANCE_QUANTILE = 0.05
EMBEDDING_SCALED_QUANTILE: float | None = None
#: Models on embeddings judge confidence and distance together (:mod:`audioclf.engine.openset`, "both
#: together"): the share of known clips the product of their two ranks lets fall to "unknown"; None: the two
#: tests apart at ``EMBEDDING_CONFIDENCE_QUANTILE`` and ``EMBEDDING_DISTANCE_QUANTILE`` (bundles before
#: 2026-12-07). Measured with ``bench/transfer.py --only unknown`` (docs/benchmarks.md): over the sets there,
#: fewer known clips refused and more foreign ones than the two apart.
EMBEDDING_JOINT_QUANTILE: float | None = 0.05
#: Out-of-fold folds of the distances to the class centroids (no training: only centroids of the other folds).
DISTANCE_FOLDS = 5
#: Out-of-fold trainings of a head trained by Adam (``mlp``, ``attention``) with ``split none``, for its
#: confidence threshold: two, each on half the clips, cost one training more in all (three cost two). ESC-10's
#: ``mlp`` head with its calibration: 12.4 s warm with three, 8.6 s with two and ``tf.data`` batches
#: (docs/benchmarks.md, "Timing").
ADAM_OOF_FOLDS = 2


def _calibrate_open_set(evaluation: Any, train_ex: Any, val_ex: Any, *, embedding: bool,
                        sequence: bool = False) -> Any:
    """Thresholds for "none of these" from the validation clips (see :mod:`audioclf.engine.openset`);
    ``sequence``: with the joint test's third rank, the position-by-position distance."""
    from .openset import calibrate, clip_sequence_distances, sequence_centroids

    if evaluation.n_clips == 0:
        return None
    if not embedding:
        return calibrate(evaluation.clip_probs, evaluation.clip_true)
    seq: dict[str, Any] = {}
    if sequence and EMBEDDING_JOINT_QUANTILE is not None:
        cents = sequence_centroids(train_ex.x, train_ex.labels, evaluation.clip_probs.shape[1])
        seq = {"sequence_centroids": cents,
               "val_sequence_distances": clip_sequence_distances(val_ex.x, val_ex.clip_index, len(val_ex.clips),
                                                                 cents)}
    return calibrate(evaluation.clip_probs, evaluation.clip_true, train_embeddings=_clip_means(train_ex),
                     train_labels=train_ex.clip_labels, val_embeddings=_clip_means(val_ex),
                     quantile=EMBEDDING_DISTANCE_QUANTILE, confidence_quantile=EMBEDDING_CONFIDENCE_QUANTILE,
                     scaled_quantile=EMBEDDING_SCALED_QUANTILE, joint_quantile=EMBEDDING_JOINT_QUANTILE, **seq)


def _calibrate_out_of_fold(fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray] | None, train_ex: Any,
                           *, embedding: bool, vote: str, seed: int, n_folds: int = 5,
                           sequence: bool = False) -> tuple[Any, str | None]:
    """Thresholds for "none of these" from out-of-fold scores of the training clips, or None and why not.

    Used when no clips are held out (``split none``): each training clip is scored by a model
    trained on the other folds (whole groups -- speakers, source recordings -- where the clips have
    them), so the thresholds describe new takes, not the clips learned. ``n_folds`` folds for the
    models' scores (each a training); the distances to the class centroids, which cost no training,
    always take :data:`DISTANCE_FOLDS`.
    """
    from .convex import clip_folds, out_of_fold_probs
    from .metrics import clip_probabilities
    from .openset import calibrate, out_of_fold_distances, out_of_fold_sequence_distances, sequence_centroids

    if fit_predict is None:
        return None, ("'none of these' is not calibrated: no clips were held out (split none), and this model "
                      "is too slow to train once per fold; train with a validation split to calibrate it")
    clip_labels = train_ex.clip_labels
    folds = clip_folds(clip_labels, folds=n_folds, seed=seed, groups=[c.group for c in train_ex.clips])
    if folds is None:
        return None, ("'none of these' is not calibrated: a class has a single clip, so none can be held out; "
                      "record at least 2 takes of every class")
    probs = out_of_fold_probs(fit_predict, train_ex.clip_index, folds)
    clip_probs = clip_probabilities(probs, train_ex.clip_index, len(train_ex.clips), vote=vote)
    if embedding:
        if n_folds != DISTANCE_FOLDS:
            folds = clip_folds(clip_labels, folds=DISTANCE_FOLDS, seed=seed, groups=[c.group for c in train_ex.clips])
        means = _clip_means(train_ex)
        seq: dict[str, Any] = {}
        if sequence and EMBEDDING_JOINT_QUANTILE is not None:
            seq = {"sequence_centroids": sequence_centroids(train_ex.x, train_ex.labels, clip_probs.shape[1]),
                   "val_sequence_distances": out_of_fold_sequence_distances(train_ex.x, train_ex.clip_index,
                                                                            clip_labels, folds)}
        return calibrate(clip_probs, clip_labels, train_embeddings=means, train_labels=clip_labels, **seq,
                         val_distances=out_of_fold_distances(means, clip_labels, folds),
                         val_scaled_distances=None if EMBEDDING_SCALED_QUANTILE is None
                         else out_of_fold_distances(means, clip_labels, folds, scaled=True),
                         source="out-of-fold", quantile=EMBEDDING_DISTANCE_QUANTILE,
                         confidence_quantile=EMBEDDING_CONFIDENCE_QUANTILE,
                         scaled_quantile=EMBEDDING_SCALED_QUANTILE, joint_quantile=EMBEDDING_JOINT_QUANTILE), None
    return calibrate(clip_probs, clip_labels, source="out-of-fold"), None


def train(dataset: Any, *, config: TrainConfig | None = None, pipeline: PipelineConfig | None = None,
          out: str | Path | None = None, cache: Any = True, workers: int | None = None,
          progress: Callable[[ProgressEvent], None] | None = None, stop: Any = None,
          checkpoint: str | Path | None = None) -> TrainResult:
    """Train ``config.model`` on ``dataset`` and (optionally) save a bundle.

    Parameters
    ----------
    dataset : Dataset
    config : TrainConfig, optional
        Default ``TrainConfig()``.
    pipeline : PipelineConfig, optional
        Default :func:`audioclf.engine.recipes.default_pipeline` of the model at 22 050 Hz.
    out : path, optional
        Bundle folder to write (atomically) at the end.
    cache : True, False, path or FeatureCache
        Feature cache (see :func:`audioclf.engine.extract.extract_dataset`).
    workers : int, optional
        Processes for feature extraction.
    progress : callable, optional
        Receives every :class:`ProgressEvent`.
    stop : StopToken or threading.Event, optional
        Set it to stop after the current batch (best weights are kept).
    checkpoint : path, optional
        Save the best model so far to this ``.keras`` file after each improvement
        (crash-safe: a kill leaves the previous checkpoint or the new one).

    Returns
    -------
    TrainResult

    Raises
    ------
    DatasetError
        Too few classes, a split that leaves a side empty, or unreadable data.
    ModelError
        An unknown model, option or attention kind, or an input the model cannot take.

    Examples
    --------
    >>> ds = make_synthetic_dataset("/tmp/synth")                          # doctest: +SKIP
    >>> res = train(ds, config=TrainConfig(model="feature_mlp", epochs=5), out="/tmp/mlp")  # doctest: +SKIP
    >>> res.accuracy                                                        # doctest: +SKIP
    """
    import keras

    from ..datasets import clip_id, require_classes, shared_files, split_dataset
    from ..models import build_model, compile_model
    from . import backend
    from ._fit import Monitor, StopOnRequest, TrainBatches, execution_steps, keras_input
    from .bundle import save_bundle
    from .extract import extract_dataset
    from .inference import model_outputs
    from .metrics import score

    config = config or TrainConfig()
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    spec = config.check_model()  # unknown names, attention kinds and options fail before any work
    pipeline = pipeline or default_pipeline(config.model)
    if pipeline.input_kind != spec.input_kind:
        from ..errors import ModelError

        raise ModelError(f"{spec.name} reads {spec.input_kind} inputs but the pipeline makes "
                         f"{pipeline.input_kind} inputs; use default_pipeline({spec.name!r})")
    if checkpoint is not None and Path(checkpoint).suffix != ".keras":
        from ..errors import ParameterError

        raise ParameterError(f"checkpoint={str(checkpoint)!r} must be a .keras file path, e.g. best.keras")
    worker = backend.worker_info()  # backend hook: this process's place among the TF_CONFIG workers
    backend.check_devices(config.devices)  # backend hook: a device set-up that cannot work fails before any work
    emit = _emitter(progress, config.epochs, 0)
    require_classes(dataset)
    emit("phase", phase="split", message=f"splitting {len(dataset)} clips by {config.split}")
    train_ds, val_ds = split_dataset(dataset, config.split, seed=config.seed)
    overlap = shared_files(train_ds, val_ds)
    if overlap and config.split.strip().lower() != "none":  # 'none' scores the training clips on purpose
        raise DatasetError(f"{len(overlap)} clip(s) are on both sides of the split, e.g. {overlap[0]}; "
                           "this would leak -- report it as a bug")

    # --- features -------------------------------------------------------------------------
    t = time.perf_counter()
    total = len(train_ds) + len(val_ds)
    emit("phase", phase="features", done=0, total=total, message="computing features")

    def side_progress(offset: int) -> Callable[[int, int], None]:
        return lambda done, _n: emit("phase", phase="features", done=offset + done, total=total)

    if worker.count > 1:  # backend hook: each worker fills its share of the shared cache, then all read it
        backend.extract_shards((train_ds, val_ds), extract=extract_dataset, config=pipeline, cache=cache,
                               workers=workers)
    train_ex = extract_dataset(train_ds, config=pipeline, cache=cache, workers=workers, progress=side_progress(0))
    val_ex = extract_dataset(val_ds, config=pipeline, cache=cache, workers=workers,
                             progress=side_progress(len(train_ds)))
    timings["features"] = time.perf_counter() - t
    n_classes = len(dataset.classes)
    if len({int(v) for v in train_ex.labels}) < 2:
        raise DatasetError(f"the training side of split {config.split!r} holds fewer than 2 classes")

    stats = fit_stats(train_ex.x, input_kind=pipeline.input_kind) if pipeline.normalize == "channel" else None
    x_train = stats.apply(train_ex.x) if stats is not None else train_ex.x
    x_val = stats.apply(val_ex.x) if stats is not None else val_ex.x

    # --- model ------------------------------------------------------------------------------
    emit("phase", phase="model", message=f"building {spec.name}")
    keras.utils.set_random_seed(config.seed)
    # backend hook: precision policy and devices/workers, held from building the model to the end of fit
    with backend.training_scope(precision=config.precision, devices=config.devices) as device:
        device_record = {**device.to_dict(), "workers": worker.count}
        shape = pipeline.input_shape
        if pipeline.fine_tune:  # the head reads the embeddings of the (trained) top block
            from ..backbones import get_backbone_spec

            shape = (shape[0], get_backbone_spec(pipeline.backbone).embedding_dim)
        model = build_model(spec.name, input_shape=shape, num_classes=n_classes,
                            attention=config.attention, **config.model_options)
        if pipeline.fine_tune:
            from .finetune import fine_tune_model

            model = fine_tune_model(model, backbone=pipeline.backbone, x_train=x_train)
        convex = config.solver == "lbfgs"
        pooling = config.model_options.get("pooling", "mean_max")  # head_linear's, which the convex fit follows
        epochs = 1 if convex else config.epochs
        steps = 1 if convex else math.ceil(len(x_train) / config.batch_size)

        def fit_keras(m: Any, x: np.ndarray, labels: np.ndarray, callbacks: list | None) -> None:
            """Compile ``m`` and, unless ``callbacks`` is None, train it on ``x`` by ``config``'s epochs."""
            n_steps = math.ceil(len(x) / config.batch_size)
            compile_model(m, spec=spec, optimizer=_optimizer(config, n_steps, fine_tune=pipeline.fine_tune),
                          jae_lambda=config.jae_lambda, label_smoothing=config.label_smoothing)
            m.run_eagerly = config.run_eagerly if config.run_eagerly is not None else \
                config.epochs * n_steps <= EAGER_STEPS
            if device.replicas > 1:  # backend hook: distributed steps are traced, on JAX compiled (see its docstring)
                backend.replicated_steps(m)
            elif pipeline.input_kind == "embedding" and not pipeline.fine_tune:
                # A head's step is tiny: several per call of the train function (progress and the stop request
                # are then seen once per call, a few milliseconds apart).
                m.steps_per_execution = execution_steps(n_steps)
            weights = None
            if config.class_weight == "balanced":
                weights = class_weights(labels, n_classes)[labels].astype(np.float32)
            batches = TrainBatches(x, labels, n_classes=n_classes, batch_size=config.batch_size,
                                   output_names=tuple(m.output_names), input_kind=pipeline.input_kind,
                                   augment=config.augment, sample_weights=weights, seed=config.seed,
                                   multiple=device.replicas)  # backend hook: batches split evenly over replicas
            if callbacks is not None:
                m.fit(keras_input(batches, config.epochs), epochs=config.epochs, steps_per_epoch=len(batches),
                      verbose=0, callbacks=callbacks, shuffle=False)

        emit = _emitter(progress, epochs, steps)
        monitor = Monitor(emit=emit, stop=stop, val_x=x_val, val_labels=val_ex.labels, val_clip_index=val_ex.clip_index,
                          epochs=epochs, steps=steps, patience=config.patience, monitor=config.monitor,
                          keep=config.keep, checkpoint=Path(checkpoint) if checkpoint else None, vote=config.vote)

        # --- fit --------------------------------------------------------------------------------
        t = time.perf_counter()
        if convex:
            from .convex import fit_linear, set_head_weights

            emit("phase", phase="train", message=f"fitting the linear head to convergence on {len(x_train)} windows "
                                                 "(L-BFGS)")
            if stop is not None and stop.is_set():
                monitor.stopped = True
            else:
                fit = fit_linear(x_train, train_ex.labels, train_ex.clip_index, n_classes=n_classes, c=config.c,
                                 pooling=pooling)
                set_head_weights(model, fit)
                monitor.set_model(model)  # one "epoch" of progress and validation, as the UI expects
                monitor.on_train_begin()
                monitor.on_train_batch_end(0, {"loss": fit.loss, "accuracy": fit.accuracy})
                monitor.on_epoch_end(0, {"loss": fit.loss, "accuracy": fit.accuracy})
                monitor.on_train_end()
        else:
            emit("phase", phase="train", message=f"training on {len(x_train)} windows ({device.describe()})")
            if stop is not None and stop.is_set():
                fit_keras(model, x_train, train_ex.labels, callbacks=None)
                monitor.stopped = True
            else:
                fit_keras(model, x_train, train_ex.labels, callbacks=[monitor])
    timings["train"] = time.perf_counter() - t

    # --- evaluate ---------------------------------------------------------------------------
    t = time.perf_counter()
    emit("phase", phase="evaluate", message="scoring the validation side")
    probs = model_outputs(model, x_val)["probs"]
    evaluation = score(probs, val_ex.labels, val_ex.clip_index, labels=dataset.classes,
                       clip_names=[clip_id(c, dataset.root) for c in val_ex.clips], vote=config.vote)
    notes = list(train_ex.notes[:20])
    embedding = pipeline.input_kind == "embedding"
    # the position-by-position distance holds where every take is trimmed to its sound (openset's notes)
    sequence = embedding and not pipeline.fine_tune and pipeline.preprocess.trim is not None
    if config.split.strip().lower() != "none":  # held-out clips: calibrate on them
        open_set = _calibrate_open_set(evaluation, train_ex, val_ex, embedding=embedding, sequence=sequence)
    else:
        fit_predict = None
        if convex:
            def fit_predict(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
                return fit_linear(x_train[tr], train_ex.labels[tr], train_ex.clip_index[tr], n_classes=n_classes,
                                  c=config.c, pooling=pooling).predict(x_train[te])
        elif embedding and not pipeline.fine_tune and device.replicas == 1 and not monitor.stopped:
            # a head trains in seconds: once more per fold (a stop request ends these fits too)
            def fit_predict(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
                keras.utils.set_random_seed(config.seed)
                m = build_model(spec.name, input_shape=shape, num_classes=n_classes, attention=config.attention,
                                **config.model_options)
                fit_keras(m, x_train[tr], train_ex.labels[tr], callbacks=[StopOnRequest(stop)])
                return model_outputs(m, x_train[te])["probs"]
        emit("phase", phase="evaluate", message="calibrating 'none of these' on out-of-fold scores")
        if monitor.stopped and not convex:
            open_set, why = None, "'none of these' is not calibrated: training was stopped before the end"
        else:
            # 5 folds for the convex head (a fit takes a second), 2 for a head trained by Adam (each a training)
            open_set, why = _calibrate_out_of_fold(fit_predict, train_ex, embedding=embedding, sequence=sequence,
                                                   vote=config.vote,
                                                   seed=config.seed, n_folds=DISTANCE_FOLDS if convex
                                                   else ADAM_OOF_FOLDS)
            if stop is not None and stop.is_set() and not convex:
                open_set, why = None, "'none of these' is not calibrated: stopped while calibrating"
        if why:
            notes.append(why)
    timings["evaluate"] = time.perf_counter() - t
    summary = _dataset_summary(dataset, train_ex, val_ex, config.split)
    epochs_run = len(monitor.history)
    bundle_path = None
    seconds = time.perf_counter() - t_start
    if out is not None and worker.chief:  # backend hook: only the chief writes the bundle
        t = time.perf_counter()
        emit("phase", phase="save", message=f"saving the bundle to {out}")
        metrics = evaluation.to_dict()
        metrics["misclassified"] = metrics["misclassified"][:50]
        training = {**summary, "config": config.to_dict(), "epochs": epochs_run, "best_epoch": monitor.best_epoch,
                    "stopped": monitor.stopped, "early_stopped": monitor.early_stopped, "seconds": round(seconds, 3),
                    "timings": {k: round(v, 3) for k, v in timings.items()}, "history": monitor.history,
                    "device": device_record, "notes": notes}
        bundle_path = save_bundle(out, model=model, pipeline=pipeline, classes=dataset.classes, stats=stats,
                                  architecture=spec.name, options=config.model_options, attention=config.attention,
                                  training=training, metrics=metrics, open_set=open_set)
        timings["save"] = time.perf_counter() - t
        seconds = time.perf_counter() - t_start
    emit("phase", phase="done", elapsed=seconds, message=f"validation clip accuracy {evaluation.accuracy:.3f}")
    return TrainResult(model=model, bundle_path=bundle_path, evaluation=evaluation, history=monitor.history,
                       epochs_run=epochs_run, best_epoch=monitor.best_epoch, stopped=monitor.stopped,
                       early_stopped=monitor.early_stopped, seconds=seconds, timings=timings, pipeline=pipeline,
                       stats=stats, classes=tuple(dataset.classes), config=config, summary=summary,
                       device=device_record)
