"""C-RNN-GAN (Mogren 2016): an LSTM generator of real-valued notes, trained against a
bidirectional LSTM discriminator, on the ``continuous`` encodings (``core.encodings.continuous``).

- **Generator**: at every step it reads uniform noise and its own previous output (the
  original's ``--feed_previous``), through a ReLU input layer and two LSTMs, and writes one step
  (``dt`` and each tone's length, pitch, intensity) with a linear layer. It is one Keras ``RNN``
  over :class:`GeneratorCell`; the cell can also be *teacher-forced* (fed the real previous step
  instead of its own), which is how it is pre-trained with squared error.
- **Discriminator**: two bidirectional LSTMs and a sigmoid per step: is this step real?
- **Training** (:class:`CRNNGAN`'s own ``train_step``), the paper's recipe: ``pretrain_epochs``
  of teacher-forced squared error first; then each batch updates the discriminator on real
  against generated sequences and the generator to fool it (``feature_matching``: to match the
  mean of the discriminator's last hidden layer on real data instead); whichever side is far
  ahead is frozen for the next batch (the original's rule: when either loss is below 2 and one
  is under 0.7 of the other, the side with the lower loss pauses); gradients clipped by norm.
  The logged numbers: ``mse`` (teacher-forced squared error, the held-out one as ``val_mse``),
  ``d_loss``, ``g_loss`` (``-log D(G(z))`` whatever the objective), ``d_accuracy`` (real and
  generated steps told apart), and ``frozen_d`` / ``frozen_g`` (share of batches a side sat out).
- **Generation**: ``core.models.inference.GeneratorStepper``, the generator in NumPy one step at a time
  (equal to the Keras cell to 1e-5; tested), driven by ``core.generation.generate_steps.StepGenerator``:
  length in steps or seconds, seed, variations, and a noise scale in the temperature's place; a
  primer is teacher-forced into the state first.

The training step is written for the TensorFlow backend (``tf.GradientTape``), the project's
training backend; the model builds, saves and generates under any backend.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers


LOG_FLOOR = 1e-7           # probabilities are clipped to [floor, 1 - floor] inside the logs
FREEZE_BELOW = 2.0         # the freezing rule applies once either loss is below this
FREEZE_RATIO = 0.7         # ... and one loss is under this share of the other


# --- the generator -------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="composer")
class GeneratorCell(layers.Layer):
    """One generator step. Input per step: ``noise (noise_dim) | teacher (features) | use_teacher
    (1)``; the previous step fed in is ``teacher`` where ``use_teacher`` is 1, else the cell's own
    last output. States: ``h, c`` of each LSTM, then the last output."""

    def __init__(self, units: list[int], features: int, noise_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units, self.features, self.noise_dim = list(units), int(features), int(noise_dim)
        self.input_layer = layers.Dense(self.units[0], activation="relu", name="input_layer")
        self.lstm_cells = [layers.LSTMCell(u, name=f"g_lstm_{i}") for i, u in enumerate(self.units)]
        self.output_layer = layers.Dense(self.features, name="output_layer")
        self.state_size = [n for u in self.units for n in (u, u)] + [self.features]
        self.output_size = self.features

    def build(self, input_shape) -> None:
        self.input_layer.build((None, self.noise_dim + self.features))
        width = self.units[0]
        for cell, u in zip(self.lstm_cells, self.units):
            cell.build((None, width))
            width = u
        self.output_layer.build((None, width))
        self.built = True

    def call(self, inputs, states, training=False):
        z, f = self.noise_dim, self.features
        noise, teacher, use_teacher = inputs[:, :z], inputs[:, z:z + f], inputs[:, z + f:]
        previous = use_teacher * teacher + (1.0 - use_teacher) * states[-1]
        x = self.input_layer(keras.ops.concatenate([noise, previous], axis=-1))
        new_states = []
        for i, cell in enumerate(self.lstm_cells):
            x, (h, c) = cell(x, [states[2 * i], states[2 * i + 1]], training=training)
            new_states += [h, c]
        y = self.output_layer(x)
        return y, new_states + [y]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "features": self.features,
                "noise_dim": self.noise_dim}


def build_generator(units: list[int], features: int, noise_dim: int) -> keras.Model:
    steps = keras.Input((None, noise_dim + features + 1), name="noise_and_teacher")
    out = layers.RNN(GeneratorCell(units, features, noise_dim, name="generator_cell"),
                     return_sequences=True, name="generator_rnn")(steps)
    return keras.Model(steps, out, name="generator")


def build_discriminator(units: list[int], features: int, dropout: float) -> keras.Model:
    steps = keras.Input((None, features), name="steps")
    x = steps
    for i, u in enumerate(units):
        x = layers.Bidirectional(layers.LSTM(u, return_sequences=True), name=f"d_bilstm_{i}")(x)
        x = layers.Dropout(dropout)(x)
    p = layers.Dense(1, activation="sigmoid", dtype="float32", name="real")(x)
    return keras.Model(steps, [p, x], name="discriminator")


# --- the GAN -------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="composer")
class CRNNGAN(keras.Model):
    """Generator and discriminator with the training recipe in ``train_step``. ``settings``:
    ``features``, ``units`` (generator LSTMs), ``d_units`` (discriminator), ``noise_dim``,
    ``dropout``, ``learning_rate``, ``d_lr_factor``, ``clipnorm``, ``pretrain_epochs``,
    ``feature_matching``, ``freeze``."""

    def __init__(self, settings: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        s = self.settings = dict(settings)
        self.features, self.noise_dim = int(s["features"]), int(s["noise_dim"])
        self.generator = build_generator(s["units"], self.features, self.noise_dim)
        self.discriminator = build_discriminator(s["d_units"], self.features, s["dropout"])
        clip = {"clipnorm": s["clipnorm"]} if s.get("clipnorm") else {}
        self.g_optimizer = keras.optimizers.Adam(s["learning_rate"], name="g_adam", **clip)
        self.d_optimizer = keras.optimizers.Adam(s["learning_rate"] * s["d_lr_factor"],
                                                 name="d_adam", **clip)
        self.built = True
        self.pretraining = int(s["pretrain_epochs"]) > 0
        self.last_g = keras.Variable(10.0, trainable=False, name="last_g_loss")
        self.last_d = keras.Variable(10.0, trainable=False, name="last_d_loss")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in
                         ("mse", "d_loss", "g_loss", "d_accuracy", "feature_loss",
                          "frozen_d", "frozen_g")}

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "settings": self.settings}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "CRNNGAN":
        return cls(**config)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, **kwargs: Any) -> None:
        """No loss to give: the training step is the model's own (the optimizers are too).
        Builds both optimizers, so a saved checkpoint holds their state (and a loaded one gets
        it back); a model never compiled saves none (the gallery's shipped checkpoints)."""
        super().compile(optimizer=self.g_optimizer, **kwargs)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def get_compile_config(self) -> dict[str, Any] | None:
        return {"optimizers": True} if self.compiled else None

    def compile_from_config(self, config: dict[str, Any]) -> None:
        self.compile()

    def training_callbacks(self) -> list[keras.callbacks.Callback]:
        """What ``model.fit`` needs besides the run's own callbacks: the pre-training switch."""
        return [PretrainingPhase()]

    # --- the pieces of a step ---------------------------------------------------------------
    def _inputs(self, batch: int, steps: int, teacher=None):
        """The generator's input: uniform noise in [0, 1) and, to teacher-force it, the real
        previous steps (``core.generation.generate_steps`` draws the same noise, scaled)."""
        noise = keras.random.uniform((batch, steps, self.noise_dim))
        if teacher is None:
            teacher = keras.ops.zeros((batch, steps, self.features))
            flag = keras.ops.zeros((batch, steps, 1))
        else:  # the real previous step (zeros before the first)
            teacher = keras.ops.pad(teacher[:, :-1], [[0, 0], [1, 0], [0, 0]])
            flag = keras.ops.ones((batch, steps, 1))
        return keras.ops.concatenate([noise, teacher, flag], axis=-1)

    def _teacher_forced_error(self, real, weight, training: bool):
        """Mean squared error of each step predicted from the real step before it."""
        ops = keras.ops
        predicted = self.generator(self._inputs(ops.shape(real)[0], ops.shape(real)[1], teacher=real),
                                   training=training)
        return _mean_over_steps(ops.mean(ops.square(predicted - real), axis=-1), weight)

    def _adversarial(self, real, weight, training: bool) -> dict[str, Any]:
        """The discriminator's and the generator's numbers on one batch of real sequences and
        as many generated ones."""
        ops = keras.ops
        mask = weight[..., None]
        total = ops.maximum(ops.sum(weight), 1.0)
        fake = self.generator(self._inputs(ops.shape(real)[0], ops.shape(real)[1]),
                              training=training) * mask
        p_real, h_real = self.discriminator(real, training=training)
        p_fake, h_fake = self.discriminator(fake, training=training)
        p_real = ops.clip(p_real[..., 0], LOG_FLOOR, 1 - LOG_FLOOR)
        p_fake = ops.clip(p_fake[..., 0], LOG_FLOOR, 1 - LOG_FLOOR)
        features_real = ops.sum(h_real * mask, axis=(0, 1)) / total
        features_fake = ops.sum(h_fake * mask, axis=(0, 1)) / total
        right = ops.cast(p_real > 0.5, "float32") + ops.cast(p_fake < 0.5, "float32")
        return {"d_loss": _mean_over_steps(-ops.log(p_real) - ops.log(1.0 - p_fake), weight),
                "g_loss": _mean_over_steps(-ops.log(p_fake), weight),
                "feature_loss": ops.mean(ops.square(features_real - features_fake)),
                "d_accuracy": _mean_over_steps(right / 2.0, weight)}

    def train_step(self, data):
        import tensorflow as tf

        real, weight = _unpack(data)
        if self.pretraining:
            with tf.GradientTape() as tape:
                mse = self._teacher_forced_error(real, weight, training=True)
            g_vars = self.generator.trainable_variables
            self.g_optimizer.apply(tape.gradient(mse, g_vars), g_vars)
            return self._track({"mse": mse})

        # the original's rule, on the previous batch's losses: pause the side far ahead. The
        # discriminator's loss sums two terms (real and generated), so it is halved to compare
        # with the generator's one (at the balance point both are log 2).
        last_g, last_d = self.last_g, self.last_d / 2.0
        close = tf.logical_or(last_g < FREEZE_BELOW, last_d < FREEZE_BELOW)
        use_freeze = bool(self.settings.get("freeze", True))
        freeze_d = tf.logical_and(close, last_g * FREEZE_RATIO > last_d) if use_freeze else tf.constant(False)
        freeze_g = tf.logical_and(close, last_d * FREEZE_RATIO > last_g) if use_freeze else tf.constant(False)
        with tf.GradientTape(persistent=True) as tape:
            values = self._adversarial(real, weight, training=True)
            g_objective = (values["feature_loss"] if self.settings.get("feature_matching")
                           else values["g_loss"])
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        d_grads = tape.gradient(values["d_loss"], d_vars)
        g_grads = tape.gradient(g_objective, g_vars)
        del tape
        tf.cond(freeze_d, lambda: tf.constant(0, tf.int64),
                lambda: self._apply(self.d_optimizer, d_grads, d_vars))
        tf.cond(freeze_g, lambda: tf.constant(0, tf.int64),
                lambda: self._apply(self.g_optimizer, g_grads, g_vars))
        self.last_g.assign(values["g_loss"])
        self.last_d.assign(values["d_loss"])
        values["frozen_d"] = tf.cast(freeze_d, "float32")
        values["frozen_g"] = tf.cast(freeze_g, "float32")
        return self._track(values)

    @staticmethod
    def _apply(optimizer, grads, variables):
        optimizer.apply(grads, variables)
        return optimizer.iterations

    def test_step(self, data):
        real, weight = _unpack(data)
        values = self._adversarial(real, weight, training=False)
        values["mse"] = self._teacher_forced_error(real, weight, training=False)
        return self._track(values)

    def _track(self, values: dict[str, Any]) -> dict[str, Any]:
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values
                if name != "feature_loss" or self.settings.get("feature_matching")}


