"""``python -m core gallery``: list, build or refresh the shipped runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.training.gallery import SHIPPED, build, package
from core.paths import SHIPPED_RUNS
from core.runs import Run


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gallery", help="list or rebuild the shipped gallery runs")
    gsub = p.add_subparsers(dest="gallery_command", required=True)
    ls = gsub.add_parser("list", help="list the shipped runs")
    ls.set_defaults(func=_cli_list)
    b = gsub.add_parser("build", help="retrain shipped runs from their config and seed")
    b.add_argument("names", nargs="*", help=f"runs to build (default: all of {', '.join(SHIPPED)})")
    b.add_argument("--groove", help="path to the Groove MIDI Dataset (default ../shared/data/groove)")
    b.add_argument("--out", type=Path, default=SHIPPED_RUNS, help="where to put the runs")
    b.set_defaults(func=_cli_build)
    r = gsub.add_parser("refresh", help="regenerate samples, metrics and model cards (no training)")
    r.add_argument("names", nargs="*", help="runs to refresh (default: all built ones)")
    r.add_argument("--out", type=Path, default=SHIPPED_RUNS)
    r.set_defaults(func=_cli_refresh)


def _cli_list(args: argparse.Namespace) -> int:
    for name, (spec, desc) in SHIPPED.items():
        run = Run(SHIPPED_RUNS / name)
        have = f"{len(run.epochs())} checkpoints" if run.exists else "not built"
        print(f"{name:24s} {have:16s} {desc}")
    return 0


def _cli_build(args: argparse.Namespace) -> int:
    for name in args.names or list(SHIPPED):
        run = build(name, groove=args.groove, out_root=args.out, log=lambda m: print(m, flush=True))
        print(f"built {run.path} ({len(run.epochs())} checkpoints)")
    return 0


def _cli_refresh(args: argparse.Namespace) -> int:
    for name in args.names or [n for n in SHIPPED if Run(args.out / n).exists]:
        package(Run(args.out / name), name=name)
        print(f"refreshed {args.out / name}")
    return 0
