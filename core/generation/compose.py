"""Compose: generate, then render each variation (MIDI, WAV, optional score and metrics).

The one path from sampler settings to something to hear, used by the Generate and Home pages
(``app_ui.music``) and by ``python -m core generate``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from core.evaluation import metrics as piece_metrics
from core.evaluation.copies import SourceIndex
from core.generation.generate import Generator
from core.generation.phrase import answer_piece
from core.render import render_audio, to_musicxml

log = logging.getLogger("composer_studio")


@dataclass
class Composition:
    """One generated piece, ready to show or save: everything is bytes or plain data."""

    title: str
    piece: Any
    midi: bytes
    wav: bytes | None = None
    preview: bytes | None = None   # the same audio as Ogg Vorbis, for a page (``preview=True``)
    audio_warning: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    musicxml: bytes | None = None
    musicxml_problem: str | None = None
    passages: list = field(default_factory=list)  # copied passages (``core.evaluation.copies``)
    generated_tokens: int = 0
    created: float = field(default_factory=time.time)

    @property
    def key(self) -> str:
        return hashlib.sha1(self.midi + str(self.created).encode()).hexdigest()[:10]


def compose(generator: Generator, title: str, *, audio: bool = True, stereo: bool = True,
            sample_rate: int = 44100, preview: bool = False, score: bool = False,
            copy_index: piece_metrics.CorpusIndex | None = None, with_metrics: bool = False,
            **options: Any) -> tuple[list[Composition], Any]:
    """Generate with ``options`` (those of :meth:`Generator.generate`) and render each variation.

    ``audio``: a WAV (``stereo``, ``sample_rate``), and with ``preview`` the same as Ogg
    Vorbis for a page to play; ``score``: a MusicXML file, or the reason
    there is none; ``with_metrics``: copy and loop numbers (copying against ``copy_index`` when
    given, and with a ``SourceIndex`` the copied passages: ``passages``, and as dicts
    ``metrics["copied_passages"]``). Primed with a played phrase (``primer="phrase"``), each
    piece holds the phrase and the model's answer as two tracks. Returns the compositions and the generator's ``Result`` (seed, timing, tokens).
    """
    result = generator.generate(**options)
    if options.get("primer") == "phrase":   # the phrase and the answer, two tracks of one piece
        pieces = [answer_piece(result, i) for i in range(len(result.tokens))]
    else:
        pieces = result.pieces
    settings = {k: v for k, v in options.items() if isinstance(v, (int, float, str, bool, type(None)))}
    out = []
    for i, piece in enumerate(pieces):
        name = title if len(pieces) == 1 else f"{title} · variation {i + 1}"
        c = Composition(title=name, piece=piece, midi=piece.to_midi_bytes(),
                        settings={**settings, "seed": result.seed, "unit": result.unit},
                        generated_tokens=len(result.tokens[i]) - result.primer_length)
        if audio:
            rendered = render_audio(piece, sample_rate=sample_rate, stereo=stereo)
            c.wav, c.audio_warning = rendered.wav_bytes(), rendered.warning
            if preview:
                c.preview = rendered.ogg_bytes()
        if with_metrics:
            c.metrics = piece_metrics.piece_metrics(piece, copy_index)
            if isinstance(copy_index, SourceIndex):
                c.passages = copy_index.passages(piece)
                c.metrics["copied_passages"] = [p.to_dict() for p in c.passages]
        if score:
            try:
                c.musicxml = to_musicxml(piece, title=name, model=title)
            except ValueError as e:  # e.g. a drum-only piece has no score; say so by the buttons
                c.musicxml_problem = str(e)
            except Exception:  # music21 could not notate it: a short note, details in the log
                log.exception("MusicXML export failed for %s", name)
                c.musicxml_problem = "the score export failed for this piece (MIDI and WAV are fine)"
        out.append(c)
    return out, result
