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

import argparse
import contextlib
import fcntl
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from core import atomic
from core.runs import Run, checkpoint_name

MAX_VAL_SAMPLES = 20_000  # many-to-one validation is strided down to this many windows


@dataclass
class TrainSpec:
    """What to train: everything the command line and the Train page can set."""

    corpus: str
    encoding: str = "events"
    preset: str = "studio"
    size: str | None = None
    epochs: int = 10
    checkpoint_every: int = 1
    checkpoint_epochs: list[int] | None = None  # explicit epochs to keep (overrides the interval)
    val_share: float = 0.1
    batch_size: int | None = None
    learning_rate: float | None = None
    window: int | None = None
    dropout: float | None = None
    seed: int = 0
    max_pieces: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainSpec":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def wants_checkpoint(self, epoch: int) -> bool:
        if epoch == self.epochs:
            return True
        if self.checkpoint_epochs:
            return epoch in self.checkpoint_epochs
        return epoch % self.checkpoint_every == 0

    def validate(self) -> None:
        if self.epochs < 1:
            raise ValueError("epochs must be at least 1")
        if self.checkpoint_every < 1:
            raise ValueError("checkpoint interval must be at least 1 epoch")
        if not 0.0 < self.val_share < 0.9:
            raise ValueError("validation share must be between 0 and 0.9")
        if self.max_pieces is not None and self.max_pieces < 2:
            raise ValueError("need at least 2 pieces: one to train on and one to validate")


