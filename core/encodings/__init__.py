"""Encodings: Piece <-> token ids. See ``base.Tokenizer`` for the protocol."""

from core.encodings.base import (PAD, Tokenizer, encoding_names, get_tokenizer, load_tokenizer,
                                 tokenizer_from_json)

__all__ = ["PAD", "Tokenizer", "encoding_names", "get_tokenizer", "load_tokenizer",
           "tokenizer_from_json"]
