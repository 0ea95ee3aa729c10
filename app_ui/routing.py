"""Every page runs through the entry point, even when Streamlit starts it on its own.

A fresh Streamlit server that finds a ``pages/`` folder next to the entry point runs the first
request for a deep link (``/gallery``, a QR code to ``/generate``) the old way: that page file
alone, with a sidebar of raw file names and none of ``streamlit_app.py``'s settings. So
``streamlit_app.py`` marks each run it routes (:func:`routing`), and every page starts with
:func:`routed_page`, which, when the mark is missing, runs the entry point in its place (its
``st.navigation`` then picks this same page by the URL) and stops the unrouted run.

A script run happens on one thread from start to end, so the mark is thread-local; the page
consumes it, and it is cleared when the routed run ends however it ends, so it never outlives
the run that set it.
"""

from __future__ import annotations

import contextlib
import runpy
import threading
from pathlib import Path
from typing import Iterator

import streamlit as st

ENTRY_POINT = Path(__file__).resolve().parent.parent / "streamlit_app.py"

_run = threading.local()


@contextlib.contextmanager
def routing() -> Iterator[None]:
    """Around the entry point's ``st.navigation(...).run()``: the page run inside was routed."""
    _run.routed = True
    try:
        yield
    finally:
        _run.routed = False


def routed_page() -> None:
    """First line of every page: run the entry point instead when it was skipped."""
    if getattr(_run, "routed", False):
        _run.routed = False
        return
    runpy.run_path(str(ENTRY_POINT), run_name="__main__")
    st.stop()
