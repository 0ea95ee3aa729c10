"""``python -m core train``: train (or resume) a model into a run folder.

The options are :class:`core.settings.TrainSpec`'s fields. This is the job the app starts in
its own process (``core.training.jobs``); it wires the per-checkpoint report
(``core.training.report.checkpoint_reporter``) into the training. With ``TF_CONFIG`` set it is one
worker of a cluster; ``--local-workers N`` starts N such workers on this machine
(``core.training.cluster.run_local``) and waits for them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from core import settings
from core.training import cluster
from core.training.report import checkpoint_reporter
from core.runs import Run, RunState
from core.settings import TrainSpec
from core.training.train import train


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model into a run folder")
    settings.add_arguments(p, TrainSpec)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    p.add_argument("--no-queue", action="store_true", help="do not wait for other trainings")
    p.add_argument("--local-workers", type=int, default=None, metavar="N",
                   help="train as a cluster of N workers on this machine (multi-worker "
                        "tf.distribute on localhost; the batch size is per worker)")
    p.set_defaults(func=_cli_train)


def _cli_train(args: argparse.Namespace) -> int:
    if not args.corpus and not args.resume:
        raise ValueError("--corpus is required (or --resume an existing run)")
    spec = settings.from_args(TrainSpec, args)
    if args.resume and args.epochs is None:
        spec.epochs = 0  # the run's own
    if args.local_workers is not None:
        return _local_cluster(args, spec)
    run = train(spec, args.run_dir, resume=args.resume, queue=not args.no_queue,
                log=lambda m: print(m, flush=True),
                on_checkpoint=lambda run: checkpoint_reporter(run, lambda m: print(m, flush=True)))
    status = run.status
    if cluster.from_env().chief:
        print(f"{status.get('state')}: {run.path} (epoch {status.get('epoch')})")
    return 0


def _local_cluster(args: argparse.Namespace, spec: TrainSpec) -> int:
    """``--local-workers N``: the same command as N workers of one cluster on this machine."""
    if os.environ.get("TF_CONFIG"):
        raise ValueError("TF_CONFIG is set: this process is already a worker of a cluster; "
                         "leave out --local-workers")
    argv = ["--run-dir", str(args.run_dir), *settings.to_args(spec)]
    argv += ["--resume"] * args.resume + ["--no-queue"] * args.no_queue
    run = Run(args.run_dir)

    def failed(index: int, message: str) -> None:
        # the chief's own message stands when it failed first and said why
        if index != 0 or RunState(run.status.get("state", "unknown")).active:
            with contextlib.suppress(OSError):
                run.write_status(state=RunState.FAILED, message=message)

    code = cluster.run_local(args.local_workers, argv, log=lambda m: print(m, flush=True),
                             on_failure=failed)
    if code:
        raise ValueError(f"the {args.local_workers}-worker job failed: "
                         f"{run.status.get('message') or 'see the output above'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    from core.cli import main
    sys.exit(main(["train", *sys.argv[1:]]))
