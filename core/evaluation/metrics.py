"""Numbers that describe a generated piece and how it relates to the corpus a model learned from.

- **Copying**: :class:`CorpusIndex` hashes every run of ``n`` consecutive onsets of the training
  pieces once; :meth:`CorpusIndex.copy_stats` then says which share of a new piece's ``n``-onset
  runs occur verbatim in the corpus, and how long the longest copied stretch is.
- **Looping**: :func:`loop_rate` (share of a sequence inside a repeating cycle) and
  :func:`find_cycle` (the cycle a sequence ends in, for the anti-loop sampler).
- **Pitch and time**: distinct pitches, pitch-class histogram and entropy (bits), their distance
  to the corpus's, and the share of the piece during which nothing sounds.
- **Likelihood**: nats per note (:func:`nll_per_note`); the n-gram baseline is
  ``core.evaluation.ngram``, a model's held-out NLL ``core.evaluation.likelihood.heldout_nll``.

:func:`piece_metrics` gathers the piece-level numbers into one JSON-ready dict.

An *onset event* is the set of pitches that start together (onsets are rounded to 1/12 beat, so
16ths and triplets both land on the grid). Tracks are merged, so a four-voice chorale and a
one-track decoding of it give the same events; drum notes are kept apart from pitched notes of
the same MIDI number. Transposition is **not** normalized: a transposed copy is not a copy.
"""

from __future__ import annotations


from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from core.piece import END, PITCH, START, Piece

#: A token sequence: int ids, as a list or a 1-D array.
Tokens = Sequence[int] | np.ndarray

#: Onset grid, in steps per beat, on which notes count as starting together.
ONSET_STEPS_PER_BEAT = 12
#: Grid, in steps per beat (16ths), on which :func:`empty_time_share` looks for silence.
EMPTY_STEPS_PER_BEAT = 4
#: Probability floor so that a model's zero probability costs a finite number of nats.
_MIN_PROB = 1e-12

# One fixed random 64-bit code per pitch (0-127) and per drum key (128-255): the hash of a
# pitch set is the sum of its codes, so it does not depend on note order or track.
_PITCH_CODES = np.random.default_rng(20240501).integers(0, 2**63, size=256, dtype=np.uint64) * 2 + 1


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer: scrambles each uint64 so that nearby inputs hash far apart."""
    x = np.asarray(x, dtype=np.uint64)
    x = (x ^ (x >> 30)) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> 27)) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> 31)


# --- onset events ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Onsets:
    """A piece as onset events, in time order (all arrays have one entry per event)."""

    ticks: np.ndarray      # int64, onset in 1/ONSET_STEPS_PER_BEAT beats
    pitch_sets: np.ndarray  # uint64, hash of the set of pitches starting there
    n_notes: np.ndarray    # int64, notes starting there (unisons on two tracks count twice)
    ends: np.ndarray       # float64, latest end (beats) of those notes

    def __len__(self) -> int:
        return len(self.ticks)

    def steps(self) -> np.ndarray:
        """One uint64 per event: its pitch set and its distance from the previous onset."""
        gaps = np.diff(self.ticks, prepend=self.ticks[:1])
        return self.pitch_sets ^ _mix(gaps)


def _onsets(piece: Piece, instruments: str = "all") -> _Onsets:
    """Group a piece's notes (of ``"all"``, ``"melodic"`` or ``"drums"`` tracks) by onset."""
    piece = piece.select(instruments)
    notes = piece.notes
    if not len(notes):
        empty = np.zeros(0, np.int64)
        return _Onsets(empty, empty.astype(np.uint64), empty, empty.astype(np.float64))
    codes = notes[:, PITCH].astype(np.int64) + 128 * piece.drum_mask()
    ticks = np.rint(notes[:, START] * ONSET_STEPS_PER_BEAT).astype(np.int64)
    # Notes are sorted by start, so equal ticks are adjacent.
    first = np.flatnonzero(np.diff(ticks, prepend=ticks[0] - 1))
    # Distinct (tick, pitch) pairs, so a unison on two tracks enters the pitch set once.
    pairs = np.unique(ticks * 256 + codes)
    pair_first = np.flatnonzero(np.diff(pairs >> 8, prepend=(pairs[0] >> 8) - 1))
    return _Onsets(ticks=ticks[first],
                   pitch_sets=np.add.reduceat(_PITCH_CODES[pairs & 255], pair_first),
                   n_notes=np.diff(first, append=len(ticks)),
                   ends=np.maximum.reduceat(notes[:, END], first))


