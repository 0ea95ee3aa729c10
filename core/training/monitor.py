"""The training job's eyes: a Keras callback that writes the run folder as training goes.

:class:`RunMonitor` writes ``status.json`` (progress, about once a second), a ``history.csv``
row per epoch (every number Keras logs: a token model's loss and accuracy, the C-RNN-GAN's
losses and discriminator accuracy), the checkpoints (atomically; ``best.keras`` at the lowest
validation loss), early stopping, the stop request's save-then-stop, and the time budget
(``TrainSpec.minutes``): when it runs out the epoch ends at that batch, is validated and saved
like any other, and the run ends ``finished``.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable

import keras
import numpy as np

from core import atomic
from core.runs import Run, RunState, checkpoint_name
from core.settings import TrainSpec

#: Called after each epoch checkpoint is saved, with the epoch and the live model.
CheckpointHook = Callable[[int, Any], None]

#: The numbers of an epoch's log line, where present (token models; the GAN).
EPOCH_LINE = ("loss", "val_loss", "mse", "val_mse", "d_loss", "g_loss", "d_accuracy")


def _current_loss(logs: dict[str, Any]) -> float:
    """The one loss a progress line shows: the model's loss, or the GAN's discriminator loss
    (its squared error while pre-training)."""
    for key in ("loss", "d_loss", "mse"):
        if key in logs:
            return float(logs[key])
    return float("nan")


class RunMonitor(keras.callbacks.Callback):
    """Writes history.csv, status.json and checkpoints into the run folder (Keras hooks)."""

    STATUS_EVERY_S = 1.0

    def __init__(self, run: Run, spec: TrainSpec, tokens_per_epoch: int, stop: Any,
                 info: dict[str, Any], log, on_checkpoint: "CheckpointHook | None" = None,
                 saved_model: Any = None) -> None:
        super().__init__()
        self.run, self.spec, self.stop, self.info, self.log = run, spec, stop, info, log
        self.on_checkpoint = on_checkpoint
        #: the model checkpoints hold, when Keras trains another that shares its weights
        #: (truncated BPTT's wrapper, ``core.models.carried``)
        self.saved_model = saved_model
        self.budget_s = spec.budget_s
        self.out_of_time = False   # the time budget ran out (the run ends finished)
        self.tokens_per_epoch = tokens_per_epoch
        self.epoch = 0  # completed epochs
        self.epoch_seconds: list[float] = []
        self.stopped = False
        rows = [r for r in self.run.history() if "val_loss" in r]
        best = min(rows, key=lambda r: r["val_loss"], default={"val_loss": math.inf, "epoch": 0})
        self.best_val, self.best_epoch = best["val_loss"], best["epoch"]
        self.early_stop: int | None = None

    @property
    def kept_model(self):
        """The model a checkpoint saves and the checkpoint hook sees."""
        return self.saved_model if self.saved_model is not None else self.model

    def _eta(self, batches_left_s: float, epochs_left: int, epoch_s: float = 0.0) -> float:
        """Seconds left: to the end of the time budget, or of the epochs asked for (at the
        median epoch's pace, or ``epoch_s`` before one has finished)."""
        if self.budget_s:
            return max(self.budget_s - (time.perf_counter() - self.t_train), 0.0)
        epoch_s = float(np.median(self.epoch_seconds)) if self.epoch_seconds else epoch_s
        return batches_left_s + epoch_s * epochs_left

    # Keras hooks
    def on_train_begin(self, logs=None):
        self.t_train = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.t_epoch = time.perf_counter()
        self.t_status = 0.0
        self.batches_done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches_done = batch + 1
        now = time.perf_counter()
        if now - self.t_status >= self.STATUS_EVERY_S:
            self.t_status = now
            batches = self.params.get("steps") or 0
            per_batch = (now - self.t_epoch) / (batch + 1)
            eta = self._eta(per_batch * max(batches - batch - 1, 0),
                            self.spec.epoch_limit - self.epoch - 1, per_batch * batches)
            self.run.write_status(state=RunState.RUNNING, epoch=self.epoch, epochs=self.spec.epoch_limit,
                                  batch=batch + 1, batches=batches, eta_s=round(float(eta), 1),
                                  budget_s=self.budget_s, elapsed_s=round(now - self.t_train, 1),
                                  device=self.info["name"], device_kind=self.info["device"],
                                  backend=self.info["backend"],
                                  loss=_current_loss(logs or {}), message="")
        if self.stop and not self.stopped:
            self.model.stop_training = True
            self.stopped = True
            self.run.write_status(state=RunState.STOPPING, message="saving a checkpoint, then stopping")
        elif (self.budget_s and not self.out_of_time and not self.stopped
              and now - self.t_train >= self.budget_s):
            self.model.stop_training = True   # this epoch ends here and is saved as any other
            self.out_of_time = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.perf_counter() - self.t_epoch
        done = epoch + 1
        if self.stopped and self.batches_done < (self.params.get("steps") or 0):
            return  # interrupted mid-epoch: not a finished epoch
        share = 1.0   # of an epoch's tokens: less for the last one of a time budget
        if self.out_of_time and self.params.get("steps"):
            share = self.batches_done / self.params["steps"]
        elif self.budget_s and time.perf_counter() - self.t_train >= self.budget_s:
            self.model.stop_training = True   # spent by its end (its validation): the last one
            self.out_of_time = True
        self.epoch_seconds.append(seconds)
        self.epoch = done
        row: dict[str, Any] = {k.replace("sparse_categorical_accuracy", "accuracy"): float(v)
                               for k, v in logs.items() if v is not None}
        row.update(epoch=done, tokens_per_s=self.tokens_per_epoch * share / seconds, seconds=seconds,
                   elapsed_s=time.perf_counter() - self.t_train)
        if self.spec.wants_checkpoint(done) or self.out_of_time:
            self.save(done)
        val = row.get("val_loss")   # (a GAN has none: no best epoch, only its checkpoints)
        if val is not None and val < self.best_val:
            self.best_val, self.best_epoch = val, done
            self.save(done, best=True)
        self.run.append_history(row)
        if self.spec.patience and done - self.best_epoch >= self.spec.patience:
            self.model.stop_training = True  # no better val_loss for `patience` epochs
            self.early_stop = done
            if not self.spec.wants_checkpoint(done):
                self.save(done)
        shown = " ".join(f"{k} {row[k]:.4f}" for k in EPOCH_LINE if k in row)
        which = (f"{done} ({row['elapsed_s'] / 60:.1f} of {self.spec.minutes:g} min)" if self.budget_s
                 else f"{done}/{self.spec.epoch_limit}")
        self.log(f"epoch {which}: {shown} ({row['tokens_per_s']:.0f} tokens/s, {seconds:.1f} s)")
        self.run.write_status(state=RunState.RUNNING, epoch=done, epochs=self.spec.epoch_limit, batch=0,
                              eta_s=round(self._eta(0.0, self.spec.epoch_limit - done), 1),
                              budget_s=self.budget_s, elapsed_s=round(row["elapsed_s"], 1))

    def save(self, epoch: int, best: bool = False) -> None:
        """Write the checkpoint for ``epoch`` atomically (and point best.json at it)."""
        name = "best.keras" if best else checkpoint_name(epoch)
        target = self.run.path / name
        tmp = atomic.temp_path_for(target)
        try:
            self.kept_model.save(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        if best:
            atomic.write_json(self.run.path / "best.json", {"epoch": epoch, "val_loss": self.best_val})
        else:
            self.after_checkpoint(epoch)

    def after_checkpoint(self, epoch: int) -> None:
        """Tell the job's ``on_checkpoint`` hook (a sample and its metrics, in the CLI's job)."""
        if self.on_checkpoint is not None:
            self.on_checkpoint(epoch, self.kept_model)

    def finish(self, model) -> None:
        if self.stopped:
            if not (self.run.path / checkpoint_name(self.epoch)).exists():
                self.save(self.epoch)
            self.run.clear_stop_request()
            self.run.write_status(state=RunState.STOPPED, epoch=self.epoch, eta_s=None,
                                  message=f"stopped after epoch {self.epoch}; resume to continue")
        elif self.out_of_time:
            self.run.write_status(state=RunState.FINISHED, epoch=self.epoch, eta_s=0,
                                  message=f"trained for its {self.spec.minutes:g} minutes "
                                          f"({self.epoch} epochs)")
        elif self.early_stop:
            self.run.write_status(state=RunState.FINISHED, epoch=self.epoch, eta_s=0,
                                  message=f"stopped early: no better validation loss in "
                                          f"{self.spec.patience} epochs after epoch {self.best_epoch}")
        else:
            self.run.write_status(state=RunState.FINISHED, epoch=self.epoch, eta_s=0, message="")
