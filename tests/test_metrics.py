"""core.evaluation.metrics on real Bach chorales (music21's bundled corpus) and on constructed pieces."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from core.evaluation import metrics
from core.evaluation import ngram
from core.piece import END, PITCH, START, TRACK, Piece, Track, from_note_list

CHORALES = ["bach/bwv66.6", "bach/bwv1.6", "bach/bwv10.7", "bach/bwv101.7"]


def chorale(name: str) -> Piece:
    """A chorale from music21's corpus, through MIDI, as the corpus loader would see it."""
    import music21
    import pretty_midi

    midi = music21.midi.translate.streamToMidiFile(music21.corpus.parse(name)).writestr()
    return Piece.from_midi(pretty_midi.PrettyMIDI(io.BytesIO(midi)), name)


@pytest.fixture(scope="module")
def chorales() -> list[Piece]:
    return [chorale(name) for name in CHORALES]


@pytest.fixture(scope="module")
def index(chorales) -> metrics.CorpusIndex:
    return metrics.CorpusIndex(chorales, n=8)


@pytest.fixture(scope="module")
def excerpt(chorales) -> Piece:
    return chorales[1].slice_beats(4, 28)


def melody(pitches, durations, start: float = 0.0) -> list[tuple[float, float, int, int]]:
    """Notes played one after another from ``start`` (beats)."""
    onsets = start + np.concatenate(([0.0], np.cumsum(durations)[:-1]))
    return [(float(s), float(s + d), int(p), 80) for s, d, p in zip(onsets, durations, pitches)]


def with_fifths(notes: list, voices: int) -> list:
    """The notes, plus a fifth above each one when ``voices`` is 2."""
    return notes + [(s, e, p + 7, v) for s, e, p, v in notes] * (voices - 1)


def with_notes(piece: Piece, notes: np.ndarray) -> Piece:
    return Piece(piece.name, notes, list(piece.tracks), piece.tempo)


# --- copy rate ---------------------------------------------------------------------------
def test_corpus_excerpt_is_a_copy(index, excerpt):
    stats = index.copy_stats(excerpt)
    assert stats["copy_rate"] >= 0.95
    assert stats["n_grams"] > 20
    # notes count once per (onset, pitch): a line doubled on two tracks is one note
    assert stats["longest_copy_notes"] == len({(s, p) for s, p in excerpt.notes[:, [START, PITCH]]})


def test_one_track_rendering_of_a_chorale_is_still_a_copy(index, excerpt):
    notes = excerpt.notes.copy()
    notes[:, TRACK] = 0
    assert index.copy_stats(Piece("merged", notes, [Track()], excerpt.tempo))["copy_rate"] >= 0.95


def test_pitch_shuffled_excerpt_is_not_a_copy(index, excerpt):
    notes = excerpt.notes.copy()
    notes[:, PITCH] = np.random.default_rng(1).permutation(notes[:, PITCH])
    assert index.copy_stats(with_notes(excerpt, notes))["copy_rate"] <= 0.1


def test_time_shuffled_excerpt_is_not_a_copy(index, excerpt):
    # Every onset's chord moves, whole, to another onset time of the excerpt.
    notes = excerpt.notes.copy()
    onsets, which = np.unique(notes[:, START], return_inverse=True)
    moved = np.random.default_rng(2).permutation(onsets)[which]
    notes[:, END] += moved - notes[:, START]
    notes[:, START] = moved
    assert index.copy_stats(with_notes(excerpt, notes))["copy_rate"] <= 0.1


def test_transposed_excerpt_is_not_a_copy(index, excerpt):
    notes = excerpt.notes.copy()
    notes[:, PITCH] += 2
    assert index.copy_stats(with_notes(excerpt, notes))["copy_rate"] <= 0.1


@pytest.mark.parametrize("voices", [1, 2])
def test_longest_copy_run_of_a_constructed_piece(voices):
    rng = np.random.default_rng(3)
    pitches = rng.integers(50, 70, 64)
    durations = rng.choice([0.5, 1.0, 1.5], 64)
    corpus = melody(pitches, durations)
    # 20 notes outside the corpus's range, corpus notes 10..39 (moved in time), 20 more outside.
    intro = melody(rng.integers(80, 90, 20), np.full(20, 0.5))
    copied = melody(pitches[10:40], durations[10:40], start=10.0)
    outro = melody(rng.integers(80, 90, 20), np.full(20, 0.5), start=10.0 + durations[10:40].sum())

    index = metrics.CorpusIndex([from_note_list("corpus", with_fifths(corpus, voices))], n=8,
                                unit="onset")
    stats = index.copy_stats(from_note_list("out", with_fifths(intro + copied + outro, voices)))
    assert stats["n_grams"] == 70 - 7
    assert stats["copy_rate"] == pytest.approx((30 - 7) / (70 - 7))
    assert stats["longest_copy_onsets"] == 30
    assert stats["longest_copy_notes"] == 30 * voices
    # 120 bpm: half a second per beat, from the first copied onset to the end of the last note.
    assert stats["longest_copy_seconds"] == pytest.approx(durations[10:40].sum() * 0.5)


