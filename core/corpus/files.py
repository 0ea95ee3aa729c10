"""User MIDI: gather files from paths, folders, zips and uploads, with limits; parse one file.

Everything here treats its input as hostile. Sizes are checked before bytes are read; a zip is
judged by its directory (member count, declared sizes, compression ratios) before any member
is decompressed, members are read one at a time with a size cap and never written to disk.
:func:`parse_midi` runs inside a :mod:`~core.corpus.sandbox` worker; it reads what common tools
read (:mod:`~core.corpus.smf` repairs RMID wrapping, stray data bytes and undecodable meta
events, and says so).
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Union

from core.corpus import smf
from core.corpus.sandbox import Outcome, Unusable
from core.piece import Piece

MB = 2**20
MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".smf", ".rmi")

#: Largest MIDI file accepted (bytes).
MAX_FILE_BYTES = 5 * MB
#: Most notes one file may hold.
MAX_NOTES = 200_000
#: Most members a zip may hold.
MAX_ZIP_MEMBERS = 2000
#: Largest total uncompressed size of a zip's members, as declared in its directory (bytes).
MAX_ZIP_BYTES = 200 * MB
#: Highest uncompressed / compressed size ratio of one zip member (MIDI rarely beats 20).
MAX_ZIP_RATIO = 100.0
#: Seconds one file may take to parse.
FILE_TIMEOUT_S = 30.0
#: How far a parsing worker may grow its address space (bytes).
WORKER_MEMORY_BYTES = 1024 * MB


@dataclass(frozen=True)
class Limits:
    """The bounds applied to user files; the defaults are this module's constants."""

    max_file_bytes: int = MAX_FILE_BYTES
    max_notes: int = MAX_NOTES
    max_zip_members: int = MAX_ZIP_MEMBERS
    max_zip_bytes: int = MAX_ZIP_BYTES
    max_zip_ratio: float = MAX_ZIP_RATIO
    timeout_s: float = FILE_TIMEOUT_S
    memory_bytes: int = WORKER_MEMORY_BYTES


@dataclass(frozen=True)
class Candidate:
    """One file offered to the corpus: its bytes, or the reason it was refused unread."""

    name: str
    data: bytes | None = None
    reason: str | None = None


Source = Union[str, os.PathLike, tuple[str, bytes]]


def gather(sources: Iterable[Source], limits: Limits) -> list[Candidate]:
    """Every file in ``sources`` (paths, folders, zips, ``(filename, bytes)`` uploads)."""
    found: list[Candidate] = []
    for source in sources:
        if isinstance(source, tuple):
            name, data = source
            found += _from_bytes(str(name), bytes(data), limits)
        else:
            found += _from_path(Path(source), limits)
    return found


def _from_path(path: Path, limits: Limits) -> list[Candidate]:
    if path.is_dir():
        return [read_file(p, str(p.relative_to(path)), limits) for p in _midi_files_under(path)]
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                return _from_zip(zf, str(path), limits)
        except (zipfile.BadZipFile, OSError) as e:
            return [Candidate(str(path), reason=f"not a readable zip file ({e})")]
    return [read_file(path, str(path), limits)]


def _midi_files_under(folder: Path) -> Iterator[Path]:
    """MIDI files below ``folder`` (by suffix), sorted, without following symlinked folders."""
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(MIDI_SUFFIXES):
                yield Path(root) / name


def read_file(path: Path, name: str, limits: Limits) -> Candidate:
    """A file's bytes, checking its size before reading it."""
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            return Candidate(name, reason=too_large(size, limits.max_file_bytes))
        return check(name, path.read_bytes(), limits)
    except OSError as e:
        return Candidate(name, reason=f"cannot read ({e.strerror or e})")


