"""Rebuild every model in ``pretrained/`` from the data, with the project's CLI, and write the model cards.

    AUDIOCLF_DATA=../shared/data python scripts/build_pretrained.py            # everything (about 1.5 h on 2 cores)
    python scripts/build_pretrained.py --only fsdd_soundnet                     # one model
    python scripts/build_pretrained.py --skip-eval                              # final models only, reuse saved results

For each model it runs the evaluation protocol (ESC-10: 4-fold cross-validation;
FSDD: the official test split and leave-one-speaker-out over the five speakers, the
soundnet demo only the test split) with
``python -m audioclf train --split ...``, then trains the shipped model
(``--split none``: every clip; or the test-split model itself for the
soundnet demo), runs the cheap reproducible check with ``python -m audioclf
evaluate``, and writes ``card.md`` + PNGs with ``scripts/make_card.py``. The
protocol results are kept in ``build/pretrained/<name>/results.json`` so
``--skip-eval`` can rewrite cards without re-running the protocol.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

SEED = 0
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo")
# The FSDD protocol: the official test split, then leave-one-speaker-out.
FSDD_PROTOCOL = ["split:test", *[f"group:{s}" for s in FSDD_SPEAKERS]]

FSDD_DATA = (
    "Free Spoken Digit Dataset (FSDD), `Jakobovski/free-spoken-digit-dataset` (release v1.0.10 recordings), by "
    "Zohar Jackson, César Souza, Jason Flaks, Yuxin Pan, Hereman Nicolas and Adhish Thite "
    "(Zenodo, doi:10.5281/zenodo.1342401). Licence: **CC BY-SA 4.0** -- this model is derived from the audio and is "
    "shared under the same licence. The copy used here has {n} recordings: 5 speakers (george, jackson, lucas, "
    "nicolas, theo) x 10 digits x 50 repetitions, 8 kHz mono WAV; one upstream speaker is absent. The official "
    "test split is repetitions 0-4 of every speaker and digit (250 clips).")
ESC10_DATA = (
    "ESC-10, the 10-class subset of ESC-50: K. J. Piczak, *ESC: Dataset for Environmental Sound Classification*, "
    "ACM Multimedia 2015, doi:10.1145/2733373.2806390 (`karolpiczak/ESC-50`). Licence: **CC BY 3.0** for the "
    "ESC-10 subset; clips are cut from Freesound.org recordings, and the per-clip attribution (Freesound id, "
    "author, URL, clip licence: 188 CC0, 130 CC-BY, 2 CC-Sampling+) is in the dataset's `attribution.csv`. The "
    "copy used here has 320 clips of 5 s (folds 1-4, 8 clips per class per fold; fold 5 is absent), resampled "
    "to 22 050 Hz mono FLAC.")


def data_root() -> Path:
    """The real datasets: ``$AUDIOCLF_DATA``, else ``../shared/data`` beside the repository."""
    return Path(os.environ.get("AUDIOCLF_DATA", ROOT.parent / "shared" / "data")).resolve()


def machine() -> str:
    cpu = "CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()}-core {cpu} ({platform.system()}), no GPU; other training runs shared the cores at "
            "the time, so a run on an idle machine is faster")


def cli(args: list[str]) -> dict:
    """Run ``python -m audioclf ARGS --json`` and return the JSON of its last line."""
    cmd = [sys.executable, "-m", "audioclf", *args, "--json"]
    print("$", " ".join(shlex.quote(a) for a in cmd[1:]), flush=True)
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr[-3000:])
        raise SystemExit(f"command failed ({out.returncode}): {' '.join(cmd)}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if isinstance(res, dict):
        res.setdefault("wall_seconds", round(time.perf_counter() - t, 1))
    return res


def bundle_metrics(path: str | Path) -> dict:
    return json.loads((Path(path) / "bundle.json").read_text(encoding="utf-8"))["metrics"]


# What was tried on FSDD, for both FSDD cards (all: compact sfc_dcnn, seed 0, 20 epochs unless said).
FSDD_NOTES = (
    "**The leave-one-speaker-out (LOSO) target is not reached**: the issue asks for at least 90 % mean LOSO "
    "accuracy; the best recipe found reaches {loso} here. What was tried (`python -m audioclf train` options; "
    "LOSO = george / jackson / lucas / nicolas / theo held out):\n\n"
    "| recipe | split:test | LOSO |\n| --- | ---: | --- |\n"
    "| CLI default: 22 050 Hz, n_fft 2048 / hop 512 (93-ms frames), 64 mel bands to 11 kHz, 1.5-s windows, "
    "`standard` augmentation | 100 % | theo 81.8 % |\n"
    "| `--sr 8000 --input-shape 64,16 --augment strong --attention cnn --epochs 15` (ReLU gates) | 66.4 % | "
    "17.6 / 46.2 / 48.2 / 37.4 / 49.6, mean 39.8 % |\n"
    "| default STFT + `--augment speech` | – | theo 77.0 % |\n"
    "| **this recipe** (`--fmax 4000 --n-fft 1024 --hop-length 256 --overlap 0.5 --augment speech`), no "
    "attention: `fsdd_sfc_dcnn` | 100 % | 72.2 / 85.2 / 61.2 / 74.8 / 82.6, **mean 75.2 %** |\n"
    "| the same + `--attention cnn`, paper's ReLU gates | 68.8 % (underfits: first-epoch loss 5.8 vs 2.3 at "
    "chance) | – |\n"
    "| the same + `--attention cnn`, bounded sigmoid gates (`gate='sigmoid'`, now in the quick recipe): `fsdd_sfc_dcnn_att` | 98.4 % | "
    "65.4 / 81.6 / 69.4 / 69.4 / 83.4, **mean 73.8 %** |\n"
    "| this recipe + `--center time` (per-window cepstral mean normalisation) | – | george 68.8 % |\n"
    "| this recipe with n_fft 512 and 40 mel bands (`--input-shape 40,64`) | – | george 60.4 %, lucas 57.0 % |\n"
    "| this recipe with a stronger warp and stretch (`--augment speech,freq_warp=0.25,time_stretch=0.25`) | – | "
    "george 56.4 % |\n"
    "| this recipe for 40 epochs | – | george 71.2 % |\n"
    "| this recipe + AdamW weight decay 0.1 and label smoothing 0.1 (`--weight-decay 0.1 --label-smoothing 0.1`, "
    "what helped ESC-10) | – | 68.2 / 86.0 / 46.8 / 70.8 / 86.8, mean 71.7 % |\n"
    "| this recipe with silence padding (`--pad constant`) instead of repeating short clips | – | george 72.6 % |\n"
    "| this recipe + FilterAugment, a random equaliser per window for new microphones "
    "(`--augment speech,filter_gain=1.0`) | – | 76.6 / 81.4 / 55.6 / 76.8 / 85.6, mean 75.2 % (george with "
    "seed 1: 71.0 %) |\n"
    "| the same with `filter_gain=2.0` | – | george 71.4 % |\n"
    "| this recipe + silence removal (`--split-silence 30`) | – | 66.2 / 71.0 / 73.4 / 67.6 / (theo not run), "
    "lucas up 12 points, the rest down 6-14 |\n"
    "| telephone band only (`--fmin 300 --fmax 3400`) | – | george 66.8 % |\n"
    "| only the band every speaker's microphone passes (`--fmin 125 --fmax 2900`, see below) | – | george 71.0 %, "
    "lucas 62.0 % |\n"
    "| this recipe + random steep bass/treble cuts (`--augment speech,band_limit=0.2`) | – | george 61.0 %, "
    "lucas 66.8 % |\n"
    "| this front end and augmentation read by `crnn_resnet` (ResNet + BiLSTM, `--model crnn_resnet "
    "--input-shape 64,64`) | 100 % | 69.8 / 80.0 / 76.0 / 72.2 / 89.8, mean 77.6 % |\n"
    "| the same CRNN with attention pooling over its time steps (`--attention rnn`): `fsdd_crnn_resnet_att` | "
    "100 % | 71.2 / 79.4 / 84.0 / 76.6 / 92.4, **mean 80.7 %** |\n"
    "| averaging the clip probabilities of several recipes' LOSO models (every combination of two, three or "
    "four of `fsdd_sfc_dcnn`, `fsdd_sfc_dcnn_att`, the CRNN and `fsdd_crnn_resnet_att`) | – | best: "
    "`fsdd_sfc_dcnn` + CRNN + `fsdd_crnn_resnet_att`, 77.2 / 82.8 / 83.8 / 76.8 / 90.8, mean 82.3 % (not "
    "shipped: 1.6 points for three models) |\n"
    "| this recipe at twice the width (`--model-option filters=32,32,64,64,128,128`, what lifted ESC-10 (seed 0) to "
    "90 %) | – | george 63.8 % |\n"
    "| 20 MFCCs instead of log-mel (`--channels mfcc --input-shape 20,64 --n-mfcc 20`, no frequency "
    "warp or masks) | – | george 17.4 % (94 % on the training windows: the low cepstral coefficients carry "
    "each microphone's colouring) |\n"
    "{extra}"
    "\nHeld-out accuracy swings by several points from epoch to epoch, so single-speaker comparisons are noisy.\n"
    "\nA plain baseline outside the CLI (20 MFCCs over 32-ms frames, averaged over 5 segments, logistic "
    "regression) reaches a LOSO mean of 64 %. What moved LOSO most was the front end: speech-sized frames and "
    "mel bands spent below 4 kHz (FSDD is 8-kHz audio; the default spends a third of its bands on the empty "
    "4-11 kHz range) took the 8-kHz attempt's 40 % to 75 %. The rest of the gap is four training voices, each "
    "on its own microphone: averaged over their clips, george's recordings carry 15-20 dB less energy at "
    "125-250 Hz than the others' and nicolas's the most below 60 Hz, so a held-out speaker is also a new "
    "recording chain: measured over the loud frames of every fifth clip, george's microphone passes almost "
    "nothing below 125 Hz (-58 dB of the total at 60-125 Hz, the others -12 to -20 dB) and lucas's falls "
    "steeply above 3 kHz -- the two hardest held-out speakers. Yet neither a random equaliser in training "
    "(FilterAugment), nor random steep band limits, nor keeping only the band all microphones pass closed the "
    "gap, so the voices themselves (accent, how each says two, three and six) matter as much. A new voice "
    "(george, lucas) is the main failure; the pooled matrix below shows where (for `fsdd_sfc_dcnn`: "
    "three heard as eight, and six, seven and two mixed up).\n"
    "\nThe two hardest voices pull the front end opposite ways. Measured outside the CLI with "
    "`scripts/fsdd_normalisation.py` (2026-11-30, a plain "
    "4-block CNN with global average pooling, 40 log-mel bands to 4 kHz from 32-ms frames at 8 kHz, each clip "
    "centred in a 1-s window, SpecAugment, 20 epochs, seed 0): subtracting each clip's mean log-mel per band "
    "(per-utterance cepstral mean normalisation, which removes a fixed recording colour) gives george 81.8 %, "
    "the best george here, but lucas 54.4 % (LOSO 81.8 / 87.0 / 54.4 / 72.0 / 86.6, mean 76.4 %); the same "
    "network without it gives 66.2 / 83.8 / 85.0 / 79.2 / 85.8, mean 80.0 %. Subtracting only each clip's "
    "overall level lands in between (george 80.4 %, lucas 65.6 %), and flooring the log-mel 50 dB below the "
    "clip's peak before the per-band mean does not rescue lucas (59.2 %). Averaging the two networks' clip "
    "probabilities gives 82.0 / 88.2 / 77.2 / 78.6 / 89.6, mean 83.1 %: the best LOSO measured here, still 7 "
    "points short, for two models. Waveform-level speed perturbation (x0.85-1.15, pitch and tempo together) "
    "with vocal-tract-length warping of the linear spectrum (x0.88-1.12), six copies of every training clip, "
    "did not help (george 81.8 % with them, 82.8 % without), nor did random steep low- and high-pass filters "
    "on the linear spectrum (george 81.2 %, lucas 56.0 %). With four training voices, each on its own "
    "microphone, voice and recording chain are confounded, and no normalisation or augmentation tried here "
    "taught a model to ignore the chain without losing the voice: more speakers (FSDD's absent sixth one, or "
    "any other speech) are the next step.")

# Known limits shared by the two spectrogram FSDD models.
FSDD_LIMITS = [
    "Five adult male English speakers only, recorded at 8 kHz in quiet rooms: expect lower accuracy for "
    "women, children, other accents, noise or far-field microphones -- see the leave-one-speaker-out "
    "rows for what a new (male) voice costs.",
    "Clips are single, trimmed digits; a longer recording is split into windows whose predictions are "
    "averaged, so a clip with several words gets one blended answer.",
    "The reproducible check scores the shipped model on FSDD's test split, which it was trained on "
    "(the shipped model saw every clip); the held-out figures are the LOSO and split:test rows.",
]

FSDD_RECIPE = ["--epochs", "20", "--augment", "speech", "--fmax", "4000", "--n-fft", "1024", "--hop-length", "256",
               "--overlap", "0.5"]

# ---------------------------------------------------------------------------------------------------------------
# The shipped models: CLI arguments of the recipe, the protocol, the shipped split and the check.
MODELS = {
    "esc10_sfc_dcnn": {
        "data": "esc10",
        # The quick recipe (sfc_dcnn on 64x64 log-mel, SpecAugment + mixup) at twice the compact width
        # (32-128 filters, 639 k parameters), trained twice as long with AdamW weight decay, label smoothing and
        # random band limits: 4-fold CV 90.0 %, against 88.75 % for the same recipe at the compact width and
        # 85.6 % for the CLI's default (see the notes for every recipe compared).
        "args": ["--epochs", "60", "--weight-decay", "0.1", "--label-smoothing", "0.1", "--augment",
                 "standard,band_limit=0.2", "--model-option", "filters=32,32,64,64,128,128"],
        "protocol": [f"fold:{k}" for k in (1, 2, 3, 4)],
        "final_split": "none",
        "check_split": None,
        "title": "ESC-10 environmental sounds: sfc_dcnn (32-128 filters) on log-mel",
        "summary": ("Recognises 10 everyday environmental sounds (dog bark, rooster, rain, sea waves, crackling "
                    "fire, crying baby, sneezing, clock tick, helicopter, chainsaw) in clips of any length, "
                    "from 1.5-s log-mel windows whose predictions are averaged."),
        "limits": [
            "Trained on 320 clips of 5 s from Freesound, 10 classes only: any other sound is forced into one of "
            "them (there is no 'none of these' class).",
            "ESC-10 fold 5 is absent here, so the cross-validation is 4-fold and not comparable digit-for-digit "
            "with published 5-fold ESC-10 results (Piczak's CNN 80.25 %, Sharma et al. 94.75 %, listeners "
            "95.7 %).",
            "Some Freesound recordings were band-limited in a class-dependent way (noted upstream); a model can "
            "learn such recording artefacts, so accuracy on clips from other sources will be lower.",
            "The reproducible check scores the shipped model on its own training clips (close to 100 %); it only "
            "proves the bundle is the one described, not how well it generalises -- that is the CV figure.",
        ],
        "notes": (
            "**At the 90 % target with the shipped seed only.** The issue asked for at least 90 % clip accuracy "
            "in cross-validation; this recipe reaches 90.0 % with seed 0 (4-fold: 90.0 / 95.0 / 86.25 / 88.75 %), "
            "the seed the shipped model was trained with, but 88.75 % with seed 1 (87.5 / 95.0 / 86.25 / 86.25) "
            "and 88.75 % with seed 2 (86.25 / 95.0 / 85.0 / 88.75): **89.2 % over three seeds**. So the figure "
            "above is the best of three draws, and the recipe's honest CV is about 89 %, just under the target. "
            "Recipes compared by the same 4-fold CV or on fold 1 (seed 0):\n\n"
            "| recipe | fold 1 | 4-fold CV (or other folds) |\n| --- | ---: | ---: |\n"
            "| quick recipe, 30 epochs (the CLI default; shipped before) | 80.0 % | 85.6 % |\n"
            "| quick recipe, 60 epochs (shipped before) | 82.5 % | 87.8 % (82.5 / 90.0 / 87.5 / 91.25) |\n"
            "| quick recipe, 60 epochs, AdamW weight decay 0.1 and label smoothing 0.1 (`--weight-decay 0.1 "
            "--label-smoothing 0.1`; shipped before) | 83.75 % | 88.75 % (83.75 / 92.5 / 87.5 / 91.25) |\n"
            "| the same + random band limits (`--augment standard,band_limit=0.2`: steep bass or treble cuts, "
            "see below; shipped before) | 86.25 % | 88.75 % (86.25 / 92.5 / 86.25 / 90.0) |\n"
            "| **the same at twice the width (`--model-option filters=32,32,64,64,128,128`: 32-128 filters "
            "instead of 16-64, 639 k parameters instead of 166 k, about 3x the training time; shipped)** | 90.0 % | "
            "**90.0 %** (90.0 / 95.0 / 86.25 / 88.75) |\n"
            "| 90 epochs, weight decay 0.1 and label smoothing 0.1 | 86.25 % | 88.4 % (86.25 / 91.25 / 87.5 / "
            "88.75) |\n"
            "| 60 epochs, weight decay and label smoothing, `strong` augmentation (wider masks, noise, mixup "
            "0.4) | 76.25 % | – |\n"
            "| the shipped recipe read by `crnn_resnet` with `rnn` attention (`--model crnn_resnet --attention rnn "
            "--input-shape 64,64`; the FSDD CRNN's architecture; folds 3 and 4 stopped when it trailed) | 82.5 % | "
            "fold 2: 92.5 % |\n"
            "| 30 epochs + silence removal (`--split-silence 50`) + `speech` augmentation | 76.25 % | – |\n"
            "| 30 epochs + `--attention cnn` (sigmoid gates) | 80.0 % | – |\n"
            "| 100 epochs | 83.75 % | – |\n"
            "| 60 epochs, 3-s windows (`--input-shape 64,128`) | 83.75 % | fold 2: 87.5 % (1.5-s windows: 90.0 %) |\n"
            "| 60 epochs, training windows overlapping by half (`--overlap 0.5`) | 77.5 % | – |\n"
            "| 60 epochs + FilterAugment (`--augment standard,filter_gain=0.5`) | 82.5 % | – |\n"
            "| compact `mfc_dcnn` on three channels (mel, CQT, gammatonegram; 64 x 64 x 3, 448 k parameters, "
            "`--model-option filters=16,16,32,32,64,64,64,64 --model-option dense_units=`), 60 epochs | 81.25 % | "
            "fold 2: 86.25 % |\n\n"
            "Why the band limits ship although they left the compact model's CV figure as it was: clips in the "
            "wild come through other microphones and codecs. The four CV models of each recipe, scored on copies "
            "of their held-out fold filtered like a cheaper recording chain (8th-order Butterworth, zero phase; "
            "measured with `python scripts/robustness.py A B`, A and B each a folder of one recipe's four fold "
            "bundles):\n\n"
            "| held-out fold | compact, without band limits | compact, with band limits | twice the width, with "
            "band limits (shipped) |\n| --- | ---: | ---: | ---: |\n"
            "| as recorded | 88.75 % | 88.75 % | 90.00 % |\n"
            "| low-pass 4 kHz | 57.81 % | 70.62 % | **71.25 %** |\n"
            "| high-pass 300 Hz | 83.75 % | 90.00 % | **89.69 %** |\n"
            "| telephone band 300-3400 Hz | 51.56 % | 58.44 % | **62.50 %** |\n"
            "| low-pass 2 kHz | 38.44 % | 35.00 % | 34.06 % |\n\n"
            "The augmentation's edges fall in the top or bottom fifth of the mel axis (low-pass edges above about "
            "5.3 kHz, high-pass edges below about 670 Hz), so a 2-kHz low-pass is beyond anything it showed the "
            "model, and any narrow-band recording still costs a lot.\n\n"
            "Scoring the four CV models differently does not help either: with windows overlapping by half or "
            "three quarters at inference the 4-fold figure drops to 85.3 % / 84.7 %, and a maximum, "
            "log-probability, confidence- or loudness-weighted vote gives 86.3-87.8 % (the mean vote, shipped, "
            "is the best; measured on the compact models of an earlier recipe).\n\n"
            "The recipe keeps the choices made for generalisation (strong augmentation + mixup, no setting tuned "
            "per fold); the length of training, the two regularisers (weight decay, label smoothing) and the width "
            "were chosen by CV: 60 epochs added 2.2 points, the regularisers 0.95 more, twice the width 1.25 "
            "more with seed 0 (4 clips of 320; 0.4 more over three seeds, against the compact recipe's one); the "
            "band limits were chosen for robustness at an equal CV figure. Rain and "
            "helicopter (steady broadband noise) are the weak classes. Longer windows, more epochs and a compact "
            "three-channel network (above) all stayed within a fold's noise (one clip is 1.25 points), and so is "
            "the margin over the target: 90.0 % is 288 of 320 clips, one clip fewer misses it, and two other seeds "
            "do. It ships at twice the width because every one of its seeds scores at least the compact recipe's "
            "88.75 %, and on the filtered copies it gains 4 points on the telephone band and stays within three "
            "clips elsewhere, for 2.8 MB and about 3x the training time. The published "
            "results above 90 % use wider networks still, on 128 x 128 or larger inputs, several feature "
            "channels (Sharma et al.) and hundreds of epochs, which this 2-core CPU did not allow. Training on a "
            "multi-threaded CPU is not bit-for-bit reproducible: expect a point or two of spread per fold."),
    },
    "fsdd_sfc_dcnn": {
        "data": "fsdd",
        # FSDD_RECIPE: 64 mel bands up to 4 kHz (FSDD is 8-kHz audio), 46-ms STFT frames with an 11.6-ms hop,
        # 0.74-s windows overlapping by half, and the 'speech' augmentation (frequency warp + time stretch on
        # top of the standard set).
        "args": FSDD_RECIPE,
        "protocol": FSDD_PROTOCOL,
        "final_split": "none",
        "check_split": "split:test",
        "title": "FSDD spoken digits: compact sfc_dcnn on speech-sized log-mel frames",
        "summary": ("Recognises the English spoken digits zero to nine (one word per clip) from 0.74-s log-mel "
                    "windows (64 mel bands up to 4 kHz x 64 frames at 22 050 Hz). A 1-MB digit model; "
                    "`fsdd_sfc_dcnn_att` is the same recipe with attention gates, for showing where it looks, and "
                    "`fsdd_crnn_resnet_att` copes better with new voices."),
        "limits": FSDD_LIMITS,
        "notes": ("Meets the test-split target (**100 %** on `split:test`, at least 98 % asked). "
                  + FSDD_NOTES.format(loso="75.2 % with this model's recipe and 80.7 % with the same front end "
                                      "read by a CRNN with attention (`fsdd_crnn_resnet_att`)", extra="")),
    },
    "fsdd_crnn_resnet_att": {
        "data": "fsdd",
        # FSDD_RECIPE's front end and augmentation, read by the ResNet + BiLSTM CRNN with rnn attention pooling
        # instead of the compact DCNN (the architecture's default width and training settings: Adam 1e-3, cosine
        # decay, batch 32).
        "args": ["--model", "crnn_resnet", "--attention", "rnn", "--input-shape", "64,64", *FSDD_RECIPE],
        "protocol": FSDD_PROTOCOL,
        "final_split": "none",
        "check_split": "split:test",
        "attention_clip": "recordings/8_lucas_0.wav",
        "title": "FSDD spoken digits: ResNet + BiLSTM CRNN with attention over time",
        "summary": ("Recognises the English spoken digits zero to nine (one word per clip) from 0.74-s log-mel "
                    "windows (64 mel bands up to 4 kHz x 64 frames at 22 050 Hz): a residual CNN turns each window "
                    "into 16 time steps that a bidirectional LSTM reads, and `rnn` attention weighs the steps, so "
                    "the Classify page can show which moments decided. The digit model that copes best with new "
                    "voices here; `fsdd_sfc_dcnn` has an eighth of its parameters."),
        "limits": FSDD_LIMITS,
        "notes": ("Meets the test-split target (**100 %** on `split:test`, at least 98 % asked); its "
                  "leave-one-speaker-out figure, 80.7 %, is the best measured here but short of the 90 % asked. "
                  "The CRNN reads the same 64 x 64 windows as `fsdd_sfc_dcnn` and holds up best on new voices "
                  "(lucas 84.0 % against 61.2 %), with eight times the parameters (1.3 M against 166 k). "
                  + FSDD_NOTES.format(loso="80.7 % (this model)", extra="")),
    },
    "fsdd_sfc_dcnn_att": {
        "data": "fsdd",
        # The quick recipe's compact sfc_dcnn with cnn attention, on speech-sized frames: 64 mel bands up to
        # 4 kHz (FSDD is 8-kHz audio), 46-ms STFT frames with a 11.6-ms hop, 0.74-s windows overlapping by half,
        # and the 'speech' augmentation (frequency warp + time stretch on top of the standard set).
        "args": ["--attention", "cnn", *FSDD_RECIPE],
        "protocol": FSDD_PROTOCOL,
        "final_split": "none",
        "check_split": "split:test",
        "attention_clip": "recordings/8_lucas_0.wav",
        "title": "FSDD spoken digits: compact sfc_dcnn with cnn attention",
        "summary": ("Recognises the English spoken digits zero to nine (one word per clip) from 0.74-s log-mel "
                    "windows (64 mel bands up to 4 kHz x 64 frames at 22 050 Hz). Its convolution blocks carry "
                    "`cnn` attention gates, so the Classify page can show which time-frequency regions it let "
                    "through."),
        "limits": FSDD_LIMITS,
        "notes": ("Meets the test-split target (**98.4 %** on `split:test`, at least 98 % asked). The attention "
                  "gates cost 1.4 points of LOSO against the same recipe without them (`fsdd_sfc_dcnn`, 75.2 %); "
                  "this model ships to show attention. "
                  + FSDD_NOTES.format(loso="73.8 % for this model, 75.2 % without attention and 80.7 % with "
                                      "a CRNN (`fsdd_crnn_resnet_att`)", extra="")),
    },
    "fsdd_soundnet": {
        "data": "fsdd",
        "args": ["--model", "soundnet_cnn", "--sr", "8000", "--input-shape", "8000", "--augment", "light",
                 "--epochs", "20"],
        "protocol": [],
        "final_split": "split:test",
        "check_split": "split:test",
        "title": "FSDD spoken digits from the raw waveform: soundnet_cnn",
        "summary": ("A raw-waveform model (SoundNet-style 1-D convolutions, no spectrogram) that recognises the "
                    "spoken digits zero to nine from 1-s windows at 8 kHz. Shipped to demonstrate the waveform "
                    "family (97.2 % on the test split; `fsdd_sfc_dcnn` is the better digit model)."),
        "limits": [
            "Five adult male English speakers only, recorded at 8 kHz; the test split shares its speakers with "
            "the training split, so the headline says nothing about new speakers.",
            "Trained on the training split only (repetitions 5-49), to keep an honest held-out figure.",
        ],
    },
}

BACKBONE_CREDIT = {
    "sounds": ("The backbone is aiSFX (A. B. Ma and A. Lerch, *Representation Learning for the Automatic Indexing "
               "of Sound Effects Libraries*, ISMIR 2022; weights from the `aisfx==0.1.2` wheel, **CC BY 4.0**), "
               "converted to Keras by `scripts/convert_backbones.py`; see `pretrained/backbones/LICENSES.md`."),
    "speech": ("The backbone is Google's speech_embedding (J. Lin et al., *Training Keyword Spotters with Limited "
               "and Synthesized Speech Data*, ICASSP 2020; as shipped in the `openwakeword==0.5.1` wheel, "
               "**Apache-2.0**), converted to Keras by `scripts/convert_backbones.py`; see "
               "`pretrained/backbones/LICENSES.md`."),
}
TRANSFER_LIMITS = [
    "The backbone is frozen and only a small head was trained: the model hears what the backbone learned to "
    "tell apart, so sounds unlike its training data (see the backbone's description) are harder.",
    "'None of these' is calibrated out of fold (the shipped model trains on every clip, `--split none`: each "
    "clip is scored by a head trained on the other folds, so the thresholds describe clips the model has not "
    "learned). A clip is refused when its confidence and its distance to the nearest class centroid, each "
    "ranked among those clips the model got right, are together rarer than 95 % of them: about 5 % of the "
    "known sounds it gets right may be refused, and more of those it gets wrong; the slider on Classify moves "
    "the confidence below which a clip is refused however near it is, and the joint test with it. "
    "`bench/transfer.py --only unknown` measures the refusals on a held-out fold or speaker "
    "and on foreign sounds (docs/benchmarks.md, \"None of these\").",
]
MODELS["esc10_sounds"] = {
    "data": "esc10",
    "args": ["--backbone", "sounds", "--head", "mlp", "--augment", "none"],
    "protocol": [f"fold:{k}" for k in (1, 2, 3, 4)],
    "final_split": "none",
    "check_split": None,
    "title": "ESC-10 environmental sounds: a small head on the pretrained aiSFX backbone",
    "summary": ("Recognises 10 everyday environmental sounds (dog bark, rooster, rain, sea waves, crackling fire, "
                "crying baby, sneezing, clock tick, helicopter, chainsaw) from the embeddings of aiSFX, a network "
                "pretrained on commercial sound-effects libraries: three 2.3-s windows per 4.6-s input, one hidden "
                "layer per window, mean and max over the windows, no augmentation. The best ESC-10 model here, and it can answer "
                "'none of these'. " + BACKBONE_CREDIT["sounds"]),
    "limits": TRANSFER_LIMITS + [
        "ESC-10 fold 5 is absent here, so the cross-validation is 4-fold.",
        "The reproducible check scores the shipped model on its own training clips; the CV figure is the "
        "held-out one."],
    "notes": ("The issue aimed at 94 % in 4-fold CV; this recipe does not reach it (see the headline). Recipes "
              "compared by the same 4-fold CV (seed 0, 4.6-s inputs): logistic regression on each clip's mean and "
              "max embedding (scikit-learn, outside the CLI) 91.25 %; through the CLI, `--head linear` 88.75 % "
              "(82.5 / 93.75 / 87.5 / 91.25 without augmentation: 88.75 %), `--head mlp` with the `embedding` "
              "augmentation 89.4 % (83.75 / 92.5 / 87.5 / 93.75), `--head attention` with it 91.6 % (88.75 / "
              "93.75 / 90.0 / 93.75), **`--head mlp --augment none` 92.2 % (87.5 / 95.0 / 91.25 / 95.0), "
              "shipped**. The embedding augmentation (rolled window order, noise, mixup) cost the MLP head three "
              "points here: with one 4.6-s input per 5-s clip there is no order to learn, and noise on "
              "standardised embeddings blurs classes that sit close. Fine-tuning the backbone's top block "
              "(`--fine-tune`, built later) was tried on fold 1 with the MLP head: 82.5 % in 1 708 s against "
              "83.8 % frozen, so it is not used. aiSFX never saw ESC-50 in training, so the figure is a fair transfer "
              "result."
              " Probed later with `scripts/probe_sounds_layers.py` (logistic regression or an RBF SVM on each "
              "clip's mean and max, same 4 folds): block 3's output beside the embedding, blocks every 0.23 s "
              "instead of 1.16 s, the mean over time beside the max, and per-window classifiers averaged over the "
              "clip give 88.4-93.1 %; the best, block 3 + block 4 at the dense hop (93.1 %, 88.8 / 95.0 / 92.5 / "
              "96.2), is one of 38 variants scored on the same 320 clips and less than one clip per fold above the "
              "shipped 92.2 %, so it is not taken as a recipe."
              " Rebuilt on 2026-12-06 with 'none of these' calibrated out of fold (the issue on small data): the "
              "same recipe and seed now measure 91.9 % (87.5 / 95.0 / 88.75 / 96.25; fold 3 lost two clips, fold 4 "
              "gained one). Not the code: the commit of the 92.2 % (4427d3e), run on this machine on 2026-12-07, "
              "gives the same 91.9 % fold by fold, and the same run twice agrees, so the 92.2 % was the "
              "arithmetic of the machine that first built it. The seed alone moves this figure by a point: "
              "seeds 0-4 of the same recipe give 91.9 / 90.9 / 90.9 / 91.2 / 90.6 % (mean 91.1 %; measured "
              "2026-12-07 with `bench/transfer.py --only fewshot --seeds 3` and `train --split fold:K --seed S`), "
              "so the shipped seed 0 is the best of five, and the 92.2 % of 2026-12-01 was one seed's figure on "
              "another machine. Variants of the head over seeds 0-2 (label smoothing, 120 epochs, dropout 0.5, "
              "512 units, averaging with the linear head) gave 90.5-91.6 % (the project's docs/benchmarks.md, "
              "section Transfer learning). Rebuilt on "
              "2026-12-07 with the confidence threshold from two out-of-fold trainings (each on half the clips; "
              "three before) and the distance threshold from five folds; rebuilt again the same day with "
              "confidence and distance judged together (the product of their ranks among the out-of-fold clips "
              "it got right, 5 %; before, confidence 1 % and distance 5 % apart). Unknown rates of this recipe "
              "trained with `--split none` on three folds (`bench/transfer.py --only unknown`): known clips of the "
              "fourth fold answered 'none of these' 10.0 / 5.0 / 6.2 / 3.8 %, mean 6.2 % (target at most 10 %; "
              "with the two tests apart 11.2 / 2.5 / 15.0 / 6.2 %, mean 8.8 %); FSDD digits (foreign) 92 / 93 / 96 "
              "/ 78 %, mean 90 % (target at least 70 %; apart: 92 %)."),
}
MODELS["fsdd_speech"] = {
    "data": "fsdd",
    "args": ["--backbone", "speech", "--head", "mlp", "--augment", "none"],
    "protocol": FSDD_PROTOCOL,
    "final_split": "none",
    "check_split": "split:test",
    "title": "FSDD spoken digits: a small head on Google's speech_embedding backbone",
    "summary": ("Recognises the English spoken digits zero to nine from the embeddings of Google's "
                "speech_embedding network (trained for keyword spotting): each clip is trimmed to its sound "
                "(the room noise before and after the word goes, 0.2 s kept on each side) and centred in 1.34 s of "
                "silence when shorter, eight 0.78-s windows per input, one hidden layer per window, mean and max over "
                "the windows, no augmentation. "
                "The digit model that copes best with new voices, and it can answer 'none of these'. "
                + BACKBONE_CREDIT["speech"]),
    "limits": TRANSFER_LIMITS + FSDD_LIMITS[:2],
    "notes": ("Targets of the transfer issue: LOSO at least 95 % mean with no speaker below 90 %, test split at "
              "least 99 % -- see the headline and the table for where this recipe lands. Recipes compared by the "
              "same protocol (seed 0): `--head linear` with the `embedding` augmentation: test split 98.8 %, LOSO "
              "92.6 / 95.8 / 97.0 / 90.0 / 98.8, mean 94.8 %; **`--head mlp --augment none`: test split 99.6 %, "
              "LOSO 92.0 / 97.2 / 97.6 / 90.2 / 98.8, mean 95.2 %, shipped** (chosen over the linear head by these "
              "figures, so the margin over 95 % is within what the choice itself can add). Nicolas, at 90.2 %, "
              "is the voice a new model hears worst. Logistic regression on [mean, max] embeddings (outside the "
              "CLI) gives 94.8 % LOSO with short clips "
              "centred in silence, 90.1 % when each clip gave a single window; the silence padding follows how "
              "a keyword spotter hears a word (in a stream), and the input length (eight windows) was fixed "
              "before any held-out score was seen."
              " Rebuilt on 2026-12-06 with 'none of these' calibrated out of fold by speaker (the issue on small "
              "data). Rebuilt on 2026-12-07 with the confidence threshold from two out-of-fold trainings (by "
              "speaker; three before) and the distance threshold from five folds. The protocol now gives nicolas "
              "89.4 %, one clip of 500 below the 2026-12-06 build (LOSO mean 95.20 % against 95.24 %); the code "
              "before this rebuild's changes gives the same 89.4 %, so an earlier change to how training is set "
              "up moved it, not the recipe. Rebuilt again the same day with confidence and distance judged "
              "together (the product of their ranks among the out-of-fold clips it got right, 5 %; before, "
              "confidence 1 % and distance 5 % apart). Unknown rates of this recipe "
              "trained with `--split none` on four speakers (`bench/transfer.py --only unknown`): the fifth "
              "speaker's digits answered 'none of these' 4.7 / 2.0 / 5.3 / 5.3 / 0.7 % (george, jackson, lucas, "
              "nicolas, theo; mean 3.6 %, target at most 10 %; before the trim 3.2 %); ESC-10 clips 99 / 100 / "
              "100 / 100 / 100 % (target at least 70 %); spoken words that are not digits (16 words x 4 "
              "espeak-ng voices) 66 / 69 / 75 / 64 / 53 %, mean 65 % (before the trim 62 %): short of 70 %; "
              "words that sound like a digit pass (`tree`, `green`, `heaven`)."
              " Rebuilt on 2026-12-07 (third session) with the `speech` pipeline's trim to the sound (frames 15 dB "
              "over the take's noise floor or within 25 dB of its loudest, 0.2 s kept each side): LOSO 95.20 -> "
              "95.68 %, test split 99.6 % either way; a word said anywhere in 2 s of room noise is now heard as a "
              "tight clip is (`bench/takes.py`: 85.5 % against 66.9 % for one speaker's takes in noise)."
              " Rebuilt on 2026-12-07 (fourth session) with a third rank in 'none of these', as this trimmed "
              "pipeline centres every word in its input: the eight window embeddings of an input, laid end to end, "
              "compared one by one with each digit's mean sequence (the nearest of a clip's inputs counts; out of "
              "fold like the centroid distance); this model still lets `tree`, `green` and `heaven` through. The product of "
              "the three ranks is what the 5 % applies to. Unknown rates of this recipe trained on four speakers "
              "(`bench/transfer.py --only unknown --datasets fsdd`): the fifth speaker's digits 4.7 / 0.0 / 6.0 / "
              "2.0 / 0.7 % (mean 2.7 %, 3.6 % with two ranks); ESC-10 clips 98 / 99 / 100 / 98 / 97 % (mean "
              "98.4 %, 99.8 % with two); spoken words that are not digits 72 / 73 / 78 / 66 / 64 %, mean 70.6 % "
              "(65 % with two ranks; target 70 %). LOSO and the test split are unchanged by it (95.68 %, 99.6 %)."),
}


def run_model(name: str, spec: dict, *, data_root: Path, work: Path, skip_eval: bool, resume: bool,
              skip_final: bool, jobs: int = 1) -> None:
    data = str(data_root / spec["data"])
    work_dir = work / name
    results_file = work_dir / "results.json"
    if skip_eval and spec["protocol"] and not results_file.is_file():
        # Protocol results live in the work folder of the machine that ran them (they are not committed):
        # without them the card cannot be rewritten, and re-running the protocol is not what was asked.
        raise SystemExit(f"{name}: no saved protocol results in {results_file}; run without --skip-eval / "
                         "--cards-only (add --resume to keep protocol bundles already trained there)")
    work_dir.mkdir(parents=True, exist_ok=True)
    base = ["train", "--data", data, *spec["args"], "--seed", str(SEED), "--quiet"]
    if skip_eval and results_file.is_file():
        results = json.loads(results_file.read_text(encoding="utf-8"))
    else:
        results = []
        todo = [s for s in spec["protocol"]
                if not (resume and (work_dir / s.replace(":", "_") / "bundle.json").is_file())]
        # Protocol runs are independent: run `jobs` of them at once (each process then uses fewer cores).
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(lambda s: cli([*base, "--split", s, "--out", str(work_dir / s.replace(":", "_"))]), todo))
        for split in spec["protocol"]:
            out = work_dir / split.replace(":", "_")
            d = json.loads((out / "bundle.json").read_text(encoding="utf-8"))
            m = d["metrics"]
            results.append({"protocol": split, "accuracy": m["accuracy"], "clips": d["training"]["val"]["clips"],
                            "seconds": d["training"]["seconds"], "confusion": m["confusion"],
                            "per_class": m["per_class"], "labels": m["labels"]})
        results_file.write_text(json.dumps(results, indent=1), encoding="utf-8")
    target = ROOT / "pretrained" / name
    if skip_final and (target / "bundle.json").is_file():
        d = json.loads((target / "bundle.json").read_text(encoding="utf-8"))
        final = {"seconds": d["training"]["seconds"], "accuracy": d["metrics"]["accuracy"],
                 "val_clips": d["training"]["val"]["clips"]}
    else:
        final = cli([*base, "--split", spec["final_split"], "--out", str(target)])
    rest = [*base[3:], "--split", spec["final_split"], "--out", f"pretrained/{name}"]
    command = (f"python -m audioclf train --data $AUDIOCLF_DATA/{spec['data']} "
               + " ".join(shlex.quote(a) for a in rest))
    ev_args = ["evaluate", str(target), "--data", data, "--quiet"]
    if spec["check_split"]:
        ev_args += ["--split", spec["check_split"]]
    check_res = cli(ev_args)
    labels = bundle_metrics(target)["labels"]
    from make_card import make_card, pooled

    info = {k: spec[k] for k in ("title", "summary", "limits")}
    info["notes"] = spec.get("notes", "")
    info.update(command=command, train_seconds=final["seconds"], machine=machine())
    info["data"] = (FSDD_DATA.format(n=2500) if spec["data"] == "fsdd" else ESC10_DATA)
    check_protocol = (f"shipped model on `{spec['check_split']}` of {spec['data']}" if spec["check_split"]
                      else f"shipped model on all {spec['data']} clips (its own training data)")
    info["check"] = {"protocol": check_protocol, "data": spec["data"], "split": spec["check_split"],
                     "accuracy": round(float(check_res["accuracy"]), 6)}
    cv = [r for r in results if r["protocol"].startswith(("fold:", "group:"))]
    rows = [dict(r) for r in results]
    if spec["data"] == "esc10":
        mean = sum(r["accuracy"] for r in cv) / len(cv)
        info["headline"] = {"name": "cv_accuracy", "value": round(mean, 4),
                            "protocol": f"{len(cv)}-fold cross-validation (folds 1-4), clip accuracy"}
        info["pooled"] = {**pooled(cv, labels), "title": "pooled over the 4 validation folds"}
        info["protocol"] = (
            f"4-fold cross-validation over ESC-50 folds 1-4 (train on three, validate on the fourth; the "
            f"takes of one Freesound recording never straddle folds). Mean clip accuracy **{mean:.4f}**; the "
            "shipped model is the same recipe trained on all four folds (`--split none`), so it has no held-out "
            "score of its own.")
    elif cv:
        mean = sum(r["accuracy"] for r in cv) / len(cv)
        test = next(r for r in results if r["protocol"] == "split:test")
        info["headline"] = {"name": "loso_accuracy", "value": round(mean, 4),
                            "protocol": f"leave-one-speaker-out over {len(cv)} speakers, clip accuracy"}
        info["pooled"] = {**pooled(cv, labels), "title": "pooled over the 5 held-out speakers"}
        info["protocol"] = (
            f"Leave-one-speaker-out (LOSO): train on four speakers, test on the fifth, for each of the "
            f"{len(cv)} speakers -- mean clip accuracy **{mean:.4f}**. Official test split (`split:test`, "
            f"repetitions 0-4 of every speaker, trained on repetitions 5-49): **{test['accuracy']:.3f}**. "
            "The shipped model is the same recipe trained on all 2500 clips (`--split none`).")
    elif results:  # the official test split only
        test = next(r for r in results if r["protocol"] == "split:test")
        info["headline"] = {"name": "test_accuracy", "value": round(float(test["accuracy"]), 4),
                            "protocol": "FSDD official test split (repetitions 0-4), model trained on repetitions 5-49"}
        info["pooled"] = {"confusion": test["confusion"], "per_class": test["per_class"],
                          "title": "FSDD test split, model trained on the training split"}
        info["protocol"] = (
            f"Official test split (`split:test`): trained on repetitions 5-49 of all five speakers, scored on "
            f"repetitions 0-4 (250 clips): **{test['accuracy']:.3f}**. Every test speaker is also a training "
            "speaker, so this says nothing about new voices (see the notes). The shipped model is the same recipe "
            "trained on all 2500 clips (`--split none`).")
    else:
        info["headline"] = {"name": "test_accuracy", "value": round(float(final["accuracy"]), 4),
                            "protocol": "FSDD official test split (repetitions 0-4), clip accuracy"}
        m = bundle_metrics(target)
        info["pooled"] = {"confusion": m["confusion"], "per_class": m["per_class"], "title": "FSDD test split"}
        rows = [{"protocol": "split:test (the shipped model)", "accuracy": final["accuracy"],
                 "clips": final["val_clips"], "seconds": final["seconds"]}]
        info["protocol"] = ("Trained on FSDD's training split (repetitions 5-49 of all five speakers) and scored "
                            "on the official test split (repetitions 0-4, 250 clips). The shipped model is that "
                            "model.")
    info["results"] = rows
    if spec.get("attention_clip"):
        info["attention_clip"] = str(data_root / spec["data"] / spec["attention_clip"])
    (work_dir / "info.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    print(make_card(target, info), flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Rebuild the pretrained models and their cards.")
    p.add_argument("--only", action="append", choices=sorted(MODELS), help="build only this model (repeatable)")
    p.add_argument("--skip-eval", action="store_true",
                   help="reuse build/pretrained/<name>/results.json instead of re-running the protocol")
    p.add_argument("--resume", action="store_true",
                   help="keep protocol bundles already in the work folder instead of retraining them")
    p.add_argument("--cards-only", action="store_true",
                   help="keep the shipped bundles as they are and only rewrite their cards (implies --skip-eval)")
    p.add_argument("--jobs", type=int, default=1, help="protocol runs trained at once (default 1)")
    p.add_argument("--work", default=str(ROOT / "build" / "pretrained"), help="folder for protocol runs")
    args = p.parse_args(argv)
    for name in args.only or list(MODELS):
        run_model(name, MODELS[name], data_root=data_root(), work=Path(args.work),
                  skip_eval=args.skip_eval or args.cards_only, resume=args.resume, skip_final=args.cards_only,
                  jobs=args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
