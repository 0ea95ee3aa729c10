"""``drums``: the DevFest beat encoding, hits and grouped rests on a 16th grid.

Only drum tracks are read (``instrument_kind = "drums"``). On a grid of ``step`` beats (default
0.25, a 16th note) every hit is a (drum note, velocity bin) pair, and, as in the original
notebook, the hits that start on the same step form one class: ``"36v3.42v1"`` is a kick in
velocity bin 3 with a hi-hat in bin 1 (bins count from 0, softest first; hits are listed softest
first). Steps without a hit are rests, and a run of empty steps is spelled with a few rest
classes ``"REST_n"`` (``n`` steps), longest first: a run of 7 with classes 1, 2, 4 is
``REST_4 REST_2 REST_1``.

The rest classes are chosen automatically from the fit corpus's histogram of rest-run lengths:
starting from 1 step, the run length that most shortens the corpus's rests (in tokens) is added,
until there are ``rest_classes`` of them or no length helps.

Known losses: pitched (non-drum) tracks are dropped; velocities are binned into
``velocity_bins`` equal ranges of 1-127 (decoded at each range's middle); onsets move to the
nearest step; durations are dropped (decoded hits last one step); only the ``max_vocab`` most
frequent hit combinations are kept, any other loses its softest hits until it is known (or
becomes a rest), counted in ``losses``. Decoded notes go on one drum track (``is_drum=True``,
program 0).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from core.encodings.base import PAD_NAME, register
from core.encodings.steps import StepTokenizer
from core.piece import PITCH, VELOCITY, Track


@register
class DrumTokenizer(StepTokenizer):
    """Hit combination per step plus grouped rests. A hit's code is ``bin * 128 + note``."""

    name = "drums"
    instrument_kind = "drums"
    track = Track(program=0, is_drum=True, name="drums")

    def __init__(self, step: float = 0.25, velocity_bins: int = 4, rest_classes: int = 4,
                 max_vocab: int = 1000) -> None:
        if velocity_bins < 1 or rest_classes < 1 or max_vocab < 1:
            raise ValueError("velocity_bins, rest_classes and max_vocab must be at least 1")
        self.velocity_bins = int(velocity_bins)
        self.rest_classes = int(rest_classes)
        self.max_vocab = int(max_vocab)
        self._rest_lengths = (1,)
        super().__init__(step=step, velocity_bins=velocity_bins, rest_classes=rest_classes,
                         max_vocab=max_vocab)

    @property
    def rest_lengths(self) -> tuple[int, ...]:
        """The rest classes, in steps, ascending (always starting with 1)."""
        return self._rest_lengths

    # --- hits ----------------------------------------------------------------------------
    def _codes(self, notes: np.ndarray) -> np.ndarray:
        velocity_bin = (notes[:, VELOCITY].astype(np.int64) - 1) * self.velocity_bins // 127
        return velocity_bin.clip(0, self.velocity_bins - 1) * 128 + notes[:, PITCH].astype(np.int64)

    def _notes(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        middle = np.round(1 + (codes // 128 + 0.5) * 127 / self.velocity_bins)
        return codes % 128, np.ones(len(codes)), middle

    def _code_name(self, code: int) -> str:
        return f"{code % 128}v{code // 128}"

    # --- rests ---------------------------------------------------------------------------
    def _fixed_names(self) -> list[str]:
        return [PAD_NAME] + [f"REST_{n}" for n in self._rest_lengths]

    def _learn(self, onsets: list[tuple[np.ndarray, list[tuple[int, ...]]]]) -> None:
        runs = np.concatenate([np.diff(steps, prepend=-1) - 1 for steps, _ in onsets] or [[]])
        self._rest_lengths = choose_rest_lengths(runs[runs > 0].astype(np.int64),
                                                 self.rest_classes)
        super()._learn(onsets)

    def _layout(self, steps: np.ndarray, ids: np.ndarray) -> np.ndarray:
        # Before each hit, its gap's rest tokens, longest first: a table with one row per hit,
        # columns (rest ids from the longest class down to REST_1, the hit's id), and how many
        # times each cell is repeated.
        n = len(self._rest_lengths)
        rests = spell_rests(np.diff(steps, prepend=-1) - 1, self._rest_lengths)[:, ::-1]
        table = np.column_stack([np.broadcast_to(np.arange(n, 0, -1), (len(ids), n)), ids])
        repeats = np.column_stack([rests, np.ones(len(ids), dtype=np.int64)])
        return np.repeat(table.ravel(), repeats.ravel()).astype(np.int32)

    def _token_steps(self, ids: np.ndarray) -> np.ndarray:
        advance = np.ones(len(ids), dtype=np.int64)
        rest = ids <= len(self._rest_lengths)
        advance[rest] = np.asarray(self._rest_lengths)[ids[rest] - 1]
        return np.cumsum(advance) - advance

    def _state(self) -> dict[str, Any]:
        return {"rest_lengths": list(self._rest_lengths), **super()._state()}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._rest_lengths = tuple(int(n) for n in state["rest_lengths"])
        super()._load_state(state)


def spell_rests(runs: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
    """How many rests of each class spell each run, greedily, longest first.

    ``runs``: rest-run lengths in steps, shape ``(R,)``; ``lengths``: the rest classes,
    ascending, ``lengths[0] == 1``. Returns counts of shape ``(R, len(lengths))``.
    """
    counts = np.zeros((len(runs), len(lengths)), dtype=np.int64)
    remaining = np.asarray(runs, dtype=np.int64)
    for j in reversed(range(len(lengths))):
        counts[:, j], remaining = np.divmod(remaining, lengths[j])
    return counts


def choose_rest_lengths(runs: np.ndarray, n: int) -> tuple[int, ...]:
    """Up to ``n`` rest classes (steps, ascending, from 1) for rest runs of lengths ``runs``.

    Greedy: start from (1,) and add the run length that most reduces the number of rest tokens
    the runs take (spelled by :func:`spell_rests`), until ``n`` or nothing reduces it.
    """
    values, counts = np.unique(runs, return_counts=True)

    def tokens(lengths: list[int]) -> int:
        return int(spell_rests(values, sorted(lengths)).sum(axis=1) @ counts)

    chosen = [1]
    while len(chosen) < n:
        candidates = [(tokens(chosen + [v]), v) for v in values.tolist() if v not in chosen]
        if not candidates or min(candidates)[0] >= tokens(chosen):
            break
        chosen.append(min(candidates)[1])
    return tuple(sorted(chosen))
