"""Corpora: the music a model learns from, as a list of :class:`~core.piece.Piece`.

A source is a built-in corpus name (see :data:`BUILTIN`), a folder (searched recursively for
``.mid``/``.midi``/``.kar``), a MIDI or ``.zip`` path, a list of such paths, or a list of
``(filename, bytes)`` uploads. Files are parsed in sandboxed worker processes
(:mod:`~core.corpus.sandbox`), one bad file never aborts the corpus (it is listed in
``CorpusResult.skipped`` with a reason), a file read past damage other tools read past (RMID
wrapping, stray data bytes, an undecodable key signature) is listed in ``CorpusResult.repaired``
with what was repaired, and parsed results are cached on disk by content hash
(:mod:`~core.corpus.store`), so a second load is instant.

Also owns uploaded files kept for the app (``uploads``).

May import: the basics at the top of ``core`` (``piece``, ``atomic``, ``paths``, ``notes``,
``settings``) and nothing else.

    >>> result = load("bach-chorales", max_pieces=20)
    >>> result.summary()
    '20 of 20 files used'
    >>> train, val = split(result.pieces, val_share=0.1, seed=0)
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from core.corpus import builtin, files, jsb, sandbox, store
from core.corpus.files import Limits
from core.paths import SHARED_DATA
from core.piece import PITCH, Piece

__all__ = ["BUILTIN", "CorpusResult", "Limits", "list_builtin", "load", "load_groove",
           "load_uploads", "split", "test_split", "benchmark_sources"]

#: Built-in corpus name -> one-line description.
BUILTIN: dict[str, str] = {name: b.description for name, b in builtin.CATALOG.items()}
KINDS = ("melodic", "drums", "all")
_NOTHING_LEFT = {"melodic": "no melodic notes (drums only)", "drums": "no drum notes",
                 "all": "no notes"}

#: ``progress(done, total, name)``: ``done`` of ``total`` files handled, ``name`` the latest.
Progress = Callable[[int, int, str], None]


def list_builtin() -> list[dict[str, Any]]:
    """``name``, ``description`` and ``pieces`` (the count a full load gives) per corpus."""
    return [{"name": b.name, "description": b.description, "pieces": b.pieces}
            for b in builtin.CATALOG.values()]


def benchmark_sources() -> list[str]:
    """The benchmark corpora of the shared data folder that are present (``jsb``, ``jsb-16th``)."""
    return [name for name, resolution in (("jsb", "quarter"), ("jsb-16th", "16th"))
            if jsb.default_path(resolution).is_file()]


@dataclass
class CorpusResult:
    """The usable pieces of a source and every file (or tune) that was skipped, with why.

    ``n_files`` counts the files (or tunes) looked at: each became a piece or a skip entry.
    ``repaired``: each used file read past damage, with its pieces' ``meta["repairs"]``.
    """

    name: str
    pieces: list[Piece]
    n_files: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unit: str = "files"
    repaired: list[tuple[str, list[str]]] = field(default_factory=list)

    def summary(self) -> str:
        """``"371 of 371 files used"``."""
        return f"{len(self.pieces)} of {self.n_files} {self.unit} used"

    def stats(self) -> dict[str, Any]:
        """Counts and ranges: durations in beats and seconds, pitches as MIDI numbers."""
        pitches = np.concatenate([p.notes[:, PITCH] for p in self.pieces]) if self.pieces else []
        return {
            "pieces": len(self.pieces),
            "notes": sum(p.n_notes for p in self.pieces),
            "duration_beats": round(sum(p.duration_beats for p in self.pieces), 3),
            "duration_seconds": round(sum(p.duration_seconds for p in self.pieces), 3),
            "pitch_min": int(np.min(pitches)) if len(pitches) else None,
            "pitch_max": int(np.max(pitches)) if len(pitches) else None,
            "files": self.n_files,
            "used": len(self.pieces),
            "skipped": len(self.skipped),
            "repaired": len(self.repaired),
        }


def load(source: Any, *, max_pieces: int | None = None, kind: str = "melodic",
         progress: Progress | None = None, use_cache: bool = True,
         limits: Limits | None = None) -> CorpusResult:
    """The pieces of ``source``, keeping only ``kind`` tracks (``melodic``, ``drums``, ``all``).

    ``source`` may also be ``"groove"`` or ``"groove:PATH"``: the Groove MIDI Dataset's train
    split (:func:`load_groove`, drums whatever ``kind`` says).
    ``"jsb"``, ``"jsb-16th"`` or ``"jsb:PATH"``: the JSB Chorales benchmark (:mod:`core.corpus.jsb`),
    every piece with its given train / valid / test split (``max_pieces``: the first N of each).
    ``max_pieces`` keeps the first N files (tunes, for the ABC corpora) in sorted order.
    ``limits`` bounds user files (size, notes, zip contents, parse time and memory).
    Raises ``ValueError`` for an unknown source or one with no usable piece.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if max_pieces is not None and max_pieces < 1:
        raise ValueError(f"max_pieces must be at least 1, got {max_pieces}")
    if isinstance(source, str) and source in BUILTIN:
        return _load_builtin(source, max_pieces, kind, progress, use_cache)
    if isinstance(source, str) and (source == "groove" or source.startswith("groove:")):
        # the Groove MIDI Dataset's train-split beats: "groove" (shared data) or "groove:PATH"
        root = source.partition(":")[2] or SHARED_DATA / "groove"
        return load_groove(root, "train", max_pieces, beat_type="beat", progress=progress,
                           use_cache=use_cache)
    if isinstance(source, str) and (source in ("jsb", "jsb-16th") or source.startswith("jsb:")):
        pieces, total = jsb.load_jsb(source, max_pieces)
        pieces, skipped = _select(pieces, kind, [])
        result = _result(source, pieces, skipped, "chorales")
        result.n_files = total if max_pieces is None else result.n_files
        return result
    limits = limits or Limits()
    sources = _user_sources(source)
    candidates = files.gather(sources, limits)
    return _load_candidates(_describe(sources), candidates, max_pieces, kind, progress,
                            use_cache, limits)


