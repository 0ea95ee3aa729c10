"""A run with what its checkpoints are measured and primed against, each built once.

:class:`LoadedRun` owns the per-run caches: the run's tokenizer and model config, its corpus
split as training made it, the token sequences of both sides, the copy index of the training
pieces, the n-gram baseline and the held-out pieces' own copy and loop rates. Everything is
built on first use; :func:`loaded` keeps the few most recently used runs of a process (the app
holds its own in ``st.cache_resource``), so nothing grows without bound.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from core import corpus
from core.evaluation import copies, metrics
from core.evaluation import ngram
from core.encodings.base import Tokenizer
from core.models.config import ModelConfig
from core.piece import Piece
from core.runs import Run

COPY_N = 8               # onsets per n-gram in the copy index
BASELINE_N = ngram.BASELINE_N
KEEP_RUNS = 4            # runs kept loaded per process by :func:`loaded`


class LoadedRun:
    """One run folder and the data derived from it (see the module's docstring)."""

    def __init__(self, run: Run | str) -> None:
        self.run = run if isinstance(run, Run) else Run(run)
        if not self.run.exists:
            raise ValueError(f"{self.run.path} is not a run folder (no run.json)")

    @cached_property
    def tokenizer(self) -> Tokenizer:
        return self.run.tokenizer()

    @cached_property
    def config(self) -> ModelConfig:
        return ModelConfig.from_dict(self.run.config["model"])

    @property
    def corpus_is_cached(self) -> bool:
        """Whether :attr:`split` is quick: loaded already, or in the corpus's disk cache."""
        spec = self.run.config.get("spec", {})
        return "pieces" in self.__dict__ or corpus.is_cached(
            spec.get("corpus"), spec.get("max_pieces"), self.tokenizer.instrument_kind)

    @cached_property
    def pieces(self) -> list[Piece]:
        """The run's whole corpus. ``ValueError`` when it can no longer be loaded (e.g. a
        deleted upload)."""
        spec = self.run.config.get("spec", {})
        try:
            return corpus.load(spec["corpus"], max_pieces=spec.get("max_pieces"),
                               kind=self.tokenizer.instrument_kind).pieces
        except (KeyError, ValueError, OSError) as e:
            raise ValueError(f"the corpus of run {self.run.name} cannot be loaded: {e}") from None

    @cached_property
    def split(self) -> tuple[list[Piece], list[Piece]]:
        """``(train, validation)`` pieces, split as the training did (``ValueError`` as
        :attr:`pieces`)."""
        spec = self.run.config.get("spec", {})
        return corpus.split(self.pieces, spec.get("val_share", 0.1), spec.get("seed", 0))

    def heldout_sequences(self, part: str = "val") -> list[np.ndarray]:
        """The token sequences of the validation pieces, or (``part="test"``) of the corpus's
        given test split (``ValueError`` for a corpus without one)."""
        if part == "val":
            return self.val_sequences
        if part != "test":
            raise ValueError(f"split must be val or test, not {part!r}")
        return [self.tokenizer.encode(p) for p in corpus.test_split(self.pieces)]

    @cached_property
    def train_sequences(self) -> list[np.ndarray]:
        return [self.tokenizer.encode(p) for p in self.split[0]]

    @cached_property
    def val_sequences(self) -> list[np.ndarray]:
        return [self.tokenizer.encode(p) for p in self.split[1]]

    @cached_property
    def copy_index(self) -> copies.SourceIndex:
        """The training pieces' copy index, which also says where each copy comes from."""
        return copies.SourceIndex(self.split[0], COPY_N, self.tokenizer.instrument_kind)

    @cached_property
    def heldout_passages(self) -> list[tuple[str, list[copies.Passage]]]:
        """Each validation piece's own borrowing from the training pieces: ``(name,
        passages)``, the examples behind ``heldout_copy_rate``."""
        kind = self.tokenizer.instrument_kind
        return [(p.name, self.copy_index.passages(p.select(kind))) for p in self.split[1]]

    @cached_property
    def pitch_class_histogram(self) -> np.ndarray:
        kind = self.tokenizer.instrument_kind
        return metrics.pitch_class_histogram([p.select(kind) for p in self.split[0]])

    @cached_property
    def val_notes(self) -> int:
        return sum(p.select(self.tokenizer.instrument_kind).n_notes for p in self.split[1])

    @cached_property
    def baseline_nll_token(self) -> float | None:
        """Nats per token of a 3-gram (Witten-Bell) fitted on the training pieces, on the
        validation pieces; ``None`` when every validation piece is shorter than 2 tokens."""
        return ngram.baseline_nll(self.train_sequences, self.val_sequences, self.tokenizer.vocab_size)

    @cached_property
    def heldout(self) -> dict[str, Any]:
        """The validation pieces measured like samples: the reference for "as original as real
        music". ``heldout_copy_rate`` is their mean copy rate against the training pieces."""
        kind = self.tokenizer.instrument_kind
        val = [p.select(kind) for p in self.split[1]]
        copies = [self.copy_index.copy_stats(p)["copy_rate"] for p in val if p.n_notes]
        loops = [metrics.loop_rate(p) for p in val if p.n_notes]
        return {"val_pieces": len(val),
                "heldout_copy_rate": float(np.mean(copies)) if copies else None,
                "heldout_loop_rate": float(np.mean(loops)) if loops else None}


def cache_key(run: Run) -> tuple[str, Any]:
    """Identifies a run for caches: its folder and creation time (a new run made in the same
    folder gets a new key)."""
    return str(run.path.resolve()), run.config.get("created")


def loaded(run: Run | str) -> LoadedRun:
    """The process's :class:`LoadedRun` of ``run`` (the ``KEEP_RUNS`` most recent are kept)."""
    run = run if isinstance(run, Run) else Run(run)
    return _loaded(cache_key(run))


@lru_cache(maxsize=KEEP_RUNS)
def _loaded(key: tuple[str, Any]) -> LoadedRun:
    return LoadedRun(key[0])
