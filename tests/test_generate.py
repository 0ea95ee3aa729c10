"""Generation and checkpoint reports on real run folders: one tiny training (studio on Bach
chorales), plus run folders put together by hand from real Keras models and real tokenizers."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from core.evaluation import metrics
from core.models import presets
from core.cli import main
from core.encodings import get_tokenizer
from core.training.report import SAMPLE_TOKENS, checkpoint_report, evaluate_run
from core.generation.generate import Generator
from core.models.inference import LSTMStepper, WindowForward
from core.models.numpy_ops import softmax
from core.evaluation.loaded import loaded
from core.notes import note_pitch, parse_notes
from core.piece import from_note_list
from core.runs import Run, checkpoint_name
from core.generation.sampling import GREEDY_BELOW, LoopGuard, sample
from hostile import hostile_files, many_notes

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures" / "midi"


@pytest.fixture
def studio_run(tiny_run) -> Run:
    """The session's real training (its checkpoint hook wrote every report)."""
    return tiny_run


@pytest.fixture
def studio(studio_run) -> Generator:
    return Generator.from_run(studio_run.path, 1)


def hand_made_run(path: Path, like: Run, preset: str, window: int, tokenizer=None,
                  vocab_size: int | None = None, size: str = "small") -> Run:
    """A run folder like ``like`` (same corpus and split) with an untrained ``preset`` model."""
    path.mkdir(parents=True)
    tokenizer = tokenizer or like.tokenizer()
    tokenizer.save(path / "tokenizer.json")
    config = presets.make_config(preset, vocab_size or tokenizer.vocab_size, size, window=window)
    presets.build(config).save(path / checkpoint_name(1))
    Run(path).write_config({**like.config, "name": path.name, "model": config.to_dict()})
    return Run(path)


# --- the training hook ----------------------------------------------------------------------
def test_every_checkpoint_gets_a_sample_and_its_metrics(studio_run):
    midi = studio_run.sample_path(1, ".mid")
    report = studio_run.sample_metrics(1)
    import pretty_midi
    assert pretty_midi.PrettyMIDI(str(midi)).instruments[0].notes
    assert report["epoch"] == 1 and report["sample_tokens"] == SAMPLE_TOKENS
    for key in ("copy_rate", "longest_copy_seconds", "loop_rate", "token_loop_rate",
                "distinct_pitches", "pitch_class_entropy_bits", "nll_token", "nll_note",
                "baseline_nll_token", "baseline_nll_note"):
        assert isinstance(report[key], (int, float)), key
    assert 0 < report["nll_token"] < 10 and 0 < report["baseline_nll_token"] < 10
    # the stateful held-out measure, by position, and the held-out pieces as the reference
    assert list(report["nll_by_position"]) == ["0-127", "128-255", "256-511", "512+"]
    assert report["val_pieces"] == len(studio_run.config["split"]["val"]) >= 1
    assert 0 <= report["heldout_copy_rate"] <= 1 and 0 <= report["heldout_loop_rate"] <= 1
    first = report["nll_by_position"]["0-127"]
    assert first is not None and 0 < first < 10


