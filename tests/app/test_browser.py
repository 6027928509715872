"""Real-browser end-to-end tests: `streamlit run app.py` driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import os

import pytest

from audioclf import synth
from tests.browser import CHROMIUM, ROOT, launch, streamlit_server, upload_clip
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
    from audioclf.store import list_bundles

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
