"""App settings read from the environment (all optional).

- ``COMPOSER_DEMO=1``: demo mode for a public screen: no training, no uploads, no deletion,
  large controls.
- ``COMPOSER_ROOM=1``: room mode (``make room`` sets it): everyone is audience (what demo mode
  allows) except browser sessions opened with the presenter link (``app_ui.rights``).
- ``COMPOSER_PRESENTER_KEY``: the presenter key in room mode (``make room`` makes a random one
  when it is unset).
- ``COMPOSER_RUNS_ROOTS``: extra folders holding run folders, separated by ``os.pathsep``
  (``:``), shown before the shipped gallery and the user's runs.
- ``COMPOSER_UPLOAD_MB``: the most MIDI a person may upload at once, in MB (default 50).
- ``COMPOSER_READY_PIECES``: how many Home pieces the server keeps composed ahead for the next
  visitors who press Compose (default 24, enough for a room pressing at once; 0 turns it off).
- ``COMPOSER_DATA``: the user data folder (runs, caches); see ``core.paths``.
"""

from __future__ import annotations

import os
from pathlib import Path

TRUE = {"1", "true", "yes", "on"}


def demo_mode() -> bool:
    return os.environ.get("COMPOSER_DEMO", "").strip().lower() in TRUE


def room_mode() -> bool:
    return os.environ.get("COMPOSER_ROOM", "").strip().lower() in TRUE


def upload_limit_mb() -> float:
    try:
        return max(0.1, float(os.environ.get("COMPOSER_UPLOAD_MB", "50")))
    except ValueError:
        return 50.0


def ready_pieces() -> int:
    try:
        return max(0, int(os.environ.get("COMPOSER_READY_PIECES", "24")))
    except ValueError:
        return 24


def run_roots() -> list[Path]:
    """Every folder the Gallery and Generate pages look for runs in, without duplicates."""
    from core.paths import SHIPPED_RUNS, user_runs_dir

    extra = [Path(p) for p in os.environ.get("COMPOSER_RUNS_ROOTS", "").split(os.pathsep) if p.strip()]
    roots, seen = [], set()
    for root in [*extra, SHIPPED_RUNS, user_runs_dir()]:
        key = str(Path(root).resolve())
        if key not in seen:
            seen.add(key)
            roots.append(Path(root))
    return roots
