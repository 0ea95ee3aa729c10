"""Where copied notes come from (``core.evaluation.copies``) and ``python -m core copies``.

The splice test builds a piece from two known training chorales (one moved up three semitones)
between material no chorale has, and checks that exactly those passages come back, with their
sources, bars and interval. A held-out chorale is checked against a brute-force search of the
training pieces: every passage it reports is really there, and every note that shares a run of
``n`` notes with them (at any pitch) is in a passage.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import corpus
from core.cli import main
from core.evaluation.copies import SourceIndex, copied_note_labels
from core.evaluation.metrics import ONSET_STEPS_PER_BEAT
from core.piece import END, PITCH, START, Piece, Track

N = 8


@pytest.fixture(scope="module")
def chorales(data_dir):
    pieces = corpus.load("bach-chorales", max_pieces=12, kind="melodic").pieces
    return corpus.split(pieces, 0.25, 0)


@pytest.fixture(scope="module")
def index(chorales):
    return SourceIndex(chorales[0], N, "melodic")


def _noise(rng, start: float, beats: float) -> np.ndarray:
    """Notes no chorale has: pitches above any voice, on a triplet grid."""
    onsets = start + np.arange(0, beats, 1 / 3)
    pitches = rng.integers(90, 110, len(onsets))
    return np.array([(s, s + 1 / 3, p, 80, 0) for s, p in zip(onsets, pitches)])


def _excerpt(piece: Piece, first: float, last: float, at: float, shift: int = 0) -> np.ndarray:
    notes = piece.slice_beats(first, last).notes.copy()
    notes[:, [START, END]] += at
    notes[:, PITCH] += shift
    notes[:, 4] = 0
    return notes


def _events(notes: np.ndarray) -> list[tuple[int, int]]:
    """(onset tick, pitch) in order, a unison once: the index's notes."""
    ticks = np.rint(notes[:, START] * ONSET_STEPS_PER_BEAT).astype(int)
    return sorted(set(zip(ticks.tolist(), notes[:, PITCH].astype(int).tolist())))


def _shape(events: list[tuple[int, int]], shift: int = 0) -> list[tuple[int, int]]:
    """Gaps and pitches (moved by ``shift``) of a run of notes: what a copy must repeat."""
    return [(0 if i == 0 else t - events[i - 1][0], p + shift) for i, (t, p) in enumerate(events)]


