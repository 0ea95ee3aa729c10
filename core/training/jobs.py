"""A small job manager: training jobs as separate processes that outlive the app.

A job is ``python -m core train ... --run-dir RUN`` started in its own session, with its output
in ``RUN/train.log``. Everything about it is read back from the run folder, so a reloaded app
(or another process) sees the same jobs. One training runs at a time per device; the others
wait in state ``queued`` (see ``core.training.train._device_slot``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from core import atomic
from core.training import device
from core.encodings import encoding_names, encoding_reads
from core.models.config import check_pairing
from core.paths import PROJECT_ROOT, user_runs_dir
from core.runs import STATES_ACTIVE, Run, RunState
from core.settings import TrainSpec, to_args

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
JOB_NICE = 10  # a training job's niceness above the server's (lower CPU priority)


def new_run_dir(spec: TrainSpec, root: Path | None = None) -> Path:
    """A fresh, unused folder name like ``bach-chorales-studio-events-20261121-153000``."""
    root = root or user_runs_dir()
    stem = _SAFE_NAME.sub("-", f"{Path(spec.corpus).name}-{spec.preset}-{spec.encoding}").strip("-")
    stem = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = root / stem, 1
    while path.exists():
        n += 1
        path = root / f"{stem}-{n}"
    return path


def start(spec: TrainSpec, run_dir: str | Path | None = None, *, resume: bool = False) -> Run:
    """Launch a training process for ``spec`` (or resume ``run_dir``); returns at once.
    Settings out of range and a preset with an encoding it cannot read are refused here, before
    a process starts."""
    spec.validate()
    if spec.encoding in encoding_names():
        check_pairing(spec.preset, spec.encoding, encoding_reads(spec.encoding))
    run = Run(run_dir or new_run_dir(spec))
    if run.shipped:
        raise ValueError("shipped gallery runs are read-only; train a new run instead")
    if resume and not run.exists:
        raise ValueError(f"{run.path} has no run to resume")
    if not resume and run.exists:
        raise ValueError(f"{run.path} already holds a run")
    run.path.mkdir(parents=True, exist_ok=True)
    run.clear_stop_request()
    run.write_status(state=RunState.QUEUED, epoch=run.status.get("epoch", 0), epochs=spec.epoch_limit,
                     budget_s=spec.budget_s,
                     message="starting", pid=None)
    cmd = [sys.executable, "-m", "core", "train", "--run-dir", str(run.path), *to_args(spec)]
    if resume:
        cmd.append("--resume")
    atomic.write_json(run.path / "job.json", {"command": cmd, "started": time.time()})
    with open(run.path / "train.log", "ab") as log:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    with contextlib.suppress(ProcessLookupError):  # set before it starts threads: they inherit it
        os.setpriority(os.PRIO_PROCESS, proc.pid, min(19, os.nice(0) + JOB_NICE))
    run.write_status(pid=proc.pid)
    return run


def resume(run_dir: str | Path, epochs: int | None = None, minutes: float | None = None) -> Run:
    """Continue a stopped (or failed after a checkpoint) run from its latest checkpoint: up to
    epoch ``epochs``, or for ``minutes`` more, or (neither given) as the run was asked to."""
    run = Run(run_dir)
    if not run.exists:
        raise ValueError(f"{run.path} has no run to resume")
    spec = TrainSpec.from_dict(run.config["spec"])
    if epochs or minutes:
        spec.epochs, spec.minutes = epochs, minutes
    return start(spec, run.path, resume=True)


def state(run: Run) -> str:
    """The run's state, with ``interrupted`` for a job whose process died without saying so."""
    status = run.status
    st = status.get("state", "unknown")
    if st in STATES_ACTIVE and not _alive(status.get("pid")):
        # a job that was just launched may not have written its pid yet
        if time.time() - float(status.get("updated", 0)) > 10:
            return RunState.INTERRUPTED
    return st


