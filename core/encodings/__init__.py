"""Encodings: Piece <-> token ids. See ``base.Tokenizer`` for the protocol.

Importing this package imports every encoding (each registers itself), so the registry is
complete before any lookup.

May import: the basics at the top of ``core`` and nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.encodings import chords, continuous, drums, events, grid, rolls  # noqa: F401 (register)
from core.encodings.base import REGISTRY
from core.encodings.base import PAD, Encoding, Tokenizer

__all__ = ["PAD", "Encoding", "Tokenizer", "encoding_names", "encoding_reads", "get_tokenizer",
           "load_tokenizer",
           "tokenizer_from_json", "vocabulary_sizes"]


def encoding_names() -> list[str]:
    return sorted(REGISTRY)


def encoding_reads(name: str) -> str:
    """What a model of the named encoding reads (``core.models.config.Preset.reads``): ``"notes"``
    (real values), ``"pianoroll"`` (piano-roll cells) or ``"tokens"``."""
    cls = REGISTRY.get(name)
    if cls is None:
        raise ValueError(f"unknown encoding {name!r}; choose one of {', '.join(sorted(REGISTRY))}")
    if cls.continuous:
        return "notes"
    return "pianoroll" if issubclass(cls, rolls.PianoRollTokenizer) else "tokens"


def get_tokenizer(name: str, **params: Any) -> "Encoding":
    """A new, unfitted encoding (a tokenizer, or the continuous one) of that name."""
    if name not in REGISTRY:
        raise ValueError(f"unknown encoding {name!r}; choose one of {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](**params)


def tokenizer_from_json(obj: dict[str, Any]) -> "Tokenizer":
    """Rebuild a fitted tokenizer from :meth:`Tokenizer.to_json` output."""
    name = obj.get("encoding")
    if name not in REGISTRY:
        raise ValueError(f"tokenizer file names an unknown encoding {name!r}")
    tok = REGISTRY[name](**obj.get("params", {}))
    tok._load_state(obj["state"])
    tok._fitted = True
    return tok


def load_tokenizer(path: str | Path) -> "Tokenizer":
    return tokenizer_from_json(json.loads(Path(path).read_text()))


def vocabulary_sizes(pieces) -> dict[str, int | str]:
    """The vocabulary each encoding fits on ``pieces``, or why it does not apply (e.g. a drum
    encoding on a corpus without drums)."""
    sizes: dict[str, int | str] = {}
    for name in encoding_names():
        try:
            encoding = get_tokenizer(name).fit(pieces)
            sizes[name] = encoding.size_text if encoding.continuous else encoding.vocab_size
        except Exception as e:  # any encoding's own refusal, shown as its message
            sizes[name] = str(e).strip()[:80] or type(e).__name__
    return sizes
