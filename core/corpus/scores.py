"""Read music21's bundled MusicXML, ABC and Humdrum files into pieces (runs in workers).

music21 is used only to read these files; its streams are turned into a :class:`Piece`
directly from their notes and chords: offsets in quarter lengths are beats, one track per
part, tied notes merged into one, tempo from the first metronome mark (else 120 bpm), a fixed
velocity (scores have dynamics marks, not velocities). Repeats are not expanded and grace
notes (no duration) are dropped.

MusicXML is the costly format, so it goes through music21's importer after the parts of the
XML tree that cannot change a note (lyrics, layout, beams, articulations, words) are removed:
about a third less work per Bach chorale. This module imports music21; import it lazily.
"""

from __future__ import annotations

import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
from music21 import abcFormat, chord, converter, instrument, note, stream, tempo
from music21.abcFormat import translate as abc_translate
from music21.musicxml import xmlToM21

from core.piece import Piece, Track

#: MIDI velocity given to every score note (mezzo-forte).
SCORE_VELOCITY = 80
DEFAULT_TEMPO = 120.0
_MUSICXML_SUFFIXES = (".mxl", ".xml", ".musicxml")
# Children of <note> that decide its pitch, timing, voice or tie; the rest is engraving.
_NOTE_TAGS = frozenset({"pitch", "unpitched", "rest", "duration", "chord", "tie", "grace",
                        "cue", "voice", "staff", "instrument", "time-modification", "type",
                        "dot", "notations"})
# Children of <attributes> that change timing or sounding pitch; key and clef do not (a
# MusicXML <pitch> spells its own alterations).
_ATTRIBUTE_TAGS = frozenset({"divisions", "time", "transpose", "staves", "instruments"})


def read_score(path: str | Path) -> stream.Score:
    """A music21 score from a MusicXML, Humdrum or single-tune ABC file (never pickled)."""
    path = Path(path)
    if path.suffix.lower() in _MUSICXML_SUFFIXES:
        root = ET.fromstring(_musicxml_bytes(path))
        _drop_engraving(root)
        score = xmlToM21.MusicXMLImporter().xmlRootToScore(root)
        return score.toSoundingPitch() if score.atSoundingPitch is False else score
    c = converter.Converter()
    c.parseFileNoPickle(path, forceSource=True)
    return c.stream


def read_abc_tunes(path: str | Path, limit: int | None = None) -> list[tuple[int | None, Any]]:
    """``(reference number, score)`` for each tune of an ABC file, at most ``limit`` of them.

    Tunes come from music21's opus parsing (one score per ``X:`` number). A tune that fails
    to parse gives ``(number, exception)`` instead of a score, so one bad tune is one skip.
    """
    abc_file = abcFormat.ABCFile()
    abc_file.open(str(path))
    handler = abc_file.read()
    abc_file.close()
    tunes = (sorted(handler.splitByReferenceNumber().items(), key=lambda kv: kv[0] or 0)
             if handler.definesReferenceNumbers() else [(None, handler)])
    out: list[tuple[int | None, Any]] = []
    for number, tune in tunes[:limit]:
        try:
            out.append((number, abc_translate.abcToStreamScore(tune)))
        except Exception as e:  # music21's ABC reader fails on some tunes; keep the others
            out.append((number, e))
    return out


def _musicxml_bytes(path: Path) -> bytes:
    """The score document of a ``.mxl`` archive, or the bytes of a plain MusicXML file."""
    if path.suffix.lower() != ".mxl":
        return path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist()
                 if not n.startswith("META-INF") and n.lower().endswith((".xml", ".musicxml"))]
        if not names:
            raise ValueError(f"{path.name}: no MusicXML document inside")
        return zf.read(names[0])


