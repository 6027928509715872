"""RecordingSet: takes, classes, renames and merges, limits, bad takes, and the zip round trip."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from audioclf.audio import synth
from audioclf.audio.io import load_audio, to_wav_bytes
from audioclf.datasets.recordings import BACKGROUND, MIN_TAKE_SECONDS, RecordingSet
from audioclf.errors import AudioError, DatasetError, ParameterError, RecordingError, RecordingLimitError

SR = 16000


def wav(y: np.ndarray) -> bytes:
    return to_wav_bytes(y, SR)


@pytest.fixture
def two() -> RecordingSet:
    rs = RecordingSet().add_class("tone").add_class("clap")
    for f in (440, 660):
        rs = rs.add_take("tone", wav(synth.tone(f, 0.5, SR)))
    return rs.add_take("clap", wav(synth.click_train(8, 0.5, SR)))


def test_takes_keep_their_bytes_ids_and_durations(two):
    assert two.labels == ("tone", "clap") and two.n_takes == 3 and two.ready
    assert [t.id for t in two.takes("tone")] == [0, 1] and two.takes("clap")[0].id == 2
    assert two.takes("tone")[1].data == wav(synth.tone(660, 0.5, SR))
    assert two.total_seconds == pytest.approx(1.5)
    assert two.as_mapping()["clap"] == [wav(synth.click_train(8, 0.5, SR))]


def test_a_change_returns_a_new_set_and_ids_are_never_reused(two):
    fewer = two.remove_take("tone", 1)
    assert [t.id for t in fewer.takes("tone")] == [0] and [t.id for t in two.takes("tone")] == [0, 1]
    again = fewer.add_take("tone", wav(synth.tone(880, 0.5, SR)))
    assert [t.id for t in again.takes("tone")] == [0, 3]
    with pytest.raises(RecordingError, match="class 'tone' has no take with id 1"):
        fewer.remove_take("tone", 1)
    assert fewer.remove_class("clap").labels == ("tone",)


def test_class_names_are_checked_and_unique_ignoring_case(two):
    with pytest.raises(RecordingError, match="a class named 'Tone' already exists"):
        two.add_class(" Tone ")
    with pytest.raises(RecordingError, match=r"class name '../x' must be 1-40 letters"):
        two.add_class("../x")
    with pytest.raises(RecordingError, match=r"there is no class 'dog'; the classes are \['tone', 'clap'\]"):
        two.add_take("dog", wav(synth.tone()))


def test_rename_and_merge(two):
    renamed = two.rename_class("clap", "claps")
    assert renamed.labels == ("tone", "claps") and renamed.takes("claps") == two.takes("clap")
    assert two.rename_class("clap", "CLAP").labels == ("tone", "CLAP")  # its own name in another case
    with pytest.raises(RecordingError, match=r"cannot rename 'clap' to 'TONE': a class named 'tone' already exists"
                                             r"; choose another name, or merge the 1 take\(s\)"):
        two.rename_class("clap", "TONE")
    merged = two.rename_class("clap", "TONE", merge=True)
    assert merged.labels == ("tone",) and [t.id for t in merged.takes("tone")] == [0, 1, 2]


def test_background_class_accepts_quiet_takes_but_not_muted_ones(two):
    quiet = wav(synth.noise(0.5, SR, amp=0.001, rng=0))
    with pytest.raises(AudioError, match=r"tone take 3 is almost silent .* add it to the 'background noise' class"):
        two.add_take("tone", quiet)
    rs = two.add_background_class()
    assert rs.labels[-1] == BACKGROUND and rs.add_background_class() is rs
    rs = rs.add_take(BACKGROUND, quiet)
    assert len(rs.takes(BACKGROUND)) == 1
    with pytest.raises(AudioError, match="pure digital silence"):
        rs.add_take(BACKGROUND, wav(synth.silence(0.5, SR)))


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty"),
    (b"not audio at all" * 10, "not a readable audio file"),
    (to_wav_bytes(synth.tone(duration=0.1, sr=SR), SR), f"lasts 0.10 s, shorter than the {MIN_TAKE_SECONDS:g} s"),
    (to_wav_bytes(synth.tone(duration=31, sr=8000), 8000), "longer than the 30 s allowed per take"),
])
def test_bad_takes_are_clear_errors_and_change_nothing(two, data, message):
    with pytest.raises(AudioError, match=message):
        two.add_take("clap", data)
    assert two.n_takes == 3


def test_limits_must_be_positive():
    with pytest.raises(ParameterError, match="max_takes=0 must be a positive integer"):
        RecordingSet(max_takes=0)
    with pytest.raises(ParameterError, match="max_seconds=-1 must be a positive number"):
        RecordingSet(max_seconds=-1)
    assert RecordingSet(classes=[("a", [])]).classes == (("a", ()),)


def test_limits_on_takes_and_seconds():
    rs = RecordingSet(max_takes=2, max_seconds=1.2).add_class("a")
    rs = rs.add_take("a", wav(synth.tone(duration=0.5, sr=SR))).add_take("a", wav(synth.tone(duration=0.5, sr=SR)))
    with pytest.raises(RecordingLimitError, match="already holds 2 takes, the most allowed is 2"):
        rs.add_take("a", wav(synth.tone(duration=0.5, sr=SR)))
    rs = RecordingSet(max_seconds=1.2).add_class("a").add_take("a", wav(synth.tone(duration=1.0, sr=SR)))
    with pytest.raises(RecordingLimitError, match=r"would bring this session to 2 s .* more than the 0.02 min"):
        rs.add_take("a", wav(synth.tone(duration=0.5, sr=SR)))


def test_zip_round_trip_keeps_labels_order_and_bytes(two, tmp_path):
    rs = two.add_background_class().add_take(BACKGROUND, wav(synth.noise(0.5, SR, amp=0.002, rng=1)))
    assert rs.to_zip() == rs.to_zip()  # the same takes give the same zip (fixed time stamps)
    path = rs.write_zip(tmp_path / "out" / "recordings.zip")
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["background noise/001.wav", "clap/001.wav", "tone/001.wav", "tone/002.wav"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary file left
    back = RecordingSet.from_zip(path.read_bytes(), workdir=tmp_path / "import")
    assert set(back.labels) == set(rs.labels)
    assert back.as_mapping() == rs.as_mapping()


def test_zip_with_one_wrapping_folder_and_bad_zips(two, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        src = zipfile.ZipFile(io.BytesIO(two.to_zip()))
        for name in src.namelist():
            zf.writestr(f"my set/{name}", src.read(name))
        zf.writestr("my set/readme.txt", b"skipped")
    back = RecordingSet.from_zip(buf.getvalue(), workdir=tmp_path / "a")
    assert back.as_mapping() == two.as_mapping()
    with pytest.raises(DatasetError):
        RecordingSet.from_zip(b"PK\x03\x04 not a zip", workdir=tmp_path / "b")
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("notes.txt", b"x")
    with pytest.raises(RecordingError, match="no class folders of audio"):
        RecordingSet.from_zip(empty.getvalue(), workdir=tmp_path / "c")


def test_to_dataset_writes_class_folders(two, tmp_path):
    ds = two.to_dataset(tmp_path / "ds")
    assert sorted(ds.classes) == ["clap", "tone"] and len(ds.clips) == 3
    tone = sorted(c.path for c in ds.clips if c.label == "tone")[0]
    y, _ = load_audio(tone, sr=SR)
    assert abs(np.argmax(np.abs(np.fft.rfft(y))) * SR / len(y) - 440) < 5
    with pytest.raises(DatasetError, match="have no recordings yet"):
        two.add_class("dog").to_dataset(tmp_path / "ds2")
