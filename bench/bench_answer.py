"""Play a phrase, the model answers (issue 25), timed in real headless Chromium; prints JSON.

    .venv/bin/python bench/bench_answer.py [--runs 7] [--presses 30]

Starts the app as ``make run`` does (``bench_app.StudioServer``; Home's pool of pieces made
ahead switched off, so nothing composes in the background), opens Home, plays C4 E4 G4 C5 on
the on-screen keyboard and presses **Answer** ``--runs`` times. Each time is from the click
until the new answer's ``<audio>`` can play (``readyState >= 3``) with its roll drawn: a ten
second answer (``app_ui.answer.HOME_ANSWER``) by the default gallery model. Also the same
answer composed in-process (``core.generation.compose``, no browser, no Streamlit) for the
split, and the key-to-sound delay of the on-screen keyboard: ``--presses`` mouse presses, each
from the ``pointerdown`` event's timestamp to the Web Audio nodes started in its handler
(``handler_ms``), plus the audio context's ``baseLatency`` and ``outputLatency`` (what the
browser says its audio path adds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_app import AUDIO_READY_JS, CHROMIUM, PLAYER_JS, StudioServer, launch_chromium  # noqa: E402

PHRASE = ["C4", "E4", "G4", "C5"]


def median(xs: list[float], digits: int = 3) -> float:
    return round(statistics.median(xs), digits)


def in_process(runs: int) -> dict:
    """The answer composed without a browser: phrase -> primer -> 10 s -> MIDI + WAV + Ogg."""
    from app_ui.answer import HOME_ANSWER
    from core.generation.compose import compose
    from core.generation.generate import Generator
    from core.generation.phrase import played_phrase
    from core.training import gallery

    run = gallery.default_run()
    gen = Generator.from_run(run.path)
    notes = [[60, 0.0, 0.2, 90], [64, 0.3, 0.5, 90], [67, 0.6, 0.8, 90], [72, 0.9, 1.2, 90]]
    options = {k: v for k, v in HOME_ANSWER.items() if k not in ("stereo", "metrics")}
    times, generate = [], []
    for seed in range(runs + 1):   # the first warms the caches and is not counted
        t0 = time.perf_counter()
        phrase = played_phrase(notes, gen.tokenizer)
        made, result = compose(gen, "answer", stereo=False, sample_rate=32000, preview=True,
                               primer="phrase", primer_piece=phrase.piece, seed=seed, **options)
        if seed:
            times.append(time.perf_counter() - t0)
            generate.append(result.elapsed_s)
    return {"model": run.name, "median_s": median(times), "generate_median_s": median(generate),
            "times_s": [round(t, 3) for t in times],
            "answer_seconds": round(_answer_seconds(made[0].piece), 1)}


def _answer_seconds(piece) -> float:
    """How long the model's answer (track 1) lasts, from its first onset to its last end."""
    answer = piece.notes[piece.notes[:, 4] == 1]
    return float(answer[:, 1].max() - answer[:, 0].min()) * piece.seconds_per_beat if len(answer) else 0.0


def in_browser(runs: int, presses: int) -> dict:
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-answer-"))
    server = StudioServer(work / "data", [], extra_env={"COMPOSER_READY_PIECES": "0"})
    try:
        server.wait_ready()
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(server.url)
            page.get_by_role("button", name="C4", exact=True).wait_for()
            page.wait_for_function("() => !document.querySelector('[data-testid=\"stSpinner\"]')")
            for i in range(presses):   # key-to-sound, one press at a time
                key = page.get_by_role("button", name=PHRASE[i % 4], exact=True)
                key.hover()
                page.mouse.down()
                page.wait_for_timeout(60)
                page.mouse.up()
                page.wait_for_timeout(60)
            latencies = page.evaluate("() => window.__composerKeyboard.latencies")
            page.get_by_role("button", name="Clear", exact=True).click()
            for name in PHRASE:
                page.get_by_role("button", name=name, exact=True).click(delay=100)
                page.wait_for_timeout(100)
            times = []
            for _ in range(runs):
                before = page.evaluate(PLAYER_JS)["src"]
                t0 = time.perf_counter()
                page.get_by_role("button", name="Answer", exact=True).click()
                page.wait_for_function(AUDIO_READY_JS, arg=before, timeout=60_000, polling=20)
                times.append(time.perf_counter() - t0)
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    handler = [x["handler_ms"] for x in latencies]
    base = [x["base_latency_ms"] for x in latencies if x["base_latency_ms"] is not None]
    output = [x["output_latency_ms"] for x in latencies if x["output_latency_ms"] is not None]
    return {
        "answer_click_to_audio_ready": {"runs": runs, "median_s": median(times),
                                        "min_s": round(min(times), 3), "max_s": round(max(times), 3),
                                        "times_s": [round(t, 3) for t in times], "target_s": 1.5},
        "key_to_sound": {
            "presses": len(latencies),
            "first_press_handler_ms": round(handler[0], 1) if handler else None,
            "handler_median_ms": median(handler[1:], 1) if len(handler) > 1 else None,
            "handler_max_ms": round(max(handler[1:]), 1) if len(handler) > 1 else None,
            "base_latency_ms": median(base, 1) if base else None,
            "output_latency_ms": median(output, 1) if output else None,
            "total_median_ms": (median([h + b + o for h, b, o in zip(handler[1:], base[1:], output[1:])], 1)
                                if len(handler) > 1 and base and output else None),
            "audio_state": latencies[-1]["state"] if latencies else None,
            "sample_rate": latencies[-1]["sample_rate"] if latencies else None,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="Answer presses to time (default 7)")
    parser.add_argument("--presses", type=int, default=30, help="key presses for key-to-sound")
    args = parser.parse_args()
    from core.training import gallery

    if gallery.default_run() is None:
        print(json.dumps({"skipped": "no shipped gallery run"}))
        return 0
    load_before = os.getloadavg()
    out = {"benchmark": "answer", "in_process": in_process(args.runs)}
    if Path(CHROMIUM).exists():
        out.update(in_browser(args.runs, args.presses))
    else:
        out["browser"] = f"skipped: {CHROMIUM} not found"
    out.update({"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                "niceness": os.nice(0),
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()]})
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