def _from_bytes(name: str, data: bytes, limits: Limits) -> list[Candidate]:
    if name.lower().endswith(".zip"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                return _from_zip(zf, name, limits)
        except zipfile.BadZipFile:
            return [Candidate(name, reason="not a readable zip file")]
    return [check(name, data, limits)]


def _from_zip(zf: zipfile.ZipFile, label: str, limits: Limits) -> list[Candidate]:
    """The members of an open zip, refusing the whole archive if it could be a zip bomb."""
    members = [m for m in zf.infolist() if not m.is_dir()]
    if len(members) > limits.max_zip_members:
        return [Candidate(label, reason=f"too many files in zip ({len(members)} > "
                                        f"{limits.max_zip_members})")]
    declared = sum(m.file_size for m in members)
    if declared > limits.max_zip_bytes:
        return [Candidate(label, reason=f"zip too large when unpacked ({declared / MB:.0f} MB > "
                                        f"{limits.max_zip_bytes / MB:.0f} MB)")]
    return [_zip_member(zf, m, f"{label}/{m.filename}", limits) for m in members]


def _zip_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, name: str,
                limits: Limits) -> Candidate:
    if not member.filename.lower().endswith(MIDI_SUFFIXES):
        return Candidate(name, reason="not a MIDI file")
    if member.file_size > limits.max_file_bytes:
        return Candidate(name, reason=too_large(member.file_size, limits.max_file_bytes))
    ratio = member.file_size / max(member.compress_size, 1)
    if ratio > limits.max_zip_ratio:
        return Candidate(name, reason=f"suspicious compression ratio ({ratio:.0f}:1 > "
                                      f"{limits.max_zip_ratio:g}:1)")
    try:
        with zf.open(member) as f:
            data = _read_capped(f, limits.max_file_bytes)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as e:
        return Candidate(name, reason=f"cannot unpack from zip ({e})")
    if data is None:
        return Candidate(name, reason=f"too large (over {limits.max_file_bytes / MB:g} MB)")
    return check(name, data, limits)


def _read_capped(f: BinaryIO, cap: int) -> bytes | None:
    """At most ``cap`` bytes from ``f``; ``None`` when there is more."""
    data = f.read(cap + 1)
    return None if len(data) > cap else data


def check(name: str, data: bytes, limits: Limits) -> Candidate:
    """Cheap checks on bytes that need no parsing."""
    if not data:
        return Candidate(name, reason="empty file")
    if len(data) > limits.max_file_bytes:
        return Candidate(name, reason=too_large(len(data), limits.max_file_bytes))
    if not smf.looks_like_midi(data):
        return Candidate(name, reason="not a MIDI file")
    return Candidate(name, data)


def too_large(size: int, limit: int) -> str:
    return f"too large ({size / MB:.1f} MB > {limit / MB:g} MB)"


# --- parsing (runs in a sandbox worker) ---------------------------------------------------
#: Bumped when the reader reads the same bytes differently (part of each file's cache key).
READER_VERSION = 2


def parse_midi(data: bytes, max_notes: int) -> Outcome:
    """One piece from MIDI bytes, all tracks kept; named by the caller.

    The bytes are checked and repaired first (:func:`core.corpus.smf.prepare`: notes counted
    before any object is built, so a note bomb costs no memory); the repairs made go with the
    piece as ``meta["repairs"]``, sentences for a person.
    """
    import pretty_midi

    prepared = smf.prepare(data, max_notes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pretty_midi warns about odd but usable files
            pm = pretty_midi.PrettyMIDI(io.BytesIO(prepared.data))
    except MemoryError:
        raise
    except Exception as e:  # what the repairs do not cover: say what the parser said
        raise Unusable(f"unreadable ({e or type(e).__name__})") from e
    n_notes = sum(len(inst.notes) for inst in pm.instruments)
    if n_notes == 0:
        raise Unusable("no notes")
    if n_notes > max_notes:
        raise Unusable(f"too many notes ({n_notes:,} > {max_notes:,})")
    meta = {"repairs": prepared.warnings} if prepared.warnings else None
    return [Piece.from_midi(pm, "", meta)], []
