"""``python -m core render``: a MIDI file to WAV, MusicXML, sheet music and a piano-roll page."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core import atomic
from core.corpus import read_midi
from core.render import describe_backend, piano_roll, render_audio, score_page, to_musicxml


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("render", help="render a MIDI file to WAV / MusicXML / sheet music "
                              "/ piano roll",
                              description=__doc__)
    p.add_argument("midi", type=Path, help="input .mid file")
    p.add_argument("--wav", type=Path, help="write audio here (16-bit PCM WAV)")
    p.add_argument("--musicxml", type=Path, help="write a MusicXML score here")
    p.add_argument("--score", type=Path, help="write the sheet music (engraved by Verovio) as a "
                   "standalone HTML page")
    p.add_argument("--roll", type=Path, help="write the piano roll as a standalone HTML page")
    p.add_argument("--sample-rate", type=int, default=44100, help="Hz (default 44100)")
    p.add_argument("--backend", choices=["auto", "fluidsynth", "simple"], default="auto")
    p.add_argument("--soundfont", type=Path, help="override the soundfont resolution order")
    p.add_argument("--info", action="store_true", help="print the audio backend as JSON")
    p.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    if args.info:
        print(json.dumps(describe_backend(), indent=2))
    if not (args.wav or args.musicxml or args.score or args.roll):
        return 0
    pm = read_midi(args.midi)  # a user's file: bounded and sandboxed like every MIDI upload
    for repair in pm.meta.get("repairs", []):
        print(f"{args.midi}: repaired: {repair}", file=sys.stderr)
    if args.wav:
        audio = render_audio(pm, args.sample_rate, backend=args.backend, soundfont=args.soundfont)
        atomic.write_bytes(args.wav, audio.wav_bytes())
        print(f"{args.wav}: {audio.duration:.1f} s, {audio.backend}"
              + (f" (warning: {audio.warning})" if audio.warning else ""))
    musicxml = to_musicxml(pm, title=args.midi.stem) if args.musicxml or args.score else None
    if args.musicxml:
        atomic.write_bytes(args.musicxml, musicxml)
        print(f"{args.musicxml}: MusicXML")
    if args.score:
        atomic.write_text(args.score, score_page(musicxml))
        print(f"{args.score}: sheet music")
    if args.roll:
        atomic.write_text(args.roll, piano_roll(pm, title=args.midi.stem).to_html())
        print(f"{args.roll}: piano roll")
    return 0
