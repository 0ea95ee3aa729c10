"""The biaxial RNN (Daniel Johnson, 2015) in Keras 3: polyphony with transposition invariance.

It reads a piano roll (the ``pianoroll`` encoding's cells: ``off``, ``on``, ``held`` for every
step and pitch) and predicts each cell from everything before it, along two axes:

1. **time axis**: for every pitch, the same stacked LSTM (300, 300 in the original, ``large``)
   runs over the steps. Its input at step ``t`` describes the previous step *relative to that
   pitch* (:func:`note_features`): the pitch's position, its pitch class, the play/articulate
   bits of the pitches within an octave either side, how many notes of each pitch class sound
   (counted from this pitch's class), and the beat. Sharing the LSTM across pitches is what
   makes the model (nearly) transposition invariant.
2. **note axis**: at each step, a second stacked LSTM (100, 50) runs *up the keyboard*, reading
   the time axis's output for a pitch and the choice (play, articulate) just made for the pitch
   below it, and outputs P(play) and P(articulate | play) for this pitch.

The model returns, per cell, the probabilities of the encoding's tokens ``[PAD, off, on, held]``
= ``[0, 1 - p, p * a, p * (1 - a)]``, so it trains with the same sparse cross-entropy as every
token model (nats per cell) and generates through the same sampler (``core.models.inference``'s
:class:`~core.models.inference.BiaxialStepper`, one cell at a time, the lower notes first). The note
features are computed in NumPy (:func:`note_features`) by both the training data
(:class:`RollBatches`) and the stepper, so training and generation read the same inputs.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import layers, ops

from core.models.batches import PieceBatches
from core.encodings.rolls import ON

VICINITY = 12        # pitches either side whose previous play/articulate a pitch reads
BEAT_BITS = 4        # the beat as 4 bits of the step index (a bar of 16 sixteenths)
FEATURES = 1 + 12 + 2 * (2 * VICINITY + 1) + 12 + BEAT_BITS   # 79
PAD_STEPS = 8        # roll batches are padded to a multiple of this many steps


# --- the inputs ------------------------------------------------------------------------------
def note_features(previous: np.ndarray, steps: np.ndarray, low: int) -> np.ndarray:
    """The time axis's inputs, float32 ``(..., P, FEATURES)``, for cells ``previous``
    ``(..., P)`` (the step before; ``PAD`` reads as ``off``) at step indices ``steps`` ``(...)``
    for the pitches ``low .. low + P - 1``.

    Per pitch: position (semitones from middle C / 24), pitch class (one-hot 12), play and
    articulate of the ``2 * VICINITY + 1`` pitches around it (50), count of sounding notes per
    pitch class starting at its own class (12), beat (4 bits as -1/+1) -- the original's inputs
    without its constant zero.
    """
    previous = np.asarray(previous)
    lead, pitches = previous.shape[:-1], previous.shape[-1]
    play = (previous >= ON).astype(np.float32)
    artic = (previous == ON).astype(np.float32)
    pad = np.zeros(lead + (VICINITY,), np.float32)
    around = np.arange(pitches)[:, None] + np.arange(2 * VICINITY + 1)[None, :]
    vicinity = np.stack([np.concatenate([pad, play, pad], -1)[..., around],
                         np.concatenate([pad, artic, pad], -1)[..., around]], -1)
    pitch = low + np.arange(pitches)
    pitch_class = np.eye(12, dtype=np.float32)[pitch % 12]                     # (P, 12)
    counts = play @ pitch_class                                                # (..., 12)
    context = counts[..., (pitch[:, None] + np.arange(12)[None, :]) % 12]     # (..., P, 12)
    bits = (np.asarray(steps)[..., None] >> np.arange(BEAT_BITS)) & 1
    beat = np.broadcast_to((2.0 * bits - 1.0)[..., None, :], lead + (pitches, BEAT_BITS))
    position = np.broadcast_to(((pitch - 60) / 24.0)[:, None], lead + (pitches, 1))
    return np.concatenate([position, np.broadcast_to(pitch_class, lead + (pitches, 12)),
                           vicinity.reshape(lead + (pitches, -1)), context, beat],
                          -1).astype(np.float32)


def roll_inputs(cells: np.ndarray, low: int, first_step: int = 0,
                before: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The model's inputs for cells ``(..., T, P)``: ``features`` (from each step's previous
    step; ``before``, the step before the first, defaults to silence) and the ``cells``."""
    cells = np.asarray(cells)
    first = np.zeros_like(cells[..., :1, :]) if before is None else np.asarray(before)[..., None, :]
    previous = np.concatenate([first, cells[..., :-1, :]], axis=-2)
    steps = first_step + np.arange(cells.shape[-2])
    return {"features": note_features(previous, np.broadcast_to(steps, cells.shape[:-1]), low),
            "cells": cells.astype(np.int32)}


