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
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench_app import (CHROMIUM, PLAYER_JS, StudioServer, compose_once,  # noqa: E402
                       open_home)

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
        from core.training import jobs  # stop the training the test started, if it still runs
        for job in jobs.active_jobs(data / "runs"):
            jobs.stop(job.path, wait=20)
        if saved is None:
            os.environ.pop("COMPOSER_DATA", None)
        else:
            os.environ["COMPOSER_DATA"] = saved


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


def test_every_request_of_a_page_stays_on_this_machine(server, browser):
    """The app works offline: loading Home and the Train page asks nothing of another host
    (the page icon once came from fonts.gstatic.com)."""
    from urllib.parse import urlsplit

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    hosts = []
    page.on("request", lambda request: hosts.append(urlsplit(request.url).hostname))
    page.goto(server.url)
    page.get_by_role("button", name="Compose").wait_for()
    page.goto(f"{server.url}/train")
    page.get_by_role("button", name="Start training").wait_for()
    page.wait_for_timeout(500)
    assert hosts and set(hosts) - {None} <= {"127.0.0.1", "localhost", "::1"}, set(hosts)
    page.close()


def test_home_compose_plays_audio_and_draws_a_piano_roll(server, browser):
    page = open_home(browser, server.url, TIMEOUT_MS)
    seconds = compose_once(page, TIMEOUT_MS)
    player = page.evaluate(PLAYER_JS)
    assert player["src"].startswith("blob:") and player["ready"] >= 3 and player["notes"] > 0
    page.get_by_role("button", name="MIDI", exact=True).wait_for()
    page.get_by_role("button", name="WAV").wait_for()
    page.wait_for_timeout(300)
    shot(page, "home")
    print(f"compose to audio ready: {seconds:.2f} s")
    page.close()


def upload(page, files: list[dict], timeout_s: float = 120.0) -> None:
    """Put ``files`` in the page's file uploader and wait until the server has every one (its
    upload endpoint answered each PUT): a button pressed before that can race the uploader's
    own rerun (seen once in a fresh clone's parallel run: the page never answered the press)."""
    stored = []
    page.on("response", lambda r: stored.append(r.status) if (
        "/_stcore/upload_file" in r.url and r.request.method == "PUT") else None)
    page.locator('input[type="file"]').set_input_files(files=files)
    deadline = time.monotonic() + timeout_s
    while len(stored) < len(files):
        assert time.monotonic() < deadline, f"{len(stored)} of {len(files)} files uploaded"
        page.wait_for_timeout(100)
    assert all(code == 204 or code == 200 for code in stored), stored
    page.get_by_text(files[-1]["name"]).first.wait_for()


def test_junk_upload_shows_its_message(server, browser):
    page = goto(browser, f"{server.url}/corpus")
    page.get_by_role("tab", name="Upload MIDI").click()
    upload(page, [{"name": "junk.mid", "mimeType": "audio/midi", "buffer": b"this is not a MIDI file"}])
    page.get_by_role("button", name="Load uploaded files").click()
    page.get_by_text("Reading your files failed").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def test_a_damaged_upload_is_used_and_its_repairs_shown(server, browser):
    """Issue 27: an RMID file with a key signature in mode 2 is used, listed as repaired (what
    was repaired: ``tests/test_midi_repair.py``), next to the junk file it was uploaded with."""
    from hostile import in_riff, key_in_mode_2, with_key_and_volume

    page = goto(browser, f"{server.url}/corpus")
    page.get_by_role("tab", name="Upload MIDI").click()
    upload(page, [{"name": "song.rmi", "mimeType": "audio/midi",
                   "buffer": in_riff(key_in_mode_2(with_key_and_volume()))},
                  {"name": "junk.mid", "mimeType": "audio/midi", "buffer": b"this is not a MIDI file"}])
    page.get_by_role("button", name="Load uploaded files").click()
    page.get_by_text("Repaired files (1)").wait_for()
    page.get_by_text("Skipped files (1)").wait_for()
    page.get_by_text("1 of 2 files used").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def test_training_adds_points_to_the_live_chart(server, browser):
    page = goto(browser, f"{server.url}/train")
    page.get_by_text("epochs", exact=True).click()
    for label, value in (("Pieces to use (0 = all)", "4"), ("Minutes or epochs", "2")):
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
    page.wait_for_function(f"() => ({PLAYER_JS})().ready >= 3")
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


def player_frame(page):
    """The frame of the first piano roll that plays along (``core/render/player.py``)."""
    page.wait_for_function(f"() => ({PLAYER_JS})().ready >= 3")
    return next(f for f in page.frames if f.query_selector("[data-composer-player]"))