def load_uploads(files: list[tuple[str, bytes]], **kw: Any) -> CorpusResult:
    """:func:`load` for browser uploads: ``(filename, bytes)`` pairs (MIDI or zip)."""
    return load(list(files), **kw)


def read_midi(midi: bytes | str | Path, name: str | None = None,
              limits: Limits | None = None) -> Piece:
    """One user MIDI file (bytes or a path) as a Piece, all tracks, read the way every user file
    is: size and note limits, parsed in a sandboxed worker under a memory cap and a timeout.

    Every path that reads MIDI a person supplied (corpus uploads, the Generate page's primer,
    ``generate --primer-midi``, ``render FILE``) comes through here or :func:`load`. Raises
    ``ValueError`` with the reason when the file cannot be used; what was repaired to read it
    is in the piece's ``meta["repairs"]``.
    """
    limits = limits or Limits()
    label = name or (Path(midi).name if not isinstance(midi, bytes) else "the MIDI file")
    if not isinstance(midi, bytes):
        try:
            size = Path(midi).stat().st_size
            if size > limits.max_file_bytes:  # refused before a byte is read
                raise ValueError(f"{label} is {files.too_large(size, limits.max_file_bytes)}")
            midi = Path(midi).read_bytes()
        except OSError as e:
            raise ValueError(f"cannot read {label}: {e.strerror or e}") from None
    candidate = files.check(label, midi, limits)
    if candidate.reason is not None:
        raise ValueError(f"{label} is not a readable MIDI file ({candidate.reason})")
    (pieces, skipped), = _parse_files([candidate], None, False, limits)
    if not pieces:
        why = "; ".join(reason for _, reason in skipped) or "no notes"
        raise ValueError(f"{label} is not a readable MIDI file ({why})")
    piece = pieces[0]
    piece.name = Path(label).stem
    return piece


def split(pieces: Sequence[Piece], val_share: float, seed: int) -> tuple[list[Piece], list[Piece]]:
    """``(train, validation)``: whole pieces, never a piece cut in two.

    A corpus that comes with its own split (every piece has ``meta["given_split"]``, as JSB
    does) keeps it: its ``train`` and ``valid`` pieces, whatever ``val_share`` says (its
    ``test`` pieces: :func:`test_split`).

    Which side a piece lands on depends only on its name and ``seed`` (not on list order),
    so pieces with the same name always land together. ``round(len * val_share)`` pieces go to
    validation (at least one when ``val_share > 0`` and there are two pieces or more); both
    lists keep the input order.
    """
    if pieces and all("given_split" in p.meta for p in pieces):
        return ([p for p in pieces if p.meta["given_split"] == "train"],
                [p for p in pieces if p.meta["given_split"] == "valid"])
    if not 0 <= val_share < 1:
        raise ValueError(f"val_share must be in [0, 1), got {val_share}")
    n_val = round(len(pieces) * val_share)
    if val_share > 0 and len(pieces) >= 2:
        n_val = min(max(n_val, 1), len(pieces) - 1)
    rank = sorted(range(len(pieces)), key=lambda i: (_split_hash(pieces[i].name, seed), i))
    chosen = set(rank[:n_val])
    train = [p for i, p in enumerate(pieces) if i not in chosen]
    val = [p for i, p in enumerate(pieces) if i in chosen]
    return train, val


