"""Where a piece's copied notes come from: the training piece, its bars, and the interval.

:class:`SourceIndex` is the copy index (a :class:`core.evaluation.metrics.CorpusIndex`, so its
``copy_stats`` and copy rate are the same numbers) that also remembers *where* every run of
``n`` notes occurs: which training piece and which note of it. :meth:`SourceIndex.passages`
then lists a new piece's copied passages:

1. every run of ``n`` notes of the piece is looked up twice: verbatim (the copy rate's test)
   and by its intervals (pitches relative to its first note, same gaps), which finds the same
   notes at another pitch; a hit's *transposition* is the difference of the two first pitches;
2. hits on one *diagonal* (same training piece, same offset between the two pieces, same
   transposition) at consecutive runs form one segment: one stretch of the piece that one
   training piece explains, note for note;
3. every note goes to the segment that covers it and is longest (ties: verbatim before
   transposed, the smaller interval, the earlier piece), so when overlapping runs come from
   different pieces the stretch is split and each part goes to the piece that explains it
   longest; the maximal stretches of notes with one owner are the passages.

Notes are the copy index's: each note its pitch and its distance from the previous one, in
(onset, pitch) order, onsets rounded to 1/12 beat, a unison on two tracks counted once. A run
that contains drum notes is only matched verbatim (drums do not transpose).

Bounded for hostile input: a run of notes found in more than :data:`MAX_SOURCES_PER_NGRAM`
places of the corpus is attributed among its first ones (in corpus order), fewer when the piece
is so long that the hits would pass :data:`MAX_HITS`; the rest is sorting and a range-minimum
table, O(hits log hits). Bars count from the piece's first beat, ``time_signature`` from the
piece's ``meta`` when it has one (``"3/4"``), else 4/4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from core.evaluation.metrics import (ONSET_STEPS_PER_BEAT, CorpusIndex, _mix, _ngram_hashes,
                                     _notes, _Onsets, _PITCH_CODES)
from core.piece import END, PITCH, START, Piece

#: At most this many places of the corpus are considered for one run of notes.
MAX_SOURCES_PER_NGRAM = 32
#: At most this many (run, place) hits per lookup: a very long piece considers fewer places.
MAX_HITS = 2_000_000

# Codes of notes relative to the first note of their run: pitched ones by interval (-127..127
# at 0..254), drums by their key (256 + key), so a drum never matches a transposed one.
_RELATIVE_CODES = (np.random.default_rng(20240524).integers(0, 2**63, size=384, dtype=np.uint64)
                   * 2 + 1)


@dataclass(frozen=True)
class Passage:
    """One copied passage of a piece: where it is, and where in which training piece it is from.

    ``first_note`` and ``last_note`` index the piece's notes in (onset, pitch) order (a unison on
    two tracks once); ``notes`` counts the piece's notes inside (each unison note). Times in the
    new piece are at its tempo, the source's at the source's. ``transposition`` is in semitones
    (0: verbatim; +3: the copy sounds three semitones above the original).
    """

    source: str
    source_bars: tuple[int, int]
    source_beats: tuple[float, float]
    source_seconds: tuple[float, float]
    start_s: float
    end_s: float
    notes: int
    transposition: int
    first_note: int
    last_note: int
    source_last_onset: float  # beats: the source's notes from ``source_beats[0]`` to here
    source_piece: Piece = field(repr=False, compare=False)
    note_indices: np.ndarray = field(repr=False, compare=False)  # into the piece's ``notes``

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s

    def label(self) -> str:
        """``"4.2 s from bach/bwv253, bars 5-7"`` (``", 3 semitones up"`` when transposed)."""
        first, last = self.source_bars
        bars = f"bar {first}" if first == last else f"bars {first}-{last}"
        text = f"{self.seconds:.1f} s from {self.source}, {bars}"
        if self.transposition:
            steps = abs(self.transposition)
            text += (f", {steps} semitone{'s' if steps > 1 else ''} "
                     f"{'up' if self.transposition > 0 else 'down'}")
        return text

    def original(self) -> Piece:
        """The passage as the training piece has it (its notes from the passage's first onset to
        its last, whole, at its own pitch and tempo), starting at 0."""
        src, eps = self.source_piece, 0.5 / ONSET_STEPS_PER_BEAT
        notes = src.notes[(src.notes[:, START] > self.source_beats[0] - eps)
                          & (src.notes[:, START] < self.source_last_onset + eps)].copy()
        notes[:, [START, END]] -= self.source_beats[0]
        return Piece(f"{src.name}, bars {self.source_bars[0]}-{self.source_bars[1]}", notes,
                     list(src.tracks), src.tempo, dict(src.meta))

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "source_bars": list(self.source_bars),
                "source_beats": [round(b, 3) for b in self.source_beats],
                "source_seconds": [round(s, 3) for s in self.source_seconds],
                "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "notes": self.notes, "transposition": self.transposition,
                "first_note": self.first_note, "last_note": self.last_note,
                "label": self.label()}


@dataclass(frozen=True)
class _Events:
    """A piece's notes as the copy index sees them, in (onset, pitch) order."""

    ticks: np.ndarray    # int64, onset in 1/ONSET_STEPS_PER_BEAT beats
    codes: np.ndarray    # int64, pitch, or 128 + key for a drum
    starts: np.ndarray   # float64, first start (beats) of the notes on this (onset, code)
    ends: np.ndarray     # float64, latest end (beats) of those notes
    of_note: np.ndarray  # int64, per note of the piece: its event, or -1 (instrument left out)