def test_report_is_reproducible_and_eval_writes_nothing(studio_run, capsys):
    before = studio_run.sample_path(1, ".json").read_text()
    again = checkpoint_report(studio_run, 1)
    # the same sample and counts exactly; likelihoods to float32 precision, because the first
    # report used the live training model and this one the checkpoint (different TF kernels)
    assert _same_report(again, json.loads(before))
    stamp = studio_run.sample_path(1, ".json").stat().st_mtime
    assert main(["eval", "--run", str(studio_run.path), "--epoch", "1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["epoch"] == 1 and printed["copy_rate"] == again["copy_rate"]
    assert studio_run.sample_path(1, ".json").stat().st_mtime == stamp
    assert evaluate_run(studio_run.path, 1)["nll_token"] == pytest.approx(again["nll_token"])


def _same_report(a: dict, b: dict) -> bool:
    """Equal reports, timings aside: floats to 1e-6 relative, everything else exactly."""
    def flat(report: dict, prefix: str = "") -> dict:
        out = {}
        for key, value in report.items():
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}."))
            elif "seconds" not in key:
                out[prefix + key] = value
        return out
    fa, fb = flat(a), flat(b)
    assert fa.keys() == fb.keys()
    for key, value in fa.items():
        if isinstance(value, float):
            assert fb[key] == pytest.approx(value, rel=1e-6), key
        else:
            assert fb[key] == value, key
    return True


# --- the NumPy recurrence equals the Keras model --------------------------------------------
def test_stepper_equals_the_trained_keras_model_on_real_music(studio_run, studio):
    seqs = [s for s in loaded(studio_run).train_sequences if len(s) >= 32]
    x = np.stack([seqs[0][:32], seqs[-1][-32:]]).astype(np.int32)
    want = np.asarray(studio.model.predict_on_batch(x))
    got = LSTMStepper(studio.model).run(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("preset,size", [("studio", "medium"), ("ragtime", "small")])
def test_stepper_equals_keras_for_stacked_and_one_hot_models(preset, size):
    import keras
    keras.utils.set_random_seed(0)
    model = presets.build(presets.make_config(preset, 50, size, window=24))
    x = np.random.default_rng(0).integers(1, 50, (3, 24)).astype(np.int32)
    np.testing.assert_allclose(LSTMStepper(model).run(x), model.predict_on_batch(x), atol=1e-5)


def test_scan_equals_stepping_across_chunks_and_layers():
    """Held-out scoring's layer-by-layer pass (``scan``) is the generator's step, reordered; with
    lengths, rows that have ended are left out of later chunks and the rest are unchanged."""
    import keras
    keras.utils.set_random_seed(1)
    stepper = LSTMStepper(presets.build(presets.make_config("studio", 50, "medium", window=24)))
    x = np.random.default_rng(1).integers(1, 50, (3, 23))
    stepped = stepper.run(x)
    chunks = list(stepper.scan(x, chunk=5))
    assert [(t0, first) for t0, first, _ in chunks] == [(0, 0), (5, 0), (10, 0), (15, 0), (20, 0)]
    top = np.concatenate([h for _, _, h in chunks], axis=1)
    np.testing.assert_allclose(softmax(top @ stepper.out_kernel + stepper.out_bias), stepped, atol=1e-6)

    lengths = np.array([4, 12, 23])
    chunks = list(stepper.scan(x, lengths, chunk=5))
    assert [(t0, first) for t0, first, _ in chunks] == [(0, 0), (5, 1), (10, 1), (15, 2), (20, 2)]
    for t0, first, h in chunks:
        for row in range(first, 3):
            steps = slice(t0, min(t0 + h.shape[1], lengths[row]))
            got = softmax(h[row - first, :steps.stop - t0] @ stepper.out_kernel + stepper.out_bias)
            np.testing.assert_allclose(got, stepped[row, steps], atol=1e-6)
    with pytest.raises(ValueError, match="ascending"):
        next(stepper.scan(x, np.array([23, 4, 12])))


@pytest.mark.parametrize("preset", ["skuli", "softology", "devfest"])
def test_window_forward_equals_keras_for_the_seed_presets(preset):
    import keras
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = presets.build(presets.make_config(preset, 50, "small", window=12))
    for layer in model.layers:  # trained-looking batch statistics, so they matter
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 2, gamma.shape), rng.normal(0, 0.5, beta.shape),
                               rng.normal(0, 0.5, mean.shape), rng.uniform(0.5, 2, var.shape)])
    x = rng.integers(1, 50, (3, 12)).astype(np.int32)
    got = WindowForward(model)(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, model.predict_on_batch(x), atol=1e-5)


def test_stepper_refuses_a_model_it_cannot_step():
    model = presets.build(presets.make_config("devfest", 20, "small", window=8))
    with pytest.raises(ValueError, match="does not fit"):
        LSTMStepper(model)


