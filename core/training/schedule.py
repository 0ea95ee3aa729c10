"""The learning-rate schedule: constant, or a cosine decay over the run's length.

A run's length is its time budget when it has one (``TrainSpec.minutes``: the rate follows the
clock, so the last minutes are spent fine-tuning whatever epoch they fall in) or else its
epochs. ``cosine`` goes from the preset's rate down to ``FLOOR`` of it by the end.
"""

from __future__ import annotations

import math
import time

import keras

SCHEDULES = ("cosine", "constant")
FLOOR = 0.05   # the cosine schedule's last rate, as a share of the first


def cosine(progress: float) -> float:
    """The share of the first learning rate at ``progress`` (0 .. 1) through the run."""
    progress = min(max(progress, 0.0), 1.0)
    return FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi * progress))


class CosineDecay(keras.callbacks.Callback):
    """Sets the optimizer's learning rate before every batch from the run's progress: the
    share of ``budget_s`` elapsed, or of ``epochs`` done (``initial_epoch`` counts, so a
    resumed run goes on where the schedule was)."""

    def __init__(self, learning_rate: float, *, budget_s: float | None, epochs: int) -> None:
        super().__init__()
        self.learning_rate, self.budget_s, self.epochs = float(learning_rate), budget_s, epochs
        self.epoch = 0

    def on_train_begin(self, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.budget_s:
            progress = (time.perf_counter() - self.t0) / self.budget_s
        else:
            steps = self.params.get("steps") or 1
            progress = (self.epoch + batch / steps) / max(self.epochs, 1)
        self.model.optimizer.learning_rate.assign(self.learning_rate * cosine(progress))
