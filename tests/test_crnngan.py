"""The C-RNN-GAN and its continuous encodings: round trips, the adversarial training step,
pre-training, checkpoints loaded with ``safe_mode``, generation, the paper's measures."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from core.evaluation import music_measures
from core.models.crnngan import CRNNGAN, StepBatches
from core.encodings import get_tokenizer, tokenizer_from_json
from core.training.report import checkpoint_reporter
from core.generation.generate import Generator
from core.generation.generate_steps import StepGenerator
from core.models.inference import GeneratorStepper
from core.piece import Piece, Track
from core.runs import Run
from core.settings import TrainSpec
from core.training.train import train

from app_ui.charts import history_figure


def _piece(rows, drums=False) -> Piece:
    tracks = [Track(0, False), Track(0, True)] if drums else [Track()]
    return Piece("p", rows, tracks)


def _by_onset(notes: np.ndarray) -> np.ndarray:
    return notes[np.lexsort((notes[:, 1].round(4), notes[:, 2], notes[:, 0].round(4)))][:, :4]


@pytest.mark.parametrize("name", ["continuous", "continuous-3"])
def test_continuous_round_trip_is_exact_within_float32(name):
    rng = np.random.default_rng(3)
    starts = np.sort(rng.choice(np.arange(0, 64, 0.25), 40))          # repeats: chords
    rows = [[s, s + rng.choice([0.25, 0.5, 1.0, 3.0]), rng.integers(40, 85), rng.integers(20, 128), 0]
            for s in starts] + [[8.0, 9.0, p, 70, 0] for p in (48, 55, 60, 64, 67)]   # 5 at once
    piece = _piece(rows)
    tok = get_tokenizer(name).fit([piece])
    tok = tokenizer_from_json(tok.to_json())                 # saved as JSON, reloaded
    x = tok.encode(piece)
    assert x.dtype == np.float32 and x.shape[1] == tok.features
    back = tok.decode(x)
    assert back.n_notes == piece.n_notes                     # no tone lost to the cap
    np.testing.assert_allclose(_by_onset(back.notes), _by_onset(piece.notes), atol=1e-4)


def test_continuous_3_packs_three_tones_a_step_and_spills_the_rest():
    tok = get_tokenizer("continuous-3")
    piece = _piece([[0, 1, p, 80, 0] for p in (60, 64, 67, 72)] + [[1, 2, 62, 80, 0]])
    tok.fit([piece])
    raw = tok.unscale(tok.encode(piece))
    assert len(raw) == 3                                     # 3 tones, 1 spilled, 1 later
    assert list(raw[:, 0].round(6)) == [0.0, 0.0, 1.0]       # the spill starts together (dt 0)
    assert list(raw[0, 2::3].round()) == [72, 67, 64]        # highest first: the melody's slot
    assert raw[1, 6] == pytest.approx(0.0)                   # unused slots are silent


def test_continuous_drops_drums_and_says_so():
    piece = _piece([[0, 1, 60, 80, 0], [0, 0.5, 36, 100, 1]], drums=True)
    tok = get_tokenizer("continuous").fit([piece])
    assert tok.decode(tok.encode(piece)).n_notes == 1
    assert tok.losses["drum_notes_dropped"] == 1


def test_continuous_decodes_a_diverged_models_output_without_crashing():
    tok = get_tokenizer("continuous-3").fit([_piece([[0, 1, 60, 80, 0], [1, 2, 64, 80, 0]])])
    junk = np.array([[np.nan, 1e9, -1e9, 5.0, np.inf, 0, 0, -np.inf, 3, 0.5]] * 3, np.float32)
    piece = tok.decode(junk)
    notes = piece.notes
    assert np.isfinite(notes).all() and ((notes[:, 2] >= 0) & (notes[:, 2] <= 127)).all()
    # an outlier's time is clipped to the corpus's longest gap and note, not hours of silence
    assert piece.duration_beats <= 3 * tok.longest["dt"] + tok.longest["length"] + 1e-6


# --- the model ---------------------------------------------------------------------------
SETTINGS = dict(features=4, noise_dim=4, units=[16, 16], d_units=[16, 16], dropout=0.0,
                learning_rate=3e-3, d_lr_factor=0.5, clipnorm=5.0, feature_matching=True,
                freeze=True)


def _data(n=24, steps=24, seed=0):
    """Learnable sequences: a slow sine in every value, with a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    return [(np.sin(0.3 * t + rng.uniform(0, 6) + np.arange(4)) + 0.05 * rng.normal(size=(steps, 4)))
            .astype(np.float32) for _ in range(n)]