def _events(piece: Piece, instruments: str) -> _Events:
    if instruments not in ("all", "melodic", "drums"):
        raise ValueError(f"instrument kind must be melodic, drums or all, not {instruments!r}")
    notes, drum = piece.notes, piece.drum_mask()
    keep = np.ones(len(notes), bool) if instruments == "all" else drum == (instruments == "drums")
    codes = notes[:, PITCH].astype(np.int64) + 128 * drum
    ticks = np.rint(notes[:, START] * ONSET_STEPS_PER_BEAT).astype(np.int64)
    keys, first, inverse = np.unique((ticks * 256 + codes)[keep], return_index=True,
                                     return_inverse=True)
    ends = np.zeros(len(keys))
    np.maximum.at(ends, inverse, notes[keep, END])
    of_note = np.full(len(notes), -1, np.int64)
    of_note[keep] = inverse
    return _Events(keys >> 8, keys & 255, notes[keep][first, START], ends, of_note)


def _exact_hashes(ticks: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """The copy index's own hash of each run of ``n`` notes (``metrics._ngram_hashes``)."""
    ones = np.ones(len(ticks), np.int64)
    return _ngram_hashes(_Onsets(ticks, _PITCH_CODES[codes], ones, ones.astype(float)), n)


def _relative_hashes(ticks: np.ndarray, codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per run of ``n`` notes: a hash of its intervals (pitches relative to its first note) and
    gaps, and whether it holds a drum note."""
    count = len(ticks) - n + 1
    if count <= 0:
        return np.zeros(0, np.uint64), np.zeros(0, bool)
    gaps = _mix(np.diff(ticks, prepend=ticks[:1]).astype(np.uint64))
    base = codes[:count] & 127
    drum = codes >= 128

    def code(j: int) -> np.ndarray:
        c = codes[j:j + count]
        return _RELATIVE_CODES[np.where(c >= 128, c + 128, c - base + 127)]

    h = code(0)
    for j in range(1, n):
        h = _mix(h ^ code(j) ^ gaps[j:j + count])
    drums = np.convolve(drum, np.ones(n, np.int64), "valid") > 0 if n > 1 else drum.copy()
    return h, drums[:count]


def _beats_per_bar(piece: Piece) -> float:
    try:
        top, bottom = str(piece.meta.get("time_signature", "4/4")).split("/")
        return max(int(top) * 4 / int(bottom), 1e-3)
    except (ValueError, ZeroDivisionError):
        return 4.0


class SourceIndex(CorpusIndex):
    """The copy index (runs of ``n`` notes, ``unit="note"``) with where each run occurs.

    Memory is about 40 bytes per note of the corpus. ``pieces`` are kept (by reference) for
    :meth:`Passage.original`.
    """

    def __init__(self, pieces: Iterable[Piece], n: int = 8, instruments: str = "all") -> None:
        if n < 1:
            raise ValueError(f"n-gram length must be at least 1, got {n}")
        self.n, self.instruments, self.unit, self._events = n, instruments, "note", _notes
        self.pieces = list(pieces)
        events = [_events(p, instruments) for p in self.pieces]
        sizes = np.array([len(e.ticks) for e in events], np.int64)
        self._offsets = np.concatenate(([0], np.cumsum(sizes)))
        cat = (lambda name, dtype: np.concatenate([getattr(e, name) for e in events]).astype(dtype)
               if events else np.zeros(0, dtype))
        ticks, codes = cat("ticks", np.int64), cat("codes", np.int64)
        self._ticks, self._codes = ticks.astype(np.int32), codes.astype(np.int16)
        self._ends = cat("ends", np.float32)
        # runs of n notes that lie inside one piece, by their first note's global position
        valid = np.zeros(len(ticks), bool)
        for start, size in zip(self._offsets[:-1], sizes):
            valid[start:start + max(size - n + 1, 0)] = True
        where = np.flatnonzero(valid[:max(len(ticks) - n + 1, 0)])
        exact = _exact_hashes(ticks, codes, n)[where]
        relative = _relative_hashes(ticks, codes, n)[0][where]
        self._hashes = np.unique(exact)
        self._exact, self._exact_at = self._table(exact, where)
        self._relative, self._relative_at = self._table(relative, where)

    @staticmethod
    def _table(hashes: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(hashes, kind="stable")  # equal hashes stay in corpus order
        return hashes[order], where[order].astype(np.int32)

    def __repr__(self) -> str:
        return (f"SourceIndex(n={self.n}, instruments={self.instruments!r}, "
                f"pieces={len(self.pieces)}, n_grams={len(self)})")

    def _hits(self, table: np.ndarray, at: np.ndarray, hashes: np.ndarray,
              cap: int) -> tuple[np.ndarray, np.ndarray]:
        """``(run, corpus position)`` for each of the first ``cap`` places of each run's hash."""
        lo = np.searchsorted(table, hashes, "left")
        counts = np.minimum(np.searchsorted(table, hashes, "right") - lo, cap)
        runs = np.repeat(np.arange(len(hashes)), counts)
        skip = np.arange(len(runs)) - np.repeat(np.cumsum(counts) - counts, counts)
        return runs, at[np.repeat(lo, counts) + skip].astype(np.int64)

    def passages(self, piece: Piece) -> list[Passage]:
        """The copied passages of ``piece``, in the order they occur (see the module)."""
        ev = _events(piece, self.instruments)
        n, count = self.n, len(ev.ticks) - self.n + 1
        if count <= 0 or not len(self._exact):
            return []
        cap = int(max(1, min(MAX_SOURCES_PER_NGRAM, MAX_HITS // (2 * count))))
        runs, at = self._hits(self._exact, self._exact_at, _exact_hashes(ev.ticks, ev.codes, n), cap)
        relative, has_drum = _relative_hashes(ev.ticks, ev.codes, n)
        r_runs, r_at = self._hits(self._relative, self._relative_at, relative, cap)
        shift = (ev.codes[r_runs] & 127) - (self._codes[r_at].astype(np.int64) & 127)
        moved = (shift != 0) & ~has_drum[r_runs]
        runs = np.concatenate([runs, r_runs[moved]])
        at = np.concatenate([at, r_at[moved]])
        shift = np.concatenate([np.zeros(len(runs) - moved.sum(), np.int64), shift[moved]])
        if not len(runs):
            return []
        owner, seg = _owners(len(ev.ticks), n, runs, at, shift,
                             np.searchsorted(self._offsets, at, "right") - 1)
        return self._passages(piece, ev, owner, seg)

    def _passages(self, piece: Piece, ev: _Events, owner: np.ndarray,
                  seg: dict[str, np.ndarray]) -> list[Passage]:
        edges = np.flatnonzero(np.diff(np.concatenate(([-1], owner, [-1]))))
        starts, stops = edges[:-1], edges[1:]
        keep = owner[starts] >= 0
        starts, stops = starts[keep], stops[keep]
        # the piece's notes by event, so a passage's notes are one slice
        by_event = np.argsort(ev.of_note, kind="stable")
        by_event = by_event[ev.of_note[by_event] >= 0]
        bounds = np.searchsorted(ev.of_note[by_event], np.arange(len(ev.ticks) + 1))
        spb = piece.seconds_per_beat
        out = []
        for a, b in zip(starts.tolist(), stops.tolist()):
            s = int(owner[a])
            src_a, src_b = a + int(seg["diag"][s]), b + int(seg["diag"][s])
            source = self.pieces[int(seg["piece"][s])]
            bar = _beats_per_bar(source)
            beat0 = float(self._ticks[src_a]) / ONSET_STEPS_PER_BEAT
            beat1 = float(self._ends[src_a:src_b].max())
            last_onset = float(self._ticks[src_b - 1]) / ONSET_STEPS_PER_BEAT
            out.append(Passage(
                source=source.name, source_bars=(int(beat0 // bar) + 1, int(last_onset // bar) + 1),
                source_beats=(beat0, beat1),
                source_seconds=(beat0 * source.seconds_per_beat, beat1 * source.seconds_per_beat),
                start_s=float(ev.starts[a:b].min()) * spb, end_s=float(ev.ends[a:b].max()) * spb,
                notes=int(bounds[b] - bounds[a]), transposition=int(seg["shift"][s]),
                first_note=a, last_note=b - 1, source_last_onset=last_onset, source_piece=source,
                note_indices=np.sort(by_event[bounds[a]:bounds[b]])))
        return out


def _owners(length: int, n: int, runs: np.ndarray, at: np.ndarray, shift: np.ndarray,
            piece: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per note of the piece, the segment that owns it (-1: none), and the segments' data.

    A segment is a stretch of consecutive runs found on one diagonal (piece, offset,
    transposition); a note goes to the longest segment covering it (then verbatim, smaller
    interval, earlier piece, earlier place).
    """
    diag = at - runs
    order = np.lexsort((runs, diag, shift, piece))
    runs, diag, shift, piece = runs[order], diag[order], shift[order], piece[order]
    new = np.ones(len(runs), bool)
    new[1:] = ((piece[1:] != piece[:-1]) | (shift[1:] != shift[:-1]) | (diag[1:] != diag[:-1])
               | (runs[1:] != runs[:-1] + 1))
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(runs)) - 1
    a, e = runs[first], runs[last] + n  # each segment's notes: [a, e)
    seg = {"diag": diag[first], "shift": shift[first], "piece": piece[first]}
    length_ = e - a
    # rank: the better segment first; then keep per start only the best, and drop any segment
    # inside an earlier-starting one (it is shorter, so it never owns a note)
    rank_order = np.lexsort((seg["diag"], seg["piece"], np.abs(seg["shift"]), seg["shift"] != 0,
                             -length_))
    rank = np.empty(len(a), np.int64)
    rank[rank_order] = np.arange(len(a))
    by_start = np.lexsort((rank, a))
    best = by_start[np.concatenate(([True], a[by_start][1:] != a[by_start][:-1]))]
    reach = np.maximum.accumulate(e[best])
    best = best[np.concatenate(([True], e[best][1:] > reach[:-1]))]
    # now starts and ends both increase: the segments covering note x are a range of ``best``
    x = np.arange(length)
    lo = np.searchsorted(e[best], x, "right")
    hi = np.searchsorted(a[best], x, "right") - 1
    covered = lo <= hi
    owner = np.full(length, -1, np.int64)
    if covered.any():
        table = _RangeMin(rank[best])
        owner[covered] = rank_order[table.min(lo[covered], hi[covered])]
    return owner, seg


class _RangeMin:
    """Minimum of ``values[lo..hi]`` for many ranges at once (a sparse table)."""

    def __init__(self, values: np.ndarray) -> None:
        self.levels = [values]  # level k: the minimum of each 2**k values from there
        while (1 << len(self.levels)) <= len(values):
            prev, half = self.levels[-1], 1 << (len(self.levels) - 1)
            self.levels.append(np.minimum(prev[:-half], prev[half:]))

    def min(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        k = np.floor(np.log2(hi - lo + 1)).astype(np.int64)
        out = np.empty(len(lo), np.int64)
        for level in np.unique(k):
            sel = k == level
            table = self.levels[level]
            out[sel] = np.minimum(table[lo[sel]], table[hi[sel] - (1 << level) + 1])
        return out


def copied_note_labels(piece: Piece, passages: list[Passage]) -> list[str]:
    """Per note of ``piece`` (its ``notes`` order): the label of the passage that holds it, or
    ``""`` (notes of instruments the index leaves out are never copied)."""
    labels = [""] * piece.n_notes
    for p in passages:
        text = p.label()
        for i in p.note_indices.tolist():
            labels[i] = text
    return labels
