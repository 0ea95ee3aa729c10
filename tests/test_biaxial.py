"""The JSB Chorales corpus, the piano-roll encodings and the biaxial RNN, for real."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from core import corpus
from core.models import presets
from core.models.biaxial import roll_inputs
from core.encodings import get_tokenizer
from core.encodings.rolls import HELD, OFF, ON
from core.training.report import evaluate_run
from core.generation.generate import Generator
from core.models.inference import engine_for
from core.corpus.jsb import default_path
from core.evaluation.likelihood import heldout_nll
from core.settings import TrainSpec
from core.training.train import train

JSB_QUARTER = default_path("quarter")
pytestmark = pytest.mark.skipif(not JSB_QUARTER.is_file(), reason="../shared/data/jsb is absent")


@pytest.fixture(scope="module")
def jsb():
    return corpus.load("jsb")


def test_jsb_keeps_its_given_split(jsb):
    train_pieces, val = corpus.split(jsb.pieces, 0.5, seed=3)    # val_share and seed ignored
    assert (len(train_pieces), len(val), len(corpus.test_split(jsb.pieces))) == (229, 76, 77)
    assert {p.meta["given_split"] for p in train_pieces} == {"train"}
    bach = corpus.load("bach-chorales", max_pieces=3).pieces
    with pytest.raises(ValueError, match="no test split"):
        corpus.test_split(bach)


@pytest.mark.parametrize("encoding", ["pianoroll-quarter", "frames-quarter"])
def test_step_encodings_are_exact_on_every_jsb_chorale(jsb, encoding):
    data = json.loads(JSB_QUARTER.read_text())
    tok = get_tokenizer(encoding).fit(jsb.pieces)
    for piece in jsb.pieces:
        tokens = tok.encode(piece)
        decoded = tok.decode(tokens)
        np.testing.assert_array_equal(decoded.notes[:, :3], piece.notes[:, :3])
        part, i = piece.meta["given_split"], int(piece.name[-3:])
        assert tok.steps_in(tokens) == len(data[part][i])
        if encoding.startswith("pianoroll"):
            cells = tok.cells(tokens)
            sounding = [sorted((np.flatnonzero(row >= ON) + tok.low).tolist()) for row in cells]
            assert sounding == [sorted(step) for step in data[part][i]]
    assert not tok.losses


def test_pianoroll_keeps_articulation_that_frames_lose():
    from core.piece import Piece
    repeated = Piece("r", [[0, 1, 60, 80, 0], [1, 2, 60, 80, 0]])
    roll, frames = get_tokenizer("pianoroll-quarter").fit([repeated]), \
        get_tokenizer("frames-quarter").fit([repeated])
    assert roll.decode(roll.encode(repeated)).n_notes == 2
    assert frames.decode(frames.encode(repeated)).n_notes == 1    # a listed loss


def test_frame_tokens_summed_nll_is_the_frame_nll(jsb):
    """A step's tokens (its pitches, then |) scored one by one add up to the step's NLL."""
    tok = get_tokenizer("frames-quarter").fit(jsb.pieces)
    config = presets.make_config("studio", tok.vocab_size, "small")
    keras.utils.set_random_seed(0)
    model = presets.build(config)
    seqs = [tok.encode(p) for p in corpus.test_split(jsb.pieces)[:3]]
    got = heldout_nll(model, config, seqs)
    direct, steps = 0.0, 0
    for seq in seqs:
        probs = np.asarray(model(seq[None, :-1]), np.float64)[0]
        nats = -np.log(probs[np.arange(len(seq) - 1), seq[1:]])
        ends = np.flatnonzero(seq[1:] == tok.END_OF_STEP)          # a step ends with its |
        per_step = np.diff(np.r_[0, np.cumsum(nats)[ends]])
        direct += per_step.sum()
        steps += len(per_step)
    assert steps == sum(tok.steps_in(s) for s in seqs)
    assert got["nll_token"] * got["scored_tokens"] / steps == pytest.approx(direct / steps, rel=1e-5)


def _tiny_biaxial():
    tok = get_tokenizer("pianoroll-quarter")
    tok.low, tok.high = 55, 66
    config = presets.make_config("biaxial", 4, "small", pitches=tok.pitches, pitch_low=tok.low)
    keras.utils.set_random_seed(0)
    return tok, config, presets.build(config)


def test_the_stepper_equals_the_keras_model_cell_by_cell():
    tok, config, model = _tiny_biaxial()
    rng = np.random.default_rng(0)
    cells = rng.choice([OFF, ON, HELD], size=(10, tok.pitches))
    expected = np.asarray(model(roll_inputs(cells[None], tok.low), training=False))[0]
    engine = engine_for(model, config)
    probs = [engine.start(np.zeros(0, np.int32), 1)]
    for token in cells.ravel()[:-1]:
        probs.append(engine.step(np.array([token])))
    np.testing.assert_allclose(np.concatenate(probs).reshape(expected.shape), expected, atol=1e-5)


def test_a_cell_articulates_only_when_it_plays():
    tok, config, model = _tiny_biaxial()
    engine = engine_for(model, config)
    probs = engine.start(np.array([OFF] * tok.pitches, np.int32), 3)
    for token in [ON, OFF, HELD, OFF] * 6:
        assert probs[:, 0].max() == 0.0                         # never PAD
        play = probs[:, ON] + probs[:, HELD]
        np.testing.assert_allclose(probs[:, OFF] + play, 1.0, atol=1e-6)
        probs = engine.step(np.full(3, token))
    # P(articulate | play) = 0 when not playing: "on" exists only as a kind of "play"
    engine.conservativity = np.full(3, 50.0)                    # P(play) -> ~0
    probs = engine.step(np.full(3, OFF))
    assert probs[:, ON].max() < 1e-6 and probs[:, HELD].max() < 1e-6


def test_anti_loop_lowers_conservativity_after_silent_steps():
    tok, config, model = _tiny_biaxial()
    engine = engine_for(model, config)
    engine.anti_loop = 1.0
    engine.start(np.array([OFF] * tok.pitches * 3, np.int32), 2)
    np.testing.assert_allclose(engine.conservativity, 1.0 - 3 * 0.02)


def test_biaxial_trains_reloads_safely_and_generates(tmp_path, data_dir):
    spec = TrainSpec(corpus="jsb", max_pieces=4, encoding="pianoroll-quarter", preset="biaxial",
                     size="small", epochs=1, seed=1)
    run = train(spec, tmp_path / "biaxial", queue=False, log=lambda m: None)
    (row,) = run.history()
    assert np.isfinite(row["loss"]) and np.isfinite(row["val_loss"])
    gen = Generator.from_run(run)                                # load_model(safe_mode=True)
    steps = 12
    result = gen.generate(steps * gen.config.pitches, seed=5, primer="corpus", variations=2)
    again = gen.generate(steps * gen.config.pitches, seed=5, primer="corpus", variations=2)
    assert [len(t) - result.primer_length for t in result.tokens] == [steps * gen.config.pitches] * 2
    np.testing.assert_array_equal(result.tokens[0], again.tokens[0])
    report = evaluate_run(run, split="test")
    assert report["frame_steps"] == sum(p.meta["steps"] for p in corpus.test_split(
        corpus.load("jsb", max_pieces=4).pieces))
    assert report["frame_nll"] == pytest.approx(report["nll_token"] * report["scored_tokens"]
                                                / report["frame_steps"])
    with pytest.raises(ValueError, match="reads a piano roll"):
        train(TrainSpec(corpus="jsb", max_pieces=4, encoding="frames-quarter", preset="biaxial",
                        epochs=1), tmp_path / "wrong", queue=False, log=lambda m: None)


def test_transposition_adds_moved_copies_of_a_training_piece():
    from core.piece import Piece
    from core.training.train import transpositions
    piece = Piece("p", [[0, 1, 60, 80, 0], [1, 2, 127, 80, 0]])
    moved = transpositions(piece, 2)
    assert [p.meta.get("transposed") for p in moved] == [None, -2, -1, 1, 2]
    assert [p.n_notes for p in moved] == [2, 2, 2, 1, 1]     # 127 + 1 is not a MIDI pitch
    assert moved[1].notes[0, 2] == 58
