"""The C-RNN-GAN paper's four measures of a piece (Mogren 2016, section 4), for any model's output.

- **polyphony**: the share of onsets where two or more tones start together;
- **scale consistency**: the share of notes inside the best-matching major scale (the 12 major
  scales cover the natural minors too), the best over those 12;
- **repetitions**: the share of the melody's 4-note patterns (the melody: the highest pitch
  sounding at each onset; a pattern: its 3 intervals, so a transposed repeat counts) that repeat
  one earlier in the piece;
- **tone span**: semitones between the lowest and the highest note.

The paper reports each for generated samples next to the training data; ``core.training.report``
does the same with the held-out pieces. Its repetitions measure is described only as "repetitions
of short subsequences"; the pattern length and the per-onset melody here are this project's
choice, written down so the numbers can be compared run with run. Drum notes are left out.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from core.piece import END, PITCH, START, Piece

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
PATTERN = 4                # notes per melodic pattern for ``repetitions``
MEASURES = ("polyphony", "scale_consistency", "repetitions", "tone_span")
CHUNK = 256                # onsets compared with all notes at once in ``_onsets``


def _onsets(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    """``(notes per onset, highest pitch sounding at each onset)`` in time order (onsets to
    1/48 beat)."""
    notes = piece.select("melodic").notes
    if not len(notes):
        return np.zeros(0, np.int64), np.zeros(0)
    ticks = np.rint(notes[:, START] * 48).astype(np.int64)   # sorted: a Piece's notes are
    onsets, counts = np.unique(ticks, return_counts=True)
    ends = np.maximum(np.rint(notes[:, END] * 48).astype(np.int64), ticks + 1)
    top = np.empty(len(onsets))
    for at in range(0, len(onsets), CHUNK):   # onsets by notes, a chunk at a time (bounded memory)
        t = onsets[at:at + CHUNK, None]
        sounding = (ticks[None, :] <= t) & (ends[None, :] > t)
        top[at:at + CHUNK] = np.where(sounding, notes[None, :, PITCH], -1).max(axis=1)
    return counts, top


def polyphony(piece: Piece) -> float | None:
    counts, _ = _onsets(piece)
    return float((counts >= 2).mean()) if len(counts) else None


def scale_consistency(piece: Piece) -> float | None:
    pitches = piece.select("melodic").notes[:, PITCH].astype(np.int64)
    if not len(pitches):
        return None
    hist = np.bincount(pitches % 12, minlength=12)
    return float(max(hist[(MAJOR + k) % 12].sum() for k in range(12)) / len(pitches))


def repetitions(piece: Piece, n: int = PATTERN) -> float | None:
    _, top = _onsets(piece)
    if len(top) < n + 1:
        return None
    steps = np.diff(top).astype(np.int64)
    patterns = np.lib.stride_tricks.sliding_window_view(steps, n - 1)
    seen: set[bytes] = set()
    repeated = 0
    for p in patterns:
        key = p.tobytes()
        repeated += key in seen
        seen.add(key)
    return repeated / len(patterns)


def tone_span(piece: Piece) -> int | None:
    pitches = piece.select("melodic").notes[:, PITCH]
    return int(pitches.max() - pitches.min()) if len(pitches) else None


def measures(piece: Piece) -> dict[str, float | None]:
    """All four for one piece (``None`` where a piece is too short to say)."""
    return {"polyphony": polyphony(piece), "scale_consistency": scale_consistency(piece),
            "repetitions": repetitions(piece), "tone_span": tone_span(piece)}


def mean_measures(pieces: Iterable[Piece]) -> dict[str, float | None]:
    """Each measure's mean over ``pieces`` (those it applies to)."""
    rows = [measures(p) for p in pieces]
    out: dict[str, float | None] = {}
    for key in MEASURES:
        values = [r[key] for r in rows if r[key] is not None]
        out[key] = float(np.mean(values)) if values else None
    return out
