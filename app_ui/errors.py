"""The action boundary: every button's work runs inside ``action``, so a failure becomes a plain
message with a way forward on the page (and a traceback in the server log), never a traceback
on screen.

>>> with action("Composing", hint="Try another checkpoint.") as done:
...     result = compose(...)
>>> if done.ok: show(result)
"""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

import streamlit as st

log = logging.getLogger("composer_studio.app")


class Outcome:
    """Whether the guarded block finished (``ok``) and, if not, the message shown."""

    def __init__(self) -> None:
        self.ok = True
        self.message = ""


def explain(e: BaseException) -> str:
    """One plain sentence for a person, from any exception."""
    name = type(e).__name__
    text = str(e).strip().rstrip(".")
    if isinstance(e, MemoryError):
        return "the computer ran out of memory; try a smaller corpus, model or length"
    if name == "FluidSynthUnavailable":
        return (f"{text}. Audio needs FluidSynth: install libfluidsynth3 "
                "(sudo apt-get install libfluidsynth3) and restart the app")
    if isinstance(e, FileNotFoundError):
        return text or "a file is missing"
    if isinstance(e, PermissionError):
        return f"no permission to read or write a file ({e.filename or text})"
    if isinstance(e, OSError) and getattr(e, "errno", None) == 28:
        return "the disk is full; free some space and try again"
    if isinstance(e, (ValueError, KeyError, RuntimeError, OSError)) and text:
        return text
    return f"something unexpected went wrong ({name}{': ' + text if text else ''})"


@contextlib.contextmanager
def action(what: str, hint: str | None = None) -> Iterator[Outcome]:
    """Run the block; on any error show ``what`` failed, why, and ``hint`` (the way forward)."""
    outcome = Outcome()
    try:
        yield outcome
    except Exception as e:  # Streamlit's rerun/stop signals are BaseExceptions and pass through
        log.exception("%s failed", what)
        outcome.ok = False
        outcome.message = explain(e)
        st.error(f"**{what} failed:** {outcome.message}.", icon=":material/warning:")
        if hint:
            st.info(hint, icon=":material/arrow_forward:")


@contextlib.contextmanager
def page_guard(page: str) -> Iterator[Outcome]:
    """The outermost boundary of a page: whatever slipped through still shows as a message."""
    with action(f"The {page} page", hint="Reload the page, or pick another model or corpus. "
                "If it keeps happening, the server log has the details.") as outcome:
        yield outcome
