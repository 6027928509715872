"""FSDD leave-one-speaker-out: does per-utterance normalisation remove the microphone? (the FSDD cards' notes)

An experiment outside the CLI, kept so the figures in the FSDD model cards can be re-run:

    python scripts/fsdd_normalisation.py --norm cmn                      # LOSO, per-clip mean per band removed
    python scripts/fsdd_normalisation.py --norm cmn --band-limit --copies 8 --speakers lucas george
    python scripts/fsdd_normalisation.py --norm none --save preds/none   # ... and keep the clip probabilities
    python scripts/fsdd_normalisation.py --norm cmn --speakers george --copies 0
    python scripts/fsdd_normalisation.py --ensemble preds/cmn preds/none # average saved probabilities

A plain 4-block CNN (3x3 conv + BN + ReLU + 2x2 max-pool, 32-128 filters, global average pooling) reads
40 log-mel bands (20 Hz-4 kHz) of 32-ms frames with a 10-ms hop at FSDD's own 8 kHz, each clip centred in
a 1-s window (100 frames) padded with its own floor; 20 epochs, Adam 1e-3 with cosine decay, batch 32,
SpecAugment (two time and two frequency stripes). Training clips are drawn each epoch either as recorded
or (3 times in 4) from six (``--copies``) precomputed copies with speed perturbation (x0.85-1.15, pitch and
tempo together) and vocal-tract-length warping of the linear spectrum (x0.88-1.12); ``--band-limit`` adds
random steep low-/high-pass filters to those copies. About 3.5 min per held-out speaker on 2 cores; on
one machine a run repeats to the clip (a different CPU or thread count may move a speaker by a few clips).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_pretrained import FSDD_SPEAKERS, data_root  # noqa: E402

SR, N_FFT, HOP, N_MELS, FRAMES = 8000, 256, 80, 40, 100


def log_mel(y: np.ndarray, mel: np.ndarray, *, warp: float = 1.0, rng: np.random.Generator | None = None):
    """Natural-log mel power (n_mels, frames); ``warp`` moves formants up by that factor; ``rng`` band-limits."""
    import librosa

    s = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, window="hann")) ** 2  # (bins, frames)
    if warp != 1.0:
        src = np.clip(np.arange(s.shape[0]) / warp, 0, s.shape[0] - 1)  # new bin f takes old bin f / warp
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, s.shape[0] - 1)
        a = (src - lo)[:, None]
        s = (1 - a) * s[lo] + a * s[hi]
    if rng is not None:
        f = np.linspace(0, SR / 2, s.shape[0])
        g = np.ones_like(f)
        if rng.random() < 0.5:  # low-pass: another microphone or codec
            g /= 1 + (f / rng.uniform(2000, 3800)) ** rng.uniform(8, 24)
        if rng.random() < 0.5:  # high-pass
            g /= 1 + (rng.uniform(60, 300) / np.maximum(f, 1)) ** rng.uniform(4, 12)
        s = s * (g**2)[:, None]
    return np.log(mel @ s + 1e-6).astype(np.float32)


def load_features(dataset, *, copies: int, band_limit: bool) -> dict:
    """Every clip's log-mel plus ``copies`` perturbed versions, with labels and speakers."""
    import librosa

    from audioclf.audio.io import load_audio

    rng = np.random.default_rng(0)
    mel = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=20, fmax=4000)
    out: dict = {"x": [], "aug": [], "y": dataset.labels, "classes": dataset.classes,
                 "speaker": np.array([c.group for c in dataset.clips])}
    for clip in dataset.clips:
        y, _ = load_audio(clip.path, sr=SR)
        y = y / (np.abs(y).max() + 1e-9)
        out["x"].append(log_mel(y, mel))
        augs = []
        for _ in range(copies):
            speed = rng.uniform(0.85, 1.15)
            ys = librosa.resample(y, orig_sr=int(SR * speed), target_sr=SR, res_type="soxr_hq")
            augs.append(log_mel(ys, mel, warp=rng.uniform(0.88, 1.12), rng=rng if band_limit else None))
        out["aug"].append(augs)
    return out


