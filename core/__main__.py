"""``python -m core``: the command-line interface.

Each feature module contributes its own sub-commands through an ``add_cli(subparsers)``
function; this file only wires them together and turns errors into one-line messages.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Modules that add sub-commands, in the order they appear in --help.
CLI_MODULES = ["core.corpus", "core.train", "core.jobs", "core.generate", "core.evaluate", "core.render",
               "core.gallery"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Composer Studio CLI")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in CLI_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # feature not built yet
                continue
            raise
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


if __name__ == "__main__":
    sys.exit(main())
