"""The models in NumPy: their inference forms, computed from the Keras weights.

- :class:`LSTMStepper`: a many-to-many model (``studio``, ``ragtime``) one token per step with the
  LSTM state carried forward, so a step costs the same at token 5 and at token 5000;
- :class:`WindowForward`: a many-to-one model's (``skuli``, ``softology``, ``devfest``) whole
  window, batched over sequences; :class:`SlidingWindow` slides it one token per step;
- :class:`BiaxialStepper`: the biaxial model one piano-roll cell at a time;
- :class:`GeneratorStepper`: the C-RNN-GAN's generator one real-valued step at a time.

All equal the Keras models' outputs (tested to 1e-5, for every preset); they exist because a
Keras call per token costs milliseconds of overhead on a CPU, more than a step's arithmetic. A
layer they do not know is a ``ValueError``, never a silent fall-back to a slower path.
:func:`engine_for` picks the form a preset generates with.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np

from core.encodings.rolls import ON
from core.models.biaxial import note_features
from core.models.numpy_ops import (ACTIVATIONS, lstm_cell, lstm_run, lstm_sequence, lstm_weights,
                                   sigmoid, softmax, stack_step, token_table)
from core.models.presets import OneHot, ScaleTokens

class LSTMStepper:
    """A many-to-many model (``Embedding | OneHot -> LSTM x L (-> Dropout) -> Dense softmax``)
    one token at a time in float32 NumPy, the LSTM state ``(h, c)`` of every layer carried forward.

    The input projection of the first LSTM is folded into one table ``(vocab, 4 * units)``
    (embedding @ kernel + bias), so a token costs a row lookup there. Dropout is inactive at
    inference.
    """

    def __init__(self, model: Any) -> None:
        table, lstms, out = None, [], None
        for layer in model.layers:
            if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout)):
                continue
            if isinstance(layer, (keras.layers.Embedding, OneHot)) and table is None:
                table = token_table(layer)
            elif isinstance(layer, keras.layers.LSTM) and out is None and table is not None:
                lstms.append(lstm_weights(layer))
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
        self.h[0], self.c[0] = lstm_cell(self.input0[tokens] + self.h[0] @ self.recurrent0, self.c[0])
        for i, (kernel, recurrent, bias) in enumerate(self.upper, start=1):
            z = self.h[i - 1] @ kernel + self.h[i] @ recurrent + bias
            self.h[i], self.c[i] = lstm_cell(z, self.c[i])
        return softmax(self.h[-1] @ self.out_kernel + self.out_bias)

    def scan(self, tokens: np.ndarray, lengths: np.ndarray | None = None, chunk: int = 128):
        """The top LSTM's output after each of ``tokens`` ``(batch, T)`` from a zero state, a
        chunk of steps at a time: yields ``(t0, first, h)``, ``h`` ``(batch - first, <= chunk,
        units)`` for steps ``t0 ...`` of rows ``first ...``. With ``lengths`` (ascending), rows
        that have ended are left out of later chunks, so a batch costs its tokens, not its
        longest row. :meth:`step`'s arithmetic layer by layer: a step costs only its recurrent
        product. The stepper's own state is left alone."""
        tokens = np.asarray(tokens)
        ends = np.full(len(tokens), tokens.shape[1]) if lengths is None else np.asarray(lengths)
        if np.any(np.diff(ends) < 0):
            raise ValueError("scan needs its rows in ascending order of length")
        layers = [(None, self.recurrent0, None), *self.upper]
        h = [np.zeros((len(tokens), u), np.float32) for u in self.units]
        c = [np.zeros((len(tokens), u), np.float32) for u in self.units]
        first = 0
        for t0 in range(0, tokens.shape[1], chunk):
            drop = int(np.searchsorted(ends, t0, side="right")) - first   # rows ended by t0
            first += drop
            h, c = [x[drop:] for x in h], [x[drop:] for x in c]
            if first == len(tokens):
                return
            out = None
            for i, (kernel, recurrent, bias) in enumerate(layers):
                z_in = self.input0[tokens[first:, t0:t0 + chunk]] if i == 0 else out @ kernel + bias
                out, h[i], c[i] = lstm_run(z_in, recurrent, h[i], c[i])
            yield t0, first, out

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
    name = type(layer).__name__
    if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout)):
        return None
    if isinstance(layer, ScaleTokens):
        scale = np.float32(1.0 / layer.vocab_size)
        return lambda ids: (ids.astype(np.float32) * scale)[..., None]
    if isinstance(layer, (keras.layers.Embedding, OneHot)):
        table = token_table(layer)
        return lambda ids: table[ids]
    if isinstance(layer, keras.layers.LSTM):
        kernel, recurrent, bias = lstm_weights(layer)
        sequences = bool(layer.return_sequences)
        return lambda x: lstm_sequence(x, kernel, recurrent, bias, sequences)
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
        if activation not in ACTIVATIONS:
            raise ValueError(f"{layer.name}: activation {activation!r} is not supported")
        act = ACTIVATIONS[activation]
        if isinstance(layer, keras.layers.Activation):
            return act
        kernel, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
        return lambda x: act(x @ kernel + bias)
    raise ValueError(f"layer {layer.name!r} ({name}) has no NumPy form here")


