"""``python -m core generate``: MIDI (and WAV) from a trained run.

The sampling options are :class:`core.settings.SamplingSettings`'s fields; the work is
``core.generation.compose.compose``, the same path as the app's Compose button.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core import atomic, settings
from core.evaluation.loaded import loaded
from core.generation.compose import compose
from core.generation.generate import PRIMERS, Generator
from core.settings import SamplingSettings


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate MIDI (and WAV) from a trained run")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("--epoch", type=int, help="checkpoint epoch (default: best, else latest)")
    settings.add_arguments(p, SamplingSettings)
    p.add_argument("--primer", choices=PRIMERS, help="default: text/midi when given, else note "
                   "(none: noise alone, for the C-RNN-GAN)")
    p.add_argument("--primer-text", help='notes like "C4 E4 G4" or token names')
    p.add_argument("--primer-midi", help="MIDI file to continue")
    p.add_argument("--primer-note", help="the single note primer, e.g. C4 or 60")
    p.add_argument("--primer-length", type=int, help="tokens of a corpus or MIDI primer")
    p.add_argument("--drop-primer", action="store_true",
                   help="leave the primer out of the output (a corpus primer always is)")
    p.add_argument("--out", required=True, help="output .mid (OUT_1.mid ... with --variations)")
    p.add_argument("--wav", help="also render a .wav (numbered like --out)")
    p.add_argument("--json", action="store_true", help="print a JSON object: each piece's file, "
                   "copy and loop numbers and copied_passages")
    p.set_defaults(func=_cli_generate)


def _cli_generate(args: argparse.Namespace) -> int:
    kind = args.primer or ("text" if args.primer_text else "midi" if args.primer_midi else "note")
    note = args.primer_note
    if note is not None and note.isdigit():
        note = int(note)
    sampling = settings.from_args(SamplingSettings, args)
    gen = Generator.from_run(args.run, args.epoch)
    index, problem = _copy_index(args.run)
    made, result = compose(gen, Path(args.run).name, audio=bool(args.wav), **sampling.to_dict(),
                           with_metrics=True, copy_index=index,
                           primer=kind, primer_text=args.primer_text, primer_midi=args.primer_midi,
                           primer_note=note, primer_length=args.primer_length,
                           include_primer=False if args.drop_primer else None)
    pieces = []
    for i, c in enumerate(made):
        out = numbered(Path(args.out), i, len(made))
        atomic.write_bytes(out, c.midi)
        pieces.append({"midi": str(out), **c.metrics})
        line = (f"wrote {out}: {c.generated_tokens} {result.unit} after a {result.primer_length}-"
                f"{result.unit[:-1]} "
                f"primer, {c.piece.n_notes} notes, {c.piece.duration_seconds:.1f} s")
        if args.wav:
            wav = numbered(Path(args.wav), i, len(made))
            atomic.write_bytes(wav, c.wav)
            line += f"; {wav}"
            pieces[-1]["wav"] = str(wav)
        if not args.json:
            print(line)
            for p in c.passages:
                print(f"  copied {p.start_s:.2f}-{p.end_s:.2f} s: {p.label()}")
    if args.json:
        print(json.dumps({"run": Path(args.run).name, "seed": result.seed,
                          "copies_problem": problem, "pieces": pieces}, indent=2))
        return 0
    if problem:
        print(f"copies not checked: {problem}")
    print(f"generated {result.generated_tokens} {result.unit} in {result.elapsed_s:.2f} s "
          f"(seed {result.seed})")
    return 0


def _copy_index(run: str):
    """The run's copy index, or ``None`` and why (its corpus can no longer be loaded)."""
    try:
        return loaded(run).copy_index, None
    except ValueError as e:
        return None, str(e)


def numbered(path: Path, i: int, count: int) -> Path:
    """``out.mid`` for one piece; ``out_1.mid``, ``out_2.mid``, ... for several."""
    return path if count == 1 else path.with_name(f"{path.stem}_{i + 1}{path.suffix}")
