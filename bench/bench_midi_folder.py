"""A folder of 1,000+ MIDI files, good, repaired and hostile, read by every corpus path.

    .venv/bin/python bench/bench_midi_folder.py [--good 600] [--repaired 300] [--hostile 300]
                                               [--repeats 3] [--root PROJECT]

The folder (issue 27) is built from the Groove MIDI Dataset's real files in ../shared/data:
``--good`` files as they are; ``--repaired`` others damaged the ways common tools read past
(wrapped in RIFF as ``.rmi``, note velocities set above 127, a key signature in mode 2, all
three), each checked to give back its original's notes; ``--hostile`` files no reader may
choke on (the corpus tests' hostile files, a 600,000-note bomb, cut at a random byte, random
bytes overwritten, random bytes behind a MIDI header, empty). It is then loaded by
``core.corpus.load`` (no cache, ``--repeats`` times: median seconds, files per second, peak
resident memory of this process and of the parsing workers) and once by ``python -m core
corpus stats FOLDER --json --no-cache`` in a fresh process (exit code, traceback or not).
Every file must end up used or skipped with a reason; a reason from the sandbox's catch-all
(``could not parse (...)``, ``the parser crashed``) counts as a traceback. ``--root`` reads
the same folder with another checkout's reader (before/after). Prints JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
GROOVE = HERE.parent.parent / "shared" / "data" / "groove"
TRACEBACK_REASONS = ("could not parse (", "the parser crashed")
NUMBER = r"\b(?!127 clipped)\d[\d,.]*"  # counts and byte offsets, grouped as N


def peak_mb(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def loud_velocities(data: bytes, rng: random.Random) -> bytes:
    """Up to 5 note-on velocities set above 127. Candidates are found by a byte pattern (an
    explicit ``9n`` status, then a pitch and a velocity), which running status can fool, so a
    choice is kept only when ``mido`` with ``clip=True`` reads it as the same messages with
    velocities changed and nothing else."""
    import mido

    def messages(raw: bytes, with_velocity: bool) -> list:
        tracks = mido.MidiFile(file=io.BytesIO(raw), clip=True).tracks
        return [m.dict() if with_velocity or m.type != "note_on" else
                {**m.dict(), "velocity": m.velocity > 0} for t in tracks for m in t]

    spots = [m.start() + 2 for m in re.finditer(rb"[\x90-\x9f][\x00-\x7f][\x01-\x7f]", data)]
    for _ in range(20):
        out = bytearray(data)
        for at in rng.sample(spots, min(5, len(spots))):
            out[at] |= 0x80
        try:
            if messages(bytes(out), False) == messages(data, False) != []:
                return bytes(out)
        except Exception:  # the pattern hit something else: choose again
            pass
    raise SystemExit("no note-on velocity found to damage")


def build_folder(folder: Path, n_good: int, n_repaired: int, n_hostile: int,
                 seed: int = 0) -> dict[str, dict]:
    """Write the folder; ``name -> {"kind", "original"}`` for every file in it."""
    from hostile import (KEY_IN_MODE_2, hostile_files, in_riff, many_notes, with_first_event)

    rng = random.Random(seed)
    sources = sorted(GROOVE.rglob("*.mid"))
    if len(sources) < n_good + n_repaired:
        raise SystemExit(f"need {n_good + n_repaired} Groove files, found {len(sources)} "
                         f"under {GROOVE}")
    plan: dict[str, dict] = {}

    def put(name: str, data: bytes, kind: str, original: Path | None = None) -> None:
        (folder / name).write_bytes(data)
        plan[name] = {"kind": kind, "original": str(original) if original else None}

    for i, path in enumerate(sources[:n_good]):
        put(f"good-{i:04d}.mid", path.read_bytes(), "good")
    damages = {
        "rmi": (".rmi", in_riff),
        "velocity": (".mid", lambda d: loud_velocities(d, rng)),
        "key": (".mid", lambda d: with_first_event(d, KEY_IN_MODE_2)),
        "all": (".mid", lambda d: in_riff(with_first_event(loud_velocities(d, rng),
                                                           KEY_IN_MODE_2))),
    }
    for i, path in enumerate(sources[n_good:n_good + n_repaired]):
        label = list(damages)[i % len(damages)]
        suffix, damage = damages[label]
        put(f"repaired-{label}-{i:04d}{suffix}", damage(path.read_bytes()), "repaired", path)
    named = {name: data for name, (data, _) in hostile_files().items() if name.endswith(".mid")}
    named["note-bomb.mid"] = many_notes(600_000)
    for name, data in named.items():
        put(f"hostile-{name}", data, "hostile")
    for i in range(n_hostile - len(named)):  # from the files not used so far, then again
        path = sources[(n_good + n_repaired + i) % len(sources)]
        data = bytearray(path.read_bytes())
        how = ("cut", "overwritten", "random-after-header", "empty")[i % 4]
        if how == "cut":
            data = data[:rng.randrange(len(data))]
        elif how == "overwritten":
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif how == "random-after-header":
            data = data[:14] + bytearray(rng.randbytes(rng.randint(0, 4000)))
        else:
            data = bytearray()
        put(f"hostile-{how}-{i:04d}.mid", bytes(data), "hostile")
    return plan


def read_folder(folder: Path, repeats: int) -> tuple[dict, object]:
    """Load the folder ``repeats`` times without the cache: times and memory; the last result."""
    from core import corpus

    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = corpus.load(folder, kind="all", use_cache=False)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return {"seconds": [round(t, 2) for t in times], "median_s": round(median, 2),
            "files_per_s": round(result.n_files / median, 1),
            "process_peak_mb": peak_mb(resource.RUSAGE_SELF),
            "workers_peak_mb": peak_mb(resource.RUSAGE_CHILDREN)}, result


def same_notes(result, plan: dict[str, dict]) -> dict:
    """Each repaired file's notes against its original's (read by the same reader, in one
    load): start, end and pitch equal (a clipped velocity reads as 127)."""
    from core import corpus

    pieces = {p.name: p for p in result.pieces}
    pairs = {name: e["original"] for name, e in plan.items()
             if e["kind"] == "repaired" and name in pieces}
    if not pairs:
        return {"checked": 0, "same_notes": 0}
    originals = {p.name: p for p in corpus.load(sorted(pairs.values()), kind="all",
                                                use_cache=False).pieces}
    same = 0
    for name, original in pairs.items():
        a, b = pieces[name].notes, originals[original].notes
        same += a.shape == b.shape and bool((a[:, :3] == b[:, :3]).all())
    return {"checked": len(pairs), "same_notes": same}


def cli_run(folder: Path, root: Path) -> dict:
    """``python -m core corpus stats FOLDER --json --no-cache`` in a fresh process."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "core", "corpus", "stats", str(folder), "--json",
                           "--no-cache", "--kind", "all"], cwd=root, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - started
    report = json.loads(proc.stdout) if proc.returncode == 0 else {}
    return {"exit_code": proc.returncode, "seconds": round(seconds, 2),
            "traceback": "Traceback" in proc.stderr + proc.stdout,
            "pieces": report.get("pieces"), "skipped": report.get("skipped"),
            "repaired": report.get("repaired")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--good", type=int, default=600)
    parser.add_argument("--repaired", type=int, default=300)
    parser.add_argument("--hostile", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--root", type=Path, default=HERE.parent)
    args = parser.parse_args()
    root = args.root.resolve()
    os.chdir(root)  # the parsing workers' forkserver imports ``core`` from the working folder
    sys.path[:0] = [str(root), str(HERE.parent / "tests")]
    out: dict = {"root": str(root), "load_before": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COMPOSER_DATA"] = str(Path(tmp) / "data")  # no cache read or written
        folder = Path(tmp) / "midi"
        folder.mkdir()
        plan = build_folder(folder, args.good, args.repaired, args.hostile)
        out["files"] = dict(Counter(e["kind"] for e in plan.values()))
        out["files"]["total"] = len(plan)
        out["folder_mb"] = round(sum(p.stat().st_size for p in folder.iterdir()) / 2**20, 1)
        out["library"], result = read_folder(folder, args.repeats)
        used = {p.name for p in result.pieces}
        reasons = dict(result.skipped)
        out["used"] = dict(Counter(plan[n]["kind"] for n in used))
        out["skipped"] = dict(Counter(plan[n]["kind"] for n in reasons))
        out["unaccounted"] = sorted(set(plan) - used - set(reasons))
        out["tracebacks"] = sorted(n for n, r in reasons.items() if r.startswith(TRACEBACK_REASONS))
        out["reasons"] = dict(Counter(re.sub(NUMBER, "N", r) for r in reasons.values())
                              .most_common())
        repaired = getattr(result, "repaired", [])
        out["repairs"] = dict(Counter(re.sub(NUMBER, "N", w)
                                      for _, said in repaired for w in said).most_common())
        out["repaired_by_kind"] = dict(Counter(plan[n]["kind"] for n, _ in repaired))
        out["repaired_notes"] = same_notes(result, plan)
        out["cli"] = cli_run(folder, root)
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
