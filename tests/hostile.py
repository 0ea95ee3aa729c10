"""MIDI bytes for tests, good and hostile, built here (nothing downloaded): the corpus tests
and the primer tests feed the same files to the one bounded reader (``core.corpus``)."""

from __future__ import annotations

import io
import os
import zipfile

import mido
import pretty_midi

from core.piece import from_note_list

MB = 2**20


def melody(pitch: int = 60, n: int = 8) -> bytes:
    notes = [(i * 0.5, i * 0.5 + 0.5, pitch + i % 5, 90) for i in range(n)]
    return from_note_list("m", notes).to_midi_bytes()


def drums_only() -> bytes:
    return from_note_list("d", [(i * 0.5, i * 0.5 + 0.25, 36, 100) for i in range(8)],
                          is_drum=True).to_midi_bytes()


def two_tracks() -> bytes:
    """Type 1: piano and bass, plus a drum track."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=100)
    for program, is_drum, pitch in [(0, False, 72), (33, False, 36), (0, True, 42)]:
        inst = pretty_midi.Instrument(program, is_drum=is_drum)
        inst.notes = [pretty_midi.Note(80, pitch, t * 0.3, t * 0.3 + 0.3) for t in range(6)]
        pm.instruments.append(inst)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def no_notes() -> bytes:
    pm = pretty_midi.PrettyMIDI()
    pm.instruments.append(pretty_midi.Instrument(0))
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def type2() -> bytes:
    """Two one-note patterns of 480 ticks each, to be played one after the other."""
    mf = mido.MidiFile(type=2, ticks_per_beat=480)
    for pitch in (60, 67):
        track = mido.MidiTrack([mido.Message("note_on", note=pitch, velocity=80, time=0),
                                mido.Message("note_off", note=pitch, velocity=0, time=480)])
        mf.tracks.append(track)
    buf = io.BytesIO()
    mf.save(file=buf)
    return buf.getvalue()


def many_notes(n: int) -> bytes:
    """A type-0 file of ``n`` short notes, written byte by byte (quick even for large ``n``)."""
    events = b"".join(bytes([0, 0x90, 60 + i % 12, 80, 60, 0x80, 60 + i % 12, 0])
                      for i in range(n)) + b"\x00\xff\x2f\x00"
    header = b"MThd" + bytes([0, 0, 0, 6, 0, 0, 0, 1, 1, 0xE0])  # format 0, 1 track, 480 tpq
    return header + b"MTrk" + len(events).to_bytes(4, "big") + events


def with_key_and_volume() -> bytes:
    """A good file carrying a key signature (D major) and a volume control change: the base of
    the damaged files below, each of which the reader repairs back to these same notes."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(0)
    inst.notes = [pretty_midi.Note(90, 62 + i % 5, i * 0.25, i * 0.25 + 0.25) for i in range(8)]
    inst.control_changes = [pretty_midi.ControlChange(7, 100, 0.0)]
    pm.instruments.append(inst)
    pm.key_signature_changes = [pretty_midi.KeySignature(2, 0.0)]
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def in_riff(data: bytes) -> bytes:
    """``data`` wrapped in a RIFF ``RMID`` container (the ``.rmi`` format), as some tools save."""
    inner = b"data" + len(data).to_bytes(4, "little") + data + b"\0" * (len(data) & 1)
    return b"RIFF" + (4 + len(inner)).to_bytes(4, "little") + b"RMID" + inner


def with_byte(data: bytes, marker: bytes, offset: int, value: int) -> bytes:
    """``data`` with the byte ``offset`` after the first ``marker`` set to ``value``."""
    at = data.index(marker) + offset
    return data[:at] + bytes([value]) + data[at + 1:]


def volume_over_127(data: bytes) -> bytes:
    """The volume control change's value byte (``B0 07 64``) set to 0xE4, above 127."""
    return with_byte(data, b"\xb0\x07\x64", 2, 0xE4)


def key_in_mode_2(data: bytes) -> bytes:
    """The key signature's mode byte (``FF 59 02 sf mi``) set to 2, which no key has."""
    return with_byte(data, b"\xff\x59\x02", 4, 2)


def with_first_event(data: bytes, event: bytes) -> bytes:
    """``data`` with ``event`` (delta time included) first in its first track."""
    at = data.index(b"MTrk")
    length = int.from_bytes(data[at + 4:at + 8], "big") + len(event)
    return data[:at + 4] + length.to_bytes(4, "big") + event + data[at + 8:]


#: A key signature event of 2 flats in mode 2 (no such key), at delta time 0.
KEY_IN_MODE_2 = b"\x00\xff\x59\x02\xfe\x02"


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def hostile_files() -> dict[str, tuple[bytes, str]]:
    """``name -> (bytes, a regex of the reason the reader gives)`` for files no reader may
    choke on; the note bomb is under the size limit and over the note limit."""
    good = melody()
    return {
        "random.mid": (os.urandom(2000), "not a MIDI file"),
        "truncated.mid": (good[: len(good) // 2],
                          r"truncated at byte 56 \(the file ends inside track 2\)"),
        "silent.mid": (no_notes(), "no notes"),
        "empty.mid": (b"", "empty file"),
        "notes.txt": (b"hello", "not a MIDI file"),
        "bitflip.mid": (bytes(b ^ 0xFF if 14 <= i < 30 else b for i, b in enumerate(good)),
                        r"corrupt at byte 14 \(no track in the file\)"),
        "junk.zip": (zipped({"a.txt": b"junk"}), "not a MIDI file"),
        "note-bomb.mid": (many_notes(600_000), r"too many notes \(600,000 > 200,000\)"),
    }
