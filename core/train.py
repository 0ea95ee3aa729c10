"""The training job: corpus -> tokens -> windows -> model.fit, writing a run folder as it goes.

Run it as ``python -m core train ...`` (the app starts it as its own process through
``core.jobs`` and only reads the run folder). See ``core.runs`` for the folder's files.

- A stop request (``stop.request`` in the run folder) or SIGTERM ends the job after the current
  batch, saves a checkpoint and leaves the state ``stopped``; ``--resume`` continues from the
  latest checkpoint with the history intact.
- ``run.json`` is written only once the tokenizer is saved and the model is built, so a job
  that fails in set-up (empty corpus, one-token vocabulary, unwritable folder) leaves a
  ``status.json`` that says why, and no half-written run.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import keras
import numpy as np

from core import atomic, corpus, device, presets
from core.biaxial import RollBatches
from core.data import PieceBatches, make_windows
from core.encodings import get_tokenizer
from core.encodings.rolls import PianoRollTokenizer
from core.paths import data_dir
from core.runs import Run, RunState, checkpoint_name
from core.settings import TrainSpec

MAX_VAL_SAMPLES = 20_000  # many-to-one validation is strided down to this many windows


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


#: Called after each epoch checkpoint is saved, with the epoch and the live model.
CheckpointHook = Callable[[int, Any], None]


def train(spec: TrainSpec, run_dir: str | Path, *, resume: bool = False, queue: bool = True,
          log: Callable[[str], None] = print,
          on_checkpoint: Callable[[Run], CheckpointHook] | None = None) -> Run:
    """Train ``spec`` into ``run_dir`` (or continue it with ``resume``). Returns the run.

    ``on_checkpoint(run)`` makes the hook called after each epoch checkpoint (the CLI's job
    passes ``core.evaluate.checkpoint_reporter``, a sample and its metrics).

    Raises ``ValueError`` (after recording it in ``status.json``) for bad input.
    """
    run = Run(run_dir)
    try:
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_status(state=RunState.QUEUED, pid=os.getpid(), message="")
    except OSError as e:
        raise ValueError(f"cannot write to the run folder {run.path}: {e.strerror or e}") from None
    stop = StopFlag(run)
    stop.install()
    try:
        with _device_slot(run, stop, enabled=queue):
            if stop:
                run.write_status(state=RunState.STOPPED, message="stopped before it started")
                return run
            hook = on_checkpoint(run) if on_checkpoint else None
            return _train(spec, run, resume=resume, stop=stop, log=log, on_checkpoint=hook)
    except Exception as e:
        message = _explain(e)
        with contextlib.suppress(OSError):
            run.write_status(state=RunState.FAILED, message=message)
        raise ValueError(message) from e


def _explain(e: Exception) -> str:
    if isinstance(e, OSError) and e.errno == 28:
        return "the disk is full: free some space, then resume"
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


def _train(spec: TrainSpec, run: Run, *, resume: bool, stop: StopFlag, log,
           on_checkpoint: CheckpointHook | None) -> Run:
    if resume:  # the run's own spec; the caller's epochs (when given) extends or shortens it
        if not run.exists:
            raise ValueError(f"nothing to resume in {run.path}: it has no run.json")
        saved = TrainSpec.from_dict(run.config["spec"])
        saved.epochs = spec.epochs or saved.epochs
        spec = saved
    elif run.exists:
        raise ValueError(f"{run.path} already holds a run; use --resume or another folder")
    spec.validate()
    run.write_status(state=RunState.RUNNING, message="loading the corpus", epoch=0, epochs=spec.epochs)

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
    used = len(np.unique(np.concatenate(train_seqs))) if train_seqs else 0
    if used < 2:
        raise ValueError(f"the training pieces give a vocabulary of {used} token(s) in the "
                         f"{spec.encoding} encoding; there is nothing for a model to choose between")

    info = device.describe()
    with device.setup():
        if resume:
            last = run.epochs()[-1] if run.epochs() else None
            if last is None:
                raise ValueError(f"{run.path} has no checkpoint to resume from")
            model = presets.load_model(run.checkpoint(last))
            config = presets.ModelConfig.from_dict(run.config["model"])
            run.truncate_history(last)
            initial_epoch = last
        else:
            config = presets.make_config(spec.preset, tokenizer.vocab_size, spec.size,
                                         batch_size=spec.batch_size, learning_rate=spec.learning_rate,
                                         dropout=spec.dropout, train_on=spec.train_on,
                                         **_roll_settings(spec, tokenizer))
            keras.utils.set_random_seed(spec.seed)
            model = presets.compile_model(presets.build(config), config)
            initial_epoch = 0
        train_data, val_data = datasets(config, train_seqs, val_seqs, spec.seed)

        if not resume:
            tokenizer.save(run.path / "tokenizer.json")
            run.write_config({
                "name": run.name, "created": time.time(), "spec": spec.to_dict(),
                "model": config.to_dict(), "params": int(model.count_params()),
                "device": info["name"], "device_kind": info["device"], "backend": info["backend"],
                "corpus": {"source": spec.corpus, "files": loaded.n_files, "used": len(loaded.pieces),
                           "skipped": len(loaded.skipped)},
                "split": {"train": [p.name for p in train_pieces], "val": [p.name for p in val_pieces]},
                "data": {"train_on": config.train_on, "train_batches": train_data.batches,
                         "val_batches": val_data.batches, "train_tokens": train_data.tokens},
            })
        run.clear_stop_request()
        log(f"{run.name}: {len(train_pieces)} train / {len(val_pieces)} val pieces, vocab "
            f"{tokenizer.vocab_size}, {train_data.batches} batches of {config.train_on}, "
            f"{model.count_params():,} params, {info['name']}")

        monitor = RunMonitor(run, spec, train_data.tokens, stop, info, log, on_checkpoint)
        model.fit(**train_data.fit_inputs(config.batch_size), epochs=spec.epochs,
                  initial_epoch=initial_epoch, validation_data=val_data.data, callbacks=[monitor],
                  verbose=0)
    monitor.finish(model)
    return run


def transpositions(piece, semitones: int) -> list:
    """``piece`` and its copies moved by -``semitones`` .. +``semitones`` (none lost entirely)."""
    moved = [piece.transposed(k) for k in range(-semitones, semitones + 1) if k]
    return [piece] + [m for m in moved if m.n_notes]


def _roll_settings(spec: TrainSpec, tokenizer) -> dict[str, Any]:
    """The window, and for a piano-roll preset the roll's pitch range (its window is counted in
    cells: the preset's steps times the pitches)."""
    preset = presets.PRESETS.get(spec.preset)
    if preset is None or preset.reads != "pianoroll":
        return {"window": spec.window}   # (an unknown preset is make_config's message)
    if not isinstance(tokenizer, PianoRollTokenizer):
        raise ValueError(f"the {spec.preset} preset reads a piano roll: choose the pianoroll or "
                         f"pianoroll-quarter encoding, not {spec.encoding}")
    steps = preset.defaults["window"]
    return {"window": spec.window or steps * tokenizer.pitches, "pitches": tokenizer.pitches,
            "pitch_low": tokenizer.low}