class RollBatches(PieceBatches):
    """Whole pieces as piano rolls: ``({"features", "cells"}, cells, weights)`` batches of
    ``(batch, T, P)`` cells, ``T`` the batch's longest piece rounded up to ``PAD_STEPS``, padded
    with ``PAD`` cells at weight 0. The model is causal inside (the time axis reads the step
    before, the note axis the pitches below), so the targets are the input cells themselves.
    Pieces over ``max_len`` steps are cut into chunks (each from a zero LSTM state, its features
    still reading the step before it)."""

    def __init__(self, seqs: Sequence[np.ndarray], batch_size: int, *, pitches: int, low: int,
                 max_len: int = 4096, shuffle: bool = True, seed: int = 0) -> None:
        self.pitches, self.low = int(pitches), int(low)
        super().__init__(seqs, batch_size, max_len=max_len, shuffle=shuffle, seed=seed)

    def _chunks(self, seqs: Sequence[np.ndarray], max_len: int) -> list[Any]:
        chunks = []
        for s in seqs:
            roll = np.asarray(s, np.int32).reshape(-1, self.pitches)
            for at in range(0, len(roll), max_len):
                before = roll[at - 1] if at else None
                chunks.append((roll[at:at + max_len], at, before))
        return chunks

    def _length(self, chunk: Any) -> int:
        return len(chunk[0]) + 1     # as a token chunk: one more than its targets

    @property
    def supervised_tokens(self) -> int:
        return sum(c[0].size for c in self.chunks)

    def __getitem__(self, i: int):
        rows = [self.chunks[j] for j in self.batches[i]]
        width = -(-max(len(r[0]) for r in rows) // PAD_STEPS) * PAD_STEPS
        features = np.zeros((len(rows), width, self.pitches, FEATURES), np.float32)
        cells = np.zeros((len(rows), width, self.pitches), np.int32)
        for k, (roll, at, before) in enumerate(rows):
            x = roll_inputs(roll, self.low, at, before)
            features[k, :len(roll)], cells[k, :len(roll)] = x["features"], x["cells"]
        return {"features": features, "cells": cells}, cells, (cells > 0).astype(np.float32)


# --- the Keras model -------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="composer")
class FoldPitches(layers.Layer):
    """``(batch, T, P, F)`` -> ``(batch * P, T, F)``: one time-axis sequence per pitch."""

    def call(self, x):
        t, f = ops.shape(x)[1], x.shape[-1]
        return ops.reshape(ops.transpose(x, (0, 2, 1, 3)), (-1, t, f))

    def compute_output_shape(self, shape):
        return (None, shape[1], shape[3])


@keras.saving.register_keras_serializable(package="composer")
class UnfoldSteps(layers.Layer):
    """``[(batch * P, T, H), cells (batch, T, P)]`` -> ``(batch * T, P, H)``: one note-axis
    sequence per step."""

    def call(self, inputs):
        h, cells = inputs
        t, p, units = ops.shape(cells)[1], cells.shape[-1], h.shape[-1]
        h = ops.transpose(ops.reshape(h, (-1, p, t, units)), (0, 2, 1, 3))
        return ops.reshape(h, (-1, p, units))

    def compute_output_shape(self, shapes):
        return (None, shapes[1][2], shapes[0][2])


@keras.saving.register_keras_serializable(package="composer")
class LowerChoices(layers.Layer):
    """cells ``(batch, T, P)`` -> ``(batch * T, P, 2)``: for each pitch, the play and
    articulate bits of the pitch below it at the same step (zeros for the lowest)."""

    def call(self, cells):
        play = ops.cast(cells >= ON, self.compute_dtype)
        artic = ops.cast(cells == ON, self.compute_dtype)
        bits = ops.stack([play, artic], axis=-1)[:, :, :-1]
        bits = ops.pad(bits, [[0, 0], [0, 0], [1, 0], [0, 0]])
        return ops.reshape(bits, (-1, cells.shape[-1], 2))

    def compute_output_shape(self, shape):
        return (None, shape[2], 2)


@keras.saving.register_keras_serializable(package="composer")
class CellProbabilities(layers.Layer):
    """``[P(play), P(articulate | play)] (batch * T, P, 2)`` and the cells -> probabilities of
    the cell tokens ``[PAD, off, on, held]``, ``(batch, T, P, 4)``."""

    def call(self, inputs):
        p, cells = inputs
        p = ops.reshape(p, (-1, ops.shape(cells)[1], cells.shape[-1], 2))
        play, artic = p[..., 0], p[..., 1]
        return ops.stack([ops.zeros_like(play), 1.0 - play, play * artic, play * (1.0 - artic)],
                         axis=-1)

    def compute_output_shape(self, shapes):
        return (None, shapes[1][1], shapes[1][2], 4)


def build(c) -> keras.Model:
    """The biaxial model of a ``ModelConfig`` (``units``: the time axis, ``note_units``: the
    note axis, ``pitches`` and ``pitch_low``: the roll's range)."""
    features = keras.Input((None, c.pitches, FEATURES), name="features")
    cells = keras.Input((None, c.pitches), dtype="int32", name="cells")
    x = FoldPitches(name="fold_pitches")(features)
    for i, u in enumerate(c.units):
        x = layers.LSTM(u, return_sequences=True, name=f"time_lstm_{i}")(x)
        x = layers.Dropout(c.dropout)(x)
    x = UnfoldSteps(name="unfold_steps")([x, cells])
    x = layers.Concatenate(name="with_lower_choice")([x, LowerChoices(name="lower_choices")(cells)])
    for i, u in enumerate(c.note_units):
        x = layers.LSTM(u, return_sequences=True, name=f"note_lstm_{i}")(x)
        x = layers.Dropout(c.dropout)(x)
    p = layers.Dense(2, activation="sigmoid", dtype="float32", name="play_articulate")(x)
    out = CellProbabilities(dtype="float32", name="next_cell")([p, cells])
    return keras.Model([features, cells], out, name="biaxial")
