"""Standard MIDI File bytes read leniently: what common tools read, made clean for the parser.

:func:`prepare` walks the raw chunks and events once (constant memory, no message objects),
counting the note-ons, and repairs what other tools read past, each repair reported as a
warning for the person who gave the file:

- a RIFF ``RMID`` container (the ``.rmi`` format) is unwrapped;
- data bytes above 127 are clipped to 127 (as ``mido`` does with ``clip=True``);
- meta events that cannot be decoded (a key signature in mode 2, a time signature of 0 beats,
  a tempo of 0) are dropped, their time kept;
- system messages that have no place in a file, bytes after a track's end and chunks that are
  not tracks are dropped; a header that miscounts its tracks is corrected.

When something was repaired (or the file is type 2, whose patterns play one after another),
the events are written again as a clean type-1 file; else the bytes are passed on unchanged.
A file is refused (:class:`~core.corpus.sandbox.Unusable`) only for what cannot be read past,
with the true reason: truncated at byte N, corrupt at byte N (and what is there), SMPTE timing.
Runs in the sandboxed worker, from :func:`core.corpus.files.parse_midi`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from core.corpus.sandbox import Unusable

#: Data bytes after each system status that may appear in a file's track (and mean nothing
#: there); the undefined ones (0xF4, 0xF5, 0xF9, 0xFD) have no known length.
_SYSTEM_DATA = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0,
                0xFE: 0}
_END_OF_TRACK = 0x2F
_META_NAMES = {0x00: "sequence number", 0x20: "channel prefix", 0x21: "MIDI port",
               0x51: "tempo", 0x54: "SMPTE offset", 0x58: "time signature",
               0x59: "key signature"}


def looks_like_midi(data: bytes) -> bool:
    """Whether ``data`` starts as a Standard MIDI File or an RMID (RIFF-wrapped) one."""
    return data.startswith(b"MThd") or (data[:4] == b"RIFF" and data[8:12] == b"RMID")


@dataclass
class Prepared:
    """What :func:`prepare` gives the parser: ``data`` (clean SMF bytes), the note-ons counted
    in it and the repairs made, as sentences for a person."""

    data: bytes
    note_ons: int
    warnings: list[str]


@dataclass
class _Repairs:
    clipped: int = 0                                   # data bytes above 127
    dropped: Counter = field(default_factory=Counter)  # meta name -> undecodable events
    system: int = 0                                    # system messages in a track
    tails: int = 0                                     # tracks with bytes after their end
    header: list[str] = field(default_factory=list)    # file-level repairs, said as they are

    def any(self) -> bool:
        return bool(self.clipped or self.dropped or self.system or self.tails or self.header)

    def sentences(self) -> list[str]:
        said = list(self.header)
        if self.clipped:
            said.append(f"{_count(self.clipped, 'data byte')} above 127 clipped")
        for name, n in sorted(self.dropped.items()):
            said.append(f"{_count(n, f'undecodable {name}')} dropped")
        if self.system:
            said.append(f"{_count(self.system, 'system message')} with no place in a file "
                        "dropped")
        if self.tails:
            said.append(f"bytes after the end of {_count(self.tails, 'track')} dropped")
        return said


def _count(n: int, noun: str) -> str:
    """``"a key signature"``, ``"3 data bytes"``."""
    if n == 1:
        return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
    return f"{n:,} {noun}s"


def count_note_ons(data: bytes) -> int:
    """The note-ons (velocity > 0) in MIDI bytes, as the parser will see them; 0 for bytes
    that cannot be read."""
    try:
        return prepare(data).note_ons
    except Unusable:
        return 0


def prepare(data: bytes, max_notes: int | None = None) -> Prepared:
    """``data`` checked and, where needed, repaired; raises ``Unusable`` with the reason.

    The note-ons are counted before anything is rebuilt: a file over ``max_notes`` is refused
    for that, having cost one scan.
    """
    repairs = _Repairs()
    if data[:4] == b"RIFF":
        data = _unwrap_riff(data)
        repairs.header.append("unwrapped from a RIFF (RMID) container")
    fmt, declared, division, tracks = _read_header(data, repairs)
    note_ons = 0
    for number, (start, end, cut) in enumerate(tracks, start=1):
        note_ons += _walk(data, start, end, cut, number, repairs, None)
    if max_notes is not None and note_ons > max_notes:
        raise Unusable(f"too many notes ({note_ons:,} > {max_notes:,})")
    if declared != len(tracks):
        repairs.header.append(f"the header counts {_count(declared, 'track')}, the file holds "
                              f"{len(tracks)}: {'all ' if len(tracks) > 1 else ''}"
                              f"{len(tracks)} read")
    if not repairs.any() and fmt != 2:
        return Prepared(data, note_ons, repairs.sentences())
    return Prepared(_rebuild(data, fmt, division, tracks), note_ons, repairs.sentences())


def _unwrap_riff(data: bytes) -> bytes:
    """The ``data`` chunk of an RMID file (RIFF chunks: id, little-endian size, even padding)."""
    pos = 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        if data[pos:pos + 4] == b"data":
            inner = data[pos + 8:pos + 8 + size]
            if inner.startswith(b"MThd"):
                return inner
            break
        pos += 8 + size + (size & 1)
    raise Unusable("not a MIDI file (a RIFF file without MIDI data in it)")


def _read_header(data: bytes, repairs: _Repairs) -> tuple[int, int, int, list[tuple]]:
    """``(format, tracks declared, division, tracks)``; each track is ``(start, end, cut)``:
    its events' bytes, ``cut`` when the file ends before the length its chunk declares."""
    if not data:
        raise Unusable("empty file")
    if not data.startswith(b"MThd"):
        raise Unusable("not a MIDI file")
    if len(data) < 14:
        raise Unusable(f"truncated at byte {len(data)} (inside the header)")
    header_end = 8 + int.from_bytes(data[4:8], "big")
    fmt, declared, division = (int.from_bytes(data[i:i + 2], "big") for i in (8, 10, 12))
    if division & 0x8000:
        raise Unusable("timed in SMPTE frames rather than beats (not supported)")
    if division == 0:
        raise Unusable("corrupt at byte 12 (0 ticks per beat)")
    tracks, skipped, pos = [], [], header_end
    while pos + 8 <= len(data):
        name, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "big")
        start, end = pos + 8, pos + 8 + size
        if name == b"MTrk":
            tracks.append((start, min(end, len(data)), end > len(data)))
        elif len(tracks) < declared:  # the parser would stop here; after the tracks, ignored
            skipped.append(name.decode("latin-1"))
        pos = end
    if not tracks:
        raise Unusable(f"corrupt at byte {header_end} (no track in the file)")
    if skipped:
        what = "a chunk that is" if len(skipped) == 1 else f"{len(skipped)} chunks that are"
        repairs.header.append(f"{what} not a track skipped ({', '.join(map(repr, skipped))})")
    return fmt, declared, division, tracks


