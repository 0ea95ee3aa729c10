"""Sheet music and the playing piano roll: the MusicXML read back by music21 matches the MIDI
for every encoding's output, staves are laid out as musicians expect, Verovio engraves as many
notes as the score holds, and the player page carries the roll's data and nothing from outside.
"""

from __future__ import annotations

import io
import base64
import json
import re
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from core.encodings import encoding_names, get_tokenizer
from core.piece import Piece, Track, from_note_list
from core.render import piano_roll, render_audio, to_musicxml
from core.render.engrave import score_html, score_svgs
from core.render.pianoroll import roll_data
from core.render.player import player_data, player_html, wav_seconds
from test_render import band, drums, melody, parse_musicxml, score_parts, sixteenth_notes, written_notes

FIXTURES = Path(__file__).parent / "fixtures" / "midi"
NAMES = ["melody", "chorale", "piano", "drums"]


def load(name: str) -> Piece:
    return Piece.from_midi(pretty_midi.PrettyMIDI(str(FIXTURES / f"{name}.mid")), name)


@pytest.fixture(scope="module")
def pieces() -> dict[str, Piece]:
    return {name: load(name) for name in NAMES}


def via_midi(piece: Piece) -> Piece:
    """The piece as its MIDI file reads back: what a person downloads next to the score."""
    return Piece.from_midi(pretty_midi.PrettyMIDI(io.BytesIO(piece.to_midi_bytes())), piece.name)


# --- MusicXML: every encoding's output reads back as its MIDI -----------------------------------
@pytest.mark.parametrize("encoding", encoding_names())
def test_musicxml_round_trip_matches_the_midi_of_each_encoding(pieces, encoding):
    tok = get_tokenizer(encoding).fit(list(pieces.values()))
    checked = 0
    for piece in pieces.values():
        midi = via_midi(tok.decode(tok.encode(piece)))
        if not midi.n_notes:
            continue  # e.g. the drum encoding of a piece without drums
        score = parse_musicxml(to_musicxml(midi, title=piece.name, model=f"test-{encoding}"))
        written = written_notes(score)
        # every MIDI note is in the score at its pitch, its onset and end on the 16th grid
        assert written == sixteenth_notes(midi), (encoding, piece.name)
        onsets = np.array(sorted(s for _, s, _, _ in written))
        expected = np.array(sorted({round(s * 4) / 4 for s in midi.notes[:, 0]}))
        assert set(onsets) == set(expected)
        assert np.all(np.abs(np.unique(onsets) - expected) <= 0.125)  # within half a 16th
        assert score.metadata.bestTitle == piece.name and score.metadata.composer == f"test-{encoding}"
        checked += 1
    assert checked >= 1


def test_musicxml_has_measures_ties_rests_key_and_time_signatures():
    # a C-major-ish tune with a note over the bar line and a silent bar
    tune = from_note_list("tune", [(0, 1, 60, 80), (1, 2, 64, 80), (2, 3, 67, 80), (3, 5, 72, 80),
                                   (5, 6, 71, 80), (6, 8, 67, 80), (12, 16, 60, 80)])
    score = parse_musicxml(to_musicxml(tune, model="studio-model"))
    part = score.parts[0]
    measures = list(part.getElementsByClass("Measure"))
    assert len(measures) == 4 and [m.number for m in measures] == [1, 2, 3, 4]
    assert [str(k) for k in part.recurse().getElementsByClass("Key")] in (["C major"], ["a minor"])
    assert [t.ratioString for t in part.recurse().getElementsByClass("TimeSignature")] == ["4/4"]
    assert [n.tie.type for n in part.recurse().notes if n.tie] == ["start", "stop"]
    assert any(len(m.notesAndRests) == 1 and m.notesAndRests[0].isRest for m in measures)
    assert score.metadata.composer == "studio-model"