# --- sampling controls ------------------------------------------------------------------------
def test_same_seed_same_music_other_seed_other_music(studio):
    a = studio.generate(64, seed=3, variations=2, top_k=20)
    b = studio.generate(64, seed=3, variations=2, top_k=20)
    c = studio.generate(64, seed=4, variations=2, top_k=20)
    assert all(np.array_equal(x, y) for x, y in zip(a.tokens, b.tokens))
    assert not np.array_equal(a.tokens[0], c.tokens[0])
    assert not np.array_equal(a.tokens[0], a.tokens[1])  # variations differ
    assert a.seed == 3 and studio.generate(8).seed is not None


def test_near_zero_temperature_is_the_keras_models_argmax(studio):
    result = studio.generate(24, temperature=GREEDY_BELOW / 2, primer_note=64)
    seq = result.tokens[0]
    x = np.zeros((1, 32), np.int32)
    x[0, :len(seq)] = seq
    probs = np.asarray(studio.model.predict_on_batch(x))[0]
    probs[:, 0] = 0  # PAD is never sampled
    assert np.array_equal(probs[:len(seq) - 1].argmax(axis=1), seq[1:])


def test_sample_never_draws_pad_and_honours_top_k_and_top_p():
    rng = np.random.default_rng(0)
    all_pad = np.zeros((4, 6), np.float32)
    all_pad[:, 0] = 1.0
    assert (sample(all_pad, rng) != 0).all()
    p = np.array([[0.05, 0.5, 0.3, 0.1, 0.05]] * 200, np.float32)
    assert set(sample(p, rng, top_k=2)) == {1, 2}
    assert set(sample(p, rng, top_p=0.6)) == {1, 2}
    assert set(sample(p, rng, top_p=0.4)) == {1}
    banned = np.zeros(p.shape, bool)
    banned[:, 1] = True
    assert 1 not in set(sample(p, rng, banned=banned))
    penalized = np.zeros(p.shape, bool)
    penalized[:, 1] = True
    assert np.mean(sample(p, rng, penalized=penalized, penalty=10.0) == 1) < 0.2


def test_seconds_stop_at_the_first_token_that_reaches_the_length(studio):
    result = studio.generate(seconds=6, tempo=100, seed=1, variations=2)
    for i, tokens in enumerate(result.tokens):
        piece = result.piece(i, include_primer=False)
        assert piece.duration_seconds >= 6 and piece.tempo == 100
        shorter = studio.tokenizer.decode(tokens[result.primer_length:-1])
        assert shorter.duration_beats * 60 / 100 < 6


def fixture_pieces() -> list:
    import pretty_midi

    from core.piece import Piece
    return [Piece.from_midi(pretty_midi.PrettyMIDI(str(f)), f.stem)
            for f in sorted(FIXTURES.glob("*.mid"))]


def events_like(tokenizer, rng: np.random.Generator, length: int, noise: float) -> np.ndarray:
    """Token ids shaped like the events encoding's: time tokens (Bar, Position, TimeShift) and
    whole notes (Pitch, Velocity, Duration), a ``noise`` share of them replaced by any id, PAD
    included; for an encoding without those tokens, any ids."""
    vocab = np.array(tokenizer.vocab)
    ids = {kind: np.flatnonzero(np.char.startswith(vocab, kind + "_"))
           for kind in ("Bar", "Position", "TimeShift", "Pitch", "Velocity", "Duration")}
    chunks = [c for c in (["Bar"], ["Position"], ["TimeShift"], ["Pitch", "Velocity", "Duration"])
              if all(len(ids[k]) for k in c)]
    out: list[int] = []
    while len(out) < length:
        if not chunks or rng.random() < noise:
            out.append(int(rng.integers(tokenizer.vocab_size)))
        else:
            out += [int(rng.choice(ids[k])) for k in chunks[rng.integers(len(chunks))]]
    return np.array(out[:length])


CLOCKED_ENCODINGS = [("events", {"flavor": "remi"}), ("events", {"flavor": "tsd"}),
                     ("events", {"flavor": "remi", "beat_res": 12, "num_velocities": 4}),
                     ("chords", {}), ("chords", {"step": 1 / 3}), ("grid", {}), ("drums", {})]


