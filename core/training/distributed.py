"""Training on several devices or machines with TensorFlow's own engine, ``tf.distribute``.

- :func:`make_strategy`: ``MultiWorkerMirroredStrategy`` for a cluster (``core.training.cluster``, from
  ``TF_CONFIG``), ``MirroredStrategy`` for several GPUs of one machine, ``None`` otherwise (a
  plain single-device job, which keeps Keras's own data handling).
- **Batches**: the batch size is per replica (per device); one step's global batch is that times
  the replicas in sync. Every worker builds the same global batches (same pieces, same seed) and
  feeds its own replicas only their rows of each (rows ``r::R`` for replica ``r`` of ``R``), so
  the data is sharded per worker and a step is the single-device step over the global batch
  (exactly so when its rows divide evenly among the replicas; in a last, smaller batch each
  replica's mean weighs the same).
  :func:`sharded` makes that a ``tf.distribute`` dataset (``distribute_datasets_from_function``:
  no auto-sharding, no rebatching behind our back), repeated over epochs with a reshuffle
  between them, so ``fit`` runs ``steps_per_epoch`` steps on every worker alike.
- :class:`StopAgreement`: a stop (``stop.request``, SIGTERM) seen by any worker becomes every
  worker's stop at the same batch (one tiny all-reduce per batch), so no worker is left waiting
  in a collective for one that has gone.
- :func:`prepare`: two Keras 3 multi-worker gaps worked around (keras-team/keras#20585).
- The run folder is the chief's: :class:`ChiefMonitor` writes it (checkpoints saved outside the
  strategy's scope), :class:`WorkerMonitor` and :class:`ReadOnlyRun` let the other workers make
  the same decisions from the same numbers and write nothing.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

import keras
import numpy as np

from core.training.cluster import Cluster
from core.training.monitor import RunMonitor
from core.runs import Run


def make_strategy(cluster: Cluster, gpus: int, backend: str) -> Any:
    """The ``tf.distribute`` strategy for ``cluster`` and this machine's ``gpus``, or ``None``.
    A multi-worker strategy must exist before TensorFlow runs anything, so call this first."""
    if cluster.multi:
        if backend != "tensorflow":
            raise ValueError(f"multi-worker training needs the TensorFlow backend (KERAS_BACKEND "
                             f"is {backend})")
        import tensorflow as tf
        try:
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as e:
            raise ValueError(f"could not join the cluster: {e}") from None
        _patch_keras_reduction()
        return strategy
    if backend == "tensorflow" and gpus > 1:
        import tensorflow as tf
        return tf.distribute.MirroredStrategy()
    return None


def replicas(strategy: Any) -> int:
    return int(strategy.num_replicas_in_sync) if strategy is not None else 1


class WindowBatches:
    """Training windows as global batches in a seeded order (a new one each :meth:`reshuffle`);
    the windowed models' data on several replicas (one device keeps Keras's own arrays)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, batch_size: int, *,
                 shuffle: bool = True, seed: int = 0) -> None:
        self.x, self.y, self.w, self.batch_size, self.shuffle = x, y, w, int(batch_size), shuffle
        self.rng = np.random.default_rng(seed)
        self.reshuffle()

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def reshuffle(self) -> None:
        self.order = self.rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))

    def __getitem__(self, i: int):
        rows = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return self.x[rows], self.y[rows], self.w[rows]


def shard(batch: Any, replica: int, replicas: int) -> Any:
    """Replica ``replica``'s rows of a global batch (any nest of arrays): rows ``replica::replicas``
    (empty when the batch has fewer rows than replicas; its loss is then 0 and so is its share)."""
    return keras.tree.map_structure(lambda a: a[replica::replicas], batch)


