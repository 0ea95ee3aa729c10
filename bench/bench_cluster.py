"""One worker against two local workers (multi-worker ``tf.distribute`` over localhost gRPC).

Each repeat trains the same ``studio`` run twice with the real command line: once on one worker
at a global batch of ``2 x --batch``, once with ``--local-workers 2`` at ``--batch`` per worker
(the same global batch, seed and pieces). Training tokens/s is read from each run's
``history.csv`` (the global tokens of an epoch over its seconds, validation included), the
median over the epochs after the first (which traces the step); the figure is the median over
``--repeats`` repeats, with the machine's load before each run and the last epoch's losses of
both (which should agree).

On a 2-core machine both workers share the same two cores, so this measures the cost of the
cluster (gRPC all-reduce per step, a stop agreement per batch, two processes), not a speed-up.

Prints JSON. Usage: ``python bench/bench_cluster.py [--repeats 3] [--epochs 4]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def one_run(run_dir: Path, args, workers: int) -> dict:
    from core.runs import Run
    from core.settings import TrainSpec, to_args

    batch = args.batch if workers > 1 else args.batch * 2
    spec = TrainSpec(corpus=args.corpus, encoding=args.encoding, preset="studio", size=args.size,
                     max_pieces=args.max_pieces, epochs=args.epochs, batch_size=batch, seed=1,
                     dropout=0.0, checkpoint_every=args.epochs)
    command = [sys.executable, "-m", "core", "train", "--run-dir", str(run_dir), "--no-queue",
               *to_args(spec)] + (["--local-workers", str(workers)] if workers > 1 else [])
    load = os.getloadavg()[0]
    t = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    wall = time.perf_counter() - t
    if done.returncode:
        raise SystemExit(f"training failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    rows = Run(run_dir).history()
    rates = [r["tokens_per_s"] for r in rows[1:]] or [rows[-1]["tokens_per_s"]]
    return {"workers": workers, "global_batch": args.batch * 2,
            "tokens_per_s": round(statistics.median(rates), 1), "wall_s": round(wall, 1),
            "load_before": round(load, 2), "loss": round(rows[-1]["loss"], 4),
            "val_loss": round(rows[-1]["val_loss"], 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="bach-chorales")
    ap.add_argument("--encoding", default="chords")
    ap.add_argument("--size", default="small")
    ap.add_argument("--max-pieces", type=int, default=33)
    ap.add_argument("--batch", type=int, default=8, help="per worker; one worker gets twice this")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    runs = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for workers in (1, 2):
                runs[workers].append(one_run(Path(tmp) / f"w{workers}-{r}", args, workers))
    one = statistics.median(x["tokens_per_s"] for x in runs[1])
    two = statistics.median(x["tokens_per_s"] for x in runs[2])
    print(json.dumps({
        "corpus": args.corpus, "encoding": args.encoding, "preset": "studio", "size": args.size,
        "max_pieces": args.max_pieces, "epochs": args.epochs, "global_batch": args.batch * 2,
        "cpu_count": os.cpu_count(),
        "one_worker_tokens_per_s": one, "two_workers_tokens_per_s": two,
        "two_over_one": round(two / one, 3),
        "runs": runs,
    }, indent=1))


if __name__ == "__main__":
    main()