@pytest.mark.parametrize("encoding,params", CLOCKED_ENCODINGS)
def test_beat_clock_is_the_decoded_length_after_every_token(encoding, params):
    tokenizer = get_tokenizer(encoding, **params).fit(fixture_pieces())
    rng = np.random.default_rng(0)
    real = [t[:150] for t in map(tokenizer.encode, fixture_pieces()) if len(t)]
    sequences = [*real, rng.integers(0, tokenizer.vocab_size, 150), *(
        events_like(tokenizer, rng, 150, noise) for noise in (0.0, 0.1, 0.3))]
    batch = np.stack([np.resize(s, 150) for s in sequences]).astype(np.int32)
    clock = tokenizer.beat_clock(len(batch))
    assert clock is not None
    for t in range(batch.shape[1]):
        lengths = clock.feed(batch[:, t]).copy()
        assert lengths.tolist() == [tokenizer.decode(s[:t + 1]).duration_beats for s in batch], t


@pytest.mark.parametrize("encoding,params", CLOCKED_ENCODINGS[:2] + CLOCKED_ENCODINGS[3:])
def test_seconds_never_decode_and_match_decoding_every_16_tokens(studio, encoding, params,
                                                                 monkeypatch):
    """The token-by-token clock gives what the earlier way (decode the whole output every 16
    tokens, then a binary search) gave, and decodes nothing while sampling."""
    import core.generation.generate

    if encoding == "chords" and not params:
        gen = studio  # the trained run
    else:
        tokenizer = get_tokenizer(encoding, **params).fit(fixture_pieces())
        config = presets.make_config("studio", tokenizer.vocab_size, "small")
        gen = Generator(presets.build(config), tokenizer, config)
    primer = gen.primer("note", rng=np.random.default_rng(0))
    settings = dict(seconds=3, tempo=100, seed=3, variations=3, top_k=20, anti_loop=0.5,
                    primer=primer)
    decodes = []
    monkeypatch.setattr(gen.tokenizer, "decode", lambda tokens, real=gen.tokenizer.decode:
                        decodes.append(len(tokens)) or real(tokens))
    fast = gen.generate(**settings)
    assert decodes == []
    monkeypatch.setattr(gen.tokenizer, "beat_clock", lambda batch: None)
    before = gen.generate(**settings)
    assert decodes  # the earlier way did decode
    assert [t.tolist() for t in fast.tokens] == [t.tolist() for t in before.tokens]
    for tokens in fast.tokens:
        generated = tokens[len(primer):]
        assert gen.tokenizer.decode(generated).duration_beats * 60 / 100 >= 3
        assert gen.tokenizer.decode(generated[:-1]).duration_beats * 60 / 100 < 3


@pytest.mark.parametrize("setting,value,message", [
    ("temperature", 0, "temperature"), ("temperature", 5.5, "temperature"),
    ("top_p", 0, "top-p"), ("top_p", 1.5, "top-p"), ("top_k", -1, "top-k"),
    ("anti_loop", 1.5, "anti-loop"), ("repetition_penalty", 0.5, "repetition penalty"),
    ("variations", 0, "variations"), ("tempo", 0, "tempo"), ("program", 128, "program"),
    ("length", 0, "length"), ("seconds", -1, "seconds")])
def test_absurd_settings_are_clear_errors(studio, setting, value, message):
    with pytest.raises(ValueError, match=message):
        studio.generate(**{"length": 8, setting: value})


