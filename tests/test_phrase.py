"""A phrase played on the keyboard as a primer (``core.generation.phrase``), without a browser:
its bounds (empty, 1,000 notes, out of range, held ten minutes), drum keys and names, the
encoding's grid, the same tokens as the phrase saved as a MIDI file, and the answer as two
tracks from real shipped models (events for a melody, drums for a beat)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from core.generation import phrase
from core.generation.compose import compose
from core.generation.generate import Generator
from core.piece import PITCH, START, TRACK
from core.render.pianoroll import roll_data
from core.runs import Run

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
C_MAJOR = [[60, 0.0, 0.4, 90], [64, 0.5, 0.9, 90], [67, 1.0, 1.4, 90], [72, 1.5, 2.0, 90]]


def tokenizer(name: str):
    run = Run(CHECKPOINTS / name)
    if not run.exists:
        pytest.skip(f"the shipped run {name} is not here")
    return run.tokenizer()


@pytest.fixture(scope="module")
def events():
    return tokenizer("bach-studio-events")


@pytest.fixture(scope="module")
def chords():
    return tokenizer("bach-skuli-chords")   # pitch-class chords: a narrow range (D2..G5)


@pytest.fixture(scope="module")
def drums():
    return tokenizer("groove-devfest-drums")


def test_a_phrase_in_seconds_becomes_beats_at_its_tempo(events):
    played = phrase.played_phrase([[n[0], n[1] + 3.0, n[2] + 3.0, n[3]] for n in C_MAJOR], events,
                                  tempo=60.0)
    notes = played.piece.notes
    assert notes[:, PITCH].tolist() == [60, 64, 67, 72]
    assert np.allclose(notes[:, START], [0.0, 0.5, 1.0, 1.5])   # from the first note, 1 s = 1 beat
    assert played.piece.tempo == 60.0 and played.notices == []
    assert played.piece.tracks[0].name == phrase.PHRASE_TRACK


def test_with_a_click_an_off_beat_start_stays_off_the_beat(events):
    # clicks from t=10 s at 120 bpm (a beat each 0.5 s); the first note comes 1.25 beats later
    played = phrase.played_phrase([[60, 10.625, 11.0, 90]], events, tempo=120.0, click_start=10.0)
    assert played.piece.notes[0, START] == pytest.approx(0.25)


@pytest.mark.parametrize("notes", [[], [["x", 1, 2, 3]], [[60, float("nan"), 1, 90]], [[300, 0, 1, 90]]])
def test_an_empty_or_unplayable_phrase_says_so(events, notes):
    with pytest.raises(ValueError, match="phrase is empty|none of the notes"):
        phrase.played_phrase(notes, events)


def test_a_phrase_that_is_not_a_list_says_so(events):
    with pytest.raises(ValueError, match="not a list of notes"):
        phrase.played_phrase({"notes": 3}, events)


def test_a_thousand_notes_keep_the_last_ones_and_say_so(events):
    many = [[60 + i % 12, i * 0.1, i * 0.1 + 0.08, 80] for i in range(1000)]
    t0 = time.perf_counter()
    played = phrase.played_phrase(many, events)
    tokens = _primers(events).primer("phrase", piece=played.piece)
    assert time.perf_counter() - t0 < 5
    assert played.piece.n_notes == phrase.MAX_NOTES and len(tokens)
    assert any("1,000 notes" in n and f"last {phrase.MAX_NOTES}" in n for n in played.notices)
    assert played.piece.notes[-1, PITCH] == 60 + 999 % 12   # the last note played is kept


def test_a_note_held_ten_minutes_and_a_long_silence_are_shortened(events):
    played = phrase.played_phrase([[60, 0, 600, 90], [62, 900, 901, 90]], events, tempo=120.0)
    notes = played.piece.notes
    assert notes[0, 1] - notes[0, 0] == phrase.MAX_NOTE_BEATS
    assert notes[1, START] == phrase.MAX_GAP_BEATS
    assert any("10 min" in n for n in played.notices) and any("silence" in n for n in played.notices)


def test_notes_outside_the_models_range_move_by_octaves(chords, events):
    played = phrase.played_phrase([[108, 0, 0.5, 90], [24, 0.5, 1, 90], [60, 1, 1.5, 90]], chords)
    pitches = played.piece.notes[:, PITCH].astype(int).tolist()
    assert all(phrase.can_say(chords, p) for p in pitches) and 60 in pitches
    assert [p % 12 for p in pitches] == [0, 0, 0]
    assert any("C8 -> " in n and "C1 -> " in n for n in played.notices)
    wide = phrase.played_phrase([[108, 0, 0.5, 90], [-3, 0.2, 0.3, 90]], events)
    assert wide.piece.notes[:, PITCH].tolist() == [108]   # events says every MIDI pitch
    assert any("outside MIDI's pitches" in n for n in wide.notices)


def test_drum_keys_are_the_drum_sounds_the_model_plays_with_their_general_midi_names(drums):
    keys = dict(phrase.drum_keys(drums))
    assert keys[36] == pretty_midi.note_number_to_drum_name(36) == "Bass Drum 1"
    assert keys[42] == "Closed Hi Hat" and 81 not in keys
    played = phrase.played_phrase([[36, 0, 0.1, 100], [81, 0.25, 0.3, 90], [42, 0.5, 0.6, 90]], drums)
    assert played.piece.tracks[0].is_drum
    assert played.piece.notes[:, PITCH].tolist() == [36, 42]
    assert any("Open Triangle" in n for n in played.notices)


@pytest.mark.parametrize("name", ["bach-skuli-chords", "bach-studio-events"])
def test_the_phrase_is_quantised_to_the_encodings_grid_as_a_midi_primer_is(name):
    tok = tokenizer(name)
    sloppy = [[60, 0.0, 0.4, 90], [64, 0.27, 0.6, 90], [67, 0.49, 0.9, 90], [72, 0.76, 1.3, 90]]
    played = phrase.played_phrase(sloppy, tok, tempo=120.0)   # onsets 0, .54, .98, 1.52 beats
    primers = _primers(tok)
    tokens = primers.primer("phrase", piece=played.piece)
    assert np.array_equal(tokens, primers.primer("midi", midi=played.piece.to_midi_bytes()))
    heard = tok.decode(tokens)
    assert heard.notes[:, PITCH].tolist() == [60, 64, 67, 72]
    grid = np.unique(np.round(heard.notes[:, START] * 4) / 4)
    assert np.allclose(heard.notes[:, START], grid)   # on the 16th grid (a quarter of a beat)
    assert np.allclose(heard.notes[:, START], [0, 0.5, 1.0, 1.5])


@pytest.fixture(scope="module")
def bach():
    if not Run(CHECKPOINTS / "bach-studio-events").exists:
        pytest.skip("the shipped Bach run is not here")
    return Generator.from_run(CHECKPOINTS / "bach-studio-events")


def test_the_answer_begins_with_the_phrase_in_its_own_track(bach):
    played = phrase.played_phrase(C_MAJOR, bach.tokenizer, tempo=100.0)
    made, result = compose(bach, "answer", audio=False, score=True, primer="phrase",
                           primer_piece=played.piece, seconds=6, tempo=100.0, seed=4)
    piece = made[0].piece
    assert [t.name for t in piece.tracks] == [phrase.PHRASE_TRACK, phrase.ANSWER_TRACK]
    mine = piece.notes[piece.notes[:, TRACK] == 0]
    answer = piece.notes[piece.notes[:, TRACK] == 1]
    assert mine[:, PITCH].tolist() == [60, 64, 67, 72] and len(answer) > 0
    assert answer[:, START].min() >= mine[:, START].max()
    midi = pretty_midi.PrettyMIDI(io.BytesIO(made[0].midi))
    heard = sorted((n.start, i, n.pitch) for i, inst in enumerate(midi.instruments) for n in inst.notes)
    assert [p for _, _, p in heard[:4]] == [60, 64, 67, 72] and len(heard) > 4
    assert midi.get_tempo_changes()[1][0] == pytest.approx(100.0)
    assert made[0].musicxml and made[0].musicxml.count(b"<score-part ") == 2
    lanes = roll_data(piece, "beats").lanes
    assert len(lanes) == 2 and lanes[0].color != lanes[1].color
    assert result.seed == 4 and made[0].settings["primer"] == "phrase"


def test_a_drum_phrase_is_answered_on_the_drum_channel():
    run = Run(CHECKPOINTS / "groove-devfest-drums")
    if not run.exists:
        pytest.skip("the shipped drum run is not here")
    gen = Generator.from_run(run)
    played = phrase.played_phrase([[36, 0, 0.1, 110], [42, 0.25, 0.3, 80], [38, 0.5, 0.6, 100],
                                   [42, 0.75, 0.8, 80]], gen.tokenizer, tempo=120.0)
    made, _ = compose(gen, "beat", audio=False, primer="phrase", primer_piece=played.piece,
                      seconds=4, seed=2)
    piece = made[0].piece
    assert all(t.is_drum for t in piece.tracks) and len(piece.tracks) == 2
    mine = piece.notes[piece.notes[:, TRACK] == 0]
    assert sorted(mine[:, PITCH].astype(int).tolist()) == [36, 38, 42, 42]
    assert (piece.notes[:, TRACK] == 1).any()


def test_an_empty_phrase_primer_is_refused_with_a_message(events):
    with pytest.raises(ValueError, match="phrase is empty"):
        _primers(events).primer("phrase", piece=None)


def _primers(tok):
    """The primer path of a generator with this tokenizer (no model needed to encode)."""
    from core.generation.primers import Primers

    p = Primers()
    p.tokenizer, p.config, p.run = tok, None, None
    return p


def test_an_answer_that_steps_back_in_the_bar_still_follows_the_phrase(events):
    """Tokens a model wrote after C4 E4 G4 C5 (a shipped run, seed 0): ``Position_10`` then
    ``Position_4`` in one bar would put answer notes before the phrase's C5."""
    from core.generation.primers import Result

    phrase_tokens = ("Bar_None Position_0 Pitch_60 Velocity_95 Duration_0.2.8 Position_5 Pitch_64 "
                     "Velocity_95 Duration_0.2.8 Position_11 Pitch_67 Velocity_95 Duration_0.2.8 "
                     "Bar_None Position_5 Pitch_72 Velocity_95 Duration_0.2.8")
    answer_tokens = ("Position_10 Pitch_66 Velocity_79 Duration_0.2.8 Position_4 Pitch_67 "
                     "Velocity_79 Duration_0.4.8 Pitch_62 Velocity_79 Duration_0.4.8")
    primer = events.parse_tokens(phrase_tokens)
    tokens = np.concatenate([primer, events.parse_tokens(answer_tokens)])
    result = Result([tokens], len(primer), 0.0, 0, 120.0, None, True, events)
    decoded = result.piece(0).notes   # as decoded, the 67 and 62 come before the C5
    c5 = decoded[decoded[:, PITCH] == 72, START][0]
    assert decoded[decoded[:, PITCH] == 62, START][0] < c5
    piece = phrase.answer_piece(result)
    mine, answer = piece.notes[piece.notes[:, TRACK] == 0], piece.notes[piece.notes[:, TRACK] == 1]
    assert mine[:, PITCH].tolist() == [60, 64, 67, 72]
    assert sorted(answer[:, PITCH].astype(int).tolist()) == [62, 66, 67]
    assert answer[:, START].min() >= mine[:, START].max()
    lengths = dict(zip(answer[:, PITCH].astype(int).tolist(), (answer[:, 1] - answer[:, 0]).tolist()))
    assert lengths[67] == pytest.approx(0.5) and lengths[66] == pytest.approx(0.25)


@pytest.mark.parametrize("name", ["bach-crnngan-continuous", "jsb-biaxial-pianoroll"])
def test_the_gan_and_the_biaxial_model_answer_a_phrase_too(name):
    """The C-RNN-GAN's real-valued steps (``StepGenerator``) and the biaxial model's cells."""
    run = Run(CHECKPOINTS / name)
    if not run.exists:
        pytest.skip(f"the shipped run {name} is not here")
    gen = Generator.from_run(run)
    played = phrase.played_phrase(C_MAJOR, gen.tokenizer)
    made, _ = compose(gen, name, audio=False, primer="phrase", primer_piece=played.piece,
                      seconds=4, seed=1)
    piece = made[0].piece
    mine = piece.notes[piece.notes[:, TRACK] == 0]
    assert mine[:, PITCH].tolist() == [60, 64, 67, 72] and (piece.notes[:, TRACK] == 1).any()
