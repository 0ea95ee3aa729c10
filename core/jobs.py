"""A small job manager: training jobs as separate processes that outlive the app.

A job is ``python -m core train ... --run-dir RUN`` started in its own session, with its output
in ``RUN/train.log``. Everything about it is read back from the run folder, so a reloaded app
(or another process) sees the same jobs. One training runs at a time per device; the others
wait in state ``queued`` (see ``core.train._device_slot``).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from core import atomic
from core.paths import PROJECT_ROOT, user_runs_dir
from core.runs import STATES_ACTIVE, Run
from core.train import TrainSpec

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


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
    """Launch a training process for ``spec`` (or resume ``run_dir``); returns at once."""
    spec.validate()
    run = Run(run_dir or new_run_dir(spec))
    if run.shipped:
        raise ValueError("shipped gallery runs are read-only; train a new run instead")
    if resume and not run.exists:
        raise ValueError(f"{run.path} has no run to resume")
    if not resume and run.exists:
        raise ValueError(f"{run.path} already holds a run")
    run.path.mkdir(parents=True, exist_ok=True)
    run.clear_stop_request()
    run.write_status(state="queued", epoch=run.status.get("epoch", 0), epochs=spec.epochs,
                     message="starting", pid=None)
    cmd = [sys.executable, "-m", "core", "train", "--run-dir", str(run.path), *_spec_args(spec)]
    if resume:
        cmd.append("--resume")
    atomic.write_json(run.path / "job.json", {"command": cmd, "started": time.time()})
    with open(run.path / "train.log", "ab") as log:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    run.write_status(pid=proc.pid)
    return run


def _spec_args(spec: TrainSpec) -> list[str]:
    args = []
    for key, value in spec.to_dict().items():
        if isinstance(value, list):
            value = ",".join(map(str, value))
        if value is not None:
            args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def resume(run_dir: str | Path, epochs: int | None = None) -> Run:
    """Continue a stopped (or failed after a checkpoint) run from its latest checkpoint."""
    run = Run(run_dir)
    if not run.exists:
        raise ValueError(f"{run.path} has no run to resume")
    spec = TrainSpec.from_dict(run.config["spec"])
    if epochs:
        spec.epochs = epochs
    return start(spec, run.path, resume=True)


def state(run: Run) -> str:
    """The run's state, with ``interrupted`` for a job whose process died without saying so."""
    status = run.status
    st = status.get("state", "unknown")
    if st in STATES_ACTIVE and not _alive(status.get("pid")):
        # a job that was just launched may not have written its pid yet
        if time.time() - float(status.get("updated", 0)) > 10:
            return "interrupted"
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


# --- command line --------------------------------------------------------------------------
def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="list or stop background training jobs")
    jsub = p.add_subparsers(dest="jobs_command", required=True)
    ls = jsub.add_parser("list", help="list training jobs and their state")
    ls.add_argument("--root", type=Path, help="runs folder (default: the user data folder)")
    ls.set_defaults(func=_cli_list)
    st = jsub.add_parser("stop", help="ask a running job to save and stop")
    st.add_argument("run_dir")
    st.add_argument("--wait", type=float, default=60.0, help="seconds to wait for it (default 60)")
    st.set_defaults(func=_cli_stop)


def _cli_list(args: argparse.Namespace) -> int:
    for run, st in list_jobs(args.root):
        s = run.status
        print(f"{st:12s} epoch {s.get('epoch', 0)}/{s.get('epochs', '?'):<4} {run.path}  {s.get('message', '')}")
    return 0


def _cli_stop(args: argparse.Namespace) -> int:
    run = stop(args.run_dir, wait=args.wait)
    print(f"{state(run)}: {run.path}")
    return 0


__all__ = ["start", "resume", "stop", "state", "list_jobs", "active_jobs", "new_run_dir"]
