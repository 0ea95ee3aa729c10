"""How a track is written on staves: one staff, a grand staff split between the hands, a
four-part chorale on two staves with voices, or a percussion staff; and the key.

Works on the score's quantized chords (``core.render.score``): ``(start, end, ((pitch,
velocity), ...))`` in grid steps. No music21 here, only decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

import numpy as np

Chord = tuple[int, int, tuple[tuple[int, int], ...]]
SPLIT = 60  # middle C: the right hand plays from here up, the left hand below
WIDE = (55, 65)  # a polyphonic track reaching below the first and above the second: two hands
KEYBOARDS = {*range(0, 8), *range(16, 24), 46}  # GM pianos, organs and the harp: grand staff

# Krumhansl-Kessler key profiles, tonic first.
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

# General MIDI drum -> where it sits on a five-line percussion staff and its notehead.
DRUM_STAFF = {35: ("F", 4, "normal"), 36: ("F", 4, "normal"), 37: ("C", 5, "x"),
              38: ("C", 5, "normal"), 39: ("C", 5, "x"), 40: ("C", 5, "normal"),
              41: ("A", 4, "normal"), 42: ("G", 5, "x"), 43: ("A", 4, "normal"),
              44: ("D", 4, "x"), 45: ("D", 5, "normal"), 46: ("G", 5, "circle-x"),
              47: ("D", 5, "normal"), 48: ("E", 5, "normal"), 49: ("A", 5, "x"),
              50: ("E", 5, "normal"), 51: ("F", 5, "x"), 52: ("B", 5, "x"),
              53: ("F", 5, "diamond"), 54: ("E", 5, "triangle"), 55: ("B", 5, "x"),
              56: ("B", 4, "triangle"), 57: ("A", 5, "x"), 59: ("F", 5, "x")}
OTHER_DRUM = ("E", 4, "normal")


def drum_position(pitch: int) -> tuple[str, int, str]:
    """``(display step, octave, notehead)`` of a General MIDI drum on a percussion staff."""
    return DRUM_STAFF.get(int(pitch), OTHER_DRUM)


@dataclass(frozen=True)
class Staff:
    """One staff: its voices (each a list of non-overlapping chords), its clef ("treble",
    "bass", or ``None``: the best for its notes) and each voice's stem direction (or ``None``)."""

    voices: list[list[Chord]]
    clef: str | None = None
    stems: tuple[str | None, ...] = ()


def voices(chords: list[Chord]) -> list[list[Chord]]:
    """Chords dealt into voices that never overlap: each, in onset order, joins the first voice
    that is silent by then (as few voices as the most chords sounding at once)."""
    out: list[list[Chord]] = []
    for c in chords:
        for voice in out:
            if voice[-1][1] <= c[0]:
                voice.append(c)
                break
        else:
            out.append([c])
    return out


def staves(chords: list[Chord], program: int = 0) -> list[Staff]:
    """How a pitched track is written: a chorale's four voices on two staves (soprano and alto
    up, tenor and bass down), a keyboard (General MIDI ``program``) playing chords or several
    lines over a wide range on a grand staff split at middle C, else one staff."""
    satb = four_voices(chords)
    if satb is not None:
        return [Staff(satb[:2], "treble", ("up", "down")), Staff(satb[2:], "bass", ("up", "down"))]
    pitches = [p for _, _, keys in chords for p, _ in keys]
    lines = voices(chords)
    polyphonic = len(lines) > 1 or any(len(keys) > 1 for _, _, keys in chords)
    if program in KEYBOARDS and pitches and polyphonic and min(pitches) < WIDE[0] and max(pitches) > WIDE[1]:
        right, left = [], []
        for start, end, keys in chords:
            for hand, part in ((right, [k for k in keys if k[0] >= SPLIT]),
                               (left, [k for k in keys if k[0] < SPLIT])):
                if part:
                    hand.append((start, end, tuple(part)))
        return [Staff(voices(right), "treble"), Staff(voices(left), "bass")]
    return [Staff(lines)]


def four_voices(chords: list[Chord]) -> list[list[Chord]] | None:
    """Soprano, alto, tenor and bass, each a line of single notes, when the track is a four-part
    texture: never more than four notes at once, four at once for at least half the time, and
    every note fits a voice that is free when it starts. ``None`` otherwise."""
    notes = sorted((s, -p, e, v) for s, e, keys in chords for p, v in keys)
    if not notes:
        return None
    end = max(e for _, _, e, _ in notes)
    count = np.zeros(end + 1, int)
    for s, _, e, _ in notes:
        count[s:e] += 1
    sounding = count[count > 0]
    if sounding.max() != 4 or np.mean(sounding == 4) < 0.5:
        return None
    lines: list[list[Chord]] = [[], [], [], []]
    last = [None] * 4  # each voice's latest pitch
    held: list[tuple[int, int]] = []  # (end, pitch) of the notes sounding
    for s, group in groupby(notes, key=lambda n: n[0]):
        group = list(group)
        held = [(x, p) for x, p in held if x > s] + [(e, -neg) for _, neg, e, _ in group]
        now = sorted((p for _, p in held), reverse=True)
        for _, neg, e, v in group:  # highest first
            pitch = -neg
            free = [k for k in range(4) if not lines[k] or lines[k][-1][1] <= s]
            if not free:
                return None
            # its rank among the notes sounding now is its voice, when four sound and it is free
            rank = now.index(pitch) if len(now) == 4 else None
            k = rank if rank in free else min(free, key=lambda j: (
                abs((last[j] if last[j] is not None else 79 - 7 * j) - pitch), j))
            lines[k].append((s, e, ((pitch, v),)))
            last[k] = pitch
    # voices cross rarely in a chorale; a line that wanders into another's range is no chorale
    means = [np.mean([c[2][0][0] for c in line]) if line else None for line in lines]
    if any(m is None for m in means) or means != sorted(means, reverse=True):
        return None
    return lines


def key_of(pitches: np.ndarray, weights: np.ndarray) -> tuple[int, str]:
    """The key of notes (``pitches`` weighted by e.g. their lengths) by the Krumhansl-Schmuckler
    method: ``(tonic pitch class, "major" or "minor")``; C major when there are no notes."""
    if not len(pitches) or float(np.sum(weights)) <= 0:
        return 0, "major"
    histogram = np.bincount(np.asarray(pitches, int) % 12, weights=weights, minlength=12)
    best = max(((np.corrcoef(histogram, np.roll(profile, tonic))[0, 1], tonic, mode)
                for mode, profile in (("major", MAJOR), ("minor", MINOR)) for tonic in range(12)),
               key=lambda x: -np.inf if np.isnan(x[0]) else x[0])
    return best[1], best[2]
