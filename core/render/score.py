"""MusicXML export through music21 (imported on first use: it takes a second to load)."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from typing import Any

import numpy as np
import pretty_midi

from core.piece import END, PITCH, START, TRACK, VELOCITY
from core.render import staves
from core.render._music import Music, as_piece

SIXTEENTH = 0.25  # beats
GRIDS = tuple(2.0 ** -k for k in range(6))  # 1 beat down to 1/32 beat (a 128th note)
LONGEST_VALUE = 8.0  # beats: a breve, the longest single note value written
NOTE_CLASSES = ["C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B"]

# A chord of one track as ``(start, end, ((pitch, velocity), ...))``, times in grid steps.
Chord = tuple[int, int, tuple[tuple[int, int], ...]]


def to_musicxml(music: Music, *, title: str | None = None, model: str | None = None,
                time_signature: str = "4/4", grid: float = SIXTEENTH) -> bytes:
    """An uncompressed MusicXML file (``.musicxml``) of ``music``, as bytes.

    One part per track, named after its General MIDI instrument, with the title (``title``,
    else the piece's name) and ``model`` (the model that wrote it) as its composer. Onsets and
    ends are rounded to ``grid`` beats (default a sixteenth note; one of 1, 1/2, ... 1/32
    beat); a note that would vanish keeps one grid step, and notes of a track that share onset
    and end become a chord. Pitched parts carry the key (Krumhansl-Schmuckler) and are laid out
    by ``core.render.staves``: a four-part chorale on two staves with voices, a wide polyphonic
    track on a grand staff, else one staff; drum tracks go on a percussion staff. Overlapping
    chords go to separate voices; every note and rest is cut at bar lines and into written
    values (dotted or plain), joined by ties. Raises ``ValueError`` when no notes remain, for a
    grid or time signature that cannot be written, and when music21 cannot write the score.
    """
    from music21 import key, layout, metadata, meter, stream, tempo

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
    used = [i for i in range(len(piece.tracks)) if np.any(piece.notes[:, TRACK] == i)]
    if not used:
        raise ValueError(f"{piece.name}: no notes to write as a score")

    chords = {i: _quantized_chords(piece.notes[piece.notes[:, TRACK] == i], grid) for i in used}
    bars = -(-max(end for track in chords.values() for _, end, _ in track) // bar)
    pitched = piece.notes[~piece.drum_mask()]
    tonic, mode = staves.key_of(pitched[:, PITCH], pitched[:, END] - pitched[:, START])
    score = stream.Score()
    composer = model or str(piece.meta.get("composer") or "Composer Studio")
    score.metadata = metadata.Metadata(title=title or piece.name or "Untitled", composer=composer)
    try:
        for n_part, i in enumerate(used):
            track = piece.tracks[i]
            name = track.name or ("Drums" if track.is_drum
                                  else pretty_midi.program_to_instrument_name(track.program))
            layout_ = ([staves.Staff(staves.voices(chords[i]), "percussion")] if track.is_drum
                       else staves.staves(chords[i], track.program))
            written = []
            for n_staff, staff in enumerate(layout_):
                heading: list[Any] = [_instrument(track), meter.TimeSignature(time_signature)]
                if not track.is_drum:
                    heading.append(key.Key(NOTE_CLASSES[tonic], mode))
                if n_part == 0 and n_staff == 0:
                    heading.append(tempo.MetronomeMark(number=round(piece.tempo, 1)))
                kind = stream.PartStaff if len(layout_) > 1 else stream.Part
                part = _part(staff, bar, bars, grid, heading, kind, drums=track.is_drum)
                part.partName = name
                written.append(part)
            for part in written:
                score.insert(0, part)
            if len(written) > 1:
                score.insert(0, layout.StaffGroup(written, name=name, symbol="brace",
                                                  barTogether=True))
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


def _part(staff: staves.Staff, bar: int, bars: int, grid: float, heading: list[Any], kind,
          drums: bool = False):
    """A ``music21`` part (``kind``: ``Part`` or ``PartStaff``) of ``bars`` measures of ``bar``
    grid steps each: the staff's voices cut and tied; ``heading`` (instrument, time signature,
    key...) and the clef open the first bar. ``drums``: unpitched notes on a percussion staff."""
    from music21 import clef, stream

    # Per voice and bar: (offset, length, keys or None for a rest, tie type), in grid steps.
    voices = staff.voices
    cells: list[list[list[tuple]]] = [[[] for _ in range(bars)] for _ in voices]
    has_notes = np.zeros((len(voices), bars), bool)
    for v, voice in enumerate(voices):
        at = 0
        for start, end, keys in voice + [(bars * bar, bars * bar, None)]:
            for b, offset, length in _cut(at, start, bar, grid):  # the rest before the chord
                cells[v][b].append((offset, length, None, None))
            pieces = _cut(start, end, bar, grid)
            for k, (b, offset, length) in enumerate(pieces):
                kind_ = (None if len(pieces) == 1 else "start" if k == 0
                         else "stop" if k == len(pieces) - 1 else "continue")
                cells[v][b].append((offset, length, keys, kind_))
                has_notes[v, b] = True
            at = end

    part = kind()
    shown = bool(staff.stems)  # a chorale's voices: both always shown, stems apart
    for b in range(bars):
        measure = stream.Measure(number=b + 1)
        # every voice in every bar (a silent one as a hidden rest), so voice numbers stay the
        # same from bar to bar and staff to staff, and ties join within a voice
        for v in range(len(voices)):
            holder = measure if len(voices) == 1 else stream.Voice(id=str(v + 1))
            stem = staff.stems[v] if v < len(staff.stems) else None
            hidden = not (shown or v == 0 or has_notes[v, b])
            for offset, length, keys, tie_kind in cells[v][b]:
                item = _element(length * grid, keys, tie_kind, stem, drums)
                item.style.hideObjectOnPrint = hidden
                holder.insert(offset * grid, item)
            if holder is not measure:
                measure.insert(0, holder)
        part.append(measure)
    first = part.getElementsByClass(stream.Measure).first()
    chosen = {"treble": clef.TrebleClef, "bass": clef.BassClef,
              "percussion": clef.PercussionClef}.get(staff.clef)
    for item in heading + [chosen() if chosen else clef.bestClef(part, recurse=True)]:
        first.insert(0, item)
    return part


def _element(length: float, keys, tie_kind: str | None, stem: str | None, drums: bool):
    """One written note, chord or rest of ``length`` beats (``keys``: its (pitch, velocity)s,
    ``None`` for a rest); drum keys become unpitched notes at their percussion-staff place."""
    from music21 import chord, note, percussion, tie

    if keys is None:
        out = note.Rest()
    elif drums:
        heads = []
        for pitch, _ in keys:
            step, octave, head = staves.drum_position(pitch)
            n = note.Unpitched(displayName=f"{step}{octave}")
            n.notehead = head
            heads.append(n)
        out = heads[0] if len(heads) == 1 else percussion.PercussionChord(heads)
    elif len(keys) == 1:
        out = note.Note(midi=keys[0][0])
    else:
        out = chord.Chord([note.Note(midi=p) for p, _ in keys])
    out.quarterLength = length
    if keys is not None:
        out.volume.velocity = max(v for _, v in keys)
        if tie_kind:
            out.tie = tie.Tie(tie_kind)
        if stem:
            out.stemDirection = stem
    return out


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


def _instrument(track):
    """The music21 instrument for a track's General MIDI program (a plain one if it has none;
    a drum kit on MIDI channel 10 for drums)."""
    from music21 import instrument

    if track.is_drum:
        inst = instrument.UnpitchedPercussion()
        inst.midiChannel = 9
        return inst
    try:
        inst = instrument.instrumentFromMidiProgram(int(track.program))
    except Exception:  # music21 has no class for a few programs
        inst = instrument.Instrument()
    inst.midiProgram = int(track.program)
    return inst
