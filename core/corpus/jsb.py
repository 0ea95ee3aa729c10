"""The JSB Chorales benchmark corpus (Boulanger-Lewandowski et al., ICML 2012) from its JSON files.

Each chorale is a list of time steps, each the MIDI pitches sounding then, with the standard
split of 229 train / 76 valid / 77 test chorales. The files come at two resolutions:
``jsb-chorales-quarter.json`` (one step per quarter note, the paper's) and
``jsb-chorales-16th.json``. A chorale becomes a :class:`~core.piece.Piece` with one note per run
of steps in which a pitch sounds (the data does not tell a held note from a repeated one, so a
repeated note is read as held), at velocity 64 on one piano track. Every piece keeps its given
split in ``meta["given_split"]``, which :func:`core.corpus.split` honours (never re-split).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.paths import SHARED_DATA
from core.piece import Piece, Track

SPLITS = ("train", "valid", "test")
RESOLUTIONS = {"quarter": 1.0, "16th": 0.25}   # beats per step
VELOCITY = 64
TEMPO = 100.0
MAX_FILE_BYTES = 50 * 2**20


def default_path(resolution: str = "quarter") -> Path:
    return SHARED_DATA / "jsb" / f"jsb-chorales-{resolution}.json"


def resolve(source: str) -> tuple[Path, float]:
    """``jsb`` (quarter), ``jsb-16th`` or ``jsb:PATH`` -> (file, beats per step). A path's
    resolution is read from its name (``16th`` in it: 16th notes, else quarter notes)."""
    if source == "jsb":
        return default_path("quarter"), RESOLUTIONS["quarter"]
    if source == "jsb-16th":
        return default_path("16th"), RESOLUTIONS["16th"]
    path = Path(source.partition(":")[2])
    return path, RESOLUTIONS["16th" if "16th" in path.name else "quarter"]


def frames_to_piece(frames: list[list[int]], step: float, name: str) -> Piece:
    """One chorale's steps as a Piece: each run of consecutive steps sounding a pitch is a note."""
    length = len(frames)
    play = np.zeros((length + 2, 128), bool)   # a silent step either side closes every run
    for t, pitches in enumerate(frames):
        play[t + 1, [int(p) for p in pitches]] = True
    edges = np.diff(play.astype(np.int8), axis=0)            # +1: a run starts, -1: it ends
    starts_t, starts_p = np.nonzero(edges == 1)
    ends_t, ends_p = np.nonzero(edges == -1)
    starts = sorted(zip(starts_p.tolist(), starts_t.tolist()))
    ends = sorted(zip(ends_p.tolist(), ends_t.tolist()))
    notes = [[s * step, e * step, p, VELOCITY, 0] for (p, s), (_, e) in zip(starts, ends)]
    return Piece(name, np.array(notes, np.float64).reshape(-1, 5), [Track(0, False, "JSB")], TEMPO)


def load_jsb(source: str = "jsb", max_pieces: int | None = None) -> tuple[list[Piece], int]:
    """The pieces of every split (``max_pieces``: the first N of each) and how many there were.
    ``ValueError`` when the file is missing or not in the format above."""
    path, step = resolve(source)
    if not path.is_file():
        raise ValueError(f"JSB Chorales not found: no file {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_FILE_BYTES // 2**20} MB: not a JSB file")
    try:
        data = json.loads(path.read_text())
        pieces = []
        for part in SPLITS:
            for i, frames in enumerate(data[part][:max_pieces]):
                piece = frames_to_piece(frames, step, f"jsb-{part}-{i:03d}")
                piece.meta.update(given_split=part, steps=len(frames), step_beats=step)
                pieces.append(piece)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise ValueError(f"{path.name} is not a JSB Chorales file with train/valid/test lists of "
                         f"steps of MIDI pitches ({type(e).__name__}: {e})") from None
    return pieces, sum(len(data[part]) for part in SPLITS)
