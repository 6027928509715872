"""Datasets: every source layout, summaries, safe zip extraction, the synthetic set and splits.

All fixtures are tiny WAVs written into tmp_path; only the ``realdata`` test reads shared/data.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioclf.cli import main
from audioclf.datasets import (
    Clip,
    Dataset,
    SyntheticConfig,
    detect_kind,
    kfold_splits,
    leaks,
    load_dataset,
    make_synthetic_dataset,
    safe_extract_zip,
    split_dataset,
    summarize_dataset,
)
from audioclf.errors import DatasetError, ParameterError
from tests.conftest import run_cli

SR = 8000


def wav(path: Path, *, freq: float = 440.0, dur: float = 0.1, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(dur * sr)) / sr
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), sr, subtype="PCM_16")
    return path


def wav_bytes(dur: float = 0.05) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(int(dur * SR)), SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def write_csv(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    root = tmp_path / "animals"
    for label, n in (("dog", 6), ("cat", 3)):
        for i in range(n):
            wav(root / label / f"{label}{i}.wav", freq=300 + 100 * i)
    (root / "dog" / "notes.txt").write_text("not audio")
    (root / ".hidden").mkdir()
    wav(root / ".hidden" / "x.wav")
    return root


# --- sources ------------------------------------------------------------------------------------


def test_class_folders(folders):
    ds = load_dataset(folders)
    assert (ds.kind, ds.name, ds.classes, len(ds)) == ("folders", "animals", ("cat", "dog"), 9)
    assert list(ds.labels) == [0, 0, 0] + [1] * 6
    assert ds.counts() == {"cat": 3, "dog": 6}
    assert all(c.path.is_absolute() and c.fold is None and c.group is None for c in ds)
    assert any("skipped 1 non-audio" in n for n in ds.notes)
    assert ds.filter(labels=["cat"]).classes == ("cat", "dog")  # subsets keep the label space


def test_manifest_with_speaker_alias_and_csv_path(tmp_path):
    root = tmp_path / "m"
    rows = []
    for i in range(4):
        for label in ("yes", "no"):
            wav(root / "clips" / f"{label}{i}.wav")
            rows.append({"path": f"clips/{label}{i}.wav", "label": label, "fold": str(i % 2 + 1),
                         "speaker": f"spk{i % 2}", "split": "test" if i == 0 else "train"})
    write_csv(root / "manifest.csv", rows)
    for source in (root, root / "manifest.csv"):
        ds = load_dataset(source)
        assert ds.kind == "manifest" and len(ds) == 8
        assert ds.folds == (1, 2) and ds.groups == ("spk0", "spk1") and ds.splits == ("test", "train")
    assert detect_kind(root) == "manifest"


def test_manifest_missing_files_are_named(tmp_path):
    wav(tmp_path / "a.wav")
    write_csv(tmp_path / "manifest.csv", [{"path": "a.wav", "label": "x"}, {"path": "gone1.wav", "label": "y"},
                                          {"path": "sub/gone2.wav", "label": "y"}])
    with pytest.raises(DatasetError, match=r"2 of 3 files .* do not exist: gone1\.wav, sub/gone2\.wav"):
        load_dataset(tmp_path)


@pytest.mark.parametrize("rows,match", [
    ([{"file_name": "a.wav", "label": "x"}], "lacks a 'path' and a 'label' column"),
    ([{"path": "a.wav", "label": "x"}, {"path": "a.wav", "label": "y"}], "listed twice"),
    ([{"path": "a.wav", "label": "x", "fold": "one"}], "fold 'one' is not an integer"),
    ([{"path": "a.wav", "label": ""}], "row 2: empty label"),
])
def test_manifest_errors(tmp_path, rows, match):
    wav(tmp_path / "a.wav")
    with pytest.raises(DatasetError, match=match):
        load_dataset(write_csv(tmp_path / "m.csv", rows))


def test_manifest_source_file_keeps_takes_together(tmp_path):
    rows = []
    for take in "ABC":
        for label, fid in (("dog", 100032), ("rain", 17367)):
            wav(tmp_path / "audio" / f"1-{fid}-{take}.flac")
            rows.append({"path": f"audio/1-{fid}-{take}.flac", "label": label, "fold": "1",
                         "source_file": f"001 - {label}/1-{fid}-{take}.ogg",
                         "esc50_target": "0" if label == "dog" else "10"})
    ds = load_dataset(write_csv(tmp_path / "manifest.csv", rows))
    assert ds.groups == ("001 - dog/1-100032", "001 - rain/1-17367")
    assert len(load_dataset(tmp_path, esc10_only=True)) == 6


def test_esc50_layout(tmp_path):
    rows = []
    for fold in (1, 2):
        for cat, target, esc10 in (("dog", 0, "True"), ("rooster", 1, "True"), ("pig", 2, "False")):
            for take in "AB":
                name = f"{fold}-{target}{fold}0-{take}-{target}.wav"
                wav(tmp_path / "audio" / name)
                rows.append({"filename": name, "fold": fold, "target": target, "category": cat, "esc10": esc10,
                             "src_file": f"{target}{fold}0", "take": take})
    write_csv(tmp_path / "meta" / "esc50.csv", rows)
    ds = load_dataset(tmp_path)
    assert ds.kind == "esc50" and len(ds) == 12 and ds.classes == ("dog", "pig", "rooster")
    assert ds.folds == (1, 2) and len(ds.groups) == 6
    small = load_dataset(tmp_path, esc10_only=True)
    assert small.classes == ("dog", "rooster") and len(small) == 8 and small.name == "esc10"


def test_fsdd_layout_wins_over_its_manifest(tmp_path):
    for digit in (0, 7):
        for speaker in ("george", "jack_son"):
            for index in (0, 4, 5, 49):
                wav(tmp_path / "recordings" / f"{digit}_{speaker}_{index}.wav")
    (tmp_path / "recordings" / "README.md").write_text("x")
    write_csv(tmp_path / "manifest.csv", [{"path": "recordings/0_george_0.wav", "label": "zero"}])
    ds = load_dataset(tmp_path)
    assert ds.kind == "fsdd" and ds.classes == ("seven", "zero") and len(ds) == 16
    assert ds.groups == ("george", "jack_son")
    assert sum(c.split == "test" for c in ds) == 8 and ds.splits == ("test", "train")
    assert any("README.md" in n for n in ds.notes)


def test_fewer_than_two_classes_is_refused(tmp_path):
    wav(tmp_path / "dog" / "a.wav")
    with pytest.raises(DatasetError, match=r"found 1 class 'dog' in .*; a classifier needs at least 2"):
        load_dataset(tmp_path)
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(ParameterError, match="kind='bogus'"):
        load_dataset(tmp_path, kind="bogus")


# --- summary ------------------------------------------------------------------------------------


def test_summary_counts_durations_and_problems(folders):
    wav(folders / "dog" / "long.wav", dur=0.5, sr=16000)
    (folders / "cat" / "broken.wav").write_bytes(b"definitely not audio")
    s = summarize_dataset(load_dataset(folders), min_clips=5)
    assert s.per_class == {"cat": 4, "dog": 7} and s.n_clips == 11
    assert s.sample_rates == {8000: 9, 16000: 1}
    assert s.durations.n == 10 and s.durations.max == pytest.approx(0.5)
    assert s.total_seconds == pytest.approx(9 * 0.1 + 0.5)
    assert s.per_class_durations["cat"].total == pytest.approx(0.3)
    assert [Path(p).name for p, _ in s.unreadable] == ["broken.wav"]
    assert s.small_classes == ("cat",)
    text = " ".join(s.warnings)
    assert "fewer than 5 clips: 'cat' (4)" in text and "broken.wav" in text and "sample rates" in text
    d = s.to_dict()
    assert json.loads(json.dumps(d))["per_class"] == {"cat": 4, "dog": 7}


def test_summary_fails_when_nothing_is_readable(tmp_path):
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "x.wav").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="none of the 2 files"):
        summarize_dataset(load_dataset(tmp_path))


# --- zip ----------------------------------------------------------------------------------------


def make_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def test_zip_of_class_folders(tmp_path):
    entries = {f"upload/{c}/{i}.wav": wav_bytes() for c in ("cat", "dog") for i in range(2)}
    entries |= {"upload/readme.txt": b"hi", "__MACOSX/upload/._x.wav": b"junk", "upload/dog/": b""}
    z = make_zip(tmp_path / "pets.zip", entries)
    out = tmp_path / "out"
    ds = load_dataset(z, extract_dir=out)
    assert (ds.kind, ds.name, ds.classes, len(ds)) == ("folders", "pets", ("cat", "dog"), 4)
    assert all(c.path.is_relative_to(out.resolve()) for c in ds)
    assert "skipped 2 other entries" in ds.notes[0]
    assert "reused" in load_dataset(z, extract_dir=out).notes[0]
    with pytest.raises(DatasetError, match="not empty"):
        load_dataset(z, extract_dir=tmp_path)


def test_zip_with_a_manifest_cannot_point_outside(tmp_path):
    wav(tmp_path / "secret.wav")
    rows = b"path,label\nclips/a.wav,x\nclips/b.wav,y\n"
    entries = {"ds/manifest.csv": rows, "ds/clips/a.wav": wav_bytes(), "ds/clips/b.wav": wav_bytes()}
    ds = load_dataset(make_zip(tmp_path / "ok.zip", entries), extract_dir=tmp_path / "ok")
    assert (ds.kind, ds.name, len(ds)) == ("manifest", "ok", 2)
    entries["ds/manifest.csv"] = rows + b"../../../secret.wav,y\n"
    with pytest.raises(DatasetError, match="points outside the dataset folder"):
        load_dataset(make_zip(tmp_path / "bad.zip", entries), extract_dir=tmp_path / "bad")


def test_safe_extract_skips_non_audio_with_a_count(tmp_path):
    z = make_zip(tmp_path / "a.zip", {"a/1.wav": wav_bytes(), "a/2.FLAC": b"x", "a/n.txt": b"", "a/.DS_Store": b"",
                                          "a/m.csv": b"path,label\n", "a/x.exe": b"MZ"})
    report = safe_extract_zip(z, tmp_path / "d")
    assert (report.n_files, report.n_skipped) == (3, 3) and report.skipped == ("a/n.txt", "a/.DS_Store", "a/x.exe")
    assert [p.name for p in files_under(tmp_path / "d")] == ["1.wav", "2.FLAC", "m.csv"]


@pytest.mark.parametrize("bad", ["../evil.wav", "/abs.wav", "ok/../../evil.wav", "..\\evil.wav", "C:/evil.wav"])
def test_zip_path_escape_is_refused_and_nothing_written(tmp_path, bad):
    z = make_zip(tmp_path / "evil.zip", {"good/1.wav": wav_bytes(), bad: wav_bytes()})
    dest = tmp_path / "sandbox" / "dest"
    with pytest.raises(DatasetError, match=re.escape(f"zip entry {bad!r}")):
        safe_extract_zip(z, dest)
    assert not any(p.name == "evil.wav" for p in tmp_path.rglob("*"))
    assert not dest.exists() or files_under(dest) == []


def test_zip_symlink_entry_is_refused(tmp_path):
    info = zipfile.ZipInfo("dog/link.wav")
    info.external_attr = 0o120777 << 16
    with zipfile.ZipFile(tmp_path / "l.zip", "w") as zf:
        zf.writestr("cat/1.wav", wav_bytes())
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(DatasetError, match="'dog/link.wav' is a symbolic link"):
        safe_extract_zip(tmp_path / "l.zip", tmp_path / "d")
    assert files_under(tmp_path / "d") == []


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """One entry of 200 MB of zeros, about 200 KB compressed."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("dog/bomb.wav", "w") as f:
        for _ in range(200):
            f.write(bytes(1 << 20))
    assert path.stat().st_size < 1 << 20
    return path


