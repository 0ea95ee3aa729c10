"""Parse files in worker processes that a hostile file can neither hang nor exhaust.

Each worker limits its own address space (``RLIMIT_AS``) when it starts; the parent gives each
job a deadline and kills the worker that misses it, then starts a fresh one for the jobs left.
A job that raises :class:`Unusable` or any other error, runs out of memory, crashes its
worker or times out becomes a ``(label, reason)`` skip entry; the other jobs carry on. Every
result says whether it is *settled*: the same input would give it again (worth caching), which
timeouts, crashes and running out of memory are not.

Workers come from a ``forkserver`` (``spawn`` where there is none): a clean process that
never imported TensorFlow, with ``core.corpus`` and ``pretty_midi`` preloaded, so starting a
worker is a cheap fork. As with any multiprocessing code, a script that loads a corpus must
keep its top-level work under ``if __name__ == "__main__":``.

Jobs go to workers pickled (the parent is trusted); results come back as
:mod:`~core.corpus.store` arrays and JSON, never pickled, so even a compromised parser cannot
hand the parent an object to unpickle.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterator

from core.corpus import store
from core.piece import Piece

try:
    import resource
except ImportError:  # Windows: no address-space limit, timeouts still apply
    resource = None

#: Largest result a worker may send back (bytes); a bigger one counts as a failed parse.
MAX_RESULT_BYTES = 512 * 2**20
#: Seconds a worker gets to exit after being asked to, before it is killed.
_EXIT_GRACE_S = 2.0

Outcome = tuple[list[Piece], store.Skipped]


class Unusable(Exception):
    """Raised by a job for a file that parsed but cannot be used; the message is the reason."""


@dataclass(frozen=True)
class Job:
    """``fn(*args)`` run in a worker; returns ``(pieces, skipped)``. ``label`` names the file.

    ``cost`` is the job's relative size (e.g. bytes): bigger jobs start first, so that one
    large file does not finish alone at the end.
    """

    label: str
    fn: Callable[..., Outcome]
    args: tuple
    timeout_s: float
    cost: float = 0.0


@dataclass(frozen=True)
class Result:
    """What one job gave: ``jobs[index]`` produced ``pieces`` and ``skipped``."""

    index: int
    pieces: list[Piece]
    skipped: store.Skipped
    settled: bool  # False after a timeout, crash or memory error: worth trying again later


def run_jobs(jobs: list[Job], *, memory_bytes: int, workers: int | None = None) -> Iterator[Result]:
    """Run ``jobs`` in parallel and yield a :class:`Result` as each one finishes.

    ``memory_bytes`` is how far each worker may grow its address space; ``workers`` defaults
    to ``os.cpu_count()`` (never more than there are jobs). Closing the iterator early stops
    every worker.
    """
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    # popped from the end: the costliest job first, then the earliest
    pending = sorted(enumerate(jobs), key=lambda ij: (ij[1].cost, -ij[0]))
    idle: list[_Worker] = []
    busy: dict[Connection, tuple[_Worker, int, float]] = {}  # conn -> worker, job, deadline
    try:
        while pending or busy:
            while pending and len(busy) < n_workers:
                worker = idle.pop() if idle else _Worker(memory_bytes)
                index, job = pending.pop()
                busy[worker.conn] = (worker, index, time.monotonic() + job.timeout_s)
                worker.send(job)
            timeout = max(0.0, min(d for _, _, d in busy.values()) - time.monotonic())
            ready = wait(list(busy), timeout)
            now = time.monotonic()
            for conn, (worker, index, deadline) in list(busy.items()):
                if deadline <= now:  # late counts as timed out, even if the answer is in
                    del busy[conn]
                    worker.kill()
                    yield _timed_out(index, jobs[index])
                elif conn in ready:
                    del busy[conn]
                    result = worker.receive(index, jobs[index].label)
                    if worker.alive:
                        idle.append(worker)
                    yield result
    finally:
        for worker in idle:
            worker.stop()
        for worker, _, _ in busy.values():
            worker.kill()


def _timed_out(index: int, job: Job) -> Result:
    return Result(index, [], [(job.label, f"timed out (over {job.timeout_s:g} s)")], False)


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, memory_bytes: int) -> None:
        self.conn, child_conn = _context().Pipe(duplex=True)
        self.process = _context().Process(target=_serve, args=(child_conn, memory_bytes),
                                          daemon=True)
        self.process.start()
        child_conn.close()  # so the parent sees EOF when the worker dies
        self.alive = True

    def send(self, job: Job) -> None:
        try:
            self.conn.send((job.fn, job.args))
        except OSError:
            pass  # the worker is gone; receive() reports it as a crash

    def receive(self, index: int, label: str) -> Result:
        """Job ``index``'s result; a dead or misbehaving worker becomes a skip reason."""
        try:
            doc = json.loads(self.conn.recv_bytes(MAX_RESULT_BYTES))
            pieces, skipped = store.unpack(self.conn.recv_bytes(MAX_RESULT_BYTES), doc)
        except (EOFError, OSError, ValueError, KeyError, TypeError):
            self.kill()
            return Result(index, [], [(label, "the parser crashed (out of memory or a corrupt "
                                              "file)")], False)
        skipped = [(f or label, r) for f, r in skipped]  # the worker leaves the label blank
        return Result(index, pieces, skipped, doc.get("settled") is True)

    def kill(self) -> None:
        self.alive = False
        self.process.kill()
        self.process.join()
        self.conn.close()

    def stop(self) -> None:
        """Ask the worker to exit; kill it if it does not."""
        if self.alive:
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(_EXIT_GRACE_S)
        self.kill()


def _serve(conn: Connection, memory_bytes: int) -> None:
    """Worker main loop: run ``(fn, args)`` messages until ``None``, reply with packed results."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _limit_address_space(memory_bytes)
    while (message := conn.recv()) is not None:
        fn, args = message
        (pieces, skipped), settled = _outcome(fn, args, memory_bytes)
        npz, doc = store.pack(pieces, skipped)
        doc["settled"] = settled
        conn.send_bytes(json.dumps(doc).encode("utf-8"))
        conn.send_bytes(npz)


def _outcome(fn: Callable[..., Outcome], args: tuple, memory_bytes: int) -> tuple[Outcome, bool]:
    """``(fn(*args), settled)``, every failure turned into one skip entry (label left blank)."""
    try:
        pieces, skipped = fn(*args)
        return (list(pieces), list(skipped)), True
    except Unusable as e:
        return ([], [("", str(e))]), True
    except MemoryError:
        return ([], [("", f"out of memory (over {memory_bytes / 2**20:.0f} MB)")]), False
    except Exception as e:  # a parser bug on one file must not stop the corpus
        return ([], [("", f"could not parse ({type(e).__name__}: {e})")]), True


def _limit_address_space(extra_bytes: int) -> None:
    """Cap this process's address space at its current size plus ``extra_bytes``."""
    if resource is None:
        return
    try:
        with open("/proc/self/statm") as f:
            current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        current = 0
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = current + extra_bytes
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


_CONTEXT: Any = None


def _context() -> Any:
    """The multiprocessing context for workers (created once per process)."""
    global _CONTEXT
    if _CONTEXT is None:
        if "forkserver" in mp.get_all_start_methods():
            _CONTEXT = mp.get_context("forkserver")
            # "__main__" as in multiprocessing's default: imported once by the server, not
            # again by every worker (so, as always with multiprocessing, guard your script)
            _CONTEXT.set_forkserver_preload(["__main__", "core.corpus", "pretty_midi"])
        else:
            _CONTEXT = mp.get_context("spawn")
    return _CONTEXT
