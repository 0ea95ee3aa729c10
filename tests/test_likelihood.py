"""The one held-out NLL: a stateful pass over whole pieces (many-to-many), windows otherwise."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from core.models import presets
from core.models.batches import PieceBatches
from core.evaluation.likelihood import heldout_nll

VOCAB = 24


@pytest.fixture(scope="module")
def studio():
    keras.utils.set_random_seed(0)
    config = presets.make_config("studio", VOCAB, "small")
    return presets.compile_model(presets.build(config), config), config


def test_stateful_nll_scores_each_token_given_all_before_it(studio):
    model, config = studio
    seq = np.random.default_rng(8).integers(1, VOCAB, 300)
    probs = np.asarray(model(seq[None, :-1]))[0]          # Keras over the whole piece at once
    expected = -np.log(probs[np.arange(299), seq[1:]])
    got = heldout_nll(model, config, [seq])
    assert got["nll_token"] == pytest.approx(expected.mean(), rel=1e-5)
    assert got["scored_tokens"] == 299
    assert got["nll_by_position"]["0-127"] == pytest.approx(expected[:128].mean(), rel=1e-5)
    assert got["nll_by_position"]["256-511"] == pytest.approx(expected[256:].mean(), rel=1e-5)
    assert got["nll_by_position"]["512+"] is None


def test_pieces_of_different_lengths_are_scored_alike_in_one_batch(studio):
    model, config = studio
    rng = np.random.default_rng(7)
    seqs = [rng.integers(1, VOCAB, n) for n in (1, 2, 17, 40, 100)]
    together = heldout_nll(model, config, seqs)
    alone = [heldout_nll(model, config, [s]) for s in seqs if len(s) > 1]
    weights = [a["scored_tokens"] for a in alone]
    assert together["scored_tokens"] == sum(weights) == 1 + 16 + 39 + 99
    assert together["nll_token"] == pytest.approx(
        np.average([a["nll_token"] for a in alone], weights=weights), rel=1e-5)
    assert together["nll_token"] == pytest.approx(math.log(VOCAB), abs=0.05)  # untrained


def test_keras_validation_loss_on_whole_pieces_is_the_stateful_nll(studio):
    """What training reports as val_loss (whole pieces, padding weighted out) is the
    generator's own held-out measure."""
    model, config = studio
    rng = np.random.default_rng(3)
    seqs = [rng.integers(1, VOCAB, n) for n in (90, 91, 150)]
    x, y, w = PieceBatches(seqs, batch_size=8, shuffle=False)[0]
    val_loss = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)["loss"]
    assert val_loss == pytest.approx(heldout_nll(model, config, seqs)["nll_token"], rel=1e-4)


def test_windowed_models_score_positions_after_a_full_window():
    keras.utils.set_random_seed(0)
    config = presets.make_config("devfest", VOCAB, "small", window=8)
    model = presets.build(config)
    seq = np.random.default_rng(2).integers(1, VOCAB, 40)
    got = heldout_nll(model, config, [seq])
    probs = np.asarray(model.predict_on_batch(
        np.lib.stride_tricks.sliding_window_view(seq, 9)[:, :-1].astype(np.int32)))
    expected = -np.log(probs[np.arange(32), seq[8:]])
    assert got["scored_tokens"] == 32 and got["nll_token"] == pytest.approx(expected.mean(), rel=1e-5)


def test_nothing_to_score_is_a_clear_error(studio):
    model, config = studio
    with pytest.raises(ValueError, match="nothing to score"):
        heldout_nll(model, config, [np.array([5])])
