"""Starting, stopping and resuming training jobs from the Train page: the session's right first
(``app_ui.rights``), then ``core.training.jobs``, which owns the jobs."""

from __future__ import annotations

from pathlib import Path

from app_ui.rights import require


def start(spec):
    from core.training import jobs

    require("start a training")
    return jobs.start(spec)


def stop(run_dir: str | Path):
    from core.training import jobs

    require("stop a training")
    return jobs.stop(run_dir)


def resume(run_dir: str | Path, epochs: int | None = None):
    from core.training import jobs

    require("resume a training")
    return jobs.resume(run_dir, epochs=epochs)