def _notes(piece: Piece, instruments: str = "all") -> _Onsets:
    """A piece as single-note events in (onset, pitch) order; notes at one onset have gap 0."""
    piece = piece.select(instruments)
    notes = piece.notes
    if not len(notes):
        return _onsets(piece, instruments)
    codes = notes[:, PITCH].astype(np.int64) + 128 * piece.drum_mask()
    ticks = np.rint(notes[:, START] * ONSET_STEPS_PER_BEAT).astype(np.int64)
    # Distinct (tick, pitch) pairs in order, so a unison on two tracks is one note.
    keys, first = np.unique(ticks * 256 + codes, return_index=True)
    return _Onsets(ticks=keys >> 8, pitch_sets=_PITCH_CODES[keys & 255],
                   n_notes=np.ones(len(keys), np.int64), ends=notes[first, END])


_EVENTS = {"note": _notes, "onset": _onsets}


def _ngram_hashes(onsets: _Onsets, n: int) -> np.ndarray:
    """One uint64 per run of ``n`` consecutive onsets: their pitch sets and the ``n-1`` gaps."""
    count = len(onsets) - n + 1
    if count <= 0:
        return np.zeros(0, np.uint64)
    steps = onsets.steps()
    h = onsets.pitch_sets[:count]  # the first onset of a run: its gap lies outside the run
    for j in range(1, n):
        h = _mix(h ^ steps[j:j + count])
    return h


