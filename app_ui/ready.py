"""Home's Compose, served from pieces composed ahead (``core.generation.pool.ReadyPool``).

One pool per run per server process, shared by every visitor; each piece goes to exactly one
visitor. :func:`start` warms the model, the synthesizer and the pool when the server starts
(``app_ui.serve``), so the first visitor does not wait for them either.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import streamlit as st

from app_ui.music import compose, default_run, warm_up
from app_ui.settings import ready_pieces
from core.generation.compose import Composition
from core.generation.pool import ReadyPool

log = logging.getLogger("composer_studio.app")

# What one press of Compose on Home asks for: about a second of CPU for a fresh piece.
HOME_OPTIONS = dict(seconds=15, length=1024, temperature=1.0, top_k=20, anti_loop=0.5,
                    stereo=False, metrics=True)


def _compose_home(run_dir: str) -> Composition:
    return compose(run_dir, **HOME_OPTIONS)[0]


@st.cache_resource(show_spinner=False)
def _pool(run_dir: str, size: int) -> ReadyPool[Composition]:
    return ReadyPool(lambda: _compose_home(run_dir), size, name=f"ready {Path(run_dir).name}")


def _home_pool(run_dir: str | Path) -> ReadyPool[Composition] | None:
    """The run's pool, or ``None`` when ``COMPOSER_READY_PIECES`` is 0 (compose at the press)."""
    size = ready_pieces()
    return _pool(str(run_dir), size) if size else None


def home_piece(run_dir: str | Path) -> Composition:
    """A fresh Home piece by the run in ``run_dir`` that no other visitor gets."""
    pool = _home_pool(run_dir)
    return pool.take() if pool else _compose_home(str(run_dir))


def start() -> threading.Thread:
    """In the background: warm the default model and the synthesizer, then fill Home's pool."""
    def work() -> None:
        run = default_run()
        if run is None:
            return
        try:
            warm_up(str(run.path))
        except Exception:  # e.g. no soundfont: the first Compose says why, on the page
            log.exception("warming up %s failed", run.name)
        _home_pool(run.path)
        log.info("warm: %s", run.name)

    thread = threading.Thread(target=work, name="warm-up", daemon=True)
    thread.start()
    return thread
