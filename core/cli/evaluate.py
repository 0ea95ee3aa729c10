"""``python -m core eval``: sample a checkpoint and print its report as JSON."""

from __future__ import annotations

import argparse
import json

from core.training.report import evaluate_run


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="sample a checkpoint and print its metrics as JSON")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("--epoch", type=int, help="checkpoint epoch (default: best, else latest)")
    p.add_argument("--split", choices=("val", "test"), default="val",
                   help="held-out pieces to score: validation, or the corpus's given test split "
                        "(jsb; reported as frame_nll, nats per time step)")
    p.set_defaults(func=lambda args: print(json.dumps(
        evaluate_run(args.run, args.epoch, args.split), indent=2)))
