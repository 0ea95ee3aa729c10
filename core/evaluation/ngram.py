"""The n-gram baseline a model's held-out NLL is compared with (nats per token)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Iterable, Sequence

import numpy as np

#: A token sequence: int ids, as a list or a 1-D array.
Tokens = Sequence[int] | np.ndarray


class NGramModel:
    """An n-gram model over token ids with interpolated Witten-Bell smoothing.

    ``P(w | h) = (c(h, w) + T(h) * P(w | h')) / (c(h) + T(h))``, where ``c`` counts the training
    tokens, ``T(h)`` is the number of distinct tokens seen after context ``h`` and ``h'`` drops
    the oldest token of ``h``; below the unigram sits a uniform distribution over the whole
    vocabulary, so every token of ``vocab_size`` has a probability and each ``P(. | h)`` sums
    to 1. Contexts never seen fall back to the longest seen suffix.
    """

    def __init__(self, n: int, vocab_size: int) -> None:
        if n < 1 or vocab_size < 1:
            raise ValueError(f"need n >= 1 and vocab_size >= 1, got n={n}, vocab_size={vocab_size}")
        self.n = n
        self.vocab_size = vocab_size
        # context (up to n-1 tokens) -> (counts of the next token, their sum, distinct tokens)
        self._stats: dict[tuple[int, ...], tuple[Counter[int], int, int]] = {}

    def fit(self, seqs: Iterable[Tokens]) -> "NGramModel":
        """Count every token of ``seqs`` after each of its contexts of 0 to ``n-1`` tokens."""
        counts: dict[tuple[int, ...], Counter[int]] = defaultdict(Counter)
        for seq in seqs:
            tokens = [int(t) for t in np.asarray(seq).ravel()]
            if tokens and not 0 <= min(tokens) <= max(tokens) < self.vocab_size:
                raise ValueError(f"token ids must lie in 0..{self.vocab_size - 1}")
            for t, token in enumerate(tokens):
                for k in range(min(t, self.n - 1) + 1):
                    counts[tuple(tokens[t - k:t])][token] += 1
        self._stats = {h: (c, sum(c.values()), len(c)) for h, c in counts.items()}
        return self

    def prob(self, token: int, context: Sequence[int]) -> float:
        """``P(token | context)``; only the last ``n-1`` tokens of ``context`` matter."""
        p = 1.0 / self.vocab_size
        context = tuple(int(t) for t in context[max(0, len(context) - self.n + 1):])
        for k in range(len(context) + 1):
            stats = self._stats.get(context[len(context) - k:])
            if stats is None:  # a longer context extends this one, so it is unseen too
                break
            counts, total, types = stats
            p = (counts.get(int(token), 0) + types * p) / (total + types)
        return p

    def nll(self, seqs: Iterable[Tokens]) -> float:
        """Mean negative log-likelihood (nats per token) of every token but each sequence's first.

        The first token is skipped to score the same tokens as ``core.evaluation.likelihood.heldout_nll``.
        """
        total, count = 0.0, 0
        for seq in seqs:
            tokens = [int(t) for t in np.asarray(seq).ravel()]
            for t in range(1, len(tokens)):
                total -= math.log(self.prob(tokens[t], tokens[max(0, t - self.n + 1):t]))
                count += 1
        return _per_token(total, count)


def ngram_baseline(train_seqs: Iterable[Tokens], n: int = 3, *, vocab_size: int) -> NGramModel:
    """An ``n``-gram model with Witten-Bell smoothing (:class:`NGramModel`) fitted on the seqs."""
    return NGramModel(n, vocab_size).fit(train_seqs)


#: the baseline's order: what the live chart's line and every report compare a model with
BASELINE_N = 3


def baseline_nll(train_seqs: Iterable[Tokens], val_seqs: Iterable[Tokens], vocab_size: int,
                 n: int = BASELINE_N) -> float | None:
    """Nats per token of an ``n``-gram fitted on ``train_seqs``, on ``val_seqs``; ``None`` when
    every validation sequence is shorter than 2 tokens."""
    try:
        return ngram_baseline(train_seqs, n, vocab_size=vocab_size).nll(val_seqs)
    except ValueError:
        return None


def _per_token(total_nats: float, count: int) -> float:
    if not count:
        raise ValueError("nothing to score: every sequence is shorter than 2 tokens")
    return float(total_nats / count)
