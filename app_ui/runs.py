"""Deleting a user's run from the Gallery (the checks are ``core.training.jobs.delete_run``'s)."""

from __future__ import annotations

from app_ui.settings import demo_mode


def delete_run(run) -> None:
    from core.training import jobs

    jobs.delete_run(run, demo=demo_mode())