def test_split(pieces: Sequence[Piece]) -> list[Piece]:
    """The given ``test`` pieces of a corpus that has its own split (JSB); ``ValueError`` for a
    corpus without one (its held-out pieces are :func:`split`'s validation side)."""
    test = [p for p in pieces if p.meta.get("given_split") == "test"]
    if not test:
        raise ValueError("this corpus has no test split (only corpora that come with one, such "
                         "as jsb, do); use the validation split")
    return test


def load_groove(root: str | Path = SHARED_DATA / "groove", split: str = "train",
                max_pieces: int | None = None, *, beat_type: str | None = None,
                progress: Progress | None = None, use_cache: bool = True,
                limits: Limits | None = None) -> CorpusResult:
    """Drum pieces of the Groove MIDI Dataset listed in ``root/info.csv`` for ``split``.

    ``split`` is ``train``, ``validation``, ``test`` or ``all``; ``beat_type`` keeps only
    ``"beat"`` (grooves) or ``"fill"`` (one-bar fills) rows when given. Each piece is named by its
    ``midi_filename`` and its meta carries the row's drummer, style, bpm, beat_type,
    time_signature and split. The other arguments are as for :func:`load`.
    """
    info = Path(root) / "info.csv"
    if not info.is_file():
        raise ValueError(f"Groove MIDI Dataset not found: no {info}")
    with open(info, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if (split == "all" or r["split"] == split)
                and (beat_type is None or r["beat_type"] == beat_type)]
    if not rows:
        raise ValueError(f"no Groove MIDI rows for split {split!r}")
    limits = limits or Limits()
    candidates = [files.read_file(Path(root) / r["midi_filename"], r["midi_filename"], limits)
                  for r in rows]
    result = _load_candidates(f"groove-{split}", candidates, max_pieces, "drums", progress,
                              use_cache, limits)
    by_file = {r["midi_filename"]: r for r in rows}
    for piece in result.pieces:
        row = by_file[piece.name]
        piece.meta.update({k: row[k] for k in ("drummer", "style", "beat_type", "time_signature",
                                              "split")}, bpm=float(row["bpm"]))
    return result


# --- built-in corpora ---------------------------------------------------------------------
def is_cached(source: Any, max_pieces: int | None = None, kind: str = "melodic") -> bool:
    """Whether :func:`load` of a built-in corpus would read the disk cache rather than parse
    (parsing a whole corpus takes minutes); other sources count as cached."""
    if not (isinstance(source, str) and source in BUILTIN):
        return True
    return store.has_cache(builtin.cache_key(source, max_pieces, kind)) or (
        max_pieces is not None and builtin.cached_subset(source, max_pieces, kind) is not None)


def prebuild(name: str, *, fresh: bool = True, progress: Progress | None = None) -> Path:
    """Parse the whole built-in corpus ``name`` and store it as a shipped entry
    (``store.write_prebuilt``), so every first load of it is quick. ``fresh=False`` takes
    the cached entry when there is one (this machine's, else the shipped one: the same parse,
    made earlier)."""
    if name not in BUILTIN:
        raise ValueError(f"unknown built-in corpus {name!r}; choose one of {', '.join(BUILTIN)}")
    key = builtin.cache_key(name, None, "melodic")
    cached = None if fresh else store.read_cache(key)
    if cached is None:
        result = _load_builtin(name, None, "melodic", progress, use_cache=False)
        cached = result.pieces, result.skipped
    return store.write_prebuilt(key, *cached)


def _load_builtin(name: str, max_pieces: int | None, kind: str, progress: Progress | None,
                  use_cache: bool) -> CorpusResult:
    key = builtin.cache_key(name, max_pieces, kind)
    cached = store.read_cache(key) if use_cache else None
    if cached is None and use_cache and max_pieces is not None:
        cached = builtin.cached_subset(name, max_pieces, kind)
    if cached is not None:
        pieces, skipped = cached
        if progress:
            progress(1, 1, name)
    else:
        jobs = builtin.jobs(name, max_pieces)
        results = _run(jobs, builtin.BUILTIN_MEMORY_BYTES, progress)
        pieces = [p for r in results for p in r.pieces][:max_pieces]
        pieces, skipped = _select(pieces, kind, [s for r in results for s in r.skipped])
        if use_cache and pieces and all(r.settled for r in results):
            store.write_cache(key, pieces, skipped)
    return _result(name, pieces, skipped, builtin.CATALOG[name].unit)


# --- user files ---------------------------------------------------------------------------
def _user_sources(source: Any) -> list[Any]:
    """``source`` as a list of paths and ``(filename, bytes)`` pairs, checked to exist."""
    items = [source] if isinstance(source, (str, os.PathLike, tuple)) else list(source)
    if not items:
        raise ValueError("no files given")
    for item in items:
        if not isinstance(item, tuple) and not Path(item).exists():
            raise ValueError(f"unknown corpus {str(item)!r}: not an existing file or folder, "
                             f"nor a built-in corpus ({', '.join(BUILTIN)})")
    return items


