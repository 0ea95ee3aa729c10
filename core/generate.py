"""Generate music from a trained run: a primer, then one sampled token at a time.

    >>> gen = Generator.from_run("runs/bach-studio")           # best checkpoint
    >>> result = gen.generate(length=500, temperature=0.9, top_p=0.95, seed=1, variations=3)
    >>> result.piece(0).to_midi().write("out.mid")

How a step is computed depends on the model's design (``core.presets``):

- many-to-many presets (``studio``, ``ragtime``) run as a recurrence: :class:`LSTMStepper` takes
  the Keras weights out once and computes one token per step in NumPy with the LSTM state carried
  forward, so a step costs the same at token 5 and at token 5000 (no window is ever re-run);
- many-to-one presets (``skuli``, ``softology``, ``devfest``) only know "the next token after a
  full window": every step slides the window by one token and runs the whole window again, once
  for all variations together (:class:`SlidingWindow`), also in NumPy (:class:`WindowForward`).

Both NumPy forms equal the Keras models' outputs (tested to 1e-5); they exist because a Keras call
per token costs milliseconds of overhead on a CPU, more than the arithmetic of a step.

Sampling (:func:`sample`) works on the next-token probabilities of all variations at once:
``PAD`` is never drawn; a repetition penalty, the anti-loop ban (:class:`LoopGuard`), the
temperature and top-k / top-p shape the distribution; then one draw per variation from a seeded
``np.random.Generator``, so the same seed gives the same music.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from core.encodings.base import PAD, Tokenizer
from core.piece import Piece, Track
from core.runs import Run

DEFAULT_LENGTH = 256        # tokens, when neither length nor seconds is given
MAX_LENGTH = 20_000         # tokens per variation
MAX_VARIATIONS = 64
MAX_TEMPERATURE = 5.0
GREEDY_BELOW = 1e-3         # a temperature below this picks the most probable token (argmax)
REPETITION_WINDOW = 32      # tokens looked back at by the repetition penalty
LOOP_MAX_PERIOD = 32        # longest cycle (tokens) the anti-loop guard looks for
SECONDS_CHECK_EVERY = 16    # tokens between two decodes when a length in seconds is set and the
                            # encoding has no BeatClock
PRIMERS = ("corpus", "note", "text", "midi")


# --- the models in NumPy ---------------------------------------------------------------------
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * np.tanh(0.5 * x) + 0.5  # = 1 / (1 + exp(-x)), without overflow


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


_ACTIVATIONS = {"linear": lambda x: x, "relu": lambda x: np.maximum(x, 0.0),
                "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
                "softmax": _softmax}


def _lstm_weights(layer: Any) -> list[np.ndarray]:
    """``[kernel (in, 4n), recurrent_kernel (n, 4n), bias (4n,)]`` of a Keras LSTM, float32."""
    cfg = layer.get_config()
    if (cfg["activation"], cfg["recurrent_activation"], cfg["use_bias"], cfg["go_backwards"]) != \
            ("tanh", "sigmoid", True, False):
        raise ValueError(f"{layer.name}: only forward tanh/sigmoid LSTMs with a bias are supported")
    return [np.asarray(w, np.float32) for w in layer.get_weights()]


def _token_table(layer: Any) -> np.ndarray:
    """The rows fed to the first layer per token id: an embedding matrix, or one-hot rows."""
    import keras

    if isinstance(layer, keras.layers.Embedding):
        if layer.mask_zero:
            raise ValueError(f"{layer.name}: a masking embedding is not supported")
        return np.asarray(layer.get_weights()[0], np.float32)
    return np.eye(layer.vocab_size, dtype=np.float32)


def _lstm_cell(z: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One Keras LSTM step from the gate inputs ``z = x @ kernel + h @ recurrent + bias``
    ``(batch, 4n)``, gates in the order ``i, f, c, o``: returns the new ``(h, c)``."""
    n = c.shape[1]
    gates = _sigmoid(z)
    c = gates[:, n:2 * n] * c + gates[:, :n] * np.tanh(z[:, 2 * n:3 * n])
    return gates[:, 3 * n:] * np.tanh(c), c


def _lstm_sequence(x: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray,
                   return_sequences: bool) -> np.ndarray:
    """A Keras LSTM over ``x`` ``(batch, T, in)`` from a zero state: ``(batch, T, n)`` or the
    last ``h`` ``(batch, n)``. The input projections of all steps are one product."""
    z_in = x @ kernel + bias
    h = c = np.zeros((x.shape[0], recurrent.shape[0]), np.float32)
    hs = []
    for t in range(x.shape[1]):
        h, c = _lstm_cell(z_in[:, t] + h @ recurrent, c)
        hs.append(h)
    return np.stack(hs, axis=1) if return_sequences else h