class _Batches(keras.utils.PyDataset):
    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


def test_one_adversarial_epoch_gives_finite_losses_and_moves_the_discriminator():
    keras.utils.set_random_seed(0)
    model = CRNNGAN({**SETTINGS, "pretrain_epochs": 0})
    model.compile()
    before = [w.copy() for w in model.discriminator.get_weights()]
    history = model.fit(_Batches(StepBatches(_data(), 8, 16)), epochs=1,
                        callbacks=model.training_callbacks(), verbose=0).history
    for key in ("d_loss", "g_loss", "d_accuracy"):
        assert np.isfinite(history[key][0]), key
    assert 0.0 <= history["d_accuracy"][0] <= 1.0
    moved = max(np.abs(a - b).max() for a, b in zip(before, model.discriminator.get_weights()))
    assert moved > 1e-6


def test_pretraining_lowers_the_squared_error():
    keras.utils.set_random_seed(0)
    model = CRNNGAN({**SETTINGS, "pretrain_epochs": 5})
    model.compile()
    history = model.fit(_Batches(StepBatches(_data(), 8, 24)), epochs=5,
                        callbacks=model.training_callbacks(), verbose=0).history
    assert "d_loss" not in history                           # the generator alone, 5 epochs
    assert history["mse"][-1] < 0.7 * history["mse"][0]


def test_the_numpy_generator_equals_the_keras_cell_free_running_and_teacher_forced():
    keras.utils.set_random_seed(1)
    model = CRNNGAN({**SETTINGS, "pretrain_epochs": 0})
    rng = np.random.default_rng(0)
    noise = rng.uniform(size=(3, 9, 4)).astype(np.float32)
    real = rng.normal(size=(3, 9, 4)).astype(np.float32)
    stepper = GeneratorStepper(model)
    for forced in (False, True):
        teacher = np.concatenate([np.zeros((3, 1, 4), np.float32), real[:, :-1]], 1)
        inputs = np.concatenate([noise, teacher if forced else 0 * teacher,
                                 np.full((3, 9, 1), float(forced), np.float32)], -1)
        expected = np.asarray(model.generator(inputs))
        stepper.start(3)
        got = np.stack([stepper.step(noise[:, t], teacher[:, t] if forced else None)
                        for t in range(9)], 1)
        np.testing.assert_allclose(got, expected, atol=1e-5)


# --- as a preset, end to end -------------------------------------------------------------
@pytest.fixture(scope="module")
def gan_run(tmp_path_factory, data_dir) -> Run:
    spec = TrainSpec(corpus="bach-chorales", max_pieces=8, encoding="continuous-3",
                     preset="crnngan", size="small", epochs=7, checkpoint_epochs=[6, 7], seed=1)
    return train(spec, tmp_path_factory.mktemp("gan") / "gan", queue=False, log=lambda m: None,
                 on_checkpoint=lambda run: checkpoint_reporter(run, print))


def test_the_gan_trains_as_a_preset_with_its_own_numbers(gan_run):
    rows = gan_run.history()
    assert [r["epoch"] for r in rows] == list(range(1, 8))
    assert all("mse" in r and "d_loss" not in r for r in rows[:6])     # pre-training
    assert {"d_loss", "g_loss", "d_accuracy", "val_d_loss", "val_mse"} <= set(rows[6])
    assert gan_run.best_epoch() is None and gan_run.epochs() == [6, 7]   # no loss to pick by
    report = gan_run.sample_metrics(7)
    for key in music_measures.MEASURES:
        assert key in report and f"heldout_{key}" in report
    assert report["sample_primer"] == "none" and report["sample_tokens"] == 128
    assert report["val_mse"] > 0 and 0 <= report["copy_rate"] <= 1
    names = {t.name for t in history_figure(rows).data}
    assert {"discriminator loss", "generator loss", "discriminator accuracy"} <= names