# --- data ----------------------------------------------------------------------------------
@dataclass
class Windows:
    """Training examples: ``x`` (n, window) int32, ``y`` targets, ``w`` per-target weights."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray

    @property
    def supervised_tokens(self) -> int:
        return int(self.w.sum())


def make_windows(seqs: Sequence[np.ndarray], window: int, many_to_many: bool,
                 max_samples: int | None = None) -> Windows:
    """Cut token sequences into training windows, never across two pieces.

    Many-to-many: windows of ``window + 1`` tokens at a stride of ``window`` (the last one
    right-padded with PAD, weight 0 there); ``y`` is ``x`` shifted by one. Many-to-one (the seed
    models): every position with a full window before it, ``y`` the single next token.
    """
    xs, ys = [], []
    if many_to_many:
        for s in seqs:
            for start in range(0, max(len(s) - 1, 0), window):
                chunk = np.zeros(window + 1, np.int32)
                part = s[start:start + window + 1]
                chunk[:len(part)] = part
                xs.append(chunk[:-1])
                ys.append(chunk[1:])
        if not xs:
            raise ValueError("every piece is shorter than 2 tokens; nothing to learn from")
        x, y = np.stack(xs), np.stack(ys)
        w = (y != 0).astype(np.float32)
    else:
        for s in seqs:
            if len(s) > window:
                view = np.lib.stride_tricks.sliding_window_view(s, window + 1)
                xs.append(view[:, :-1])
                ys.append(view[:, -1])
        if not xs:
            longest = max((len(s) for s in seqs), default=0)
            raise ValueError(f"the window of {window} tokens is longer than every piece (longest: "
                             f"{longest} tokens); choose a smaller window or longer pieces")
        x, y = np.concatenate(xs).astype(np.int32), np.concatenate(ys).astype(np.int32)
        w = np.ones(len(y), np.float32)
    if max_samples and len(x) > max_samples:
        keep = np.linspace(0, len(x) - 1, max_samples).astype(int)
        x, y, w = x[keep], y[keep], w[keep]
    return Windows(x, y, w)


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
          log: Callable[[str], None] = print) -> Run:
    """Train ``spec`` into ``run_dir`` (or continue it with ``resume``). Returns the run.

    Raises ``ValueError`` (after recording it in ``status.json``) for bad input.
    """
    run = Run(run_dir)
    try:
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_status(state="queued", pid=os.getpid(), message="")
    except OSError as e:
        raise ValueError(f"cannot write to the run folder {run.path}: {e.strerror or e}") from None
    stop = StopFlag(run)
    stop.install()
    try:
        with _device_slot(run, stop, enabled=queue):
            if stop:
                run.write_status(state="stopped", message="stopped before it started")
                return run
            return _train(spec, run, resume=resume, stop=stop, log=log)
    except Exception as e:
        message = _explain(e)
        with contextlib.suppress(OSError):
            run.write_status(state="failed", message=message)
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
    from core.paths import data_dir
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
                run.write_status(state="queued", message="waiting for another training to finish")
                time.sleep(1.0)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _train(spec: TrainSpec, run: Run, *, resume: bool, stop: StopFlag, log) -> Run:
    from core import corpus, device, presets
    from core.encodings import get_tokenizer

    if resume:  # the run's own spec; the caller's epochs (when given) extends or shortens it
        if not run.exists:
            raise ValueError(f"nothing to resume in {run.path}: it has no run.json")
        saved = TrainSpec.from_dict(run.config["spec"])
        saved.epochs = spec.epochs or saved.epochs
        spec = saved
    elif run.exists:
        raise ValueError(f"{run.path} already holds a run; use --resume or another folder")
    spec.validate()
    run.write_status(state="running", message="loading the corpus", epoch=0, epochs=spec.epochs)

    # corpus -> split by piece -> tokens
    tokenizer = run.tokenizer() if resume else get_tokenizer(spec.encoding)
    loaded = corpus.load(spec.corpus, max_pieces=spec.max_pieces, kind=tokenizer.instrument_kind)
    train_pieces, val_pieces = corpus.split(loaded.pieces, spec.val_share, spec.seed)
    if not train_pieces or not val_pieces:
        raise ValueError(f"the corpus has {len(loaded.pieces)} usable piece(s); training needs at "
                         "least 2 (one to train on, one to validate)")
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
            config = presets.make_config(spec.preset, tokenizer.vocab_size, spec.size, window=spec.window,
                                         batch_size=spec.batch_size, learning_rate=spec.learning_rate,
                                         dropout=spec.dropout)
            import keras
            keras.utils.set_random_seed(spec.seed)
            model = presets.compile_model(presets.build(config), config)
            initial_epoch = 0
        train_w = make_windows(train_seqs, config.window, config.many_to_many)
        val_w = make_windows(val_seqs, config.window, config.many_to_many, MAX_VAL_SAMPLES)

        if not resume:
            tokenizer.save(run.path / "tokenizer.json")
            run.write_config({
                "name": run.name, "created": time.time(), "spec": spec.to_dict(),
                "model": config.to_dict(), "params": int(model.count_params()),
                "device": info["name"], "backend": info["backend"],
                "corpus": {"source": spec.corpus, "files": loaded.n_files, "used": len(loaded.pieces),
                           "skipped": len(loaded.skipped)},
                "split": {"train": [p.name for p in train_pieces], "val": [p.name for p in val_pieces]},
                "data": {"train_windows": len(train_w.x), "val_windows": len(val_w.x),
                         "train_tokens": train_w.supervised_tokens},
            })
        run.clear_stop_request()
        log(f"{run.name}: {len(train_pieces)} train / {len(val_pieces)} val pieces, vocab "
            f"{tokenizer.vocab_size}, {len(train_w.x)} windows, {model.count_params():,} params, {info['name']}")

        monitor = _monitor_class()(run, spec, train_w.supervised_tokens, stop, info, log)
        model.fit(train_w.x, train_w.y, sample_weight=train_w.w, batch_size=config.batch_size,
                  epochs=spec.epochs, initial_epoch=initial_epoch,
                  validation_data=(val_w.x, val_w.y, val_w.w), callbacks=[monitor], verbose=0)
    monitor.finish(model)
    return run


def _monitor_class():
    """``RunMonitor`` as a Keras callback (built lazily so importing core.train stays cheap)."""
    import keras

    class KerasRunMonitor(RunMonitor, keras.callbacks.Callback):
        pass

    return KerasRunMonitor


class RunMonitor:
    """Writes history.csv, status.json and checkpoints into the run folder (Keras hooks)."""

    STATUS_EVERY_S = 1.0

    def __init__(self, run: Run, spec: TrainSpec, tokens_per_epoch: int, stop: StopFlag,
                 info: dict[str, Any], log) -> None:
        super().__init__()
        self.run, self.spec, self.stop, self.info, self.log = run, spec, stop, info, log
        self.tokens_per_epoch = tokens_per_epoch
        self.epoch = 0  # completed epochs
        self.epoch_seconds: list[float] = []
        self.stopped = False
        best = self.run.history()
        self.best_val = min((r["val_loss"] for r in best if "val_loss" in r), default=math.inf)

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
            self.run.write_status(state="running", epoch=self.epoch, epochs=self.spec.epochs,
                                  batch=batch + 1, batches=batches, eta_s=round(float(eta), 1),
                                  device=self.info["name"], backend=self.info["backend"],
                                  loss=float((logs or {}).get("loss", float("nan"))), message="")
        if self.stop:
            self.model.stop_training = True
            self.stopped = True

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
            self.best_val = val
            self.save(done, best=True)
        self.run.append_history(row)
        self.log(f"epoch {done}/{self.spec.epochs}: loss {row['loss']:.4f} val_loss {val:.4f} "
                 f"({row['tokens_per_s']:.0f} tokens/s, {seconds:.1f} s)")
        self.run.write_status(state="running", epoch=done, epochs=self.spec.epochs, batch=0,
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
        """A short sample and its metrics beside the checkpoint (when generation is available)."""
        try:
            from core.evaluate import checkpoint_report
        except ModuleNotFoundError:
            return
        try:
            checkpoint_report(self.run, epoch, model=self.model)
        except Exception as e:  # a failed sample must never end the training
            self.log(f"sample for epoch {epoch} failed: {e}")

    def finish(self, model) -> None:
        if self.stopped:
            if not (self.run.path / checkpoint_name(self.epoch)).exists():
                self.save(self.epoch)
            self.run.clear_stop_request()
            self.run.write_status(state="stopped", epoch=self.epoch, eta_s=None,
                                  message=f"stopped after epoch {self.epoch}; resume to continue")
        else:
            self.run.write_status(state="finished", epoch=self.epoch, eta_s=0, message="")


# --- command line --------------------------------------------------------------------------
def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model into a run folder")
    p.add_argument("--corpus", required=False, help="built-in corpus name, MIDI folder, .zip or .mid")
    p.add_argument("--encoding", default="events")
    p.add_argument("--preset", default="studio")
    p.add_argument("--size", choices=["small", "medium", "large"])
    p.add_argument("--epochs", type=int, help="default 10; with --resume, the run's own")
    p.add_argument("--checkpoint-every", type=int, default=1)
    p.add_argument("--checkpoint-epochs", type=_int_list, help="e.g. 1,2,5,10: keep exactly these")
    p.add_argument("--val-share", type=float, default=0.1)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--window", type=int)
    p.add_argument("--dropout", type=float)
    p.add_argument("--max-pieces", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    p.add_argument("--no-queue", action="store_true", help="do not wait for other trainings")
    p.set_defaults(func=_cli_train)


def _int_list(text: str) -> list[int]:
    try:
        return sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated epochs like 1,2,5, not {text!r}")


def _cli_train(args: argparse.Namespace) -> int:
    if not args.corpus and not args.resume:
        raise ValueError("--corpus is required (or --resume an existing run)")
    spec = TrainSpec(corpus=args.corpus or "", encoding=args.encoding, preset=args.preset, size=args.size,
                     epochs=args.epochs or (0 if args.resume else 10), checkpoint_every=args.checkpoint_every,
                     checkpoint_epochs=args.checkpoint_epochs, val_share=args.val_share,
                     batch_size=args.batch_size, learning_rate=args.learning_rate, window=args.window,
                     dropout=args.dropout,
                     seed=args.seed, max_pieces=args.max_pieces)
    run = train(spec, args.run_dir, resume=args.resume, queue=not args.no_queue,
                log=lambda m: print(m, flush=True))
    status = run.status
    print(f"{status.get('state')}: {run.path} (epoch {status.get('epoch')})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    from core.__main__ import main
    sys.exit(main(["train", *sys.argv[1:]]))
