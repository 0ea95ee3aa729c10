"""Issue 27: the one bounded reader reads the MIDI files common tools read.

Each damaged file is built here from a good one (wrapped in RIFF, a data byte set above 127, a
key signature in mode 2) and must give back the good file's notes, with a warning saying what
was repaired; a file is refused only when nothing can be read, with the true reason. Parsing
runs in the real sandboxed workers.
"""

from __future__ import annotations

import io
import json

import mido
import numpy as np
import pretty_midi
import pytest

from core import corpus
from core.corpus import Limits, smf
from core.piece import VELOCITY
from hostile import (in_riff, key_in_mode_2, many_notes, melody, no_notes, type2,
                     volume_over_127, with_byte, with_key_and_volume)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_DATA", str(tmp_path / "data"))


DAMAGES = {
    "wrapped.rmi": (in_riff, ["unwrapped from a RIFF (RMID) container"]),
    "loud.mid": (volume_over_127, ["a data byte above 127 clipped"]),
    "key.mid": (key_in_mode_2, ["an undecodable key signature dropped"]),
    "all-three.mid": (lambda d: in_riff(key_in_mode_2(volume_over_127(d))),
                      ["unwrapped from a RIFF (RMID) container", "a data byte above 127 clipped",
                       "an undecodable key signature dropped"]),
}


@pytest.mark.parametrize("name", sorted(DAMAGES))
def test_a_damaged_file_gives_the_good_files_notes_with_a_warning(name):
    good = with_key_and_volume()
    damage, warnings = DAMAGES[name]
    damaged = damage(good)
    with pytest.raises(Exception):  # the damage is real: the parser alone refuses the file
        pretty_midi.PrettyMIDI(io.BytesIO(damaged))
    original = corpus.load_uploads([("good.mid", good)])
    result = corpus.load_uploads([("good.mid", good), (name, damaged)])
    assert result.summary() == "2 of 2 files used" and not result.skipped
    np.testing.assert_array_equal(result.pieces[1].notes, original.pieces[0].notes)
    assert result.pieces[1].tempo == original.pieces[0].tempo
    assert result.repaired == [(name, warnings)]  # the good file has nothing to report
    assert result.stats()["repaired"] == 1
    piece = corpus.read_midi(damaged, name)  # the primer's and `render FILE`'s path
    np.testing.assert_array_equal(piece.notes, original.pieces[0].notes)
    assert piece.meta["repairs"] == warnings


def test_a_note_velocity_above_127_is_clipped_to_127():
    good = melody()
    loud = with_byte(good, b"\x90\x3c\x5a", 2, 0xDA)  # the first note's velocity 90 -> 218
    notes = corpus.read_midi(loud, "loud.mid").notes
    expected = corpus.read_midi(good, "good.mid").notes.copy()
    expected[0, VELOCITY] = 127
    np.testing.assert_array_equal(notes, expected)