def test_key_signature_follows_the_music():
    d_major = from_note_list("d", [(i, i + 1, p, 80) for i, p in enumerate([62, 64, 66, 67, 69, 71, 73, 74, 69, 66, 62])])
    score = parse_musicxml(to_musicxml(d_major))
    assert [k.sharps for k in score.recurse().getElementsByClass("KeySignature")] == [2]


def test_a_chorale_is_written_on_two_staves_with_four_voices(pieces):
    chorale = get_tokenizer("events").fit([pieces["chorale"]])
    merged = via_midi(chorale.decode(chorale.encode(pieces["chorale"])))  # one track, 4 voices
    assert len(merged.tracks) == 1
    score = parse_musicxml(to_musicxml(merged))
    staves = score_parts(score)
    assert [n for n, _ in staves] == [0, 0] and len(staves) == 2  # one part, a grand staff
    clefs = [type(s.recurse().getElementsByClass("Clef").first()).__name__ for _, s in staves]
    assert clefs == ["TrebleClef", "BassClef"]
    for _, staff in staves:  # two voices on each staff: stems up for the upper, down for the lower
        voices = {}
        for n in staff.recurse().notes:
            voices.setdefault(n.activeSite.id, set()).add(n.stemDirection)
        assert len(voices) == 2 and sorted(map(sorted, voices.values())) == [["down"], ["up"]]
    assert written_notes(score) == sixteenth_notes(merged)


def test_piano_goes_on_a_grand_staff_split_at_middle_c_and_a_melody_on_one(pieces):
    score = parse_musicxml(to_musicxml(pieces["piano"]))
    staves = score_parts(score)
    assert len(staves) == 2
    upper, lower = ([p.midi for n in s.recurse().notes for p in n.pitches] for _, s in staves)
    assert min(upper) >= 60 > max(lower)
    assert len(score_parts(parse_musicxml(to_musicxml(pieces["melody"])))) == 1


def test_drums_go_on_a_percussion_staff_with_their_noteheads():
    score = parse_musicxml(to_musicxml(drums()))
    assert score.parts[0].recurse().getElementsByClass("PercussionClef")
    heads = {n.displayName: n.notehead for n in score.recurse().getElementsByClass("Unpitched")}
    assert heads == {"F4": "normal", "C5": "normal", "G5": "x"}  # kick, snare, closed hi-hat


# --- Verovio ------------------------------------------------------------------------------------
def note_count(svgs: list[str]) -> int:
    return sum(len(re.findall(r'<g [^>]*class="note"', svg)) for svg in svgs)


def tied_over(piece: Piece) -> Piece:
    """Long notes over bar lines and across the lines of the score: many ties."""
    rng = np.random.default_rng(1)
    return from_note_list("tied", [(i * 1.5, i * 1.5 + 2.5, int(p), 80)
                                   for i, p in enumerate(rng.integers(60, 72, 100))])


@pytest.mark.parametrize("make", [melody, band, drums, tied_over])
def test_verovio_engraves_every_written_note(make):
    piece = make() if make is not tied_over else tied_over(melody())
    xml = to_musicxml(piece)
    svgs = score_svgs(xml)
    assert svgs and all(svg.lstrip().startswith("<svg") for svg in svgs)
    # one engraved note per written note (tied pieces included) ...
    assert note_count(svgs) == xml.count(b"<pitch>") + xml.count(b"<unpitched>")
    # ... and, less the notes a tie ends on, one per note of the piece on the 16th grid
    tied_to = {e for svg in svgs for e in re.findall(r'class="tie"[^>]*data-endid="([^"]+)"', svg)}
    assert len(tied_to) == xml.count(b'<tie type="stop" />')
    assert tied_to or make is not tied_over
    assert note_count(svgs) - len(tied_to) == len(sixteenth_notes(piece))


def test_a_long_piece_is_paged_and_the_page_has_buttons():
    rng = np.random.default_rng(3)
    long = from_note_list("long", [(i / 2, i / 2 + 0.5, int(p), 80)
                                   for i, p in enumerate(rng.integers(60, 80, 480))])  # 120 s
    svgs = score_svgs(to_musicxml(long))
    assert len(svgs) > 1 and note_count(svgs) == 480
    page = score_html(svgs, large=True)
    assert page.count('class="cs-page"') == len(svgs) and 'class="large"' in page
    assert "cs-next" in page and "http" not in page.replace("http://www.w3.org", "")


