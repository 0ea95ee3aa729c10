"""``pianoroll`` and ``frames``: a piece as the pitches sounding at each step of a grid.

Both read, at every step of ``step`` beats (default 0.25, a 16th note; the ``-quarter`` variants
use 1 beat, the JSB benchmark's resolution), which pitches of a fixed range sound, learnt by
``fit`` as the corpus's lowest to highest pitch (plus ``margin`` semitones either side).

- ``pianoroll`` -- the biaxial RNN's state matrix (Johnson 2015): one token per (step, pitch)
  *cell*, step by step and lowest pitch first within a step, the order the biaxial model samples
  in. A cell is ``off``, ``on`` (a note starts: play and articulate) or ``held`` (play, no
  articulation), so a piece of ``T`` steps over ``P`` pitches is ``T * P`` tokens.
- ``frames`` -- the same steps for a token LSTM: each step's sounding pitches, lowest first, then
  an end-of-step token ``|``, after a ``START`` token. The summed NLL of a step's tokens is that
  step's NLL, so a token model's nats per step compare with the piano-roll models' (the JSB
  benchmark's number).

Known losses (both): velocities (decoded notes play at 64); onsets and ends move to the nearest
step (a note lasts at least one step); pitches outside the fitted range are dropped
(``losses["notes_dropped"]``); notes of one pitch that overlap merge. ``frames`` also loses
articulation: a note repeated on the next step is read back as one held note (the JSB data
itself does not tell them apart). Nothing else: on the JSB data both are exact.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from core.encodings.base import PAD, PAD_NAME, BeatClock, Tokenizer, register
from core.encodings.steps import note_name, quantize
from core.piece import END, PITCH, START, Piece, Track

VELOCITY = 64
OFF, ON, HELD = 1, 2, 3                      # pianoroll cell tokens


def sounding(piece: Piece, step: float, low: int, high: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``(play, onset, dropped)``: bool ``(steps, high - low + 1)`` arrays of the pitches sounding
    and starting at each step, and how many notes fell outside ``low..high``."""
    notes = piece.notes[~piece.drum_mask()] if len(piece.notes) else piece.notes
    inside = (notes[:, PITCH] >= low) & (notes[:, PITCH] <= high)
    dropped = int((~inside).sum())
    notes = notes[inside]
    start = quantize(notes[:, START], step).clip(0)
    end = np.maximum(quantize(notes[:, END], step), start + 1)
    pitch = notes[:, PITCH].astype(np.int64) - low
    steps = int(end.max()) if len(end) else 0
    count = np.zeros((steps + 1, high - low + 1), np.int32)      # +1 at a start, -1 after the end
    np.add.at(count, (start, pitch), 1)
    np.add.at(count, (end, pitch), -1)
    play = np.cumsum(count, axis=0)[:steps] > 0
    onset = np.zeros_like(play)
    onset[start, pitch] = True
    return play, onset, dropped


def roll_to_piece(play: np.ndarray, onset: np.ndarray, step: float, low: int) -> Piece:
    """Notes from ``play`` / ``onset`` step-by-pitch arrays: a note starts where a pitch starts to
    sound or is articulated, and lasts while it sounds without a new onset."""
    steps, pitches = play.shape
    before = np.vstack([np.zeros((1, pitches), bool), play[:-1]])
    starts = play & (onset | ~before)
    goes_on = play & ~starts                  # the cell continues the note before it
    rows = []
    for p in np.flatnonzero(starts.any(axis=0)):
        at = np.flatnonzero(starts[:, p])
        stops = np.r_[np.flatnonzero(~goes_on[:, p]), steps]   # the first cell not continuing
        ends = stops[np.searchsorted(stops, at, side="right")]
        rows.append(np.column_stack([at * step, ends * step, np.full(len(at), p + low),
                                     np.full(len(at), VELOCITY), np.zeros(len(at))]))
    notes = np.concatenate(rows) if rows else np.zeros((0, 5))
    return Piece("decoded", notes, [Track()])


