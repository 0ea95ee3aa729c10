"""End to end in real headless Chromium: the app as ``streamlit run`` serves it.

Home's Compose gives a playable ``<audio>`` and a drawn piano roll; a junk upload shows its
message; a tiny training started on the Train page adds a point to the live chart; Generate
works. ``UPDATE_SCREENSHOTS=1`` saves the screenshots to ``docs/screenshots/``. Skipped when
``/usr/bin/chromium`` is absent.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench_app import CHROMIUM, StudioServer, compose_once, launch_chromium, open_home  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not found")]

# Screenshots land in docs/screenshots/ only when asked (UPDATE_SCREENSHOTS=1), so an ordinary
# test run leaves the repository untouched; otherwise they go to a temporary folder.
SHOTS = ROOT / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") else None
MAX_SHOT_BYTES = 300_000
TIMEOUT_MS = 120_000

# Some Plotly chart on the page has a trace with at least ``n`` points.
CHART_POINTS_JS = """(n) => Array.from(document.querySelectorAll('.js-plotly-plot'))
  .some(el => (el.data || []).some(t => t.x && t.x.length >= n))"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_run):
    base = tmp_path_factory.getbasetemp() / "app"
    base.mkdir(exist_ok=True)
    data = tmp_path_factory.mktemp("browser-data")
    saved = os.environ.get("COMPOSER_DATA")
    os.environ["COMPOSER_DATA"] = str(base / "data")
    run = base / "runs" / "tiny"
    if not run.is_dir():
        shutil.copytree(tiny_run.path, run)
    (base / "data" / "cache").mkdir(parents=True, exist_ok=True)
    (data / "cache").symlink_to(base / "data" / "cache")  # parsed corpora: no second parse
    os.environ["COMPOSER_DATA"] = str(data)
    srv = StudioServer(data, [run.parent])
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()
        from core import jobs  # stop the training the test started, if it still runs
        for job in jobs.active_jobs(data / "runs"):
            jobs.stop(job.path, wait=20)
        if saved is None:
            os.environ.pop("COMPOSER_DATA", None)
        else:
            os.environ["COMPOSER_DATA"] = saved


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def shot(page, name: str) -> Path:
    """A PNG of the visible part of the page, kept under 300 KB."""
    folder = SHOTS or Path(os.environ.get("PYTEST_SHOTS_DIR", "/tmp")) / "composer-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    if path.stat().st_size > MAX_SHOT_BYTES:  # a busy page: a smaller window makes a smaller file
        page.set_viewport_size({"width": 1100, "height": 700})
        page.screenshot(path=str(path))
        page.set_viewport_size({"width": 1280, "height": 900})
    assert path.stat().st_size <= MAX_SHOT_BYTES * 1.2
    return path


def goto(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.locator('[data-testid="stMain"]').wait_for()
    return page


def test_home_compose_plays_audio_and_draws_a_piano_roll(server, browser):
    page = open_home(browser, server.url, TIMEOUT_MS)
    seconds = compose_once(page, TIMEOUT_MS)
    src = page.locator("audio").first.get_attribute("src")
    assert src and "/media/" in src
    assert page.locator(".js-plotly-plot g.point").count() > 0
    page.get_by_role("button", name="MIDI").wait_for()
    page.get_by_role("button", name="WAV").wait_for()
    page.wait_for_timeout(300)
    shot(page, "home")
    print(f"compose to audio ready: {seconds:.2f} s")
    page.close()


def test_junk_upload_shows_its_message(server, browser):
    page = goto(browser, f"{server.url}/corpus")
    page.get_by_role("tab", name="Upload MIDI").click()
    page.locator('input[type="file"]').set_input_files(
        files=[{"name": "junk.mid", "mimeType": "audio/midi", "buffer": b"this is not a MIDI file"}])
    page.get_by_text("junk.mid").first.wait_for()
    page.get_by_role("button", name="Load uploaded files").click()
    page.get_by_text("Reading your files failed").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def test_training_adds_points_to_the_live_chart(server, browser):
    page = goto(browser, f"{server.url}/train")
    for label, value in (("Pieces to use (0 = all)", "4"), ("Epochs", "2")):
        box = page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Tab")
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("waiting for the first epoch").first.wait_for()
    page.wait_for_function(CHART_POINTS_JS, arg=1, timeout=180_000, polling=500)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.locator('[data-testid="stProgress"]').last.scroll_into_view_if_needed()
    page.mouse.wheel(0, 250)
    page.wait_for_timeout(500)
    shot(page, "train")
    page.close()


def test_generate_and_gallery_pages(server, browser):
    page = goto(browser, f"{server.url}/generate")
    page.get_by_role("button", name="Generate").click()
    page.locator("audio[src]").first.wait_for()
    page.locator(".js-plotly-plot g.point").first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    page.wait_for_timeout(300)
    shot(page, "generate")
    page.goto(f"{server.url}/gallery")
    page.get_by_role("button", name="Open").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    page.wait_for_timeout(500)
    shot(page, "gallery")
    page.close()
