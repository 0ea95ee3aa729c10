"""Turn a ``Piece`` (or a ``pretty_midi.PrettyMIDI``) into something to hear, see or print.

- :func:`render_audio` / :func:`render_wav`: FluidSynth with one reused synth per soundfont,
  or a simple numpy synth, with a visible warning, when FluidSynth is missing (``audio``);
- :func:`find_soundfont` / :func:`describe_backend`: which soundfont and backend (``soundfonts``);
- :func:`piano_roll`: a Plotly figure (``pianoroll``, whose ``roll_data`` also feeds the player);
- :func:`player_html`: the piano roll that plays along, audio and roll in one page (``player``);
- :func:`to_musicxml`: a MusicXML score through music21, laid out on staves by ``staves``
  (``score``); :func:`score_svgs`: that score engraved by Verovio, one SVG per page, and
  :func:`score_page`: those pages in a page of their own (``engrave``).

FluidSynth, music21 and Verovio are imported only when audio or a score is asked for.
``python -m core render`` is ``core.cli.render``.

May import: the basics at the top of ``core`` and nothing else (it comes last in the data's
path but needs only a ``Piece``).
"""

from core.render.audio import Audio, describe_backend, render_audio, render_wav
from core.render.engrave import score_html, score_page, score_svgs
from core.render.fluid import FluidSynthUnavailable, release_synths
from core.render.pianoroll import piano_roll
from core.render.player import player_html
from core.render.score import to_musicxml
from core.render.soundfonts import find_soundfont

__all__ = ["Audio", "FluidSynthUnavailable", "describe_backend", "find_soundfont",
           "piano_roll", "player_html", "release_synths", "render_audio", "render_wav",
           "score_html", "score_page", "score_svgs", "to_musicxml"]
