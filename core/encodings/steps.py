"""What the step-grid encodings (``chords``, ``grid``, ``drums``) share.

Each of them puts note onsets on a grid of ``step`` beats, describes every note by one integer
*code* (chords: the pitch; grid: pitch and duration; drums: velocity bin and pitch) and makes
one token of the set of codes that start on the same step. :class:`StepTokenizer` does all of
that; a subclass only says how a note becomes a code and back, and, if it wants, how the time
between onsets is spelled.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from typing import Any, ClassVar, Iterable, Sequence

import numpy as np

from core.encodings.base import PAD, PAD_NAME, BeatClock, Tokenizer
from core.piece import START, Piece, Track

REST = 1  # the default time token: one empty step

_PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI pitch, sharps only: 60 -> ``"C4"``, 61 -> ``"C#4"``."""
    return f"{_PITCH_CLASSES[pitch % 12]}{pitch // 12 - 1}"


def quantize(beats: np.ndarray, step: float) -> np.ndarray:
    """Grid indices (``int64``) of times in beats: the nearest multiple of ``step``, halves up."""
    return np.floor(np.asarray(beats, dtype=np.float64) / step + 0.5).astype(np.int64)


def onset_sets(steps: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Group note codes by onset step.

    ``steps`` and ``codes`` are per-note integer arrays. Returns the distinct steps (ascending)
    and, for each, the tuple of its distinct codes (ascending).
    """
    if not len(steps):
        return np.zeros(0, dtype=np.int64), []
    order = np.lexsort((codes, steps))
    steps, codes = steps[order], codes[order]
    distinct = np.ones(len(steps), dtype=bool)
    distinct[1:] = (np.diff(steps) != 0) | (np.diff(codes) != 0)
    steps, codes = steps[distinct], codes[distinct]
    bounds = np.flatnonzero(np.r_[True, np.diff(steps) != 0, True]).tolist()
    flat = codes.tolist()
    sets = [tuple(flat[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    return steps[bounds[:-1]], sets


class SetVocab:
    """Token ids for sets of codes: ``sets[i]`` is id ``first_id + i``.

    The ids below ``first_id`` are the encoding's own tokens (``PAD``, rests) and carry no codes.
    A set that is not in the table is replaced by the nearest known one: its smallest codes are
    dropped until what is left is known (for pitch-major codes: the lowest notes; for the
    drums' velocity-major codes: the softest hits).
    """

    def __init__(self, sets: Iterable[Iterable[int]], first_id: int) -> None:
        self.sets = [tuple(int(c) for c in s) for s in sets]
        self._ids = {s: first_id + i for i, s in enumerate(self.sets)}
        # Ragged table for decoding: the codes of id t are _flat[_offsets[t]:][:_sizes[t]].
        self._sizes = np.array([0] * first_id + [len(s) for s in self.sets], dtype=np.int64)
        self._offsets = np.cumsum(self._sizes) - self._sizes
        self._flat = np.array([c for s in self.sets for c in s], dtype=np.int64)

    @classmethod
    def learn(cls, counts: Counter, first_id: int, max_sets: int | None = None) -> "SetVocab":
        """The ``max_sets`` most frequent sets in ``counts`` (ties broken by set), ordered by
        size, then set."""
        ranked = sorted(counts, key=lambda s: (-counts[s], s))[:max_sets]
        return cls(sorted(ranked, key=lambda s: (len(s), s)), first_id)

    def ids(self, sets: list[tuple[int, ...]], losses: Counter) -> np.ndarray:
        """Token ids (``int32``) of ``sets``: ``PAD`` where not even one code is known.

        Every replacement is counted in ``losses["sets_replaced"]`` and the codes it dropped in
        ``losses["notes_dropped"]``.
        """
        known = self._ids
        return np.fromiter((known[s] if s in known else self._nearest(s, losses) for s in sets),
                           dtype=np.int32, count=len(sets))

    def _nearest(self, codes: tuple[int, ...], losses: Counter) -> int:
        losses["sets_replaced"] += 1
        for dropped in range(1, len(codes)):
            if codes[dropped:] in self._ids:
                losses["notes_dropped"] += dropped
                return self._ids[codes[dropped:]]
        losses["notes_dropped"] += len(codes)
        return PAD

    def codes(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every code of every token in ``ids`` (valid ids only), as ``(index into ids, code)``."""
        sizes = self._sizes[ids]
        index = np.repeat(np.arange(len(ids)), sizes)
        within = np.arange(len(index)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        return index, self._flat[self._offsets[ids][index] + within]


class StepTokenizer(Tokenizer):
    """Base of the step-grid encodings: one token per set of note codes starting on a step.

    Subclasses implement ``_codes`` (note rows -> codes), ``_notes`` (codes -> pitch, duration,
    velocity) and ``_code_name``. By default the time between onsets is one ``REST`` token per
    empty step; a subclass may spell it otherwise by overriding ``_fixed_names`` (the tokens
    before the sets), ``_layout`` and ``_token_steps``.
    """

    #: Keep only this many of the corpus's most frequent sets (``None``: all of them).
    max_vocab: int | None = None
    #: The track decoded notes are put on.
    track: ClassVar[Track] = Track()

    def __init__(self, step: float, **params: Any) -> None:
        if not step > 0:
            raise ValueError(f"step must be a positive number of beats, got {step}")
        super().__init__(step=step, **params)
        self.step = float(step)
        self._use(SetVocab([], first_id=len(self._fixed_names())))

    # --- hooks ---------------------------------------------------------------------------
    @abstractmethod
    def _codes(self, notes: np.ndarray) -> np.ndarray:
        """One ``int64`` code per row of a ``Piece.notes`` array."""

    @abstractmethod
    def _notes(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(pitch, duration in steps, velocity)`` arrays for codes."""

    @abstractmethod
    def _code_name(self, code: int) -> str:
        """The name of one code inside a token name (codes are joined by dots)."""

    def _set_name(self, codes: tuple[int, ...]) -> str:
        """A token's name: its codes' names joined by dots."""
        return ".".join(map(self._code_name, codes))

    def _fixed_names(self) -> list[str]:
        """Names of the ids below the sets: ``PAD`` then the tokens that spell time."""
        return [PAD_NAME, "REST"]

    def _layout(self, steps: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """The token sequence for set ids at (ascending) onset steps: a ``REST`` per empty step."""
        out = np.full(steps[-1] + 1 if len(steps) else 0, REST, dtype=np.int32)
        out[steps] = ids
        return out

    def _token_steps(self, ids: np.ndarray) -> np.ndarray:
        """The step each token of a (``PAD``-free) sequence stands on: inverse of ``_layout``."""
        return np.arange(len(ids))

    # --- the protocol --------------------------------------------------------------------
    def beat_clock(self, batch: int) -> "StepClock":
        return StepClock(self, batch)

    def _onsets(self, piece: Piece) -> tuple[np.ndarray, list[tuple[int, ...]]]:
        # the rows piece.select(self.instrument_kind) keeps, without building a Piece
        notes = piece.notes[piece.drum_mask() == (self.instrument_kind == "drums")]
        return onset_sets(quantize(notes[:, START], self.step).clip(0), self._codes(notes))

    def _fit(self, pieces: Sequence[Piece]) -> None:
        self._learn([self._onsets(piece) for piece in pieces])

    def _learn(self, onsets: list[tuple[np.ndarray, list[tuple[int, ...]]]]) -> None:
        """Learn from every piece's ``(onset steps, sets)``."""
        counts = Counter(s for _, sets in onsets for s in sets)
        self._use(SetVocab.learn(counts, len(self._fixed_names()), self.max_vocab))

    def _use(self, sets: SetVocab) -> None:
        self._sets = sets
        self._vocab = self._fixed_names() + [self._set_name(s) for s in sets.sets]

    def encode(self, piece: Piece) -> np.ndarray:
        steps, sets = self._onsets(piece)
        ids = self._sets.ids(sets, self.losses)
        known = ids != PAD
        return self._layout(steps[known], ids[known])

    def decode(self, tokens: Sequence[int] | np.ndarray) -> Piece:
        ids = np.asarray(tokens, dtype=np.int64).reshape(-1)
        ids = ids[(ids > PAD) & (ids < len(self._vocab))]
        index, codes = self._sets.codes(ids)
        pitch, duration, velocity = self._notes(codes)
        start = self._token_steps(ids)[index] * self.step
        notes = np.column_stack([start, start + duration * self.step, pitch, velocity,
                                 np.zeros(len(codes))])
        return Piece("decoded", notes, [self.track])

    @property
    def vocab(self) -> list[str]:
        return self._vocab

    def _state(self) -> dict[str, Any]:
        return {"sets": [list(s) for s in self._sets.sets]}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._use(SetVocab(state["sets"], first_id=len(self._fixed_names())))


class StepClock(BeatClock):
    """``chords``, ``grid``, ``drums``: a token moves time forward by a fixed number of steps
    (one, or a rest class's length) and its notes end a fixed time after its own step."""

    def __init__(self, tokenizer: "StepTokenizer", batch: int) -> None:
        super().__init__(batch)
        ids = np.arange(1, tokenizer.vocab_size)
        self.step = tokenizer.step
        # the encoding's own hooks: the steps tokens stand on, and their notes' durations
        advance = np.zeros(tokenizer.vocab_size, np.int64)
        advance[ids] = np.diff(tokenizer._token_steps(np.r_[ids, ids[:1]]))
        index, codes = tokenizer._sets.codes(ids)
        reach = np.full(tokenizer.vocab_size, -np.inf)            # beats from onset to last end
        np.maximum.at(reach, ids[index], tokenizer._notes(codes)[1] * self.step)
        self.advance, self.reach = advance.tolist(), reach.tolist()
        self.at = [0] * batch                                      # the step of the next token

    def _feed(self, i: int, token: int) -> None:
        # as decode: start = step * self.step, end = start + duration * self.step
        end = self.at[i] * self.step + self.reach[token]
        if end > self.beats[i]:
            self.beats[i] = end
        self.at[i] += self.advance[token]
