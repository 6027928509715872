"""AppTest checks of the Home and Explore pages."""

import io

import numpy as np
import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

from audioclf.audio import synth
from tests.conftest import HANG, ROOT
from tests.corpus import bad_cases

TIMEOUT = HANG  # the first librosa call in a fresh environment compiles numba code


@pytest.fixture
def explore() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/explore.py").run()
    assert not at.exception
    return at


def test_home_shows_backend_device_and_pages():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Keras backend" in labels and "Device for training" in labels
    assert "audioclf" in at.title[0].value
    assert any("feature channel" in m.value for m in at.markdown)


def test_home_names_the_fix_for_an_unused_gpu(fake_nvidia_smi):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    device = next(m for m in at.metric if m.label == "Device for training")
    assert device.value == "CPU"
    assert any("NVIDIA H200 is present but training would run on the CPU" in w.value for w in at.warning)
    assert any("uninstall -y tensorflow-cpu" in c.value for c in at.code)


def test_explore_opens_on_a_real_example_and_keeps_the_synthetic_ones(explore):
    from audioclf.datasets.examples import load_example, opening_example

    at, real = explore, opening_example()
    example = at.selectbox(key="ex_example")
    assert example.value == real.id and example.options[0].startswith("Real: ")
    assert {"Synthetic: " + title for title, _ in synth.EXAMPLES.values()} <= set(example.options)
    y, sr = load_example(real.id)  # the page reads the file at 22 050 Hz, as load_example does
    assert any(c.value == f"{real.path.name}: {len(y) / sr:.2f} s at {sr} Hz" for c in at.caption)
    assert any(real.credit in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 1 and not at.error
    example.set_value("tone_440").run()  # a synthesized clip is one pick away
    assert not at.exception and any(c.value == "tone_440.wav: 2.00 s at 22050 Hz" for c in at.caption)


def test_explore_example_draws_chosen_channels(explore):
    at = explore
    at.multiselect(key="ex_channels").set_value(["mel", "mfcc", "chroma_stft"]).run()
    assert not at.exception and not at.error
    figs = at.get("plotly_chart")
    assert len(figs) == 1
    spec = figs[0].proto.spec
    for title in ("Mel spectrogram", "MFCC", "Chroma"):
        assert title.lower() in spec.lower()


@pytest.mark.parametrize(("toggle", "rects"), [("ex_split", 3), ("ex_trim", 1)])
def test_explore_split_and_trim_shade_what_they_keep_before_and_after(explore, toggle, rects):
    """Split: the three bursts are shaded; trim: one stretch, first burst to last, the pauses between kept."""
    at = explore
    at.selectbox(key="ex_example").set_value("bursts").run()
    at.toggle(key=toggle).set_value(True).run()
    assert not at.exception and not at.error
    figs = at.get("plotly_chart")
    assert len(figs) == 2  # before/after + channels
    assert figs[0].proto.spec.count('"type":"rect"') == rects
    assert len(at.get("audio")) == 2


def test_explore_denoise_range_and_download(explore):
    at = explore
    at.selectbox(key="ex_example").set_value("noisy_tone").run()
    at.toggle(key="ex_denoise").set_value(True).run()
    at.radio(key="ex_prof").set_value("a time range").run()
    assert not at.exception and not at.error
    assert len(at.get("download_button")) >= 2


def test_explore_upload_wav(explore):
    at = explore
    at.radio(key="ex_source").set_value("Upload").run()
    buf = io.BytesIO()
    sf.write(buf, synth.chirp(200, 3000, 1.0, 16000), 16000, format="WAV")
    at.get("file_uploader")[0].upload("chirp.wav", buf.getvalue(), "audio/wav").run()
    assert not at.exception and not at.error
    assert any("chirp.wav" in c.value for c in at.caption)


@pytest.mark.parametrize(("fmt", "subtype", "mime"), [("FLAC", None, "audio/flac"), ("OGG", "VORBIS", "audio/ogg"),
                                                 ("MP3", "MPEG_LAYER_III", "audio/mpeg")])
def test_explore_upload_of_each_compressed_format(explore, fmt, subtype, mime):
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    from audioclf.audio.io import load_audio, to_wav_bytes
    from tests.corpus import encode

    at = explore
    at.radio(key="ex_source").set_value("Upload").run()
    data = encode(synth.tone(1000, 1.0, 22050), 22050, fmt, subtype)
    name = f"tone.{fmt.lower()}"
    at.get("file_uploader")[0].upload(name, data, mime).run()
    assert not at.exception and not at.error
    y, sr = load_audio(data, sr=22050, name=name)
    spectrum = np.abs(np.fft.rfft(y))
    assert np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spectrum)] == pytest.approx(1000, abs=2)  # the same sound
    assert any(c.value == f"{name}: {len(y) / sr:.2f} s at 22050 Hz" for c in at.caption)
    player = at.get("audio")[0].proto.url.rsplit("/", 1)[-1].split(".")[0]
    assert player == _calculate_file_id(to_wav_bytes(y, sr), "audio/wav")  # the page plays what it decoded
    assert len(at.get("plotly_chart")) == 1


@pytest.mark.parametrize("case", sorted(bad_cases()))
def test_explore_bad_upload_shows_error_not_exception(explore, case):
    at = explore
    at.radio(key="ex_source").set_value("Upload").run()
    data = bad_cases()[case][0]
    at.get("file_uploader")[0].upload(f"{case}.wav", data, "audio/wav").run()
    assert not at.exception
    assert len(at.error) == 1 and f"{case}.wav" in at.error[0].value


def test_explore_record(explore):
    at = explore
    at.radio(key="ex_source").set_value("Record").run()
    buf = io.BytesIO()
    sf.write(buf, np.clip(synth.tone(300, 0.5, 16000), -1, 1), 16000, format="WAV")
    at.audio_input(key="ex_record").set_value(("rec.wav", buf.getvalue(), "audio/wav")).run()
    assert not at.exception and not at.error
    assert any("recording.wav" in c.value for c in at.caption)


def test_compare_two_clips_and_two_settings_on_the_same_channels():
    import json

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception and not at.error
    figs = {c.proto.id: c for c in at.get("plotly_chart")}
    assert len(figs) == 2  # A and B, each with the chosen channels (mel, mfcc)

    def mel_width(side: str) -> int:
        chart = next(c for c in at.get("plotly_chart") if f"cmp{side}_fig" in c.proto.id)
        spec = json.loads(chart.proto.spec)
        z = spec["data"][0]["z"]  # the first channel's heatmap: plain lists or plotly's typed array
        return int(str(z["shape"]).split(",")[-1]) if isinstance(z, dict) else len(z[0])  # its frames

    a_before, b_before = mel_width("A"), mel_width("B")
    at.selectbox(key="cmpB_hop").set_value(128).run()  # a different parameter set on B only (hop 512 -> 128)
    assert not at.exception and not at.error
    assert mel_width("B") > 3 * b_before and mel_width("A") == a_before
