"""Train or load a small model on whatever backend KERAS_BACKEND names (run by tests/engine/test_backend.py in a subprocess).

``python tests/backend_run.py train MODEL DATA CACHE OUT DEVICES [EPOCHS]``
    trains MODEL (tiny options) on the synthetic dataset in DATA with the engine, saves the bundle to OUT.
``python tests/backend_run.py load OUT``
    loads the bundle.
Both print one JSON line: the backend, the replicas, and the bundle's probabilities for fixed probe windows.
"""

from __future__ import annotations

import json
import sys

import numpy as np

TINY = {"sfc_dcnn": {"filters": (4,) * 6, "dense_units": (8,)}, "lstm": {"units": 8, "dense_units": 8}}
SHAPE = (32, 32, 1)
SR = 16000


def probe(bundle) -> list:
    from audioclf.engine.inference import predict_windows

    x = np.random.default_rng(7).normal(size=(6, *bundle.pipeline.input_shape)).astype(np.float32)
    return predict_windows(bundle, x).tolist()


def main(argv: list[str]) -> int:
    import keras

    from audioclf.engine.bundle import load_bundle

    if argv[0] == "train":
        from audioclf.audio.augment import AUGMENT_PRESETS
        from audioclf.datasets import load_dataset
        from audioclf.engine.config import TrainConfig
        from audioclf.engine.recipes import default_pipeline
        from audioclf.engine.train import train

        model, data, cache, out, devices = argv[1], argv[2], argv[3], argv[4], int(argv[5])
        epochs = int(argv[6]) if len(argv) > 6 else 2
        dataset = load_dataset(data)
        config = TrainConfig(model=model, model_options=TINY[model], epochs=epochs, batch_size=8,
                             augment=AUGMENT_PRESETS["none"], split="ratio:0.25", devices=devices, seed=0,
                             run_eagerly=False)  # compiled, as real runs are (eager JAX is far slower)
        result = train(dataset, config=config, pipeline=default_pipeline(model, sr=SR, input_shape=SHAPE),
                       out=out, cache=cache, workers=1)
        replicas = result.device["replicas"]
    else:
        out, replicas = argv[1], 1
    bundle = load_bundle(out)
    print(json.dumps({"backend": keras.backend.backend(), "replicas": replicas, "probs": probe(bundle)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
