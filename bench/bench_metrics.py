"""Speed of core.evaluation.metrics on Bach chorales: prints one JSON object (times in milliseconds).

Corpus: the JSB chorales (train + valid + test, 382 pieces, close to music21's 371) from
``--jsb`` (16th-step JSON, one list of sounding pitches per step), or, where that file is
absent, as many random four-voice pieces of the same size. Measured: building the
:class:`CorpusIndex` (n=8), ``copy_stats`` / ``piece_metrics`` / ``loop_rate`` on a 500-note
piece, ``loop_rate`` / ``find_cycle`` on 1000 tokens and ``find_cycle`` on a 128-token tail,
fitting / scoring a trigram baseline on one token per 16th step (its chord), and ``model_nll``
of an untrained ``studio`` preset model on the validation tokens.
Each time is the median of several runs.

    .venv/bin/python bench/bench_metrics.py [--jsb PATH] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.evaluation import metrics  # noqa: E402
from core.evaluation import ngram
from core.piece import Piece, Track  # noqa: E402

JSB = Path("/work/shared/data/jsb/jsb-chorales-16th.json")
STEPS_PER_BEAT = 4


def median_ms(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 3)


def piece_from_steps(name: str, steps: list[list[int]]) -> Piece:
    """A one-track piece from 16th steps of sounding pitches; a pitch held on is one note."""
    roll = np.zeros((len(steps) + 2, 128), np.int8)  # a silent step before and after
    for t, pitches in enumerate(steps):
        roll[t + 1, np.asarray(pitches, dtype=np.int64)] = 1
    edges = np.diff(roll, axis=0)
    # Pair each pitch's onsets with its offsets: both in (pitch, time) order.
    on_pitch, on_step = np.nonzero(edges.T == 1)
    _, off_step = np.nonzero(edges.T == -1)
    notes = np.column_stack([on_step / STEPS_PER_BEAT, off_step / STEPS_PER_BEAT, on_pitch,
                             np.full(len(on_step), 80), np.zeros(len(on_step))])
    return Piece(name, notes, [Track()], tempo=90.0)


def random_chorale(rng: np.random.Generator, steps: int = 260) -> list[list[int]]:
    """Four random-walk voices moving in eighth notes, as 16th steps of sounding pitches."""
    voices = 60 + np.cumsum(rng.integers(-2, 3, (steps // 2, 4)), axis=0)
    return voices.repeat(2, axis=0).tolist()


def load_steps(path: Path) -> tuple[str, dict[str, list[list[list[int]]]]]:
    """Chorales as 16th steps per split: the JSB file, or random stand-ins of the same sizes."""
    if path.is_file():
        return "jsb", json.loads(path.read_text())
    rng = np.random.default_rng(0)
    sizes = {"train": 229, "valid": 76, "test": 77}
    return "random", {split: [random_chorale(rng) for _ in range(size)]
                      for split, size in sizes.items()}


def chord_tokens(splits: dict[str, list[list[list[int]]]]) -> tuple[dict[str, list], int]:
    """One token per 16th step (its sorted chord; 0 stays PAD) and the vocabulary size."""
    ids: dict[tuple[int, ...], int] = {}
    def encode(piece: list[list[int]]) -> np.ndarray:
        return np.array([ids.setdefault(tuple(sorted(step)), len(ids) + 1) for step in piece])

    tokens = {split: [encode(p) for p in pieces] for split, pieces in splits.items()}
    return tokens, len(ids) + 1


def model_nll_ms(seqs: list[np.ndarray], vocab_size: int, repeats: int) -> tuple[float, int]:
    """Median time of ``model_nll`` for a fresh untrained ``studio`` model (as for each new
    checkpoint: its first call traces the graph), and the model's window."""
    from core.models import presets

    config = presets.make_config("studio", vocab_size=vocab_size)
    times = []
    for _ in range(repeats):
        model = presets.build(config)
        start = time.perf_counter()
        metrics.model_nll(model, seqs, window=config.window)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 1), config.window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jsb", type=Path, default=JSB, help="JSB chorales 16th-step JSON")
    parser.add_argument("--repeats", type=int, default=21, help="runs per timing (median)")
    args = parser.parse_args()
    fast, slow = args.repeats, max(3, args.repeats // 5)

    source, splits = load_steps(args.jsb)
    start = time.perf_counter()
    pieces = [piece_from_steps(f"{split}_{i}", steps)
              for split, chorales in splits.items() for i, steps in enumerate(chorales)]
    convert_ms = (time.perf_counter() - start) * 1000

    index = metrics.CorpusIndex(pieces, n=8)
    corpus_hist = metrics.pitch_class_histogram(pieces)
    # A 500-note "generation": valid chorales one after another, cut at 500 notes.
    valid = [p for p in pieces if p.name.startswith("valid")]
    offsets = np.cumsum([0.0] + [p.duration_beats for p in valid[:-1]])
    notes = np.vstack([p.notes + [o, o, 0, 0, 0] for p, o in zip(valid, offsets)])[:500]
    generated = Piece("generated", notes, [Track()], tempo=90.0)
    rng = np.random.default_rng(1)
    walk = 60 + np.cumsum(rng.choice([-2, -1, 1, 2], 1000))
    tokens, vocab_size = chord_tokens(splits)
    baseline = ngram.ngram_baseline(tokens["train"], n=3, vocab_size=vocab_size)
    nll_ms, window = model_nll_ms(tokens["valid"], vocab_size, repeats=3)

    result = {
        "benchmark": "metrics",
        "corpus": source,
        "pieces": len(pieces),
        "corpus_notes": int(sum(p.n_notes for p in pieces)),
        "corpus_ngrams": len(index),
        "convert_steps_to_pieces_ms": round(convert_ms, 1),
        "index_build_ms": median_ms(lambda: metrics.CorpusIndex(pieces, n=8), slow),
        "copy_stats_500_notes_ms": median_ms(lambda: index.copy_stats(generated), fast),
        "piece_metrics_500_notes_ms": median_ms(
            lambda: metrics.piece_metrics(generated, index, corpus_hist), fast),
        "loop_rate_500_notes_ms": median_ms(lambda: metrics.loop_rate(generated), fast),
        "loop_rate_1000_tokens_ms": median_ms(lambda: metrics.loop_rate(walk), fast),
        "find_cycle_1000_tokens_ms": median_ms(lambda: metrics.find_cycle(walk), fast),
        "find_cycle_128_tail_ms": median_ms(lambda: metrics.find_cycle(walk[-128:]), fast),
        "generated_copy_rate": index.copy_stats(generated)["copy_rate"],
        "ngram_vocab": vocab_size,
        "ngram_train_tokens": int(sum(len(t) for t in tokens["train"])),
        "ngram_fit_ms": median_ms(
            lambda: ngram.ngram_baseline(tokens["train"], n=3, vocab_size=vocab_size), slow),
        "ngram_valid_nll_ms": median_ms(lambda: baseline.nll(tokens["valid"]), slow),
        "ngram_valid_nats_per_token": round(baseline.nll(tokens["valid"]), 4),
        "valid_tokens": int(sum(len(t) for t in tokens["valid"])),
        "model_nll_studio_valid_ms": nll_ms,
        "model_nll_window": window,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