def test_spliced_passages_come_back_with_their_sources_bars_and_interval(chorales, index):
    a, b = chorales[0][0], chorales[0][1]
    rng = np.random.default_rng(5)
    parts = [_noise(rng, 0, 16), _excerpt(a, 8, 20, 16), _noise(rng, 28, 12),
             _excerpt(b, 4, 16, 40, shift=3), _noise(rng, 52, 8)]
    piece = Piece("spliced", np.concatenate(parts), [Track()], tempo=100)
    found = index.passages(piece)

    assert [(p.source, p.transposition) for p in found] == [(a.name, 0), (b.name, 3)]
    for p, source, (first, last), at, notes in ((found[0], a, (8, 20), 16, parts[1]),
                                                 (found[1], b, (4, 16), 40, parts[3])):
        onsets = np.unique(source.notes[(source.notes[:, START] >= first)
                                        & (source.notes[:, START] < last), START])
        assert p.source_bars == (int(onsets[0] // 4) + 1, int(onsets[-1] // 4) + 1)
        assert p.source_beats[0] == onsets[0]
        assert p.notes == len(notes)  # every spliced note, nothing of the material around
        assert p.start_s == pytest.approx(notes[:, START].min() * 0.6)
        assert p.end_s == pytest.approx(notes[:, END].max() * 0.6)
        assert sorted(p.note_indices.tolist()) == sorted(
            np.flatnonzero((piece.notes[:, START] >= at) & (piece.notes[:, START] < at + 12)
                           & (piece.notes[:, PITCH] < 90)).tolist())
        # the original is the source's own notes, at its own pitch
        assert _events(p.original().notes) == [(t - int(onsets[0] * 12), q)
                                               for t, q in _events(source.notes)
                                               if first * 12 <= t < last * 12]
    assert found[1].label().endswith("3 semitones up")
    labels = copied_note_labels(piece, found)
    assert sum(bool(x) for x in labels) == len(parts[1]) + len(parts[3])
    assert json.loads(json.dumps([p.to_dict() for p in found]))[1]["transposition"] == 3


def _brute_force_cover(train: list[Piece], piece: Piece) -> set[int]:
    """Indices of ``piece``'s notes (index order) inside a run of N that some training piece
    has at some pitch (drums aside): a plain search of every run against every run."""
    def runs(events):
        for i in range(len(events) - N + 1):
            run = events[i:i + N]
            yield i, tuple((0 if j == 0 else run[j][0] - run[j - 1][0], run[j][1] - run[0][1])
                           for j in range(N))
    known = {shape for p in train for _, shape in runs(_events(p.notes))}
    cover = set()
    for i, shape in runs(_events(piece.notes)):
        if shape in known:
            cover.update(range(i, i + N))
    return cover


def test_a_held_out_chorale_reports_only_what_it_really_shares(chorales, index):
    train, held_out = chorales
    assert held_out
    for piece in held_out[:2]:
        found = index.passages(piece)
        events = _events(piece.notes)
        covered: set[int] = set()
        for p in found:
            copy = events[p.first_note:p.last_note + 1]
            source = _events(p.source_piece.notes)
            start = source.index(next(e for e in source if e[0] == round(p.source_beats[0] * 12)))
            # somewhere at that onset of the source the same gaps and intervals follow
            assert any(_shape(source[s:s + len(copy)], p.transposition) == _shape(copy)
                       for s in range(start, start + 8)), p
            covered.update(range(p.first_note, p.last_note + 1))
        assert covered == _brute_force_cover(train, piece)
        exact = index.copy_stats(piece)
        if exact["copy_rate"] > 0:
            assert any(p.transposition == 0 for p in found)


def test_hostile_pieces_are_answered(index):
    rng = np.random.default_rng(0)
    many = np.column_stack([np.arange(200_000) / 4, np.arange(200_000) / 4 + 0.25,
                            rng.integers(40, 80, 200_000), np.full(200_000, 80),
                            np.zeros(200_000)])
    found = index.passages(Piece("many", many, [Track()]))
    assert all(p.last_note - p.first_note + 1 >= 1 for p in found)
    chord = np.array([(i, i + 1, p, 80, 0) for i in range(10_000) for p in (48, 55, 60, 64)],
                     float)
    found = index.passages(Piece("chord", chord, [Track()]))
    assert sum(p.notes for p in found) <= len(chord)


def test_copies_cli_prints_json_and_a_clear_error(chorales, tmp_path, capsys):
    run = "checkpoints/bach-memorise-events"
    from core.evaluation.loaded import loaded

    train = loaded(run).split[0]
    piece = Piece("copy", _excerpt(train[0], 0, 24, 0), [Track()], tempo=train[0].tempo)
    path = tmp_path / "copy.mid"
    path.write_bytes(piece.to_midi_bytes())
    assert main(["copies", str(path), "--run", run, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["copy_rate"] > 0.9
    first = out["copied_passages"][0]
    assert {"source", "source_bars", "start_s", "end_s", "notes", "transposition"} <= set(first)
    assert first["source"] == train[0].name and first["transposition"] == 0
    assert main(["copies", str(path), "--run", run]) == 0
    assert train[0].name in capsys.readouterr().out
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"not a MIDI file")
    assert main(["copies", str(junk), "--run", run]) == 2
    assert "error: junk.mid" in capsys.readouterr().err


def test_every_roll_outlines_the_copied_notes_and_names_their_source(chorales, index):
    from core.render.pianoroll import COPIED_OUTLINE_PX, piano_roll
    from core.render.player import player_data, player_html

    a = chorales[0][0]
    rng = np.random.default_rng(2)
    notes = np.concatenate([_noise(rng, 0, 8), _excerpt(a, 8, 20, 8)])
    piece = Piece("spliced", notes, [Track()])
    labels = copied_note_labels(piece, index.passages(piece))
    bars = piano_roll(piece, copied=labels).data[0]
    assert list(bars.marker.line.width).count(COPIED_OUTLINE_PX) == len(_excerpt(a, 8, 20, 8))
    lane = player_data(piece, copied=labels)["lanes"][0]
    assert sum(lane["copied"]) == sum(bool(x) for x in labels) > 0
    assert all(a.name in h for h, c in zip(lane["hover"], lane["copied"]) if c)
    assert "copied from the corpus" in player_html(piece, None, copied=labels)
    assert "copied" not in player_data(piece)["lanes"][0]["hover"][0]


def test_the_memorising_runs_passages_cover_its_copy_rate_and_generate_reports_them(tmp_path,
                                                                                    capsys):
    from core.corpus import read_midi
    from core.evaluation.copies import _events, _exact_hashes
    from core.evaluation.loaded import loaded
    from core.runs import Run

    run = Run("checkpoints/bach-memorise-events")
    index = loaded(run).copy_index
    sample = read_midi(run.sample_path(run.epochs()[-1], ".mid"))
    found = index.passages(sample)
    ev = _events(sample, index.instruments)
    at = np.flatnonzero(index._contains(_exact_hashes(ev.ticks, ev.codes, N)))
    copied = {i for a in at.tolist() for i in range(a, a + N)}
    assert index.copy_stats(sample)["copy_rate"] > 0.5
    assert copied <= {i for p in found for i in range(p.first_note, p.last_note + 1)}

    assert main(["generate", "--run", str(run.path), "--out", str(tmp_path / "g.mid"),
                 "--seed", "1", "--json"]) == 0
    piece = json.loads(capsys.readouterr().out)["pieces"][0]
    assert "copied_passages" in piece and "copy_rate" in piece
