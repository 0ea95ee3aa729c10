"""``chords``: the classic Skúli encoding (Classical-Piano-Composer), one token per time step.

On a grid of ``step`` beats (default 0.5, the original's fixed 0.5 offset between generated
notes), the notes that start on a step make one token: one note by name (``"C4"``), several as
their dot-joined names, lowest first (``"C3.E4.G4"``), none as ``"REST"``.

Differences from the original:

- by default chords keep their octaves. With ``pitch_classes=True`` a chord is, as in the
  original, its pitch classes in normal order (``"0.4.7"``), played back in one octave
  (C4 upward), and a single note keeps its octave. On a piano corpus that shrinks the vocabulary
  about 19x (279 tokens against 5,261), so each token has many more examples;
- time is kept. The original read the notes one after another and ignored when they started;
  here onsets sit on the step grid and a step with no onset is a ``"REST"`` token (the original
  had no rest token), so rests and rhythm survive at step resolution.

Known losses: durations (every decoded note lasts exactly one step, and a step with no onset
is a ``REST`` even while notes still sound); onsets move to the nearest step; velocities (decoded
notes play at 64).

Vocabulary: ``PAD``, ``REST`` and every note or chord seen in ``fit``. ``encode`` replaces a chord
it has not seen by the known chord left after dropping its lowest notes (a rest when none is
known) and counts that in ``losses``.
"""

from __future__ import annotations

import numpy as np

from core.encodings.base import register
from core.encodings.steps import StepTokenizer, note_name
from core.piece import PITCH, Piece

VELOCITY = 64  # MIDI's default; the encoding keeps no dynamics
PITCH_CLASS_CODE = 128  # codes 128..139: pitch classes of a chord (``pitch_classes=True``)


@register
class ChordTokenizer(StepTokenizer):
    """Note or chord per step of ``step`` beats; a note's code is its pitch."""

    name = "chords"

    def __init__(self, step: float = 0.5, pitch_classes: bool = False) -> None:
        self.pitch_classes = bool(pitch_classes)
        if pitch_classes:
            super().__init__(step=step, pitch_classes=True)
        else:  # the parameters of tokenizers saved before the option existed
            super().__init__(step=step)

    def _codes(self, notes: np.ndarray) -> np.ndarray:
        return notes[:, PITCH].astype(np.int64)

    def _onsets(self, piece: Piece) -> tuple[np.ndarray, list[tuple[int, ...]]]:
        steps, sets = super()._onsets(piece)
        if self.pitch_classes:  # a chord of 2+ notes -> its pitch classes (codes 128 + pc)
            sets = [s if len(s) == 1 else tuple(sorted({PITCH_CLASS_CODE + c % 12 for c in s}))
                    for s in sets]
        return steps, sets

    def _notes(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pitch = np.where(codes >= PITCH_CLASS_CODE, codes - PITCH_CLASS_CODE + 60, codes)
        return pitch, np.ones(len(codes)), np.full(len(codes), VELOCITY)

    def _code_name(self, code: int) -> str:
        return str(code - PITCH_CLASS_CODE) if code >= PITCH_CLASS_CODE else note_name(code)

    def _set_name(self, codes: tuple[int, ...]) -> str:
        if self.pitch_classes and codes and codes[0] >= PITCH_CLASS_CODE:
            return ".".join(map(str, normal_order([c - PITCH_CLASS_CODE for c in codes])))
        return super()._set_name(codes)


def normal_order(pitch_classes: list[int]) -> list[int]:
    """The most compact rotation of a pitch-class set (music21's ``normalOrder`` rule: the
    smallest span first, then the smallest intervals from the bottom): ``[0, 4, 7]`` stays,
    ``[0, 5, 9]`` (F major over C) -> ``[5, 9, 0]``."""
    pcs = sorted(set(pitch_classes))
    rotations = [pcs[i:] + pcs[:i] for i in range(len(pcs))]

    def spans(r: list[int]) -> list[int]:
        return [(r[k] - r[0]) % 12 for k in range(len(r) - 1, 0, -1)]

    return min(rotations, key=lambda r: (spans(r), r[0]))


@register
class PitchClassChordTokenizer(ChordTokenizer):
    """``chords-pc``: ``chords`` with ``pitch_classes=True``, the original Skúli vocabulary."""

    name = "chords-pc"

    def __init__(self, step: float = 0.5, pitch_classes: bool = True) -> None:
        super().__init__(step=step, pitch_classes=pitch_classes)
