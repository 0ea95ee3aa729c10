"""A piano roll that plays along: audio and roll in one self-contained HTML document.

:func:`player_html` returns a page (for an iframe, e.g. ``st.components.v1.html``) holding the
WAV (base64), the roll's notes (:func:`core.render.pianoroll.roll_data`, the same lanes,
colours, General MIDI drum names and hover text as the Plotly roll) and a small script
(``assets/player.js``). While the audio plays a playhead moves across the roll, read from the
audio element's own clock every frame, so seeking, pausing and replaying keep it in step; the
notes under it light up, and a click on the roll seeks the audio. Nothing is fetched: no CDN,
no network, no other file.
"""

from __future__ import annotations

import base64
import html
import io
import json
import wave
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from core.render._music import Music
from core.render.pianoroll import NOTE_NAMES, roll_data

ASSETS = Path(__file__).resolve().parent / "assets"
CONTROLS_PX = {False: 100, True: 150}  # play bar, time axis and audio controls, in pixels


@lru_cache(maxsize=None)
def asset(name: str) -> str:
    """The text of a file shipped in ``core/render/assets``."""
    return (ASSETS / name).read_text(encoding="utf-8")


def wav_seconds(wav: bytes) -> float:
    """The length of a WAV file in seconds (0.0 when it cannot be read)."""
    try:
        with wave.open(io.BytesIO(wav)) as w:
            return w.getnframes() / float(w.getframerate())
    except (wave.Error, EOFError, ZeroDivisionError):
        return 0.0


def player_data(music: Music, audio_seconds: float = 0.0, copied: Sequence[str] | None = None) -> dict:
    """The roll as the script reads it: times in seconds, one entry per lane (notes as
    ``[start, end, row, velocity]``, ``copied``: 1 for a note copied from the corpus), and the
    beat's length in seconds for a ``Piece``."""
    data = roll_data(music, "seconds", copied)
    lanes = [{"name": lane.name, "color": lane.color, "drum": lane.is_drum,
              "notes": np.round(np.column_stack([lane.notes[:, :2], lane.rows, lane.notes[:, 3]]),
                                4).tolist(),
              "copied": [int(bool(c)) for c in lane.copied],
              "hover": data.hover(lane)} for lane in data.lanes]
    return {"end": data.end, "audio_seconds": audio_seconds, "low": data.low,
            "seconds_per_beat": getattr(music, "seconds_per_beat", None),  # a Piece's tempo
            "high": data.high, "drums": data.drum_names, "pitch_names": NOTE_NAMES, "lanes": lanes}


def _script_text(text: str) -> str:
    """Script text that cannot end the ``<script>`` element it sits in."""
    return text.replace("</", "<\\/")


def _script_json(value: Any) -> str:
    """``value`` as JSON that the HTML parser reads as plain text inside ``<script>``: no ``<``
    at all (a MIDI track named ``<!--<script`` would otherwise swallow the rest of the page)."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


def player_html(music: Music, wav: bytes | None, *, height: int = 320, large: bool = False,
                preview: bytes | None = None, copied: Sequence[str] | None = None) -> str:
    """A complete HTML page: a play button, the roll with its playhead and an ``<audio>``.

    ``music`` is a ``Piece`` or ``pretty_midi.PrettyMIDI``; ``wav`` its audio (``None``: a roll
    without sound); ``preview`` the same audio as Ogg Vorbis (``Audio.ogg_bytes``), which the
    page then carries instead of the WAV (a seventh of the bytes, half the browser's work).
    ``height`` is the page's height in pixels (the roll gets what the controls leave);
    ``large`` makes text, buttons and playhead bigger (demo mode); ``copied`` (per note of a
    ``Piece``, where it is copied from or ``""``) outlines copied notes and names their source
    in the hover.
    """
    seconds = wav_seconds(wav) if wav else 0.0
    data = player_data(music, seconds, copied)
    legend = "".join(f'<span style="--c:{lane["color"]}">{html.escape(lane["name"])}</span>'
                     for lane in data["lanes"])
    if any(any(lane["copied"]) for lane in data["lanes"]):
        legend += '<span class="cs-copied-key">copied from the corpus</span>'

    sound, sound_type = (preview, "audio/ogg") if preview and wav else (wav, "audio/wav")
    audio = base64.b64encode(sound).decode("ascii") if sound else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><style>{asset("player.css")}</style></head>
<body class="{'large' if large else ''}">
<div class="cs-player" data-composer-player style="height:{int(height)}px">
  <div class="cs-bar"><button class="cs-play" type="button">▶ Play</button>
    <span class="cs-time"></span><div class="cs-legend">{legend}</div></div>
  <div class="cs-roll"><div class="cs-gutter"></div>
    <div class="cs-plot"><div class="cs-head"></div></div></div>
  <div class="cs-axis"></div>
  <audio controls preload="auto"></audio>
  <div class="cs-tip"></div>
</div>
<script id="cs-data" type="application/json">{_script_json(data)}</script>
<script id="cs-audio" data-type="{sound_type}" type="text/plain">{audio}</script>
<script>{_script_text(asset("player.js"))}</script>
</body></html>"""


def player_height(music: Music, large: bool = False, roll_px: int | None = None) -> int:
    """A page height that gives the roll ``roll_px`` pixels (default: from the pitch range)."""
    if roll_px is None:
        data = roll_data(music, "seconds")
        rows = (data.high - data.low + 3 if any(not l.is_drum for l in data.lanes) else 0)
        roll_px = int(np.clip(6 * rows + 16 * (len(data.drum_pitches) + 1), 160, 560))
    return int(roll_px * (1.3 if large else 1.0)) + CONTROLS_PX[large]
