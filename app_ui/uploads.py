"""Streamlit's uploaded files -> ``core.corpus.uploads`` with the app's upload limit, for a
session with the right to upload (``app_ui.rights``)."""

from __future__ import annotations

from typing import Callable, Iterable

from app_ui.rights import require
from app_ui.settings import upload_limit_mb
from core.corpus import uploads
from core.corpus.uploads import uploaded_sets  # noqa: F401  (the pages' import)


def as_pairs(uploaded: Iterable) -> list[tuple[str, bytes]]:
    """``(file name, bytes)`` for Streamlit's UploadedFile objects (or pairs passed through)."""
    return [f if isinstance(f, tuple) else (f.name, f.getvalue()) for f in uploaded or []]


def check_size(files: list[tuple[str, bytes]], limit_mb: float | None = None) -> None:
    uploads.check_size(files, upload_limit_mb() if limit_mb is None else limit_mb)


def load_uploads(files: list[tuple[str, bytes]], limit_mb: float | None = None,
                 progress: Callable[[int, int, str], None] | None = None):
    require("upload MIDI")
    return uploads.load_uploads(files, upload_limit_mb() if limit_mb is None else limit_mb, progress)


def save_uploads(name: str, pieces):
    """Keep the uploaded pieces as the corpus ``name`` (``core.corpus.uploads.save_uploads``)."""
    require("upload MIDI")
    return uploads.save_uploads(name, pieces)
