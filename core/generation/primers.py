"""What every generator shares: primers, the ``Result`` it returns, and one BLAS thread.

:class:`Primers` turns a primer request (a corpus opening or window, a note, typed notes, a
MIDI file) into the encoded array a generator starts from, in its encoding; ``Generator``
(tokens, ``core.generation.generate``) and ``StepGenerator`` (real-valued steps, ``core.generation.generate_steps``)
both build on it and both return a :class:`Result`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core import corpus
from core.encodings.base import Encoding
from core.notes import note_pitch, parse_notes
from core.piece import Piece, Track

PRIMERS = ("corpus", "note", "text", "midi", "none")   # none: a GAN's noise alone

#: a corpus primer's tokens for a model that carries its state (its training window is only how
#: far back a gradient reaches, not what it reads)
STATEFUL_PRIMER = 128


# --- the result ----------------------------------------------------------------------------------
@dataclass
class Result:
    """What :meth:`Generator.generate` made.

    ``tokens``: one int32 array per variation, the primer's ``primer_length`` tokens first (they
    can differ in length when a length in seconds was asked for); for a model of real-valued
    steps, one float32 ``(steps, values)`` array per variation, counted in steps.
    ``elapsed_s``: wall-clock seconds the generation took (primer encoding excluded). ``seed``: the seed used (drawn when
    none was given), so a result can be made again. ``tempo`` (bpm) and ``program`` (General MIDI,
    ``None`` = as decoded) are applied by :meth:`piece`.
    """

    tokens: list[np.ndarray]
    primer_length: int
    elapsed_s: float
    seed: int
    tempo: float
    program: int | None
    include_primer: bool
    tokenizer: Encoding = field(repr=False)

    @property
    def unit(self) -> str:
        """What a variation is counted in: ``"tokens"``, or a real-valued model's ``"steps"``."""
        return "steps" if self.tokenizer.continuous else "tokens"

    @property
    def generated_tokens(self) -> int:
        """Tokens sampled, over all variations (primers not counted)."""
        return sum(len(t) - self.primer_length for t in self.tokens)

    def piece(self, i: int = 0, include_primer: bool | None = None) -> Piece:
        """Variation ``i`` decoded, at the result's tempo and program; drum encodings decode onto
        the drum channel. ``include_primer`` (default: the result's setting) keeps the primer."""
        keep = self.include_primer if include_primer is None else include_primer
        tokens = self.tokens[i] if keep else self.tokens[i][self.primer_length:]
        decoded = self.tokenizer.decode(tokens)
        drums = self.tokenizer.instrument_kind == "drums"
        tracks = [Track(0, True, t.name) if drums else
                  Track(t.program if self.program is None else self.program, t.is_drum, t.name)
                  for t in decoded.tracks]
        return Piece(f"variation {i + 1}", decoded.notes, tracks, self.tempo, dict(decoded.meta))

    @property
    def pieces(self) -> list[Piece]:
        return [self.piece(i) for i in range(len(self.tokens))]

    def midi(self, i: int = 0, include_primer: bool | None = None):
        """Variation ``i`` as a ``pretty_midi.PrettyMIDI`` (times in seconds)."""
        return self.piece(i, include_primer).to_midi()