def sharded(strategy: Any, source: Sequence, *, repeat: bool = True) -> Any:
    """``source`` (global batches, with ``reshuffle()``) as this worker's share of a distributed
    dataset: each element one local replica's rows, the local replicas dealt in turn."""
    import tensorflow as tf

    example = source[0]
    spec = keras.tree.map_structure(
        lambda a: tf.TensorSpec((None,) * np.ndim(a), tf.as_dtype(np.asarray(a).dtype)), example)

    def dataset_fn(context):
        total = context.num_replicas_in_sync
        local = total // context.num_input_pipelines
        first = context.input_pipeline_id * local

        def batches():
            while True:
                for i in range(len(source)):
                    batch = source[i]
                    for r in range(first, first + local):
                        yield shard(batch, r, total)
                if not repeat:
                    return
                source.reshuffle()
        return tf.data.Dataset.from_generator(batches, output_signature=spec).prefetch(2)

    return strategy.distribute_datasets_from_function(dataset_fn)


def prepare(model: keras.Model, strategy: Any, example: Any) -> None:
    """Build ``model`` (weights, optimizer, metrics) in the strategy's scope from one local batch,
    before ``fit``. Keras 3 otherwise learns the shapes by reducing the first *distributed*
    batch across workers, which fails for an ``(x, y, weights)`` tuple under
    ``MultiWorkerMirroredStrategy`` (and averages int token ids); the model is built here, so
    that step is skipped, for several GPUs of one machine too."""
    if replicas(strategy) <= 1:
        return
    with strategy.scope():
        model._symbolic_build(data_batch=example)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def outside_scope(hook: Callable[..., None]) -> Callable[..., None]:
    """``hook`` run on a thread of its own (and waited for): outside the strategy's scope, which is
    per thread. The chief's checkpoint report builds Keras objects of its own; inside the
    multi-worker scope each new variable would be a collective broadcast the other workers never
    join."""
    def run(*args: Any) -> None:
        failure: list[BaseException] = []

        def target() -> None:
            try:
                hook(*args)
            except BaseException as e:   # re-raised on the caller's thread
                failure.append(e)
        thread = threading.Thread(target=target, name="checkpoint-hook")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
    return run


def _multi_worker(strategy: Any) -> bool:
    import tensorflow as tf
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def _patch_keras_reduction() -> None:
    """Keras 3 (up to 3.15 at least) averages a multi-worker step's logged numbers with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on a scalar; the mean over replicas
    (``axis=None``) is what it means, and what it does for one machine's replicas."""
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "composer_patched", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and _multi_worker(strategy):
            return keras.tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica.composer_patched = True
    trainer.reduce_per_replica = reduce_per_replica


class StopAgreement(keras.callbacks.Callback):
    """True (as a bool) once any worker has asked to stop; every worker learns it at the same
    batch. Put it before the callback that reads it."""

    def __init__(self, strategy: Any, local: Any) -> None:
        super().__init__()
        self.strategy, self.local, self.agreed = strategy, local, False

    def __bool__(self) -> bool:
        return self.agreed

    def on_train_batch_end(self, batch, logs=None):
        if self.agreed:
            return
        import tensorflow as tf
        mine = 1.0 if self.local else 0.0
        value = self.strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(mine))
        self.agreed = float(self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)) > 0


class ReadOnlyRun:
    """A non-chief worker's view of the run folder: it reads like :class:`Run`, and its writes
    go nowhere (the chief writes the folder)."""

    WRITES = ("write_status", "write_config", "append_history", "truncate_history",
              "clear_stop_request", "request_stop")

    def __init__(self, run: Run) -> None:
        self._run = run

    def __getattr__(self, name: str) -> Any:
        if name in self.WRITES:
            return lambda *args, **kwargs: None
        return getattr(self._run, name)


class ChiefMonitor(RunMonitor):
    """The chief's monitor in a cluster: checkpoints (and their reports) are saved outside the
    multi-worker scope (``core.training.distributed.outside_scope``), on this worker alone."""

    def save(self, epoch: int, best: bool = False) -> None:
        outside_scope(super().save)(epoch, best)


class WorkerMonitor(RunMonitor):
    """A non-chief worker's monitor: the same decisions (stop, early stop) from the same
    all-reduced numbers as the chief's, and no files."""

    def save(self, epoch: int, best: bool = False) -> None:
        return None
