"""Rendering speed: WAV through FluidSynth and the simple synth, piano roll, MusicXML export.

Prints one JSON object. Audio speed is a multiple of real time (seconds of audio per second;
target: 100x or more), the median of 5 renders after one warm-up render (the warm-up creates
the cached synth and loads the soundfont; it is timed on its own as ``first_call_s``).
``x_realtime`` divides by wall-clock time, ``x_realtime_cpu`` by this process's CPU time,
which is steadier on a machine shared with other work.

    .venv/bin/python bench/bench_render.py
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.piece import Piece, Track  # noqa: E402
from core.render import describe_backend, piano_roll, render_audio, to_musicxml  # noqa: E402

SECONDS = 30.0
TEMPO = 120.0  # bpm: 30 s is 60 beats
REPEATS = 5


def four_voices(seconds: float = SECONDS, seed: int = 0) -> Piece:
    """A chorale-like texture: four piano voices in eighths, quarters and halves."""
    rng = np.random.default_rng(seed)
    beats = seconds * TEMPO / 60
    rows = []
    for voice, (low, step) in enumerate([(67, 0.5), (60, 1.0), (53, 1.0), (40, 2.0)]):
        t, pitch = 0.0, low + 5
        while t < beats:
            pitch = int(np.clip(pitch + rng.integers(-3, 4), low, low + 12))
            rows.append((t, t + step, pitch, rng.integers(60, 110), voice))
            t += step
    return Piece("four voices", np.array(rows, float), [Track(0, False, n) for n in "SATB"], TEMPO)


def drum_beat(seconds: float = SECONDS) -> Piece:
    """Rock beat: kick on 1 and 3, snare on 2 and 4, closed hi-hat eighths, a crash every 4 bars."""
    rows = []
    for bar in range(int(seconds * TEMPO / 60 / 4)):
        b = 4.0 * bar
        rows += [(b + e / 2, b + e / 2 + 0.25, 42, 70 + 20 * (e % 2 == 0), 0) for e in range(8)]
        rows += [(b, b + 0.5, 36, 110, 0), (b + 2, b + 2.5, 36, 105, 0),
                 (b + 1, b + 1.5, 38, 100, 0), (b + 3, b + 3.5, 38, 100, 0)]
        if bar % 4 == 0:
            rows.append((b, b + 1, 49, 100, 0))
    return Piece("drum beat", np.array(rows, float), [Track(0, True, "Drums")], TEMPO)


def dense(n_notes: int = 2000, seed: int = 1) -> Piece:
    """``n_notes`` random notes over 4 tracks and 30 s, for the piano roll."""
    rng = np.random.default_rng(seed)
    start = np.sort(rng.uniform(0, 60, n_notes))
    notes = np.column_stack([start, start + rng.uniform(0.1, 1.0, n_notes),
                             rng.integers(36, 90, n_notes), rng.integers(40, 127, n_notes),
                             rng.integers(0, 4, n_notes)])
    tracks = [Track(0), Track(40), Track(32), Track(73)]
    return Piece("dense", notes, tracks, TEMPO)


def median_seconds(fn, repeats: int = REPEATS, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def audio_speed(piece: Piece, **options) -> dict:
    t0 = time.perf_counter()
    audio = render_audio(piece, **options)  # warm-up: creates the synth, loads the soundfont
    setup = time.perf_counter() - t0
    wall = median_seconds(lambda: render_audio(piece, **options))
    cpu = median_seconds(lambda: render_audio(piece, **options), clock=time.process_time)
    return {"audio_s": round(audio.duration, 2), "median_render_s": round(wall, 4),
            "x_realtime": round(audio.duration / wall, 1),
            "x_realtime_cpu": round(audio.duration / cpu, 1), "first_call_s": round(setup, 3),
            "backend": audio.backend}


def pretty_midi_speed(piece: Piece, soundfont: str) -> dict:
    """The baseline: ``PrettyMIDI.fluidsynth``, which builds a synth and loads the soundfont."""
    pm = piece.to_midi()
    wall = median_seconds(lambda: pm.fluidsynth(fs=44100, synthesizer=soundfont), repeats=3)
    return {"median_render_s": round(wall, 4),
            "x_realtime": round(piece.duration_seconds / wall, 1)}


def main() -> None:
    melody, drums, many = four_voices(), drum_beat(), dense()
    backend = describe_backend()
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        "soundfont": backend["soundfont"],
        "fluidsynth_version": backend["fluidsynth_version"],
        "pieces": {"four_voices_notes": melody.n_notes, "drum_beat_notes": drums.n_notes,
                   "dense_notes": many.n_notes},
        "target_x_realtime": 100,
    }
    if backend["fluidsynth"]:
        result["fluidsynth_44k"] = {"four_voices": audio_speed(melody, backend="fluidsynth"),
                                    "drum_beat": audio_speed(drums, backend="fluidsynth")}
        result["fluidsynth_22k"] = {
            "four_voices": audio_speed(melody, sample_rate=22050, backend="fluidsynth"),
            "drum_beat": audio_speed(drums, sample_rate=22050, backend="fluidsynth")}
        result["pretty_midi_fluidsynth_44k"] = {  # a new synth per call, one pass per track
            "four_voices": pretty_midi_speed(melody, backend["soundfont"])}
    result["simple_44k"] = {"four_voices": audio_speed(melody, backend="simple"),
                            "drum_beat": audio_speed(drums, backend="simple")}
    result["wav_encode_ms"] = round(1000 * median_seconds(
        render_audio(melody, backend="simple").wav_bytes), 2)

    piano_roll(melody)  # warm-up: plotly's validators load on first use
    result["piano_roll_ms"] = {
        "four_voices_30s": round(1000 * median_seconds(lambda: piano_roll(melody)), 1),
        "drums_30s": round(1000 * median_seconds(lambda: piano_roll(drums)), 1),
        "dense_2000_notes": round(1000 * median_seconds(lambda: piano_roll(many)), 1),
        "dense_2000_notes_to_json": round(
            1000 * median_seconds(lambda: piano_roll(many).to_json()), 1),
    }
    t0 = time.perf_counter()
    to_musicxml(melody)  # the first call imports music21
    result["musicxml_first_call_s"] = round(time.perf_counter() - t0, 3)
    result["musicxml_ms"] = {"four_voices_30s": round(1000 * median_seconds(
        lambda: to_musicxml(melody)), 1)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