def prepare(m: np.ndarray, norm: str, floor_db: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Normalise one clip and place it in a FRAMES-long window (centred, or at random with ``rng``)."""
    if floor_db:
        m = np.maximum(m, m.max() - floor_db / 10 * np.log(10))
    if norm == "cmn":
        m = m - m.mean(axis=1, keepdims=True)
    elif norm == "level":
        m = m - m.mean()
    n = m.shape[1]
    if n >= FRAMES:
        s = (n - FRAMES) // 2 if rng is None else int(rng.integers(0, n - FRAMES + 1))
        return m[:, s:s + FRAMES]
    out = np.full((m.shape[0], FRAMES), m.min(), np.float32)
    s = (FRAMES - n) // 2 if rng is None else int(rng.integers(0, FRAMES - n + 1))
    out[:, s:s + n] = m
    return out


def build_model(num_classes: int):
    import keras
    from keras import layers

    inputs = keras.Input((N_MELS, FRAMES, 1))
    x = inputs
    for filters in (32, 64, 128, 128):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(0.3)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


def held_out(data: dict, speaker: str, args: argparse.Namespace) -> np.ndarray:
    """Train on the other speakers, return the held-out clips' probabilities (clips, classes)."""
    import keras

    rng = np.random.default_rng(args.seed)
    keras.utils.set_random_seed(args.seed)
    train = np.where(data["speaker"] != speaker)[0]
    test = np.where(data["speaker"] == speaker)[0]
    x_test = np.stack([prepare(data["x"][i], args.norm, args.floor_db) for i in test])[..., None]
    model = build_model(len(data["classes"]))
    steps = args.epochs * int(np.ceil(len(train) / 32))
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps)),
                  "sparse_categorical_crossentropy")
    for _ in range(args.epochs):
        batch = []
        for i in train:
            perturbed = args.copies and rng.random() >= 0.25
            v = prepare(data["aug"][i][rng.integers(args.copies)] if perturbed else data["x"][i],
                        args.norm, args.floor_db, rng).copy()
            for _ in range(2):  # SpecAugment stripes, set to 0
                w = int(rng.integers(0, N_MELS // 8 + 1))
                f0 = int(rng.integers(0, N_MELS - w + 1))
                v[f0:f0 + w] = 0
                w = int(rng.integers(0, FRAMES // 10 + 1))
                t0 = int(rng.integers(0, FRAMES - w + 1))
                v[:, t0:t0 + w] = 0
            batch.append(v)
        model.fit(np.stack(batch)[..., None], data["y"][train], batch_size=32, epochs=1, verbose=0, shuffle=True)
    return model.predict(x_test, verbose=0)


def ensemble(folders: list[str], dataset) -> None:
    speakers = np.array([c.group for c in dataset.clips])
    accs = []
    for speaker in FSDD_SPEAKERS:
        p = sum(np.load(Path(f) / f"{speaker}.npy") for f in folders)
        accs.append(float((p.argmax(1) == dataset.labels[speakers == speaker]).mean()))
        print(f"{speaker:8s} {accs[-1]:.3f}")
    print(f"mean     {np.mean(accs):.4f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--norm", choices=("cmn", "level", "none"), default="cmn",
                   help="per clip: remove each band's mean (cmn), only the overall mean (level), or nothing")
    p.add_argument("--floor-db", type=float, default=0.0, help="floor the log-mel this far below the clip's peak")
    p.add_argument("--copies", type=int, default=6,
                   help="speed / vocal-tract-length perturbed copies of each clip (0: train on the recorded clips only)")
    p.add_argument("--band-limit", action="store_true", help="random low-/high-pass filters on the perturbed copies")
    p.add_argument("--speakers", nargs="+", choices=FSDD_SPEAKERS, default=list(FSDD_SPEAKERS))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", metavar="DIR", help="write each held-out speaker's clip probabilities to DIR/<speaker>.npy")
    p.add_argument("--ensemble", nargs="+", metavar="DIR", help="only score the average of saved probabilities")
    args = p.parse_args(argv)
    manifest = data_root() / "fsdd" / "manifest.csv"
    if not manifest.is_file():
        raise SystemExit(f"error: no FSDD manifest at {manifest}; set AUDIOCLF_DATA")
    from audioclf.datasets import load_manifest

    dataset = load_manifest(manifest)  # manifest order: the clip order the figures were measured in
    if args.ensemble:
        ensemble(args.ensemble, dataset)
        return 0
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    data = load_features(dataset, copies=args.copies, band_limit=args.band_limit)
    accs = {}
    for speaker in args.speakers:
        t = time.perf_counter()
        probs = held_out(data, speaker, args)
        accs[speaker] = float((probs.argmax(1) == data["y"][data["speaker"] == speaker]).mean())
        if args.save:
            Path(args.save).mkdir(parents=True, exist_ok=True)
            np.save(Path(args.save) / f"{speaker}.npy", probs)
        print(f"{speaker:8s} {accs[speaker]:.3f}  ({time.perf_counter() - t:.0f} s)", flush=True)
    print(f"mean     {np.mean(list(accs.values())):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