def _describe(sources: list[Any]) -> str:
    """A short corpus name: the single file or folder's name, else ``uploads`` / ``N files``."""
    if len(sources) == 1:
        item = sources[0]
        return str(item[0]) if isinstance(item, tuple) else Path(item).name
    return "uploads" if all(isinstance(s, tuple) for s in sources) else f"{len(sources)} files"


def _load_candidates(name: str, candidates: list[files.Candidate], max_pieces: int | None,
                     kind: str, progress: Progress | None, use_cache: bool,
                     limits: Limits) -> CorpusResult:
    """The pieces of the first ``max_pieces`` readable candidates; the rest as skip entries."""
    readable = [i for i, c in enumerate(candidates) if c.reason is None][:max_pieces]
    parsed = dict(zip(readable, _parse_files([candidates[i] for i in readable], progress,
                                             use_cache, limits)))
    pieces, skipped = [], []
    for i, c in enumerate(candidates):
        if c.reason is not None:
            skipped.append((c.name, c.reason))
        elif i in parsed:
            got, why = parsed[i]
            pieces += got
            skipped += why
    pieces, skipped = _select(pieces, kind, skipped)
    return _result(name, pieces, skipped, "files")


def _parse_files(readable: list[files.Candidate], progress: Progress | None, use_cache: bool,
                 limits: Limits) -> list[sandbox.Outcome]:
    """``(pieces, skipped)`` per file, in order: from the per-file cache, else parsed."""
    digests = [hashlib.sha256(c.data).hexdigest() for c in readable]
    keys = [store.cache_key("midi", files.READER_VERSION, d, limits.max_notes) for d in digests]
    outcomes: dict[int, sandbox.Outcome] = {}
    for i, key in enumerate(keys):
        hit = store.read_cache(key) if use_cache else None
        if hit is not None:
            outcomes[i] = hit
            if progress:
                progress(len(outcomes), len(readable), readable[i].name)
    todo = [i for i in range(len(readable)) if i not in outcomes]
    jobs = [sandbox.Job(readable[i].name, files.parse_midi, (readable[i].data, limits.max_notes),
                        limits.timeout_s, cost=len(readable[i].data)) for i in todo]
    for r in _run(jobs, limits.memory_bytes, progress, done=len(outcomes), total=len(readable)):
        outcomes[todo[r.index]] = (r.pieces, r.skipped)
        if use_cache and r.settled:
            store.write_cache(keys[todo[r.index]], r.pieces, r.skipped)
    return [([_named(p, c.name, digest) for p in outcomes[i][0]],
             [(c.name, reason) for _, reason in outcomes[i][1]])
            for i, (c, digest) in enumerate(zip(readable, digests))]


def _named(piece: Piece, name: str, digest: str) -> Piece:
    """``piece`` renamed after the file it came from (cached pieces are stored unnamed)."""
    piece.name = name
    piece.meta.update(file=name, sha256=digest)
    return piece


# --- shared -------------------------------------------------------------------------------
def _run(jobs: list[sandbox.Job], memory_bytes: int, progress: Progress | None, done: int = 0,
         total: int | None = None) -> list[sandbox.Result]:
    """Every job's result, in job order, reporting progress as each finishes."""
    total = len(jobs) if total is None else total
    results: list[sandbox.Result | None] = [None] * len(jobs)
    if jobs:
        for result in sandbox.run_jobs(jobs, memory_bytes=memory_bytes):
            results[result.index] = result
            done += 1
            if progress:
                progress(done, total, jobs[result.index].label)
    return results  # type: ignore[return-value]


def _select(pieces: Iterable[Piece], kind: str,
            skipped: list[tuple[str, str]]) -> tuple[list[Piece], list[tuple[str, str]]]:
    """Keep each piece's ``kind`` tracks; a piece left without notes becomes a skip entry."""
    kept, skipped = [], list(skipped)
    for piece in pieces:
        chosen = piece.select(kind)
        if chosen.n_notes:
            kept.append(chosen)
        else:
            skipped.append((piece.name, _NOTHING_LEFT[kind]))
    return kept, skipped


def _result(name: str, pieces: list[Piece], skipped: list[tuple[str, str]],
            unit: str) -> CorpusResult:
    if not pieces:
        shown = "; ".join(f"{f}: {r}" for f, r in skipped[:5]) or "nothing to read"
        more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
        raise ValueError(f"no usable pieces in {name}: {shown}{more}")
    repaired = [(p.name, list(p.meta["repairs"])) for p in pieces if p.meta.get("repairs")]
    return CorpusResult(name, pieces, len(pieces) + len(skipped), skipped, unit, repaired)


def _split_hash(name: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}\0{name}".encode("utf-8")).hexdigest()

