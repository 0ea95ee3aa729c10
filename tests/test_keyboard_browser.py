"""Play a phrase, the model answers (issue 25), in real headless Chromium against the app as
``make run`` serves it: C4 E4 G4 C5 on the on-screen keys (Generate, mouse), on the computer
keys with a click track (Home) and tapped at a phone's size with touch (Home); each time Answer gives a piece
whose MIDI download begins with those four pitches in that order, in a track of their own,
followed by the model's notes, drawn in two colours. Skipped when ``/usr/bin/chromium`` is
absent. The phrase -> primer path itself is tested without a browser in ``test_phrase.py``."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pretty_midi
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench_app import CHROMIUM, StudioServer  # noqa: E402

from core.generation.phrase import ANSWER_TRACK, PHRASE_TRACK  # noqa: E402
from core.training import gallery  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not found"),
              pytest.mark.skipif(gallery.default_run() is None, reason="no shipped gallery run")]

TIMEOUT_MS = 120_000
PHRASE = ["C4", "E4", "G4", "C5"]
PITCHES = [60, 64, 67, 72]
# The colours of the notes drawn by the playing roll of the newest result.
ROLL_COLOURS_JS = """() => {
  const frames = Array.from(document.querySelectorAll('iframe'));
  for (const f of frames.reverse()) {
    let doc = null;
    try { doc = f.contentDocument; } catch (e) {}
    const notes = doc ? doc.querySelectorAll('[data-composer-player] rect.note') : [];
    if (notes.length) return Array.from(new Set(Array.from(notes, n => n.getAttribute('fill'))));
  }
  return [];
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("keyboard-data")
    srv = StudioServer(data, [], extra_env={"COMPOSER_READY_PIECES": "0"})
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def open_page(browser, url: str, **context):
    ctx = browser.new_context(**({"viewport": {"width": 1280, "height": 900}} | context))
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.get_by_role("button", name="C4", exact=True).wait_for()
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSpinner\"]')")
    return page


def answer_and_check(page) -> None:
    """Press Answer; the newest result's MIDI download is the phrase, then the model's notes."""
    downloads = page.locator('[data-testid="stDownloadButton"] button').filter(has_text="MIDI")
    before = downloads.count()
    page.get_by_role("button", name="Answer", exact=True).click()
    page.wait_for_function("(n) => document.querySelectorAll('[data-testid=\"stDownloadButton\"]')"
                           ".length > n", arg=before)
    assert page.locator('[data-testid="stException"]').count() == 0
    with page.expect_download() as download:
        downloads.first.click()
    midi = pretty_midi.PrettyMIDI(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert [i.name for i in midi.instruments] == [PHRASE_TRACK, ANSWER_TRACK]
    mine = sorted(midi.instruments[0].notes, key=lambda n: n.start)
    assert [n.pitch for n in mine] == PITCHES
    notes = sorted(((n.start, i, n.pitch) for i, inst in enumerate(midi.instruments)
                    for n in inst.notes))
    assert [p for _, _, p in notes[:4]] == PITCHES and len(notes) > 4, notes[:12]  # then the model's
    assert all(i == 1 for _, i, _ in notes[4:])
    page.wait_for_function(f"() => ({ROLL_COLOURS_JS})().length >= 2")   # two colours, one roll


def test_on_screen_keys_on_generate(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{server.url}/generate")
    page.get_by_text("What I play").click()
    page.get_by_role("button", name="C4", exact=True).wait_for()
    page.get_by_role("button", name="Octave up").wait_for()
    for name in PHRASE:
        page.get_by_role("button", name=name, exact=True).click(delay=120)
        page.wait_for_timeout(150)
    played = page.evaluate("() => window.__composerKeyboard.notes.map(n => n.pitch)")
    assert played == PITCHES
    page.get_by_role("button", name="Undo").click()
    page.get_by_role("button", name="C5", exact=True).click(delay=120)
    answer_and_check(page)
    page.close()


def test_computer_keys_on_home(server, browser):
    page = open_page(browser, server.url)
    page.get_by_role("heading", name="Play something, the model answers").wait_for()
    page.get_by_label("Tempo (bpm)").fill("100")
    page.get_by_label("Tempo (bpm)").press("Tab")
    page.get_by_text("Click", exact=True).click()   # a click track at 100 bpm while playing
    page.wait_for_function("() => window.__composerKeyboard.synth.clickStart !== null")
    for code in ("a", "d", "g", "k"):   # C4 E4 G4 C5 on the white-key row
        page.keyboard.down(code)
        page.wait_for_timeout(150)
        page.keyboard.up(code)
        page.wait_for_timeout(100)
    assert page.evaluate("() => window.__composerKeyboard.notes.map(n => n.pitch)") == PITCHES
    assert page.evaluate("() => window.__composerKeyboard.tempo") == 100
    page.keyboard.press("x")   # an octave up: the lowest key is C5
    page.get_by_role("button", name="C6", exact=True).wait_for()
    assert page.get_by_role("button", name="C4", exact=True).count() == 0
    answer_and_check(page)
    page.context.close()


def test_touch_at_a_phone_size_on_home(server, browser):
    page = open_page(browser, server.url, viewport={"width": 390, "height": 844}, has_touch=True,
                     is_mobile=True, device_scale_factor=2)
    for name in PHRASE:
        key = page.get_by_role("button", name=name, exact=True)
        key.scroll_into_view_if_needed()
        key.tap()
        page.wait_for_timeout(200)
    assert page.evaluate("() => window.__composerKeyboard.notes.map(n => n.pitch)") == PITCHES
    wide = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert wide <= 390, f"the page is {wide} px wide at a 390 px phone"
    answer_and_check(page)
    page.context.close()