def test_zip_bomb_is_stopped_before_writing(bomb, tmp_path):
    with pytest.raises(DatasetError, match="more than 10000000 bytes .* before writing"):
        safe_extract_zip(bomb, tmp_path / "d", max_total_bytes=10_000_000, max_ratio=10_000)
    with pytest.raises(DatasetError, match="zip bomb"):
        safe_extract_zip(bomb, tmp_path / "d")  # default limits: the ratio gives it away
    assert files_under(tmp_path / "d") == []


def lying_zip(path: Path, real: int, declared: int) -> Path:
    """A zip whose local and central headers claim ``declared`` bytes for an entry of ``real`` bytes."""
    make_zip(path, {"dog/a.wav": bytes(real)})
    data = bytearray(path.read_bytes())
    local, central = data.find(b"PK\x03\x04"), data.rfind(b"PK\x01\x02")
    assert struct.unpack_from("<I", data, local + 22)[0] == real
    struct.pack_into("<I", data, local + 22, declared)
    struct.pack_into("<I", data, central + 24, declared)
    path.write_bytes(bytes(data))
    return path


def test_zip_lying_header_cannot_fill_the_disk(tmp_path):
    z = lying_zip(tmp_path / "lie.zip", real=5_000_000, declared=1000)
    with zipfile.ZipFile(z) as zf:
        assert zf.getinfo("dog/a.wav").file_size == 1000  # the pre-check sees the lie
    with pytest.raises(DatasetError, match="dog/a.wav"):
        safe_extract_zip(z, tmp_path / "d", max_total_bytes=1_000_000)
    assert list((tmp_path / "d").iterdir()) == []  # the partial file and its folder are gone