PLAYHEAD_JS = """() => {
  const a = document.querySelector('audio'), plot = document.querySelector('.cs-plot');
  const head = document.querySelector('.cs-head').getBoundingClientRect();
  const box = plot.getBoundingClientRect();
  return {time: a.currentTime, paused: a.paused, duration: a.duration,
          head: (head.left + head.width / 2 - box.left) / box.width,
          lit: document.querySelectorAll('rect.note.on').length,
          notes: document.querySelectorAll('rect.note').length};
}"""


# The piece's notes as the score writes them: on the 16th grid, a note of the same pitch, onset
# and end as another written once (core.render.score); read from the player's own data.
SIXTEENTHS_JS = """() => {
  const data = JSON.parse(document.getElementById('cs-data').textContent);
  const step = data.seconds_per_beat / 4, seen = new Set();
  const round = x => {  // half to even, as numpy rounds (times carry 4 decimals of seconds)
    const f = Math.floor(x), d = x - f;
    return Math.abs(d - 0.5) < 0.01 ? (f % 2 === 0 ? f : f + 1) : Math.round(x);
  };
  data.lanes.forEach((lane, k) => lane.notes.forEach(([s, e, row]) => {
    const a = round(s / step), b = Math.max(round(e / step), a + 1);
    seen.add([k, row, a, b].join());
  }));
  return seen.size;
}"""


def test_the_piano_roll_plays_along_seeks_on_click_and_the_score_has_every_note(server, browser):
    page = open_home(browser, server.url, TIMEOUT_MS)
    compose_once(page, TIMEOUT_MS)
    frame = player_frame(page)
    start = frame.evaluate(PLAYHEAD_JS)
    assert start["time"] == 0 and start["head"] == pytest.approx(0, abs=0.01)

    # play for a second: the audio's clock runs and the playhead moves with it, lighting notes
    frame.click(".cs-play")
    frame.wait_for_timeout(1000)
    playing = frame.evaluate(PLAYHEAD_JS)
    assert not playing["paused"] and 0.5 < playing["time"] < 3.0
    span = max(playing["duration"], 1e-3)
    assert playing["head"] > start["head"] + 0.02
    assert playing["head"] == pytest.approx(playing["time"] / span, abs=0.03)
    lit = frame.wait_for_function("() => document.querySelectorAll('rect.note.on').length > 0")
    assert lit
    frame.click(".cs-play")  # pause: the playhead stays where the audio stopped
    paused = frame.evaluate(PLAYHEAD_JS)
    frame.wait_for_timeout(300)
    assert frame.evaluate(PLAYHEAD_JS)["head"] == pytest.approx(paused["head"], abs=0.002)

    # a click three quarters along the roll seeks the audio there
    box = frame.locator(".cs-plot").bounding_box()
    frame.locator(".cs-plot").click(position={"x": box["width"] * 0.75, "y": box["height"] * 0.05})
    frame.wait_for_function("() => Math.abs(document.querySelector('audio').currentTime - "
                            f"{0.75 * span}) < 0.25")
    seeked = frame.evaluate(PLAYHEAD_JS)
    assert seeked["time"] > paused["time"] + 0.5
    assert seeked["head"] == pytest.approx(0.75, abs=0.02)

    # replay: played to the end, Play starts again from the top with the playhead
    frame.locator(".cs-plot").click(position={"x": box["width"] * 0.99, "y": box["height"] * 0.05})
    frame.click(".cs-play")
    frame.wait_for_function("() => document.querySelector('audio').ended", timeout=10_000)
    frame.click(".cs-play")
    frame.wait_for_timeout(400)
    again = frame.evaluate(PLAYHEAD_JS)
    assert not again["paused"] and 0 < again["time"] < 1.5
    assert again["head"] == pytest.approx(again["time"] / span, abs=0.03)
    frame.click(".cs-play")

    # the Score tab: Verovio's SVG, one engraved note per note of the piece (tied pieces apart)
    page.get_by_role("tab", name="Score").click()
    page.wait_for_function("""() => Array.from(document.querySelectorAll('iframe')).some(f => {
        try { return f.contentDocument.querySelector('[data-composer-score] svg g.note'); }
        catch (e) { return false; } })""")
    score = next(f for f in page.frames if f.query_selector("[data-composer-score]"))
    engraved = score.evaluate("""() => ({notes: document.querySelectorAll('svg g.note').length,
        ties: new Set(Array.from(document.querySelectorAll('svg g.tie'), t => t.dataset.endid)).size,
        pages: document.querySelectorAll('.cs-page').length})""")
    assert engraved["pages"] >= 1
    expected = frame.evaluate(SIXTEENTHS_JS)
    if engraved["notes"] - engraved["ties"] != expected:  # keep what it was for a look
        Path("/tmp/composer-score-mismatch.html").write_text(score.content())
        Path("/tmp/composer-player-mismatch.html").write_text(frame.content())
    assert engraved["notes"] - engraved["ties"] == expected > 0, engraved
    assert page.locator('[data-testid="stException"]').count() == 0
    page.wait_for_timeout(300)
    shot(page, "score")
    page.close()
