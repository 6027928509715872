"""Real-browser end-to-end tests: `streamlit run app.py` driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import os

import pytest

from audioclf.audio import synth
from tests.browser import CHROMIUM, ROOT, launch, pick, streamlit_server, upload_clip, wait_idle
from tests.conftest import HANG
from tests.corpus import encode

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = ROOT / "tests" / "_artifacts"
LOAD = HANG * 1000  # ms; the first librosa call in a fresh environment compiles numba code


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium not installed (make test installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def pretrained_env(tmp_path_factory):
    """Use the shipped pretrained models; without any, train a tiny one so Classify has a model."""
    from audioclf.service.store import list_bundles

    if list_bundles():
        return {}
    from audioclf.datasets import SyntheticConfig, make_synthetic_dataset
    from audioclf.engine.config import TrainConfig
    from audioclf.engine.recipes import default_pipeline
    from audioclf.engine.train import train
    root = tmp_path_factory.mktemp("pretrained")
    ds = make_synthetic_dataset(root.parent / "synth", config=SyntheticConfig(clips_per_class=6))
    train(ds, config=TrainConfig(model="cldnn", attention="rnn", epochs=1, split="fold:3"),
          pipeline=default_pipeline("cldnn", sr=16000, input_shape=(32, 32, 1)), out=root / "tiny_cldnn", cache=False)
    return {"AUDIOCLF_PRETRAINED": str(root)}


@pytest.fixture(scope="module")
def app_url(pretrained_env):
    with streamlit_server(env=pretrained_env) as url:
        yield url


def _open_page(browser, app_url, link: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(app_url)
    page.wait_for_selector('[data-testid="stMetric"]', timeout=LOAD)
    page.get_by_role("link", name=link).first.click()
    return page


def test_upload_wav_on_explore_shows_spectrogram(browser, app_url, tmp_path):
    SHOTS.mkdir(exist_ok=True)
    wav = tmp_path / "sweep.wav"
    wav.write_bytes(encode(synth.chirp(150, 6000, 2.0, 22050), 22050))
    page = _open_page(browser, app_url, "Explore")
    upload_clip(page, wav, timeout=LOAD)
    page.get_by_text("sweep.wav: 2.00 s at 22050 Hz").wait_for(timeout=LOAD)
    page.wait_for_selector(".js-plotly-plot .heatmaplayer", timeout=LOAD)
    assert page.locator(".js-plotly-plot").count() >= 1
    assert page.get_by_text("Mel spectrogram").count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(SHOTS / "explore.png"), full_page=True)
    page.close()


def test_classify_upload_with_pretrained_shows_timeline(browser, app_url, tmp_path):
    SHOTS.mkdir(exist_ok=True)
    wav = tmp_path / "clip.wav"
    wav.write_bytes(encode(synth.example("syllables", 16000), 16000))
    page = _open_page(browser, app_url, "Classify")
    upload_clip(page, wav, timeout=LOAD)
    page.wait_for_selector('[data-testid="stMetric"]', timeout=LOAD)
    page.get_by_text("Per-window class probabilities").wait_for(timeout=LOAD)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(SHOTS / "classify.png"), full_page=True)
    page.close()


@pytest.mark.parametrize(("link", "ready"), [("Home", ("heading", "Pretrained models")),
                                             ("Train", ("button", "Train")),  # drawn after the model diagram
                                             ("Compare", ("heading", "Compare"))])
def test_other_pages_render_in_the_browser(browser, app_url, link, ready):
    SHOTS.mkdir(exist_ok=True)
    page = _open_page(browser, app_url, link)
    page.get_by_role(ready[0], name=ready[1], exact=True).first.wait_for(timeout=LOAD)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    page.screenshot(path=str(SHOTS / f"{link.lower()}.png"), full_page=True)
    page.close()


def _shot(page, name: str) -> None:
    """Screenshot one step of the walk, after checking it shows no exception, no error and no broken image."""
    wait_idle(page, LOAD)
    assert page.locator('[data-testid="stException"]').count() == 0, f"{name}: the page shows an exception"
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0, f"{name}: the page shows an error"
    broken = page.evaluate("() => Array.from(document.images)"
                           ".filter(i => i.complete && i.naturalWidth === 0 && i.src).map(i => i.src)")
    assert broken == [], f"{name}: broken images {broken}"
    page.screenshot(path=str(SHOTS / f"classroom_{name}.png"), full_page=True)


def _recorded_zip(path) -> None:
    """A lesson's recordings as the recorder exports them: class folders of takes (a whistle and a hiss)."""
    import zipfile

    import numpy as np
    with zipfile.ZipFile(path, "w") as zf:
        for k in range(3):
            zf.writestr(f"whistle/{k:03d}.wav", encode(synth.tone(900.0 + 60 * k, 1.5, 16000, amp=0.5), 16000))
            hiss = synth.noise(1.5, 16000, amp=0.3, rng=k) * np.hanning(24000)
            zf.writestr(f"hiss/{k:03d}.wav", encode(hiss, 16000))


