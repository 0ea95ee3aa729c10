"""Deleting a user's run from the Gallery, with the checks that keep it safe."""

from __future__ import annotations

import shutil

from app_ui.settings import demo_mode


def delete_run(run) -> None:
    """Remove a user run folder. Refuses shipped runs, active jobs, demo mode and stray paths."""
    from core import jobs
    from core.paths import user_runs_dir
    from core.runs import STATES_ACTIVE

    if demo_mode():
        raise ValueError("deleting is switched off in demo mode")
    if run.shipped:
        raise ValueError("gallery runs that ship with the app cannot be deleted")
    if jobs.state(run) in STATES_ACTIVE:
        raise ValueError("this run is still training; stop it on the Train page first")
    root = user_runs_dir().resolve()
    path = run.path.resolve()
    if path.parent != root:
        raise ValueError(f"{run.name} is not in your runs folder ({root}); delete it by hand")
    shutil.rmtree(path)
