"""MusicXML export through music21 (imported on first use: it takes a second to load)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pretty_midi

from core.piece import END, PITCH, START, TRACK, VELOCITY
from core.render._music import Music, as_piece

SIXTEENTH = 0.25  # beats


def to_musicxml(music: Music, *, title: str | None = None, time_signature: str = "4/4",
                grid: float = SIXTEENTH) -> bytes:
    """An uncompressed MusicXML file (``.musicxml``) of ``music``, as bytes.

    One part per pitched track, named after its General MIDI instrument. Onsets and ends are
    rounded to ``grid`` beats (default a sixteenth note); a note that would vanish keeps one
    grid step, notes of a track that share onset and end become a chord, and music21 splits
    the rest into measures, ties and voices. Drum tracks are left out, and a line of text
    above the first bar says so. Raises ``ValueError`` when no pitched notes remain.
    """
    from music21 import chord, expressions, instrument, metadata, meter, note, stream, tempo
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    if not grid > 0:
        raise ValueError(f"grid must be a positive number of beats, got {grid!r}")
    piece = as_piece(music)
    pitched = [i for i, t in enumerate(piece.tracks) if not t.is_drum
               and np.any(piece.notes[:, TRACK] == i)]
    if not pitched:
        raise ValueError(f"{piece.name}: no pitched notes to write as a score"
                         + (" (drum tracks are not exported)" if piece.has_drums else ""))

    score = stream.Score()
    composer = str(piece.meta.get("composer") or "Composer Studio")
    score.metadata = metadata.Metadata(title=title or piece.name or "Untitled", composer=composer)
    for n_part, i in enumerate(pitched):
        track = piece.tracks[i]
        part = stream.Part()
        part.partName = track.name or pretty_midi.program_to_instrument_name(track.program)
        part.insert(0, _instrument(instrument, track.program))
        part.insert(0, meter.TimeSignature(time_signature))
        if n_part == 0:
            part.insert(0, tempo.MetronomeMark(number=round(piece.tempo, 1)))
            drums = [t for t in piece.tracks if t.is_drum]
            if drums:
                part.insert(0, expressions.TextExpression(
                    f"{len(drums)} drum track(s) not shown: this score has pitched parts only"))
        for (start, end), keys in _quantized_chords(piece.notes[piece.notes[:, TRACK] == i],
                                                    grid).items():
            element = (note.Note(midi=keys[0][0]) if len(keys) == 1
                       else chord.Chord([note.Note(midi=p) for p, _ in keys]))
            element.quarterLength = end - start
            element.volume.velocity = int(max(v for _, v in keys))
            part.insert(start, element)
        score.insert(0, part)
    # Measures, ties, voices and beams, made in place: the exporter would first copy the score.
    score.makeNotation(inPlace=True)
    exporter = GeneralObjectExporter(score)
    exporter.makeNotation = False
    return exporter.parse()


def _quantized_chords(notes: np.ndarray, grid: float) -> dict[tuple[float, float], list]:
    """Notes grouped by quantized ``(start, end)`` in beats: ``{(start, end): [(pitch, vel)]}``.

    Each group lists a pitch once, in rising order.
    """
    start = np.round(notes[:, START] / grid) * grid
    end = np.maximum(np.round(notes[:, END] / grid) * grid, start + grid)
    groups: dict[tuple[float, float], dict[int, int]] = defaultdict(dict)
    for s, e, p, v in zip(start, end, notes[:, PITCH], notes[:, VELOCITY]):
        keys = groups[(float(s), float(e))]
        keys[int(p)] = max(keys.get(int(p), 0), int(v))
    return {span: sorted(keys.items()) for span, keys in groups.items()}


def _instrument(instrument_module, program: int):
    """The music21 instrument for a General MIDI ``program`` (a plain one if it has none)."""
    try:
        inst = instrument_module.instrumentFromMidiProgram(int(program))
    except Exception:  # music21 has no class for a few programs
        inst = instrument_module.Instrument()
    inst.midiProgram = int(program)
    return inst
