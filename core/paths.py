"""Where things live on disk.

- ``PROJECT_ROOT/checkpoints``: the shipped gallery runs (read-only in the app).
- ``data_dir()``: user runs, corpus cache, uploads. ``$COMPOSER_DATA`` or ``~/.composer-studio``.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_RUNS = PROJECT_ROOT / "checkpoints"
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def data_dir() -> Path:
    """The writable data folder (user runs, caches). Created on first use."""
    root = Path(os.environ.get("COMPOSER_DATA") or Path.home() / ".composer-studio")
    root.mkdir(parents=True, exist_ok=True)
    return root


def user_runs_dir() -> Path:
    d = data_dir() / "runs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def cache_dir() -> Path:
    d = data_dir() / "cache"
    d.mkdir(parents=True, exist_ok=True)
    return d
