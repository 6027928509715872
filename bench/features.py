"""Benchmark the feature channels; prints Markdown tables.

Usage::

    python bench/features.py [--runs 5] [--sr 22050]

Measures, for a 5-s and a 60-s synthetic clip:

* each channel computed on its own (``compute_channel``),
* all channels computed together (``compute_channels``: one shared STFT,
  one CQT per setting, CQT filter bases cached across calls; also with that
  cache cleared before each run) against the naive way — each librosa call on
  its own from ``y`` (and our gammatone channels each with their own STFT),
* the log-mel real-time factor with BLAS/OpenMP limited to one thread.

The channel tables run with ``--threads`` BLAS threads (default 1).

Every figure is the median of ``--runs`` runs after one warm-up run; the
shared/naive comparison takes turns run by run, so load from other processes
on the machine affects both sides alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import librosa
import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audioclf.audio import synth
from audioclf.features import (  # noqa: E402
    FeatureConfig,
    channel_names,
    clear_cqt_cache,
    compute_channel,
    compute_channels,
)


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: filter banks and librosa's caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _interleaved_ms(fns: list[Callable[[], object]], runs: int) -> list[float]:
    """Median ms of each function, taking turns so a busy machine slows all of them alike."""
    for fn in fns:
        fn()  # warm-up
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [1000 * statistics.median(bucket) for bucket in times]


def _clip(seconds: float, sr: int) -> np.ndarray:
    # A sweep, a steady tone and noise: every channel has something to show.
    y = (synth.chirp(100.0, 6000.0, seconds, sr, amp=0.3) + synth.tone(440.0, seconds, sr, amp=0.2)
         + synth.noise(seconds, sr, amp=0.05, rng=0))
    return y.astype(np.float32)


def _cold(y: np.ndarray, sr: int, cfg: FeatureConfig) -> None:
    """All channels as a fresh process would compute them: no cached CQT filter bases."""
    clear_cqt_cache()
    compute_channels(y, sr, config=cfg)


def _naive(y: np.ndarray, sr: int, cfg: FeatureConfig) -> None:
    """Every channel the obvious way: each call starts again from ``y``."""
    kw = {"n_fft": cfg.n_fft, "hop_length": cfg.hop_length}
    compute_channel("waveform", y, sr, config=cfg)
    librosa.feature.zero_crossing_rate(y, frame_length=cfg.n_fft, hop_length=cfg.hop_length)
    librosa.feature.rms(y=y, frame_length=cfg.n_fft, hop_length=cfg.hop_length)
    librosa.feature.spectral_centroid(y=y, sr=sr, **kw)
    librosa.feature.spectral_bandwidth(y=y, sr=sr, **kw)
    librosa.feature.spectral_rolloff(y=y, sr=sr, roll_percent=cfg.rolloff_percent, **kw)
    np.abs(librosa.stft(y, **kw))
    np.angle(librosa.stft(y, **kw))
    _ = librosa.stft(y, **kw).real
    _ = librosa.stft(y, **kw).imag
    librosa.feature.melspectrogram(y=y, sr=sr, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, **kw)
    librosa.feature.mfcc(y=y, sr=sr, n_mfcc=cfg.n_mfcc, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, **kw)
    compute_channel("gfcc", y, sr, config=cfg)
    compute_channel("gammatonegram", y, sr, config=cfg)
    np.abs(librosa.cqt(y, sr=sr, hop_length=cfg.hop_length, fmin=cfg.cqt_fmin, n_bins=cfg.cqt_n_bins,
                       bins_per_octave=cfg.cqt_bins_per_octave))
    librosa.feature.chroma_stft(y=y, sr=sr, **kw)
    librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=cfg.hop_length)
    librosa.feature.chroma_cens(y=y, sr=sr, hop_length=cfg.hop_length)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--sr", type=int, default=22050)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP threads for the per-channel and all-channel tables (default 1: on a "
                             "shared 2-core machine, threaded BLAS on these small products only adds contention)")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    warnings.simplefilter("ignore")  # librosa's notices on the naive path are not what we time
    sr, cfg = args.sr, FeatureConfig()
    clips = {5: _clip(5.0, sr), 60: _clip(60.0, sr)}

    limiter = threadpool_limits(limits=args.threads)
    print(f"## Feature channels, sr={sr}, n_fft={cfg.n_fft}, hop={cfg.hop_length}, "
          f"{args.threads} BLAS thread(s) (median of {args.runs} runs, ms)\n")
    print("| channel | 5 s clip | 60 s clip |")
    print("|---|---:|---:|")
    for name in channel_names():
        cells = [_median_ms(lambda y=y, name=name: compute_channel(name, y, sr, config=cfg), args.runs)
                 for y in clips.values()]
        print(f"| {name} | {cells[0]:.1f} | {cells[1]:.1f} |")
    shared, cold, naive = [], [], []
    for y in clips.values():
        a, b, c = _interleaved_ms([lambda y=y: compute_channels(y, sr, config=cfg), lambda y=y: _cold(y, sr, cfg),
                                   lambda y=y: _naive(y, sr, cfg)], args.runs)
        shared.append(a)
        cold.append(b)
        naive.append(c)
    print(f"| **all 18, shared STFT/CQT** | **{shared[0]:.1f}** | **{shared[1]:.1f}** |")
    print(f"| all 18, shared, CQT filter cache cleared first | {cold[0]:.1f} | {cold[1]:.1f} |")
    print(f"| all 18, naive (each from y) | {naive[0]:.1f} | {naive[1]:.1f} |")
    print(f"| speed-up naive / shared | {naive[0] / shared[0]:.2f}x | {naive[1] / shared[1]:.2f}x |")
    print(f"| speed-up naive / shared with cleared cache | {naive[0] / cold[0]:.2f}x | {naive[1] / cold[1]:.2f}x |")

    limiter.restore_original_limits()
    y = clips[60]
    with threadpool_limits(limits=1):
        ms = _median_ms(lambda: compute_channel("mel", y, sr, config=cfg).model_input(), args.runs)
    print(f"\n## Log-mel on one thread (mel + power_to_db, {cfg.n_mels} bands)\n")
    print("| clip | time (ms) | real-time factor |")
    print("|---|---:|---:|")
    print(f"| 60 s at {sr} Hz | {ms:.1f} | {60_000 / ms:.0f}x |")


if __name__ == "__main__":
    main()
