"""The run folder: everything a training run writes, self-describing and loadable on its own.

::

    RUN/
      run.json            config: corpus, encoding, preset, size, model config, training settings,
                          split (piece names), parameter count, device, keras backend
      tokenizer.json      the fitted tokenizer (core.encodings)
      history.csv         one row per epoch: epoch,loss,val_loss,accuracy,val_accuracy,
                          tokens_per_s,seconds
      status.json         state (queued|running|stopping|stopped|finished|failed), epoch, epochs,
                          batch, batches, eta_s, device, pid, message, updated
      epoch_0005.keras    model (+ optimizer unless stripped) after epoch 5
      best.keras          the model at the epoch with the lowest val_loss so far
      best.json           {"epoch": N, "val_loss": x}: which epoch best.keras is
      samples/epoch_0005.mid   a short sample generated from that checkpoint
      samples/epoch_0005.json  its metrics (copy rate, loop rate, held-out NLL, ...)
      stop.request        present when someone asked the job to stop
      MODEL_CARD.md       shipped runs only

Every file is written atomically (``core.atomic``), so a killed job leaves each file whole.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from core import atomic
from core.encodings import load_tokenizer
from core.paths import SHIPPED_RUNS

HISTORY_FIELDS = ["epoch", "loss", "val_loss", "accuracy", "val_accuracy", "tokens_per_s", "seconds", "elapsed_s",
                  # the C-RNN-GAN's (core.models.crnngan): its squared error, adversarial losses,
                  # discriminator accuracy and the share of batches each side was frozen
                  "mse", "val_mse", "d_loss", "val_d_loss", "g_loss", "val_g_loss",
                  "d_accuracy", "val_d_accuracy", "feature_loss", "val_feature_loss",
                  "frozen_d", "frozen_g"]


class RunState(StrEnum):
    """A run's ``status.json`` state. ``INTERRUPTED`` is never written: ``core.training.jobs.state`` reads
    it off an active state whose process is gone."""

    QUEUED = "queued"          # waiting for the device (another training holds it)
    RUNNING = "running"
    STOPPING = "stopping"      # a stop was asked for; the job saves a checkpoint and ends
    STOPPED = "stopped"        # ended on request, resumable
    FINISHED = "finished"
    FAILED = "failed"          # the message says why
    INTERRUPTED = "interrupted"
    UNKNOWN = "unknown"        # no status.json yet

    @property
    def active(self) -> bool:
        return self in STATES_ACTIVE


STATES_ACTIVE = (RunState.QUEUED, RunState.RUNNING, RunState.STOPPING)
_EPOCH_RE = re.compile(r"^epoch_(\d{4,})\.keras$")


def checkpoint_name(epoch: int) -> str:
    return f"epoch_{epoch:04d}.keras"


@dataclass(frozen=True)
class Run:
    """A handle on one run folder. Cheap to make; every property reads the disk."""

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    # --- identity ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def exists(self) -> bool:
        return (self.path / "run.json").is_file()

    @property
    def shipped(self) -> bool:
        try:
            self.path.resolve().relative_to(SHIPPED_RUNS.resolve())
            return True
        except ValueError:
            return False

    # --- config and tokenizer ------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        return _read_json(self.path / "run.json", {})

    def write_config(self, config: dict[str, Any]) -> None:
        atomic.write_json(self.path / "run.json", config)

    def tokenizer(self):
        return load_tokenizer(self.path / "tokenizer.json")

    # --- status --------------------------------------------------------------------------
    @property
    def status(self) -> dict[str, Any]:
        return _read_json(self.path / "status.json", {"state": "unknown"})

    def write_status(self, **fields: Any) -> dict[str, Any]:
        status = _read_json(self.path / "status.json", {})
        status.update(fields, updated=time.time())
        atomic.write_json(self.path / "status.json", status)
        return status

    def request_stop(self) -> None:
        atomic.write_text(self.path / "stop.request", str(time.time()))

    @property
    def stop_requested(self) -> bool:
        return (self.path / "stop.request").exists()

    def clear_stop_request(self) -> None:
        (self.path / "stop.request").unlink(missing_ok=True)

    # --- history -------------------------------------------------------------------------
    def history(self) -> list[dict[str, float]]:
        """Rows of ``history.csv`` as dicts of floats (``epoch`` as int); [] if none yet."""
        p = self.path / "history.csv"
        if not p.is_file():
            return []
        rows = []
        for row in csv.DictReader(io.StringIO(p.read_text())):
            try:
                rows.append({k: (int(float(v)) if k == "epoch" else float(v)) for k, v in row.items()
                             if k in HISTORY_FIELDS and v not in (None, "")})
            except ValueError:
                continue
        return rows

    def append_history(self, row: dict[str, Any]) -> None:
        """Add one epoch's row, rewriting the file atomically (it is small)."""
        rows = [r for r in self.history() if r["epoch"] < row["epoch"]] + [row]
        self._write_history(rows)

    def truncate_history(self, last_epoch: int) -> None:
        """Drop rows after ``last_epoch`` (used on resume from an earlier checkpoint)."""
        self._write_history([r for r in self.history() if r["epoch"] <= last_epoch])

    def _write_history(self, rows: list[dict[str, Any]]) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
        atomic.write_text(self.path / "history.csv", buf.getvalue())

    # --- checkpoints ---------------------------------------------------------------------
    def epochs(self) -> list[int]:
        """Epochs that have a checkpoint, ascending."""
        if not self.path.is_dir():
            return []
        out = []
        for p in self.path.iterdir():
            m = _EPOCH_RE.match(p.name)
            if m:
                out.append(int(m.group(1)))
        return sorted(out)

    def checkpoint(self, epoch: int | None = None) -> Path:
        """Path of the checkpoint for ``epoch``; by default the best one, else the latest."""
        if epoch is None:
            if (self.path / "best.keras").is_file():
                return self.path / "best.keras"
            best = self.best_epoch()
            if best is not None and (self.path / checkpoint_name(best)).is_file():
                return self.path / checkpoint_name(best)
            if not self.epochs():
                raise FileNotFoundError(f"run {self.name} has no checkpoints yet")
            epoch = self.epochs()[-1]
        p = self.path / checkpoint_name(epoch)
        if not p.is_file():
            have = ", ".join(map(str, self.epochs())) or "none"
            raise FileNotFoundError(f"run {self.name} has no checkpoint for epoch {epoch} (has: {have})")
        return p

    def best_epoch(self) -> int | None:
        """The epoch whose weights are in ``best.keras`` (lowest validation loss so far)."""
        e = _read_json(self.path / "best.json", {}).get("epoch")
        return int(e) if e is not None else None

    def baseline_nll(self) -> float | None:
        """The corpus's n-gram held-out NLL (nats per token) the job measured at its start
        (``run.json``'s ``baseline``); None for a run from before it, or without tokens."""
        baseline = self.config.get("baseline") if self.exists else None
        return float(baseline["nll_token"]) if baseline else None

    def sample_path(self, epoch: int, suffix: str = ".mid") -> Path:
        return self.path / "samples" / f"epoch_{epoch:04d}{suffix}"

    def sample_metrics(self, epoch: int) -> dict[str, Any]:
        return _read_json(self.sample_path(epoch, ".json"), {})

    def model_card(self) -> str | None:
        p = self.path / "MODEL_CARD.md"
        return p.read_text() if p.is_file() else None


def list_runs(*roots: str | Path) -> list[Run]:
    """Runs (folders with a run.json) under the given roots, newest first."""
    runs = []
    for root in roots:
        root = Path(root)
        if root.is_dir():
            runs += [Run(p) for p in root.iterdir() if (p / "run.json").is_file()]
    return sorted(runs, key=lambda r: (r.path / "run.json").stat().st_mtime, reverse=True)


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return default
