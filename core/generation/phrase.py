"""A phrase played on a keyboard, as a primer, and the answer a model gives to it.

The browser keyboard (``app_ui.keyboard``) records what a person plays as notes in **seconds**
(``[pitch, start, end, velocity]``), with the tempo of its click track. :func:`played_phrase`
turns that into a :class:`Piece` in beats that a model's encoding can say, within bounds:

- an empty phrase is refused with a message (``ValueError``);
- more than ``MAX_NOTES`` notes: the last ``MAX_NOTES`` are kept (the model continues from
  where the person stopped);
- a note held longer than ``MAX_NOTE_BEATS`` is shortened to it, and a silence longer than
  ``MAX_GAP_BEATS`` too (a phrase never spans minutes of nothing);
- a pitch the encoding cannot say is moved by octaves to the nearest one it can (a drum sound
  it does not know is left out), and a pitch outside MIDI's 0..127 is left out.

Each such change is a notice (a plain sentence) in :attr:`Phrase.notices`. The piece goes
through the same primer path as a MIDI file (``Primers.primer("phrase", piece=...)``: the
encoding's ``encode`` quantises it to its grid). :func:`answer_piece` splits a result into
the phrase (as the model read it) and the model's answer, two tracks of one piece, so a roll
draws them in two colours and MIDI, WAV and MusicXML hold both.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from core.piece import END, PITCH, START, TRACK, Piece, Track
from core.render.pianoroll import DRUM_NAMES, NOTE_NAMES

MAX_NOTES = 256          # notes kept of a longer phrase (its last ones)
MAX_NOTE_BEATS = 8.0     # a note held longer is shortened to two bars of 4/4
MAX_GAP_BEATS = 8.0      # a longer silence between two notes is shortened to this
MIN_NOTE_SECONDS = 0.05  # a tap shorter than this lasts this long
MAX_PAYLOAD = 10_000     # entries read from a browser at most (the rest are not looked at)
TEMPO_RANGE = (30.0, 300.0)
PHRASE_TRACK = "you played"
ANSWER_TRACK = "the model answered"
DRUM_KEYS = range(35, 82)  # General MIDI's percussion map (Acoustic Bass Drum .. Open Triangle)


@dataclass
class Phrase:
    """What was played, ready to prime a model: ``piece`` (beats, one track) and what was
    changed to get there, as sentences."""

    piece: Piece
    notices: list[str] = field(default_factory=list)


def played_phrase(notes: Sequence[Sequence[float]] | Any, tokenizer: Any, *, tempo: float = 120.0,
                  click_start: float | None = None, program: int = 0) -> Phrase:
    """The phrase in ``notes`` (``[pitch, start_s, end_s, velocity]`` each, seconds from any
    origin) as a one-track piece at ``tempo`` bpm that ``tokenizer`` can encode.

    Without a click track the first note starts the piece; with one (``click_start``: the
    time of its first click, same clock as the notes) the piece starts on the beat before the
    first note, so an off-beat start stays off the beat. Drums when ``tokenizer`` is a drum
    encoding. Raises ``ValueError`` for an empty phrase or one with nothing playable.
    """
    drums = getattr(tokenizer, "instrument_kind", "melodic") == "drums"
    tempo = float(tempo) if isinstance(tempo, (int, float)) and math.isfinite(tempo) else 120.0
    tempo = float(np.clip(tempo, *TEMPO_RANGE))
    notices: list[str] = []
    rows = _rows(notes, notices)
    if not len(rows):
        raise ValueError("the phrase is empty: play a few notes on the keyboard, then press Answer")
    if len(rows) > MAX_NOTES:
        notices.append(f"{len(rows):,} notes is a long phrase: the model answers your last "
                       f"{MAX_NOTES}")
        rows = rows[-MAX_NOTES:]
    beats = _in_beats(rows, tempo, click_start, notices)
    beats = _sayable(beats, tokenizer, drums, notices)
    if not len(beats):
        raise ValueError("none of the notes played can be said by this model: "
                         + ("play the drum sounds on its keys" if drums else "play nearer the middle of the keyboard"))
    track = Track(0, True, PHRASE_TRACK) if drums else Track(int(program), False, PHRASE_TRACK)
    return Phrase(Piece("your phrase", beats, [track], tempo), notices)


def _rows(notes: Any, notices: list[str]) -> np.ndarray:
    """``(n, 4)`` float rows (pitch, start, end, velocity) sorted by start; malformed entries
    (not four finite numbers) and pitches outside 0..127 are left out with a notice."""
    if not isinstance(notes, (list, tuple, np.ndarray)):
        raise ValueError("the phrase is not a list of notes")
    rows, bad, outside = [], 0, 0
    for entry in list(notes[:MAX_PAYLOAD]):
        try:
            pitch, start, end, velocity = (float(v) for v in entry)
        except (TypeError, ValueError):
            bad += 1
            continue
        if not all(math.isfinite(v) for v in (pitch, start, end, velocity)) or start < 0:
            bad += 1
        elif not 0 <= round(pitch) <= 127:
            outside += 1
        else:
            rows.append((round(pitch), start, max(end, start + MIN_NOTE_SECONDS),
                         float(np.clip(round(velocity), 1, 127))))
    if len(notes) > MAX_PAYLOAD:
        notices.append(f"only the first {MAX_PAYLOAD:,} entries sent were read")
    if bad:
        notices.append(f"{bad} malformed note{'s' if bad > 1 else ''} left out")
    if outside:
        notices.append(f"{outside} note{'s' if outside > 1 else ''} outside MIDI's pitches 0..127 left out")
    arr = np.array(rows, np.float64).reshape(-1, 4)
    return arr[np.argsort(arr[:, 1], kind="stable")]


def _in_beats(rows: np.ndarray, tempo: float, click_start: float | None,
              notices: list[str]) -> np.ndarray:
    """Notes ``(n, 5)`` in beats from the phrase's start: lengths and silences bounded."""
    per_beat = 60.0 / tempo
    start, end = rows[:, 1] / per_beat, rows[:, 2] / per_beat
    origin = start[0]
    if isinstance(click_start, (int, float)) and math.isfinite(click_start) and click_start <= rows[0, 1]:
        origin = click_start / per_beat + math.floor(start[0] - click_start / per_beat)
    start, end = start - origin, end - origin
    length = end - start
    held = length > MAX_NOTE_BEATS
    if held.any():
        longest = float(length.max() * per_beat)
        notices.append(f"{int(held.sum())} held note{'s' if held.sum() > 1 else ''} (up to "
                       f"{_duration(longest)}) shortened to {MAX_NOTE_BEATS:g} beats")
        length = np.minimum(length, MAX_NOTE_BEATS)
    gaps = np.diff(start)
    long_gaps = gaps > MAX_GAP_BEATS
    if long_gaps.any():
        notices.append(f"{int(long_gaps.sum())} long silence{'s' if long_gaps.sum() > 1 else ''} "
                       f"shortened to {MAX_GAP_BEATS:g} beats")
        start = start[0] + np.concatenate([[0.0], np.cumsum(np.minimum(gaps, MAX_GAP_BEATS))])
    notes = np.zeros((len(rows), 5))
    notes[:, START], notes[:, END] = start, start + length
    notes[:, PITCH], notes[:, 3] = rows[:, 0], rows[:, 3]
    return notes


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _sayable(notes: np.ndarray, tokenizer: Any, drums: bool, notices: list[str]) -> np.ndarray:
    """``notes`` with each pitch the encoding cannot say moved by octaves to the nearest one it
    can (melodic) or left out (drums, and a pitch with no sayable octave)."""
    known: dict[int, int | None] = {}
    for pitch in np.unique(notes[:, PITCH]).astype(int).tolist():
        known[pitch] = _nearest_sayable(tokenizer, pitch, drums)
    moved = sorted(p for p, q in known.items() if q is not None and q != p)
    dropped = sorted(p for p, q in known.items() if q is None)
    names = DRUM_NAMES if drums else NOTE_NAMES
    if moved:
        notices.append("outside this model's range, moved by octaves: "
                       + ", ".join(f"{names[p]} -> {names[known[p]]}" for p in moved))
    if dropped:
        notices.append(("drum sounds this model does not play, left out: " if drums else
                        "notes this model cannot play, left out: ")
                       + ", ".join(names[p] for p in dropped))
    keep = np.array([known[int(p)] is not None for p in notes[:, PITCH]], bool)
    out = notes[keep].copy()
    out[:, PITCH] = [known[int(p)] for p in out[:, PITCH]]
    return out


