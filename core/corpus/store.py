"""Pieces as plain arrays and JSON: the on-disk cache and the worker-to-parent wire format.

A batch of pieces is one ``.npz`` holding every note row concatenated (``notes``, float64,
shape ``(N, 5)`` in :mod:`core.piece` column order) plus ``offsets`` (int64, shape ``(P + 1,)``:
piece ``i`` owns rows ``offsets[i]:offsets[i + 1]``), and one JSON document with what is not
an array: names, tracks, tempo, meta and the skipped files. Nothing is pickled; arrays are read
with ``allow_pickle=False``.

The cache lives in ``cache_dir()/corpus/<key>.npz`` and ``<key>.json``. The ``.npz`` is written
first and the ``.json`` last, each atomically, so a reader that finds the JSON finds both.

Whole built-in corpora also ship parsed, as the same entries compressed (``<key>.npz`` and
``<key>.json.gz`` in :data:`PREBUILT_DIR`, made by ``python -m core corpus prebuild`` from a
fresh parse of music21's own files): a first load reads them in a second instead of parsing
for minutes, and a subset is taken from them (``builtin.subset_of_whole``). Their key holds
the music21 version and :data:`CACHE_VERSION`, so another music21 or a parser change makes
them a miss, and the corpus is parsed as before.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from core import atomic
from core.paths import cache_dir
from core.piece import Piece, Track

#: Bump when parsing changes what a cached corpus holds; old cache entries are then ignored.
CACHE_VERSION = 1
#: The shipped, read-only entries of whole built-in corpora.
PREBUILT_DIR = Path(__file__).resolve().parent / "prebuilt"

Skipped = list[tuple[str, str]]


def pack(pieces: list[Piece], skipped: Skipped,
         compress: bool = False) -> tuple[bytes, dict[str, Any]]:
    """``(npz bytes, JSON-ready document)`` for ``pieces`` and the ``(file, reason)`` list."""
    counts = [p.n_notes for p in pieces]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    notes = np.concatenate([p.notes for p in pieces]) if pieces else np.zeros((0, 5))
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, notes=notes.astype(np.float64),
                                                    offsets=offsets)
    doc = {
        "version": CACHE_VERSION,
        "pieces": [{"name": p.name, "tempo": p.tempo, "meta": p.meta,
                    "tracks": [t.to_dict() for t in p.tracks]} for p in pieces],
        "skipped": [list(s) for s in skipped],
    }
    return buf.getvalue(), doc


def unpack(npz: bytes | Path, doc: dict[str, Any]) -> tuple[list[Piece], Skipped]:
    """Inverse of :func:`pack`; ``npz`` is the bytes or a path to them."""
    source = io.BytesIO(npz) if isinstance(npz, bytes) else npz
    with np.load(source, allow_pickle=False) as arrays:
        notes, offsets = arrays["notes"], arrays["offsets"]
    entries = doc["pieces"]
    if len(offsets) != len(entries) + 1 or offsets[-1] != len(notes):
        raise ValueError("corpus arrays do not match their description")
    tracks: dict[tuple, Track] = {}  # tracks are immutable: pieces share equal ones
    pieces = [Piece(e["name"], notes[offsets[i]:offsets[i + 1]],
                    [_track(t, tracks) for t in e["tracks"]], float(e["tempo"]), e["meta"])
              for i, e in enumerate(entries)]
    return pieces, [(str(f), str(r)) for f, r in doc["skipped"]]


def _track(d: dict[str, Any], known: dict[tuple, Track]) -> Track:
    key = tuple(d.items())
    if key not in known:
        known[key] = Track.from_dict(d)
    return known[key]


def cache_key(*parts: Any) -> str:
    """A content hash of ``parts`` (JSON-serialisable) and :data:`CACHE_VERSION`."""
    text = json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _prebuilt_paths(key: str) -> tuple[Path, Path]:
    return PREBUILT_DIR / f"{key}.npz", PREBUILT_DIR / f"{key}.json.gz"


def _paths(key: str) -> tuple[Path, Path]:
    folder = cache_dir() / "corpus"
    return folder / f"{key}.npz", folder / f"{key}.json"


def has_cache(key: str) -> bool:
    return all(p.is_file() for p in _paths(key)) or all(p.is_file() for p in _prebuilt_paths(key))


def read_cache(key: str) -> tuple[list[Piece], Skipped] | None:
    """The pieces and skipped list under ``key`` (this machine's cache, else the shipped
    prebuilt entry), or ``None`` when absent or unreadable."""
    npz_path, json_path = _paths(key)
    found = _read(npz_path, lambda: json_path.read_text("utf-8"))
    if found is None:
        npz_path, json_path = _prebuilt_paths(key)
        found = _read(npz_path, lambda: gzip.decompress(json_path.read_bytes()).decode("utf-8"))
    return found


def _read(npz_path: Path, doc_text) -> tuple[list[Piece], Skipped] | None:
    try:
        doc = json.loads(doc_text())
        if doc.get("version") != CACHE_VERSION:
            return None
        return unpack(npz_path, doc)
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None  # a missing or damaged entry is a cache miss, parsed again


def write_prebuilt(key: str, pieces: list[Piece], skipped: Skipped) -> Path:
    """Store a shipped entry: as :func:`write_cache`, compressed, in :data:`PREBUILT_DIR`."""
    npz, doc = pack(pieces, skipped, compress=True)
    npz_path, json_path = _prebuilt_paths(key)
    atomic.write_bytes(npz_path, npz)
    atomic.write_bytes(json_path, gzip.compress(json.dumps(doc).encode("utf-8"), mtime=0))
    return npz_path


def write_cache(key: str, pieces: list[Piece], skipped: Skipped) -> None:
    """Store ``pieces`` and ``skipped`` under ``key`` (arrays first, then the JSON)."""
    npz, doc = pack(pieces, skipped)
    npz_path, json_path = _paths(key)
    atomic.write_bytes(npz_path, npz)
    atomic.write_text(json_path, json.dumps(doc))