class _RollEncoding(Tokenizer):
    """What both encodings share: the step, the fitted pitch range, the roll of a piece."""

    def __init__(self, step: float = 0.25, margin: int = 0) -> None:
        if not step > 0 or margin < 0:
            raise ValueError(f"step must be positive and margin at least 0, got {step}, {margin}")
        super().__init__(step=step, margin=margin)
        self.step, self.margin = float(step), int(margin)
        self.low, self.high = 60, 60

    @property
    def pitches(self) -> int:
        return self.high - self.low + 1

    def _fit(self, pieces: Sequence[Piece]) -> None:
        found = [p.notes[~p.drum_mask(), PITCH] for p in pieces if p.n_notes]
        found = np.concatenate(found) if found else np.zeros(0)
        if not len(found):
            raise ValueError(f"the {self.name} encoding needs melodic notes; the corpus has none")
        self.low = max(int(found.min()) - self.margin, 0)
        self.high = min(int(found.max()) + self.margin, 127)
        self._after_fit()

    def _after_fit(self) -> None:
        pass

    def _roll(self, piece: Piece) -> tuple[np.ndarray, np.ndarray]:
        play, onset, dropped = sounding(piece, self.step, self.low, self.high)
        if dropped:
            self.losses["notes_dropped"] += dropped
        return play, onset

    def _state(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.low, self.high = int(state["low"]), int(state["high"])
        self._after_fit()


@register
class PianoRollTokenizer(_RollEncoding):
    """One token per (step, pitch) cell: ``off``, ``on`` or ``held``."""

    name = "pianoroll"

    def encode(self, piece: Piece) -> np.ndarray:
        play, onset = self._roll(piece)
        return np.where(play, np.where(onset, ON, HELD), OFF).astype(np.int32).ravel()

    def cells(self, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
        """Token ids as a ``(steps, pitches)`` array of cells (a last, partial step filled ``off``;
        ``PAD`` and unknown ids skipped)."""
        ids = np.asarray(tokens, np.int64).reshape(-1)
        ids = ids[(ids > PAD) & (ids <= HELD)]
        steps = -(-len(ids) // self.pitches)
        out = np.full(steps * self.pitches, OFF, np.int64)
        out[:len(ids)] = ids
        return out.reshape(steps, self.pitches)

    def decode(self, tokens: Sequence[int] | np.ndarray) -> Piece:
        cells = self.cells(tokens)
        return roll_to_piece(cells >= ON, cells == ON, self.step, self.low)

    @property
    def vocab(self) -> list[str]:
        return [PAD_NAME, "off", "on", "held"]

    def steps_in(self, tokens: Sequence[int] | np.ndarray) -> int:
        return len(self.cells(tokens))

    def beat_clock(self, batch: int) -> "RollClock":
        return RollClock(batch, self.step, self.pitches)


@register
class FrameTokenizer(_RollEncoding):
    """Each step's sounding pitches lowest first, then ``|``; ``START`` first."""

    name = "frames"
    START, END_OF_STEP = 1, 2

    def _fixed(self) -> int:
        return 3                                   # PAD, START, |

    def encode(self, piece: Piece) -> np.ndarray:
        play, _ = self._roll(piece)
        steps, pitches = np.nonzero(play)          # row-major: by step, lowest pitch first
        ids = pitches + self._fixed()
        # each step's pitches, then its end-of-step token: place step t's | after its pitches
        counts = np.bincount(steps, minlength=len(play))
        out = np.full(1 + len(ids) + len(play), self.END_OF_STEP, np.int32)
        out[0] = self.START
        ends = np.cumsum(counts + 1)               # 1-based index of each step's | (after START)
        is_pitch = np.ones(len(out), bool)
        is_pitch[0] = False
        is_pitch[ends] = False
        out[is_pitch] = ids
        return out

    def decode(self, tokens: Sequence[int] | np.ndarray) -> Piece:
        ids = np.asarray(tokens, np.int64).reshape(-1)
        ids = ids[(ids > self.START) & (ids < self.vocab_size)]
        step = np.cumsum(ids == self.END_OF_STEP) - (ids == self.END_OF_STEP)
        pitch = ids >= self._fixed()
        steps = int(step[pitch].max()) + 1 if pitch.any() else 0
        play = np.zeros((steps, self.pitches), bool)
        play[step[pitch], ids[pitch] - self._fixed()] = True
        return roll_to_piece(play, np.zeros_like(play), self.step, self.low)

    @property
    def vocab(self) -> list[str]:
        return [PAD_NAME, "START", "|"] + [note_name(p) for p in range(self.low, self.high + 1)]

    def steps_in(self, tokens: Sequence[int] | np.ndarray) -> int:
        return int(np.sum(np.asarray(tokens) == self.END_OF_STEP))

    def beat_clock(self, batch: int) -> "FrameClock":
        return FrameClock(batch, self.step, self.END_OF_STEP, self._fixed())


@register
class QuarterPianoRollTokenizer(PianoRollTokenizer):
    """``pianoroll`` at one step per quarter note (the JSB benchmark's resolution)."""

    name = "pianoroll-quarter"

    def __init__(self, step: float = 1.0, margin: int = 0) -> None:
        super().__init__(step=step, margin=margin)


@register
class QuarterFrameTokenizer(FrameTokenizer):
    """``frames`` at one step per quarter note (the JSB benchmark's resolution)."""

    name = "frames-quarter"

    def __init__(self, step: float = 1.0, margin: int = 0) -> None:
        super().__init__(step=step, margin=margin)


class RollClock(BeatClock):
    """``pianoroll``: token ``k`` is in step ``k // pitches``; a sounding cell makes the piece
    last to that step's end."""

    def __init__(self, batch: int, step: float, pitches: int) -> None:
        super().__init__(batch)
        self.step, self.pitches, self.fed = step, pitches, [0] * batch

    def _feed(self, i: int, token: int) -> None:
        if token == PAD:
            return
        if token in (ON, HELD):
            self.beats[i] = (self.fed[i] // self.pitches + 1) * self.step
        self.fed[i] += 1


class FrameClock(BeatClock):
    """``frames``: ``|`` ends a step; a pitch makes the piece last to its step's end."""

    def __init__(self, batch: int, step: float, end_of_step: int, first_pitch: int) -> None:
        super().__init__(batch)
        self.step, self.end_of_step, self.first_pitch = step, end_of_step, first_pitch
        self.at = [0] * batch

    def _feed(self, i: int, token: int) -> None:
        if token == self.end_of_step:
            self.at[i] += 1
        elif token >= self.first_pitch:
            self.beats[i] = (self.at[i] + 1) * self.step
