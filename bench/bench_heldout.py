"""How long the held-out NLL takes: the per-epoch validation of truncated BPTT and ``eval``.

Scores a shipped run's held-out pieces with ``core.evaluation.likelihood.heldout_nll`` (the
layer-by-layer ``LSTMStepper.scan``) and, in the same run, the way it was computed before: one
``LSTMStepper.step`` per token, the output softmax inside each step. Both on one BLAS thread, as
in training. Prints JSON: median seconds of ``--repeats`` runs each, their ratio, the two NLLs.

Usage: ``python bench/bench_heldout.py [--run bach-studio-events] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from core.evaluation.likelihood import BATCH, heldout_nll  # noqa: E402
from core.evaluation.loaded import loaded  # noqa: E402
from core.models.inference import LSTMStepper  # noqa: E402
from core.models.numpy_ops import one_blas_thread  # noqa: E402
from core.models import presets  # noqa: E402
from core.paths import SHIPPED_RUNS  # noqa: E402
from core.runs import Run  # noqa: E402


def stepped_nll(model, seqs) -> float:
    """The earlier held-out pass: every token through ``step`` (softmax included)."""
    stepper = LSTMStepper(model)
    pieces = sorted((np.asarray(s, np.int64) for s in seqs if len(s) > 1), key=len)
    nats = []
    with one_blas_thread():
        for at in range(0, len(pieces), BATCH):
            group = pieces[at:at + BATCH]
            lengths = np.array([len(p) for p in group])
            tokens = np.zeros((len(group), lengths.max()), np.int64)
            for row, p in enumerate(group):
                tokens[row, :len(p)] = p
            stepper.reset(len(group))
            rows = np.arange(len(group))
            for t in range(lengths.max() - 1):
                probs = stepper.step(tokens[:, t])
                live = t < lengths - 1
                picked = probs[rows[live], tokens[live, t + 1]].astype(np.float64)
                nats.append(-np.log(np.maximum(picked, 1e-12)))
    return float(np.concatenate(nats).mean())


def timed(fn, repeats: int) -> tuple[float, float]:
    times, value = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="bach-studio-events")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    run = Run(SHIPPED_RUNS / args.run if not Path(args.run).is_dir() else Path(args.run))
    data = loaded(run)
    model, config = presets.load_model(run.checkpoint(run.best_epoch())), data.config
    seqs = data.val_sequences
    scan_s, scan = timed(lambda: heldout_nll(model, config, seqs)["nll_token"], args.repeats)
    step_s, step = timed(lambda: stepped_nll(model, seqs), args.repeats)
    print(json.dumps({
        "run": run.name, "pieces": len(seqs), "tokens": int(sum(len(s) for s in seqs)),
        "repeats": args.repeats, "scan_s": round(scan_s, 3), "stepped_s": round(step_s, 3),
        "speedup": round(step_s / scan_s, 2), "nll_scan": round(scan, 6), "nll_stepped": round(step, 6),
        "load": [round(x, 2) for x in os.getloadavg()]}, indent=1))


if __name__ == "__main__":
    main()