class LSTMStepper:
    """A many-to-many model (``Embedding | OneHot -> LSTM x L (-> Dropout) -> Dense softmax``)
    one token at a time in float32 NumPy, the LSTM state ``(h, c)`` of every layer carried forward.

    The input projection of the first LSTM is folded into one table ``(vocab, 4 * units)``
    (embedding @ kernel + bias), so a token costs a row lookup there. Dropout is inactive at
    inference.
    """

    def __init__(self, model: Any) -> None:
        import keras

        from core.presets import OneHot

        table, lstms, out = None, [], None
        for layer in model.layers:
            if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout)):
                continue
            if isinstance(layer, (keras.layers.Embedding, OneHot)) and table is None:
                table = _token_table(layer)
            elif isinstance(layer, keras.layers.LSTM) and out is None and table is not None:
                lstms.append(_lstm_weights(layer))
            elif isinstance(layer, keras.layers.Dense) and out is None and lstms:
                if layer.get_config()["activation"] != "softmax":
                    raise ValueError(f"{layer.name}: the output layer must be a softmax")
                out = [np.asarray(w, np.float32) for w in layer.get_weights()]
            else:
                raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) does not fit the "
                                 "embedding -> LSTM -> softmax form that can be stepped")
        if table is None or not lstms or out is None:
            raise ValueError("the model is not an embedding -> LSTM -> softmax model")
        kernel0, self.recurrent0, bias0 = lstms[0]
        self.input0 = table @ kernel0 + bias0                        # (vocab, 4 * units)
        self.upper = lstms[1:]                                       # (kernel, recurrent, bias)
        self.units = [k.shape[1] // 4 for k, _, _ in lstms]
        self.out_kernel, self.out_bias = out                         # (units, vocab), (vocab,)
        self.vocab_size = int(self.out_bias.shape[0])
        self.reset(1)

    def reset(self, batch: int) -> None:
        """Zero state for ``batch`` sequences (what a Keras LSTM starts from)."""
        self.h = [np.zeros((batch, u), np.float32) for u in self.units]
        self.c = [np.zeros((batch, u), np.float32) for u in self.units]

    def step(self, tokens: np.ndarray) -> np.ndarray:
        """Feed one token per sequence (int array ``(batch,)``); next-token probabilities
        ``(batch, vocab)``, float32."""
        self.h[0], self.c[0] = _lstm_cell(self.input0[tokens] + self.h[0] @ self.recurrent0, self.c[0])
        for i, (kernel, recurrent, bias) in enumerate(self.upper, start=1):
            z = self.h[i - 1] @ kernel + self.h[i] @ recurrent + bias
            self.h[i], self.c[i] = _lstm_cell(z, self.c[i])
        return _softmax(self.h[-1] @ self.out_kernel + self.out_bias)

    def run(self, tokens: np.ndarray) -> np.ndarray:
        """Probabilities ``(batch, T, vocab)`` after each of ``tokens`` ``(batch, T)``, from a
        zero state: what the Keras model returns for the same input."""
        tokens = np.asarray(tokens)
        self.reset(len(tokens))
        return np.stack([self.step(tokens[:, t]) for t in range(tokens.shape[1])], axis=1)


class WindowForward:
    """A many-to-one model's forward pass in NumPy: token ids ``(batch, window)`` -> next-token
    probabilities ``(batch, vocab)``, float32, equal to ``model.predict_on_batch``.

    Knows the layers of the seed presets, in a chain: ``ScaleTokens``, ``Embedding``, ``OneHot``,
    ``LSTM``, ``BatchNormalization`` (inference: moving statistics), ``Dense`` and ``Activation``
    (linear, relu, elu, softmax), ``Dropout`` (inactive). Anything else is a ``ValueError``.
    """

    def __init__(self, model: Any) -> None:
        self.layers = []
        previous = None
        for layer in model.layers:
            if previous is not None and layer.input is not previous.output:
                raise ValueError(f"layer {layer.name!r} does not follow the one before it")
            previous = layer
            fn = _numpy_layer(layer)
            if fn is not None:
                self.layers.append(fn)

    def __call__(self, tokens: np.ndarray) -> np.ndarray:
        x = np.asarray(tokens)
        for fn in self.layers:
            x = fn(x)
        return x


def _numpy_layer(layer: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """A NumPy function for one Keras layer at inference; ``None`` for one that does nothing."""
    import keras

    from core.presets import OneHot, ScaleTokens

    name = type(layer).__name__
    if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout)):
        return None
    if isinstance(layer, ScaleTokens):
        scale = np.float32(1.0 / layer.vocab_size)
        return lambda ids: (ids.astype(np.float32) * scale)[..., None]
    if isinstance(layer, (keras.layers.Embedding, OneHot)):
        table = _token_table(layer)
        return lambda ids: table[ids]
    if isinstance(layer, keras.layers.LSTM):
        kernel, recurrent, bias = _lstm_weights(layer)
        sequences = bool(layer.return_sequences)
        return lambda x: _lstm_sequence(x, kernel, recurrent, bias, sequences)
    if isinstance(layer, keras.layers.BatchNormalization):
        if layer.axis not in (-1, len(layer.input.shape) - 1):
            raise ValueError(f"{layer.name}: only batch normalization over the last axis is supported")
        def numpy(variable):
            return keras.ops.convert_to_numpy(variable).astype(np.float32)

        mul = 1.0 / np.sqrt(numpy(layer.moving_variance) + np.float32(layer.epsilon))
        if layer.scale:
            mul = mul * numpy(layer.gamma)
        add = -numpy(layer.moving_mean) * mul + (numpy(layer.beta) if layer.center else 0.0)
        return lambda x: x * mul + add
    if isinstance(layer, (keras.layers.Dense, keras.layers.Activation)):
        activation = layer.get_config()["activation"]
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{layer.name}: activation {activation!r} is not supported")
        act = _ACTIVATIONS[activation]
        if isinstance(layer, keras.layers.Activation):
            return act
        kernel, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
        return lambda x: act(x @ kernel + bias)
    raise ValueError(f"layer {layer.name!r} ({name}) has no NumPy form here")