class SlidingWindow:
    """A many-to-one model: the next token after the last ``window`` tokens.

    Every step shifts the window of each variation by one token and runs the model once for the
    whole batch, in NumPy (:class:`WindowForward`, ~10x faster than Keras on a CPU for these
    small batches).
    A primer shorter than the window is repeated to fill it (rather than padded: the seed
    models never saw ``PAD``, and ``skuli`` reads ids as numbers, where ``PAD`` is a real 0.0).
    """

    def __init__(self, model: Any, window: int) -> None:
        self.forward: Callable[[np.ndarray], np.ndarray] = WindowForward(model)
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


class Recurrent:
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




class BiaxialStepper:
    """The biaxial model (``core.models.biaxial``) one piano-roll cell at a time, lowest pitch first.

    At the start of each step the time-axis LSTMs advance once for every pitch (from the step
    before, through :func:`core.models.biaxial.note_features`); then the note-axis LSTMs run up the
    pitches, each reading the cell just chosen below it. ``step`` returns the probabilities of
    the next cell's tokens ``[PAD, off, on, held]``, so the generator's sampler draws cells like
    any token (temperature included).

    ``anti_loop`` (0 to 1) is the original's answer to its own failure, stalling into silence:
    its adaptive *conservativity* ``c`` (P(play) is raised to the power ``c``): after a step
    with fewer than 2 notes ``c`` drops by ``0.02 * anti_loop`` (first back to 1), after any
    other step it moves 30 % of the way back to 1. 0 is off; 1 is the original's rule.
    """

    takes_anti_loop = True

    def __init__(self, model: Any, config: Any) -> None:
        by_name = {layer.name: layer for layer in model.layers}
        self.time = [lstm_weights(by_name[f"time_lstm_{i}"]) for i in range(len(config.units))]
        self.note = [lstm_weights(by_name[f"note_lstm_{i}"]) for i in range(len(config.note_units))]
        self.out_kernel, self.out_bias = (np.asarray(w, np.float32)
                                          for w in by_name["play_articulate"].get_weights())
        self.pitches, self.low = config.pitches, config.pitch_low
        self.anti_loop = 0.0

    def start(self, primer: np.ndarray, batch: int) -> np.ndarray:
        self.batch, self.t, self.n = batch, 0, 0
        self.h_time = [np.zeros((batch * self.pitches, k.shape[1] // 4), np.float32) for k, _, _ in self.time]
        self.c_time = [np.zeros_like(h) for h in self.h_time]
        self.frame = np.zeros((batch, self.pitches), np.int64)
        self.conservativity = np.ones(batch)
        self._begin_step(np.zeros((batch, self.pitches), np.int64))
        probs = self._cell_probs()
        for token in np.asarray(primer):
            probs = self.step(np.full(batch, token))
        return probs

    def step(self, tokens: np.ndarray) -> np.ndarray:
        tokens = np.asarray(tokens, np.int64)
        self.frame[:, self.n] = tokens
        self.lower = np.stack([tokens >= ON, tokens == ON], -1).astype(np.float32)
        self.n += 1
        if self.n == self.pitches:
            self._adapt(self.frame)
            self.t += 1
            self._begin_step(self.frame.copy())
        return self._cell_probs()

    def _begin_step(self, previous: np.ndarray) -> None:
        x = note_features(previous, np.full(self.batch, self.t), self.low).reshape(
            self.batch * self.pitches, -1)
        x = stack_step(x, self.time, self.h_time, self.c_time)
        self.time_out = x.reshape(self.batch, self.pitches, -1)
        self.h_note = [np.zeros((self.batch, k.shape[1] // 4), np.float32) for k, _, _ in self.note]
        self.c_note = [np.zeros_like(h) for h in self.h_note]
        self.lower = np.zeros((self.batch, 2), np.float32)
        self.n = 0

    def _cell_probs(self) -> np.ndarray:
        x = np.concatenate([self.time_out[:, self.n], self.lower], -1)
        x = stack_step(x, self.note, self.h_note, self.c_note)
        play, artic = sigmoid(x @ self.out_kernel + self.out_bias).T
        play = play ** self.conservativity.astype(np.float32)
        return np.stack([np.zeros_like(play), 1 - play, play * artic, play * (1 - artic)], -1)

    def _adapt(self, frame: np.ndarray) -> None:
        if self.anti_loop <= 0:
            return
        quiet = (frame >= ON).sum(axis=1) < 2
        c = self.conservativity
        self.conservativity = np.where(quiet, np.minimum(c, 1.0) - 0.02 * self.anti_loop,
                                       c + (1.0 - c) * 0.3)


class GeneratorStepper:
    """The C-RNN-GAN's generator (``core.models.crnngan``) one step for a batch of sequences at a
    time: noise and the previous step -> ReLU input layer -> LSTMs -> the next step (linear)."""

    def __init__(self, model: Any) -> None:
        cell = model.generator.get_layer("generator_rnn").cell
        self.features, self.noise_dim = cell.features, cell.noise_dim
        self.in_kernel, self.in_bias = (np.asarray(w, np.float32) for w in cell.input_layer.get_weights())
        self.lstms = [[np.asarray(w, np.float32) for w in c.get_weights()] for c in cell.lstm_cells]
        self.out_kernel, self.out_bias = (np.asarray(w, np.float32) for w in cell.output_layer.get_weights())
        for c in cell.lstm_cells:   # the same activations the NumPy cell computes
            if (c.activation.__name__, c.recurrent_activation.__name__) != ("tanh", "sigmoid"):
                raise ValueError("the generator's LSTMs must use tanh and sigmoid")

    def start(self, batch: int) -> None:
        self.h = [np.zeros((batch, k.shape[1] // 4), np.float32) for k, _, _ in self.lstms]
        self.c = [np.zeros_like(h) for h in self.h]
        self.previous = np.zeros((batch, self.features), np.float32)

    def step(self, noise: np.ndarray, teacher: np.ndarray | None = None) -> np.ndarray:
        """The next step of every sequence from ``noise`` ``(batch, noise_dim)``; ``teacher``: the
        real previous step to read instead of the last output."""
        previous = self.previous if teacher is None else np.asarray(teacher, np.float32)
        x = np.maximum(np.concatenate([noise, previous], -1) @ self.in_kernel + self.in_bias, 0.0)
        x = stack_step(x, self.lstms, self.h, self.c)
        self.previous = x @ self.out_kernel + self.out_bias
        return self.previous


def engine_for(model: Any, config: Any) -> "Recurrent | SlidingWindow | BiaxialStepper":
    """The step-by-step form ``config``'s preset generates with (``start`` / ``step``)."""
    if config.reads_notes:
        raise ValueError("a model of real-valued steps draws no tokens: it generates with "
                         "GeneratorStepper (core.generation.generate_steps.StepGenerator)")
    if config.reads_pianoroll:
        return BiaxialStepper(model, config)
    if config.many_to_many:
        return Recurrent(LSTMStepper(model))
    return SlidingWindow(model, config.window)