# --- anti-loop --------------------------------------------------------------------------------
def cycle_model(vocab: int = 8) -> tuple[Generator, list[int]]:
    """A real studio model whose weights make it play 2 -> 3 -> 4 -> 2 ... whatever comes first."""
    follow = [0, 2] + [3, 4, 2] + [2] * (vocab - 5)  # next token after each id
    config = presets.make_config("studio", vocab, "small", window=16)
    model = presets.build(config)
    emb, kernel, recurrent, bias = (w * 0 for w in model.get_layer("embedding").get_weights()
                                    + model.get_layer("lstm_0").get_weights())
    n = kernel.shape[1] // 4
    emb[np.arange(vocab), np.arange(vocab)] = 1.0            # token t -> unit t
    kernel[np.arange(vocab), 2 * n + np.arange(vocab)] = 3.0  # cell t remembers token t
    bias[:n], bias[n:2 * n], bias[3 * n:] = 10.0, -10.0, 10.0  # write, forget the past, show
    dense_w, dense_b = (w * 0 for w in model.get_layer("next_token").get_weights())
    dense_w[np.arange(vocab), follow] = 20.0
    model.get_layer("embedding").set_weights([emb])
    model.get_layer("lstm_0").set_weights([kernel, recurrent, bias])
    model.get_layer("next_token").set_weights([dense_w, dense_b])
    six_notes = from_note_list("six", [(i, i + 1, 60 + i, 80) for i in range(6)])
    tokenizer = get_tokenizer("chords").fit([six_notes])
    assert tokenizer.vocab_size == vocab
    return Generator(model, tokenizer, config), follow


def test_anti_loop_breaks_a_model_that_always_plays_a_cycle():
    gen, follow = cycle_model()
    plain = gen.generate(200, seed=0, primer=np.array([2]))
    generated = plain.tokens[0][1:]
    assert all(follow[a] == b for a, b in zip(generated, generated[1:]))
    assert metrics.loop_rate(generated) == 1.0
    for strength in (1.0, 0.5, 0.1):
        broken = gen.generate(200, seed=0, primer=np.array([2]), anti_loop=strength).tokens[0][1:]
        # no stretch repeats longer than the guard allows (one more period, one more token)
        guard = LoopGuard(strength, 1)
        assert metrics.loop_rate(broken, min_repeats=guard.min_repeats + 1,
                                 min_span=guard.min_span + 1) == 0.0, strength
        assert metrics.loop_rate(broken) < (0.2 if strength == 1.0 else 1.0), strength


# --- many-to-one presets ------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["skuli", "softology", "devfest"])
def test_many_to_one_presets_generate_in_one_batch(studio_run, tmp_path, preset):
    run = hand_made_run(tmp_path / preset, studio_run, preset, window=8)
    gen = Generator.from_run(run.path)
    result = gen.generate(12, seed=1, variations=3, primer_text="C4 E4 G4")
    assert [len(t) for t in result.tokens] == [result.primer_length + 12] * 3
    assert all((t > 0).all() and (t < gen.vocab_size).all() for t in result.tokens)
    # the first step sees the primer repeated to fill the window, never PAD
    primer = result.tokens[0][:result.primer_length]
    greedy = gen.generate(1, primer=primer, temperature=GREEDY_BELOW / 2).tokens[0][-1]
    window = np.resize(primer[::-1], 8)[::-1][None].astype(np.int32)
    probs = np.asarray(gen.model.predict_on_batch(window))[0]
    assert greedy == probs[1:].argmax() + 1


def test_a_model_without_a_numpy_form_is_refused_not_run_slowly():
    import keras
    tokenizer = cycle_model()[0].tokenizer
    tokens = keras.Input((8,), dtype="int32")
    x = keras.layers.Embedding(tokenizer.vocab_size, 8)(tokens)
    x = keras.layers.GRU(16)(x)  # no NumPy form
    model = keras.Model(tokens, keras.layers.Dense(tokenizer.vocab_size, activation="softmax")(x))
    with pytest.raises(ValueError, match="no NumPy form"):
        Generator(model, tokenizer, presets.make_config("devfest", tokenizer.vocab_size, window=8))


