"""Encoding speed on real corpora: tokens per second of each encoding's ``encode`` and ``decode``.

The melodic encodings (chords, grid, events) read Bach chorales from music21's corpus, converted
the way a user's MIDI arrives (music21 -> MIDI bytes -> pretty_midi -> ``Piece.from_midi``); the
drums encoding reads Groove MIDI performances from the shared data folder (skipped if absent).
Each tokenizer is fitted on its whole corpus, then the corpus is encoded and decoded ``--repeats``
times; throughput is total tokens over the median time of a pass.

Prints one JSON object. Usage: ``.venv/bin/python bench/bench_encodings.py [--pieces 50]``
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import pretty_midi

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.encodings import get_tokenizer  # noqa: E402
from core.paths import SHARED_DATA  # noqa: E402
from core.piece import Piece  # noqa: E402


def bach_chorales(n: int) -> list[Piece]:
    """The first ``n`` chorales (Riemenschneider order) that music21 can write as MIDI."""
    from music21 import Music21Exception, corpus
    from music21.midi.translate import streamToMidiFile

    pieces = []
    for score in corpus.chorales.Iterator(returnType="stream"):
        try:
            midi = streamToMidiFile(score).writestr()
        except Music21Exception:  # a few have repeat marks music21 cannot expand
            continue
        pieces.append(Piece.from_midi(pretty_midi.PrettyMIDI(io.BytesIO(midi)),
                                      score.metadata.title or f"chorale {len(pieces)}"))
        if len(pieces) == n:
            break
    return pieces


def groove_performances(n: int) -> list[Piece]:
    files = sorted((SHARED_DATA / "groove").glob("drummer*/*/*.mid"))
    spread = files[:: max(1, len(files) // n)][:n]  # every drummer and style, not one session
    return [Piece.from_midi(pretty_midi.PrettyMIDI(str(f)), f.stem) for f in spread]


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(encoding: str, pieces: list[Piece], repeats: int) -> dict:
    tok = get_tokenizer(encoding)
    start = time.perf_counter()
    tok.fit(pieces)
    fit_s = time.perf_counter() - start
    encoded = [tok.encode(p) for p in pieces]
    tokens = sum(len(ids) for ids in encoded)
    losses = dict(tok.losses)  # of one pass over the corpus
    encode_s = median_seconds(lambda: [tok.encode(p) for p in pieces], repeats)
    decode_s = median_seconds(lambda: [tok.decode(ids) for ids in encoded], repeats)
    return {"params": tok.params, "vocab_size": tok.vocab_size, "pieces": len(pieces),
            "notes": sum(p.select(tok.instrument_kind).n_notes for p in pieces),
            "tokens": tokens, "fit_s": round(fit_s, 4),
            "encode_tokens_per_s": round(tokens / encode_s),
            "decode_tokens_per_s": round(tokens / decode_s),
            "encode_ms_per_piece": round(1000 * encode_s / len(pieces), 3), "losses": losses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=50, help="pieces per corpus")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes; the median counts")
    args = parser.parse_args()

    corpora = {"bach": bach_chorales(args.pieces)}
    if (SHARED_DATA / "groove").is_dir():
        corpora["groove"] = groove_performances(args.pieces)
    plan = [("chords", "bach"), ("grid", "bach"), ("events", "bach"), ("drums", "groove")]
    results = {enc: bench(enc, corpora[corpus], args.repeats) | {"corpus": corpus}
               for enc, corpus in plan if corpus in corpora}
    print(json.dumps({"benchmark": "encodings", "repeats": args.repeats,
                      "python": platform.python_version(), "machine": platform.machine(),
                      "cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()
