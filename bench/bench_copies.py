"""Issue 24: the copy-provenance index (``core.evaluation.copies.SourceIndex``).

- lookup: the passages of a 60 s piece (120 beats at 120 bpm: chorale excerpts, one moved by
  two semitones, between invented notes) against every Bach chorale; median of ``--repeats``;
- build: the index of all fiddle tunes (corpus parsed beforehand, not timed), time and peak
  memory (``tracemalloc``: what the build allocates, the corpus itself left out);
- hostile: a piece of 200,000 notes and one chord repeated 10,000 times, each against the
  chorale index, time and peak memory.

Prints JSON. Usage: ``python bench/bench_copies.py [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def _timed(fn, repeats: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def _peak_mb(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return round(peak / 2**20, 1)


def _sixty_seconds(chorales, rng):
    from core.piece import PITCH, START, END, Piece, Track

    parts, at = [], 0.0
    for k, src in enumerate(chorales[:4]):
        ex = src.slice_beats(4, 24).notes.copy()
        ex[:, [START, END]] += at
        ex[:, PITCH] += 2 if k == 1 else 0
        ex[:, 4] = 0
        onsets = at + 20 + np.arange(0, 10, 0.5)
        noise = np.array([(s, s + 0.5, p, 80, 0) for s, p in zip(onsets, rng.integers(55, 75, 20))])
        parts += [ex, noise]
        at += 30
    return Piece("sixty", np.concatenate(parts), [Track()], tempo=120)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    from core import corpus
    from core.evaluation.copies import SourceIndex
    from core.piece import Piece, Track

    out: dict = {"load": os.getloadavg(), "cpus": os.cpu_count()}
    chorales = corpus.load("bach-chorales", kind="melodic").pieces
    index = SourceIndex(chorales, 8, "melodic")
    piece = _sixty_seconds(chorales, np.random.default_rng(0))
    times, found = _timed(lambda: index.passages(piece), args.repeats)
    out["lookup_60s"] = {"chorales": len(chorales), "index_notes": int(index._offsets[-1]),
                         "piece_seconds": piece.duration_seconds, "piece_notes": piece.n_notes,
                         "passages": len(found), "median_ms": round(1e3 * statistics.median(times), 2),
                         "max_ms": round(1e3 * max(times), 2)}

    tunes = corpus.load("fiddle-tunes", kind="melodic").pieces
    times, big = _timed(lambda: SourceIndex(tunes, 8, "melodic"), max(3, args.repeats // 2))
    out["build_fiddle"] = {"tunes": len(tunes), "notes": int(big._offsets[-1]),
                           "median_s": round(statistics.median(times), 3),
                           "max_s": round(max(times), 3),
                           "peak_mb": _peak_mb(lambda: SourceIndex(tunes, 8, "melodic"))}
    del big

    rng = np.random.default_rng(1)
    many = np.column_stack([np.arange(200_000) / 4, np.arange(200_000) / 4 + 0.25,
                            rng.integers(40, 80, 200_000), np.full(200_000, 80), np.zeros(200_000)])
    chord = np.array([(i, i + 1, p, 80, 0) for i in range(10_000) for p in (48, 55, 60, 64)], float)
    for name, notes in (("notes_200000", many), ("chord_x10000", chord)):
        hostile = Piece(name, notes, [Track()])
        times, found = _timed(lambda: index.passages(hostile), 3)
        out[f"hostile_{name}"] = {"notes": hostile.n_notes, "passages": len(found),
                                  "median_s": round(statistics.median(times), 3),
                                  "peak_mb": _peak_mb(lambda: index.passages(hostile))}
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