def test_zip_stream_is_counted_not_trusted(tmp_path, monkeypatch):
    z = make_zip(tmp_path / "s.zip", {"dog/a.wav": bytes(1000)})
    # A decompressor that yields more than the header declares (what a lying header would need).
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, info, *a, **k: io.BytesIO(bytes(3 << 20)))
    with pytest.raises(DatasetError, match="holds more than the 1000 bytes its header declares"):
        safe_extract_zip(z, tmp_path / "d", max_total_bytes=2 << 20)
    assert files_under(tmp_path / "d") == []


def test_zip_limits(tmp_path):
    z = make_zip(tmp_path / "many.zip", {f"c{i % 2}/{i}.wav": wav_bytes(0.01) for i in range(12)})
    with pytest.raises(DatasetError, match="holds 12 files, more than the limit of 10"):
        safe_extract_zip(z, tmp_path / "d", max_files=10)
    with pytest.raises(ParameterError, match="max_total_bytes=0"):
        safe_extract_zip(z, tmp_path / "d", max_total_bytes=0)
    (tmp_path / "fake.zip").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a readable zip"):
        safe_extract_zip(tmp_path / "fake.zip", tmp_path / "d")


# --- synthetic ----------------------------------------------------------------------------------


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in files_under(root):
        h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_synthetic_is_deterministic_and_reused(tmp_path):
    config = SyntheticConfig(seed=3, clips_per_class=4)
    a = make_synthetic_dataset(tmp_path / "a", config=config)
    make_synthetic_dataset(tmp_path / "b", config=config)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert a.kind == "synthetic" and len(a) == 20 and len(a.classes) == 5
    assert a.groups[:2] == ("chirp-00", "chirp-01") and a.folds == (1, 2)
    stamp = a.clips[0].path.stat().st_mtime_ns
    again = make_synthetic_dataset(tmp_path / "a", config=config)
    assert again.clips[0].path.stat().st_mtime_ns == stamp and again == a
    assert load_dataset(tmp_path / "a").kind == "synthetic"
    make_synthetic_dataset(tmp_path / "c", config=SyntheticConfig(seed=4, clips_per_class=4))
    assert tree_digest(tmp_path / "c") != tree_digest(tmp_path / "a")


