"""The training job: corpus -> tokens -> windows -> model.fit, writing a run folder as it goes.

Run it as ``python -m core train ...`` (the app starts it as its own process through
``core.training.jobs`` and only reads the run folder). See ``core.runs`` for the folder's files.

- A stop request (``stop.request`` in the run folder) or SIGTERM ends the job after the current
  batch, saves a checkpoint and leaves the state ``stopped``; ``--resume`` continues from the
  latest checkpoint with the history intact.
- ``run.json`` is written only once the tokenizer is saved and the model is built, so a job
  that fails in set-up (empty corpus, one-token vocabulary, unwritable folder) leaves a
  ``status.json`` that says why, and no half-written run.
- Several workers (``TF_CONFIG``, ``core.training.cluster``) run the same job with TensorFlow's
  ``MultiWorkerMirroredStrategy`` (``core.training.distributed``): each reads the corpus and takes its
  rows of every global batch; the chief (worker 0) alone writes the run folder, the others only
  read it (a resume loads the checkpoint on every worker, so several machines need the run
  folder on a shared disk). A stop on any worker stops all of them at the same batch.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import keras
import numpy as np

from core import corpus
from core.encodings import encoding_reads, get_tokenizer
from core.evaluation import ngram
from core.models import presets
from core.models.carried import carried_trainer
from core.models.config import check_pairing
from core.paths import data_dir
from core.runs import Run, RunState
from core.settings import TrainSpec
from core.training import device, distributed
from core.training.cluster import Cluster
from core.training.cluster import from_env as cluster_from_env
from core.training.data import CarriedValidation, datasets
from core.training.monitor import CheckpointHook, RunMonitor
from core.training.schedule import CosineDecay

# --- the job -------------------------------------------------------------------------------
class StopFlag:
    """Set by SIGTERM or by a ``stop.request`` file; checked after every batch."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.signalled = False

    def __bool__(self) -> bool:
        return self.signalled or self.run.stop_requested

    def install(self) -> None:
        def handler(signum, frame):
            self.signalled = True
        signal.signal(signal.SIGTERM, handler)


def train(spec: TrainSpec, run_dir: str | Path, *, resume: bool = False, queue: bool = True,
          log: Callable[[str], None] = print,
          on_checkpoint: Callable[[Run], CheckpointHook] | None = None,
          cluster: Cluster | None = None) -> Run:
    """Train ``spec`` into ``run_dir`` (or continue it with ``resume``). Returns the run.

    ``on_checkpoint(run)`` makes the hook called after each epoch checkpoint (the CLI's job
    passes ``core.training.report.checkpoint_reporter``, a sample and its metrics). ``cluster``
    (default: ``TF_CONFIG``'s) makes this one worker of a multi-worker job.

    Raises ``ValueError`` (after recording it in ``status.json``) for bad input.
    """
    cluster = cluster_from_env() if cluster is None else cluster
    run = Run(run_dir)
    folder: Any = run if cluster.chief else distributed.ReadOnlyRun(run)
    try:
        if cluster.chief:
            run.path.mkdir(parents=True, exist_ok=True)
        folder.write_status(state=RunState.QUEUED, pid=os.getpid(), message=(
            f"joining the other {cluster.workers - 1} worker(s)" if cluster.multi else ""))
    except OSError as e:
        raise ValueError(f"cannot write to the run folder {run.path}: {e.strerror or e}") from None
    stop = StopFlag(run)
    stop.install()
    try:
        info = device.describe()   # (the strategy comes before TensorFlow runs anything)
        strategy = distributed.make_strategy(cluster, info["gpus"], info["backend"])
        with _device_slot(folder, stop, enabled=queue and cluster.chief):
            if stop and not cluster.multi:
                run.write_status(state=RunState.STOPPED, message="stopped before it started")
                return run
            hook = on_checkpoint(run) if on_checkpoint and cluster.chief else None
            return _train(spec, folder, resume=resume, stop=stop, log=log, on_checkpoint=hook,
                          cluster=cluster, strategy=strategy)
    except Exception as e:
        message = _explain(e, cluster)
        with contextlib.suppress(OSError):
            folder.write_status(state=RunState.FAILED, message=message)
        raise ValueError(message) from e


