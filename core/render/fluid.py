"""FluidSynth playback: an optional dependency, imported on first use, one synth per soundfont.

Creating a FluidSynth synthesizer and loading a 140 MB soundfont takes a noticeable fraction of
a second, so (unlike ``pretty_midi``'s ``fluidsynth()``, which builds one per call) each
``(soundfont, sample rate)`` pair gets one synth for the life of the process. A lock per synth
serialises renders; each render starts from a reset synth (no held notes, default programs and
controllers, effects rung out), so results never depend on what was played before.

The synth is driven by hand: the MIDI events of every part are merged into one time-sorted
list, sent with ``noteon``/``noteoff``/``cc``/``pitch_bend``, and ``Synth.get_samples`` renders
the audio between consecutive events.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from core.render._music import Part

GAIN = 0.5               # FluidSynth's master gain; lowered and retried if the int16 output clips
MIDI_CHANNELS = 64       # one channel per part, drums on 9, 25, 41, 57 (GM drum channel mod 16)
SYNTH_SETTINGS = {
    "synth.reverb.active": 1,  # a little room makes the soundfont sound like instruments
    "synth.chorus.active": 0,  # GM files rarely send chorus, and it halves the render speed
    "synth.polyphony": 256,
    # FluidSynth renders voices on this many threads: same CPU time, less waiting.
    "synth.cpu-cores": min(4, os.cpu_count() or 1),
}
FLUSH_BLOCK = 4096       # frames rendered and discarded per step while ringing out a reset synth
BLOCK = 64               # FluidSynth renders in blocks of 64 frames and applies events between
SILENT = 8               # |int16 sample| at or below this counts as silence (dither noise)
INT16_MAX = 32767
DRUM_BANK = 128

# Event kinds, in the order they are sent when they fall on the same frame.
NOTE_OFF, CONTROL, BEND, NOTE_ON = range(4)


class FluidSynthUnavailable(RuntimeError):
    """FluidSynth cannot render: the library or pyfluidsynth is missing, or a soundfont failed."""


_FLUIDSYNTH: ModuleType | Exception | None = None  # the module, or why importing it failed
_IMPORT_LOCK = threading.Lock()


def load_fluidsynth() -> ModuleType:
    """Import pyfluidsynth (which loads libfluidsynth) on first use and remember the outcome.

    This is the only place that imports FluidSynth. Raises :class:`FluidSynthUnavailable`
    saying why when it cannot be loaded.
    """
    global _FLUIDSYNTH
    with _IMPORT_LOCK:
        if _FLUIDSYNTH is None:
            try:
                import fluidsynth

                _FLUIDSYNTH = fluidsynth
            except (ImportError, OSError) as e:  # no pyfluidsynth, or no libfluidsynth for it
                _FLUIDSYNTH = e
        if isinstance(_FLUIDSYNTH, Exception):
            raise FluidSynthUnavailable(
                f"FluidSynth is not available ({_FLUIDSYNTH}); install libfluidsynth3 "
                f"(apt-get install libfluidsynth3, brew install fluid-synth) and pyfluidsynth"
            ) from _FLUIDSYNTH
        return _FLUIDSYNTH


def library_version() -> str | None:
    """The version of the loaded libfluidsynth, e.g. ``"2.3.1"``, or ``None``."""
    try:
        fs = load_fluidsynth()
        from ctypes import byref, c_int

        major, minor, micro = c_int(), c_int(), c_int()
        fs.fluid_version(byref(major), byref(minor), byref(micro))
        return f"{major.value}.{minor.value}.{micro.value}"
    except Exception:  # a binding without fluid_version is no reason to fail
        return None


@dataclass(eq=False)
class CachedSynth:
    """A FluidSynth synthesizer with one soundfont loaded, and the lock that guards it."""

    synth: Any               # fluidsynth.Synth; None once deleted by release_synths()
    sfid: int                # the soundfont's id inside the synth
    soundfont: Path
    sample_rate: int         # Hz
    lock: threading.Lock = field(default_factory=threading.Lock)
    frames: int = 0          # rendered so far, to keep each render aligned to FluidSynth's blocks

    def samples(self, n: int) -> np.ndarray:
        """The next ``n`` frames from the synth: int16, interleaved stereo, shape ``(2 * n,)``."""
        self.frames += n
        return self.synth.get_samples(n)


_SYNTHS: dict[tuple[str, int], CachedSynth] = {}
_SYNTHS_LOCK = threading.Lock()


def cached_synth(soundfont: str | Path, sample_rate: int) -> CachedSynth:
    """The one synth for ``soundfont`` at ``sample_rate`` (Hz), created on first use."""
    key = (str(Path(soundfont).resolve()), int(sample_rate))
    with _SYNTHS_LOCK:
        entry = _SYNTHS.get(key)
        if entry is None:
            fs = load_fluidsynth()
            synth = fs.Synth(gain=GAIN, samplerate=float(sample_rate), channels=MIDI_CHANNELS,
                             **SYNTH_SETTINGS)
            sfid = synth.sfload(key[0])
            if sfid < 0:
                synth.delete()
                raise FluidSynthUnavailable(f"FluidSynth could not load the soundfont {key[0]}")
            entry = _SYNTHS[key] = CachedSynth(synth, sfid, Path(key[0]), int(sample_rate))
        return entry


def release_synths() -> None:
    """Delete every cached synth (frees the soundfonts' memory); the next render makes new ones."""
    with _SYNTHS_LOCK:
        while _SYNTHS:
            _, entry = _SYNTHS.popitem()
            with entry.lock:
                entry.synth.delete()
                entry.synth = None


def render(parts: list[Part], duration: float, sample_rate: int,
           soundfont: str | Path) -> np.ndarray:
    """Play ``parts`` (times in seconds) on the cached synth for ``soundfont``.

    Returns int16 stereo frames of shape ``(round(duration * sample_rate), 2)``; ``duration``
    is in seconds and should include the release tail. If the output clips, it is rendered
    again at half the gain (twice at most).
    """
    n_frames = int(round(duration * sample_rate))
    events = _events(parts, sample_rate, n_frames)
    channels = _channels(parts)
    while True:
        entry = cached_synth(soundfont, sample_rate)
        with entry.lock:
            if entry.synth is None:  # deleted by release_synths() meanwhile: get a new one
                continue
            for attempt in range(3):
                entry.synth.setting("synth.gain", GAIN / 2 ** attempt)
                _reset(entry, parts, channels)
                frames = _play(entry, events, n_frames)
                if not len(frames) or int(np.abs(frames.astype(np.int32)).max()) < INT16_MAX:
                    break
            entry.synth.system_reset()  # leave no note sounding for the next caller
            return frames


def _channels(parts: list[Part]) -> list[int]:
    """A MIDI channel per part: drum parts on GM's drum channel (9 mod 16), the rest elsewhere."""
    melodic = [c for c in range(MIDI_CHANNELS) if c % 16 != 9]
    drums = [c for c in range(MIDI_CHANNELS) if c % 16 == 9]
    out, n_melodic, n_drums = [], 0, 0
    for part in parts:  # more parts than channels share channels round-robin
        if part.track.is_drum:
            out.append(drums[n_drums % len(drums)])
            n_drums += 1
        else:
            out.append(melodic[n_melodic % len(melodic)])
            n_melodic += 1
    return out


def _reset(entry: CachedSynth, parts: list[Part], channels: list[int]) -> None:
    """Silence the synth, ring out its effects, then select each part's program."""
    synth = entry.synth
    synth.system_reset()
    # Voices cut by the reset fade out quickly and the reverb keeps ringing: play that out so
    # it cannot leak into this render (usually one block, since every render ends on a tail).
    for _ in range(int(2.0 * entry.sample_rate / FLUSH_BLOCK)):
        if int(np.abs(entry.samples(FLUSH_BLOCK).astype(np.int32)).max()) <= SILENT:
            break
    # Start on a block boundary, so every render times its events the same way.
    entry.samples(-entry.frames % BLOCK)
    for part, channel in zip(parts, channels):
        bank = DRUM_BANK if part.track.is_drum else 0
        if synth.program_select(channel, entry.sfid, bank, int(part.track.program)) < 0:
            synth.program_select(channel, entry.sfid, bank, 0)  # no such preset: the bank's first


def _events(parts: list[Part], sample_rate: int, n_frames: int) -> np.ndarray:
    """All MIDI events as int64 rows ``(frame, kind, channel, a, b)`` sorted by frame, then kind.

    ``a, b`` are key and velocity for notes, controller and value for controls, the bend
    value (-8192..8191) and 0 for pitch bends.
    """
    rows = []
    for part, channel in zip(parts, _channels(parts)):
        n = part.notes
        key = np.clip(np.round(n[:, 2]), 0, 127)
        vel = np.clip(np.round(n[:, 3]), 1, 127)
        on = np.round(n[:, 0] * sample_rate)
        off = np.maximum(np.round(n[:, 1] * sample_rate), on + 1)  # never off before on
        ch = np.full(len(n), channel)
        rows += [np.column_stack([on, np.full(len(n), NOTE_ON), ch, key, vel]),
                 np.column_stack([off, np.full(len(n), NOTE_OFF), ch, key, np.zeros(len(n))])]
        c, b = part.controls, part.bends
        rows += [np.column_stack([np.round(c[:, 0] * sample_rate), np.full(len(c), CONTROL),
                                  np.full(len(c), channel), c[:, 1], c[:, 2]]),
                 np.column_stack([np.round(b[:, 0] * sample_rate), np.full(len(b), BEND),
                                  np.full(len(b), channel), b[:, 1], np.zeros(len(b))])]
    events = np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 5), np.int64)
    events[:, 0] = np.clip(events[:, 0], 0, n_frames)
    return events[np.lexsort((events[:, 1], events[:, 0]))]


def _play(entry: CachedSynth, events: np.ndarray, n_frames: int) -> np.ndarray:
    """Send ``events`` to the synth, rendering audio up to each one; int16 frames ``(n, 2)``."""
    synth = entry.synth
    out = np.zeros(2 * n_frames, dtype=np.int16)  # interleaved left, right
    send = {NOTE_ON: synth.noteon, NOTE_OFF: lambda ch, key, _: synth.noteoff(ch, key),
            CONTROL: synth.cc, BEND: lambda ch, value, _: synth.pitch_bend(ch, value)}
    pos = 0
    for frame, kind, channel, a, b in events.tolist():
        if frame > pos:
            out[2 * pos:2 * frame] = entry.samples(frame - pos)
            pos = frame
        send[kind](channel, a, b)
    if pos < n_frames:
        out[2 * pos:] = entry.samples(n_frames - pos)
    return out.reshape(-1, 2)