def test_piece_shorter_than_n_has_no_copy(index):
    stats = index.copy_stats(from_note_list("short", melody([60, 62, 64], [1, 1, 1])))
    assert stats == {"copy_rate": 0.0, "n_grams": 0, "longest_copy_onsets": 0,
                     "longest_copy_notes": 0, "longest_copy_seconds": 0.0}


def test_index_of_melodic_tracks_finds_a_melody_copied_from_a_song_with_drums():
    rng = np.random.default_rng(4)
    tune = melody(rng.integers(60, 72, 32), np.ones(32))
    drums = np.array([(i, i + 0.5, 36, 100, 1) for i in range(32)], dtype=np.float64)
    song = Piece("song", np.vstack([np.array([n + (0,) for n in tune]), drums]),
                 [Track(0), Track(0, is_drum=True)])
    copy = from_note_list("copy", tune)
    assert metrics.CorpusIndex([song], instruments="melodic").copy_stats(copy)["copy_rate"] == 1.0
    assert metrics.CorpusIndex([song], instruments="all").copy_stats(copy)["copy_rate"] == 0.0


# --- loops -------------------------------------------------------------------------------
def random_walk(length: int, seed: int = 5) -> np.ndarray:
    steps = np.random.default_rng(seed).choice([-2, -1, 1, 2], length)
    return 60 + np.cumsum(steps)


def test_loop_rate_of_a_repeated_four_note_cycle_is_near_one():
    assert metrics.loop_rate([60, 62, 64, 67] * 10) == 1.0
    figure = from_note_list("loop", melody([60, 62, 64, 67] * 10, np.full(40, 0.5)))
    assert metrics.loop_rate(figure) >= 0.95  # the first onset has no gap before it to repeat


def test_loop_rate_of_a_random_walk_is_near_zero():
    walk = random_walk(400)
    assert metrics.loop_rate(walk) <= 0.05
    assert metrics.loop_rate(from_note_list("walk", melody(walk, np.full(400, 0.5)))) <= 0.05


def test_loop_rate_counts_only_the_looping_part():
    seq = np.concatenate([random_walk(60), [1, 2, 3, 4, 5] * 8])
    assert metrics.loop_rate(seq) == pytest.approx(40 / 100, abs=0.02)


@pytest.mark.parametrize("tokens, kwargs, expected", [
    ([5, 1, 2, 3, 1, 2, 3, 1, 2, 3], {}, (3, 3)),
    ([9, 1, 2, 3, 1, 2, 3, 1, 2], {}, (3, 2)),  # ends inside its third copy
    ([4, 7, 7], {}, (1, 2)),
    ([1, 2, 1, 2, 3, 1, 2, 1, 2, 3, 1, 2, 1, 2], {}, (5, 2)),  # the longer periodic tail wins
    ([1, 2, 3, 4, 5], {}, None),
    ([1, 2, 1, 2], {"min_repeats": 3}, None),
    ([1, 2, 3, 1, 2, 3], {"max_period": 2}, None),
    ([3], {}, None),
    ([], {}, None),
])
def test_find_cycle(tokens, kwargs, expected):
    assert metrics.find_cycle(np.array(tokens, dtype=np.int32), **kwargs) == expected


def test_find_cycle_on_a_long_generation_ending_in_a_loop():
    tokens = np.concatenate([random_walk(1000), [40, 41, 42, 43, 44, 45, 46] * 5])
    assert metrics.find_cycle(tokens) == (7, 5)
    assert metrics.find_cycle(tokens[-4 * 32:]) == (7, 5)


# --- pitch and time ----------------------------------------------------------------------
def test_pitch_class_entropy_of_all_twelve_classes_is_log2_12():
    every_class = from_note_list("chromatic", melody(range(54, 78), np.ones(24)))
    assert metrics.pitch_class_entropy(every_class) == pytest.approx(math.log2(12))
    assert metrics.pitch_class_entropy(from_note_list("c", melody([60, 72, 48], [1, 1, 1]))) == 0.0


def test_pitch_class_histogram_of_a_corpus(chorales):
    hist = metrics.pitch_class_histogram(chorales)
    assert hist.shape == (12,) and hist.sum() == pytest.approx(1.0)
    assert 2.5 < metrics.entropy_bits(hist) < math.log2(12)


