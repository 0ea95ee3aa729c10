"""``python -m core corpus list`` and ``python -m core corpus stats SOURCE``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core import corpus
from core.encodings import get_tokenizer


def add_cli(subparsers: Any) -> None:
    parser = subparsers.add_parser("corpus", help="list built-in corpora, inspect a corpus")
    commands = parser.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")

    listing = commands.add_parser("list", help="the built-in corpora")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_list)

    stats = commands.add_parser("stats", help="pieces, notes, duration and tokens of a corpus")
    stats.add_argument("source", help="built-in corpus name, MIDI file, .zip or folder")
    stats.add_argument("--encoding", help="also fit this encoding; report vocabulary and tokens")
    stats.add_argument("--max-pieces", type=int, default=None, metavar="N")
    stats.add_argument("--kind", choices=["melodic", "drums", "all"], default=None,
                       help="tracks to keep (default: the encoding's kind, else melodic)")
    stats.add_argument("--no-cache", action="store_true", help="parse again, ignoring the cache")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(func=_stats)

    prebuild = commands.add_parser(
        "prebuild", help="parse whole built-in corpora into the shipped caches (core/corpus/prebuilt)")
    prebuild.add_argument("names", nargs="*", metavar="NAME",
                          help=f"built-in corpora (default: all of {', '.join(corpus.BUILTIN)})")
    prebuild.add_argument("--reuse-cache", action="store_true",
                          help="take this machine's cache entry of a whole corpus when present")
    prebuild.set_defaults(func=_prebuild)


def _list(args: argparse.Namespace) -> int:
    rows = corpus.list_builtin()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['pieces']:>5} pieces  {r['description']}")
    return 0


def _prebuild(args: argparse.Namespace) -> int:
    for name in args.names or list(corpus.BUILTIN):
        path = corpus.prebuild(name, fresh=not args.reuse_cache, progress=_progress_printer())
        print(f"{name}: {path} ({path.stat().st_size / 2**20:.1f} MB)")
    return 0


def _stats(args: argparse.Namespace) -> int:
    tokenizer = _tokenizer(args.encoding) if args.encoding else None
    kind = args.kind or (tokenizer.instrument_kind if tokenizer else "melodic")
    result = corpus.load(args.source, max_pieces=args.max_pieces, kind=kind,
                         progress=_progress_printer(), use_cache=not args.no_cache)
    report = {"name": result.name, "summary": result.summary(), **result.stats()}
    if tokenizer is not None:
        tokenizer.fit(result.pieces)
        report.update(encoding=args.encoding, size=tokenizer.size_text,
                      vocab_size=getattr(tokenizer, "vocab_size", None),   # None: continuous
                      tokens=int(sum(len(tokenizer.encode(p)) for p in result.pieces)))
    report["skipped_files"] = [{"file": f, "reason": r} for f, r in result.skipped]
    report["repaired_files"] = [{"file": f, "repairs": r} for f, r in result.repaired]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_report(report)
    return 0


def _tokenizer(name: str) -> Any:
    """A new tokenizer, imported only when asked for (the encodings pull in more packages)."""

    return get_tokenizer(name)


def _progress_printer() -> Any:
    """A progress callback drawing one updating line on a terminal's stderr, else nothing."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int, name: str) -> None:
        end = "\n" if done == total else ""
        print(f"\r\033[Kparsing {done}/{total} {name[-50:]}", end=end, file=sys.stderr, flush=True)

    return show


def _print_report(r: dict[str, Any]) -> None:
    print(f"{r['name']}: {r['summary']}")
    print(f"  pieces    {r['pieces']:,}")
    print(f"  notes     {r['notes']:,}")
    print(f"  duration  {r['duration_beats']:,.0f} beats, {r['duration_seconds'] / 3600:.2f} h")
    print(f"  pitches   {r['pitch_min']}..{r['pitch_max']}")
    if "encoding" in r:
        unit = "tokens" if r["vocab_size"] is not None else "steps"
        print(f"  encoding  {r['encoding']}: {r['size']}, {r['tokens']:,} {unit}")
    if r["repaired_files"]:
        print(f"  repaired  {len(r['repaired_files'])} (read as other tools read them):")
        for s in r["repaired_files"]:
            print(f"    {s['file']}: {'; '.join(s['repairs'])}")
    if r["skipped_files"]:
        print(f"  skipped   {len(r['skipped_files'])}:")
        for s in r["skipped_files"]:
            print(f"    {s['file']}: {s['reason']}")
