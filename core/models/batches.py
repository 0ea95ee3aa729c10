"""Training data: token sequences -> the arrays a model learns from.

Three ways to cut a corpus, chosen by the model's design (``ModelConfig.train_on``):

- :func:`make_windows` -- fixed windows that each start from a zero state. The many-to-one seed
  models (``skuli``, ``softology``, ``devfest``) predict the token after a full window, and this
  is exactly how they generate (a sliding window), so it matches their use.
- :class:`PieceBatches` -- whole pieces, every position supervised, batched by length and
  right-padded with ``PAD`` (weight 0). The many-to-many models (``studio``, ``ragtime``)
  generate with the LSTM state carried for thousands of tokens; trained on whole pieces from a
  zero state they learn in the very state the generator runs in (a causal LSTM never sees the
  padding after a piece's end, so no mask is needed). Pieces longer than ``max_len`` tokens are
  cut into consecutive chunks of ``max_len`` (each from a zero state): the one place where
  training and generation still differ, far beyond the first window.

- :class:`CarriedWindows` -- truncated backpropagation through time, the many-to-many
  models' default: each piece cut into consecutive windows, and the windows of a piece in
  consecutive batches on the same batch row, so the LSTM state at the end of one window is the
  start of the next (``core.models.carried`` carries it, with no gradient through the carry)
  and a row's state is reset to zero where a new piece starts. It learns in the generator's
  state, as whole pieces do, at the update rate of windows.

None ever carries anything from one piece into the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from core.encodings.base import PAD

PAD_TO = 32            # piece batches are padded to a multiple of this many tokens
BUCKET_BATCHES = 8     # length bucketing sorts this many batches' worth of pieces at a time


@dataclass
class Windows:
    """Training examples: ``x`` (n, window) int32, ``y`` targets, ``w`` per-target weights."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray

    @property
    def supervised_tokens(self) -> int:
        return int(self.w.sum())


def make_windows(seqs: Sequence[np.ndarray], window: int, many_to_many: bool,
                 max_samples: int | None = None) -> Windows:
    """Cut token sequences into training windows, never across two pieces.

    Many-to-many: windows of ``window + 1`` tokens at a stride of ``window`` (the last one
    right-padded with PAD, weight 0 there); ``y`` is ``x`` shifted by one. Many-to-one (the seed
    models): every position with a full window before it, ``y`` the single next token.
    ``max_samples`` keeps that many evenly spaced windows.
    """
    xs, ys = [], []
    if many_to_many:
        for s in seqs:
            for start in range(0, max(len(s) - 1, 0), window):
                chunk = np.zeros(window + 1, np.int32)
                part = s[start:start + window + 1]
                chunk[:len(part)] = part
                xs.append(chunk[:-1])
                ys.append(chunk[1:])
        if not xs:
            raise ValueError("every piece is shorter than 2 tokens; nothing to learn from")
        x, y = np.stack(xs), np.stack(ys)
        w = (y != PAD).astype(np.float32)
    else:
        for s in seqs:
            if len(s) > window:
                view = np.lib.stride_tricks.sliding_window_view(s, window + 1)
                xs.append(view[:, :-1])
                ys.append(view[:, -1])
        if not xs:
            longest = max((len(s) for s in seqs), default=0)
            raise ValueError(f"the window of {window} tokens is longer than every piece (longest: "
                             f"{longest} tokens); choose a smaller window or longer pieces")
        x, y = np.concatenate(xs).astype(np.int32), np.concatenate(ys).astype(np.int32)
        w = np.ones(len(y), np.float32)
    if max_samples and len(x) > max_samples:
        keep = np.linspace(0, len(x) - 1, max_samples).astype(int)
        x, y, w = x[keep], y[keep], w[keep]
    return Windows(x, y, w)


def piece_chunks(seqs: Sequence[np.ndarray], max_len: int) -> list[np.ndarray]:
    """Every sequence of 2+ tokens, cut into chunks of at most ``max_len + 1`` tokens that
    overlap by one (so every token but a piece's first is a target exactly once)."""
    chunks = []
    for s in seqs:
        s = np.asarray(s, np.int32)
        for start in range(0, max(len(s) - 1, 0), max_len):
            chunks.append(s[start:start + max_len + 1])
    return chunks


