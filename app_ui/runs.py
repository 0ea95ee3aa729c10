"""Deleting a user's run from the Gallery: the session's right (``app_ui.rights``), then
``core.training.jobs.delete_run``'s checks."""

from __future__ import annotations

from app_ui.rights import require
from app_ui.settings import demo_mode


def delete_run(run) -> None:
    from core.training import jobs

    require("delete runs")
    jobs.delete_run(run, demo=demo_mode())