@dataclass
class _Data:
    """What ``model.fit`` gets: arrays of windows, or a ``keras.utils.PyDataset`` of pieces."""

    data: Any
    tokens: int      # supervised tokens per pass
    batches: int

    def fit_inputs(self, batch_size: int) -> dict[str, Any]:
        """The data arguments of ``model.fit``."""
        if isinstance(self.data, tuple):
            x, y, w = self.data
            return {"x": x, "y": y, "sample_weight": w, "batch_size": batch_size}
        return {"x": self.data}


def datasets(config, train_seqs, val_seqs, seed: int) -> tuple[_Data, _Data]:
    """Training and validation data the way ``config`` trains (``core.data``)."""
    if config.reads_pianoroll:
        roll = {"pitches": config.pitches, "low": config.pitch_low, "max_len": config.max_len}
        return (_piece_dataset(RollBatches(train_seqs, config.batch_size, seed=seed, **roll)),
                _piece_dataset(RollBatches(val_seqs, config.batch_size, shuffle=False, **roll)))
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
                  math.ceil(len(train_w.x) / per_batch)),
            _Data((val_w.x, val_w.y, val_w.w), val_w.supervised_tokens,
                  math.ceil(len(val_w.x) / per_batch)))


def _piece_dataset(batches: PieceBatches) -> _Data:
    """:class:`core.data.PieceBatches` as a Keras ``PyDataset`` (reshuffled every epoch)."""
    class Pieces(keras.utils.PyDataset):
        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            return batches[i]

        def on_epoch_end(self):
            batches.reshuffle()

    return _Data(Pieces(), batches.supervised_tokens, len(batches))