def _nearest_sayable(tokenizer: Any, pitch: int, drums: bool) -> int | None:
    candidates = [pitch] if drums else sorted(
        (p for p in range(pitch % 12, 128, 12)), key=lambda p: (abs(p - pitch), p))
    for p in candidates:
        if can_say(tokenizer, p, drums):
            return p
    return None


def can_say(tokenizer: Any, pitch: int, drums: bool = False) -> bool:
    """Whether ``tokenizer`` encodes a lone note of ``pitch`` and decodes it back to that pitch
    (remembered per tokenizer: a fitted vocabulary does not change)."""
    try:
        known = _SAYABLE.setdefault(tokenizer, {})
    except TypeError:   # an unhashable tokenizer: asked every time
        known = {}
    if (pitch, drums) not in known:
        known[(pitch, drums)] = _probe(tokenizer, pitch, drums)
    return known[(pitch, drums)]


_SAYABLE: "weakref.WeakKeyDictionary[Any, dict[tuple[int, bool], bool]]" = weakref.WeakKeyDictionary()


def _probe(tokenizer: Any, pitch: int, drums: bool) -> bool:
    piece = Piece("probe", [[0.0, 1.0, pitch, 90, 0]], [Track(0, drums)])
    try:
        tokens = tokenizer.encode(piece)
        decoded = tokenizer.decode(tokens) if len(tokens) else None
    except (ValueError, KeyError, IndexError):
        return False
    return decoded is not None and pitch in decoded.notes[:, PITCH].astype(int).tolist()