def _rebuild(data: bytes, fmt: int, division: int, tracks: list[tuple]) -> bytes:
    """A clean type-1 file of ``tracks``; a type-2 file's tracks are delayed to play in turn."""
    out = bytearray(b"MThd" + (6).to_bytes(4, "big") + (0 if fmt == 0 and len(tracks) == 1
                                                         else 1).to_bytes(2, "big")
                    + len(tracks).to_bytes(2, "big") + division.to_bytes(2, "big"))
    delay = 0
    for number, (start, end, cut) in enumerate(tracks, start=1):
        events = bytearray()
        ticks = _walk(data, start, end, cut, number, _Repairs(), events, delay if fmt == 2 else 0)
        delay += ticks
        out += b"MTrk" + len(events).to_bytes(4, "big") + events
    return bytes(out)


def _vlq(value: int) -> bytes:
    """``value`` as a MIDI variable-length quantity."""
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.append(0x80 | (value & 0x7F))
    return bytes(reversed(out))


def _more_of_vlq(data: bytes, pos: int, end: int, value: int) -> tuple[int, int]:
    """``(value, next position)``: a variable-length quantity read on from ``pos``, ``value``
    being what its bytes before ``pos`` gave."""
    while True:
        if pos >= end:
            raise _Cut
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos


class _Cut(Exception):
    """An event runs past the end of its track."""


