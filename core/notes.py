"""Note names and typed notes: ``"C4"`` -> 60, ``"C4 E4.G4:2 R"`` -> a :class:`Piece`."""

from __future__ import annotations

import re

import numpy as np

from core.piece import Piece, Track

_NOTE_RE = re.compile(r"^([A-Ga-g])([#sb]*)(-?\d)$")
_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_RESTS = {"R", "REST", "_"}


def note_pitch(name: str) -> int:
    """MIDI pitch of a note name: ``"C4"`` -> 60, ``"F#3"`` / ``"Gb3"`` -> 54, ``"Bb-1"`` -> 10."""
    m = _NOTE_RE.match(name.strip())
    if not m:
        raise ValueError(f"{name!r} is not a note name (like C4, F#3, Bb2)")
    letter, accidentals, octave = m.groups()
    pitch = 12 * (int(octave) + 1) + _PITCH_CLASS[letter.upper()]
    pitch += sum(1 if a in "#s" else -1 for a in accidentals)
    if not 0 <= pitch <= 127:
        raise ValueError(f"{name!r} is outside the MIDI range C-1..G9")
    return pitch


def parse_notes(text: str, *, beats: float = 1.0, is_drum: bool = False, tempo: float = 120.0) -> Piece:
    """A one-track piece from typed notes, one after another.

    Words are separated by spaces: a note (``C4``, ``F#3``, ``Bb2``), a chord of dot-joined notes
    (``C4.E4.G4``) or a rest (``R``). Each lasts ``beats`` beats unless it ends in ``:beats``
    (``C4:0.5``, ``R:2``). Raises ``ValueError`` naming the first word it cannot read.
    """
    rows, at = [], 0.0
    for word in text.split():
        name, _, length = word.partition(":")
        try:
            dur = float(length) if length else beats
        except ValueError:
            raise ValueError(f"{word!r}: the length after ':' must be a number of beats") from None
        if not 0 < dur <= 64:
            raise ValueError(f"{word!r}: a length must be more than 0 and at most 64 beats")
        if name.upper() not in _RESTS:
            rows += [(at, at + dur, note_pitch(n), 90, 0) for n in name.split(".")]
        at += dur
    if not rows:
        raise ValueError("the primer text has no notes")
    return Piece("primer", np.array(rows, np.float64), [Track(0, is_drum)], tempo)


