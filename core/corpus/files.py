"""User MIDI: gather files from paths, folders, zips and uploads, with limits; parse one file.

Everything here treats its input as hostile. Sizes are checked before bytes are read; a zip is
judged by its directory (member count, declared sizes, compression ratios) before any member
is decompressed, members are read one at a time with a size cap and never written to disk.
:func:`parse_midi` runs inside a :mod:`~core.corpus.sandbox` worker.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Union

from core.corpus.sandbox import Outcome, Unusable
from core.piece import Piece

MB = 2**20
MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".smf")

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
    if not data.startswith(b"MThd"):
        return Candidate(name, reason="not a MIDI file")
    return Candidate(name, data)


def too_large(size: int, limit: int) -> str:
    return f"too large ({size / MB:.1f} MB > {limit / MB:g} MB)"


# --- parsing (runs in a sandbox worker) ---------------------------------------------------
def parse_midi(data: bytes, max_notes: int) -> Outcome:
    """One piece from Standard MIDI File bytes, all tracks kept; named by the caller."""
    import pretty_midi

    n_notes = count_note_ons(data)  # before any object is built: a note bomb costs no memory
    if n_notes > max_notes:
        raise Unusable(f"too many notes ({n_notes:,} > {max_notes:,})")
    if _midi_format(data) == 2:
        data = _sequential_as_type1(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pretty_midi warns about odd but usable files
            pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except MemoryError:
        raise
    except Exception as e:
        raise Unusable("truncated or corrupt MIDI") from e
    n_notes = sum(len(inst.notes) for inst in pm.instruments)
    if n_notes == 0:
        raise Unusable("no notes")
    if n_notes > max_notes:
        raise Unusable(f"too many notes ({n_notes:,} > {max_notes:,})")
    return [Piece.from_midi(pm, "")], []


def count_note_ons(data: bytes) -> int:
    """The note-ons (velocity > 0) in Standard MIDI File bytes, by a scan of the raw events
    that builds no message objects (one pass, constant memory). A malformed track is counted
    as far as it can be read; the real parser then says what is wrong with it."""
    count, pos = 0, 8 + int.from_bytes(data[4:8], "big")  # the first chunk after MThd
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos + 4:pos + 8], "big")
        start, pos = pos + 8, min(pos + 8 + length, len(data))
        if data[start - 8:start - 4] == b"MTrk":
            count += _track_note_ons(data, start, pos)
    return count


def _track_note_ons(data: bytes, pos: int, end: int) -> int:
    count, status = 0, 0
    while pos < end:
        while pos < end and data[pos] & 0x80:  # the delta time: a variable-length quantity
            pos += 1
        pos += 1
        if pos >= end:
            break
        if data[pos] & 0x80:                   # a status byte; else running status
            status, pos = data[pos], pos + 1
        if status in (0xFF, 0xF0, 0xF7):       # meta (with its type byte) and sysex: skip
            pos += status == 0xFF
            length = 0
            while pos < end and data[pos] & 0x80:
                length, pos = (length << 7) | (data[pos] & 0x7F), pos + 1
            if pos >= end:
                break
            pos += 1 + ((length << 7) | data[pos])
            status = 0                         # they cancel running status
        elif status >= 0x80:
            kind = status & 0xF0
            if kind == 0x90 and pos + 1 < end and data[pos + 1]:
                count += 1
            pos += 1 if kind in (0xC0, 0xD0) else 2
        else:                                  # data before any status: not readable further
            break
    return count


def _midi_format(data: bytes) -> int:
    """The SMF format number (0, 1 or 2) from the ``MThd`` header; -1 when it is too short."""
    return int.from_bytes(data[8:10], "big") if len(data) >= 10 else -1


def _sequential_as_type1(data: bytes) -> bytes:
    """A type-2 file (independent patterns played one after another) as a type-1 file.

    Each track is delayed by the total length of the tracks before it, so the patterns keep
    their order in time instead of all starting at once.
    """
    import mido

    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except MemoryError:
        raise
    except Exception as e:
        raise Unusable("truncated or corrupt MIDI") from e
    delay = 0
    for track in midi.tracks:
        length = sum(msg.time for msg in track)
        if len(track):
            track[0] = track[0].copy(time=track[0].time + delay)
        delay += length
    midi.type = 1
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()
