"""MusicXML export through music21 (imported on first use: it takes a second to load)."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from typing import Any

import numpy as np
import pretty_midi

from core.piece import END, PITCH, START, TRACK, VELOCITY
from core.render._music import Music, as_piece

SIXTEENTH = 0.25  # beats
GRIDS = tuple(2.0 ** -k for k in range(6))  # 1 beat down to 1/32 beat (a 128th note)
LONGEST_VALUE = 8.0  # beats: a breve, the longest single note value written

# A chord of one track as ``(start, end, ((pitch, velocity), ...))``, times in grid steps.
Chord = tuple[int, int, tuple[tuple[int, int], ...]]


def to_musicxml(music: Music, *, title: str | None = None, time_signature: str = "4/4",
                grid: float = SIXTEENTH) -> bytes:
    """An uncompressed MusicXML file (``.musicxml``) of ``music``, as bytes.

    One part per pitched track, named after its General MIDI instrument. Onsets and ends are
    rounded to ``grid`` beats (default a sixteenth note; one of 1, 1/2, ... 1/32 beat); a note
    that would vanish keeps one grid step, and notes of a track that share onset and end become
    a chord. Overlapping chords go to separate voices; every note and rest is cut at bar lines
    and into written values (dotted or plain), joined by ties. Drum tracks are left out, and a
    line of text above the first bar says so. Raises ``ValueError`` when no pitched notes remain,
    for a grid or time signature that cannot be written, and when music21 cannot write the score.
    """
    from music21 import expressions, metadata, meter, stream, tempo

    if grid not in GRIDS:
        raise ValueError(f"grid must be 1, 1/2, 1/4, 1/8, 1/16 or 1/32 beat, got {grid!r}")
    try:
        signature = meter.TimeSignature(time_signature)
        bar_beats = Fraction(signature.barDuration.quarterLength)
    except Exception as e:  # music21 raises its own kinds on text it cannot read
        raise ValueError(f"time signature {time_signature!r} cannot be read ({e})") from None
    if bar_beats <= 0 or (bar_beats / Fraction(grid)).denominator != 1:
        raise ValueError(f"a bar of {time_signature} is not a whole number of {grid:g}-beat steps")
    bar = int(bar_beats / Fraction(grid))
    piece = as_piece(music)
    pitched = [i for i, t in enumerate(piece.tracks) if not t.is_drum
               and np.any(piece.notes[:, TRACK] == i)]
    if not pitched:
        raise ValueError(f"{piece.name}: no pitched notes to write as a score"
                         + (" (drum tracks are not exported)" if piece.has_drums else ""))

    chords = {i: _quantized_chords(piece.notes[piece.notes[:, TRACK] == i], grid) for i in pitched}
    bars = -(-max(end for track in chords.values() for _, end, _ in track) // bar)
    score = stream.Score()
    composer = str(piece.meta.get("composer") or "Composer Studio")
    score.metadata = metadata.Metadata(title=title or piece.name or "Untitled", composer=composer)
    try:
        for n_part, i in enumerate(pitched):
            track = piece.tracks[i]
            heading: list[Any] = [_instrument(track.program), meter.TimeSignature(time_signature)]
            if n_part == 0:
                heading.append(tempo.MetronomeMark(number=round(piece.tempo, 1)))
                drums = [t for t in piece.tracks if t.is_drum]
                if drums:
                    heading.append(expressions.TextExpression(
                        f"{len(drums)} drum track(s) not shown: this score has pitched parts only"))
            part = _part(chords[i], bar, bars, grid, heading)
            part.partName = track.name or pretty_midi.program_to_instrument_name(track.program)
            score.insert(0, part)
        return _export(score)
    except ValueError:
        raise
    except Exception as e:  # music21 raises many kinds; callers get one, with the reason
        raise ValueError(f"{piece.name}: music21 cannot write this score as MusicXML "
                         f"({type(e).__name__}: {e})") from e


def _quantized_chords(notes: np.ndarray, grid: float) -> list[Chord]:
    """Notes as chords on the grid, sorted: ``(start, end, ((pitch, velocity), ...))`` in grid
    steps, notes that share quantized onset and end grouped, each pitch once (loudest velocity),
    rising. A note shorter than half a step keeps one step."""
    start = np.round(notes[:, START] / grid).clip(0).astype(np.int64)
    end = np.maximum(np.round(notes[:, END] / grid).astype(np.int64), start + 1)
    groups: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for s, e, p, v in zip(start.tolist(), end.tolist(), notes[:, PITCH], notes[:, VELOCITY]):
        keys = groups[(s, e)]
        keys[int(p)] = max(keys.get(int(p), 0), int(v))
    return sorted((s, e, tuple(sorted(keys.items()))) for (s, e), keys in groups.items())


def _voices(chords: list[Chord]) -> list[list[Chord]]:
    """Chords dealt into voices that never overlap: each, in onset order, joins the first voice
    that is silent by then (as few voices as the most chords sounding at once)."""
    voices: list[list[Chord]] = []
    for c in chords:
        for voice in voices:
            if voice[-1][1] <= c[0]:
                voice.append(c)
                break
        else:
            voices.append([c])
    return voices


def _values(steps: int, grid: float) -> list[int]:
    """Written note values that fill ``steps`` grid steps, longest first (greedy over plain and
    dotted values from a breve down to the grid step)."""
    plain = [2 ** k for k in range(int(np.log2(LONGEST_VALUE / grid)), -1, -1)]
    allowed = sorted({v for v in plain} | {v * 3 // 2 for v in plain if v >= 2}, reverse=True)
    out = []
    for v in allowed:
        while steps >= v:
            out.append(v)
            steps -= v
    return out


def _cut(start: int, end: int, bar: int, grid: float) -> list[tuple[int, int, int]]:
    """``[start, end)`` (grid steps) cut at bar lines and into written values:
    ``[(bar index, offset in the bar, length)]`` in steps."""
    out = []
    while start < end:
        index, offset = divmod(start, bar)
        room = min(end - start, bar - offset)
        for length in _values(room, grid):
            out.append((index, offset, length))
            offset += length
        start += room
    return out


def _part(chords: list[Chord], bar: int, bars: int, grid: float, heading: list[Any]):
    """A ``music21.stream.Part`` of ``bars`` measures of ``bar`` grid steps each: the chords
    voiced, cut and tied; ``heading`` (instrument, time signature, ...) opens the first one."""
    from music21 import chord, clef, note, stream, tie

    # Per voice and bar: (offset, length, keys or None for a rest, tie type), in grid steps.
    voices = _voices(chords)
    cells: list[list[list[tuple]]] = [[[] for _ in range(bars)] for _ in voices]
    has_notes = np.zeros((len(voices), bars), bool)
    for v, voice in enumerate(voices):
        at = 0
        for start, end, keys in voice + [(bars * bar, bars * bar, None)]:
            for b, offset, length in _cut(at, start, bar, grid):  # the rest before the chord
                cells[v][b].append((offset, length, None, None))
            pieces = _cut(start, end, bar, grid)
            for k, (b, offset, length) in enumerate(pieces):
                kind = (None if len(pieces) == 1 else "start" if k == 0
                        else "stop" if k == len(pieces) - 1 else "continue")
                cells[v][b].append((offset, length, keys, kind))
                has_notes[v, b] = True
            at = end

    def element(length: int, keys, kind):
        if keys is None:
            out = note.Rest()
        elif len(keys) == 1:
            out = note.Note(midi=keys[0][0])
        else:
            out = chord.Chord([note.Note(midi=p) for p, _ in keys])
        out.quarterLength = length * grid
        if keys is not None:
            out.volume.velocity = max(v for _, v in keys)
            if kind:
                out.tie = tie.Tie(kind)
        return out

    part = stream.Part()
    for b in range(bars):
        measure = stream.Measure(number=b + 1)
        # voice numbers stay the same from bar to bar, so ties join within a voice
        voiced = [0] + [v for v in range(1, len(voices)) if has_notes[v, b]]
        for v in voiced:
            holder = measure if len(voiced) == 1 else stream.Voice(id=str(v + 1))
            for offset, length, keys, kind in cells[v][b]:
                holder.insert(offset * grid, element(length, keys, kind))
            if holder is not measure:
                measure.insert(0, holder)
        part.append(measure)
    first = part.getElementsByClass(stream.Measure).first()
    for item in heading + [clef.bestClef(part, recurse=True)]:
        first.insert(0, item)
    return part


def _export(score) -> bytes:
    """MusicXML bytes of a score whose parts are already measures of written values."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter
    from music21.stream import makeNotation

    for part in score.parts:
        makeNotation.makeAccidentalsInMeasureStream(part)
        try:
            part.makeBeams(inPlace=True)
        except Exception:  # beams are cosmetic: flags read the same, so write the score without
            pass
    exporter = GeneralObjectExporter(score)
    exporter.makeNotation = False  # measures, ties and voices are made above
    return exporter.parse()


def _instrument(program: int):
    """The music21 instrument for a General MIDI ``program`` (a plain one if it has none)."""
    from music21 import instrument

    try:
        inst = instrument.instrumentFromMidiProgram(int(program))
    except Exception:  # music21 has no class for a few programs
        inst = instrument.Instrument()
    inst.midiProgram = int(program)
    return inst
