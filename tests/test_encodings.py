"""The encodings on real music: round trips within each encoding's grid, its known losses,
JSON save/load, unseen input, and the protocol's promises (PAD never emitted, unique names)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from core.encodings import PAD, get_tokenizer, load_tokenizer, tokenizer_from_json
from core.encodings.drums import choose_rest_lengths, spell_rests
from core.paths import SHARED_DATA
from core.piece import END, PITCH, START, VELOCITY, Piece, Track

FIXTURES = Path(__file__).parent / "fixtures" / "midi"
NAMES = ["melody", "chorale", "piano", "drums"]
ENCODINGS = ["chords", "grid", "drums", "events"]
#: Onset grid of each encoding at its default parameters, in beats.
GRID = {"chords": 0.5, "grid": 0.25, "drums": 0.25, "events": 1 / 8}


def load(name: str) -> Piece:
    return Piece.from_midi(pretty_midi.PrettyMIDI(str(FIXTURES / f"{name}.mid")), name)


def onsets(piece: Piece, grid: float) -> set[tuple[int, int]]:
    """``(onset on the grid, pitch)`` of every note; halves round up, as the encoders do."""
    steps = np.floor(piece.notes[:, START] / grid + 0.5).astype(int)
    return set(zip(steps.tolist(), piece.notes[:, PITCH].astype(int).tolist()))


def durations(piece: Piece) -> np.ndarray:
    return piece.notes[:, END] - piece.notes[:, START]


@pytest.fixture(scope="module")
def pieces() -> dict[str, Piece]:
    return {name: load(name) for name in NAMES}


@pytest.fixture(scope="module")
def fitted(pieces):
    return {enc: get_tokenizer(enc).fit(list(pieces.values())) for enc in ENCODINGS}


# --- round trips ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("enc", ENCODINGS)
def test_round_trip_keeps_onsets_and_pitches(fitted, pieces, enc, name):
    tok, piece = fitted[enc], pieces[name]
    ids = tok.encode(piece)
    assert ids.dtype == np.int32 and ids.ndim == 1
    assert (ids != PAD).all()
    expected = onsets(piece.select(tok.instrument_kind), GRID[enc])
    assert onsets(tok.decode(ids), GRID[enc]) == expected
    assert len(ids) > 0 or not expected


@pytest.mark.parametrize("enc", ENCODINGS)
def test_names_are_unique_and_parse_back(fitted, pieces, enc):
    tok = fitted[enc]
    assert tok.vocab[0] == "PAD"
    assert len(set(tok.vocab)) == len(tok.vocab)
    assert not any(any(c.isspace() for c in name) for name in tok.vocab)
    for piece in pieces.values():
        ids = tok.encode(piece)
        assert np.array_equal(tok.parse_tokens(" ".join(tok.token_names(ids))), ids)


# --- known losses -----------------------------------------------------------------------------
def test_chords_lose_durations(fitted, pieces):
    tok, piece = fitted["chords"], pieces["piano"]
    assert len(np.unique(durations(piece).round(3))) > 3
    assert np.allclose(durations(tok.decode(tok.encode(piece))), 0.5)


def test_chords_keep_octaves_and_rests(fitted, pieces):
    tok = fitted["chords"]
    names = tok.token_names(tok.encode(pieces["piano"]))
    assert names[:3] == ["C2.C5", "G3", "C4.E4.G4"]  # bass and tune, broken chord, block chord
    assert "REST" in tok.token_names(tok.encode(pieces["melody"]))


def test_chords_pc_writes_chords_as_normal_order_pitch_classes(pieces):
    """The original Skúli vocabulary: a chord is its pitch classes, a single note keeps its
    octave, and a chord plays back in one octave from C4."""
    from core.encodings.chords import normal_order

    corpus = list(pieces.values())
    classic, octaves = get_tokenizer("chords-pc").fit(corpus), get_tokenizer("chords").fit(corpus)
    assert classic.vocab_size < octaves.vocab_size
    names = classic.token_names(classic.encode(pieces["piano"]))
    assert names[:3] == ["0", "G3", "0.4.7"]  # C2+C5 -> pitch class 0; G3 alone; C-E-G
    decoded = classic.decode(classic.encode(pieces["piano"]))
    chord_notes = decoded.notes[decoded.notes[:, START] == 1.0, PITCH]
    assert sorted(chord_notes.tolist()) == [60, 64, 67]
    assert normal_order([0, 5, 9]) == [5, 9, 0] and normal_order([7, 11, 2]) == [7, 11, 2]
    again = tokenizer_from_json(classic.to_json())
    assert again.vocab == classic.vocab and again.pitch_classes


def test_grid_rounds_and_caps_durations(fitted, pieces):
    tok, piece = fitted["grid"], pieces["piano"]
    decoded = tok.decode(tok.encode(piece))
    steps = np.floor(durations(piece) / 0.25 + 0.5).clip(1, 16)
    expected = set(zip(np.floor(piece.notes[:, START] / 0.25 + 0.5).astype(int).tolist(),
                       piece.notes[:, PITCH].astype(int).tolist(), steps.astype(int).tolist()))
    got = set(zip(np.round(decoded.notes[:, START] / 0.25).astype(int).tolist(),
                  decoded.notes[:, PITCH].astype(int).tolist(),
                  np.round(durations(decoded) / 0.25).astype(int).tolist()))
    assert got == expected
    assert durations(piece).max() == pytest.approx(8.0)  # the final chord...
    assert durations(decoded).max() == pytest.approx(4.0)  # ...is cut to 16 steps


def test_drums_drop_pitched_notes_and_bin_velocities(fitted, pieces):
    tok, piece = fitted["drums"], pieces["drums"]
    decoded = tok.decode(tok.encode(piece))
    assert decoded.tracks == [Track(program=0, is_drum=True, name="drums")]
    bass = piece.notes[~piece.drum_mask()]
    assert 40 in bass[:, PITCH] and 40 not in decoded.notes[:, PITCH]
    assert len(np.unique(piece.select("drums").notes[:, VELOCITY])) > 4
    assert len(np.unique(decoded.notes[:, VELOCITY])) <= 4
    assert tok.encode(pieces["melody"]).size == 0  # no drum track: nothing to say


def test_drums_group_rests(fitted, pieces):
    tok = fitted["drums"]
    # the groove leaves single 16th steps empty; the break after the fill is 8 empty steps
    assert tok.rest_lengths == (1, 8)
    names = tok.token_names(tok.encode(pieces["drums"]))
    assert names.count("REST_8") == 1
    steps = sum(int(n.split("_")[1]) if n.startswith("REST_") else 1 for n in names)
    assert steps == max(onsets(pieces["drums"].select("drums"), 0.25))[0] + 1


def test_rest_classes_come_from_the_histogram():
    runs = np.array([1] * 50 + [3] * 20 + [12] * 5 + [7])
    assert choose_rest_lengths(runs, 3) == (1, 3, 12)
    assert choose_rest_lengths(runs, 10) == (1, 3, 7, 12)  # stops: no other length helps
    assert choose_rest_lengths(np.array([], dtype=int), 4) == (1,)
    # 19 steps = 12 + 3 + 3 + 1
    assert spell_rests(np.array([19, 0, 2]), (1, 3, 12)).tolist() == [[1, 2, 1], [0] * 3, [2, 0, 0]]


def test_events_merge_tracks_and_bin_velocities(fitted, pieces):
    tok = fitted["events"]
    chorale = pieces["chorale"]
    decoded = tok.decode(tok.encode(chorale))
    assert len(chorale.tracks) == 4 and decoded.tracks == [Track()]
    assert sorted(decoded.notes[:, PITCH]) == sorted(chorale.notes[:, PITCH])
    piano = tok.decode(tok.encode(pieces["piano"]))
    assert set(piano.notes[:, VELOCITY]) <= set(tok.velocities.tolist())
    assert len(np.unique(pieces["piano"].notes[:, VELOCITY])) > len(tok.velocities)


def test_events_keep_durations_on_their_grid(fitted, pieces):
    tok, piece = fitted["events"], pieces["melody"]
    decoded = tok.decode(tok.encode(piece))
    # durations go to the nearest duration token: 1/8 beat apart up to 4 beats, 1/4 beyond
    error = np.abs(durations(decoded) - durations(piece))
    assert (error <= np.where(durations(piece) < 4, 1 / 16, 1 / 8) + 1e-9).all()
    assert error.max() > 0


def test_events_tsd_flavor(pieces, tmp_path):
    tok = get_tokenizer("events", flavor="tsd", beat_res=4)
    assert any(name.startswith("TimeShift_") for name in tok.vocab)
    tok.fit([]).save(tmp_path / "tsd.json")
    again = load_tokenizer(tmp_path / "tsd.json")
    for piece in pieces.values():
        ids = tok.encode(piece)
        assert np.array_equal(again.encode(piece), ids)
        assert onsets(tok.decode(ids), 1 / 4) == onsets(piece.select("melodic"), 1 / 4)


# --- saving and unseen input ------------------------------------------------------------------
@pytest.mark.parametrize("enc", ENCODINGS)
def test_saved_json_reloads_and_encodes_identically(fitted, pieces, enc, tmp_path):
    tok = fitted[enc]
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    assert json.loads(path.read_text())["encoding"] == enc
    again = load_tokenizer(path)
    assert type(again) is type(tok) and again.vocab == tok.vocab
    for piece in pieces.values():
        ids = tok.encode(piece)
        assert np.array_equal(again.encode(piece), ids)
        assert np.array_equal(again.decode(ids).notes, tok.decode(ids).notes)


@pytest.mark.parametrize("enc", ["chords", "grid"])
def test_unseen_chords_map_to_known_ones(pieces, enc):
    tok = get_tokenizer(enc).fit([pieces["melody"]])
    high = Piece("high", pieces["chorale"].notes.copy(), pieces["chorale"].tracks)
    high.notes[:, PITCH] += 30
    for piece in (pieces["chorale"], pieces["piano"], high):
        ids = tok.encode(piece)
        assert ((ids > PAD) & (ids < tok.vocab_size)).all()
    assert tok.losses["sets_replaced"] > 0 and tok.losses["notes_dropped"] > 0


def test_grid_keeps_the_most_frequent_sets(pieces):
    tok = get_tokenizer("grid", max_vocab=10).fit(list(pieces.values()))
    assert tok.vocab_size == 2 + 10
    ids = tok.encode(pieces["piano"])
    assert ((ids > PAD) & (ids < tok.vocab_size)).all()
    assert tok.losses["sets_replaced"] > 0


def test_drums_tolerate_unseen_hits(pieces):
    drums = pieces["drums"]
    tok = get_tokenizer("drums").fit([drums.slice_beats(0, 8)])  # no fill, no break
    ids = tok.encode(drums)
    assert ((ids > PAD) & (ids < tok.vocab_size)).all()
    assert tok.losses["sets_replaced"] > 0


def test_events_tolerate_any_pitch(fitted, pieces):
    tok = fitted["events"]
    piece = Piece("edges", pieces["melody"].notes.copy(), pieces["melody"].tracks)
    piece.notes[:4, PITCH] = [0, 127, 0, 127]
    decoded = tok.decode(tok.encode(piece))
    assert {0, 127} <= set(decoded.notes[:, PITCH].astype(int))


@pytest.mark.parametrize("enc", ENCODINGS)
def test_decode_skips_pad_and_junk(fitted, enc):
    tok = fitted[enc]
    rng = np.random.default_rng(0)
    for _ in range(20):
        out = tok.decode(rng.integers(-3, tok.vocab_size + 3, size=int(rng.integers(0, 200))))
        assert ((out.notes[:, PITCH] >= 0) & (out.notes[:, PITCH] <= 127)).all()
    assert tok.decode([]).n_notes == 0 and tok.decode([PAD, PAD]).n_notes == 0


def test_unknown_encoding_and_bad_parameters_raise():
    with pytest.raises(ValueError, match="unknown encoding"):
        get_tokenizer("nope")
    for enc, params in [("chords", {"step": 0}), ("grid", {"max_duration": 0}),
                        ("drums", {"velocity_bins": 0}), ("events", {"flavor": "midi"})]:
        with pytest.raises(ValueError):
            get_tokenizer(enc, **params)


# --- a larger real corpus, when the shared data is here ---------------------------------------
GROOVE = SHARED_DATA / "groove"


@pytest.mark.skipif(not GROOVE.is_dir(), reason="shared Groove MIDI data not present")
def test_drums_on_groove_performances():
    files = sorted(GROOVE.glob("drummer1/session1/*.mid"))[:12]
    pieces = [Piece.from_midi(pretty_midi.PrettyMIDI(str(f)), f.stem) for f in files]
    tok = get_tokenizer("drums").fit(pieces)
    assert len(tok.rest_lengths) == 4 and tok.rest_lengths[0] == 1
    for piece in pieces:
        ids = tok.encode(piece)
        assert onsets(tok.decode(ids), 0.25) == onsets(piece.select("drums"), 0.25)
    assert not tok.losses