class SlidingWindow:
    """A many-to-one model: the next token after the last ``window`` tokens.

    Every step shifts the window of each variation by one token and runs the model once for the
    whole batch, in NumPy (:class:`WindowForward`, ~10x faster than Keras on a CPU for these
    small batches), or through Keras's compiled predict function for a model with other layers.
    A primer shorter than the window is repeated to fill it (rather than padded: the seed
    models never saw ``PAD``, and ``skuli`` reads ids as numbers, where ``PAD`` is a real 0.0).
    """

    def __init__(self, model: Any, window: int) -> None:
        try:
            self.forward: Callable[[np.ndarray], np.ndarray] = WindowForward(model)
        except ValueError:
            self.forward = model.predict_on_batch
        self.window = int(window)
        self.x = np.zeros((1, self.window), np.int32)

    def start(self, primer: np.ndarray, batch: int) -> np.ndarray:
        filled = np.resize(primer[::-1], self.window)[::-1]  # primer repeated, ending with it
        self.x = np.tile(filled.astype(np.int32), (batch, 1))
        return self._predict()

    def step(self, tokens: np.ndarray) -> np.ndarray:
        self.x[:, :-1] = self.x[:, 1:]
        self.x[:, -1] = tokens
        return self._predict()

    def _predict(self) -> np.ndarray:
        return np.asarray(self.forward(self.x), dtype=np.float32)


class _Recurrent:
    """:class:`LSTMStepper` with the same ``start`` / ``step`` interface as the sliding window."""

    def __init__(self, stepper: LSTMStepper) -> None:
        self.stepper = stepper

    def start(self, primer: np.ndarray, batch: int) -> np.ndarray:
        self.stepper.reset(batch)
        for token in primer:
            probs = self.stepper.step(np.full(batch, token))
        return probs

    def step(self, tokens: np.ndarray) -> np.ndarray:
        return self.stepper.step(tokens)


# --- sampling --------------------------------------------------------------------------------
def sample(probs: np.ndarray, rng: np.random.Generator, *, temperature: float = 1.0,
           top_k: int = 0, top_p: float = 1.0, banned: np.ndarray | None = None,
           penalized: np.ndarray | None = None, penalty: float = 1.0) -> np.ndarray:
    """One token id per row of ``probs`` ``(batch, vocab)``.

    In order: ``PAD`` and the ``banned`` tokens (bool mask ``(batch, vocab)``) are removed;
    ``penalized`` tokens (bool mask) have their probability divided by ``penalty``; the
    temperature rescales the log-probabilities (below ``GREEDY_BELOW`` the most probable token
    is taken); ``top_k`` (0 = off) keeps the k most probable, ``top_p`` (1 = off) the smallest set
    whose probability reaches p. If nothing is left (the model put all its probability on
    banned tokens), the draw is uniform over the tokens that are not banned.
    """
    with np.errstate(divide="ignore"):
        logits = np.log(probs, dtype=np.float64)
    if penalized is not None and penalty != 1.0:
        logits[penalized] -= np.log(penalty)
    if banned is not None:
        banned = banned.copy()
        banned[banned[:, 1:].all(axis=1)] = False  # every token banned: ban none
        logits[banned] = -np.inf
    logits[:, PAD] = -np.inf
    empty = np.isneginf(logits.max(axis=1))  # all the probability was on removed tokens
    if empty.any():
        uniform = np.zeros((int(empty.sum()), logits.shape[1]))
        if banned is not None:
            uniform[banned[empty]] = -np.inf
        uniform[:, PAD] = -np.inf
        logits[empty] = uniform
    if temperature < GREEDY_BELOW:
        return logits.argmax(axis=1)
    logits /= temperature
    if 0 < top_k < logits.shape[1]:
        kth = -np.partition(-logits, top_k - 1, axis=1)[:, top_k - 1:top_k]
        logits[logits < kth] = -np.inf
    if top_p < 1.0:
        rows = np.arange(len(logits))[:, None]
        order = np.argsort(-logits, axis=1)
        p = np.exp(logits[rows, order] - logits[rows, order[:, :1]])
        p /= p.sum(axis=1, keepdims=True)
        drop = np.zeros(logits.shape, bool)
        drop[rows, order] = np.cumsum(p, axis=1) - p >= top_p  # more probable tokens reach p
        logits[drop] = -np.inf
    return (logits + rng.gumbel(size=logits.shape)).argmax(axis=1)  # Gumbel-max = softmax draw


class LoopGuard:
    """Detects, for each variation, that the output ends in a repeating cycle, and bans the
    token that would continue it.

    For every period ``p`` (1 to ``LOOP_MAX_PERIOD`` tokens) it counts the trailing tokens that
    equal the token ``p`` places before them (updated in O(periods) per step), so the output ends
    in a ``p``-periodic stretch of ``matches[p] + p`` tokens. That stretch is a loop when it spans
    at least ``min_repeats`` periods and ``min_span`` tokens. Strength 1 acts soonest (2 periods,
    8 tokens: even 8 rests in a row count); strength near 0 only breaks long loops (4 periods,
    64 tokens); 0 is off.
    """

    def __init__(self, strength: float, batch: int) -> None:
        self.strength = float(strength)
        self.min_repeats = 2 + round(2 * (1 - self.strength))
        self.min_span = 8 + round(56 * (1 - self.strength))
        self.periods = np.arange(1, LOOP_MAX_PERIOD + 1)
        self.matches = np.zeros((batch, LOOP_MAX_PERIOD), np.int64)

    def observe(self, seqs: np.ndarray, t: int) -> None:
        """Take in token ``seqs[:, t]`` (all tokens before it were observed)."""
        if self.strength <= 0:
            return
        back = t - self.periods
        same = (seqs[:, t:t + 1] == seqs[:, back]) & (back >= 0)  # a negative index: no match
        self.matches = (self.matches + 1) * same

    def banned(self, seqs: np.ndarray, t: int, vocab: int) -> np.ndarray | None:
        """Bool mask ``(batch, vocab)``: tokens that would continue a loop at position ``t``."""
        if self.strength <= 0:
            return None
        tail = self.matches + self.periods
        looping = (tail >= self.min_repeats * self.periods) & (tail >= self.min_span)
        if not looping.any():
            return None
        rows, cols = np.nonzero(looping)
        mask = np.zeros((len(seqs), vocab), bool)
        mask[rows, seqs[rows, t - self.periods[cols]]] = True
        return mask


