"""``python -m core jobs``: list or stop background training jobs."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.training.jobs import list_jobs, state, stop


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="list or stop background training jobs")
    jsub = p.add_subparsers(dest="jobs_command", required=True)
    ls = jsub.add_parser("list", help="list training jobs and their state")
    ls.add_argument("--root", type=Path, help="runs folder (default: the user data folder)")
    ls.set_defaults(func=_cli_list)
    st = jsub.add_parser("stop", help="ask a running job to save and stop")
    st.add_argument("run_dir")
    st.add_argument("--wait", type=float, default=60.0, help="seconds to wait for it (default 60)")
    st.set_defaults(func=_cli_stop)


def _cli_list(args: argparse.Namespace) -> int:
    for run, st in list_jobs(args.root):
        s = run.status
        print(f"{st:12s} epoch {s.get('epoch', 0)}/{s.get('epochs', '?'):<4} {run.path}  {s.get('message', '')}")
    return 0


def _cli_stop(args: argparse.Namespace) -> int:
    run = stop(args.run_dir, wait=args.wait)
    print(f"{state(run)}: {run.path}")
    return 0

