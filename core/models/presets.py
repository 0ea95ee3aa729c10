"""Named model architectures, each a Keras 3 functional builder from a JSON-able config.

Every token model takes int token ids of shape ``(batch, window)`` and returns softmax
probabilities: ``(batch, vocab)`` for the many-to-one seed models (next token after the
window), ``(batch, window, vocab)`` for the many-to-many ones (next token at every step). The
biaxial model reads piano-roll cells, the C-RNN-GAN real-valued steps (below).

The seed projects' models, kept recognisable (``large`` is the original size):

- ``skuli``: Classical-Piano-Composer. 3 x LSTM(512) over a 100-token window of tokens scaled
  to [0, 1), dropout between the LSTMs (the original's recurrent dropout, moved so cuDNN can run
  it), BatchNorm, Dense 256, softmax; RMSprop.
- ``softology``: LSTM 512 -> BatchNorm -> LSTM 256 -> BatchNorm -> Dense 128 ReLU -> softmax; Adam.
- ``devfest``: Embedding -> LSTM 256 -> BatchNorm -> Dense 256 -> BatchNorm -> ELU -> softmax,
  200-token window; Adam (the drum-beat notebook).
- ``ragtime``: the Andrew Ng many-to-many LSTM(64) on one-hot tokens, 30-step sequences.

- ``biaxial``: Johnson's biaxial RNN on piano-roll cells (``core.models.biaxial``), the one seed model
  with true polyphony: LSTM 300, 300 along time shared by all pitches, LSTM 100, 50 up the pitches.

- ``crnngan``: Mogren's C-RNN-GAN on real-valued notes (``core.models.crnngan``): a generator LSTM fed
  noise and its own previous step against a bidirectional LSTM discriminator, trained
  adversarially by its own ``train_step``.

Every ``LSTM`` layer keeps Keras's defaults that the cuDNN kernel needs on a GPU (tanh, sigmoid
recurrent activation, a bias, no recurrent dropout, no unroll; ``core.training.device.cudnn_blockers``
checks, ``tests/test_train.py`` for every preset), and every output layer is float32, so mixed
precision (``core.training.device.setup``) keeps exact probabilities.

And the studio default, ``studio``: Embedding -> stacked LSTM -> Dense softmax, many-to-many
(every position supervised), dropout, gradient clipping. Its step-by-step form is plain
matrix algebra (``core.generation.generate`` runs it in NumPy with the LSTM state carried forward).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from core.models import biaxial
from core.models import crnngan
from core.models.config import PRESETS, ModelConfig, make_config, preset_names  # noqa: F401


# --- custom layers (registered, so .keras files load with safe_mode=True) ------------------
class _TokenInput(layers.Layer):
    """A parameter-free input layer that needs to know the vocabulary size."""

    def __init__(self, vocab_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "vocab_size": self.vocab_size}


@keras.saving.register_keras_serializable(package="composer")
class ScaleTokens(_TokenInput):
    """Token ids -> floats in [0, 1) of shape ``(batch, T, 1)``: the seed models' input."""

    def call(self, tokens):
        x = keras.ops.cast(tokens, self.compute_dtype) / float(self.vocab_size)
        return keras.ops.expand_dims(x, -1)


@keras.saving.register_keras_serializable(package="composer")
class OneHot(_TokenInput):
    """Token ids -> one-hot vectors ``(batch, T, vocab)``: the ragtime model's input."""

    def call(self, tokens):
        return keras.ops.one_hot(keras.ops.cast(tokens, "int32"), self.vocab_size, dtype=self.compute_dtype)


# --- builders ------------------------------------------------------------------------------
def build(config: ModelConfig) -> keras.Model:
    """The uncompiled model of ``config``; see :func:`compile_model`."""
    return BUILDERS[config.preset](config)


def _token_model(body):
    """A builder of a model on token ids from ``body(tokens, config)`` -> its output."""
    def make(config: ModelConfig) -> keras.Model:
        # a whole-piece (or carried-window) model takes any length; a windowed one its window
        length = None if config.train_on in ("pieces", "carried") else config.window
        tokens = keras.Input(shape=(length,), dtype="int32", name="tokens")
        return keras.Model(tokens, body(tokens, config), name=config.preset)
    return make