# --- primers: typed notes ----------------------------------------------------------------------
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


# --- how long the music is, token by token ------------------------------------------------------
def beat_clock(tokenizer: Tokenizer, batch: int) -> "BeatClock | None":
    """A :class:`BeatClock` for ``batch`` sequences of ``tokenizer``'s tokens, or ``None`` for an
    encoding (or MidiTok configuration) whose time it cannot follow token by token."""
    from core.encodings.events import EventTokenizer
    from core.encodings.steps import StepTokenizer

    if isinstance(tokenizer, StepTokenizer):
        return _StepClock(tokenizer, batch)
    if isinstance(tokenizer, EventTokenizer):
        return _EventClock.of(tokenizer, batch)
    return None


class BeatClock:
    """The length in beats of each of ``batch`` growing token sequences, exactly what decoding
    says (``tokenizer.decode(tokens).duration_beats``: the latest note end, 0 without notes),
    kept up to date one token per sequence at a time: :meth:`feed` costs the same at token 5 and
    at token 5000, where decoding the sequence again costs its whole length.

    Subclasses read time from tables over token ids, in plain Python numbers (cheaper than
    NumPy calls for a handful of sequences); ``PAD`` (skipped by decoding) changes nothing.
    """

    def __init__(self, batch: int) -> None:
        self.beats = np.zeros(batch)

    def feed(self, tokens: np.ndarray) -> np.ndarray:
        """Take in the next token of every sequence (int array ``(batch,)``); the lengths in
        beats so far, float64 ``(batch,)``."""
        for i, token in enumerate(tokens.tolist()):
            self._feed(i, token)
        return self.beats

    def _feed(self, i: int, token: int) -> None:
        raise NotImplementedError


class _StepClock(BeatClock):
    """``chords``, ``grid``, ``drums``: a token moves time forward by a fixed number of steps
    (one, or a rest class's length) and its notes end a fixed time after its own step."""

    def __init__(self, tokenizer: Any, batch: int) -> None:
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


class _EventClock(BeatClock):
    """``events`` (MidiTok REMI / TSD): MidiTok's decoding of time, one token at a time.

    ``Bar`` moves to the next bar (the first one stays at 0), ``Position_p`` to position ``p`` of
    the bar, ``TimeShift_t`` forward by ``t``; a note is ``Pitch``, ``Velocity``, ``Duration``
    in a row, ending ``Duration`` after the current time. Times are MidiTok ticks (integers),
    turned into beats as decoding does.
    """

    KINDS = ("PAD", "Bar", "Position", "TimeShift", "Pitch", "Velocity", "Duration")
    PAD, BAR, POSITION, SHIFT, PITCH, VELOCITY, DURATION = range(7)

    @classmethod
    def of(cls, tokenizer: Any, batch: int) -> "_EventClock | None":
        """The clock, or ``None`` where MidiTok would decode other tokens or time (programs, time
        signatures, rests, no velocity or duration tokens...)."""
        m = tokenizer._miditok
        c = m.config
        kinds = {name.split("_")[0] for name in tokenizer.vocab}
        if (type(m).__name__ not in ("REMI", "TSD") or not kinds <= set(cls.KINDS)
                or c.use_programs or c.use_time_signatures or not c.use_velocities
                or 0 not in c.use_note_duration_programs):
            return None
        return cls(tokenizer, batch)

    def __init__(self, tokenizer: Any, batch: int) -> None:
        super().__init__(batch)
        m = tokenizer._miditok
        self.tpq = m.time_division                      # ticks per beat of the decoded score
        ticks = m._tpb_tokens_to_ticks[self.tpq]        # "1.2.8" -> ticks, durations and shifts
        per_position = m._compute_ticks_per_pos(self.tpq) if type(m).__name__ == "REMI" else 0
        self.bar_ticks = 4 * self.tpq                   # 4/4: a Piece has no time signature
        self.kind, self.ticks = [self.PAD], [0]
        for name in tokenizer.vocab[1:]:
            kind, value = name.split("_", 1)
            self.kind.append(self.KINDS.index(kind))
            self.ticks.append(int(value) * per_position if kind == "Position"
                              else ticks[value] if kind in ("TimeShift", "Duration") else 0)
        # per sequence: bar number (-1 before the first), its tick, the current tick, the kinds
        # of the two tokens before, the latest note end (-1: none yet)
        self.state = [[-1, 0, 0, self.PAD, self.PAD, -1] for _ in range(batch)]

    def _feed(self, i: int, token: int) -> None:
        kind, ticks = self.kind[token], self.ticks[token]
        if kind == self.PAD:
            return
        bar, bar_tick, tick, before, last, end = self.state[i]
        if kind == self.BAR:
            if bar >= 0:
                tick = bar_tick + self.bar_ticks
            bar, bar_tick = bar + 1, tick
        elif kind == self.POSITION:
            bar, tick = max(bar, 0), bar_tick + ticks
        elif kind == self.SHIFT:
            tick += ticks
        elif kind == self.DURATION and last == self.VELOCITY and before == self.PITCH \
                and tick + ticks > end:
            end = tick + ticks
            self.beats[i] = end / self.tpq
        self.state[i] = [bar, bar_tick, tick, last, kind, end]