def test_a_score_verovio_cannot_read_is_a_value_error():
    with pytest.raises(ValueError, match="could not be engraved"):
        score_svgs(b"<not-a-score/>")


# --- the playing piano roll --------------------------------------------------------------------
def test_the_player_draws_from_the_same_roll_data_as_the_plotly_roll():
    piece = band()
    data, fig, roll = player_data(piece), piano_roll(piece), roll_data(piece)
    assert [lane["name"] for lane in data["lanes"]] == [t.name for t in fig.data]
    assert [lane["color"] for lane in data["lanes"]] == [t.marker.color for t in fig.data]
    assert data["drums"] == list(fig.layout.yaxis2.ticktext) == roll.drum_names
    for lane, trace, source in zip(data["lanes"], fig.data, roll.lanes):
        assert lane["hover"] == list(trace.hovertext)  # pitch / drum name, start, length, velocity
        assert [n[2] for n in lane["notes"]] == list(trace.y)  # the same pitch or drum row
        assert [n[3] for n in lane["notes"]] == source.notes[:, 3].tolist()  # velocity
    starts = sorted(n[0] for lane in data["lanes"] for n in lane["notes"])
    assert starts[0] == 0 and len(starts) == piece.n_notes


def test_the_player_page_is_self_contained():
    piece = melody()
    wav = render_audio(piece, sample_rate=16000, stereo=False).wav_bytes()
    page = player_html(piece, wav, height=300, large=True)
    assert wav_seconds(wav) == pytest.approx(piece.duration_seconds, abs=3.0)
    assert "data-composer-player" in page and 'class="large"' in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)  # nothing fetched
    assert "<link" not in page and "@import" not in page and "XMLHttpRequest" not in page
    assert re.findall(r"fetch\((.{6})", page) == ['"data:']  # its own WAV, decoded locally
    data = json.loads(re.search(r'<script id="cs-data" type="application/json">(.*?)</script>',
                                page, re.S).group(1))
    assert data["audio_seconds"] == pytest.approx(wav_seconds(wav))
    assert sum(len(lane["notes"]) for lane in data["lanes"]) == piece.n_notes


def test_the_player_carries_the_ogg_preview_in_place_of_the_wav():
    piece = melody()
    audio = render_audio(piece, sample_rate=16000, stereo=False)
    wav, ogg = audio.wav_bytes(), audio.ogg_bytes()
    page = player_html(piece, wav, height=300, preview=ogg)
    sound = re.search(r'<script id="cs-audio" data-type="([^"]+)" type="text/plain">([^<]*)<',
                      page)
    assert sound.group(1) == "audio/ogg" and base64.b64decode(sound.group(2)) == ogg
    assert len(page) < len(player_html(piece, wav, height=300)) / 2
    data = json.loads(re.search(r'<script id="cs-data" type="application/json">(.*?)</script>',
                                page, re.S).group(1))
    assert data["audio_seconds"] == pytest.approx(wav_seconds(wav))  # the clock from the WAV


@pytest.mark.parametrize("name", ["</script><script>alert(1)</script>", "<!--<script>"])
def test_a_track_name_cannot_break_out_of_the_player_page(name):
    """No ``<`` in the data: ``</script`` would end it, and ``<!--<script`` would make the HTML
    parser read past the real ``</script>`` (a blank player)."""
    notes = np.array([(0, 1, 60, 80, 0)], float)
    page = player_html(Piece("x", notes, [Track(0, name=name)]), None)
    assert "</script><script>alert(1)" not in page
    text = re.search(r'<script id="cs-data" type="application/json">(.*?)</script>',
                     page, re.S).group(1)
    assert "<" not in text
    assert json.loads(text)["lanes"][0]["name"] == f"Acoustic Grand Piano ({name})"