def compile_model(model: keras.Model, config: ModelConfig) -> keras.Model:
    if config.reads_notes:   # the GAN brings its own optimizers and training step
        model.compile()
        return model
    kw: dict[str, Any] = {"learning_rate": config.learning_rate}
    if config.clipnorm:
        kw["clipnorm"] = config.clipnorm
    optimizer = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}[config.optimizer](**kw)
    # the mean over real (weighted) targets: padding after a piece's end is not a target
    loss = keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight")
    model.compile(optimizer=optimizer, loss=loss,
                  weighted_metrics=["sparse_categorical_accuracy"])
    return model


def _batch_norm():
    # Momentum 0.9, not Keras's 0.99: on these small corpora the weights move faster than a
    # 0.99 running average follows, and inference-mode loss exploded (measured: 6.2 vs 2.8
    # nats on the training windows themselves).
    return layers.BatchNormalization(momentum=0.9)


def _softmax(x, vocab: int):
    # float32 output even under a mixed-precision policy, so probabilities stay exact
    return layers.Dense(vocab, activation="softmax", dtype="float32", name="next_token")(x)


def _skuli(tokens, c: ModelConfig):
    x = ScaleTokens(c.vocab_size, name="scale")(tokens)
    for i, u in enumerate(c.units):
        last = i == len(c.units) - 1
        # the original's recurrent dropout is dropout on each later LSTM's inputs here: the same
        # regularising role, and it keeps every LSTM on the cuDNN kernel on a GPU
        x = layers.LSTM(u, return_sequences=not last, dropout=c.dropout if i else 0.0,
                        name=f"lstm_{i}")(x)
    x = _batch_norm()(x)
    x = layers.Dropout(c.dropout)(x)
    x = layers.Dense(c.dense, activation="relu")(x)
    x = _batch_norm()(x)
    x = layers.Dropout(c.dropout)(x)
    return _softmax(x, c.vocab_size)


def _softology(tokens, c: ModelConfig):
    x = ScaleTokens(c.vocab_size, name="scale")(tokens)
    for i, u in enumerate(c.units):
        x = layers.LSTM(u, return_sequences=i < len(c.units) - 1, name=f"lstm_{i}")(x)
        x = _batch_norm()(x)
        x = layers.Dropout(c.dropout)(x)
    x = layers.Dense(c.dense, activation="relu")(x)
    return _softmax(x, c.vocab_size)


def _devfest(tokens, c: ModelConfig):
    x = layers.Embedding(c.vocab_size, c.embed, name="embedding")(tokens)
    x = layers.LSTM(c.units[0], name="lstm_0")(x)
    x = _batch_norm()(x)
    x = layers.Dense(c.dense)(x)
    x = _batch_norm()(x)
    x = layers.Activation("elu")(x)
    return _softmax(x, c.vocab_size)


def _carried_lstm(units: int, i: int):
    """A many-to-many model's LSTM: it also returns its state, which this model ignores and
    truncated BPTT carries to the next window (``core.models.carried``)."""
    layer = layers.LSTM(units, return_sequences=True, return_state=True, name=f"lstm_{i}")
    return lambda x: layer(x)[0]


def _ragtime(tokens, c: ModelConfig):
    x = OneHot(c.vocab_size, name="one_hot")(tokens)
    for i, u in enumerate(c.units):
        x = _carried_lstm(u, i)(x)
    return _softmax(x, c.vocab_size)


def _studio(tokens, c: ModelConfig):
    x = layers.Embedding(c.vocab_size, c.embed, name="embedding")(tokens)
    for i, u in enumerate(c.units):
        x = _carried_lstm(u, i)(x)
        x = layers.Dropout(c.dropout)(x)
    return _softmax(x, c.vocab_size)


def _crnngan(c: ModelConfig) -> keras.Model:
    return crnngan.CRNNGAN({"features": c.features, "noise_dim": c.features, "units": c.units,
                            "d_units": c.d_units, "dropout": c.dropout,
                            "learning_rate": c.learning_rate, "d_lr_factor": c.d_lr_factor,
                            "clipnorm": c.clipnorm, "pretrain_epochs": c.pretrain_epochs,
                            "feature_matching": c.feature_matching, "freeze": c.freeze})


#: The Keras builder of every preset in ``core.models.config.PRESETS``, by name: config -> model.
BUILDERS = {"skuli": _token_model(_skuli), "softology": _token_model(_softology),
            "devfest": _token_model(_devfest), "ragtime": _token_model(_ragtime),
            "studio": _token_model(_studio), "biaxial": biaxial.build, "crnngan": _crnngan}


def load_model(path) -> keras.Model:
    """Load a ``.keras`` checkpoint with ``safe_mode=True`` (no arbitrary code)."""
    return keras.models.load_model(path, safe_mode=True, compile=True)