# --- the result ----------------------------------------------------------------------------------
@dataclass
class Result:
    """What :meth:`Generator.generate` made.

    ``tokens``: one int32 array per variation, the primer's ``primer_length`` tokens first (they
    can differ in length when a length in seconds was asked for). ``elapsed_s``: wall-clock
    seconds the generation took (primer encoding excluded). ``seed``: the seed used (drawn when
    none was given), so a result can be made again. ``tempo`` (bpm) and ``program`` (General MIDI,
    ``None`` = as decoded) are applied by :meth:`piece`.
    """

    tokens: list[np.ndarray]
    primer_length: int
    elapsed_s: float
    seed: int
    tempo: float
    program: int | None
    include_primer: bool
    tokenizer: Tokenizer = field(repr=False)

    @property
    def generated_tokens(self) -> int:
        """Tokens sampled, over all variations (primers not counted)."""
        return sum(len(t) - self.primer_length for t in self.tokens)

    def piece(self, i: int = 0, include_primer: bool | None = None) -> Piece:
        """Variation ``i`` decoded, at the result's tempo and program; drum encodings decode onto
        the drum channel. ``include_primer`` (default: the result's setting) keeps the primer."""
        keep = self.include_primer if include_primer is None else include_primer
        tokens = self.tokens[i] if keep else self.tokens[i][self.primer_length:]
        decoded = self.tokenizer.decode(tokens)
        drums = self.tokenizer.instrument_kind == "drums"
        tracks = [Track(0, True, t.name) if drums else
                  Track(t.program if self.program is None else self.program, t.is_drum, t.name)
                  for t in decoded.tracks]
        return Piece(f"variation {i + 1}", decoded.notes, tracks, self.tempo, dict(decoded.meta))

    @property
    def pieces(self) -> list[Piece]:
        return [self.piece(i) for i in range(len(self.tokens))]

    def midi(self, i: int = 0, include_primer: bool | None = None):
        """Variation ``i`` as a ``pretty_midi.PrettyMIDI`` (times in seconds)."""
        return self.piece(i, include_primer).to_midi()


