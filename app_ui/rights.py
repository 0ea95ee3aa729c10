"""Who may change things on this server: start, stop and resume trainings, upload, delete.

- Personal use (``make run``, the default): the one person at this machine has every right.
- Demo mode (``COMPOSER_DEMO=1``): nobody has them.
- Room mode (``make room``, ``COMPOSER_ROOM=1``): the audience has none; a browser session
  opened with the presenter link (the address with ``?key=KEY``) has them all.

How the presenter holds the right:

- The key (``COMPOSER_PRESENTER_KEY``, or made at random by ``make room``) is compared in
  constant time (``hmac.compare_digest``), is never logged and never leaves the server again.
- A right key gives this Streamlit session the right (a set of session ids on the server,
  which no browser can write) and a fresh random token, set as a cookie; the server keeps only
  the token's SHA-256. A reload or another tab of that browser sends the cookie with its
  websocket, and :func:`sign_in` gives that session the right too.
- ``?key=`` leaves the address bar in the run that uses it (``st.query_params``).
- Wrong keys are limited per client address (:class:`WrongKeys`: 5 a minute), so a key cannot
  be guessed by trying.
- Streamlit's upload endpoint keeps files only from a session with the right
  (``app_ui.serve``: the audience's page has no uploader, and its direct requests are refused).

Every privileged action calls :func:`require` where it is carried out (``app_ui.training``,
``app_ui.uploads``, ``app_ui.runs``), so a hidden button is not the only thing in the way.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections import OrderedDict

from app_ui.settings import demo_mode, room_mode

log = logging.getLogger("composer_studio.app")

COOKIE = "composer_presenter"
COOKIE_MAX_AGE_S = 12 * 3600   # a day of talks; the server forgets its tokens when it stops
KEEP = 256                     # presenter sessions and tokens remembered (oldest dropped)

_lock = threading.Lock()
_sessions: OrderedDict[str, None] = OrderedDict()   # Streamlit session ids with the right
_tokens: OrderedDict[str, None] = OrderedDict()     # SHA-256 hex digests of cookie tokens
_key: str | None = None


class Refused(RuntimeError):
    """A privileged action asked for by a session without the right; says why, plainly."""


def set_presenter_key(key: str | None) -> None:
    """The key for this server process (``make room`` passes it here, not through the
    environment its training jobs inherit); ``None`` falls back to the environment."""
    global _key
    _key = key or None


def presenter_key() -> str | None:
    return _key or os.environ.get("COMPOSER_PRESENTER_KEY", "").strip() or None


def key_matches(given: str | None) -> bool:
    """``given`` is the presenter key, compared in constant time; no key set matches nothing."""
    key = presenter_key()
    if not key or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), key.encode("utf-8"))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _remember(store: OrderedDict, item: str) -> None:
    with _lock:
        store[item] = None
        store.move_to_end(item)
        while len(store) > KEEP:
            store.popitem(last=False)


def new_token() -> str:
    """A fresh cookie token; the server keeps its digest only."""
    token = secrets.token_urlsafe(32)
    _remember(_tokens, _digest(token))
    return token


def token_valid(token: str | None) -> bool:
    if not isinstance(token, str) or not token:
        return False
    digest = _digest(token)
    with _lock:
        known = list(_tokens)
    return any([hmac.compare_digest(digest, d) for d in known])


def _session_id() -> str | None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx else None


def grant(session_id: str) -> None:
    _remember(_sessions, session_id)


def session_granted(session: str | None) -> bool:
    """The Streamlit session ``session`` may train, stop, resume, upload and delete."""
    if demo_mode():
        return False
    if not room_mode():
        return True
    with _lock:
        return session is not None and session in _sessions


def granted() -> bool:
    """This browser session may train, stop, resume, upload and delete."""
    return session_granted(_session_id())


def is_presenter() -> bool:
    """Room mode, and this session holds the presenter's right."""
    return room_mode() and granted()


def require(what: str) -> None:
    """Raise :class:`Refused` unless this session may ``what`` (e.g. "start a training")."""
    if granted():
        return
    if demo_mode():
        raise Refused(f"you cannot {what} here: it is switched off in demo mode")
    raise Refused(f"only the presenter can {what}; this screen is the audience's, so listen, "
                  "compose and follow the training instead")


def sign_in() -> None:
    """Top of every run of the entry point, in room mode: take a ``?key=`` out of the address
    (granting the right when it is the key), else find the right again by the cookie."""
    if not room_mode():
        return
    import streamlit as st

    session = _session_id()
    if session is None:
        return
    if "key" in st.query_params:
        given = st.query_params.get("key")
        del st.query_params["key"]  # out of the address bar (and its history entry) at once
        wait = wrong_keys.wait_s(_client())
        if wait:
            log.warning("a presenter key was refused untried: too many wrong ones")
            st.toast(f"Too many wrong presenter links from here: try again in {wait:.0f} s.",
                     icon=":material/timer:")
            return
        if key_matches(given):
            grant(session)
            _set_cookie(new_token())
            log.info("a presenter signed in")
            st.toast("You are the presenter in this browser: training, uploads and deleting "
                     "are yours.", icon=":material/co_present:")
        else:
            wrong_keys.failed(_client())
            log.warning("a wrong presenter key was given")  # the key given is not logged
            st.toast("That presenter link is not the right one: you are in the audience.",
                     icon=":material/warning:")
        return
    with _lock:
        known = session in _sessions
    if not known and token_valid(st.context.cookies.get(COOKIE)):
        grant(session)


class WrongKeys:
    """Wrong presenter keys, counted per client address: after ``LIMIT`` within ``WINDOW_S``,
    that address's keys are not even compared until the oldest of them is ``WINDOW_S`` old (a
    guesser gets ``LIMIT`` tries a minute; the presenter's own cookie is untouched). Bounded
    memory: ``KEEP`` addresses, the least recent forgotten."""

    LIMIT, WINDOW_S, KEEP = 5, 60.0, 1024

    def __init__(self, clock=None) -> None:
        import time

        self.clock = clock or time.monotonic
        self.seen: OrderedDict[str, list[float]] = OrderedDict()

    def _recent(self, client: str) -> list[float]:
        now = self.clock()
        times = [t for t in self.seen.get(client, []) if now - t < self.WINDOW_S]
        if times:
            self.seen[client] = times
        else:
            self.seen.pop(client, None)
        return times

    def wait_s(self, client: str) -> float:
        """Seconds until ``client`` may try a key again (0: now)."""
        with _lock:
            times = self._recent(client)
        return self.WINDOW_S - (self.clock() - times[0]) if len(times) >= self.LIMIT else 0.0

    def failed(self, client: str) -> None:
        with _lock:
            times = self._recent(client)
            self.seen[client] = times + [self.clock()]
            self.seen.move_to_end(client)
            while len(self.seen) > self.KEEP:
                self.seen.popitem(last=False)


wrong_keys = WrongKeys()


def _client() -> str:
    """The browser's address as the server sees it (one bucket for all when unknown)."""
    import streamlit as st

    try:
        return str(st.context.ip_address or "unknown")
    except Exception:   # noqa: BLE001 (an older Streamlit, or outside a session)
        return "unknown"


def _set_cookie(token: str) -> None:
    import streamlit as st

    st.html(f"<script>document.cookie = '{COOKIE}={token}; path=/; max-age={COOKIE_MAX_AGE_S}; "
            "SameSite=Strict';</script>", unsafe_allow_javascript=True)
