"""Corpus loading speed: cold (parse) and warm (cache) loads. Prints JSON on stdout.

- ``bach_chorales``: cold loads into an empty temporary cache, then warm loads; also the CPU
  seconds one file costs to parse (serial, in this process), which gives the parsing time on
  otherwise idle cores when the machine is shared (``cold_estimate_idle_s``; starting the
  workers adds about a second).
- ``midi_folder_90``: a folder of 90 MIDI files (Groove MIDI Dataset files from
  ../shared/data, else Bach chorales written as MIDI), cold and warm.
- ``uploads_3_files``: three small uploads in a fresh process (includes starting the workers).
- ``builtin``: every whole built-in corpus, first load into an empty data folder (cold: read
  from its shipped entry in ``core/corpus/prebuilt`` when ``prebuilt`` is true, else parsed,
  minutes, once) and warm loads after it.
- ``builtin_subsets``: the first ``--subset`` items (100, the Corpus page's default) of every
  built-in corpus, first load from an empty data folder (taken from the shipped whole when it
  is there; median of ``--cold-runs``) against parsing them (once).

Times are wall-clock seconds; warm times are medians. Usage: ``python bench/bench_corpus.py
[--cold-runs N] [--warm-runs N]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import corpus  # noqa: E402
from core.corpus import builtin  # noqa: E402
from core.paths import SHARED_DATA  # noqa: E402

#: A cold bach load slower than this (seconds) is run once instead of ``--cold-runs`` times.
SLOW_COLD_S = 60.0


def seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return round(time.perf_counter() - start, 4)


def median_seconds(fn: Callable[[], Any], runs: int) -> float:
    return round(statistics.median(seconds(fn) for _ in range(runs)), 4)


@contextmanager
def data_dir(path: Path) -> Iterator[None]:
    """Point the cache (``$COMPOSER_DATA``) at ``path`` for the duration of the block."""
    before = os.environ.get("COMPOSER_DATA")
    os.environ["COMPOSER_DATA"] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("COMPOSER_DATA", None)
        else:
            os.environ["COMPOSER_DATA"] = before


def cold_and_warm(source: Any, scratch: Path, cold_runs: int, warm_runs: int, kind: str,
                  slow_s: float | None = None) -> dict[str, Any]:
    """Cold loads, each into an emptied cache, then warm loads from the last one's cache."""
    cold = []
    with data_dir(scratch):
        for _ in range(cold_runs):
            shutil.rmtree(scratch, ignore_errors=True)
            cold.append(seconds(lambda: corpus.load(source, kind=kind)))
            if slow_s is not None and cold[0] > slow_s:
                break  # too slow to repeat on a shared machine
        warm = median_seconds(lambda: corpus.load(source, kind=kind), warm_runs)
        result = corpus.load(source, kind=kind)
    return {"pieces": len(result.pieces), "summary": result.summary(), "cold_s": cold,
            "cold_runs": len(cold), "cold_median_s": round(statistics.median(cold), 4),
            "warm_median_s": warm, "warm_runs": warm_runs}


def cpu_per_file(name: str, n: int = 30) -> float:
    """CPU seconds to parse one of the first ``n`` files of a built-in corpus, in this process."""
    jobs = builtin.jobs(name, n + 1)
    jobs[0].fn(*jobs[0].args)  # imports music21 first
    start = time.process_time()
    for job in jobs[1:]:
        job.fn(*job.args)
    return round((time.process_time() - start) / n, 4)


def midi_folder(dest: Path, n: int = 90) -> tuple[Path, str, str]:
    """``(folder, origin, kind)``: ``n`` Groove MIDI (drum) files, else Bach as MIDI."""
    dest.mkdir(parents=True)
    groove = sorted((SHARED_DATA / "groove").rglob("*.mid"))[:n]
    if len(groove) == n:
        for i, path in enumerate(groove):
            shutil.copy(path, dest / f"{i:03d}_{path.name}")
        return dest, "groove", "drums"
    for piece in corpus.load("bach-chorales", max_pieces=n).pieces:
        piece.to_midi().write(str(dest / (piece.name.replace("/", "_") + ".mid")))
    return dest, "bach-chorales as MIDI", "melodic"


def uploads_first_call(scratch: Path) -> float:
    """Three small uploads, cold, in this (fresh) process: worker start-up included."""
    from core.piece import from_note_list

    files = [(f"{i}.mid", from_note_list("m", [(b, b + 1, 60 + i + b, 80) for b in range(8)])
              .to_midi_bytes()) for i in range(3)]
    with data_dir(scratch):
        return seconds(lambda: corpus.load_uploads(files))


def builtin_loads(scratch: Path, cold_runs: int, warm_runs: int) -> dict[str, Any]:
    """First and later loads of every whole built-in corpus, each from an empty data folder."""
    out = {}
    for name in corpus.BUILTIN:
        with data_dir(scratch / f"{name}-probe"):
            prebuilt = corpus.is_cached(name)  # an empty data folder: only a shipped entry
        result = cold_and_warm(name, scratch / name, cold_runs, warm_runs, "melodic",
                               slow_s=SLOW_COLD_S)
        out[name] = {"prebuilt": prebuilt, **result}
    return out


def builtin_subsets(scratch: Path, n: int, runs: int) -> dict[str, Any]:
    """First loads of the first ``n`` items of every built-in corpus, and a parse of them."""
    out = {}
    for name in corpus.BUILTIN:
        with data_dir(scratch / f"{name}-probe"):
            from_whole = corpus.is_cached(name, n)
        out[name] = {"items": n, "from_shipped_whole": from_whole,
                     "first_load_median_s": subset_first_load_s(name, n, scratch, runs),
                     "runs": runs,
                     "parse_s": seconds(partial(corpus.load, name, max_pieces=n, use_cache=False))}
    return out


def subset_first_load_s(name: str, n: int, scratch: Path, runs: int) -> float:
    """Median seconds of ``runs`` loads of the first ``n`` items, each into an empty folder."""
    empty_folders = (scratch / f"{name}-{i}" for i in itertools.count())

    def first_load() -> None:
        with data_dir(next(empty_folders)):
            corpus.load(name, max_pieces=n)
    return median_seconds(first_load, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--warm-runs", type=int, default=5)
    parser.add_argument("--subset", type=int, default=100)
    args = parser.parse_args()
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
    }
    with tempfile.TemporaryDirectory(prefix="bench_corpus_") as tmp:
        tmp = Path(tmp)
        report["uploads_3_files_first_call_s"] = uploads_first_call(tmp / "uploads")
        report["bach_chorales"] = cold_and_warm("bach-chorales", tmp / "bach", args.cold_runs,
                                                args.warm_runs, "melodic", slow_s=SLOW_COLD_S)
        per_file = cpu_per_file("bach-chorales")
        report["bach_chorales"].update(cpu_s_per_file=per_file, cold_estimate_idle_s=round(
            per_file * report["bach_chorales"]["pieces"] / (os.cpu_count() or 1), 1))
        folder, origin, kind = midi_folder(tmp / "folder")
        report["midi_folder_90"] = {"files_from": origin, "kind": kind, **cold_and_warm(
            folder, tmp / "folder_cache", args.cold_runs, args.warm_runs, kind)}
        report["builtin"] = builtin_loads(tmp / "builtin", args.cold_runs, args.warm_runs)
        report["builtin_subsets"] = builtin_subsets(tmp / "subsets", args.subset, args.cold_runs)
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
