"""Training data: windows for the seed models, whole pieces for the stateful ones."""

from __future__ import annotations

import numpy as np
import pytest

from core.models.batches import PieceBatches, make_windows, piece_chunks


def test_many_to_many_windows_shift_by_one_and_pad_with_zero_weight():
    w = make_windows([np.arange(1, 8, dtype=np.int32)], window=4, many_to_many=True)
    assert w.x.tolist() == [[1, 2, 3, 4], [5, 6, 7, 0]]
    assert w.y.tolist() == [[2, 3, 4, 5], [6, 7, 0, 0]]
    assert w.w.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert w.supervised_tokens == 6


def test_many_to_one_windows_never_cross_pieces():
    a, b = np.arange(1, 6, dtype=np.int32), np.arange(10, 14, dtype=np.int32)
    w = make_windows([a, b], window=3, many_to_many=False)
    assert w.x.tolist() == [[1, 2, 3], [2, 3, 4], [10, 11, 12]]
    assert w.y.tolist() == [4, 5, 13]


def test_window_longer_than_every_piece_is_a_clear_error():
    with pytest.raises(ValueError, match="longer than every piece"):
        make_windows([np.arange(1, 6, dtype=np.int32)], window=50, many_to_many=False)


def test_every_token_but_a_pieces_first_is_a_target_exactly_once():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 50, n).astype(np.int32) for n in rng.integers(1, 300, 40)]
    batches = PieceBatches(seqs, batch_size=6, max_len=100, seed=1)
    targets = []
    for i in range(len(batches)):
        x, y, w = batches[i]
        assert x.shape == y.shape == w.shape and x.shape[1] % 32 == 0
        assert ((y != 0) == (w == 1)).all()
        inside = w[:, 1:] == 1  # y is x shifted by one wherever both are in the piece
        np.testing.assert_array_equal(x[:, 1:][inside], y[:, :-1][inside])
        targets += [int(t) for t in y[w == 1]]
    assert len(targets) == batches.supervised_tokens == sum(max(len(s) - 1, 0) for s in seqs)
    assert sorted(targets) == sorted(int(t) for s in seqs for t in s[1:])


def test_a_piece_starts_its_row_and_runs_on_to_its_end():
    seqs = [np.arange(1, 11, dtype=np.int32), np.arange(20, 25, dtype=np.int32)]
    x, y, w = PieceBatches(seqs, batch_size=2, shuffle=False)[0]
    assert x[0, :4].tolist() == [20, 21, 22, 23] and w[0].sum() == 4     # shortest first
    assert x[1, :9].tolist() == list(range(1, 10)) and y[1, :9].tolist() == list(range(2, 11))


def test_long_pieces_become_chunks_that_overlap_by_one_token():
    chunks = piece_chunks([np.arange(1, 12, dtype=np.int32)], max_len=4)
    assert [c.tolist() for c in chunks] == [[1, 2, 3, 4, 5], [5, 6, 7, 8, 9], [9, 10, 11]]


def test_reshuffling_keeps_similar_lengths_together_and_changes_the_order():
    rng = np.random.default_rng(4)
    seqs = [np.ones(n, np.int32) for n in rng.integers(2, 2000, 256)]
    batches = PieceBatches(seqs, batch_size=8, seed=0)
    first = [b.tolist() for b in batches.batches]
    padded = sum(batches[i][0].size for i in range(len(batches)))
    assert padded < 1.1 * batches.supervised_tokens + 32 * 8 * len(batches)
    batches.reshuffle()
    assert [b.tolist() for b in batches.batches] != first
