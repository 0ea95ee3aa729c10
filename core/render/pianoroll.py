"""A Plotly piano roll: one horizontal bar per note, one trace per track.

Each bar spans the note's start to end (x) at its pitch (y); its opacity follows the velocity.
Drum tracks get a panel of their own below the pitched ones, one lane per drum sound, labelled
with General MIDI drum names. All notes of a track are one ``go.Bar`` trace (bars placed with
``base``), so a few thousand notes build in milliseconds and draw quickly in the browser
(``st.plotly_chart(fig)``).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pretty_midi
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from core.render._music import Music, Part, parts

NOTE_NAMES = [pretty_midi.note_number_to_name(p) for p in range(128)]
DRUM_NAMES = [pretty_midi.note_number_to_drum_name(p) or f"Drum {p}" for p in range(128)]
COLORS = qualitative.Plotly
UNIT_LABELS = {"seconds": ("Time (s)", "s"), "beats": ("Time (beats)", "beats")}
BAR_HEIGHT = 0.8     # in pitch steps: a thin gap between neighbouring pitches
PX_PER_PITCH = 8     # panel height per pitch, in pixels
PX_PER_DRUM = 18     # panel height per drum lane: room for its name


def piano_roll(music: Music, title: str | None = None, *, units: str = "seconds",
               height: int | None = None) -> go.Figure:
    """A piano-roll figure of ``music`` (a ``Piece`` or ``pretty_midi.PrettyMIDI``).

    ``units`` is ``"seconds"`` or ``"beats"`` for the time axis. Traces are named after the
    track's General MIDI instrument (or "Drums"); hovering a bar shows its pitch name (e.g.
    "C#4") or drum name, start, length and velocity. ``height`` in pixels, else from the
    pitch range.
    """
    music_parts, end = parts(music, units)
    melodic = [p for p in music_parts if not p.track.is_drum]
    drums = [p for p in music_parts if p.track.is_drum]
    panels = [kind for kind, ps in (("melodic", melodic), ("drums", drums)) if ps]
    drum_pitches = sorted({int(p) for part in drums for p in part.notes[:, 2]})
    lo, hi = _pitch_range(melodic)
    sizes = {"melodic": max(PX_PER_PITCH * (hi - lo + 3), 200),  # panel heights in pixels
             "drums": PX_PER_DRUM * (len(drum_pitches) + 1)}

    fig = make_subplots(rows=max(1, len(panels)), cols=1, shared_xaxes=True,
                        vertical_spacing=0.04,
                        row_heights=[sizes[k] for k in panels] or None)
    axis_title, unit = UNIT_LABELS[units]
    names = _trace_names(music_parts)
    for i, part in enumerate(music_parts):
        if part.track.is_drum:
            lanes = {p: lane for lane, p in enumerate(drum_pitches)}
            y = np.array([lanes[int(p)] for p in part.notes[:, 2]])
            labels = [DRUM_NAMES[int(p)] for p in part.notes[:, 2]]
        else:
            y = part.notes[:, 2]
            labels = [NOTE_NAMES[int(p)] for p in part.notes[:, 2]]
        row = panels.index("drums" if part.track.is_drum else "melodic") + 1
        fig.add_trace(_bars(part, y, labels, names[i], COLORS[i % len(COLORS)], unit),
                      row=row, col=1)

    if "melodic" in panels:
        ticks = [p for p in range(lo, hi + 1) if p % 12 == 0 or hi - lo <= 12]
        fig.update_yaxes(row=panels.index("melodic") + 1, col=1, title_text="Pitch",
                         range=[lo - 1.5, hi + 1.5], tickvals=ticks,
                         ticktext=[NOTE_NAMES[p] for p in ticks])
    if "drums" in panels:
        fig.update_yaxes(row=panels.index("drums") + 1, col=1, title_text="Drums",
                         range=[-1, len(drum_pitches)], tickvals=list(range(len(drum_pitches))),
                         ticktext=[DRUM_NAMES[p] for p in drum_pitches])
    fig.update_xaxes(range=[0, max(end, 1e-3)], showgrid=True)
    fig.update_xaxes(title_text=axis_title, row=max(1, len(panels)), col=1)
    if not music_parts:
        fig.add_annotation(text="no notes", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
    fig.update_layout(
        title=title, barmode="overlay", hovermode="closest", showlegend=bool(music_parts),
        height=height or int(np.clip(sum(sizes[k] for k in panels), 200, 900)) + 110,
        margin=dict(l=10, r=10, t=60 if title else 30, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0),
    )
    return fig


def _bars(part: Part, y: np.ndarray, labels: list[str], name: str, color: str,
          unit: str) -> go.Bar:
    """One trace: every note of ``part`` as a bar from its start to its end."""
    start, end, vel = part.notes[:, 0], part.notes[:, 1], part.notes[:, 3]
    length = np.maximum(end - start, 0.0)
    hover = [f"<b>{label}</b> ({int(p)})<br>start {s:.2f} {unit}, length {d:.2f} {unit}"
             f"<br>velocity {int(v)}"
             for label, p, s, d, v in zip(labels, part.notes[:, 2], start, length, vel)]
    return go.Bar(
        x=length, base=start, y=y, orientation="h", width=BAR_HEIGHT, name=name,
        marker=dict(color=color, opacity=0.3 + 0.7 * np.clip(vel, 0, 127) / 127, line_width=0),
        hovertext=hover, hovertemplate="%{hovertext}<extra>%{fullData.name}</extra>",
    )


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
