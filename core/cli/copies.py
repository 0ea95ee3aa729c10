"""``python -m core copies FILE.mid --run RUN [--json]``: which notes of a MIDI file come from
which training piece of a run (``core.evaluation.copies``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.corpus import read_midi
from core.evaluation.loaded import loaded


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("copies", help="list the passages of a MIDI file copied from a run's "
                       "training pieces", description=__doc__)
    p.add_argument("midi", type=Path, help="the .mid file to check")
    p.add_argument("--run", required=True, help="run folder (its training pieces are the corpus)")
    p.add_argument("--json", action="store_true", help="print a JSON object (copied_passages, "
                   "copy_rate, ...)")
    p.set_defaults(func=run_cli)


def report(midi: Path, run: str) -> dict:
    """The copy numbers and the copied passages of ``midi`` against ``run``'s training pieces."""
    piece = read_midi(midi)  # a user's file: bounded and sandboxed like every MIDI upload
    index = loaded(run).copy_index  # ValueError with the reason when the corpus is gone
    passages = index.passages(piece)
    return {"file": str(midi), "run": loaded(run).run.name, "n_notes": piece.n_notes,
            **index.copy_stats(piece), "copy_n": index.n,
            "copied_notes": sum(p.notes for p in passages),
            "copied_passages": [p.to_dict() for p in passages]}


def run_cli(args: argparse.Namespace) -> int:
    out = report(args.midi, args.run)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    passages = out["copied_passages"]
    print(f"{out['file']}: {out['n_notes']} notes, {out['copy_rate']:.0%} of its "
          f"{out['copy_n']}-note runs copied from {out['run']}'s training pieces; "
          f"{len(passages)} copied passage{'s' if len(passages) != 1 else ''}")
    for p in passages:
        print(f"  {p['start_s']:7.2f}-{p['end_s']:.2f} s  {p['notes']:4d} notes  {p['label']}")
    return 0
