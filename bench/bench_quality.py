"""Quality of the shipped models against the targets of the "trained the way they generate" issue.

For each shipped run's default checkpoint (and every checkpoint of the memorising run) it
re-runs the checkpoint report (``core.training.report.evaluate_run``: 4 samples of 512 tokens at
temperature 1, no top-k / top-p / anti-loop; held-out NLL from one stateful pass over each whole
validation piece) and checks:

- held-out ``nll_token`` <= 0.70 x the 3-gram baseline, on >= 30 validation pieces (Bach);
- ``nll_by_position["512+"]`` within 1.10 x ``["0-127"]``;
- sample copy rate within 5 points of ``heldout_copy_rate``;
- sample loop rate no higher than the held-out pieces' + 2 points;
- memorising run: its last checkpoint's NLL on its *training* pieces beyond the first window
  within 1.25 x the first window's; copy rate >= 0.5 and rising across checkpoints.

Prints JSON (each figure and whether its target is met). Usage:
``python bench/bench_quality.py [--runs bach-studio-events,...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULTS = ["bach-studio-events", "fiddle-studio-events", "groove-devfest-drums"]
MEMORISE = "bach-memorise-events"


def default_figures(name: str) -> dict:
    from core.training.report import evaluate_run
    from core.paths import SHIPPED_RUNS
    from core.runs import Run

    run = Run(SHIPPED_RUNS / name)
    r = evaluate_run(run, run.best_epoch())
    pos = r.get("nll_by_position") or {}
    first, late = pos.get("0-127"), pos.get("512+")
    ratio = r["nll_token"] / r["baseline_nll_token"] if r.get("nll_token") else None
    late_ratio = late / first if (late and first) else None
    copy_gap = r["copy_rate"] - r["heldout_copy_rate"]
    loop_gap = r["loop_rate_mean"] - r["heldout_loop_rate"]
    return {
        "epoch": r["epoch"], "val_pieces": r["val_pieces"], "nll_token": r["nll_token"],
        "baseline_nll_token": r["baseline_nll_token"], "nll_vs_baseline": ratio,
        "nll_by_position": pos, "late_vs_first_window": late_ratio,
        "copy_rate": r["copy_rate"], "heldout_copy_rate": r["heldout_copy_rate"],
        "loop_rate": r["loop_rate_mean"], "heldout_loop_rate": r["heldout_loop_rate"],
        "targets": {
            "nll_at_most_0.70x_baseline": ratio is not None and ratio <= 0.70,
            "at_least_30_val_pieces": r["val_pieces"] >= 30,
            "late_within_1.10x_first_window": (None if late_ratio is None else late_ratio <= 1.10),
            "copy_within_5_points_of_heldout": abs(copy_gap) <= 0.05,
            "loop_at_most_heldout_plus_2_points": loop_gap <= 0.02,
        },
    }


def memorise_figures() -> dict:
    from core.evaluation.likelihood import heldout_nll
    from core.evaluation.loaded import loaded
    from core.paths import SHIPPED_RUNS
    from core.models.presets import load_model
    from core.runs import Run

    run = Run(SHIPPED_RUNS / MEMORISE)
    lr = loaded(run)
    rates = [(e, run.sample_metrics(e).get("copy_rate"), run.sample_metrics(e).get("longest_copy_notes"))
             for e in run.epochs()]
    last = run.epochs()[-1]
    on_train = heldout_nll(load_model(run.checkpoint(last)), lr.config, lr.train_sequences)
    pos = on_train["nll_by_position"]
    beyond = [v for k, v in pos.items() if k != "0-127" and v is not None]
    worst = max(beyond) / pos["0-127"] if beyond and pos["0-127"] else None
    copy = [c for _, c, _ in rates]
    return {
        "copy_rate_by_epoch": {e: c for e, c, _ in rates},
        "longest_copy_notes_by_epoch": {e: n for e, _, n in rates},
        "heldout_copy_rate": run.sample_metrics(last).get("heldout_copy_rate"),
        "last_epoch_train_nll_by_position": pos, "worst_later_window_vs_first": worst,
        "targets": {
            "later_windows_within_1.25x_first": worst is not None and worst <= 1.25,
            "last_copy_rate_at_least_0.5": copy[-1] >= 0.5,
            "longest_copy_at_least_100_notes": max(n for _, _, n in rates) >= 100,
            "copy_rate_rising": max(copy[: len(copy) // 2]) < min(copy[-2:]),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default=",".join(DEFAULTS + [MEMORISE]))
    args = ap.parse_args()
    out = {"load_avg_start": os.getloadavg()[0]}
    for name in args.runs.split(","):
        out[name] = memorise_figures() if name == MEMORISE else default_figures(name)
        print(f"{name}: {json.dumps(out[name]['targets'])}", file=sys.stderr, flush=True)
    out["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