class PieceBatches:
    """Whole pieces as ``(x, y, weights)`` batches, ``x`` ``(batch, T)`` int32 with ``T`` the
    batch's longest piece rounded up to ``PAD_TO``; ``y`` is ``x`` shifted by one.

    Pieces of similar length share a batch (sorted within buckets of ``BUCKET_BATCHES`` batches of
    shuffled pieces, so little is padding), and the batch order is shuffled; :meth:`reshuffle`
    draws a new order (each epoch). ``shuffle=False`` keeps one fixed order (validation).
    """

    def __init__(self, seqs: Sequence[np.ndarray], batch_size: int, *, max_len: int = 4096,
                 shuffle: bool = True, seed: int = 0) -> None:
        if batch_size < 1 or max_len < 1:
            raise ValueError("batch size and max_len must be at least 1")
        self.chunks = self._chunks(seqs, max_len)
        if not self.chunks:
            raise ValueError("every piece is shorter than 2 tokens; nothing to learn from")
        self.batch_size, self.shuffle = int(batch_size), shuffle
        self.rng = np.random.default_rng(seed)
        self.reshuffle()

    def _chunks(self, seqs: Sequence[np.ndarray], max_len: int) -> list:
        return piece_chunks(seqs, max_len)

    def _length(self, chunk) -> int:
        """A chunk's length in tokens (what batches are bucketed by)."""
        return len(chunk)

    @property
    def supervised_tokens(self) -> int:
        return sum(len(c) - 1 for c in self.chunks)

    def __len__(self) -> int:
        return math.ceil(len(self.chunks) / self.batch_size)

    def reshuffle(self) -> None:
        n, b = len(self.chunks), self.batch_size
        lengths = np.array([self._length(c) for c in self.chunks])
        if not self.shuffle:
            order = np.argsort(lengths, kind="stable")
            self.batches = [order[i:i + b] for i in range(0, n, b)]
            return
        order = self.rng.permutation(n)
        bucket = b * BUCKET_BATCHES
        batches = []
        for at in range(0, n, bucket):
            part = order[at:at + bucket]
            part = part[np.argsort(lengths[part], kind="stable")]
            batches += [part[i:i + b] for i in range(0, len(part), b)]
        self.batches = [batches[i] for i in self.rng.permutation(len(batches))]

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = [self.chunks[j] for j in self.batches[i]]
        width = max(len(r) for r in rows) - 1
        width = -(-width // PAD_TO) * PAD_TO
        x = np.zeros((len(rows), width), np.int32)
        y = np.zeros((len(rows), width), np.int32)
        for k, r in enumerate(rows):
            x[k, :len(r) - 1] = r[:-1]
            y[k, :len(r) - 1] = r[1:]
        return x, y, (y != PAD).astype(np.float32)


class CarriedWindows:
    """Consecutive windows of whole pieces on fixed batch rows: ``((x, keep), y, weights)``
    batches, ``x`` ``(batch, window)`` int32, ``keep`` ``(batch, 1)`` float32: 0 on a row whose
    window starts a piece (its state is reset), 1 where it continues the piece of the batch
    before. ``y`` is ``x`` shifted by one within the piece; padding (a piece's last window, and a
    row that has run out of pieces) has weight 0.

    Pieces are dealt to the rows longest first, each to the row with the fewest windows so far
    (shuffled among equals, by the seed), then moved or swapped from the longest row to the
    shortest (:meth:`_even_out`), so the rows end close together (the Bach chorales: within one
    window) and little of an epoch is padding; :meth:`reshuffle` deals again. The training job
    deals once a run and feeds :meth:`arrays` (a ``PyDataset`` of these small batches doubled
    the step time). Every batch has exactly ``batch_size`` rows, as the carried state needs.
    """

    def __init__(self, seqs: Sequence[np.ndarray], batch_size: int, window: int, *,
                 shuffle: bool = True, seed: int = 0) -> None:
        if batch_size < 1 or window < 1:
            raise ValueError("batch size and window must be at least 1")
        self.pieces = [np.asarray(s, np.int32) for s in seqs if len(s) > 1]
        if not self.pieces:
            raise ValueError("every piece is shorter than 2 tokens; nothing to learn from")
        self.batch_size, self.window, self.shuffle = int(batch_size), int(window), shuffle
        self.rng = np.random.default_rng(seed)
        self.reshuffle()

    @property
    def supervised_tokens(self) -> int:
        return sum(len(s) - 1 for s in self.pieces)

    def windows_of(self, piece: np.ndarray) -> int:
        return -(-(len(piece) - 1) // self.window)

    def __len__(self) -> int:
        return self.steps

    def reshuffle(self) -> None:
        """Deal the pieces to the rows (again: a new order when shuffling)."""
        order = self.rng.permutation(len(self.pieces)) if self.shuffle else np.arange(len(self.pieces))
        order = sorted(order, key=lambda i: -self.windows_of(self.pieces[i]))   # stable: ties shuffled
        rows: list[list[int]] = [[] for _ in range(self.batch_size)]
        filled = np.zeros(self.batch_size, np.int64)
        for i in order:
            r = int(np.argmin(filled))
            rows[r].append(i)
            filled[r] += self.windows_of(self.pieces[i])
        self._even_out(rows, filled)
        if self.shuffle:   # the order of pieces along a row
            rows = [[row[j] for j in self.rng.permutation(len(row))] for row in rows]
        # per row: (piece index, window index within the piece) for each step
        self.plan = [[(i, k) for i in row for k in range(self.windows_of(self.pieces[i]))]
                     for row in rows]
        self.steps = max(len(p) for p in self.plan)

    def _even_out(self, rows: list[list[int]], filled: np.ndarray, tries: int = 10_000) -> None:
        """Shorten the longest row (the epoch's steps) by moving one of its pieces to the
        shortest row, or swapping one for a shorter piece there, while that makes the longer of
        the two rows shorter. Long pieces leave the first deal a dozen steps apart (the Bach
        chorales: rows of 256-269 windows where 260 would hold them), and every step past the
        shortest row is padding for some rows."""
        size = self.windows_of
        for _ in range(tries):
            long, short = int(np.argmax(filled)), int(np.argmin(filled))
            gap = int(filled[long] - filled[short])
            best = None   # (the longer of the two rows after, piece out, piece in or None)
            for a in rows[long]:
                moves = [(None, 0)] + [(b, size(self.pieces[b])) for b in rows[short]]
                for b, b_size in moves:
                    delta = size(self.pieces[a]) - b_size   # windows moved from long to short
                    if 0 < delta < gap:
                        after = max(filled[long] - delta, filled[short] + delta)
                        if best is None or after < best[0]:
                            best = (after, a, b, delta)
            if best is None:
                return
            _, a, b, delta = best
            rows[long].remove(a)
            rows[short].append(a)
            if b is not None:
                rows[short].remove(b)
                rows[long].append(b)
            filled[long] -= delta
            filled[short] += delta

    def __getitem__(self, step: int):
        b, w = self.batch_size, self.window
        x = np.zeros((b, w), np.int32)
        y = np.zeros((b, w), np.int32)
        keep = np.zeros((b, 1), np.float32)
        for r, plan in enumerate(self.plan):
            if step >= len(plan):
                continue   # this row has run out of pieces: padding, weight 0
            i, k = plan[step]
            part = self.pieces[i][k * w:(k + 1) * w + 1]
            x[r, :len(part) - 1] = part[:-1]
            y[r, :len(part) - 1] = part[1:]
            keep[r, 0] = float(k > 0)
        return (x, keep), y, (y != PAD).astype(np.float32)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every batch of the current deal stacked in order, ``(x, keep, y, weights)`` with
        ``steps * batch_size`` rows: rows ``s * batch_size ..`` are batch ``s``, so ``model.fit``
        over them with this batch size and no shuffling feeds the batches in order."""
        parts = [self[s] for s in range(self.steps)]
        x = np.concatenate([xk[0] for xk, _, _ in parts])
        keep = np.concatenate([xk[1] for xk, _, _ in parts])
        return x, keep, np.concatenate([y for _, y, _ in parts]), np.concatenate([w for _, _, w in parts])
