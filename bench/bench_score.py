"""Sheet music and the playing piano roll: how long they take to make and to show; prints JSON.

    .venv/bin/python bench/bench_score.py [--runs 5]

For a 30 s and a 120 s four-voice piece (``bench_render.four_voices``, 120 bpm):
- ``score_ms``: the Score tab's server side, MusicXML export (music21) then Verovio's SVG
  pages, median of ``--runs`` after one warm-up (the first call, which imports music21 and
  Verovio, is timed on its own as ``first_call_s``);
- ``player_build_ms``: building the playing piano roll's page (roll data + base64 WAV);
- ``browser_ms``: in headless Chromium (``/usr/bin/chromium``), from handing the page to the
  browser until it is usable: the player's audio can play (``readyState >= 3``) with every note
  drawn; the score's SVG laid out. ``before`` is what the player replaces, ``st.audio`` + a
  Plotly roll, on a page with plotly.js already loaded (as the app's frontend has it): audio
  ready with the bars drawn; ``added`` = player + score - before. Medians of ``--runs``.
The machine's load average and CPU count are recorded with the figures.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_app import CHROMIUM, launch_chromium  # noqa: E402
from bench_render import four_voices  # noqa: E402

from core.render import piano_roll, render_audio, to_musicxml  # noqa: E402
from core.render.engrave import score_html, score_svgs, verovio_version  # noqa: E402
from core.render.player import player_html  # noqa: E402

SAMPLE_RATE = 32000  # as the app renders
PLAYER_READY_JS = """() => { const a = document.querySelector('audio');
  return a && a.readyState >= 3 && document.querySelectorAll('rect.note').length > 0; }"""
SCORE_READY_JS = """() => new Promise(r => requestAnimationFrame(() =>
  r(document.querySelectorAll('svg g.note').length > 0 && document.body.offsetHeight > 0)))"""
BEFORE_READY_JS = """() => { const a = document.querySelector('audio');
  return a && a.readyState >= 3 && document.querySelectorAll('.js-plotly-plot g.point').length > 0; }"""


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(1000 * statistics.median(times), 1)


def before_ms(browser, piece, wav: bytes, runs: int) -> float:
    """What a result was before, ``st.audio`` + ``st.plotly_chart``: on a page that has
    plotly.js loaded already (the app's frontend ships it), the median time from handing over
    the audio and the figure until the audio can play and the bars are drawn."""
    from plotly.offline import get_plotlyjs

    figure = json.loads(piano_roll(piece).to_json())
    src = "data:audio/wav;base64," + base64.b64encode(wav).decode()
    times = []
    for _ in range(runs):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_content(f"<script>{get_plotlyjs()}</script><audio controls></audio><div id=r></div>")
        t0 = time.perf_counter()
        page.evaluate("""([fig, src]) => { document.querySelector('audio').src = src;
            Plotly.newPlot('r', fig.data, fig.layout); }""", [figure, src])
        page.wait_for_function(BEFORE_READY_JS, timeout=60_000, polling=10)
        times.append(time.perf_counter() - t0)
        page.close()
    return round(1000 * statistics.median(times), 1)


def browser_ms(browser, html: str, ready_js: str, runs: int) -> float:
    """Median time from handing ``html`` to a fresh page until ``ready_js`` holds."""
    times = []
    for _ in range(runs):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        t0 = time.perf_counter()
        page.set_content(html, wait_until="commit")
        page.wait_for_function(ready_js, timeout=60_000, polling=10)
        times.append(time.perf_counter() - t0)
        page.close()
    return round(1000 * statistics.median(times), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    result = {"machine": {"cpus": os.cpu_count(), "load_before": [round(x, 2) for x in os.getloadavg()],
                          "python": platform.python_version(), "verovio": verovio_version()},
              "runs": args.runs}
    pieces = {"30s": four_voices(30.0), "120s": four_voices(120.0)}
    t0 = time.perf_counter()
    score_svgs(to_musicxml(pieces["30s"]))
    result["first_call_s"] = round(time.perf_counter() - t0, 2)

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p) if Path(CHROMIUM).exists() else None
        for name, piece in pieces.items():
            xml = to_musicxml(piece)
            svgs = score_svgs(xml)
            wav = render_audio(piece, sample_rate=SAMPLE_RATE, stereo=False).wav_bytes()
            player, score = player_html(piece, wav), score_html(svgs)
            row = {"notes": piece.n_notes, "pages": len(svgs),
                   "score_ms": {"musicxml": median_ms(lambda: to_musicxml(piece), args.runs),
                                "verovio_svg": median_ms(lambda: score_svgs(xml), args.runs)},
                   "player_build_ms": median_ms(lambda: player_html(piece, wav), args.runs),
                   "page_kb": {"player": round(len(player) / 1024), "score": round(len(score) / 1024)}}
            row["score_ms"]["total"] = round(sum(row["score_ms"].values()), 1)
            if browser is not None:
                ms = {"player": browser_ms(browser, player, PLAYER_READY_JS, args.runs),
                      "score": browser_ms(browser, score, SCORE_READY_JS, args.runs),
                      "before": before_ms(browser, piece, wav, args.runs)}
                ms["added"] = round(ms["player"] + ms["score"] - ms["before"], 1)
                row["browser_ms"] = ms
            result[name] = row
        if browser is not None:
            browser.close()
    result["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
