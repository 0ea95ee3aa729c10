"""core.corpus: built-in and user corpora, hostile input, limits, cache, split, CLI.

Every bad input is real bytes built here; parsing runs in the real sandboxed workers.
"""

from __future__ import annotations

import io
import json
import os
import time

from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from core import corpus
from core.corpus import Limits, store
from core.corpus import smf
from core.paths import SHARED_DATA
from core.piece import PITCH, START, TRACK, Piece, from_note_list
from hostile import MB, drums_only, many_notes, melody, no_notes, two_tracks, type2, zipped


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Each test gets an empty data folder, so no cache survives from another run."""
    monkeypatch.setenv("COMPOSER_DATA", str(tmp_path / "data"))


@pytest.fixture
def no_prebuilt(tmp_path, monkeypatch):
    """No shipped whole corpora: every built-in load parses music21's files."""
    monkeypatch.setattr(store, "PREBUILT_DIR", tmp_path / "no-prebuilt")


def reasons(result: corpus.CorpusResult) -> dict[str, str]:
    return dict(result.skipped)


# --- bad input never aborts the corpus --------------------------------------------------------
def test_each_bad_file_is_skipped_with_its_reason():
    good = melody()
    uploads = [("good.mid", good), ("random.mid", os.urandom(2000)),
               ("truncated.mid", good[: len(good) // 2]), ("silent.mid", no_notes()),
               ("empty.mid", b""), ("drums.mid", drums_only()), ("notes.txt", b"hello")]
    result = corpus.load_uploads(uploads)
    assert [p.name for p in result.pieces] == ["good.mid"]
    assert reasons(result) == {
        "random.mid": "not a MIDI file",
        "truncated.mid": "truncated at byte 56 (the file ends inside track 2)",
        "silent.mid": "no notes",
        "empty.mid": "empty file",
        "drums.mid": "no melodic notes (drums only)",
        "notes.txt": "not a MIDI file",
    }
    assert result.summary() == "1 of 7 files used"
    assert result.stats()["skipped"] == 6


def test_multitrack_type1_keeps_tracks_and_kind_selects_them():
    data = two_tracks()
    melodic = corpus.load_uploads([("band.mid", data)])
    everything = corpus.load_uploads([("band.mid", data)], kind="all")
    drums = corpus.load_uploads([("band.mid", data)], kind="drums")
    assert [t.program for t in melodic.pieces[0].tracks] == [0, 33]
    assert len(everything.pieces[0].tracks) == 3
    assert [t.is_drum for t in drums.pieces[0].tracks] == [True]
    assert melodic.pieces[0].tempo == pytest.approx(100)


def test_type2_patterns_play_one_after_the_other():
    piece = corpus.load_uploads([("patterns.mid", type2())]).pieces[0]
    starts = {int(p): s for s, p in zip(piece.notes[:, START], piece.notes[:, PITCH])}
    assert starts == {60: 0.0, 67: 1.0}


def test_drums_only_file_is_used_by_a_drum_corpus():
    result = corpus.load_uploads([("drums.mid", drums_only())], kind="drums")
    assert result.pieces[0].has_drums and result.pieces[0].n_notes == 8


def test_nothing_usable_raises_with_the_reasons():
    with pytest.raises(ValueError, match="no usable pieces.*a.mid: not a MIDI file"):
        corpus.load_uploads([("a.mid", b"MIDI? no")])


def test_unknown_name_or_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="bach-chorales.*essen-folk"):
        corpus.load("no-such-corpus")
    with pytest.raises(ValueError, match="kind must be one of melodic, drums, all"):
        corpus.load("bach-chorales", kind="piano")


# --- limits -----------------------------------------------------------------------------------
def test_size_and_note_limits():
    limits = Limits(max_file_bytes=200, max_notes=5)
    result = corpus.load_uploads([("small.mid", many_notes(4)), ("many.mid", many_notes(6)),
                                  ("big.mid", many_notes(100))], limits=limits)
    assert [p.name for p in result.pieces] == ["small.mid"]
    assert reasons(result)["many.mid"] == "too many notes (6 > 5)"
    assert reasons(result)["big.mid"].startswith("too large (")


def test_notes_are_counted_from_the_raw_bytes_as_mido_counts_them():
    files = [*sorted((SHARED_DATA / "groove").rglob("*.mid"))[:200],
             *sorted((Path(__file__).parent / "fixtures").rglob("*.mid"))]
    datas = [p.read_bytes() for p in files] + [two_tracks(), type2(), melody(), many_notes(1000)]
    for data in datas:
        messages = mido.MidiFile(file=io.BytesIO(data))
        expected = sum(m.type == "note_on" and m.velocity > 0 for t in messages.tracks for m in t)
        assert smf.count_note_ons(data) == expected
    assert smf.count_note_ons(melody()[:30]) == 0  # a cut file: no crash, nothing counted


def test_zip_with_non_midi_members():
    archive = zipped({"songs/a.mid": melody(60), "songs/b.midi": melody(64),
                      "readme.txt": b"two songs", "cover.jpg": os.urandom(100)})
    result = corpus.load_uploads([("songs.zip", archive)])
    assert [p.name for p in result.pieces] == ["songs.zip/songs/a.mid", "songs.zip/songs/b.midi"]
    assert reasons(result) == {"songs.zip/readme.txt": "not a MIDI file",
                               "songs.zip/cover.jpg": "not a MIDI file"}


def test_zip_bomb_is_refused_before_unpacking():
    bomb = zipped({"bomb.mid": bytes(12 * MB), "ok.mid": melody()})
    assert len(bomb) < MB  # highly compressible: small on the wire
    result_total = corpus.load_uploads([("bomb.zip", bomb), ("x.mid", melody())],
                                       limits=Limits(max_zip_bytes=10 * MB))
    assert reasons(result_total)["bomb.zip"].startswith("zip too large when unpacked (12 MB")
    ratio = corpus.load_uploads([("bomb.zip", zipped({"z.mid": bytes(3 * MB)})),
                                 ("x.mid", melody())])
    assert reasons(ratio)["bomb.zip/z.mid"].startswith("suspicious compression ratio")


def test_zip_member_count_limit(tmp_path):
    path = tmp_path / "many.zip"
    path.write_bytes(zipped({f"{i}.mid": melody(60 + i) for i in range(3)}))
    with pytest.raises(ValueError, match=r"too many files in zip \(3 > 2\)"):
        corpus.load(path, limits=Limits(max_zip_members=2))


def test_parse_time_and_memory_are_bounded():
    with pytest.raises(ValueError, match="timed out"):
        corpus.load_uploads([("a.mid", melody())], limits=Limits(timeout_s=1e-4))
    with pytest.raises(ValueError, match="out of memory|crashed"):
        corpus.load_uploads([("big.mid", many_notes(20_000))], limits=Limits(memory_bytes=MB))


# --- folders, progress, cache, max_pieces -----------------------------------------------------
def make_folder(tmp_path, n=4):
    root = tmp_path / "midi"
    (root / "sub" / "deeper").mkdir(parents=True)
    for i in range(n):
        folder = [root, root / "sub", root / "sub" / "deeper"][i % 3]
        (folder / f"song{i}.mid").write_bytes(melody(50 + i))
    (root / "notes.txt").write_text("ignored: not a MIDI file name")
    return root


def test_folder_is_searched_recursively_with_progress_per_file(tmp_path):
    calls = []
    result = corpus.load(make_folder(tmp_path), progress=lambda *a: calls.append(a))
    assert [p.name for p in result.pieces] == [
        "song0.mid", "song3.mid", "sub/song1.mid", "sub/deeper/song2.mid"]
    assert result.name == "midi" and result.summary() == "4 of 4 files used"
    assert [c[:2] for c in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert {c[2] for c in calls} == {p.name for p in result.pieces}


def test_second_load_comes_from_the_cache_without_parsing(tmp_path):
    folder = make_folder(tmp_path)
    first = corpus.load(folder)
    # Any parse now would time out; the cache answers before a worker is asked.
    second = corpus.load(folder, limits=Limits(timeout_s=1e-4))
    assert [p.name for p in second.pieces] == [p.name for p in first.pieces]
    for a, b in zip(first.pieces, second.pieces):
        np.testing.assert_array_equal(a.notes, b.notes)
    with pytest.raises(ValueError, match="timed out"):
        corpus.load(folder, limits=Limits(timeout_s=1e-4), use_cache=False)


def test_max_pieces_takes_the_first_files(tmp_path):
    result = corpus.load(make_folder(tmp_path), max_pieces=2)
    assert [p.name for p in result.pieces] == ["song0.mid", "song3.mid"]  # top folder first


def test_list_of_paths_and_single_file(tmp_path):
    a, b = tmp_path / "a.mid", tmp_path / "b.kar"
    a.write_bytes(melody(60))
    b.write_bytes(melody(62))
    assert corpus.load([a, str(b)]).summary() == "2 of 2 files used"
    assert corpus.load(str(a)).name == "a.mid"


# --- pieces on disk and split -----------------------------------------------------------------
def test_store_round_trip_without_pickle():
    pieces = [Piece.from_midi(pretty_midi.PrettyMIDI(io.BytesIO(two_tracks())), "band",
                              {"k": [1, 2]}), from_note_list("solo", [(0, 1, 60, 80)])]
    npz, doc = store.pack(pieces, [("bad.mid", "no notes")])
    back, skipped = store.unpack(npz, json.loads(json.dumps(doc)))
    assert skipped == [("bad.mid", "no notes")]
    for a, b in zip(pieces, back):
        assert (a.name, a.tracks, a.tempo, a.meta) == (b.name, b.tracks, b.tempo, b.meta)
        np.testing.assert_array_equal(a.notes, b.notes)


def test_split_is_deterministic_and_by_piece():
    pieces = [from_note_list(f"p{i}", [(0, 1, 60 + i % 12, 80)]) for i in range(50)]
    train, val = corpus.split(pieces, 0.2, seed=7)
    assert len(val) == 10 and len(train) == 40
    assert {p.name for p in train}.isdisjoint(p.name for p in val)
    again = corpus.split(list(reversed(pieces)), 0.2, seed=7)[1]
    assert {p.name for p in again} == {p.name for p in val}  # order does not matter
    assert {p.name for p in corpus.split(pieces, 0.2, seed=8)[1]} != {p.name for p in val}
    assert corpus.split(pieces[:2], 0.01, seed=0)[1]  # a share > 0 keeps one piece back
    assert corpus.split(pieces, 0.0, seed=0) == (pieces, [])


# --- built-in corpora -------------------------------------------------------------------------
def test_builtin_bach_chorales_first_five(no_prebuilt):
    calls = []
    result = corpus.load("bach-chorales", max_pieces=5, progress=lambda *a: calls.append(a))
    assert result.summary() == "5 of 5 files used"
    assert len(calls) == 5 and calls[-1][:2] == (5, 5)
    piece = result.pieces[0]
    assert piece.name == "bach/bwv269" and len(piece.tracks) == 4
    assert [t.name for t in piece.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert 36 <= piece.notes[:, PITCH].min() and piece.notes[:, PITCH].max() <= 84
    assert set(np.unique(piece.notes[:, TRACK])) == {0, 1, 2, 3}
    start = time.perf_counter()
    again = corpus.load("bach-chorales", max_pieces=5)
    assert time.perf_counter() - start < 0.5
    assert [p.name for p in again.pieces] == [p.name for p in result.pieces]


def test_builtin_abc_tunes_are_pieces():
    result = corpus.load("essen-folk", max_pieces=3)
    assert [p.name for p in result.pieces] == [f"essenFolksong/altdeu10.abc#{i}" for i in (1, 2, 3)]
    assert result.unit == "tunes" and result.pieces[0].meta["title"]


@pytest.mark.parametrize("name", list(corpus.BUILTIN))
def test_a_whole_builtin_corpus_ships_parsed_and_equal_to_a_fresh_parse(name):
    """``core/corpus/prebuilt`` (``python -m core corpus prebuild``): the first load of a whole
    built-in corpus reads it (this test's data folder is empty), and it holds what parsing
    music21's files gives: its first pieces, parsed again now, are equal."""
    assert corpus.is_cached(name), f"rebuild: python -m core corpus prebuild {name}"
    whole = corpus.load(name)
    assert len(whole.pieces) == corpus.builtin.CATALOG[name].pieces
    fresh = corpus.load(name, max_pieces=3, use_cache=False).pieces
    for shipped, parsed in zip(whole.pieces, fresh, strict=False):
        assert shipped.name == parsed.name and shipped.meta == parsed.meta
        assert shipped.tempo == parsed.tempo and shipped.tracks == parsed.tracks
        np.testing.assert_array_equal(shipped.notes, parsed.notes)
    assert len(fresh) == 3


def test_list_builtin():
    names = [c["name"] for c in corpus.list_builtin()]
    assert names == ["bach-chorales", "essen-folk", "fiddle-tunes", "palestrina"]
    assert set(corpus.BUILTIN) == set(names)


@pytest.mark.skipif(not (SHARED_DATA / "groove" / "info.csv").exists(),
                    reason="Groove MIDI Dataset not in ../shared/data")
def test_groove_test_split():
    result = corpus.load_groove(split="test", max_pieces=3)
    assert result.summary() == "3 of 3 files used"
    piece = result.pieces[0]
    assert piece.has_drums and all(t.is_drum for t in piece.tracks)
    assert piece.meta["split"] == "test" and piece.meta["bpm"] > 0


# --- CLI --------------------------------------------------------------------------------------
def cli_main(argv: list[str]) -> int:
    """``python -m core ...`` in this process."""
    from core.cli import main
    return main(argv)


def test_cli_list_and_stats(tmp_path, capsys):
    assert cli_main(["corpus", "list"]) == 0
    assert "bach-chorales" in capsys.readouterr().out
    folder = make_folder(tmp_path, n=2)
    (folder / "bad.mid").write_bytes(b"nope")
    assert cli_main(["corpus", "stats", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pieces"] == 2 and report["notes"] == 16
    assert report["skipped_files"] == [{"file": "bad.mid", "reason": "not a MIDI file"}]
    assert cli_main(["corpus", "stats", str(folder)]) == 0
    assert "bad.mid: not a MIDI file" in capsys.readouterr().out
    assert cli_main(["corpus", "stats", "no-such-corpus"]) == 2  # one line, no traceback
    err = capsys.readouterr().err
    assert err.startswith("error: unknown corpus") and err.count("\n") == 1


def test_cli_stats_with_an_encoding(tmp_path, capsys):
    from core.encodings import encoding_names
    name = encoding_names()[0]
    assert cli_main(["corpus", "stats", str(make_folder(tmp_path, n=2)), "--encoding", name,
                     "--kind", "all", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["vocab_size"] > 1 and report["tokens"] > 0


def test_is_cached_says_whether_a_builtin_load_would_parse(tmp_path, no_prebuilt):
    assert not corpus.is_cached("bach-chorales", 3)
    corpus.load("bach-chorales", max_pieces=3)
    assert corpus.is_cached("bach-chorales", 3) and not corpus.is_cached("bach-chorales", 4)
    assert corpus.is_cached(str(tmp_path))  # a folder is read file by file: nothing to wait for


def test_any_subset_of_a_shipped_corpus_is_cached():
    assert all(corpus.is_cached(name, n) for name in corpus.BUILTIN for n in (1, 60, 10**6))


@pytest.mark.parametrize("name, n", [("bach-chorales", 6), ("palestrina", 4),
                                     ("fiddle-tunes", 53), ("essen-folk", 7)])
def test_a_subset_comes_from_the_shipped_whole_and_equals_a_fresh_parse(name, n):
    """The first ``n`` items of a built-in corpus are taken from its shipped whole, without
    parsing, and they are what parsing those items gives (fiddle-tunes' 53 crosses from its
    first 50-tune file into the next)."""
    calls = []
    subset = corpus.load(name, max_pieces=n, progress=lambda *a: calls.append(a))
    assert calls == [(1, 1, name)]  # one step: nothing was parsed
    fresh = corpus.load(name, max_pieces=n, use_cache=False)
    assert subset.summary() == fresh.summary() == f"{n} of {n} {fresh.unit} used"
    assert [p.name for p in subset.pieces] == [p.name for p in fresh.pieces]
    for shipped, parsed in zip(subset.pieces, fresh.pieces):
        assert shipped.meta == parsed.meta and shipped.tempo == parsed.tempo
        assert shipped.tracks == parsed.tracks
        np.testing.assert_array_equal(shipped.notes, parsed.notes)


def test_a_subset_of_a_whole_that_skipped_something_is_parsed(no_prebuilt, monkeypatch):
    """Positions tell which item a piece came from only when every item gave one piece."""
    whole = corpus.load("bach-chorales", max_pieces=4, use_cache=False).pieces
    key = corpus.builtin.cache_key("bach-chorales", None, "melodic")
    store.write_cache(key, whole, [("bach/bwv347.mxl", "could not parse")])
    assert not corpus.is_cached("bach-chorales", 2)
    calls = []
    result = corpus.load("bach-chorales", max_pieces=2, progress=lambda *a: calls.append(a))
    assert len(calls) == 2 and [p.name for p in result.pieces] == [p.name for p in whole[:2]]
