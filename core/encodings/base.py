"""The protocol every encoding implements.

An :class:`Encoding` turns a :class:`~core.piece.Piece` into an array and back. It is *fitted* on
a corpus, saved as plain JSON (never pickled), and reloaded to encode identically.

- A :class:`Tokenizer` (every encoding but one) gives a 1-D ``int32`` array of token ids from a
  fitted vocabulary. Token id 0 is always ``PAD``: it is never produced by ``encode`` and the
  models mask it out.
- ``continuous`` (``core.encodings.continuous``, the C-RNN-GAN's) gives a float32 array of one
  row of real values per step; it has no vocabulary (``continuous = True``).

Subclasses set ``name``, implement ``_fit``, ``encode``, ``decode``, ``_state`` and
``_load_state``, and register themselves with :func:`register`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from core import atomic
from core.piece import Piece

PAD = 0
PAD_NAME = "PAD"

REGISTRY: dict[str, type["Encoding"]] = {}


def register(cls: type["Encoding"]) -> type["Encoding"]:
    REGISTRY[cls.name] = cls
    return cls


class BeatClock:
    """The length in beats of each of ``batch`` growing token sequences, exactly what decoding
    says (``tokenizer.decode(tokens).duration_beats``: the latest note end, 0 without notes),
    kept up to date one token per sequence at a time: :meth:`feed` costs the same at token 5 and
    at token 5000, where decoding the sequence again costs its whole length.

    Subclasses read time from tables over token ids, in plain Python numbers (cheaper than
    NumPy calls for a handful of sequences); ``PAD`` (skipped by decoding) changes nothing.
    """

    def __init__(self, batch: int) -> None:
        self.beats = np.zeros(batch)

    def feed(self, tokens: np.ndarray) -> np.ndarray:
        """Take in the next token of every sequence (int array ``(batch,)``); the lengths in
        beats so far, float64 ``(batch,)``."""
        for i, token in enumerate(tokens.tolist()):
            self._feed(i, token)
        return self.beats

    def _feed(self, i: int, token: int) -> None:
        raise NotImplementedError


class Encoding(ABC):
    """What every encoding shares: fitting, the losses of ``encode``, JSON persistence."""

    name: ClassVar[str]
    #: ``"melodic"`` or ``"drums"``: which tracks of a piece this encoding reads.
    instrument_kind: ClassVar[str] = "melodic"
    #: True for an encoding of real values (no vocabulary, no token ids).
    continuous: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = params
        self._fitted = False
        #: What ``encode`` had to drop or approximate since this object was made, by kind
        #: (e.g. ``{"sets_replaced": 3, "notes_dropped": 5}``); not saved with the tokenizer.
        self.losses: Counter[str] = Counter()

    def fit(self, pieces: Sequence[Piece]) -> "Encoding":
        """Learn the vocabulary (or the scaling) from ``pieces``; returns ``self``."""
        self._fit(pieces)
        self._fitted = True
        return self

    @abstractmethod
    def _fit(self, pieces: Sequence[Piece]) -> None: ...

    @abstractmethod
    def encode(self, piece: Piece) -> np.ndarray: ...

    @abstractmethod
    def decode(self, encoded: np.ndarray) -> Piece: ...

    @abstractmethod
    def _state(self) -> dict[str, Any]: ...

    @abstractmethod
    def _load_state(self, state: dict[str, Any]) -> None: ...

    @property
    def fitted(self) -> bool:
        return self._fitted

    @property
    def size_text(self) -> str:
        """What this encoding's models choose from, in words (``"vocabulary 312"``)."""
        raise NotImplementedError

    def _summary(self) -> dict[str, Any]:
        """What ``to_json`` records besides the state (the vocabulary's size, for a tokenizer)."""
        return {}

    def to_json(self) -> dict[str, Any]:
        if not self._fitted:
            raise ValueError("tokenizer is not fitted; call fit(pieces) first")
        return {"encoding": self.name, "params": self.params, "state": self._state(),
                **self._summary()}

    def save(self, path: str | Path) -> None:
        atomic.write_json(path, self.to_json())

    def decode_midi(self, encoded, tempo: float = 120.0):
        """``decode`` then render to a ``pretty_midi.PrettyMIDI`` at ``tempo`` bpm."""
        piece = self.decode(encoded)
        piece.tempo = tempo
        return piece.to_midi()


class Tokenizer(Encoding):
    """An encoding into token ids of a fitted vocabulary."""

    @abstractmethod
    def encode(self, piece: Piece) -> np.ndarray:
        """Token ids (``int32``, shape ``(T,)``, never ``PAD``) for one piece."""

    @abstractmethod
    def decode(self, tokens: Sequence[int] | np.ndarray) -> Piece:
        """A piece from token ids; ``PAD`` and ids outside the vocabulary are skipped."""

    @property
    @abstractmethod
    def vocab(self) -> list[str]:
        """Human-readable token names; ``vocab[i]`` names id ``i``; ``vocab[0] == "PAD"``."""

    # --- shared helpers ------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def beat_clock(self, batch: int) -> BeatClock | None:
        """A :class:`BeatClock` following ``batch`` growing sequences of this encoding's tokens,
        or ``None`` where this encoding cannot follow time token by token (callers then decode)."""
        return None

    def token_names(self, tokens: Sequence[int] | np.ndarray) -> list[str]:
        v = self.vocab
        return [v[t] if 0 <= t < len(v) else f"<{t}?>" for t in map(int, tokens)]

    def parse_tokens(self, text: str) -> np.ndarray:
        """Token ids from space-separated token names; unknown names raise a ``ValueError``."""
        index = {n: i for i, n in enumerate(self.vocab)}
        ids, unknown = [], []
        for word in text.split():
            (ids if word in index else unknown).append(index.get(word, word))
        if unknown:
            shown = ", ".join(map(str, unknown[:5]))
            raise ValueError(f"{len(unknown)} token(s) not in this model's vocabulary: {shown}")
        return np.asarray(ids, dtype=np.int32)

    @property
    def size_text(self) -> str:
        return f"vocabulary {self.vocab_size}"

    def _summary(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size}

    def __repr__(self) -> str:
        size = self.vocab_size if self._fitted else "unfitted"
        return f"{type(self).__name__}(vocab={size}, params={self.params})"
