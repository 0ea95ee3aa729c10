"""Who trains together: the cluster of a multi-worker job, and a local one for trying it.

TensorFlow's standard way: every worker runs the *same* command with its own ``TF_CONFIG``::

    TF_CONFIG='{"cluster": {"worker": ["host-a:12345", "host-b:12345"]},
                "task": {"type": "worker", "index": 0}}'

Worker 0 is the chief (or the one ``"chief"`` task, when the cluster names one): it alone writes
the run folder. :func:`from_env` reads ``TF_CONFIG`` (no ``TF_CONFIG``, or one worker: a plain
single-process job). :func:`run_local` starts N workers of one command on this machine, on free
localhost ports, and waits for them (``python -m core train ... --local-workers N``). Plain
Python, no TensorFlow: the strategy itself is made in ``core.training.distributed``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from core.paths import PROJECT_ROOT

GRACE_S = 20.0   # after one worker fails, how long the others get to end before they are killed


@dataclass(frozen=True)
class Cluster:
    """The workers' addresses (chief first) and this process's place among them."""

    addresses: tuple[str, ...] = ()
    index: int = 0

    @property
    def workers(self) -> int:
        return max(len(self.addresses), 1)

    @property
    def multi(self) -> bool:
        return len(self.addresses) > 1

    @property
    def chief(self) -> bool:
        return self.index == 0

    def to_dict(self) -> dict[str, Any]:
        """What ``run.json`` records of it."""
        return {"workers": self.workers, "addresses": list(self.addresses)}


def from_env(environ: Mapping[str, str] | None = None) -> Cluster:
    """The cluster ``TF_CONFIG`` describes (a single worker when it is unset). ``ValueError``
    with a plain message for a ``TF_CONFIG`` that is not one."""
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not raw:
        return Cluster()
    try:
        config = json.loads(raw)
        spec, task = config["cluster"], config["task"]
        chief, workers = list(spec.get("chief", [])), list(spec.get("worker", []))
        kind, index = str(task["type"]), int(task["index"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError('TF_CONFIG is not valid: it needs {"cluster": {"worker": [...]}, '
                         '"task": {"type": "worker", "index": N}}') from None
    other = set(spec) - {"chief", "worker"}
    if other:
        raise ValueError(f"TF_CONFIG names {', '.join(sorted(other))} tasks; training here uses "
                         "only workers (and at most one chief)")
    if len(chief) > 1:
        raise ValueError("TF_CONFIG names more than one chief")
    addresses = tuple(chief + workers)
    if kind not in ("chief", "worker"):
        raise ValueError(f"TF_CONFIG's task type {kind!r} is not a worker or the chief")
    place = index if kind == "chief" else index + len(chief)
    if not addresses or not 0 <= place < len(addresses) or (kind == "chief" and index != 0):
        raise ValueError(f"TF_CONFIG's task {kind} {index} is not in its cluster")
    return Cluster(addresses, place)


def tf_config(addresses: Sequence[str], index: int) -> str:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of plain workers."""
    return json.dumps({"cluster": {"worker": list(addresses)},
                       "task": {"type": "worker", "index": index}})


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that are free on localhost right now."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def run_local(n: int, argv: Sequence[str], *, log: Callable[[str], None] = print,
              on_failure: Callable[[int, str], None] | None = None,
              cwd: str | Path = PROJECT_ROOT) -> int:
    """Run ``python -m core train *argv`` as ``n`` workers of one cluster on this machine.

    Each worker gets ``TF_CONFIG`` with its index and the same localhost addresses. Their
    output comes here (the chief's as it is, the others' prefixed ``worker i:``). SIGTERM is
    passed on to every worker (the job saves a checkpoint and stops together). When a worker
    ends badly the others are stopped (SIGTERM, then SIGKILL after ``GRACE_S``) and
    ``on_failure(index, message)`` is called with which worker it was and what happened.
    Workers still running ``GRACE_S`` after the chief finished are stopped the same way, and
    so are all of them when this function is left by an exception (Ctrl-C). Returns the
    chief's exit code, or the failed worker's.
    """
    if n < 1:
        raise ValueError("--local-workers needs at least 1 worker")
    addresses = [f"localhost:{p}" for p in free_ports(n)]
    procs: list[subprocess.Popen] = []
    pumps: list[threading.Thread] = []

    def forward(signum, frame):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)
    previous = signal.signal(signal.SIGTERM, forward)
    try:
        for i in range(n):
            env = {**os.environ, "TF_CONFIG": tf_config(addresses, i), "PYTHONUNBUFFERED": "1"}
            procs.append(subprocess.Popen(  # a session each: a kill reaches its parse workers
                [sys.executable, "-m", "core", "train", *argv], cwd=cwd, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True))
            pumps.append(threading.Thread(target=_pump, daemon=True, args=(
                procs[-1], "" if i == 0 else f"worker {i}: ", log)))
            pumps[-1].start()
        failed = _wait(procs)
        if failed is None:
            return procs[0].returncode
        i, code = failed
        message = (f"worker {i} of {n} ended ({_describe_exit(code)}), so the job ended; "
                   "resume to continue from the last checkpoint")
        _stop(procs)
        log(f"error: {message}")
        if on_failure is not None:
            on_failure(i, message)
        return code if code > 0 else 1
    finally:
        _stop(procs)  # nothing is left running, however this ends
        signal.signal(signal.SIGTERM, previous)
        for t in pumps:
            t.join(timeout=5)
        for p in procs:
            if p.stdout is not None:
                p.stdout.close()


def _wait(procs: list[subprocess.Popen]) -> tuple[int, int] | None:
    """Wait until every worker has ended well (``None``) or one ended badly: ``(index, code)`` of
    the first seen, a worker before the chief when both are seen at once (the chief's end is
    usually the other's consequence). Once the chief has ended well the others' ends do not
    count, and ``GRACE_S`` later this returns ``None`` even if some still run."""
    chief_done = None
    while True:
        codes = [p.poll() for p in procs]
        bad = [i for i, code in enumerate(codes) if code not in (None, 0)]
        if bad and chief_done is None:
            i = next((j for j in bad if j != 0), bad[0])
            return i, codes[i]
        if all(code is not None for code in codes) or (
                chief_done is not None and time.monotonic() - chief_done > GRACE_S):
            return None
        if codes[0] == 0 and chief_done is None:
            chief_done = time.monotonic()
        time.sleep(0.2)


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM to every worker still running, then SIGKILL to its whole session after
    ``GRACE_S``."""
    live = [p for p in procs if p.poll() is None]
    for p in live:
        p.terminate()
    deadline = time.monotonic() + GRACE_S
    for p in live:
        try:
            p.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def _pump(proc: subprocess.Popen, prefix: str, log: Callable[[str], None]) -> None:
    for raw in proc.stdout:   # type: ignore[union-attr]
        line = raw.decode("utf-8", "replace").rstrip("\n")
        if line:
            log(prefix + line)