#: TensorFlow's errors when a collective's peer is gone (by class name, not to import TF here)
_LOST_PEER = ("UnavailableError", "CancelledError", "DeadlineExceededError", "AbortedError",
              "InternalError", "UnknownError")


def _explain(e: Exception, cluster: Cluster | None = None) -> str:
    if cluster is not None and cluster.multi and type(e).__name__ in _LOST_PEER:
        return (f"lost contact with a worker of the {cluster.workers}-worker cluster (TensorFlow: "
                f"{type(e).__name__}); the job ended: resume to continue from the last checkpoint")
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return ("the disk is full (or a file-size limit was reached) while saving: the "
                "checkpoints before it are kept; free some space, then resume")
    if isinstance(e, OSError):
        return f"could not write the run folder: {e.strerror or e}"
    return str(e)


@contextlib.contextmanager
def _device_slot(run: Run, stop: StopFlag, enabled: bool) -> Iterator[None]:
    """One training at a time per device: wait (state ``queued``) for the device's lock."""
    if not enabled:
        yield
        return
    lock_dir = data_dir() / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "train.lock", "w") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if stop:
                    break
                run.write_status(state=RunState.QUEUED, message="waiting for another training to finish")
                time.sleep(1.0)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _train(spec: TrainSpec, run: Any, *, resume: bool, stop: StopFlag, log,
           on_checkpoint: CheckpointHook | None, cluster: Cluster, strategy: Any) -> Run:
    if resume:  # the run's own spec; the caller's epochs (when given) extends or shortens it
        if not run.exists:
            raise ValueError(f"nothing to resume in {run.path}: it has no run.json")
        saved = TrainSpec.from_dict(run.config["spec"])
        if spec.epochs or spec.minutes:   # given: they replace the run's own limits
            saved.epochs, saved.minutes = spec.epochs, spec.minutes
        spec = saved
    elif run.exists:
        raise ValueError(f"{run.path} already holds a run; use --resume or another folder")
    spec.validate()
    run.write_status(state=RunState.RUNNING, message="loading the corpus", epoch=0,
                     epochs=spec.epoch_limit, budget_s=spec.budget_s)

    # corpus -> split by piece -> tokens
    tokenizer = run.tokenizer() if resume else get_tokenizer(spec.encoding)
    loaded = corpus.load(spec.corpus, max_pieces=spec.max_pieces, kind=tokenizer.instrument_kind)
    train_pieces, val_pieces = corpus.split(loaded.pieces, spec.val_share, spec.seed)
    if not train_pieces or not val_pieces:
        raise ValueError(f"the corpus has {len(loaded.pieces)} usable piece(s); training needs at "
                         "least 2 (one to train on, one to validate)")
    if spec.transpose and tokenizer.instrument_kind != "drums":
        train_pieces = [q for p in train_pieces for q in transpositions(p, spec.transpose)]
    if not resume:
        tokenizer.fit(train_pieces)
    train_seqs = [tokenizer.encode(p) for p in train_pieces]
    val_seqs = [tokenizer.encode(p) for p in val_pieces]
    _check_learnable(train_seqs, tokenizer, spec.encoding)

    info = device.for_cluster(device.describe(), cluster.workers)
    n_replicas = distributed.replicas(strategy)
    own_step = getattr(presets.PRESETS.get(spec.preset), "reads", "") == "notes"   # the GAN's
    with device.setup(strategy, mixed=not own_step):
        if resume:
            last = run.epochs()[-1] if run.epochs() else None
            if last is None:
                raise ValueError(f"{run.path} has no checkpoint to resume from")
            model = presets.load_model(run.checkpoint(last))
            config = presets.ModelConfig.from_dict(run.config["model"])
            run.truncate_history(last)
            initial_epoch = last
            if run.config.get("device") != info["name"]:   # resumed on another cluster
                run.write_config({**run.config, "device": info["name"],
                                  "cluster": _cluster_record(cluster, config, n_replicas)})
        else:
            config = presets.make_config(spec.preset, getattr(tokenizer, "vocab_size", 0), spec.size,
                                         batch_size=spec.batch_size, learning_rate=spec.learning_rate,
                                         dropout=spec.dropout, train_on=train_on(spec, n_replicas),
                                         **_encoding_settings(spec, tokenizer))
            keras.utils.set_random_seed(spec.seed)
            model = presets.compile_model(presets.build(config), config)
            initial_epoch = 0
        if n_replicas > 1 and config.reads_notes:
            raise ValueError("the C-RNN-GAN trains on one device: its own training step does not "
                             "split over several replicas or workers")
        if n_replicas > 1 and config.train_on == "carried":   # (a resumed run's own mode)
            raise ValueError(CARRIED_ON_ONE_DEVICE)
        if cluster.multi and spec.minutes:
            raise ValueError("a time budget (--minutes) ends a run on one machine's clock: on "
                             "several workers give --epochs instead")
        train_data, val_data = datasets(config, train_seqs, val_seqs, spec.seed, n_replicas)

        if not resume and cluster.chief:
            tokenizer.save(run.path / "tokenizer.json")
            run.write_config({
                "name": run.name, "created": time.time(), "spec": spec.to_dict(),
                "model": config.to_dict(), "params": int(model.count_params()),
                "device": info["name"], "device_kind": info["device"], "backend": info["backend"],
                "cluster": _cluster_record(cluster, config, n_replicas),
                "precision": keras.mixed_precision.global_policy().name,
                "corpus": {"source": spec.corpus, "files": loaded.n_files, "used": len(loaded.pieces),
                           "skipped": len(loaded.skipped)},
                "split": {"train": [p.name for p in train_pieces], "val": [p.name for p in val_pieces]},
                "data": {"train_on": config.train_on, "train_batches": train_data.batches,
                         "val_batches": val_data.batches, "train_tokens": train_data.tokens},
                "baseline": _baseline(tokenizer, train_seqs, val_seqs),
            })
        run.clear_stop_request()
        log(f"{run.name}: {len(train_pieces)} train / {len(val_pieces)} val pieces, "
            f"{tokenizer.size_text}, {train_data.batches} batches of {config.train_on}, "
            f"{model.count_params():,} params, {info['name']}"
            + (f", worker {cluster.index} of {cluster.workers}" if cluster.multi else "")
            + (f", {n_replicas} replicas, global batch {config.batch_size * n_replicas}"
               if n_replicas > 1 else ""))

        if info["device"] == "GPU" and device.cudnn_blockers(model):
            log("these LSTMs cannot use cuDNN: " + "; ".join(device.cudnn_blockers(model)))
        own = getattr(model, "training_callbacks", list)()   # the GAN's phase switch
        if n_replicas > 1:   # every worker stops at the same batch
            agreement = distributed.StopAgreement(strategy, stop)
            own, stop = [*own, agreement], agreement
            distributed.prepare(model, strategy, train_data.source[0])
        kind = (distributed.WorkerMonitor if not cluster.chief else
                distributed.ChiefMonitor if cluster.multi else RunMonitor)
        trained = model   # what Keras fits: the model, or truncated BPTT's wrapper of it
        if config.train_on == "carried":
            trained = carried_trainer(model, config.batch_size)
            trained.compile(optimizer=model.optimizer, loss=model.loss,
                            weighted_metrics=["sparse_categorical_accuracy"])
            own = [*own, CarriedValidation(model, config, val_seqs)]
        if spec.lr_schedule == "cosine" and n_replicas == 1 and not config.reads_notes:
            own = [*own, CosineDecay(config.learning_rate, budget_s=spec.budget_s,
                                     epochs=spec.epoch_limit)]
        monitor = kind(run, spec, train_data.tokens, stop, info, log, on_checkpoint,
                       saved_model=model if trained is not model else None)
        trained.fit(**train_data.fit_inputs(config.batch_size, strategy), epochs=spec.epoch_limit,
                    initial_epoch=initial_epoch, **val_data.validation_inputs(strategy),
                    callbacks=[*own, monitor], verbose=0)
    monitor.finish(model)
    return run._run if isinstance(run, distributed.ReadOnlyRun) else run


