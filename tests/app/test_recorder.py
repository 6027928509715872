"""AppTest of the Train page's recorder: takes per class, background noise, rename, limits, zip export and import,
then (slow) training with Stop pressed mid-run, the live curves, and "Try it" on a new take."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.testing.v1 import AppTest

from audioclf.audio import synth
from audioclf.audio.io import to_wav_bytes
from audioclf.datasets.recordings import BACKGROUND, BACKGROUND_HELP, RecordingSet
from tests.conftest import HANG, ROOT

SR = 16000


def wav(y: np.ndarray) -> bytes:
    return to_wav_bytes(y, SR)


def tones() -> list[bytes]:
    return [wav(synth.tone(f, 1.0, SR)) for f in (440, 550, 660)]


def clicks() -> list[bytes]:
    return [wav(synth.click_train(r, 1.0, SR)) for r in (4, 8, 12)]


def _recorder_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG).run()
    at.switch_page("pages/train.py").run()
    at.radio(key="tr_source").set_value("Record clips").run()
    assert not at.exception
    return at


def _add_class(at: AppTest, name: str) -> None:
    at.text_input(key="tr_new_class").set_value(name).run()
    at.button(key="tr_add_class").click().run()


def _record(at: AppTest, label: str, data: bytes) -> None:
    rec = next(a for a in at.audio_input if a.key.startswith(f"tr_rec_{label}_"))
    rec.set_value(("take.wav", data, "audio/wav")).run()


def _audio_ids(at: AppTest) -> list[str]:
    """The media ids of the takes' players: the recorder's players come first, before the dataset's clips."""
    ids = [a.proto.url.rsplit("/", 1)[-1].split(".")[0] for a in at.get("audio")]
    takes = {_wav_id(t.data) for _, ts in at.session_state["tr_recset"].classes for t in ts}
    n = next((i for i, x in enumerate(ids) if x not in takes), len(ids))
    assert takes.isdisjoint(ids[n:]), "a take's player is outside the recorder"
    return ids[:n]


def _wav_id(data: bytes) -> str:
    return _calculate_file_id(data, "audio/wav")


def _fill(at: AppTest) -> None:
    for label, takes in (("tone", tones()), ("clicks", clicks())):
        _add_class(at, label)
        for data in takes:
            _record(at, label, data)


def test_record_takes_play_delete_rename_and_background():
    at = _recorder_page()
    _fill(at)
    rs: RecordingSet = at.session_state["tr_recset"]
    assert not at.exception and not at.error
    assert rs.labels == ("tone", "clicks") and rs.as_mapping() == {"tone": tones(), "clicks": clicks()}
    # each take plays its own bytes, in order; every recorder is empty again after a take
    assert _audio_ids(at) == [_wav_id(d) for d in tones() + clicks()]
    assert all(a.value is None for a in at.audio_input)
    assert len(at.get("audio")) == 6  # the synthetic set loaded at first is not shown under "Record clips"
    assert any("press 'Use these recordings'" in i.value for i in at.info)
    assert any("6 of 200 takes, 0.1 of 10 min" in c.value for c in at.caption)
    assert any("trims each take to the word" in c.value and "stop right after the word" in c.value
               for c in at.caption)  # bench/takes.py
    # a take that is too short or silent is a clear message, not a traceback, and is not kept
    _record(at, "tone", wav(synth.tone(440, 0.1, SR)))
    assert not at.exception and any("tone take 4 lasts 0.10 s, shorter than" in e.value for e in at.error)
    _record(at, "clicks", wav(synth.silence(1.0, SR)))
    assert any("pure digital silence" in e.value for e in at.error)
    assert at.session_state["tr_recset"].n_takes == 6
    # delete the second tone take
    second = at.session_state["tr_recset"].takes("tone")[1].id
    at.button(key=f"tr_del_{second}").click().run()
    assert at.session_state["tr_recset"].as_mapping()["tone"] == [tones()[0], tones()[2]]
    assert _audio_ids(at) == [_wav_id(d) for d in [tones()[0], tones()[2], *clicks()]]
    # one click adds the background-noise class, explained
    at.button(key="tr_add_bg").click().run()
    assert at.session_state["tr_recset"].labels[-1] == BACKGROUND and at.button(key="tr_add_bg").disabled
    assert any(BACKGROUND_HELP == c.value for c in at.caption)
    _record(at, BACKGROUND, wav(synth.noise(1.0, SR, amp=0.002)))  # quiet is fine for background noise
    assert len(at.session_state["tr_recset"].takes(BACKGROUND)) == 1 and not at.error
    # renaming onto an existing class is refused unless merging is asked for
    at.text_input(key=f"tr_rename_{BACKGROUND}").set_value("Clicks").run()
    at.button(key=f"tr_do_rename_{BACKGROUND}").click().run()
    assert any("cannot rename 'background noise' to 'Clicks': a class named 'clicks' already exists" in e.value
               for e in at.error)
    at.checkbox(key=f"tr_merge_{BACKGROUND}").check().run()
    at.button(key=f"tr_do_rename_{BACKGROUND}").click().run()
    assert at.session_state["tr_recset"].labels == ("tone", "clicks")
    assert len(at.session_state["tr_recset"].takes("clicks")) == 4 and not at.exception


