"""Home's Compose, served from pieces composed ahead (``core.pool.ReadyPool``).

One pool per run per server process, shared by every visitor; each piece goes to exactly one
visitor. :func:`start` warms the model, the synthesizer and the pool when the server starts
(``app_ui.serve``), so the first visitor does not wait for them either.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from pathlib import Path
from typing import Iterator

import streamlit as st

from app_ui.music import compose, default_run, warm_up
from app_ui.settings import ready_pieces
from core.compose import Composition
from core.pool import ReadyPool

log = logging.getLogger("composer_studio.app")

# What one press of Compose on Home asks for: about a second of CPU for a fresh piece.
HOME_OPTIONS = dict(seconds=15, length=1024, temperature=1.0, top_k=20, anti_loop=0.5,
                    stereo=False, metrics=True)


def _compose_home(run_dir: str) -> Composition:
    return compose(run_dir, **HOME_OPTIONS)[0]


#: Every pool made in this process (Streamlit's cache holds them; serving() holds them off).
_POOLS: weakref.WeakSet[ReadyPool] = weakref.WeakSet()


@st.cache_resource(show_spinner=False)
def _pool(run_dir: str, size: int) -> ReadyPool[Composition]:
    pool = ReadyPool(lambda: _compose_home(run_dir), size, name=f"ready {Path(run_dir).name}")
    _POOLS.add(pool)
    return pool


def _home_pool(run_dir: str | Path) -> ReadyPool[Composition] | None:
    """The run's pool, or ``None`` when ``COMPOSER_READY_PIECES`` is 0 (compose at the press)."""
    size = ready_pieces()
    return _pool(str(run_dir), size) if size else None


def home_piece(run_dir: str | Path) -> Composition:
    """A fresh Home piece by the run in ``run_dir`` that no other visitor gets."""
    pool = _home_pool(run_dir)
    return pool.take() if pool else _compose_home(str(run_dir))


@contextlib.contextmanager
def serving() -> Iterator[None]:
    """Around every visitor's page run, whichever the page (``streamlit_app.py``): the pools
    made so far make nothing ahead until it ends, so they never compete with a visitor for the
    CPU. (It makes no pool: Home and the start-up warm-up do.)"""
    with contextlib.ExitStack() as held:
        for pool in list(_POOLS):
            held.enter_context(pool.busy())
        yield


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