class RunMonitor(keras.callbacks.Callback):
    """Writes history.csv, status.json and checkpoints into the run folder (Keras hooks)."""

    STATUS_EVERY_S = 1.0

    def __init__(self, run: Run, spec: TrainSpec, tokens_per_epoch: int, stop: StopFlag,
                 info: dict[str, Any], log, on_checkpoint: "CheckpointHook | None" = None) -> None:
        super().__init__()
        self.run, self.spec, self.stop, self.info, self.log = run, spec, stop, info, log
        self.on_checkpoint = on_checkpoint
        self.tokens_per_epoch = tokens_per_epoch
        self.epoch = 0  # completed epochs
        self.epoch_seconds: list[float] = []
        self.stopped = False
        rows = [r for r in self.run.history() if "val_loss" in r]
        best = min(rows, key=lambda r: r["val_loss"], default={"val_loss": math.inf, "epoch": 0})
        self.best_val, self.best_epoch = best["val_loss"], best["epoch"]
        self.early_stop: int | None = None

    # Keras hooks
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
            epoch_s = np.median(self.epoch_seconds) if self.epoch_seconds else per_batch * batches
            eta = per_batch * max(batches - batch - 1, 0) + epoch_s * (self.spec.epochs - self.epoch - 1)
            self.run.write_status(state=RunState.RUNNING, epoch=self.epoch, epochs=self.spec.epochs,
                                  batch=batch + 1, batches=batches, eta_s=round(float(eta), 1),
                                  device=self.info["name"], device_kind=self.info["device"],
                                  backend=self.info["backend"],
                                  loss=float((logs or {}).get("loss", float("nan"))), message="")
        if self.stop and not self.stopped:
            self.model.stop_training = True
            self.stopped = True
            self.run.write_status(state=RunState.STOPPING, message="saving a checkpoint, then stopping")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.perf_counter() - self.t_epoch
        done = epoch + 1
        if self.stopped and self.batches_done < (self.params.get("steps") or 0):
            return  # interrupted mid-epoch: not a finished epoch
        self.epoch_seconds.append(seconds)
        self.epoch = done
        row = {"epoch": done, "loss": logs.get("loss"), "val_loss": logs.get("val_loss"),
               "accuracy": logs.get("sparse_categorical_accuracy"),
               "val_accuracy": logs.get("val_sparse_categorical_accuracy"),
               "tokens_per_s": self.tokens_per_epoch / seconds, "seconds": seconds}
        row = {k: float(v) if v is not None else "" for k, v in row.items()}
        row["epoch"] = done
        if self.spec.wants_checkpoint(done):
            self.save(done)
        val = row["val_loss"]
        if isinstance(val, float) and val < self.best_val:
            self.best_val, self.best_epoch = val, done
            self.save(done, best=True)
        self.run.append_history(row)
        if self.spec.patience and done - self.best_epoch >= self.spec.patience:
            self.model.stop_training = True  # no better val_loss for `patience` epochs
            self.early_stop = done
            if not self.spec.wants_checkpoint(done):
                self.save(done)
        self.log(f"epoch {done}/{self.spec.epochs}: loss {row['loss']:.4f} val_loss {val:.4f} "
                 f"({row['tokens_per_s']:.0f} tokens/s, {seconds:.1f} s)")
        self.run.write_status(state=RunState.RUNNING, epoch=done, epochs=self.spec.epochs, batch=0,
                              eta_s=round(float(np.median(self.epoch_seconds)) * (self.spec.epochs - done), 1))

    def save(self, epoch: int, best: bool = False) -> None:
        """Write the checkpoint for ``epoch`` atomically (and point best.json at it)."""
        name = "best.keras" if best else checkpoint_name(epoch)
        target = self.run.path / name
        tmp = atomic.temp_path_for(target)
        try:
            self.model.save(tmp)
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
            self.on_checkpoint(epoch, self.model)

    def finish(self, model) -> None:
        if self.stopped:
            if not (self.run.path / checkpoint_name(self.epoch)).exists():
                self.save(self.epoch)
            self.run.clear_stop_request()
            self.run.write_status(state=RunState.STOPPED, epoch=self.epoch, eta_s=None,
                                  message=f"stopped after epoch {self.epoch}; resume to continue")
        elif self.early_stop:
            self.run.write_status(state=RunState.FINISHED, epoch=self.epoch, eta_s=0,
                                  message=f"stopped early: no better validation loss in "
                                          f"{self.spec.patience} epochs after epoch {self.best_epoch}")
        else:
            self.run.write_status(state=RunState.FINISHED, epoch=self.epoch, eta_s=0, message="")
