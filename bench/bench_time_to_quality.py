"""Time to quality: how fast each way of training reaches the n-gram baseline and beyond.

Each variant is the user's own command, ``python -m core train --corpus C --minutes M
--run-dir R`` plus the variant's options (a separate process each, one after another, never two
at once), with a checkpoint every epoch. Every checkpoint is then scored the generator's way:
the stateful held-out NLL over each whole validation piece (``core.evaluation.likelihood``),
against the run's own 3-gram baseline (``run.json``'s ``baseline``). For truncated BPTT and
whole pieces that is the ``val_loss`` the job logged; windows' ``val_loss`` is not, so their
checkpoints are re-scored here, outside the timed training.

Prints one JSON object: per variant the tokens/s (median epoch), the minutes (wall time since
the job's training began, as ``history.csv``'s ``elapsed_s``) at which the held-out NLL first
reached 1.0x, 0.8x, 0.7x and 0.6x of the baseline, the last checkpoint's ratio, its
``nll_by_position`` ratio of "512+" to "0-127", and the machine's load before and after.

    .venv/bin/python bench/bench_time_to_quality.py --minutes 3 \\
        --variant carried= --variant pieces="--train-on pieces" --variant windows="--train-on windows"

``--speed-rounds N`` then measures tokens/s alone: N rounds of ``--speed-epochs`` (or ``--speed-minutes``) runs of the
variants in turn, the order reversed each round, so that a slow spell of a shared machine
(epochs of one run here varied from 19 to 49 s) falls on all of them; it reports each round's
ratios to the last variant named, and their median (``--speed-only``: only this).

    .venv/bin/python bench/bench_time_to_quality.py --speed-only --speed-rounds 4 \\
        --speed-epochs 4 --variant carried= --variant windows="--train-on windows"

``--jsb-midi-folder DIR`` first writes the JSB Chorales of ``../shared/data/jsb`` (16th-note
grid, all 382) as MIDI files into DIR and trains on that folder, as a user's own MIDI would be.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATIOS = (1.0, 0.8, 0.7, 0.6)


def load() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def score(run_dir: Path) -> dict:
    """The run's checkpoints scored by the stateful held-out NLL, by elapsed minutes."""
    from core.evaluation.likelihood import heldout_nll
    from core.evaluation.loaded import loaded
    from core.models.presets import load_model
    from core.runs import Run

    run = Run(run_dir)
    cfg = run.config
    baseline = cfg["baseline"]["nll_token"]
    history = {int(r["epoch"]): r for r in run.history()}
    windows = cfg["model"]["train_on"] == "windows"
    lr = loaded(run)
    points = []
    for epoch in run.epochs():
        row = history.get(epoch, {})
        if windows or "val_loss" not in row:
            result = heldout_nll(load_model(run.checkpoint(epoch)), lr.config, lr.val_sequences)
            nll = result["nll_token"]
        else:
            nll = row["val_loss"]
        points.append({"epoch": epoch, "minutes": row.get("elapsed_s", 0) / 60, "nll": nll,
                       "ratio": nll / baseline})
    last = heldout_nll(load_model(run.checkpoint(run.epochs()[-1])), lr.config, lr.val_sequences)
    by_pos = last["nll_by_position"]
    reach = {f"{r:.1f}x": next((round(p["minutes"], 2) for p in points if p["ratio"] <= r), None)
             for r in RATIOS}
    speeds = sorted(r["tokens_per_s"] for r in history.values() if r.get("tokens_per_s"))
    return {"baseline_nll": baseline, "epochs": len(history), "minutes_to": reach,
            "last_ratio": round(points[-1]["ratio"], 4), "last_nll": round(last["nll_token"], 4),
            "late_vs_early": (round(by_pos["512+"] / by_pos["0-127"], 4)
                              if by_pos.get("512+") and by_pos.get("0-127") else None),
            "tokens_per_s": round(speeds[len(speeds) // 2], 1) if speeds else None,
            "batch_size": cfg["model"]["batch_size"], "window": cfg["model"]["window"],
            "learning_rate": cfg["model"]["learning_rate"], "train_on": cfg["model"]["train_on"],
            "curve": [{k: round(v, 4) if isinstance(v, float) else v for k, v in p.items()}
                      for p in points]}


def train_command(corpus: str, limit: list[str], run_dir: Path, options: str) -> list[str]:
    """``core train`` as a user types it; ``limit``: ``["--minutes", M]`` or ``["--epochs", N]``."""
    return [sys.executable, "-m", "core", "train", "--corpus", corpus, *limit,
            "--run-dir", str(run_dir), "--no-queue", *shlex.split(options)]


def steady_tokens_per_s(run_dir: Path) -> float | None:
    """Median tokens/s of a run's epochs after the first (which traces the graph)."""
    from core.runs import Run

    speeds = [r["tokens_per_s"] for r in Run(run_dir).history()[1:] if r.get("tokens_per_s")]
    return statistics.median(speeds) if speeds else None


def speed_rounds(corpus: str, variants: list[list[str]], rounds: int, limit: list[str],
                 root: Path) -> dict:
    """Tokens/s of each variant in short runs taken in turn, the order reversed every round
    (A B, B A, A B ...), so a slow spell of a shared machine falls on every variant alike: per
    round each variant's median epoch after the first, and every variant's ratio to the last
    one named in that round; their medians over the rounds. With ``limit`` ``--epochs N`` every
    variant does the same work in whole epochs; with ``--minutes`` the last epoch is the part
    the budget left, whose tokens/s carries a whole validation pass for a part of an epoch's
    training."""
    per_round = []
    for r in range(rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        speeds = {}
        for name, options in order:
            run_dir = root / f"speed-{r}-{name}"
            subprocess.run(train_command(corpus, limit, run_dir, options), cwd=ROOT,
                           capture_output=True, text=True, check=True)
            speeds[name] = steady_tokens_per_s(run_dir)
        per_round.append({"tokens_per_s": speeds, "load": load()})
        print(json.dumps({"speed_round": r, **per_round[-1]}), file=sys.stderr, flush=True)
    last = variants[-1][0]
    ratios = {name: sorted(p["tokens_per_s"][name] / p["tokens_per_s"][last] for p in per_round)
              for name, _ in variants[:-1]}
    return {"rounds": per_round, "each": " ".join(limit),
            f"median_ratio_to_{last}": {n: round(statistics.median(v), 3) for n, v in ratios.items()},
            f"ratios_to_{last}": {n: [round(x, 3) for x in v] for n, v in ratios.items()}}


def write_jsb_folder(folder: Path) -> str:
    """The JSB chorales (all splits, 16th-note grid) as one MIDI file each in ``folder``."""
    from core.corpus import jsb

    folder.mkdir(parents=True, exist_ok=True)
    pieces, _ = jsb.load_jsb("jsb-16th")
    for i, piece in enumerate(pieces):
        (folder / f"chorale_{i:03d}.mid").write_bytes(piece.to_midi_bytes())
    return str(folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="bach-chorales")
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME=OPTIONS: extra `core train` options for one variant")
    ap.add_argument("--keep", help="keep the run folders under this folder")
    ap.add_argument("--jsb-midi-folder", help="write the JSB chorales as MIDI files here and "
                    "train on that folder (--corpus is ignored)")
    ap.add_argument("--speed-rounds", type=int, default=0,
                    help="then N rounds of short runs of the variants in turn: tokens/s ratios")
    ap.add_argument("--speed-minutes", type=float, default=1.5)
    ap.add_argument("--speed-epochs", type=int, default=0,
                    help="speed rounds of N whole epochs each instead of --speed-minutes")
    ap.add_argument("--speed-only", action="store_true", help="only the speed rounds")
    args = ap.parse_args()
    if args.jsb_midi_folder:
        args.corpus = write_jsb_folder(Path(args.jsb_midi_folder))
    variants = [v.split("=", 1) for v in args.variant] or [["carried", ""], ["pieces", "--train-on pieces"],
                                                           ["windows", "--train-on windows"]]
    out = {"corpus": args.corpus, "minutes": args.minutes, "cpus": os.cpu_count(),
           "load_before": load(), "variants": {}}
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ttq-"))
    for name, options in ([] if args.speed_only else variants):
        run_dir = root / name
        cmd = train_command(args.corpus, ["--minutes", str(args.minutes)], run_dir, options)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if done.returncode:
            out["variants"][name] = {"error": done.stderr.strip().splitlines()[-1:]}
            continue
        out["variants"][name] = {"options": options, "wall_s": round(wall, 1),
                                 "load_after": load(), **score(run_dir)}
        print(json.dumps({name: {k: v for k, v in out["variants"][name].items() if k != "curve"}}),
              file=sys.stderr, flush=True)
    if args.speed_rounds:
        limit = (["--epochs", str(args.speed_epochs)] if args.speed_epochs else
                 ["--minutes", str(args.speed_minutes)])
        out["speed"] = speed_rounds(args.corpus, variants, args.speed_rounds, limit, root)
    out["load_after"] = load()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
