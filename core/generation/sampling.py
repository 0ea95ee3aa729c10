"""Sampling: next-token probabilities -> token ids, shaped by temperature, top-k / top-p, a
repetition penalty and the anti-loop guard (:class:`LoopGuard`).

:func:`sample` works on the probabilities of all variations at once: ``PAD`` is never drawn,
and one draw per variation comes from a seeded ``np.random.Generator``, so the same seed gives
the same music.
"""

from __future__ import annotations

import numpy as np

from core.encodings.base import PAD

GREEDY_BELOW = 1e-3         # a temperature below this picks the most probable token (argmax)
LOOP_MAX_PERIOD = 32        # longest cycle (tokens) the anti-loop guard looks for

def sample(probs: np.ndarray, rng: np.random.Generator, *, temperature: float = 1.0,
           top_k: int = 0, top_p: float = 1.0, banned: np.ndarray | None = None,
           penalized: np.ndarray | None = None, penalty: float = 1.0) -> np.ndarray:
    """One token id per row of ``probs`` ``(batch, vocab)``.

    In order: ``PAD`` and the ``banned`` tokens (bool mask ``(batch, vocab)``) are removed;
    ``penalized`` tokens (bool mask) have their probability divided by ``penalty``; the
    temperature rescales the log-probabilities (below ``GREEDY_BELOW`` the most probable token
    is taken); ``top_k`` (0 = off) keeps the k most probable, ``top_p`` (1 = off) the smallest set
    whose probability reaches p. If nothing is left (the model put all its probability on
    banned tokens), the draw is uniform over the tokens that are not banned.
    """
    with np.errstate(divide="ignore"):
        logits = np.log(probs, dtype=np.float64)
    if penalized is not None and penalty != 1.0:
        logits[penalized] -= np.log(penalty)
    if banned is not None:
        banned = banned.copy()
        banned[banned[:, 1:].all(axis=1)] = False  # every token banned: ban none
        logits[banned] = -np.inf
    logits[:, PAD] = -np.inf
    empty = np.isneginf(logits.max(axis=1))  # all the probability was on removed tokens
    if empty.any():
        uniform = np.zeros((int(empty.sum()), logits.shape[1]))
        if banned is not None:
            uniform[banned[empty]] = -np.inf
        uniform[:, PAD] = -np.inf
        logits[empty] = uniform
    if temperature < GREEDY_BELOW:
        return logits.argmax(axis=1)
    logits /= temperature
    if 0 < top_k < logits.shape[1]:
        kth = -np.partition(-logits, top_k - 1, axis=1)[:, top_k - 1:top_k]
        logits[logits < kth] = -np.inf
    if top_p < 1.0:
        rows = np.arange(len(logits))[:, None]
        order = np.argsort(-logits, axis=1)
        p = np.exp(logits[rows, order] - logits[rows, order[:, :1]])
        p /= p.sum(axis=1, keepdims=True)
        drop = np.zeros(logits.shape, bool)
        drop[rows, order] = np.cumsum(p, axis=1) - p >= top_p  # more probable tokens reach p
        logits[drop] = -np.inf
    return (logits + rng.gumbel(size=logits.shape)).argmax(axis=1)  # Gumbel-max = softmax draw


class LoopGuard:
    """Detects, for each variation, that the output ends in a repeating cycle, and bans the
    token that would continue it.

    For every period ``p`` (1 to ``LOOP_MAX_PERIOD`` tokens) it counts the trailing tokens that
    equal the token ``p`` places before them (updated in O(periods) per step), so the output ends
    in a ``p``-periodic stretch of ``matches[p] + p`` tokens. That stretch is a loop when it spans
    at least ``min_repeats`` periods and ``min_span`` tokens. Strength 1 acts soonest (2 periods,
    8 tokens: even 8 rests in a row count); strength near 0 only breaks long loops (4 periods,
    64 tokens); 0 is off.
    """

    def __init__(self, strength: float, batch: int) -> None:
        self.strength = float(strength)
        self.min_repeats = 2 + round(2 * (1 - self.strength))
        self.min_span = 8 + round(56 * (1 - self.strength))
        self.periods = np.arange(1, LOOP_MAX_PERIOD + 1)
        self.matches = np.zeros((batch, LOOP_MAX_PERIOD), np.int64)

    def observe(self, seqs: np.ndarray, t: int) -> None:
        """Take in token ``seqs[:, t]`` (all tokens before it were observed)."""
        if self.strength <= 0:
            return
        back = t - self.periods
        same = (seqs[:, t:t + 1] == seqs[:, back]) & (back >= 0)  # a negative index: no match
        self.matches = (self.matches + 1) * same

    def banned(self, seqs: np.ndarray, t: int, vocab: int) -> np.ndarray | None:
        """Bool mask ``(batch, vocab)``: tokens that would continue a loop at position ``t``."""
        if self.strength <= 0:
            return None
        tail = self.matches + self.periods
        looping = (tail >= self.min_repeats * self.periods) & (tail >= self.min_span)
        if not looping.any():
            return None
        rows, cols = np.nonzero(looping)
        mask = np.zeros((len(seqs), vocab), bool)
        mask[rows, seqs[rows, t - self.periods[cols]]] = True
        return mask