class Primers:
    """The primers of a generator with ``tokenizer``, ``config`` and ``run`` (a ``LoadedRun`` or
    ``None``); :meth:`_primer_array` says how its encoding's arrays are fed."""

    tokenizer: Any
    config: Any
    run: Any

    def primer(self, kind: str = "note", *, text: str | None = None,
               midi: bytes | str | Path | None = None, note: int | str | None = None,
               length: int | None = None, rng: np.random.Generator | None = None,
               piece: Piece | None = None) -> np.ndarray:
        """Primer token ids (int32, never empty) of one ``kind``:

        - ``"corpus"``: ``length`` tokens of a random training piece of the run: its opening
          for a model that carries its state through pieces (the state it learnt from;
          default ``STATEFUL_PRIMER`` tokens), a random window otherwise (default: the
          model's window, all it reads);
        - ``"note"``: a single ``note`` (MIDI number or name; default C4, or a kick drum for drum
          encodings), moved to the nearest pitch (and a loudness) the vocabulary can say;
        - ``"text"``: notes typed as text (:func:`parse_notes`), or the encoding's own token
          names separated by spaces (e.g. ``Pitch_60``);
        - ``"midi"``: a MIDI file (bytes or path), its first ``length`` tokens when given;
        - ``"phrase"``: a ``piece`` played on the keyboard (``core.generation.phrase``), encoded
          as a MIDI file's would be.

        Raises ``ValueError`` with the reason for anything it cannot use.
        """
        rng = rng or np.random.default_rng()
        drums = self.tokenizer.instrument_kind == "drums"
        if kind == "corpus":
            stateful = self.config.train_on in ("pieces", "carried")
            return self._corpus_primer(length or (STATEFUL_PRIMER if stateful else self.config.window), rng)
        if kind == "note":
            return self._note_primer(36 if drums and note is None else note if note is not None else 60)
        if kind == "text":
            if not text or not text.strip():
                raise ValueError("the text primer is empty: type notes like 'C4 E4 G4'")
            try:
                piece = parse_notes(text, is_drum=drums)
            except ValueError as not_notes:
                if self.tokenizer.continuous:   # no token names to read instead
                    raise ValueError(f"primer text: {not_notes}") from None
                try:
                    return self.tokenizer.parse_tokens(text)
                except ValueError as not_tokens:
                    raise ValueError(f"primer text: {not_notes}; read as token names: {not_tokens} "
                                     f"(e.g. {' '.join(self.tokenizer.vocab[1:4])})") from None
            return self._encode(piece, "the primer text")
        if kind == "none":
            raise ValueError("this model continues a primer: start from a note, typed notes, a "
                             "MIDI file or the corpus (only the C-RNN-GAN starts from noise alone)")
        if kind == "phrase":
            if piece is None or not piece.n_notes:
                raise ValueError("the phrase is empty: play a few notes on the keyboard, then press Answer")
            return self._encode(piece, "the phrase you played")
        if kind == "midi":
            if midi is None:
                raise ValueError("the MIDI primer needs a MIDI file")
            tokens = self._encode(corpus.read_midi(midi, _primer_label(midi)), "the primer MIDI file")
            return tokens[:length] if length else tokens
        raise ValueError(f"unknown primer {kind!r}; choose one of {', '.join(PRIMERS)}")

    def _encode(self, piece: Piece, what: str) -> np.ndarray:
        tokens = self.tokenizer.encode(piece)
        if not len(tokens):
            raise ValueError(f"{what} has no notes that the {self.tokenizer.name} encoding can use")
        return self._primer_array(tokens)

    def _primer_array(self, encoded: np.ndarray) -> np.ndarray:
        """A primer as this generator feeds it: token ids (int32)."""
        return np.asarray(encoded, np.int32)

    def _note_primer(self, note: int | str) -> np.ndarray:
        pitch = note_pitch(note) if isinstance(note, str) else int(note)
        if not 0 <= pitch <= 127:
            raise ValueError(f"primer note {note} is outside MIDI pitches 0..127")
        drums = self.tokenizer.instrument_kind == "drums"
        nearest = sorted(range(max(pitch - 12, 0), min(pitch + 13, 128)), key=lambda q: abs(q - pitch))
        for p in nearest:
            for velocity in (90, 64, 110, 40, 127, 20):  # an encoding may know only some loudness
                piece = Piece("primer", [[0.0, 1.0, p, velocity, 0]], [Track(0, drums)])
                tokens = self.tokenizer.encode(piece)
                if len(tokens) and self.tokenizer.decode(tokens).n_notes:
                    return self._primer_array(tokens)
        raise ValueError(f"no note within an octave of {note} is in this model's vocabulary")

    def _corpus_primer(self, length: int, rng: np.random.Generator) -> np.ndarray:
        if self.run is None:
            raise ValueError("a corpus primer needs the run folder (use Generator.from_run)")
        seqs = [s for s in self.run.train_sequences if len(s)]
        if not seqs:
            raise ValueError("the run's training pieces give no tokens")
        long_enough = [s for s in seqs if len(s) >= length]
        if not long_enough:  # every piece is shorter than the window: the longest, whole
            return self._primer_array(max(seqs, key=len))
        seq = long_enough[rng.integers(len(long_enough))]
        # a model trained on whole pieces (or on their windows with the state carried) built its
        # state from a piece's start, so it is primed with an opening; a windowed one saw
        # windows from anywhere in a piece
        whole = self.config.train_on in ("pieces", "carried")
        start = 0 if whole else int(rng.integers(len(seq) - length + 1))
        return self._primer_array(seq[start:start + length])



def _primer_label(midi: bytes | str | Path) -> str:
    return "the primer MIDI file" + ("" if isinstance(midi, bytes) else f" {Path(midi).name}")