CARRIED_ON_ONE_DEVICE = ("truncated BPTT (--train-on carried) trains on one device: on several "
                         "replicas or workers use --train-on pieces (the state carried through "
                         "whole pieces)")


def train_on(spec: TrainSpec, replicas: int) -> str | None:
    """How the run's data is cut: as asked, else the preset's default, except that truncated
    BPTT (one device only) gives way to whole pieces on several replicas. ``ValueError`` when
    truncated BPTT is asked for on several replicas, naming the mode that works there."""
    if replicas > 1 and spec.train_on == "carried":
        raise ValueError(CARRIED_ON_ONE_DEVICE)
    preset = presets.PRESETS.get(spec.preset)
    if spec.train_on is None and replicas > 1 and preset and preset.defaults.get("train_on") == "carried":
        return "pieces"
    return spec.train_on


def _cluster_record(cluster: Cluster, config, n_replicas: int) -> dict[str, Any]:
    """What ``run.json`` says of the cluster: its workers, replicas and batches."""
    return {**cluster.to_dict(), "replicas": n_replicas, "batch_per_replica": config.batch_size,
            "global_batch": config.batch_size * n_replicas}


def transpositions(piece, semitones: int) -> list:
    """``piece`` and its copies moved by -``semitones`` .. +``semitones`` (none lost entirely)."""
    moved = [piece.transposed(k) for k in range(-semitones, semitones + 1) if k]
    return [piece] + [m for m in moved if m.n_notes]


