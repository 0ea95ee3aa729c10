"""Results made ahead while nobody is waiting, each handed out once.

A room of phones pressing Compose together would otherwise queue for the CPU: one sampling
and one FluidSynth render after another, so the twentieth visitor waits for nineteen pieces.
A :class:`ReadyPool` keeps up to ``size`` fresh results of one recipe. :meth:`ReadyPool.take`
hands over the oldest ready one (each to exactly one caller) or, when none is ready, makes one
on the spot. A filler thread tops the pool up, but only while nobody is being served (no
:meth:`ReadyPool.busy` block is running) and ``idle_s`` seconds have passed since the last
``take`` or ``busy`` block ended, so it does not compete with visitors for the CPU.

Nothing here knows about music: ``make`` is any function of no arguments that returns a new,
independent result each call (a fresh random seed each time).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
import weakref
from typing import Callable, Generic, Iterator, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds the filler waits after ``make`` fails before it tries again.
RETRY_AFTER_S = 30.0

_LIVE: weakref.WeakSet[ReadyPool] = weakref.WeakSet()  # every pool of this process


@contextlib.contextmanager
def all_busy() -> Iterator[None]:
    """:meth:`ReadyPool.busy` on every pool of this process at once (e.g. around any visitor's
    page run, whichever page it is)."""
    with contextlib.ExitStack() as held:
        for pool in list(_LIVE):
            held.enter_context(pool.busy())
        yield


class ReadyPool(Generic[T]):
    """Up to ``size`` results of ``make``, made in a background thread while idle."""

    def __init__(self, make: Callable[[], T], size: int, *, idle_s: float = 1.0,
                 name: str = "ready-pool") -> None:
        if size < 1:
            raise ValueError(f"a pool holds at least one result, not {size}")
        self._make, self.size, self.idle_s = make, int(size), float(idle_s)
        self._ready: collections.deque[T] = collections.deque()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a take, or close
        self._last_take = float("-inf")
        self._busy = 0        # visitors being served now
        self._closed = False
        self.made_ahead = 0   # results the filler made
        self.made_now = 0     # results made on the spot because none was ready
        self._thread = threading.Thread(target=self._fill, name=name, daemon=True)
        self._thread.start()
        _LIVE.add(self)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ready)

    def take(self) -> T:
        """A result nobody else gets: a ready one, or one made now."""
        with self._lock:
            self._last_take = time.monotonic()
            item = self._ready.popleft() if self._ready else None
            if item is None:
                self.made_now += 1
            self._changed.notify_all()
        return self._make() if item is None else item

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """While the block runs (a visitor is being served), the filler makes nothing."""
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                self._last_take = time.monotonic()
                self._changed.notify_all()

    def wait_full(self, timeout: float) -> bool:
        """Block until the pool is full (``True``) or ``timeout`` seconds pass (``False``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self) >= self.size:
                return True
            time.sleep(0.05)
        return len(self) >= self.size

    def close(self) -> None:
        """Stop the filler (results already made stay takeable)."""
        with self._lock:
            self._closed = True
            self._changed.notify_all()
        self._thread.join(timeout=60)

    def _fill(self) -> None:
        while True:
            with self._lock:   # wait (the lock released) until there is a result to make
                while not self._closed:
                    if len(self._ready) >= self.size or self._busy:  # full, or serving
                        self._changed.wait()
                        continue
                    quiet_in = self._last_take + self.idle_s - time.monotonic()
                    if quiet_in <= 0:
                        break
                    self._changed.wait(quiet_in)           # visitors are being served
                if self._closed:
                    return
            try:
                item = self._make()
            except Exception:  # e.g. no soundfont: the visitor's own take() says why
                log.exception("making a result ahead failed; retrying in %.0f s", RETRY_AFTER_S)
                with self._lock:
                    self._changed.wait_for(lambda: self._closed, RETRY_AFTER_S)
                continue
            with self._lock:
                self._ready.append(item)
                self.made_ahead += 1