def test_synthetic_refuses_to_overwrite(tmp_path, folders):
    with pytest.raises(DatasetError, match="not empty and holds no synthetic dataset"):
        make_synthetic_dataset(folders)
    make_synthetic_dataset(tmp_path / "s", config=SyntheticConfig(clips_per_class=2))
    with pytest.raises(DatasetError, match="different config"):
        make_synthetic_dataset(tmp_path / "s", config=SyntheticConfig(clips_per_class=3))
    ds = make_synthetic_dataset(tmp_path / "s", config=SyntheticConfig(clips_per_class=3), overwrite=True)
    assert len(ds) == 15 and len(list((tmp_path / "s").rglob("*.wav"))) == 15
    with pytest.raises(ParameterError, match="classes"):
        SyntheticConfig(classes=("tone",))


def _features(path: Path) -> list[float]:
    """Power-weighted spectral centroid (log), spectral flatness, loudness variation, centroid spread."""
    y, sr = sf.read(path)
    frames = np.lib.stride_tricks.sliding_window_view(y, 512)[::256] * np.hanning(512)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-12
    freqs = np.fft.rfftfreq(512, 1 / sr)
    w = power.sum(1) / power.sum()
    cent = (power * freqs).sum(1) / power.sum(1)
    mean_c = (w * cent).sum()
    flat = np.exp(np.log(power).mean(1)) / power.mean(1)
    rms = np.sqrt((frames**2).mean(1))
    return [np.log(mean_c), (w * flat).sum(), rms.std() / rms.mean(), np.log1p(np.sqrt((w * (cent - mean_c) ** 2).sum()))]


