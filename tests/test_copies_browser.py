"""Issue 24 in real headless Chromium: the Gallery opens the memorising run (the one whose
chart shows copying), its last checkpoint's sample outlines its copied notes, and the longest
copied passage plays next to its original (both rolls with audio that plays).

Skipped when ``/usr/bin/chromium`` is absent.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench_app import CHROMIUM, StudioServer, launch_chromium  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not found")]

MEMORISE = ROOT / "checkpoints" / "bach-memorise-events"
TIMEOUT_MS = 120_000

# Every playing roll on the page: its audio, its notes, its copied notes and their hovers.
ROLLS_JS = """() => Array.from(document.querySelectorAll('iframe')).map(f => {
  let doc = null;
  try { doc = f.contentDocument; } catch (e) {}
  const a = doc && doc.querySelector('[data-composer-player] audio');
  if (!a) return null;
  const data = JSON.parse(doc.getElementById('cs-data').textContent);
  return {src: a.src || null, ready: a.readyState, time: a.currentTime, paused: a.paused,
          notes: doc.querySelectorAll('rect.note').length,
          copied: doc.querySelectorAll('rect.note.copied').length,
          hovers: data.lanes.flatMap(l => l.hover.filter(h => h.includes('copied')))};
}).filter(Boolean)"""
# The same, one entry per iframe in page order (null for one whose page has not loaded yet), so
# a position names the same roll however fast each loads.
ROLLS_BY_PLACE_JS = ROLLS_JS.removesuffix(".filter(Boolean)")


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    from core.evaluation.loaded import LoadedRun

    LoadedRun(MEMORISE).split  # the run's corpus in the shared cache: no background parse
    srv = StudioServer(data_dir, [], extra_env={"COMPOSER_READY_PIECES": "0"})
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def test_the_longest_copied_passage_plays_next_to_its_original(server):
    from playwright.sync_api import sync_playwright

    from core.corpus import read_midi
    from core.evaluation.loaded import LoadedRun
    from core.runs import Run

    run = Run(MEMORISE)
    last = run.epochs()[-1]
    found = LoadedRun(MEMORISE).copy_index.passages(read_midi(run.sample_path(last, ".mid")))
    longest = max(found, key=lambda p: p.notes)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{server.url}/gallery")
        # opened first: the memorising run, the one whose chart shows the copying story
        page.get_by_role("heading", name="bach-memorise-events").wait_for()
        page.get_by_text("What each checkpoint copies").wait_for()
        page.locator('[data-testid="stMarkdownContainer"]', has_text=longest.label()).first.wait_for()
        page.wait_for_function(f"() => ({ROLLS_JS})().some(r => r.copied > 0 && r.ready >= 3)")
        rolls = page.evaluate(ROLLS_JS)
        sample = next(r for r in rolls if r["copied"])
        assert sample["copied"] == sum(len(set(_events(p))) for p in found)
        assert any(longest.source in h for h in sample["hovers"])

        # the longest passage is listed first: its "Play the original" shows the pair
        page.get_by_role("button", name="Play the original").first.click()
        page.get_by_text(f"The original: {longest.original().name}").wait_for()
        page.wait_for_function(f"() => ({ROLLS_BY_PLACE_JS})().slice(1, 3)"
                               ".every(r => r && r.ready >= 3)")
        copy, original = page.evaluate(ROLLS_BY_PLACE_JS)[1:3]  # under the listened sample's roll
        assert copy["notes"] >= longest.notes and original["notes"] >= longest.notes
        assert original["src"].startswith("blob:") and original["src"] != copy["src"]
        frame = page.locator("iframe").nth(2).content_frame
        frame.locator(".cs-play").click()  # the original plays
        page.wait_for_function(f"() => ({ROLLS_BY_PLACE_JS})()[2].time > 0.3")
        frame.locator(".cs-play").click()
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path="/tmp/composer-copies-gallery.png", full_page=True)
        browser.close()


def _events(passage) -> list[int]:
    """The sample's notes in the passage (each note of a unison drawn once per track)."""
    return passage.note_indices.tolist()