def test_drum_encodings_come_out_on_the_drum_channel(studio_run, tmp_path):
    beat = [(i * 0.5, i * 0.5 + 0.25, 36 if i % 2 == 0 else 42, 100) for i in range(16)]
    tokenizer = get_tokenizer("drums").fit([from_note_list("beat", beat, is_drum=True)])
    run = hand_made_run(tmp_path / "drums", studio_run, "devfest", window=8, tokenizer=tokenizer)
    result = Generator.from_run(run.path).generate(16, seed=0, program=40)
    pm = result.midi(0)
    assert all(inst.is_drum for inst in pm.instruments) and pm.instruments[0].notes


def test_program_and_tempo_are_applied(studio):
    result = studio.generate(32, seed=0, program=40, tempo=90)
    pm = result.midi(0, include_primer=False)
    assert pm.instruments[0].program == 40
    assert pm.get_tempo_changes()[1][0] == pytest.approx(90)
    assert result.piece(0).n_notes >= result.piece(0, include_primer=False).n_notes


# --- primers ---------------------------------------------------------------------------------
def test_corpus_primer_is_the_opening_of_a_training_piece(studio_run, studio):
    """A model trained on whole pieces is primed the way it learnt: from a piece's start."""
    from core.generation.primers import STATEFUL_PRIMER

    primer = studio.primer("corpus", rng=np.random.default_rng(5))
    seqs = loaded(studio_run).train_sequences
    # not its 32-token training window: a stateful model reads on, so STATEFUL_PRIMER tokens
    assert len(primer) == (STATEFUL_PRIMER if any(len(s) >= STATEFUL_PRIMER for s in seqs)
                           else max(map(len, seqs)))
    openings = [s[:len(primer)].tolist() for s in seqs]
    assert primer.tolist() in openings
    train, val = loaded(studio_run).split
    assert [p.name for p in train] == studio_run.config["split"]["train"]
    # the corpus's own music is left out of the result unless asked for
    result = studio.generate(16, primer="corpus", seed=2)
    assert result.primer_length == len(primer) and result.include_primer is False
    assert result.piece(0).duration_beats < result.piece(0, include_primer=True).duration_beats
    assert studio.generate(16, primer_note="E4").include_primer is True


def test_typed_notes_and_token_names_prime(studio):
    notes = studio.primer("text", text="C4 E4:0.5 G4 R C4.E4.G4")
    decoded = studio.tokenizer.decode(notes)
    assert decoded.notes[:3, 2].tolist() == [60, 64, 67]  # an unknown chord may lose notes
    assert decoded.notes[:3, 0].tolist() == [0, 1, 1.5]


def test_token_names_prime_and_unknown_ones_are_named():
    tokenizer = get_tokenizer("events").fit([])
    config = presets.make_config("studio", tokenizer.vocab_size, "small", window=8)
    gen = Generator(presets.build(config), tokenizer, config)
    names = [n for n in tokenizer.vocab if n.startswith(("Bar", "Position", "Pitch_60", "Velocity"))][:4]
    assert gen.primer("text", text=" ".join(names)).tolist() == [tokenizer.vocab.index(n) for n in names]
    assert len(gen.primer("text", text="C4 E4")) > 2  # notes still work: Bar, Position, Pitch ...
    with pytest.raises(ValueError, match="Pitch_999"):
        gen.primer("text", text="Bar_None Pitch_999")


def test_midi_file_primes(studio):
    data = (FIXTURES / "melody.mid").read_bytes()
    primer = studio.primer("midi", midi=data, length=10)
    assert len(primer) == 10
    assert studio.generate(8, primer="midi", primer_midi=FIXTURES / "melody.mid").primer_length > 0


@pytest.mark.parametrize("kwargs,message", [
    (dict(primer="text", primer_text="C4 H9 G4"), "'H9' is not a note name"),
    (dict(primer="text", primer_text="   "), "empty"),
    (dict(primer="text", primer_text="C4:x"), "number of beats"),
    (dict(primer="midi", primer_midi=b"not a midi file"), "not a readable MIDI file"),
    (dict(primer="midi", primer_midi="/no/such/file.mid"), "cannot read the primer MIDI"),
    (dict(primer="midi"), "needs a MIDI file"),
    (dict(primer="note", primer_note=200), "outside"),
    (dict(primer="tune"), "unknown primer"),
    (dict(primer=np.array([0, 1])), "primer tokens"),
])
def test_primer_problems_are_clear_errors(studio, kwargs, message):
    with pytest.raises(ValueError, match=message):
        studio.generate(4, **kwargs)


