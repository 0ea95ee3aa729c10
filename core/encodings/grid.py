"""``grid``: the ragtime many-to-many encoding, one token per 16th step.

At each step of ``step`` beats (default 0.25, a 16th note) the notes that start there form a set
of ``(pitch, duration)`` pairs, the duration counted in steps; each distinct set in the corpus is
one token and the empty set is ``"REST"``. A token is named by its notes, lowest first, as
``name:duration`` joined by dots: ``"C3:8.E4:2"`` is C3 for 8 steps with E4 for 2 steps.

Known losses:

- onsets move to the nearest step; durations are rounded to whole steps, at least 1 and at most
  ``max_duration`` (default 16 steps, a whole note at the default step): longer notes are cut;
- velocities (decoded notes play at 64);
- the vocabulary keeps only the ``max_vocab`` most frequent sets of the ``fit`` corpus. ``encode``
  replaces any other set by the known set left after dropping its lowest notes (a rest when none
  is known) and counts that in ``losses["sets_replaced"]`` and ``losses["notes_dropped"]``.
"""

from __future__ import annotations

import numpy as np

from core.encodings.base import register
from core.encodings.steps import StepTokenizer, note_name, quantize
from core.piece import END, PITCH, START

VELOCITY = 64  # MIDI's default; the encoding keeps no dynamics


@register
class GridTokenizer(StepTokenizer):
    """Set of (pitch, duration) onsets per step of ``step`` beats.

    A note's code is ``pitch * max_duration + duration - 1`` (duration in steps): pitch-major,
    so the codes of a set sort lowest note first.
    """

    name = "grid"

    def __init__(self, step: float = 0.25, max_duration: int = 16, max_vocab: int = 2000) -> None:
        if max_duration < 1 or max_vocab < 1:
            raise ValueError(f"max_duration and max_vocab must be at least 1, got "
                             f"{max_duration} and {max_vocab}")
        self.max_duration = int(max_duration)
        self.max_vocab = int(max_vocab)
        super().__init__(step=step, max_duration=max_duration, max_vocab=max_vocab)

    def _codes(self, notes: np.ndarray) -> np.ndarray:
        duration = quantize(notes[:, END] - notes[:, START], self.step).clip(1, self.max_duration)
        return notes[:, PITCH].astype(np.int64) * self.max_duration + duration - 1

    def _notes(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (codes // self.max_duration, codes % self.max_duration + 1,
                np.full(len(codes), VELOCITY))

    def _code_name(self, code: int) -> str:
        return f"{note_name(code // self.max_duration)}:{code % self.max_duration + 1}"