def _covered(length: int, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Boolean mask of ``length`` elements: True inside any of the intervals ``[start, stop)``."""
    depth = np.zeros(length + 1, np.int64)
    np.add.at(depth, starts, 1)
    np.add.at(depth, stops, -1)
    return np.cumsum(depth[:-1]) > 0


def _true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start indices and lengths of the runs of consecutive ``True`` in a boolean array."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    return starts, np.flatnonzero(edges == -1) - starts


# --- copying -----------------------------------------------------------------------------
class CorpusIndex:
    """The set of ``n``-event runs in a corpus, built once and queried for every checkpoint.

    ``unit="note"`` (the default): runs of ``n`` consecutive notes in (onset, pitch) order, each
    note its pitch and its distance from the previous note, so in a four-voice chorale 8 notes
    span about two chords. ``unit="onset"``: runs of ``n`` onset events (the whole set of
    pitches starting together), a far stricter test for polyphony.

    Index the pieces as the model saw them: pass the tokenizer's ``instrument_kind`` as
    ``instruments`` so that, say, the drums of a pop corpus do not hide a copied melody.
    """

    def __init__(self, pieces: Iterable[Piece], n: int = 8, instruments: str = "all",
                 unit: str = "note") -> None:
        if n < 1:
            raise ValueError(f"n-gram length must be at least 1, got {n}")
        if unit not in _EVENTS:
            raise ValueError(f"unit must be one of {', '.join(_EVENTS)}, not {unit!r}")
        self.n, self.instruments, self.unit = n, instruments, unit
        self._events = _EVENTS[unit]
        hashes = [_ngram_hashes(self._events(p, instruments), n) for p in pieces]
        self._hashes = np.unique(np.concatenate(hashes)) if hashes else np.zeros(0, np.uint64)

    def __len__(self) -> int:
        """Number of distinct ``n``-onset runs in the corpus."""
        return len(self._hashes)

    def __repr__(self) -> str:
        return (f"CorpusIndex(n={self.n}, unit={self.unit!r}, instruments={self.instruments!r}, "
                f"n_grams={len(self)})")

    def _contains(self, hashes: np.ndarray) -> np.ndarray:
        if not len(self._hashes):
            return np.zeros(len(hashes), bool)
        at = np.minimum(np.searchsorted(self._hashes, hashes), len(self._hashes) - 1)
        return self._hashes[at] == hashes

    def copy_stats(self, piece: Piece) -> dict[str, Any]:
        """How much of ``piece`` occurs verbatim in the corpus.

        Returns ``copy_rate`` (share of the piece's ``n``-event runs found in the corpus; 0.0
        when the piece has fewer than ``n`` events), ``n_grams`` (how many runs were checked),
        and the longest stretch of consecutive events that all lie inside found runs, as
        ``longest_copy_onsets``, ``longest_copy_notes`` and ``longest_copy_seconds`` (from its
        first onset to the end of the longest note of its last onset, at the piece's tempo).
        Each longest value is the maximum over stretches on its own. Overlapping found runs
        chain into one stretch even when they come from different places of the corpus.
        """
        onsets = self._events(piece, self.instruments)
        found = self._contains(_ngram_hashes(onsets, self.n))
        # An onset is copied when some found run covers it.
        found_at = np.flatnonzero(found)
        starts, lengths = _true_runs(_covered(len(onsets), found_at, found_at + self.n))
        notes_before = np.concatenate(([0], np.cumsum(onsets.n_notes)))
        notes = notes_before[starts + lengths] - notes_before[starts]
        new_onset = np.cumsum(np.diff(onsets.ticks, prepend=-1) != 0)
        onset_counts = new_onset[starts + lengths - 1] - new_onset[starts] + 1
        beats = onsets.ends[starts + lengths - 1] - onsets.ticks[starts] / ONSET_STEPS_PER_BEAT
        return {"copy_rate": float(found.mean()) if len(found) else 0.0,
                "n_grams": int(len(found)),
                "longest_copy_onsets": int(onset_counts.max(initial=0)),
                "longest_copy_notes": int(notes.max(initial=0)),
                "longest_copy_seconds": float(beats.max(initial=0.0) * piece.seconds_per_beat)}


# --- looping -----------------------------------------------------------------------------
def _as_keys(seq: Piece | Tokens) -> np.ndarray:
    """Comparable keys: token ids as given, or one key per onset event of a piece."""
    return _onsets(seq).steps() if isinstance(seq, Piece) else np.asarray(seq).ravel()


def loop_rate(seq: Piece | Tokens, min_repeats: int = 3, max_period: int = 32,
              min_span: int = 8) -> float:
    """Share (0-1) of a token sequence, or of a piece's onset events, that lies inside a loop.

    A loop is a stretch of at least ``min_span`` elements made of one block of 1 to
    ``max_period`` elements played at least ``min_repeats`` times back to back (3 = the block
    and two full repetitions of it); a trailing partial block belongs to the loop. An onset
    event of a piece repeats when its pitch set and its distance from the previous onset do.
    """
    keys = _as_keys(seq)
    if not len(keys):
        return 0.0
    starts, stops = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for period in range(1, min(max_period, len(keys) - 1) + 1):
        # A run of matches with the element one period back makes keys[run:run+span] periodic.
        runs, lengths = _true_runs(keys[period:] == keys[:-period])
        span = lengths + period
        keep = (span >= min_repeats * period) & (span >= min_span)
        starts.append(runs[keep])
        stops.append(runs[keep] + span[keep])
    return float(np.mean(_covered(len(keys), np.concatenate(starts), np.concatenate(stops))))


def find_cycle(tokens: Tokens, min_repeats: int = 2,
               max_period: int = 32) -> tuple[int, int] | None:
    """The cycle the sequence ends in, as ``(period, repeats)``, or ``None``.

    ``repeats`` counts the full copies of the last ``period`` tokens that end the sequence back
    to back (a partial copy before them is allowed and not counted). Among periods 1 to
    ``max_period`` with at least ``min_repeats`` copies, the one whose periodic tail is longest
    wins, and on a tie the shortest period. Costs O(max_period * len(tokens)): when calling it
    at every sampling step, pass only the tail, e.g. the last ``4 * max_period`` tokens.
    """
    rev = np.asarray(tokens).ravel()[::-1]
    n = len(rev)
    periods = np.arange(1, min(max_period, n - 1) + 1)
    if not len(periods):
        return None
    # same[p-1, j]: the token j places before the end equals the one p places before it
    # (row p-1 of `ahead` is rev[p:] followed by rev[:p], whose wrapped part is masked out).
    ahead = np.lib.stride_tricks.sliding_window_view(np.concatenate([rev, rev]), n)
    same = (ahead[1:len(periods) + 1] == rev) & (np.arange(n) < n - periods[:, None])
    tail = same.argmin(axis=1) + periods  # length of the periodic tail; a False always exists
    repeats = tail // periods
    score = np.where(repeats >= min_repeats, tail, -1)
    best = int(score.argmax())  # argmax takes the first, i.e. shortest, period on a tie
    return (best + 1, int(repeats[best])) if score[best] >= 0 else None


# --- pitch and time ----------------------------------------------------------------------
def distinct_pitches(piece: Piece) -> int:
    """Number of different pitches played; a drum key counts apart from the same pitch number."""
    return int(len(np.unique(piece.notes[:, PITCH] + 128 * piece.drum_mask())))


def pitch_class_histogram(pieces: Piece | Iterable[Piece]) -> np.ndarray:
    """Share of pitched notes on each pitch class C..B, shape ``(12,)``; all zeros if none.

    Notes are counted, not weighted by duration; drum tracks are left out.
    """
    counts = np.zeros(12)
    for piece in [pieces] if isinstance(pieces, Piece) else pieces:
        pitched = piece.notes[~piece.drum_mask(), PITCH].astype(np.int64)
        counts += np.bincount(pitched % 12, minlength=12)
    total = counts.sum()
    return counts / total if total else counts


def entropy_bits(hist: np.ndarray) -> float:
    """Shannon entropy (bits) of a histogram, normalized first; 0.0 for an all-zero one."""
    p = np.asarray(hist, dtype=np.float64)
    p = p[p > 0] / p.sum() if p.sum() else p[:0]
    return float(-(p * np.log2(p)).sum())


def pitch_class_entropy(piece: Piece) -> float:
    """Entropy (bits, 0 to log2(12)) of the piece's pitch-class histogram."""
    return entropy_bits(pitch_class_histogram(piece))


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (bits, 0 = same, 1 = disjoint) of two non-zero histograms."""
    p = np.asarray(p, dtype=np.float64) / np.sum(p)
    q = np.asarray(q, dtype=np.float64) / np.sum(q)
    return max(0.0, entropy_bits((p + q) / 2) - (entropy_bits(p) + entropy_bits(q)) / 2)


def empty_time_share(piece: Piece) -> float:
    """Share (0-1) of 16th steps from beat 0 to the piece's end in which no note sounds.

    A step counts as sounding when any note (drums included) overlaps it. A piece without
    notes is all silence: 1.0.
    """
    if not piece.n_notes:
        return 1.0
    eps = 1e-9  # onsets and ends that sit on the grid up to float error
    first = np.floor(piece.notes[:, START] * EMPTY_STEPS_PER_BEAT + eps).astype(np.int64)
    stop = np.ceil(piece.notes[:, END] * EMPTY_STEPS_PER_BEAT - eps).astype(np.int64)
    stop = np.maximum(stop, first + 1)
    return 1.0 - float(np.mean(_covered(int(stop.max()), first, stop)))


# --- likelihood --------------------------------------------------------------------------
def nll_per_note(nats_per_token: float, seqs: Iterable[Tokens], n_notes: int) -> float:
    """Turn nats per token on ``seqs`` into nats per note: total nats over ``n_notes`` notes.

    The total counts the tokens that ``heldout_nll`` and :meth:`NGramModel.nll` score (every
    token but each sequence's first).
    """
    if n_notes < 1:
        raise ValueError(f"need at least one note, got {n_notes}")
    scored = sum(max(len(np.asarray(s).ravel()) - 1, 0) for s in seqs)
    return float(nats_per_token * scored / n_notes)


# --- everything for one piece --------------------------------------------------------------
def piece_metrics(piece: Piece, index: CorpusIndex | None = None,
                  corpus_pc_hist: np.ndarray | None = None) -> dict[str, Any]:
    """All piece-level numbers as a JSON-ready dict (plain ints, floats and ``None``).

    With ``index`` it adds :meth:`CorpusIndex.copy_stats` (and ``copy_n``, the run length);
    with ``corpus_pc_hist`` (from :func:`pitch_class_histogram` of the corpus) it adds the
    corpus entropy and the distances to it, ``None`` when the piece has no pitched notes.
    """
    pc_hist = pitch_class_histogram(piece)
    out: dict[str, Any] = {
        "n_notes": piece.n_notes,
        "n_onsets": len(_onsets(piece)),
        "duration_beats": piece.duration_beats,
        "duration_seconds": piece.duration_seconds,
        "distinct_pitches": distinct_pitches(piece),
        "pitch_class_entropy_bits": entropy_bits(pc_hist),
        "empty_time_share": empty_time_share(piece),
        "loop_rate": loop_rate(piece),
    }
    if index is not None:
        out.update(index.copy_stats(piece), copy_n=index.n)
    if corpus_pc_hist is not None:
        out.update(_corpus_comparison(pc_hist, np.asarray(corpus_pc_hist, dtype=np.float64)))
    return out


def _corpus_comparison(pc_hist: np.ndarray, corpus_hist: np.ndarray) -> dict[str, Any]:
    """Pitch-class entropy of the corpus and distances of the piece's histogram to it."""
    out: dict[str, Any] = {"corpus_pitch_class_entropy_bits": entropy_bits(corpus_hist)}
    if not (pc_hist.sum() and corpus_hist.sum()):
        return out | dict.fromkeys(("pitch_class_entropy_diff_bits", "pitch_class_l1",
                                    "pitch_class_js_bits"))
    corpus_hist = corpus_hist / corpus_hist.sum()
    return out | {
        "pitch_class_entropy_diff_bits": abs(entropy_bits(pc_hist) - entropy_bits(corpus_hist)),
        "pitch_class_l1": float(np.abs(pc_hist - corpus_hist).sum()),
        "pitch_class_js_bits": js_divergence(pc_hist, corpus_hist),
    }