def test_a_gan_checkpoint_reloads_safely_and_generates_what_was_asked(gan_run):
    gen = Generator.from_run(gan_run)                          # load_model(safe_mode=True)
    assert isinstance(gen, StepGenerator)
    result = gen.generate(40, seed=3, variations=3, primer="none", top_k=5)   # top-k: ignored
    again = gen.generate(40, seed=3, variations=3, primer="none")
    other = gen.generate(40, seed=4, variations=3, primer="none")
    assert [len(s) for s in result.tokens] == [40, 40, 40]
    np.testing.assert_array_equal(result.tokens[1], again.tokens[1])
    assert not np.array_equal(result.tokens[1], other.tokens[1])
    primed = gen.generate(10, seed=3, primer="text", primer_text="C4 E4 G4")
    assert primed.primer_length == 3 and len(primed.tokens[0]) == 13
    assert primed.piece(0).notes[:3, 2].tolist() == [60, 64, 67]
    timed = gen.generate(seconds=6, seed=3, variations=2, primer="none", tempo=120)
    for piece in timed.pieces:
        assert piece.duration_seconds >= 6 or len(timed.tokens[0]) == 20_000
    with pytest.raises(ValueError, match="temperature"):
        gen.generate(10, temperature=0)


def test_the_gan_resumes_from_its_checkpoint(gan_run, copy_run):
    run = copy_run(gan_run)
    spec = TrainSpec.from_dict(run.config["spec"])
    spec.epochs = 8
    train(spec, run.path, resume=True, queue=False, log=lambda m: None)
    rows = run.history()
    assert [r["epoch"] for r in rows] == list(range(1, 9)) and "d_loss" in rows[-1]


def test_a_job_with_a_preset_and_an_encoding_that_do_not_go_together_never_starts(tmp_path):
    from core.training import jobs
    with pytest.raises(ValueError, match="continuous or continuous-3"):
        jobs.start(TrainSpec(corpus="bach-chorales", encoding="events", preset="crnngan"),
                   tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_presets_and_encodings_that_do_not_go_together_say_which_do(tmp_path, data_dir):
    with pytest.raises(ValueError, match="continuous or continuous-3"):
        train(TrainSpec(corpus="bach-chorales", max_pieces=4, encoding="events", preset="crnngan",
                        epochs=1), tmp_path / "a", queue=False, log=lambda m: None)
    with pytest.raises(ValueError, match="no validation loss to stop early on"):
        train(TrainSpec(corpus="bach-chorales", max_pieces=4, encoding="continuous", preset="crnngan",
                        epochs=1, patience=2), tmp_path / "c", queue=False, log=lambda m: None)
    with pytest.raises(ValueError, match="crnngan preset"):
        train(TrainSpec(corpus="bach-chorales", max_pieces=4, encoding="continuous", preset="studio",
                        epochs=1), tmp_path / "b", queue=False, log=lambda m: None)


# --- the paper's measures ----------------------------------------------------------------
def test_the_papers_measures_on_pieces_with_known_answers():
    scale = _piece([[i, i + 1, p, 80, 0] for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])])
    assert music_measures.scale_consistency(scale) == 1.0
    assert music_measures.tone_span(scale) == 12
    assert music_measures.polyphony(scale) == 0.0
    chords = _piece([[i, i + 1, p, 80, 0] for i in range(4) for p in (60, 64)] + [[4, 5, 61, 80, 0]])
    assert music_measures.polyphony(chords) == pytest.approx(4 / 5)
    riff = _piece([[i, i + 1, p, 80, 0] for i, p in enumerate([60, 62, 64, 60, 62, 64, 60, 62, 64])])
    # 6 patterns of 3 intervals: (2, 2, -4), (2, -4, 2), (-4, 2, 2), then each again
    assert music_measures.repetitions(riff) == pytest.approx(3 / 6)
    assert music_measures.repetitions(_piece([[0, 1, 60, 80, 0]])) is None
    assert music_measures.mean_measures([scale, riff])["tone_span"] == pytest.approx((12 + 4) / 2)