def test_synthetic_classes_are_distinguishable(tmp_path):
    ds = make_synthetic_dataset(tmp_path / "s")
    feats, labels = np.array([_features(c.path) for c in ds]), ds.labels
    centroid = {c: float(np.exp(np.median(feats[labels == k, 0]))) for k, c in enumerate(ds.classes)}
    assert centroid["harmonics"] < centroid["tone"] < centroid["chirp"] < centroid["noise_band"]
    # A nearest-class-mean classifier fitted on folds 1-4 names the fold-5 clips.
    train, val = split_dataset(ds, "fold:5")
    held = np.array([c.fold == 5 for c in ds])
    mu, sd = feats[~held].mean(0), feats[~held].std(0)
    z = (feats - mu) / sd
    means = np.array([z[~held & (labels == k)].mean(0) for k in range(len(ds.classes))])
    pred = np.argmin(((z[held, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert len(val) == held.sum() and np.mean(pred == labels[held]) >= 0.9


# --- splits -------------------------------------------------------------------------------------


def toy(n_groups: int = 8, per_group: int = 3, *, folds: bool = True) -> Dataset:
    clips = [Clip(path=Path(f"/x/{c}-{g}-{i}.wav"), label=c, fold=g % 4 + 1 if folds else None, group=f"{c}{g}",
                  split="test" if i == 0 else "train")
             for c in ("a", "b", "c") for g in range(n_groups) for i in range(per_group)]
    return Dataset.from_clips(clips, name="toy", root="/x", kind="manifest")


def test_fold_group_and_split_specs():
    ds = toy()
    train, val = split_dataset(ds, "fold:2")
    assert {c.fold for c in val} == {2} and 2 not in train.folds and len(train) + len(val) == len(ds)
    train, val = split_dataset(ds, "group:b3")
    assert val.groups == ("b3",) and len(val) == 3 and train.classes == val.classes == ds.classes
    train, val = split_dataset(ds, "split:test")
    assert {c.split for c in val} == {"test"} and len(val) == 24
    picks = {split_dataset(ds, "group:auto", seed=s)[1].groups for s in range(6)}
    assert len(picks) > 1 and split_dataset(ds, "group:auto", seed=5) == split_dataset(ds, "group:auto", seed=5)


@pytest.mark.parametrize("spec", ["ratio:0.25", "fold:1", "group:auto"])
def test_splits_never_leak(spec):
    train, val = split_dataset(toy(), spec, seed=1)
    assert not leaks(train, val)
    assert not {c.path for c in train} & {c.path for c in val}


def test_split_none_trains_on_everything():
    # 'none' is for the model shipped after cross-validation: every clip trains, and the "validation"
    # side is the training clips themselves (its score is training accuracy).
    ds = toy()
    train, val = split_dataset(ds, "none")
    assert [c.path for c in train] == [c.path for c in ds] == [c.path for c in val]
    assert train.classes == ds.classes


def test_predefined_split_is_taken_as_given():
    # FSDD's official test set has every speaker on both sides: the column is honoured, and leaks() says so.
    train, val = split_dataset(toy(), "split:test")
    assert not {c.path for c in train} & {c.path for c in val}
    assert leaks(train, val) == ["24 group(s) on both sides, e.g. 'a0'"]


def test_ratio_split_is_stratified_and_reproducible():
    ds = toy(folds=False)
    ds = Dataset.from_clips([Clip(c.path, c.label) for c in ds], name="flat", root="/x", kind="manifest")
    train, val = split_dataset(ds, "ratio:0.25", seed=7)
    assert val.counts() == {"a": 6, "b": 6, "c": 6}
    assert split_dataset(ds, "ratio:0.25", seed=7) == (train, val)
    assert split_dataset(ds, "ratio:0.25", seed=8)[1] != val


def test_ratio_split_gives_every_small_class_a_validation_clip():
    # Why ratio:R is not scikit-learn's stratified train_test_split: sklearn rounds over the whole set and
    # leaves a class of 3 clips beside a big one without a validation clip; here each such class gets one.
    from sklearn.model_selection import train_test_split

    counts = {"a": 3, "b": 3, "c": 3, "d": 3, "e": 20}
    clips = [Clip(Path(f"/x/{c}{i}.wav"), c) for c, n in counts.items() for i in range(n)]
    ds = Dataset.from_clips(clips + [Clip(Path("/x/lone.wav"), "f")], name="small", root="/x", kind="manifest")
    _, val = split_dataset(ds, "ratio:0.2", seed=0)
    assert val.counts() == {"a": 1, "b": 1, "c": 1, "d": 1, "e": 4, "f": 0}  # the lone "f" clip trains
    labels = np.repeat(np.arange(5), list(counts.values()))
    _, held = train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=0)
    assert 0 in np.bincount(labels[held], minlength=5)


def test_ratio_split_with_groups_keeps_groups_whole():
    ds = toy(n_groups=10)
    train, val = split_dataset(ds, "ratio:0.2", seed=2)
    assert not set(train.groups) & set(val.groups)
    assert val.counts() == {"a": 6, "b": 6, "c": 6}  # 2 whole groups of 3 per class
    assert split_dataset(ds, "ratio:0.2", seed=2) == (train, val)
    assert split_dataset(ds, "ratio:0.2", seed=3)[1].groups != val.groups


@pytest.mark.parametrize("spec,match", [
    ("random", "not understood"), ("fold:9", r"no fold 9; its folds are \[1, 2, 3, 4\]"),
    ("group:zz", "no group 'zz'"), ("split:dev", "no clips with split 'dev'"), ("ratio:1.5", "between 0 and 1"),
])
def test_split_errors(spec, match):
    with pytest.raises(DatasetError, match=match):
        split_dataset(toy(), spec)


def test_split_refuses_an_empty_side():
    ds = toy()
    one_fold = ds.filter(folds=[1])
    with pytest.raises(DatasetError, match="leaves the training side empty"):
        split_dataset(one_fold, "fold:1")


def test_kfold_by_fold_and_group():
    ds = toy(n_groups=4)
    runs = list(kfold_splits(ds, by="fold"))
    assert [r[0] for r in runs] == ["fold:1", "fold:2", "fold:3", "fold:4"]
    assert sorted(p for _, _, val in runs for p in val.paths) == sorted(ds.paths)
    logo = list(kfold_splits(ds, by="group"))
    assert len(logo) == 12 and all(val.groups == (spec[6:],) for spec, _, val in logo)
    with pytest.raises(DatasetError, match="at least 2 folds"):
        list(kfold_splits(ds.filter(folds=[1]), by="fold"))


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_summary_json(folders, capsys):
    assert main(["datasets", str(folders), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["kind"] == "folders" and out["classes"] == ["cat", "dog"] and out["clips"] == 9
    assert out["per_class"] == {"cat": 3, "dog": 6} and out["sample_rates"] == {"8000": 9}
    assert out["total_seconds"] == pytest.approx(0.9) and any("'cat' (3)" in w for w in out["warnings"])


def test_cli_synthetic(tmp_path, capsys):
    assert main(["datasets", "--synthetic", str(tmp_path / "s"), "--clips-per-class", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "synthetic" and out["clips"] == 20 and out["sample_rates"] == {"16000": 20}


def test_cli_missing_path_is_one_error_line(tmp_path):
    result = run_cli("datasets", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing'}: no such file or folder"]


# --- real data ----------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_fsdd_and_esc10(real_data):
    fsdd = load_dataset(real_data / "fsdd")
    assert (fsdd.kind, len(fsdd), len(fsdd.classes), len(fsdd.groups)) == ("fsdd", 2500, 10, 5)
    assert sum(c.split == "test" for c in fsdd) == 250
    train, val = split_dataset(fsdd, "split:test")
    assert len(val) == 250 and set(val.counts().values()) == {25}
    esc = load_dataset(real_data / "esc10")
    assert len(esc) == 320 and esc.folds == (1, 2, 3, 4) and len(esc.classes) == 10
    assert len(esc.groups) == 247  # takes of one Freesound recording share a group
    s = summarize_dataset(esc)
    assert s.sample_rates == {22050: 320} and s.total_seconds == pytest.approx(1600, abs=1) and not s.warnings
    for _, train, val in kfold_splits(esc, by="fold"):
        assert not leaks(train, val)