def test_the_take_limit_is_a_clear_message():
    at = _recorder_page()
    at.session_state["tr_recset"] = RecordingSet(max_takes=1).add_class("tone")
    at.run()
    _record(at, "tone", tones()[0])
    _record(at, "tone", tones()[1])
    assert not at.exception and at.session_state["tr_recset"].n_takes == 1
    assert any("already holds 1 takes, the most allowed is 1" in e.value for e in at.error)


def test_export_and_import_round_trip():
    at = _recorder_page()
    _fill(at)
    rs: RecordingSet = at.session_state["tr_recset"]
    data = rs.to_zip()
    button = at.get("download_button")[0]
    assert _calculate_file_id(data, "application/zip", "recordings.zip") in button.proto.url
    at.session_state["tr_recset"] = RecordingSet()
    at.run()
    assert at.session_state["tr_recset"].n_takes == 0
    at.get("file_uploader")[0].upload("recordings.zip", data, "application/zip").run()
    back = at.session_state["tr_recset"]
    assert not at.exception and any("imported recordings.zip" in s.value for s in at.success)
    assert back.as_mapping() == rs.as_mapping()
    assert sorted(_audio_ids(at)) == sorted(_wav_id(d) for d in tones() + clicks())
    # the imported takes are a dataset; a take recorded afterwards is flagged until they are used again
    at.button(key="tr_use_recs").click().run()
    assert sorted(at.session_state["tr_ds"].classes) == ["clicks", "tone"]
    assert not any("recordings changed" in w.value for w in at.warning)
    _record(at, "tone", wav(synth.tone(770, 1.0, SR)))
    assert any("The recordings changed since they were loaded" in w.value for w in at.warning)


