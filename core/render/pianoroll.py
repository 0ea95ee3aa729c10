"""A Plotly piano roll: one horizontal bar per note, one trace per track.

Each bar spans the note's start to end (x) at its pitch (y); its opacity follows the velocity.
Drum tracks get a panel of their own below the pitched ones, one lane per drum sound, labelled
with General MIDI drum names. All notes of a track are one ``go.Bar`` trace (bars placed with
``base``), so a few thousand notes build in milliseconds and draw quickly in the browser
(``st.plotly_chart(fig)``). :func:`roll_data` is what a roll shows (lanes, colours, drum
rows and names, hover text); the playing roll (``core.render.player``) draws from it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import html

import numpy as np
import plotly.graph_objects as go
import pretty_midi
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from core.piece import TRACK, Piece
from core.render._music import Music, Part, parts

NOTE_NAMES = [pretty_midi.note_number_to_name(p) for p in range(128)]
DRUM_NAMES = [pretty_midi.note_number_to_drum_name(p) or f"Drum {p}" for p in range(128)]
COLORS = qualitative.Plotly
UNIT_LABELS = {"seconds": ("Time (s)", "s"), "beats": ("Time (beats)", "beats")}
BAR_HEIGHT = 0.8     # in pitch steps: a thin gap between neighbouring pitches
PX_PER_PITCH = 8     # panel height per pitch, in pixels
PX_PER_DRUM = 18     # panel height per drum lane: room for its name
COPIED_OUTLINE = "#111111"  # copied notes: a shape cue (outline), not a hue, for every eye
COPIED_OUTLINE_PX = 2.5


@dataclass(frozen=True)
class Lane:
    """One track of a roll: its legend name, colour and notes, each note placed on a row."""

    name: str
    color: str
    is_drum: bool
    notes: np.ndarray       # (n, 4): start, end, pitch, velocity (in the roll's units)
    rows: np.ndarray        # (n,): the note's row: its pitch, or its drum lane
    labels: list[str]       # per note: pitch name ("C#4") or General MIDI drum name
    copied: list[str] = field(default_factory=list)  # per note: where it is copied from, or ""


@dataclass(frozen=True)
class RollData:
    """What a piano roll shows, whoever draws it (the Plotly figure here, the playing roll in
    ``core.render.player``): lanes of notes, the pitch range, the drum rows and their names."""

    lanes: list[Lane]
    end: float                  # the piece's end, in ``units``
    units: str
    low: int                    # lowest and highest pitch of the pitched lanes
    high: int
    drum_pitches: list[int]     # one drum row per sound, in this order

    @property
    def panels(self) -> list[str]:
        """ "melodic" and/or "drums", top to bottom, for the kinds present."""
        kinds = {lane.is_drum for lane in self.lanes}
        return [k for k, drum in (("melodic", False), ("drums", True)) if drum in kinds]

    @property
    def drum_names(self) -> list[str]:
        return [DRUM_NAMES[p] for p in self.drum_pitches]

    def hover(self, lane: Lane) -> list[str]:
        """Per note: name, pitch number, start, length and velocity, as the hover shows it."""
        unit = UNIT_LABELS[self.units][1]
        start, vel = lane.notes[:, 0], lane.notes[:, 3]
        length = np.maximum(lane.notes[:, 1] - start, 0.0)
        copied = lane.copied or [""] * len(start)
        return [f"<b>{label}</b> ({int(p)})<br>start {s:.2f} {unit}, length {d:.2f} {unit}"
                f"<br>velocity {int(v)}" + (f"<br><b>copied</b>: {html.escape(c)}" if c else "")
                for label, p, s, d, v, c in zip(lane.labels, lane.notes[:, 2], start, length, vel,
                                                copied)]

    @property
    def any_copied(self) -> bool:
        return any(any(lane.copied) for lane in self.lanes)


def roll_data(music: Music, units: str = "seconds",
              copied: Sequence[str] | None = None) -> RollData:
    """The notes of ``music`` laid out for a roll: one lane per track with a name and a colour,
    pitched notes on their pitch, drum notes on a row per drum sound (General MIDI names).

    ``copied`` (a ``Piece`` only): per note of ``music.notes``, where it is copied from, or
    ``""`` (``core.evaluation.copies.copied_note_labels``); such notes are drawn outlined.
    """
    music_parts, end = parts(music, units)
    per_track = _per_track(music, copied)
    melodic = [p for p in music_parts if not p.track.is_drum]
    drum_pitches = sorted({int(p) for part in music_parts if part.track.is_drum
                           for p in part.notes[:, 2]})
    row_of = {p: row for row, p in enumerate(drum_pitches)}
    lanes = []
    for i, (part, name) in enumerate(zip(music_parts, _trace_names(music_parts))):
        pitches = part.notes[:, 2].astype(int)
        if part.track.is_drum:
            rows, labels = np.array([row_of[p] for p in pitches]), [DRUM_NAMES[p] for p in pitches]
        else:
            rows, labels = pitches, [NOTE_NAMES[p] for p in pitches]
        lanes.append(Lane(name, COLORS[i % len(COLORS)], part.track.is_drum, part.notes,
                          rows.reshape(-1), labels, per_track[i] if per_track else []))
    low, high = _pitch_range(melodic)
    return RollData(lanes, float(end), units, low, high, drum_pitches)


def _per_track(music: Music, copied: Sequence[str] | None) -> list[list[str]]:
    """``copied`` split by track (those with notes, as ``parts`` lists them), in note order."""
    if copied is None or not isinstance(music, Piece) or not any(copied):
        return []
    if len(copied) != music.n_notes:
        raise ValueError(f"copied has {len(copied)} labels for {music.n_notes} notes")
    tracks = music.notes[:, TRACK].astype(int)
    return [[copied[i] for i in np.flatnonzero(tracks == t)] for t in np.unique(tracks).tolist()]


def piano_roll(music: Music, title: str | None = None, *, units: str = "seconds",
               height: int | None = None, copied: Sequence[str] | None = None) -> go.Figure:
    """A piano-roll figure of ``music`` (a ``Piece`` or ``pretty_midi.PrettyMIDI``).

    ``units`` is ``"seconds"`` or ``"beats"`` for the time axis. Traces are named after the
    track's General MIDI instrument (or "Drums"); hovering a bar shows its pitch name (e.g.
    "C#4") or drum name, start, length and velocity. ``height`` in pixels, else from the
    pitch range. ``copied``: as for :func:`roll_data` (copied notes get a thick dark outline).
    """
    data = roll_data(music, units, copied)
    panels, lo, hi = data.panels, data.low, data.high
    sizes = {"melodic": max(PX_PER_PITCH * (hi - lo + 3), 200),  # panel heights in pixels
             "drums": PX_PER_DRUM * (len(data.drum_pitches) + 1)}

    fig = make_subplots(rows=max(1, len(panels)), cols=1, shared_xaxes=True,
                        vertical_spacing=0.04,
                        row_heights=[sizes[k] for k in panels] or None)
    axis_title, _ = UNIT_LABELS[units]
    for lane in data.lanes:
        row = panels.index("drums" if lane.is_drum else "melodic") + 1
        fig.add_trace(_bars(lane, data.hover(lane)), row=row, col=1)

    if "melodic" in panels:
        ticks = [p for p in range(lo, hi + 1) if p % 12 == 0 or hi - lo <= 12]
        fig.update_yaxes(row=panels.index("melodic") + 1, col=1, title_text="Pitch",
                         range=[lo - 1.5, hi + 1.5], tickvals=ticks,
                         ticktext=[NOTE_NAMES[p] for p in ticks])
    if "drums" in panels:
        n_drums = len(data.drum_pitches)
        fig.update_yaxes(row=panels.index("drums") + 1, col=1, title_text="Drums",
                         range=[-1, n_drums], tickvals=list(range(n_drums)),
                         ticktext=data.drum_names)
    fig.update_xaxes(range=[0, max(data.end, 1e-3)], showgrid=True)
    fig.update_xaxes(title_text=axis_title, row=max(1, len(panels)), col=1)
    if not data.lanes:
        fig.add_annotation(text="no notes", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
    fig.update_layout(
        title=title, barmode="overlay", hovermode="closest", showlegend=bool(data.lanes),
        height=height or int(np.clip(sum(sizes[k] for k in panels), 200, 900)) + 110,
        margin=dict(l=10, r=10, t=60 if title else 30, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0),
    )
    return fig


def _bars(lane: Lane, hover: list[str]) -> go.Bar:
    """One trace: every note of ``lane`` as a bar from its start to its end."""
    start, end, vel = lane.notes[:, 0], lane.notes[:, 1], lane.notes[:, 3]
    outline = [COPIED_OUTLINE_PX if c else 0 for c in lane.copied] if any(lane.copied) else 0
    return go.Bar(
        x=np.maximum(end - start, 0.0), base=start, y=lane.rows, orientation="h",
        width=BAR_HEIGHT, name=lane.name, marker=dict(
            color=lane.color, opacity=velocity_opacity(vel),
            line=dict(width=outline, color=COPIED_OUTLINE)),
        hovertext=hover, hovertemplate="%{hovertext}<extra>%{fullData.name}</extra>",
    )


def velocity_opacity(velocity: np.ndarray) -> np.ndarray:
    """A note's opacity from its velocity: 0.3 (silent) to 1.0 (127)."""
    return 0.3 + 0.7 * np.clip(velocity, 0, 127) / 127


def _pitch_range(melodic: list[Part]) -> tuple[int, int]:
    """Lowest and highest pitch among ``melodic`` parts (middle C's octave when empty)."""
    if not melodic:
        return 60, 72
    pitches = np.concatenate([p.notes[:, 2] for p in melodic])
    return int(pitches.min()), int(pitches.max())


def _trace_names(music_parts: list[Part]) -> list[str]:
    """Legend names: GM instrument (or "Drums"), the track's own name, a number if repeated."""
    names = []
    for part in music_parts:
        track = part.track
        name = "Drums" if track.is_drum else pretty_midi.program_to_instrument_name(track.program)
        if track.name and track.name != name:
            name = f"{name} ({track.name})"
        names.append(name)
    for name in set(names):
        if names.count(name) > 1:
            numbered = iter(range(1, names.count(name) + 1))
            names = [f"{n} #{next(numbered)}" if n == name else n for n in names]
    return names