def _walk(data: bytes, pos: int, end: int, cut: bool, number: int, repairs: _Repairs,
          out: bytearray | None, delay: int = 0) -> int:
    """One track's events from ``pos`` to ``end``: counts the note-ons into the return value
    (or, when ``out`` is given, writes the clean events there and returns the track's ticks)
    and the repairs into ``repairs``. Running status carries across meta events, as ``mido``
    reads it; a system-exclusive message ends it, as the standard says."""
    note_ons, ticks, carry, status, ended = 0, 0, delay, 0, False
    try:
        while pos < end:
            delta = data[pos]  # the delta time: a variable-length quantity
            pos += 1
            if delta & 0x80:  # more bytes (most events follow within 127 ticks: one byte)
                delta, pos = _more_of_vlq(data, pos, end, delta & 0x7F)
            ticks += delta
            carry += delta
            if pos >= end:
                raise _Cut
            event_at = pos
            if data[pos] & 0x80:
                kind = data[pos]
                pos += 1
            elif status:
                kind = status  # running status: the data starts here
            else:
                raise Unusable(f"corrupt at byte {pos} (data without a status byte, in track "
                               f"{number})")
            if kind < 0xF0:  # a channel message: fixed length
                status, one = kind, kind & 0xE0 == 0xC0  # program and pressure: one byte
                if pos + 2 - one > end:
                    raise _Cut
                first, second = data[pos], 0 if one else data[pos + 1]
                pos += 2 - one
                if (first | second) & 0x80:
                    repairs.clipped += (first > 0x7F) + (second > 0x7F)
                    first, second = min(first, 0x7F), min(second, 0x7F)
                if second and kind & 0xF0 == 0x90:
                    note_ons += 1
                if out is not None:
                    out += _vlq(carry) + bytes((kind, first) if one else (kind, first, second))
                    carry = 0
            elif kind in (0xFF, 0xF0, 0xF7):  # meta (with its type) and system exclusive
                if kind == 0xFF:
                    if pos >= end:
                        raise _Cut
                    pos += 1
                length, pos = _more_of_vlq(data, pos, end, 0)
                if pos + length > end:
                    raise _Cut
                body = data[pos:pos + length]
                pos += length
                if kind == 0xFF and data[event_at + 1] == _END_OF_TRACK:
                    ended = True
                    break
                problem = (_undecodable(data[event_at + 1], body) if kind == 0xFF
                           else _unreadable_sysex(body))
                if kind != 0xFF:
                    status = 0
                if problem:
                    repairs.dropped[problem] += 1
                elif out is not None:
                    out += _vlq(carry) + data[event_at:pos]
                    carry = 0
            elif kind in _SYSTEM_DATA:
                pos += _SYSTEM_DATA[kind]
                if pos > end:
                    raise _Cut
                repairs.system += 1
            else:
                raise Unusable(f"corrupt at byte {event_at} (undefined status byte "
                               f"0x{kind:02X}, in track {number})")
    except _Cut:
        if cut:
            raise Unusable(f"truncated at byte {len(data)} (the file ends inside track "
                           f"{number})") from None
        raise Unusable(f"corrupt at byte {end} (an event runs past the end of track "
                       f"{number})") from None
    if cut and not ended:
        raise Unusable(f"truncated at byte {len(data)} (the file ends inside track {number})")
    if ended and pos < end and not cut:
        repairs.tails += 1
    if cut:  # the chunk's length ran past the end of the file, the track itself is whole
        repairs.header.append(f"the length of track {number} corrected (it ran past the end "
                              "of the file)")
    if out is not None:
        out += _vlq(carry) + b"\xff\x2f\x00"
        return ticks
    return note_ons


def _undecodable(meta_type: int, body: bytes) -> str | None:
    """The name of a meta event the parser cannot decode or use; ``None`` when it can."""
    from mido.midifiles.meta import build_meta_message

    if meta_type not in _META_NAMES:
        return None  # text, lyrics, names, sequencer data and unknown types: any bytes do
    name = _META_NAMES[meta_type]
    try:
        message = build_meta_message(meta_type, list(body))
    except Exception:
        return name
    if (meta_type == 0x51 and message.tempo == 0) or (
            meta_type == 0x58 and (message.numerator == 0 or body[1] > 7)):
        return name  # a tempo of 0 divides by zero; so does a bar of 0 beats
    return None


def _unreadable_sysex(body: bytes) -> str | None:
    """``"system-exclusive message"`` for one with data bytes above 127 (the parser refuses
    them), else ``None``."""
    inner = body[:-1] if body.endswith(b"\xf7") else body
    return "system-exclusive message" if inner and max(inner) > 0x7F else None