def test_a_repaired_file_is_cached_with_its_warnings(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    (folder / "key.mid").write_bytes(key_in_mode_2(with_key_and_volume()))
    first = corpus.load(folder)
    second = corpus.load(folder, limits=Limits(timeout_s=1e-4))  # any parse would time out
    assert second.repaired == first.repaired == [("key.mid", ["an undecodable key signature "
                                                              "dropped"])]


def test_refusals_say_the_true_reason():
    good = melody()
    smpte = good[:12] + bytes([0xE7, 0x28]) + good[14:]  # 25 frames/s, 40 ticks a frame
    no_status = good[:22] + b"\x00\x3c\x40" + good[25:]  # running data before any status
    undefined = with_byte(good, b"\x90\x3c\x5a", 0, 0xF4)  # a status byte MIDI never defined
    uploads = [("empty.mid", b""), ("silent.mid", no_notes()), ("cut.mid", good[:100]),
               ("smpte.mid", smpte), ("no-status.mid", no_status), ("f4.mid", undefined),
               ("wav.rmi", b"RIFF\x04\x00\x00\x00WAVE"),
               ("empty.rmi", b"RIFF\x04\x00\x00\x00RMID"),
               ("many.mid", many_notes(9)), ("big.mid", many_notes(100)), ("ok.mid", good)]
    result = corpus.load_uploads(uploads, limits=Limits(max_file_bytes=600, max_notes=8))
    assert [p.name for p in result.pieces] == ["ok.mid"] and not result.repaired
    reasons = dict(result.skipped)
    assert reasons.pop("big.mid").startswith("too large (")
    assert reasons == {
        "empty.mid": "empty file",
        "silent.mid": "no notes",
        "cut.mid": "truncated at byte 100 (the file ends inside track 2)",
        "smpte.mid": "timed in SMPTE frames rather than beats (not supported)",
        "no-status.mid": "corrupt at byte 23 (data without a status byte, in track 1)",
        "f4.mid": f"corrupt at byte {undefined.index(0xF4)} (undefined status byte 0xF4, in "
                  "track 2)",
        "wav.rmi": "not a MIDI file",
        "empty.rmi": "not a MIDI file (a RIFF file without MIDI data in it)",
        "many.mid": "too many notes (9 > 8)",
    }


# --- what else the reader reads past, at the byte level -------------------------------------
def smf_file(*tracks: bytes, declared: int | None = None, fmt: int = 1) -> bytes:
    """A file of raw track event bytes (each gets its chunk header), 480 ticks a beat."""
    n = len(tracks) if declared is None else declared
    return (b"MThd" + bytes([0, 0, 0, 6, 0, fmt, 0, n, 1, 0xE0])
            + b"".join(b"MTrk" + len(t).to_bytes(4, "big") + t for t in tracks))


NOTES = b"\x00\x90\x3c\x50\x83\x60\x3c\x00\x00\x3e\x50\x83\x60\x3e\x00"  # C4, D4 (running)
END = b"\x00\xff\x2f\x00"
TEMPO = b"\x00\xff\x51\x03\x07\xa1\x20"


def notes_of(data: bytes) -> list[tuple]:
    """(start beat, end beat, pitch) of each note the reader gives."""
    piece = corpus.read_midi(data, "x.mid")
    return [tuple(row[:3]) for row in piece.notes.tolist()]


GOOD = smf_file(TEMPO + END, NOTES + END)
REPAIRS = {  # name -> (bytes, the repairs said)
    "tempo 0": (smf_file(b"\x00\xff\x51\x03\x00\x00\x00" + TEMPO + END, NOTES + END),
                ["an undecodable tempo dropped"]),
    "a 0/4 bar": (smf_file(TEMPO + b"\x00\xff\x58\x04\x00\x02\x18\x08" + END, NOTES + END),
                  ["an undecodable time signature dropped"]),
    "a clock byte": (smf_file(TEMPO + END, b"\x00\xf8" + NOTES + END),
                     ["a system message with no place in a file dropped"]),
    "sysex over 127": (smf_file(TEMPO + END, b"\x00\xf0\x03\x43\x90\xf7" + NOTES + END),
                       ["an undecodable system-exclusive message dropped"]),
    "junk after the end": (smf_file(TEMPO + END, NOTES + END + b"\x00\xf4\x00"),
                           ["bytes after the end of a track dropped"]),
    "header counts 3": (smf_file(TEMPO + END, NOTES + END, declared=3),
                        ["the header counts 3 tracks, the file holds 2: all 2 read"]),
    "an XF chunk": (smf_file(TEMPO + END, declared=2) + b"XFIH\x00\x00\x00\x02ab"
                    + b"MTrk" + len(NOTES + END).to_bytes(4, "big") + NOTES + END,
                    ["a chunk that is not a track skipped ('XFIH')"]),
    "a long last length": (GOOD[:-len(NOTES + END) - 4] + (999).to_bytes(4, "big") + NOTES + END,
                           ["the length of track 2 corrected (it ran past the end of the "
                            "file)"]),
}


@pytest.mark.parametrize("name", sorted(REPAIRS))
def test_other_damage_is_read_past_and_said(name):
    data, said = REPAIRS[name]
    assert smf.prepare(data).warnings == said
    assert notes_of(data) == notes_of(GOOD) == [(0.0, 1.0, 60.0), (1.0, 2.0, 62.0)]


def test_running_status_across_a_meta_event_reads_as_mido_reads_it():
    track = b"\x00\x90\x3c\x50\x00\xff\x01\x01a\x83\x60\x3c\x00" + END  # text between
    data = smf_file(TEMPO + END, track)
    assert smf.prepare(data).warnings == [] and smf.prepare(data).data == data
    assert notes_of(data) == [(0.0, 1.0, 60.0)]
    messages = mido.MidiFile(file=io.BytesIO(data)).tracks[1]
    assert [m.type for m in messages] == ["note_on", "text", "note_on", "end_of_track"]


def test_a_type2_file_is_rebuilt_with_its_patterns_in_turn():
    prepared = smf.prepare(type2())
    assert prepared.warnings == [] and prepared.note_ons == 2
    rebuilt = mido.MidiFile(file=io.BytesIO(prepared.data))
    assert rebuilt.type == 1 and [t[0].time for t in rebuilt.tracks] == [0, 480]


def test_cli_stats_lists_the_repaired_files(tmp_path, capsys):
    from core.cli import main

    folder = tmp_path / "midi"
    folder.mkdir()
    (folder / "good.mid").write_bytes(melody())
    (folder / "song.rmi").write_bytes(in_riff(melody(64)))
    assert main(["corpus", "stats", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pieces"] == 2 and report["repaired"] == 1 and report["skipped_files"] == []
    assert report["repaired_files"] == [{"file": "song.rmi",
                                         "repairs": ["unwrapped from a RIFF (RMID) container"]}]
    assert main(["corpus", "stats", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "repaired  1" in out and "song.rmi: unwrapped from a RIFF (RMID) container" in out


def test_render_says_what_it_repaired(tmp_path, capsys):
    from core.cli import main

    path = tmp_path / "song.rmi"
    path.write_bytes(in_riff(key_in_mode_2(with_key_and_volume())))
    assert main(["render", str(path), "--musicxml", str(tmp_path / "song.musicxml")]) == 0
    err = capsys.readouterr().err
    assert f"{path}: repaired: unwrapped from a RIFF (RMID) container" in err
    assert f"{path}: repaired: an undecodable key signature dropped" in err
    assert (tmp_path / "song.musicxml").read_bytes().startswith(b"<?xml")
