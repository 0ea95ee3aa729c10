"""Truncated BPTT (consecutive windows, the LSTM state carried) and the time budget."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.evaluation.likelihood import heldout_nll
from core.evaluation.loaded import loaded
from core.models import presets
from core.models.batches import CarriedWindows
from core.models.carried import carried_trainer, reset_states
from core.runs import Run
from core.settings import TrainSpec
from core.training.train import CARRIED_ON_ONE_DEVICE, train, train_on
from tests.conftest import TINY


@pytest.fixture(autouse=True)
def _data_dir(data_dir):
    return data_dir


def _pieces(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(1, 20, size=n).astype(np.int32) for n in lengths]


def test_carried_windows_put_each_piece_on_one_row_in_consecutive_batches():
    pieces = _pieces([23, 9, 40, 5, 17, 31, 2])
    batches = CarriedWindows(pieces, batch_size=3, window=8, seed=4)
    seen = {i: [] for i in range(len(pieces))}
    for step in range(len(batches)):
        (x, keep), y, w = batches[step]
        assert x.shape == y.shape == w.shape == (3, 8) and keep.shape == (3, 1)
        for r, plan in enumerate(batches.plan):
            if step >= len(plan):
                assert w[r].sum() == 0 and keep[r, 0] == 0   # a row out of pieces: padding only
                continue
            i, k = plan[step]
            seen[i].append((step, r, k))
            assert keep[r, 0] == (0.0 if k == 0 else 1.0)   # reset exactly where a piece starts
            n = int(w[r].sum())
            assert np.array_equal(x[r, :n], pieces[i][k * 8:k * 8 + n])
            assert np.array_equal(y[r, :n], pieces[i][k * 8 + 1:k * 8 + n + 1])
    for i, places in seen.items():
        steps, rows, ks = zip(*places)
        assert len(set(rows)) == 1, "a piece stays on one row"
        assert list(ks) == list(range(len(ks))) and list(np.diff(steps)) == [1] * (len(steps) - 1)
    # every target of every piece exactly once
    assert sum(float(batches[s][2].sum()) for s in range(len(batches))) == sum(len(p) - 1 for p in pieces)
    assert batches.supervised_tokens == sum(len(p) - 1 for p in pieces)


def test_carried_windows_balance_the_rows_and_reshuffle():
    batches = CarriedWindows(_pieces([64] * 10 + [8] * 10), batch_size=4, window=8, seed=1)
    windows = [len(p) for p in batches.plan]
    assert max(windows) - min(windows) <= 8   # at most one long piece apart
    before = [list(p) for p in batches.plan]
    batches.reshuffle()
    assert [list(p) for p in batches.plan] != before


def test_carried_windows_waste_no_step_on_uneven_rows():
    # lengths as the Bach chorales have them: mostly 10-40 windows, a few of 100-190
    rng = np.random.default_rng(3)
    sizes = [int(w) for w in rng.lognormal(3.1, 0.5, 300).clip(8, 200)] + [188, 120, 96]
    batches = CarriedWindows(_pieces([8 * w + 1 for w in sizes]), batch_size=32, window=8, seed=0)
    assert len(batches) <= math.ceil(sum(sizes) / 32) + 1   # no row much longer than the rest
    dealt = sorted(i for plan in batches.plan for i, k in plan if k == 0)
    assert dealt == list(range(len(sizes)))                # every piece on exactly one row


def test_fit_reads_the_carried_batches_in_order_epoch_after_epoch():
    # the job's feed (one endless stream, `steps` batches an epoch) gives every epoch the
    # batches of the deal from the first, as the carried state needs
    from core.training.data import _Data

    carried = CarriedWindows(_pieces([23, 9, 40, 5, 17, 31]), batch_size=3, window=8, seed=2)
    x, keep, y, w = carried.arrays()
    feed = _Data(((x, keep), y, w), carried.supervised_tokens, carried.steps, ordered=True)
    inputs = feed.fit_inputs(carried.batch_size)
    assert inputs["steps_per_epoch"] == carried.steps and inputs["shuffle"] is False
    read = list(inputs["x"].take(2 * carried.steps).as_numpy_iterator())
    for step, ((bx, bkeep), by, bw) in enumerate(read):
        (ex, ekeep), ey, ew = carried[step % carried.steps]
        assert (bx == ex).all() and (bkeep == ekeep).all() and (by == ey).all() and (bw == ew).all()


def _tiny_model(train_on="carried"):
    config = presets.make_config("studio", 12, "small", window=6, train_on=train_on, units=[8, 8],
                                 embed=4, dropout=0.0)
    return presets.build(config), config


def test_the_state_is_carried_to_the_next_window_and_reset_where_a_piece_starts():
    model, _ = _tiny_model()
    trainer = carried_trainer(model, batch_size=2)
    seq = np.random.default_rng(0).integers(1, 12, size=(2, 12)).astype(np.int32)
    whole = np.asarray(model(seq, training=False))
    go_on, start = np.ones((2, 1), np.float32), np.zeros((2, 1), np.float32)
    first = np.asarray(trainer([seq[:, :6], start], training=False))
    second = np.asarray(trainer([seq[:, 6:], go_on], training=False))
    np.testing.assert_allclose(first, whole[:, :6], atol=1e-5)
    np.testing.assert_allclose(second, whole[:, 6:], atol=1e-5)   # as if one window
    again = np.asarray(trainer([seq[:, 6:], start], training=False))
    np.testing.assert_allclose(again, np.asarray(model(seq[:, 6:], training=False)), atol=1e-5)
    trainer([seq[:, :6], start], training=False)
    reset_states(trainer)
    np.testing.assert_allclose(np.asarray(trainer([seq[:, 6:], go_on], training=False)), again, atol=1e-5)


def test_the_trainer_shares_the_models_weights_and_no_gradient_crosses_the_carry():
    import tensorflow as tf

    model, _ = _tiny_model()
    trainer = carried_trainer(model, batch_size=2)
    assert {id(v) for v in trainer.trainable_variables} == {id(v) for v in model.trainable_variables}
    seq = np.random.default_rng(1).integers(1, 12, size=(2, 12)).astype(np.int32)
    go_on = np.ones((2, 1), np.float32)
    trainer([seq[:, :6], np.zeros((2, 1), np.float32)])   # the first window sets the carry
    with tf.GradientTape() as tape:
        probs = trainer([seq[:, 6:], go_on], training=True)
        loss = tf.reduce_sum(tf.math.log(probs[:, 0, 3]))   # the second window's first step
    embed = model.get_layer("embedding").embeddings
    grad = tf.convert_to_tensor(tape.gradient(loss, embed))
    # only the token fed at that step gets a gradient: nothing flows back into the first window
    touched = set(np.flatnonzero(np.abs(grad.numpy()).sum(axis=1) > 0))
    assert touched == {int(t) for t in seq[:, 6]}


def test_a_model_whose_lstms_keep_no_state_is_refused_by_the_trainer():
    config = presets.make_config("skuli", 12, "small", window=6)
    with pytest.raises(ValueError, match="pieces or windows|no LSTM|sequence and state"):
        carried_trainer(presets.build(config), 2)


def test_studio_and_ragtime_train_carried_by_default_and_several_replicas_take_pieces():
    assert presets.make_config("studio", 10).train_on == "carried"
    assert presets.make_config("ragtime", 10).train_on == "carried"
    spec = TrainSpec(corpus="x", preset="studio")
    assert train_on(spec, 1) is None and train_on(spec, 2) == "pieces"
    spec.train_on = "carried"
    with pytest.raises(ValueError, match="--train-on pieces") as e:
        train_on(spec, 2)
    assert str(e.value) == CARRIED_ON_ONE_DEVICE


def test_a_carried_runs_val_loss_is_the_generators_heldout_nll(tiny_run):
    assert tiny_run.config["model"]["train_on"] == "carried"
    last = tiny_run.history()[-1]
    lr = loaded(tiny_run)
    nll = heldout_nll(presets.load_model(tiny_run.checkpoint(last["epoch"])), lr.config, lr.val_sequences)
    assert last["val_loss"] == pytest.approx(nll["nll_token"], rel=1e-5)
    assert tiny_run.config["baseline"]["nll_token"] == pytest.approx(lr.baseline_nll_token)


def test_a_time_budget_ends_with_a_checkpoint_at_the_budget(tmp_path):
    spec = TrainSpec(preset="studio", minutes=0.15, window=32, checkpoint_every=1000, **TINY)
    assert spec.epoch_limit > 1000   # as many epochs as fit
    run = train(spec, tmp_path / "budget", queue=False, log=lambda m: None)
    rows = run.history()
    assert run.status["state"] == "finished"
    assert "minutes" in run.status["message"]
    assert run.epochs() and run.epochs()[-1] == rows[-1]["epoch"]   # saved though not every 1000
    # it ended at the budget: the last epoch began before it ran out, and none began after
    assert rows[-1]["elapsed_s"] >= 9.0
    assert rows[-1]["elapsed_s"] - rows[-1]["seconds"] < 9.0
    presets.load_model(run.checkpoint(rows[-1]["epoch"]))


def test_epochs_given_with_a_budget_end_the_run_first(tmp_path):
    spec = TrainSpec(preset="studio", epochs=1, minutes=30, window=32, **TINY)
    run = train(spec, tmp_path / "both", queue=False, log=lambda m: None)
    assert [r["epoch"] for r in run.history()] == [1] and Run(run.path).status["state"] == "finished"


def test_the_cosine_schedule_falls_to_its_floor_over_a_budget(tmp_path):
    from core.training.schedule import FLOOR, cosine

    assert cosine(0.0) == 1.0 and cosine(1.0) == pytest.approx(FLOOR) and cosine(2.0) == pytest.approx(FLOOR)
    assert cosine(0.25) > cosine(0.5) > cosine(0.75)
    spec = TrainSpec(preset="studio", minutes=0.1, window=32, schedule="cosine", **TINY)
    assert TrainSpec(corpus="x", minutes=3).lr_schedule == "constant"
    run = train(spec, tmp_path / "cosine", queue=False, log=lambda m: None)
    first = run.config["model"]["learning_rate"]
    last = float(presets.load_model(run.checkpoint(run.epochs()[-1])).optimizer.learning_rate.numpy())
    assert last < 0.2 * first   # the checkpoint at the budget was trained at the end of the decay


def test_the_arrays_hold_the_batches_in_order():
    batches = CarriedWindows(_pieces([23, 9, 40, 5, 17]), batch_size=3, window=8, seed=2)
    x, keep, y, w = batches.arrays()
    assert len(x) == len(keep) == len(y) == len(w) == 3 * len(batches)
    for step in range(len(batches)):
        (bx, bkeep), by, bw = batches[step]
        rows = slice(3 * step, 3 * step + 3)
        assert np.array_equal(x[rows], bx) and np.array_equal(keep[rows], bkeep)
        assert np.array_equal(y[rows], by) and np.array_equal(w[rows], bw)
