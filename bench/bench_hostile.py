"""Hostile MIDI as a primer: how long a refusal takes and what it costs the calling process.

    .venv/bin/python bench/bench_hostile.py [--root PROJECT] [--repeats 3]

The primer path is the Generate page's upload and ``generate --primer-midi`` (both
``Generator.primer("midi", ...)``), run in the process that would be the app's server. Files:
``huge.mid`` (15 MB of real notes, 2 million: over the size limit), ``note-bomb.mid`` (4.8 MB,
600,000 notes: under the size limit, over the note limit), and the corpus tests' hostile files
(random bytes, truncated, bit-flipped, empty, silent, a zip of junk). Per file: the median
seconds to the refusal, the message, and the peak resident memory of this process and of the
parsing workers (``ru_maxrss``), with the machine's load. ``--root`` measures another checkout
with this same harness (for before/after figures). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def peak_mb(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE.parent)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = args.root.resolve()
    os.chdir(root)  # the parsing workers' forkserver imports ``core`` from the working folder
    sys.path[:0] = [str(root), str(HERE.parent / "tests")]
    from hostile import hostile_files, many_notes  # the test suite's builders

    from core.training import gallery
    from core.generation.generate import Generator

    run = gallery.default_run()
    if run is None:
        print(json.dumps({"skipped": "no shipped default run"}))
        return 0
    gen = Generator.from_run(run.path)
    files = {"huge.mid": many_notes(2_000_000),
             **{name: data for name, (data, _) in hostile_files().items()}}
    out = {"root": str(root), "load_before": [round(x, 2) for x in os.getloadavg()],
           "process_peak_mb_before": peak_mb(resource.RUSAGE_SELF),
           "workers_peak_mb_before": peak_mb(resource.RUSAGE_CHILDREN), "files": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            path = Path(tmp) / name
            path.write_bytes(data)
            times, message = [], None
            for _ in range(args.repeats):
                started = time.perf_counter()
                try:
                    gen.primer("midi", midi=str(path))
                    message = "accepted"
                except ValueError as e:
                    message = str(e)
                times.append(time.perf_counter() - started)
            out["files"][name] = {"bytes": len(data), "median_s": round(statistics.median(times), 3),
                                  "message": message,
                                  "process_peak_mb": peak_mb(resource.RUSAGE_SELF),
                                  "workers_peak_mb": peak_mb(resource.RUSAGE_CHILDREN)}
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
