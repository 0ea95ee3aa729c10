"""``python -m core train``: train (or resume) a model into a run folder.

The options are :class:`core.settings.TrainSpec`'s fields. This is the job the app starts in
its own process (``core.jobs``); it wires the per-checkpoint report
(``core.evaluate.checkpoint_reporter``) into the training.
"""

from __future__ import annotations

import argparse
import sys

from core import settings
from core.evaluate import checkpoint_reporter
from core.settings import TrainSpec
from core.train import train


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model into a run folder")
    settings.add_arguments(p, TrainSpec)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    p.add_argument("--no-queue", action="store_true", help="do not wait for other trainings")
    p.set_defaults(func=_cli_train)


def _cli_train(args: argparse.Namespace) -> int:
    if not args.corpus and not args.resume:
        raise ValueError("--corpus is required (or --resume an existing run)")
    spec = settings.from_args(TrainSpec, args)
    if args.resume and args.epochs is None:
        spec.epochs = 0  # the run's own
    run = train(spec, args.run_dir, resume=args.resume, queue=not args.no_queue,
                log=lambda m: print(m, flush=True),
                on_checkpoint=lambda run: checkpoint_reporter(run, lambda m: print(m, flush=True)))
    status = run.status
    print(f"{status.get('state')}: {run.path} (epoch {status.get('epoch')})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    from core.cli import main
    sys.exit(main(["train", *sys.argv[1:]]))
