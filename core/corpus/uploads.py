"""Uploaded MIDI: the size limit, parsing through ``core.corpus`` (every track kept, drums too),
and a clean copy on disk (``data_dir()/uploads/NAME``) that the Train page can train on.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable

from core import atomic, corpus
from core.paths import data_dir

MB = 2**20
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def check_size(files: list[tuple[str, bytes]], limit_mb: float) -> None:
    total = sum(len(data) for _, data in files)
    if total > limit_mb * MB:
        raise ValueError(f"the files add up to {total / MB:.1f} MB and the limit is "
                         f"{limit_mb:g} MB; upload fewer files or a smaller zip")


def load_uploads(files: list[tuple[str, bytes]], limit_mb: float,
                 progress: Callable[[int, int, str], None] | None = None) -> corpus.CorpusResult:
    """Parse uploaded MIDI files / zips; ``ValueError`` with a message for a person (too large,
    nothing chosen, no usable MIDI in the files)."""
    if not files:
        raise ValueError("choose one or more .mid / .midi files, or a .zip of them, first")
    check_size(files, limit_mb)
    return corpus.load_uploads(files, kind="all", progress=progress)


def uploads_root() -> Path:
    root = data_dir() / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    return root


def save_uploads(name: str, pieces) -> Path:
    """Keep the usable uploaded pieces as MIDI files in a folder of their own, for training.

    The pieces are written back from what ``core.corpus`` parsed (not the raw upload), so a
    training job only ever reads clean files, and the members of a zip become plain files.
    """
    stem = _SAFE.sub("-", name).strip("-.") or "my-midi"
    folder = uploads_root() / stem
    if folder.exists():
        folder = uploads_root() / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    for i, piece in enumerate(pieces, start=1):
        base = _SAFE.sub("-", Path(str(piece.name)).stem).strip("-.")[:60] or "piece"
        atomic.write_bytes(folder / f"{i:04d}-{base}.mid", piece.to_midi_bytes())
    return folder


def uploaded_sets() -> list[Path]:
    """Folders of earlier uploads, newest first (corpora for the Train page)."""
    root = uploads_root()
    return sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime,
                  reverse=True)
