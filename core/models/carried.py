"""Truncated backpropagation through time: the LSTM state carried from one window to the next.

:func:`carried_trainer` wraps a many-to-many token model (``Embedding | OneHot -> LSTM x L
(-> Dropout) -> Dense softmax``, the ``studio`` and ``ragtime`` presets) in a training model
that shares all its layers and weights and takes two inputs: the window's tokens
``(batch, window)`` and ``keep`` ``(batch, 1)`` from :class:`core.models.batches.CarriedWindows`.
Each LSTM starts from the state its row ended the previous batch with, times ``keep`` (0 where a
new piece starts), passed as ``initial_state``; the state it ends with is stored, with no
gradient through it, for the next batch. Keras's ``stateful=True`` cannot reset one row, and
passing the state in keeps every LSTM on the cuDNN kernel on a GPU.

The stored state lives in non-trainable variables of the training model, assigned in the
forward pass (as batch normalization keeps its moving averages), so the same code runs on the
TensorFlow, JAX and PyTorch backends. The model that is saved, sampled and validated is the
plain one: the wrapper adds nothing to a checkpoint.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers


class CarriedState(layers.Layer):
    """One LSTM's state ``(h, c)`` for each of ``batch`` rows, kept between batches.

    Called twice in the training model's graph: on ``keep`` it returns the state to begin a
    window from (the stored one, zeroed on rows where ``keep`` is 0); on ``[sequence, h, c]`` it
    stores the state the window ended with and passes the sequence on, so the store is on the
    path to the model's output and always runs.
    """

    def __init__(self, batch: int, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch, self.units = int(batch), int(units)
        self.h = self.add_weight(shape=(self.batch, self.units), initializer="zeros",
                                 trainable=False, name="h", dtype="float32")
        self.c = self.add_weight(shape=(self.batch, self.units), initializer="zeros",
                                 trainable=False, name="c", dtype="float32")
        self.built = True

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):   # keep -> the state to start from
            keep = keras.ops.cast(inputs, "float32")
            return [keras.ops.cast(self.h * keep, self.compute_dtype),
                    keras.ops.cast(self.c * keep, self.compute_dtype)]
        sequence, h, c = inputs                     # the window's end state -> stored
        self.h.assign(keras.ops.stop_gradient(keras.ops.cast(h, "float32")))
        self.c.assign(keras.ops.stop_gradient(keras.ops.cast(c, "float32")))
        return sequence

    def reset(self) -> None:
        self.h.assign(keras.ops.zeros_like(self.h))
        self.c.assign(keras.ops.zeros_like(self.c))


def carried_trainer(model: keras.Model, batch_size: int) -> keras.Model:
    """The training model of ``model`` for truncated BPTT at ``batch_size`` rows: inputs
    ``[tokens, keep]``, the same probabilities out, the same weights (shared layers).

    ``model``'s LSTMs must return their state (the ``studio`` and ``ragtime`` builders' do);
    ``ValueError`` for a model that is not a plain chain of layers with such LSTMs.
    """
    tokens = keras.Input(shape=(None,), batch_size=batch_size, dtype="int32", name="tokens")
    keep = keras.Input(shape=(1,), batch_size=batch_size, dtype="float32", name="keep")
    x, lstms = tokens, 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.LSTM):
            if not (layer.return_state and layer.return_sequences):
                raise ValueError(f"{layer.name}: truncated BPTT needs LSTMs that return their "
                                 "sequence and state; train this model on pieces or windows")
            carry = CarriedState(batch_size, layer.units, name=f"carry_{lstms}")
            sequence, h, c = layer(x, initial_state=carry(keep))
            x = carry([sequence, h, c])
            lstms += 1
        else:
            x = layer(x)
    if not lstms:
        raise ValueError(f"{model.name} has no LSTM to carry a state through")
    return keras.Model([tokens, keep], x, name=f"{model.name}_carried")


def reset_states(trainer: keras.Model) -> None:
    """Zero every row's carried state (each epoch begins with new pieces on every row)."""
    for layer in trainer.layers:
        if isinstance(layer, CarriedState):
            layer.reset()
