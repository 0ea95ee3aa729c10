"""``chords``: the classic Skúli encoding (Classical-Piano-Composer), one token per time step.

On a grid of ``step`` beats (default 0.5, the original's fixed 0.5 offset between generated
notes), the notes that start on a step make one token: one note by name (``"C4"``), several as
their dot-joined names, lowest first (``"C3.E4.G4"``), none as ``"REST"``.

Differences from the original:

- chords keep their octaves. The original wrote a chord as its normal-order pitch classes
  (``"0.4.7"``) and played every chord back in one octave;
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
from core.piece import PITCH

VELOCITY = 64  # MIDI's default; the encoding keeps no dynamics


@register
class ChordTokenizer(StepTokenizer):
    """Note or chord per step of ``step`` beats; a note's code is its pitch."""

    name = "chords"

    def __init__(self, step: float = 0.5) -> None:
        super().__init__(step=step)

    def _codes(self, notes: np.ndarray) -> np.ndarray:
        return notes[:, PITCH].astype(np.int64)

    def _notes(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return codes, np.ones(len(codes)), np.full(len(codes), VELOCITY)

    def _code_name(self, code: int) -> str:
        return note_name(code)
