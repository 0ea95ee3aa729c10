"""``core.generation.pool.ReadyPool``: results made ahead while idle, each handed out once."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from core.generation.pool import ReadyPool, all_busy


class Counter:
    """``make``: numbered results, with the time each was made; optionally slow or failing."""

    def __init__(self, seconds: float = 0.0, fail_first: int = 0) -> None:
        self.numbers = itertools.count()
        self.lock = threading.Lock()
        self.made_at: list[float] = []
        self.seconds, self.fail_first = seconds, fail_first

    def __call__(self) -> int:
        time.sleep(self.seconds)
        with self.lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                raise RuntimeError("no soundfont")
            self.made_at.append(time.monotonic())
            return next(self.numbers)


def test_the_pool_fills_ahead_and_every_result_goes_to_one_taker():
    make = Counter()
    pool = ReadyPool(make, size=20, idle_s=5.0)
    try:
        assert pool.wait_full(10)
        taken: list[int] = []
        lock = threading.Lock()

        def visitor() -> None:
            item = pool.take()
            with lock:
                taken.append(item)

        visitors = [threading.Thread(target=visitor) for _ in range(30)]  # more than it holds
        for v in visitors:
            v.start()
        for v in visitors:
            v.join()
        assert len(taken) == 30 and len(set(taken)) == 30  # nobody got another's result
        assert pool.made_now == 10  # it held 20 and stays out of a burst: the rest made on the spot
    finally:
        pool.close()


def test_the_filler_waits_while_visitors_are_being_served():
    make = Counter()
    pool = ReadyPool(make, size=4, idle_s=0.5)
    try:
        assert pool.wait_full(10)
        for _ in range(4):
            pool.take()
        last_take = time.monotonic()
        assert pool.wait_full(10)
        ahead = make.made_at[-4:]
        assert min(ahead) - last_take >= 0.45  # nothing made ahead until the visitors were gone
        assert pool.made_ahead == 8 and pool.made_now == 0
    finally:
        pool.close()


def test_nothing_is_made_ahead_while_a_visitor_is_being_served():
    make = Counter()
    pool = ReadyPool(make, size=2, idle_s=0.2)
    try:
        assert pool.wait_full(10)
        with pool.busy():
            pool.take()
            time.sleep(0.6)              # three times idle_s, but a visitor is still served
            assert len(make.made_at) == 2
        ended = time.monotonic()
        assert pool.wait_full(10) and make.made_at[2] - ended >= 0.15
    finally:
        pool.close()


def test_an_empty_pool_makes_one_on_the_spot():
    pool = ReadyPool(Counter(seconds=1.0), size=1)
    try:
        assert isinstance(pool.take(), int)  # asked before the filler's first result is ready
        assert pool.made_now == 1
    finally:
        pool.close()


def test_a_failing_make_reaches_the_visitor_with_its_message():
    pool = ReadyPool(Counter(fail_first=99), size=1)
    try:
        with pytest.raises(RuntimeError, match="no soundfont"):
            pool.take()
        assert len(pool) == 0
    finally:
        pool.close()


def test_a_pool_of_nothing_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        ReadyPool(Counter(), size=0)


def test_all_busy_holds_off_every_pool_of_the_process():
    """What ``streamlit_app.py`` wraps every page run in."""
    pools = [ReadyPool(object, size=1, idle_s=0.05) for _ in range(2)]
    try:
        assert all(pool.wait_full(5) for pool in pools)
        with all_busy():
            for pool in pools:
                pool.take()
            time.sleep(0.5)
            assert [len(pool) for pool in pools] == [0, 0]  # a visitor is served: nothing made
        assert all(pool.wait_full(5) for pool in pools)
    finally:
        for pool in pools:
            pool.close()
