"""One view of a ``Piece`` or a ``pretty_midi.PrettyMIDI`` for the renderers: a list of parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

import numpy as np

from core.piece import END, PITCH, START, TRACK, VELOCITY, Piece, Track

if TYPE_CHECKING:
    import pretty_midi

Music = Union[Piece, "pretty_midi.PrettyMIDI"]


def _empty(columns: int) -> np.ndarray:
    return np.zeros((0, columns))


@dataclass(frozen=True)
class Part:
    """One instrument, its notes and (from MIDI files only) its controllers and pitch bends.

    ``notes`` has shape ``(n, 4)``: start, end (seconds or beats), pitch, velocity, sorted by
    start. ``controls`` is ``(k, 3)``: time, controller number, value; ``bends`` is ``(b, 2)``:
    time, bend (-8192..8191). Times share the unit of ``notes``.
    """

    track: Track
    notes: np.ndarray
    controls: np.ndarray = field(default_factory=lambda: _empty(3))
    bends: np.ndarray = field(default_factory=lambda: _empty(2))


def as_piece(music: Music, name: str = "midi") -> Piece:
    """``music`` itself if it is a ``Piece``, else the ``PrettyMIDI`` converted to one."""
    return music if isinstance(music, Piece) else Piece.from_midi(music, name)


def parts(music: Music, units: str = "seconds") -> tuple[list[Part], float]:
    """The parts of ``music`` with times in ``units`` ("seconds" or "beats"), and its end time.

    Tracks without notes are left out. A ``PrettyMIDI`` keeps its own tempo map (and its
    controllers and pitch bends) in seconds; in beats it goes through ``Piece.from_midi``.
    """
    if units not in ("seconds", "beats"):
        raise ValueError(f"units must be 'seconds' or 'beats', not {units!r}")
    if not isinstance(music, Piece):
        if units == "beats":
            return parts(as_piece(music), units)
        return _midi_parts(music), float(music.get_end_time())

    scale = music.seconds_per_beat if units == "seconds" else 1.0
    columns = [START, END, PITCH, VELOCITY]
    out = []
    for i, track in enumerate(music.tracks):
        notes = music.notes[music.notes[:, TRACK] == i][:, columns]
        if len(notes):
            notes[:, :2] *= scale
            out.append(Part(track, notes))
    return out, music.duration_beats * scale


def _midi_parts(pm: pretty_midi.PrettyMIDI) -> list[Part]:
    out = []
    for inst in pm.instruments:
        if not inst.notes:
            continue
        notes = np.array([(n.start, n.end, n.pitch, n.velocity) for n in inst.notes], dtype=float)
        notes = notes[np.argsort(notes[:, 0], kind="stable")]
        controls = np.array([(c.time, c.number, c.value) for c in inst.control_changes],
                            dtype=float).reshape(-1, 3)
        bends = np.array([(b.time, b.pitch) for b in inst.pitch_bends], dtype=float).reshape(-1, 2)
        out.append(Part(Track(int(inst.program), bool(inst.is_drum), inst.name or ""),
                        notes, controls, bends))
    return out