def test_note_names():
    assert [note_pitch(n) for n in ("C4", "c#4", "Db4", "Bb-1", "G9", "A0")] == [60, 61, 61, 10, 127, 21]
    for bad in ("H2", "C", "C10", "G#9"):
        with pytest.raises(ValueError):
            note_pitch(bad)
    piece = parse_notes("C4 R:2 E4.G4:0.5")
    assert piece.notes[:, :3].tolist() == [[0, 1, 60], [3, 3.5, 64], [3, 3.5, 67]]


# --- run folders -------------------------------------------------------------------------------
def test_checkpoint_of_another_vocabulary_is_a_clear_error(studio_run, tmp_path):
    run = hand_made_run(tmp_path / "other", studio_run, "studio", window=8,
                        vocab_size=studio_run.tokenizer().vocab_size + 5)
    with pytest.raises(ValueError, match="another vocabulary"):
        Generator.from_run(run.path)


def test_missing_run_and_checkpoint_are_clear_errors(studio_run, tmp_path):
    with pytest.raises(ValueError, match="not a run folder"):
        Generator.from_run(tmp_path)
    with pytest.raises(FileNotFoundError, match="epoch 7"):
        Generator.from_run(studio_run.path, 7)


def test_cli_writes_numbered_variations_and_wav(studio_run, tmp_path, capsys):
    out = tmp_path / "song.mid"
    assert main(["generate", "--run", str(studio_run.path), "--length", "16", "--variations", "2",
                 "--seed", "1", "--primer-text", "C4 E4 G4", "--out", str(out)]) == 0
    assert (tmp_path / "song_1.mid").is_file() and (tmp_path / "song_2.mid").is_file()
    assert "seed 1" in capsys.readouterr().out
    wav = tmp_path / "song.wav"
    assert main(["generate", "--run", str(studio_run.path), "--length", "8", "--out", str(out),
                 "--wav", str(wav), "--drop-primer"]) == 0
    assert wav.read_bytes()[:4] == b"RIFF"
    assert main(["generate", "--run", str(studio_run.path), "--length", "8", "--out", str(out),
                 "--primer-text", "C4 X9"]) == 2
    assert "X9" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(hostile_files()))
def test_a_hostile_primer_file_is_refused_by_the_bounded_reader(studio, studio_run, tmp_path,
                                                                 capsys, name):
    """The primer (the Generate page's upload: bytes; ``--primer-midi``: a path) goes through
    the corpus's reader: limits first, then a sandboxed parse. Each of the corpus tests' hostile
    files is refused with its reason, in bounded time, allocating little in this process."""
    data, reason = hostile_files()[name]
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with pytest.raises(ValueError, match=f"^the primer MIDI file is not a readable MIDI "
                                             f"file \\(({reason})"):
            studio.primer("midi", midi=data)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < 60                        # a bound, not a speed target (bench_hostile.py)
    assert peak < 20 * len(data) + 16 * 2**20  # the parse happens in the sandboxed worker
    path = tmp_path / name
    path.write_bytes(data)
    code = main(["generate", "--run", str(studio_run.path), "--length", "8", "--primer", "midi",
                 "--primer-midi", str(path), "--out", str(tmp_path / "out.mid")])
    err = capsys.readouterr().err
    assert code == 2 and name in err and "Traceback" not in err
    assert not (tmp_path / "out.mid").exists()


def test_an_enormous_primer_file_is_refused_unread(studio, tmp_path):
    """15 MB of real notes (2 million): refused by its size before a byte is parsed."""
    huge = tmp_path / "huge.mid"
    huge.write_bytes(many_notes(2_000_000))
    with pytest.raises(ValueError, match=r"huge\.mid is too large \(15\.3 MB > 5 MB\)"):
        studio.primer("midi", midi=str(huge))
