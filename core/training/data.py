"""What ``model.fit`` gets, the way a model's config trains (``core.models.batches``).

:func:`datasets` returns the training and validation data of a run: windows as arrays, whole
pieces (or the piano roll's, or the C-RNN-GAN's steps) as a reshuffling ``PyDataset``, or
truncated BPTT's carried windows, whose validation is :class:`CarriedValidation` (one stateful
pass over each whole held-out piece, the generator's own step). On several replicas the global
batches are sharded by ``core.training.distributed``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import keras

from core.evaluation.likelihood import heldout_nll
from core.models.batches import CarriedWindows, PieceBatches, make_windows
from core.models.biaxial import RollBatches
from core.models.carried import reset_states
from core.models.crnngan import StepBatches
from core.training import distributed

MAX_VAL_SAMPLES = 20_000  # many-to-one validation is strided down to this many windows


@dataclass
class _Data:
    """What ``model.fit`` gets: arrays of windows, or a ``keras.utils.PyDataset`` of pieces; on
    several replicas, ``source`` (global batches) sharded by ``core.training.distributed``."""

    data: Any
    tokens: int      # supervised tokens per pass
    batches: int     # (global) batches per pass
    source: Any = None
    ordered: bool = False   # arrays whose batches must come in order (truncated BPTT's)

    def fit_inputs(self, batch_size: int, strategy: Any = None) -> dict[str, Any]:
        """The data arguments of ``model.fit``."""
        if distributed.replicas(strategy) > 1:
            return {"x": distributed.sharded(strategy, self.source), "steps_per_epoch": self.batches}
        if self.ordered and keras.backend.backend() == "tensorflow":
            return {"x": _endless_batches(self.data, batch_size), "steps_per_epoch": self.batches,
                    "shuffle": False}
        if isinstance(self.data, tuple):
            x, y, w = self.data
            return {"x": list(x) if self.ordered else x, "y": y, "sample_weight": w,
                    "batch_size": batch_size, "shuffle": not self.ordered}
        return {"x": self.data, "shuffle": False}   # (the batches reshuffle themselves)

    def validation_inputs(self, strategy: Any = None) -> dict[str, Any]:
        """The validation arguments of ``model.fit``."""
        if self.data is None:   # validated by a callback of its own (truncated BPTT's)
            return {}
        if distributed.replicas(strategy) > 1:
            return {"validation_data": distributed.sharded(strategy, self.source),
                    "validation_steps": self.batches}
        return {"validation_data": self.data}


def _endless_batches(data: tuple, batch_size: int):
    """Truncated BPTT's ordered batches as one endless ``tf.data`` stream, read ``steps`` batches
    an epoch: Keras keeps one iterator for the whole fit instead of making one per epoch, whose
    turnover stalled an epoch's first batch for 14-18 s in 4 of 6 jobs (docs/benchmarks.md).
    Every epoch is one whole pass, so each starts with the first batch, as the state needs."""
    import tensorflow as tf

    (x, keep), y, w = data
    return tf.data.Dataset.from_tensor_slices(((x, keep), y, w)).batch(batch_size).repeat()


def datasets(config, train_seqs, val_seqs, seed: int, replicas: int = 1) -> tuple[_Data, _Data]:
    """Training and validation data the way ``config`` trains (``core.models.batches``); with several
    replicas, batches of ``config.batch_size`` times the replicas (each replica's share is the
    batch size)."""
    config = config if replicas == 1 else dataclasses.replace(config, batch_size=config.batch_size * replicas)
    if config.reads_notes:
        return (_piece_dataset(StepBatches(train_seqs, config.batch_size, config.window, seed=seed)),
                _piece_dataset(StepBatches(val_seqs, config.batch_size, config.window, shuffle=False)))
    if config.reads_pianoroll:
        roll = {"pitches": config.pitches, "low": config.pitch_low, "max_len": config.max_len}
        return (_piece_dataset(RollBatches(train_seqs, config.batch_size, seed=seed, **roll)),
                _piece_dataset(RollBatches(val_seqs, config.batch_size, shuffle=False, **roll)))
    if config.train_on == "carried":   # validation: one stateful pass per piece (CarriedValidation)
        # in arrays, in order, not a PyDataset: that doubled the step time of these small
        # batches on 2 cores (docs/benchmarks.md), so the pieces are dealt to rows once a run
        carried = CarriedWindows(train_seqs, config.batch_size, config.window, seed=seed)
        x, keep, y, w = carried.arrays()
        train = _Data(((x, keep), y, w), carried.supervised_tokens, carried.steps, ordered=True)
        return train, _Data(None, sum(max(len(s) - 1, 0) for s in val_seqs), 0)
    if config.train_on == "pieces":
        train = _piece_dataset(PieceBatches(train_seqs, config.batch_size, max_len=config.max_len,
                                            seed=seed))
        val = _piece_dataset(PieceBatches(val_seqs, config.batch_size, max_len=config.max_len,
                                          shuffle=False))
        return train, val
    train_w = make_windows(train_seqs, config.window, config.many_to_many)
    val_w = make_windows(val_seqs, config.window, config.many_to_many, MAX_VAL_SAMPLES)
    per_batch = config.batch_size
    return (_Data((train_w.x, train_w.y, train_w.w), train_w.supervised_tokens,
                  math.ceil(len(train_w.x) / per_batch),
                  distributed.WindowBatches(train_w.x, train_w.y, train_w.w, per_batch, seed=seed)),
            _Data((val_w.x, val_w.y, val_w.w), val_w.supervised_tokens,
                  math.ceil(len(val_w.x) / per_batch),
                  distributed.WindowBatches(val_w.x, val_w.y, val_w.w, per_batch, shuffle=False)))


def _piece_dataset(batches: PieceBatches) -> _Data:
    """:class:`core.models.batches.PieceBatches` as a Keras ``PyDataset`` (reshuffled every epoch)."""
    class Pieces(keras.utils.PyDataset):
        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            return batches[i]

        def on_epoch_end(self):
            batches.reshuffle()

    return _Data(Pieces(), batches.supervised_tokens, len(batches), batches)


class CarriedValidation(keras.callbacks.Callback):
    """Truncated BPTT's ``val_loss``: the generator's own stateful pass over each whole held-out
    piece (``core.evaluation.likelihood.heldout_nll``), the same number a whole-piece model's
    validation gives. It runs before the monitor, which reads it from the epoch's logs."""

    def __init__(self, model, config, val_seqs) -> None:
        super().__init__()
        self.plain, self.config, self.val_seqs = model, config, val_seqs

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model)   # every row starts the epoch with a new piece

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_loss"] = heldout_nll(self.plain, self.config, self.val_seqs)["nll_token"]