def _alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    # a zombie (our own finished child not yet reaped) counts as dead
    try:
        return Path(f"/proc/{int(pid)}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True


def stop(run_dir: str | Path, wait: float = 0.0) -> Run:
    """Ask a job to stop: it saves a checkpoint after the current batch and ends ``stopped``."""
    run = Run(run_dir)
    run.request_stop()
    pid = run.status.get("pid")
    if _alive(pid):
        try:
            os.kill(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + wait
    while wait and time.time() < deadline and state(run) in STATES_ACTIVE:
        time.sleep(0.2)
    return run


def list_jobs(root: Path | None = None) -> list[tuple[Run, str]]:
    """Every run folder under the user runs root (with or without run.json) and its state."""
    root = root or user_runs_dir()
    runs = [Run(p) for p in root.iterdir() if (p / "status.json").is_file()] if root.is_dir() else []
    runs.sort(key=lambda r: (r.path / "status.json").stat().st_mtime, reverse=True)
    return [(r, state(r)) for r in runs]


def active_jobs(root: Path | None = None) -> list[Run]:
    return [r for r, st in list_jobs(root) if st in STATES_ACTIVE]


def delete_run(run: Run, *, demo: bool = False) -> None:
    """Remove a user run folder. Refuses shipped runs, active jobs, demo mode and any folder
    outside the user runs folder."""
    if demo:
        raise ValueError("deleting is switched off in demo mode")
    if run.shipped:
        raise ValueError("gallery runs that ship with the app cannot be deleted")
    if state(run) in STATES_ACTIVE:
        raise ValueError("this run is still training; stop it on the Train page first")
    root = user_runs_dir().resolve()
    if run.path.resolve().parent != root:
        raise ValueError(f"{run.name} is not in your runs folder ({root}); delete it by hand")
    shutil.rmtree(run.path.resolve())


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


@dataclass
class JobSummary:
    """What the Train page shows of one job, read from its folder."""

    state: RunState
    epoch: int            # finished epochs
    epochs: int           # asked for
    batch: int
    batches: int
    progress: float       # 0..1, within the epoch too while running
    progress_text: str
    loss: float | None    # the latest batch's
    tokens_per_s: float | None
    eta_s: float | None
    device: str           # "GPU" or "CPU"
    device_name: str      # "1 x NVIDIA H200", "2 workers × CPU (2 cores)"
    workers: int          # machines (or local workers) of a multi-worker job; 1 otherwise
    can_resume: bool
    resume_label: str     # "Resume" (not finished yet) or "Train more"

    @property
    def active(self) -> bool:
        return self.state in STATES_ACTIVE


def summary(run: Run) -> JobSummary:
    """The job's state, progress and numbers, and whether (and how) it can be resumed: from its
    latest checkpoint, once it is no longer active."""
    st = RunState(state(run))
    status, rows = run.status, run.history()
    epochs = int(status.get("epochs") or run.config.get("spec", {}).get("epochs") or 1)
    epoch = int(status.get("epoch") or 0)
    batches, batch = int(status.get("batches") or 0), int(status.get("batch") or 0)
    running = st == RunState.RUNNING and batches > 0
    budget, elapsed = status.get("budget_s"), float(status.get("elapsed_s") or 0)
    if budget:   # a time budget: progress is time, and an epoch is as long as it takes
        progress = 1.0 if st == RunState.FINISHED else min(elapsed / float(budget), 1.0)
        text = f"{_clock(elapsed)} of {_clock(float(budget))} · epoch {epoch + (st == RunState.RUNNING)}"
        epochs = max(epoch, 1) if st == RunState.FINISHED else epochs
    else:
        progress = min((epoch + (batch / batches if running else 0)) / epochs, 1.0)
        text = f"epoch {min(epoch + (st == RunState.RUNNING), epochs)} of {epochs}"
    if running:
        text += f" · batch {batch}/{batches}"
    name = str(status.get("device") or run.config.get("device") or "unknown")
    loss = status.get("loss")
    return JobSummary(
        state=st, epoch=epoch, epochs=epochs, batch=batch, batches=batches, progress=progress,
        progress_text=text, loss=float(loss) if isinstance(loss, (int, float)) else None,
        tokens_per_s=rows[-1].get("tokens_per_s") if rows else None,
        eta_s=status.get("eta_s") if st in STATES_ACTIVE else None,
        device=device.kind_of(name), device_name=name, workers=device.workers_of(name),
        can_resume=st in (RunState.STOPPED, RunState.INTERRUPTED, RunState.FAILED,
                          RunState.FINISHED) and bool(run.epochs()) and run.exists,
        resume_label="Resume" if epoch < epochs and st != RunState.FINISHED else "Train more")