def drum_keys(tokenizer: Any) -> list[tuple[int, str]]:
    """The General MIDI drum sounds a drum encoding can say, as ``(pitch, name)`` (the keys of
    the keyboard for a drum run)."""
    return [(p, DRUM_NAMES[p]) for p in DRUM_KEYS if can_say(tokenizer, p, True)]


def answer_piece(result: Any, i: int = 0) -> Piece:
    """Variation ``i`` of ``result`` (primed with a phrase, primer kept) as two tracks: the
    phrase as the model read it (``PHRASE_TRACK``) and the model's answer (``ANSWER_TRACK``).

    The phrase's notes are those of its own tokens decoded alone; every other note of the
    whole decoded sequence is the answer's (matched by onset and pitch, so a phrase note the
    answer holds on stays the phrase's). An answer note the decoder places before the
    phrase's last onset (a model may step back within a bar: ``Position_10`` then
    ``Position_4`` in the events encoding) starts at that onset instead, its length kept, so
    the answer follows the phrase.
    """
    whole = result.piece(i, include_primer=True)
    heard = result.tokenizer.decode(result.tokens[i][:result.primer_length])
    unused: dict[tuple[float, int], int] = {}
    for s, p in zip(np.round(heard.notes[:, START], 6), heard.notes[:, PITCH].astype(int)):
        unused[(float(s), int(p))] = unused.get((float(s), int(p)), 0) + 1
    notes = whole.notes.copy()
    for row in notes:
        k = (float(np.round(row[START], 6)), int(row[PITCH]))
        if unused.get(k, 0) > 0:
            unused[k] -= 1
            row[TRACK] = 0
        else:
            row[TRACK] = 1
    mine = notes[:, TRACK] == 0
    if mine.any():
        last = notes[mine, START].max()
        early = ~mine & (notes[:, START] < last)
        length = notes[early, END] - notes[early, START]
        notes[early, START] = last
        notes[early, END] = last + length
    base = whole.tracks[0] if whole.tracks else Track()
    tracks = [Track(base.program, base.is_drum, PHRASE_TRACK), Track(base.program, base.is_drum, ANSWER_TRACK)]
    return Piece(f"{whole.name}: answer", notes, tracks, whole.tempo, dict(whole.meta))
