"""The one in-memory form of a piece of music that every module passes around.

Times are in **beats** (quarter notes), not seconds: the encodings quantize on a beat grid and
the model never sees tempo. ``tempo`` (beats per minute) is kept for playback only. A MIDI file
with tempo changes is mapped to beats through its own tempo map, so bars stay bars.

``notes`` is a float64 array of shape ``(N, 5)`` with columns
``start, end`` (beats), ``pitch`` (0-127), ``velocity`` (1-127), ``track`` (index into
``tracks``), sorted by start, then track, then pitch.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

START, END, PITCH, VELOCITY, TRACK = range(5)
NOTE_COLUMNS = ("start", "end", "pitch", "velocity", "track")


@dataclass(frozen=True)
class Track:
    """One instrument: a General MIDI program (0-127) and whether it plays on the drum channel."""

    program: int = 0
    is_drum: bool = False
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"program": int(self.program), "is_drum": bool(self.is_drum), "name": self.name}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Track":
        return cls(int(d.get("program", 0)), bool(d.get("is_drum", False)), str(d.get("name", "")))


@dataclass
class Piece:
    name: str
    notes: np.ndarray
    tracks: list[Track] = field(default_factory=lambda: [Track()])
    tempo: float = 120.0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        notes = np.asarray(self.notes, dtype=np.float64).reshape(-1, 5)
        if len(notes):
            if notes[:, TRACK].max() >= len(self.tracks) or notes[:, TRACK].min() < 0:
                raise ValueError(f"{self.name}: note track index outside 0..{len(self.tracks) - 1}")
            order = np.lexsort((notes[:, PITCH], notes[:, TRACK], notes[:, START]))
            notes = notes[order]
        self.notes = notes
        if not (self.tempo > 0):
            raise ValueError(f"{self.name}: tempo must be positive, got {self.tempo}")

    def __repr__(self) -> str:
        return (f"Piece({self.name!r}, notes={len(self.notes)}, tracks={len(self.tracks)}, "
                f"beats={self.duration_beats:.1f}, tempo={self.tempo:g})")

    # --- facts ---------------------------------------------------------------------------
    @property
    def n_notes(self) -> int:
        return int(len(self.notes))

    @property
    def duration_beats(self) -> float:
        return float(self.notes[:, END].max()) if len(self.notes) else 0.0

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.tempo

    @property
    def duration_seconds(self) -> float:
        return self.duration_beats * self.seconds_per_beat

    @property
    def has_drums(self) -> bool:
        return any(t.is_drum for t in self.tracks)

    def drum_mask(self) -> np.ndarray:
        """Boolean mask over ``notes``: True where the note is on a drum track."""
        is_drum = np.array([t.is_drum for t in self.tracks], dtype=bool)
        return is_drum[self.notes[:, TRACK].astype(int)] if len(self.notes) else np.zeros(0, bool)

    # --- transforms ----------------------------------------------------------------------
    def select(self, kind: str) -> "Piece":
        """Keep only ``"melodic"`` (pitched) tracks, only ``"drums"``, or ``"all"``."""
        if kind == "all":
            return self
        if kind not in ("melodic", "drums"):
            raise ValueError(f"instrument kind must be melodic, drums or all, not {kind!r}")
        keep_drums = kind == "drums"
        keep = [i for i, t in enumerate(self.tracks) if t.is_drum == keep_drums]
        remap = {old: new for new, old in enumerate(keep)}
        mask = np.isin(self.notes[:, TRACK].astype(int), keep)
        notes = self.notes[mask].copy()
        notes[:, TRACK] = [remap[int(t)] for t in notes[:, TRACK]]
        return Piece(self.name, notes, [self.tracks[i] for i in keep] or [Track(is_drum=keep_drums)],
                     self.tempo, dict(self.meta))

    def transposed(self, semitones: int) -> "Piece":
        """The piece moved by ``semitones`` (drum tracks stay); notes pushed outside 0..127 are
        dropped."""
        notes = self.notes.copy()
        melodic = ~self.drum_mask()
        notes[melodic, PITCH] += semitones
        notes = notes[(notes[:, PITCH] >= 0) & (notes[:, PITCH] <= 127)]
        return Piece(f"{self.name} {semitones:+d}", notes, list(self.tracks), self.tempo,
                     dict(self.meta, transposed=semitones))

    def slice_beats(self, start: float, end: float) -> "Piece":
        """Notes whose onset lies in ``[start, end)``, shifted to begin at 0 (ends clipped)."""
        n = self.notes
        mask = (n[:, START] >= start) & (n[:, START] < end)
        out = n[mask].copy()
        out[:, START] -= start
        out[:, END] = np.minimum(out[:, END], end) - start
        return Piece(self.name, out, list(self.tracks), self.tempo, dict(self.meta))

    # --- MIDI ----------------------------------------------------------------------------
    @classmethod
    def from_midi(cls, pm, name: str, meta: dict[str, Any] | None = None) -> "Piece":
        """Build from a ``pretty_midi.PrettyMIDI``; times go through its tempo map to beats."""
        tracks: list[Track] = []
        rows: list[np.ndarray] = []
        res = float(pm.resolution)
        for inst in pm.instruments:
            if not inst.notes:
                continue
            idx = len(tracks)
            tracks.append(Track(int(inst.program), bool(inst.is_drum), inst.name or ""))
            arr = np.array([(pm.time_to_tick(nt.start) / res, pm.time_to_tick(nt.end) / res,
                             nt.pitch, nt.velocity, idx) for nt in inst.notes], dtype=np.float64)
            rows.append(arr)
        _, tempi = pm.get_tempo_changes()
        tempo = float(tempi[0]) if len(tempi) else 120.0
        notes = np.concatenate(rows) if rows else np.zeros((0, 5))
        if len(notes):  # a zero-length note would vanish in MIDI; give it one tick
            notes[:, END] = np.maximum(notes[:, END], notes[:, START] + 1.0 / res)
        return cls(name, notes, tracks or [Track()], tempo, dict(meta or {}))

    def to_midi(self, resolution: int = 480):
        """A ``pretty_midi.PrettyMIDI`` at this piece's tempo (times in seconds)."""
        import pretty_midi

        pm = pretty_midi.PrettyMIDI(resolution=resolution, initial_tempo=self.tempo)
        spb = self.seconds_per_beat
        for i, tr in enumerate(self.tracks):
            inst = pretty_midi.Instrument(program=int(tr.program), is_drum=tr.is_drum, name=tr.name)
            for s, e, p, v, _ in self.notes[self.notes[:, TRACK] == i]:
                inst.notes.append(pretty_midi.Note(velocity=int(np.clip(v, 1, 127)),
                                                   pitch=int(np.clip(p, 0, 127)),
                                                   start=float(s) * spb, end=float(e) * spb))
            pm.instruments.append(inst)
        return pm

    def to_midi_bytes(self) -> bytes:
        buf = io.BytesIO()
        self.to_midi().write(buf)
        return buf.getvalue()


def from_note_list(name: str, notes: Iterable[tuple[float, float, int, int]], *, program: int = 0,
                   is_drum: bool = False, tempo: float = 120.0) -> Piece:
    """A one-track piece from ``(start_beat, end_beat, pitch, velocity)`` tuples."""
    arr = np.array([(s, e, p, v, 0) for s, e, p, v in notes], dtype=np.float64).reshape(-1, 5)
    return Piece(name, arr, [Track(program, is_drum)], tempo)