def test_js_divergence_bounds():
    p = np.array([1, 1, 0, 0])
    assert metrics.js_divergence(p, p * 3) == pytest.approx(0.0)
    assert metrics.js_divergence(p, np.array([0, 0, 2, 5])) == pytest.approx(1.0)


def test_empty_time_share():
    rest = from_note_list("rest", [(0, 1, 60, 80), (2, 4, 62, 80)])
    assert metrics.empty_time_share(rest) == pytest.approx(0.25)
    late = from_note_list("late", [(1, 2, 60, 80)])
    assert metrics.empty_time_share(late) == pytest.approx(0.5)
    assert metrics.empty_time_share(from_note_list("none", [])) == 1.0


def test_distinct_pitches_tells_drums_from_pitches():
    notes = np.array([(0, 1, 36, 80, 0), (0, 1, 36, 80, 1), (1, 2, 38, 80, 0), (1, 2, 36, 80, 0)])
    assert metrics.distinct_pitches(Piece("p", notes, [Track(), Track(is_drum=True)])) == 3


def test_piece_metrics_is_json_ready(chorales, index, excerpt):
    result = metrics.piece_metrics(excerpt, index, metrics.pitch_class_histogram(chorales))
    assert json.loads(json.dumps(result)) == result
    assert result["copy_rate"] >= 0.95 and result["n_notes"] == excerpt.n_notes
    assert 0 < result["pitch_class_js_bits"] < 0.5
    assert set(metrics.piece_metrics(excerpt)) < set(result)


def test_piece_metrics_of_drums_only_leaves_pitch_distances_empty(chorales):
    drums = from_note_list("beat", melody([36, 38] * 8, np.ones(16)), is_drum=True)
    result = metrics.piece_metrics(drums, corpus_pc_hist=metrics.pitch_class_histogram(chorales))
    assert result["pitch_class_js_bits"] is None and result["pitch_class_l1"] is None
    assert result["loop_rate"] >= 0.9


# --- likelihood --------------------------------------------------------------------------
VOCAB = 24


def test_ngram_baseline_is_near_zero_on_a_deterministic_sequence_and_not_on_random():
    cycle = np.arange(1, 11)
    rng = np.random.default_rng(6)
    deterministic = ngram.ngram_baseline([np.tile(cycle, 50)], vocab_size=VOCAB)
    random = ngram.ngram_baseline([rng.integers(1, VOCAB, 500)], vocab_size=VOCAB)
    det_nll = deterministic.nll([np.tile(cycle, 5)])
    rand_nll = random.nll([rng.integers(1, VOCAB, 200)])
    assert det_nll < 0.1
    assert rand_nll > 0.9 * math.log(VOCAB - 1)
    assert det_nll < rand_nll


@pytest.mark.parametrize("context", [(), (3,), (3, 4), (4, 3), (23, 23)])
def test_ngram_probabilities_sum_to_one(context):
    model = ngram.ngram_baseline([[1, 2, 3, 4, 5, 3, 4, 6], [3, 4, 5]], n=3, vocab_size=VOCAB)
    assert sum(model.prob(w, context) for w in range(VOCAB)) == pytest.approx(1.0)


def test_ngram_rejects_tokens_outside_the_vocabulary():
    with pytest.raises(ValueError, match="token ids"):
        ngram.ngram_baseline([[1, 2, VOCAB]], vocab_size=VOCAB)


def test_nll_per_note_spreads_the_scored_tokens_nats_over_the_notes():
    seqs = [np.arange(1, 7), np.arange(1, 7)]  # 5 + 5 scored tokens
    assert metrics.nll_per_note(2.0, seqs, n_notes=4) == pytest.approx(5.0)


def test_note_ngrams_find_a_copied_half_bar_inside_new_chords():
    # A four-voice corpus; the output copies just 3 of its chords between chords of its own.
    rng = np.random.default_rng(5)
    chords = [sorted(rng.choice(np.arange(48, 80), 4, replace=False)) for _ in range(16)]
    corpus = [(i, i + 1, int(p), 80) for i, ch in enumerate(chords) for p in ch]
    own = [(i, i + 1, int(p) + 1, 80) for i in range(6) for p in (40, 45, 90, 95)]
    copied = [(6 + j, 7 + j, int(p), 80) for j, ch in enumerate(chords[4:7]) for p in ch]
    out = from_note_list("out", own + copied)
    corpus_piece = from_note_list("corpus", corpus)
    by_note = metrics.CorpusIndex([corpus_piece], n=8).copy_stats(out)
    by_onset = metrics.CorpusIndex([corpus_piece], n=8, unit="onset").copy_stats(out)
    assert by_note["longest_copy_notes"] == 12 and by_note["copy_rate"] > 0
    assert by_onset["copy_rate"] == 0.0  # 3 chords never make an 8-onset run