def _check_learnable(train_seqs, tokenizer, encoding: str) -> None:
    """``ValueError`` when the training pieces give nothing to learn in this encoding."""
    if tokenizer.continuous:
        if sum(len(s) for s in train_seqs) < 2:
            raise ValueError(f"the training pieces give fewer than 2 steps in the {encoding} "
                             "encoding; there is nothing to learn from")
        return
    used = len(np.unique(np.concatenate(train_seqs))) if train_seqs else 0
    if used < 2:
        raise ValueError(f"the training pieces give a vocabulary of {used} token(s) in the "
                         f"{encoding} encoding; there is nothing for a model to choose between")


def _encoding_settings(spec: TrainSpec, tokenizer) -> dict[str, Any]:
    """The window, and what the preset needs to know of its encoding: a piano roll's pitch range
    (its window is counted in cells: the preset's steps times the pitches), or the values per
    step of a continuous encoding. A preset and an encoding that do not go together are a
    ``ValueError`` that says which do."""
    preset = presets.PRESETS.get(spec.preset)
    if preset is None:
        return {"window": spec.window}   # (an unknown preset is make_config's message)
    check_pairing(spec.preset, spec.encoding, encoding_reads(spec.encoding))
    if preset.reads == "notes":
        if spec.patience:
            raise ValueError("a GAN has no validation loss to stop early on: leave patience off "
                             "(its checkpoints are kept by epoch)")
        return {"window": spec.window, "features": tokenizer.features,
                "pretrain_epochs": spec.pretrain_epochs, "feature_matching": spec.feature_matching,
                "freeze": spec.freeze}
    if preset.reads != "pianoroll":
        return {"window": spec.window}
    steps = preset.defaults["window"]
    return {"window": spec.window or steps * tokenizer.pitches, "pitches": tokenizer.pitches,
            "pitch_low": tokenizer.low}


def _baseline(tokenizer, train_seqs, val_seqs) -> dict[str, Any] | None:
    """What note statistics alone reach: the n-gram baseline's held-out NLL (nats per token),
    for the live chart's line; None for a real-valued encoding."""
    if tokenizer.continuous:
        return None
    nll = ngram.baseline_nll(train_seqs, val_seqs, tokenizer.vocab_size)
    return {"n": ngram.BASELINE_N, "nll_token": nll} if nll is not None else None