def test_classroom_walk(browser, app_url, tmp_path):
    """Issue 17's classroom path: Home, Explore a real example, Classify it with every shipped model (attention
    and Grad-CAM), load a recorded set, train on a backbone, classify a new take, export the set."""
    from audioclf.service.store import list_bundles

    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    page.set_default_timeout(LOAD)
    page.goto(app_url)
    page.wait_for_selector('[data-testid="stMetric"]')
    _shot(page, "1_home")

    page.get_by_role("link", name="Explore").first.click()
    page.get_by_role("heading", name="Explore a clip").wait_for()
    pick(page, "Example", "Real: Rooster (ESC-10)")
    page.get_by_text("Source:").first.wait_for()
    page.wait_for_selector(".js-plotly-plot .heatmaplayer")
    _shot(page, "2_explore_real_example")

    page.get_by_role("link", name="Classify").first.click()
    page.get_by_role("heading", name="Classify a clip").wait_for()
    for i, entry in enumerate(list_bundles()):
        pick(page, "Pretrained model", f"{entry.name}: {entry.architecture} on {entry.dataset or '?'}")
        page.get_by_text("Per-window class probabilities").first.wait_for()
        page.get_by_role("heading", name="Grad-CAM").wait_for()
        if i == 0:  # on demand; the switch then stays on for the next models
            wait_idle(page, LOAD)
            page.get_by_text("Show Grad-CAM", exact=False).first.click()
        page.get_by_text("Grad-CAM for").first.wait_for()
        page.get_by_text("Model card").first.click()  # open the card: its images must load
        _shot(page, f"3_classify_{i}_{entry.name}_card")
        page.get_by_text("Model card").first.click()
        page.get_by_role("heading", name="Grad-CAM").scroll_into_view_if_needed()
        _shot(page, f"3_classify_{i}_{entry.name}")

    page.get_by_role("link", name="Train").first.click()
    page.get_by_role("heading", name="Train a model").wait_for()
    wait_idle(page, LOAD)
    page.locator('[data-testid="stRadio"]').get_by_text("Record clips", exact=True).click()
    wait_idle(page, LOAD)
    page.get_by_text("Save or load recordings (zip of class folders)").click()
    zip_in = tmp_path / "lesson.zip"
    _recorded_zip(zip_in)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(zip_in))
    page.get_by_text("whistle", exact=True).first.wait_for()
    wait_idle(page, LOAD)
    page.get_by_role("button", name="Use these recordings").click()
    page.get_by_role("heading", name="2. Model").wait_for()
    _shot(page, "4_recorded_set")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_role("heading", name="4. Results").wait_for()
    take = tmp_path / "new_take.wav"
    take.write_bytes(encode(synth.tone(960.0, 1.5, 16000, amp=0.5), 16000))
    page.get_by_role("heading", name="5. Try it").wait_for()
    wait_idle(page, LOAD)
    page.locator('[data-testid="stFileUploader"]').filter(has=page.get_by_text("…or upload a clip")) \
        .locator('input[type="file"]').set_input_files(str(take))
    page.get_by_text("Predicted class").wait_for()
    page.get_by_role("heading", name="4. Results").scroll_into_view_if_needed()
    _shot(page, "5_trained_and_tried")

    page.get_by_text("Save or load recordings (zip of class folders)").click()
    with page.expect_download() as dl:
        page.get_by_role("button", name="Export the recordings (.zip)").click()
    out = tmp_path / "exported.zip"
    dl.value.save_as(out)
    import zipfile
    with zipfile.ZipFile(out) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".wav"))
    assert [n.split("/")[0] for n in names] == ["hiss"] * 3 + ["whistle"] * 3
    _shot(page, "6_exported")
    page.close()