def _drop_engraving(root: ET.Element) -> None:
    """Remove, in place, the MusicXML elements that cannot change any note's pitch or time."""
    for measure in root.iter("measure"):
        for el in list(measure):
            if el.tag in ("print", "barline", "harmony", "figured-bass"):
                measure.remove(el)
            elif el.tag == "direction" and el.find(".//metronome") is None \
                    and el.find(".//sound[@tempo]") is None:
                measure.remove(el)
            elif el.tag == "note":
                _drop_note_engraving(el)
            elif el.tag == "attributes":
                for child in list(el):
                    if child.tag not in _ATTRIBUTE_TAGS:
                        el.remove(child)


def _drop_note_engraving(el: ET.Element) -> None:
    el.attrib.clear()
    for child in list(el):
        if child.tag not in _NOTE_TAGS:
            el.remove(child)
        elif child.tag == "notations":
            for mark in list(child):
                if mark.tag != "tied":
                    child.remove(mark)


# --- music21 stream -> Piece --------------------------------------------------------------
def score_to_piece(score: stream.Stream, name: str, meta: dict[str, Any]) -> Piece:
    """A piece with one track per part that has notes; raises ``ValueError`` if none has."""
    parts = list(score.parts) if isinstance(score, stream.Score) else []
    tracks: list[Track] = []
    rows: list[np.ndarray] = []
    bpm: float | None = None
    for part in parts or [score]:
        events: list[tuple[float, float, int, str | None]] = []
        found: dict[str, Any] = {}
        _collect(part, 0.0, events, found)
        bpm = bpm or found.get("tempo")
        notes = np.array(_merge_ties(events), dtype=np.float64).reshape(-1, 3)
        if len(notes):
            extra = np.tile([SCORE_VELOCITY, len(tracks)], (len(notes), 1))
            rows.append(np.hstack([notes, extra]))
            tracks.append(Track(found.get("program", 0), False, _part_name(part)))
    if not rows:
        raise ValueError("no notes")
    return Piece(name, np.concatenate(rows), tracks, bpm or DEFAULT_TEMPO, meta)


def _collect(s: stream.Stream, base: float, events: list, found: dict[str, Any]) -> None:
    """Append ``(start, duration, midi pitch, tie type)`` for every sounding note under ``s``.

    ``base`` is the beat at which ``s`` starts. Also records in ``found`` the first
    instrument's MIDI ``program`` and the first metronome mark's ``tempo`` (quarter-note bpm).
    """
    for el in s.elements:
        start = base + float(s.elementOffset(el))
        if isinstance(el, stream.Stream):
            _collect(el, start, events, found)
        elif isinstance(el, note.Note):
            if el.quarterLength > 0:
                events.append((start, float(el.quarterLength), int(el.pitch.midi), _tie(el)))
        elif isinstance(el, chord.Chord):
            length = float(el.quarterLength)
            if length > 0:
                events += [(start, length, int(n.pitch.midi), _tie(n) or _tie(el))
                           for n in el.notes]
        elif isinstance(el, tempo.MetronomeMark):
            bpm = el.getQuarterBPM()
            if bpm:
                found.setdefault("tempo", float(bpm))
        elif isinstance(el, instrument.Instrument) and el.midiProgram is not None:
            found.setdefault("program", int(el.midiProgram))


def _tie(n: Any) -> str | None:
    return n.tie.type if n.tie is not None else None


def _merge_ties(events: list[tuple[float, float, int, str | None]]) -> list[list[float]]:
    """``[start, end, pitch]`` rows with each chain of tied notes merged into one note."""
    notes: list[list[float]] = []
    open_ties: dict[int, int] = {}  # pitch -> row of the note a tie continues
    for start, length, pitch, tie in sorted(events, key=lambda e: e[0]):
        row = open_ties.pop(pitch, None)
        if tie in ("stop", "continue") and row is not None and abs(notes[row][1] - start) < 1e-6:
            notes[row][1] = start + length
        else:
            row = len(notes)
            notes.append([start, start + length, pitch])
        if tie in ("start", "continue"):
            open_ties[pitch] = row
    return notes


def _part_name(part: stream.Stream) -> str:
    return str(getattr(part, "partName", None) or "")
