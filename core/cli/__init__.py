"""``python -m core``: the command-line interface.

Each command lives in its own module with an ``add_cli(subparsers)`` function; this one wires
them together and turns errors into one-line messages (``COMPOSER_DEBUG=1`` shows tracebacks).
"""

from __future__ import annotations

import argparse
import os
import sys

from core.cli import copies, corpus, evaluate, gallery, generate, jobs, render, train

# in the order they appear in --help
COMMANDS = [corpus, train, jobs, generate, evaluate, copies, render, gallery]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Composer Studio CLI")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a user sees one clear line, never a traceback
        if os.environ.get("COMPOSER_DEBUG"):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