@pytest.mark.slow
def test_train_stop_live_curves_and_try_it(monkeypatch):
    import audioclf.service.jobs
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.inference import predict

    jobs: list = []

    class PausingJob(audioclf.service.jobs.TrainingJob):
        """Pauses after epoch 1's scores until the test has pressed Stop; records every event."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.paused, self.gate, self.events = threading.Event(), threading.Event(), []
            jobs.append(self)

        def on_event(self, event) -> None:
            self.events.append(event)
            if event.kind == "epoch" and event.epoch == 1:
                self.paused.set()
                assert self.gate.wait(HANG)

    monkeypatch.setattr(audioclf.service.jobs, "TrainingJob", PausingJob)
    at = _recorder_page()
    _fill(at)
    at.button(key="tr_use_recs").click().run()
    assert not at.exception and at.session_state["tr_ds"].name == "recordings"
    assert len(at.session_state["tr_ds"].clips) == 6
    start = next(r for r in at.radio if r.key.startswith("tr_start_"))
    assert start.value == "Start from a pretrained backbone"  # the default for recordings
    head = next(s for s in at.selectbox if s.key.startswith("tr_head_"))
    assert head.value == "linear"  # the library's default for 3 takes a class: fitted at once, no epochs
    head.set_value("mlp").run()  # a head trained by epochs, to watch and stop
    at.number_input(key="tr_epochs_transfer").set_value(30).run()
    at.button(key="tr_start").click().run()
    job = jobs[-1]
    assert job.paused.wait(HANG)
    at.run()
    assert at.session_state["tr_live"] and at.button(key="tr_stop").label.startswith("Stop")
    at.button(key="tr_stop").click().run()
    assert job.snapshot().stop_requested
    job.gate.set()
    snap = job.wait_for(lambda s: not s.active, HANG)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    res = snap.result
    # Stop ends training after the batch that was running: one batch of epoch 2, then the end
    after = job.events[next(i for i, e in enumerate(job.events) if e.kind == "epoch") + 1:]
    assert [(e.epoch, e.batch) for e in after if e.kind == "batch"] == [(2, 1)]
    assert res.stopped and res.epochs_run <= 2 and "stopped early: best model so far kept" in at.success[0].value
    # the live view stopped redrawing itself, and its curves are the events' numbers
    assert at.session_state["tr_live"] is False
    chart = next(c for c in at.get("plotly_chart") if "batch loss" in c.proto.spec)
    traces = {t["name"]: t for t in json.loads(chart.proto.spec)["data"]}
    epochs = [e for e in job.events if e.kind == "epoch"]
    assert traces["val clip accuracy"]["y"] == [e.val_clip_accuracy for e in epochs]
    assert traces["batch loss"]["y"] == [e.loss for e in job.events if e.kind == "batch"]
    # Try it: a new take is classified by the saved (best) model, as the library does
    new = wav(synth.tone(500, 1.0, SR))
    next(a for a in at.audio_input if a.key.startswith("tr_try_rec_")).set_value(("new.wav", new, "audio/wav")).run()
    assert not at.exception
    expected = predict(load_bundle(res.bundle_path), new)
    assert at.metric[0].value == ("none of these" if expected.unknown else expected.label)
    top = at.dataframe[-1].value  # the last table on the page: "Try it"
    assert top["class"].tolist()[0] == expected.label
    assert top["probability"].tolist() == [round(p, 3) for _, p in expected.top(2)]
    # a sound of none of the classes: "none of these", with the closest class and why, as on Classify
    from audioclf.engine.openset import unknown_message

    noise = wav(np.random.default_rng(3).normal(0, 0.3, SR).astype(np.float32))
    foreign = predict(load_bundle(res.bundle_path), noise)
    assert foreign.unknown  # white noise is far from every tone class
    next(a for a in at.audio_input if a.key.startswith("tr_try_rec_")).set_value(("noise.wav", noise, "audio/wav")).run()
    assert not at.exception and at.metric[0].value == "none of these"
    assert at.warning[-1].value == unknown_message(foreign.label, foreign.open_set)  # (above it: "few clips")
    assert "closest: " in at.warning[-1].value and "100% < 100%" not in at.warning[-1].value
    # Try it live: the model just trained is exported once and runs in the browser (tests/app/test_listen_*)
    from audioclf.service.listen import runtime_missing

    at.radio(key="tr_try_mode").set_value("Listen (live)").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    if runtime_missing():
        assert any("classified on the server" in i.value for i in at.info)
    else:
        assert any("Runs in this browser" in c.value for c in at.caption)


@pytest.mark.slow
def test_each_misclassified_player_plays_its_own_clip():
    """Every class of a recorded set names its files 000.wav, 001.wav ...: each misclassified clip's player must
    play that clip, not another class's file of the same name. One take is recorded in both classes (the same
    sound as tone/001.wav and clicks/002.wav), so the model scores one of the two wrong, whatever it learned."""
    shared = wav(synth.chirp(200, 2000, 1.0, SR))
    at = _recorder_page()
    for label, takes in (("tone", [tones()[0], shared, tones()[2]]), ("clicks", [clicks()[0], clicks()[1], shared])):
        _add_class(at, label)
        for data in takes:
            _record(at, label, data)
    at.button(key="tr_use_recs").click().run()
    ds = at.session_state["tr_ds"]
    assert sorted(c.path.name for c in ds.clips) == ["000.wav", "000.wav", "001.wav", "001.wav", "002.wav", "002.wav"]
    next(t for t in at.text_input if t.key.startswith("tr_split_")).set_value("none").run()  # score every take
    at.button(key="tr_start").click().run()
    at.session_state["train_job"].join(HANG)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    wrong = next(e for e in at.expander if e.label.startswith("Misclassified clips"))
    names = [m.value.split("`")[1] for m in wrong.markdown]  # "`clicks/002.wav`: true **clicks**, predicted ..."
    assert {"tone/001.wav", "clicks/002.wav"} & set(names)  # the shared take is wrong in one of its classes
    own = {f"{c.label}/{c.path.name}": _wav_id(c.path.read_bytes()) for c in ds.clips}
    assert len(set(own.values())) == 5  # the files differ, but for the one shared take
    played = [a.proto.url.rsplit("/", 1)[-1].split(".")[0] for a in wrong.get("audio")]
    assert played == [own[n] for n in names]  # one player per clip, in order, each with its own file's audio