# --- the generator ------------------------------------------------------------------------------
class Generator:
    """Samples music from one checkpoint of a run. Build it with :meth:`from_run`, or from a live
    ``model`` (e.g. during training) with its ``tokenizer`` and ``config``
    (a :class:`core.presets.ModelConfig`)."""

    def __init__(self, model: Any, tokenizer: Tokenizer, config: Any, run: Run | None = None) -> None:
        outputs = int(model.output_shape[-1])
        if outputs != tokenizer.vocab_size:
            raise ValueError(f"the checkpoint predicts {outputs} tokens but the run's tokenizer has "
                             f"{tokenizer.vocab_size}: it was trained on another vocabulary")
        self.model, self.tokenizer, self.config, self.run = model, tokenizer, config, run
        if config.many_to_many:
            self._engine: Any = _Recurrent(LSTMStepper(model))
        else:
            self._engine = SlidingWindow(model, config.window)

    @classmethod
    def from_run(cls, run_dir: str | Path | Run, epoch: int | None = None) -> "Generator":
        """The checkpoint of ``epoch`` (default: ``best.keras``, else the latest) of a run folder,
        loaded with ``safe_mode``, with the run's tokenizer and model config."""
        from core import presets

        run = run_dir if isinstance(run_dir, Run) else Run(run_dir)
        if not run.exists:
            raise ValueError(f"{run.path} is not a run folder (no run.json)")
        path = run.checkpoint(epoch)
        try:
            model = presets.load_model(path)
        except Exception as e:
            raise ValueError(f"cannot load the checkpoint {path.name}: {e}") from e
        return cls(model, run.tokenizer(), presets.ModelConfig.from_dict(run.config["model"]), run)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    # --- primers -----------------------------------------------------------------------------
    def primer(self, kind: str = "note", *, text: str | None = None,
               midi: bytes | str | Path | None = None, note: int | str | None = None,
               length: int | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Primer token ids (int32, never empty) of one ``kind``:

        - ``"corpus"``: a random window of ``length`` tokens (default: the model's window) from a
          training piece of the run (the corpus is re-loaded from its on-disk cache);
        - ``"note"``: a single ``note`` (MIDI number or name; default C4, or a kick drum for drum
          encodings), moved to the nearest pitch (and a loudness) the vocabulary can say;
        - ``"text"``: notes typed as text (:func:`parse_notes`), or the encoding's own token
          names separated by spaces (e.g. ``Pitch_60``);
        - ``"midi"``: a MIDI file (bytes or path), its first ``length`` tokens when given.

        Raises ``ValueError`` with the reason for anything it cannot use.
        """
        rng = rng or np.random.default_rng()
        drums = self.tokenizer.instrument_kind == "drums"
        if kind == "corpus":
            return self._corpus_primer(length or self.config.window, rng)
        if kind == "note":
            return self._note_primer(36 if drums and note is None else note if note is not None else 60)
        if kind == "text":
            if not text or not text.strip():
                raise ValueError("the text primer is empty: type notes like 'C4 E4 G4'")
            try:
                piece = parse_notes(text, is_drum=drums)
            except ValueError as not_notes:
                try:
                    return self.tokenizer.parse_tokens(text)
                except ValueError as not_tokens:
                    raise ValueError(f"primer text: {not_notes}; read as token names: {not_tokens} "
                                     f"(e.g. {' '.join(self.tokenizer.vocab[1:4])})") from None
            return self._encode(piece, "the primer text")
        if kind == "midi":
            if midi is None:
                raise ValueError("the MIDI primer needs a MIDI file")
            tokens = self._encode(_read_midi(midi), "the primer MIDI file")
            return tokens[:length] if length else tokens
        raise ValueError(f"unknown primer {kind!r}; choose one of {', '.join(PRIMERS)}")

    def _encode(self, piece: Piece, what: str) -> np.ndarray:
        tokens = self.tokenizer.encode(piece)
        if not len(tokens):
            raise ValueError(f"{what} has no notes that the {self.tokenizer.name} encoding can use")
        return np.asarray(tokens, np.int32)

    def _note_primer(self, note: int | str) -> np.ndarray:
        pitch = note_pitch(note) if isinstance(note, str) else int(note)
        if not 0 <= pitch <= 127:
            raise ValueError(f"primer note {note} is outside MIDI pitches 0..127")
        drums = self.tokenizer.instrument_kind == "drums"
        nearest = sorted(range(max(pitch - 12, 0), min(pitch + 13, 128)), key=lambda q: abs(q - pitch))
        for p in nearest:
            for velocity in (90, 64, 110, 40, 127, 20):  # an encoding may know only some loudness
                piece = Piece("primer", [[0.0, 1.0, p, velocity, 0]], [Track(0, drums)])
                tokens = self.tokenizer.encode(piece)
                if len(tokens) and self.tokenizer.decode(tokens).n_notes:
                    return np.asarray(tokens, np.int32)
        raise ValueError(f"no note within an octave of {note} is in this model's vocabulary")

    def _corpus_primer(self, length: int, rng: np.random.Generator) -> np.ndarray:
        if self.run is None:
            raise ValueError("a corpus primer needs the run folder (use Generator.from_run)")
        seqs = [s for s in training_sequences(self.run) if len(s)]
        if not seqs:
            raise ValueError("the run's training pieces give no tokens")
        long_enough = [s for s in seqs if len(s) >= length]
        if not long_enough:  # every piece is shorter than the window: the longest, whole
            return max(seqs, key=len).astype(np.int32)
        seq = long_enough[rng.integers(len(long_enough))]
        start = int(rng.integers(len(seq) - length + 1))
        return seq[start:start + length].astype(np.int32)

    # --- generation --------------------------------------------------------------------------
    def generate(self, length: int | None = None, *, seconds: float | None = None,
                 temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 anti_loop: float = 0.0, repetition_penalty: float = 1.0, seed: int | None = None,
                 variations: int = 1, primer: str | np.ndarray = "note", primer_text: str | None = None,
                 primer_midi: bytes | str | Path | None = None, primer_note: int | str | None = None,
                 primer_length: int | None = None, tempo: float = 120.0, program: int | None = None,
                 include_primer: bool | None = None) -> Result:
        """Sample ``variations`` continuations of one primer, all in one batch.

        Length: ``length`` tokens (default 256), or with ``seconds`` until the generated part
        lasts that many seconds at ``tempo`` bpm (followed token by token: each variation ends
        at the first token that reaches it), with ``length`` as the cap on tokens (default 20000).
        ``temperature`` in (0, 5] (near 0: always the most probable token), ``top_k`` (0 = off),
        ``top_p`` in (0, 1] (1 = off), ``anti_loop`` strength in [0, 1] (0 = off; see
        :class:`LoopGuard`), ``repetition_penalty`` >= 1 (each token seen in the last 32 has its
        probability divided by it; 1 = off). ``primer``: a kind for :meth:`primer` (with
        ``primer_text``, ``primer_midi``, ``primer_note``, ``primer_length``) or token ids.
        ``include_primer``: whether :meth:`Result.piece` keeps the primer; by default a corpus
        window is left out (it is the corpus's music, not the model's) and any other kept.
        """
        _check(length=length, seconds=seconds, temperature=temperature, top_k=top_k, top_p=top_p,
               anti_loop=anti_loop, repetition_penalty=repetition_penalty, variations=variations,
               tempo=tempo, program=program)
        seed = int(np.random.default_rng().integers(2**31)) if seed is None else int(seed)
        rng = np.random.default_rng(seed)
        if include_primer is None:
            include_primer = not (isinstance(primer, str) and primer == "corpus")
        if isinstance(primer, str):
            primer = self.primer(primer, text=primer_text, midi=primer_midi, note=primer_note,
                                 length=primer_length, rng=rng)
        primer = np.asarray(primer, np.int32).ravel()
        if not len(primer) or primer.min() <= PAD or primer.max() >= self.vocab_size:
            raise ValueError(f"primer tokens must be ids in 1..{self.vocab_size - 1}")
        cap = length or (MAX_LENGTH if seconds else DEFAULT_LENGTH)
        beats = seconds * tempo / 60.0 if seconds else None

        with _one_blas_thread():
            t0 = time.perf_counter()
            tokens = self._sample(primer, cap, beats, variations, rng, temperature=temperature,
                                  top_k=top_k, top_p=top_p, anti_loop=anti_loop,
                                  repetition_penalty=repetition_penalty)
            elapsed = time.perf_counter() - t0
        return Result(tokens, len(primer), elapsed, seed, float(tempo), program, include_primer,
                      self.tokenizer)

    def _sample(self, primer: np.ndarray, cap: int, beats: float | None, variations: int,
                rng: np.random.Generator, *, temperature: float, top_k: int, top_p: float,
                anti_loop: float, repetition_penalty: float) -> list[np.ndarray]:
        """The sampling loop: token arrays (primer first) of every variation.

        With a length in ``beats``, each variation ends at the first generated token that makes
        it last that long, and sampling stops once all have one. A :class:`BeatClock` follows
        the length token by token; an encoding without one is decoded every
        ``SECONDS_CHECK_EVERY`` tokens and trimmed by binary search (cost quadratic in length).
        """
        n, vocab = len(primer), self.vocab_size
        seqs = np.zeros((variations, n + cap), np.int32)
        seqs[:, :n] = primer
        guard = LoopGuard(anti_loop, variations)
        for t in range(n):
            guard.observe(seqs, t)
        rows = np.arange(variations)[:, None]
        clock = beat_clock(self.tokenizer, variations) if beats else None
        reached = np.zeros(variations, np.int64)  # generated tokens up to the first that reaches
        probs = self._engine.start(primer, variations)
        end = n + cap
        for t in range(n, n + cap):
            penalized = None
            if repetition_penalty != 1.0:
                penalized = np.zeros((variations, vocab), bool)
                penalized[rows, seqs[:, max(0, t - REPETITION_WINDOW):t]] = True
            seqs[:, t] = sample(probs, rng, temperature=temperature, top_k=top_k, top_p=top_p,
                                banned=guard.banned(seqs, t, vocab), penalized=penalized,
                                penalty=repetition_penalty)
            guard.observe(seqs, t)
            done = t + 1 - n
            if clock is not None:
                reached[(reached == 0) & (clock.feed(seqs[:, t]) >= beats)] = done
                if reached.all():
                    end = t + 1
                    break
            elif beats and (done % SECONDS_CHECK_EVERY == 0) and all(
                    self._beats(s[n:t + 1]) >= beats for s in seqs):
                end = t + 1
                break
            if t + 1 < n + cap:
                probs = self._engine.step(seqs[:, t])
        tokens = [s[:end] for s in seqs]
        if clock is not None:
            tokens = [s[:n + r] if r else s for s, r in zip(tokens, reached.tolist())]
        elif beats:
            tokens = [s[:n + self._tokens_for(s[n:], beats)] for s in tokens]
        return tokens

    def _beats(self, tokens: np.ndarray) -> float:
        return self.tokenizer.decode(tokens).duration_beats

    def _tokens_for(self, tokens: np.ndarray, beats: float) -> int:
        """The fewest leading tokens that decode to at least ``beats`` (all when none do)."""
        lo, hi = 1, len(tokens)
        if not hi or self._beats(tokens) < beats:
            return hi
        while lo < hi:  # binary search: decoded duration grows with the prefix
            mid = (lo + hi) // 2
            lo, hi = (mid + 1, hi) if self._beats(tokens[:mid]) < beats else (lo, mid)
        return lo


def _one_blas_thread() -> contextlib.AbstractContextManager:
    """Keep NumPy's BLAS on one thread while sampling (threadpoolctl; a no-op without it).

    The per-step products are small (a few hundred rows): extra BLAS threads gain little on an
    idle machine and, on a busy one, spin waiting for each other (measured 20-40x slower with
    2 cores shared by several processes).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _check(*, length, seconds, temperature, top_k, top_p, anti_loop, repetition_penalty,
           variations, tempo, program) -> None:
    """``ValueError`` for settings outside their ranges, with the range in the message."""
    if length is not None and not 1 <= length <= MAX_LENGTH:
        raise ValueError(f"length must be 1 to {MAX_LENGTH} tokens, got {length}")
    if seconds is not None and not 0 < seconds <= 3600:
        raise ValueError(f"seconds must be more than 0 and at most 3600, got {seconds}")
    if not 0 < temperature <= MAX_TEMPERATURE:
        raise ValueError(f"temperature must be more than 0 and at most {MAX_TEMPERATURE:g}, got "
                         f"{temperature} (below {GREEDY_BELOW:g} it always picks the likeliest token)")
    if top_k < 0:
        raise ValueError(f"top-k must be 0 (off) or more, got {top_k}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top-p must be more than 0 and at most 1 (off), got {top_p}")
    if not 0 <= anti_loop <= 1:
        raise ValueError(f"anti-loop strength must be in 0 (off) to 1, got {anti_loop}")
    if not 1 <= repetition_penalty <= 10:
        raise ValueError(f"repetition penalty must be 1 (off) to 10, got {repetition_penalty}")
    if not 1 <= variations <= MAX_VARIATIONS:
        raise ValueError(f"variations must be 1 to {MAX_VARIATIONS}, got {variations}")
    if not 20 <= tempo <= 400:
        raise ValueError(f"tempo must be 20 to 400 bpm, got {tempo}")
    if program is not None and not 0 <= program <= 127:
        raise ValueError(f"program must be a General MIDI program 0..127, got {program}")


def _read_midi(midi: bytes | str | Path) -> Piece:
    import pretty_midi

    name = "the primer MIDI file" if isinstance(midi, bytes) else Path(midi).name
    try:
        data = midi if isinstance(midi, bytes) else Path(midi).read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read the primer MIDI file {name}: {e.strerror or e}") from None
    try:
        pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as e:  # mido / pretty_midi raise many kinds on a broken file
        raise ValueError(f"{name} is not a readable MIDI file ({e})") from None
    return Piece.from_midi(pm, name)


# --- the run's corpus, loaded once per process ----------------------------------------------------
_SPLITS: dict[tuple[str, Any], tuple[list[Piece], list[Piece]]] = {}
_SEQS: dict[tuple[str, Any], tuple[list[np.ndarray], list[np.ndarray]]] = {}


def cache_key(run: Run) -> tuple[str, Any]:
    """Identifies a run for per-process caches: its folder and creation time (a new run made
    in the same folder gets a new key)."""
    return str(run.path.resolve()), run.config.get("created")


def corpus_split(run: Run) -> tuple[list[Piece], list[Piece]]:
    """``(train, validation)`` pieces of a run, split as its training did; cached per process.

    Raises ``ValueError`` when the run's corpus can no longer be loaded (e.g. a deleted upload).
    """
    key = cache_key(run)
    if key not in _SPLITS:
        from core import corpus

        spec = run.config.get("spec", {})
        kind = run.tokenizer().instrument_kind
        try:
            loaded = corpus.load(spec["corpus"], max_pieces=spec.get("max_pieces"), kind=kind)
        except (KeyError, ValueError, OSError) as e:
            raise ValueError(f"the corpus of run {run.name} cannot be loaded: {e}") from None
        _SPLITS[key] = corpus.split(loaded.pieces, spec.get("val_share", 0.1), spec.get("seed", 0))
    return _SPLITS[key]


def training_sequences(run: Run) -> list[np.ndarray]:
    """Token ids of the run's training pieces (cached per process)."""
    return _sequences(run)[0]


def validation_sequences(run: Run) -> list[np.ndarray]:
    """Token ids of the run's validation pieces (cached per process)."""
    return _sequences(run)[1]


def _sequences(run: Run) -> tuple[list[np.ndarray], list[np.ndarray]]:
    key = cache_key(run)
    if key not in _SEQS:
        tokenizer = run.tokenizer()
        train, val = corpus_split(run)
        _SEQS[key] = ([tokenizer.encode(p) for p in train], [tokenizer.encode(p) for p in val])
    return _SEQS[key]


# --- command line -------------------------------------------------------------------------------
def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate MIDI (and WAV) from a trained run")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("--epoch", type=int, help="checkpoint epoch (default: best, else latest)")
    p.add_argument("--length", type=int, help=f"tokens to generate (default {DEFAULT_LENGTH}; "
                   "with --seconds: the most tokens)")
    p.add_argument("--seconds", type=float, help="stop when the music lasts this many seconds")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0, help="0 = off")
    p.add_argument("--top-p", type=float, default=1.0, help="1 = off")
    p.add_argument("--anti-loop", type=float, default=0.0, help="strength 0 (off) to 1")
    p.add_argument("--repetition-penalty", type=float, default=1.0, help="1 = off")
    p.add_argument("--seed", type=int)
    p.add_argument("--variations", type=int, default=1, help="V > 1 writes OUT_1.mid ... OUT_V.mid")
    p.add_argument("--primer", choices=PRIMERS, help="default: text/midi when given, else note")
    p.add_argument("--primer-text", help='notes like "C4 E4 G4" or token names')
    p.add_argument("--primer-midi", help="MIDI file to continue")
    p.add_argument("--primer-note", help="the single note primer, e.g. C4 or 60")
    p.add_argument("--primer-length", type=int, help="tokens of a corpus or MIDI primer")
    p.add_argument("--drop-primer", action="store_true",
                   help="leave the primer out of the output (a corpus primer always is)")
    p.add_argument("--tempo", type=float, default=120.0, help="beats per minute")
    p.add_argument("--program", type=int, help="General MIDI program 0-127 (default: as decoded)")
    p.add_argument("--out", required=True, help="output .mid")
    p.add_argument("--wav", help="also render a .wav")
    p.set_defaults(func=_cli_generate)


def _cli_generate(args: argparse.Namespace) -> int:
    from core import atomic

    kind = args.primer or ("text" if args.primer_text else "midi" if args.primer_midi else "note")
    note = args.primer_note
    if note is not None and note.isdigit():
        note = int(note)
    gen = Generator.from_run(args.run, args.epoch)
    result = gen.generate(args.length, seconds=args.seconds, temperature=args.temperature,
                          top_k=args.top_k, top_p=args.top_p, anti_loop=args.anti_loop,
                          repetition_penalty=args.repetition_penalty, seed=args.seed,
                          variations=args.variations, primer=kind, primer_text=args.primer_text,
                          primer_midi=args.primer_midi, primer_note=note,
                          primer_length=args.primer_length, tempo=args.tempo, program=args.program,
                          include_primer=False if args.drop_primer else None)
    for i in range(len(result.tokens)):
        piece = result.piece(i)
        out = _numbered(Path(args.out), i, len(result.tokens))
        atomic.write_bytes(out, piece.to_midi_bytes())
        line = (f"wrote {out}: {len(result.tokens[i]) - result.primer_length} tokens after a "
                f"{result.primer_length}-token primer, {piece.n_notes} notes, "
                f"{piece.duration_seconds:.1f} s")
        if args.wav:
            from core.render import render_wav
            wav = _numbered(Path(args.wav), i, len(result.tokens))
            atomic.write_bytes(wav, render_wav(piece))
            line += f"; {wav}"
        print(line)
    print(f"generated {result.generated_tokens} tokens in {result.elapsed_s:.2f} s (seed {result.seed})")
    return 0


def _numbered(path: Path, i: int, count: int) -> Path:
    return path if count == 1 else path.with_name(f"{path.stem}_{i + 1}{path.suffix}")


if __name__ == "__main__":  # pragma: no cover
    from core.__main__ import main
    sys.exit(main(["generate", *sys.argv[1:]]))