def _mean_over_steps(x, weight):
    """The mean of ``x`` ``(batch, steps)`` over the real (weight 1) steps."""
    ops = keras.ops
    return ops.sum(x * weight) / ops.maximum(ops.sum(weight), 1.0)


def _unpack(data):
    if isinstance(data, (tuple, list)):
        return data[0], data[1]
    return data, keras.ops.ones(keras.ops.shape(data)[:2])


class PretrainingPhase(keras.callbacks.Callback):
    """Switch the GAN from pre-training to adversarial training after ``pretrain_epochs``
    (re-tracing the training step: each phase is its own graph)."""

    def on_epoch_begin(self, epoch, logs=None):
        model = self.model
        want = epoch < int(model.settings["pretrain_epochs"])
        if model.pretraining != want:
            model.pretraining = want
            model.make_train_function(force=True)


# --- the batches ---------------------------------------------------------------------------
class StepBatches:
    """Pieces of steps cut into sequences of ``window`` steps (stride ``window``; a piece's last,
    shorter one padded with zeros of weight 0), as ``(steps, weights)`` batches in a shuffled
    order (reshuffled by :meth:`reshuffle`; ``shuffle=False`` keeps one order)."""

    def __init__(self, seqs, batch_size: int, window: int, *, shuffle: bool = True,
                 seed: int = 0) -> None:
        chunks = [s[i:i + window] for s in seqs for i in range(0, len(s), window)
                  if len(s[i:i + window]) >= 2]
        if not chunks:
            raise ValueError("every piece is shorter than 2 steps; nothing to learn from")
        features = chunks[0].shape[1]
        self.x = np.zeros((len(chunks), window, features), np.float32)
        self.w = np.zeros((len(chunks), window), np.float32)
        for i, c in enumerate(chunks):
            self.x[i, :len(c)], self.w[i, :len(c)] = c, 1.0
        self.batch_size, self.shuffle = int(batch_size), shuffle
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(chunks))
        self.reshuffle()

    @property
    def supervised_tokens(self) -> int:
        """Real steps per pass (what tokens/s counts for this model)."""
        return int(self.w.sum())

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def reshuffle(self) -> None:
        if self.shuffle:
            self.order = self.rng.permutation(len(self.x))

    def __getitem__(self, i: int):
        rows = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return self.x[rows], self.w[rows]
