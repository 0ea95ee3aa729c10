"""The built-in corpora: files bundled with music21 (no download), as sandbox jobs.

Each corpus lists its files without importing music21 (except the Bach chorales, whose list
comes from music21's chorale iterator); the jobs import it inside the workers.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from core.corpus import store
from core.corpus.sandbox import Job, Outcome, Unusable
from core.piece import Piece

#: Seconds one built-in file may take (the largest Essen file holds 720 tunes).
BUILTIN_TIMEOUT_S = 600.0
#: How far a worker parsing built-in files may grow its address space (bytes).
BUILTIN_MEMORY_BYTES = 3 * 2**30


@dataclass(frozen=True)
class Builtin:
    name: str
    description: str
    pieces: int  # how many pieces a full load gives (measured with music21 10.5)
    unit: str  # what one item is: "files" or "tunes"


CATALOG = {b.name: b for b in [
    Builtin("bach-chorales", "J.S. Bach's four-part chorales (Riemenschneider edition, each "
            "distinct chorale once; MusicXML)", 350, "files"),
    Builtin("essen-folk", "Essen folk song collection: German, Chinese and other folk "
            "melodies (ABC)", 8514, "tunes"),
    Builtin("fiddle-tunes", "Irish and American fiddle tunes: O'Neill's Music of Ireland "
            "(1850) and Ryan's Mammoth Collection (ABC)", 3068, "tunes"),
    Builtin("palestrina", "Palestrina's mass movements, polyphonic vocal music (Humdrum)",
            1318, "files"),
]}


def corpus_root() -> Path:
    """The folder of music21's bundled corpus, found without importing music21."""
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the built-in corpora need music21, which is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "corpus"


def jobs(name: str, max_pieces: int | None) -> list[Job]:
    """The jobs that parse the first ``max_pieces`` items (all when ``None``) of a corpus."""
    root = corpus_root()
    if name == "bach-chorales":
        return _file_jobs(_chorale_files(root), root, max_pieces)
    if name == "palestrina":
        return _file_jobs(sorted((root / "palestrina").glob("*.krn")), root, max_pieces)
    folders = {"essen-folk": ["essenFolksong"], "fiddle-tunes": ["oneills1850", "ryansMammoth"]}
    files = [p for folder in folders[name] for p in sorted((root / folder).glob("*.abc"))]
    return _abc_jobs(files, root, max_pieces)


def cache_key(name: str, max_pieces: int | None, kind: str) -> str:
    """The corpus cache's key of the first ``max_pieces`` items (``None``: all) of ``name``."""
    return store.cache_key("builtin", name, max_pieces, kind, importlib.metadata.version("music21"))


def cached_subset(name: str, max_pieces: int, kind: str) -> tuple[list[Piece], store.Skipped] | None:
    """The first ``max_pieces`` items of ``name`` taken from its cached whole (this machine's, or
    the shipped prebuilt one) and cached under their own key; ``None`` when the whole is not
    cached or skipped something (then positions do not tell which item a piece came from)."""
    whole = store.read_cache(cache_key(name, None, kind))
    if whole is None or whole[1]:
        return None
    pieces = subset_of_whole(name, whole[0], max_pieces)
    if len(pieces) < len(whole[0]):  # (a "subset" of it all is the whole, cached already)
        store.write_cache(cache_key(name, max_pieces, kind), pieces, [])
    return pieces, []


def subset_of_whole(name: str, whole: list[Piece], max_pieces: int) -> list[Piece]:
    """What parsing the first ``max_pieces`` items of corpus ``name`` gives, taken from
    ``whole``, a parse of the whole corpus in which every file (tune) gave exactly one piece.

    A subset's jobs are the whole's first ones, and each parses a prefix of its file: a score
    file is one piece, and an ABC job takes the first ``limit`` tunes of its file (the limit is
    counted from ``X:`` lines, exactly as the subset's own jobs count it).
    """
    if CATALOG[name].unit == "files":
        return whole[:max_pieces]
    by_file: dict[str, list[Piece]] = {}
    for piece in whole:
        by_file.setdefault(piece.meta["file"], []).append(piece)
    out: list[Piece] = []
    for job in jobs(name, max_pieces):
        _path, label, limit = job.args
        out.extend(by_file.get(label, [])[:limit])
    return out[:max_pieces]


def _chorale_files(root: Path) -> list[Path]:
    """The chorale files in music21's Riemenschneider order, each file once."""
    from music21 import corpus

    seen: dict[Path, None] = {}
    for work in corpus.chorales.Iterator(returnType="filename"):
        seen.setdefault(_resolve(root, work), None)
    return list(seen)


def _resolve(root: Path, work: str) -> Path:
    """``bach/bwv269`` -> its file, preferring MusicXML over Humdrum, else music21's match."""
    from music21 import corpus

    for suffix in (".mxl", ".xml", ".krn"):
        path = root / f"{work}{suffix}"
        if path.exists():
            return path
    found = corpus.getWork(work)  # e.g. bach/bwv18.5-l names bwv18.5-lz.mxl
    return Path(found[0] if isinstance(found, list) else found)


def _file_jobs(files: list[Path], root: Path, max_pieces: int | None) -> list[Job]:
    return [Job(_label(p, root), parse_score_file, (str(p), _label(p, root)), BUILTIN_TIMEOUT_S,
                cost=p.stat().st_size) for p in files[:max_pieces]]


def _abc_jobs(files: list[Path], root: Path, max_pieces: int | None) -> list[Job]:
    """One job per ABC file; the last one stops after the tunes still wanted."""
    out: list[Job] = []
    wanted = max_pieces
    for path in files:
        if wanted is not None and wanted <= 0:
            break
        label, tunes = _label(path, root), _count_tunes(path)
        out.append(Job(label, parse_abc_file, (str(path), label, wanted), BUILTIN_TIMEOUT_S,
                       cost=min(tunes, wanted or tunes)))
        if wanted is not None:
            wanted -= tunes
    return out


def _count_tunes(path: Path) -> int:
    """How many tunes (``X:`` lines) an ABC file holds, without parsing it."""
    text = path.read_text("latin-1")
    return len(re.findall(r"^X:", text, flags=re.MULTILINE)) or 1


def _label(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


# --- jobs (run in sandbox workers) --------------------------------------------------------
def parse_score_file(path: str, label: str) -> Outcome:
    """One piece from a MusicXML or Humdrum file."""
    from core.corpus import scores  # music21 (seconds to import) only in the parsing worker

    score = scores.read_score(path)
    try:
        return [scores.score_to_piece(score, label.rsplit(".", 1)[0], _meta(score, label))], []
    except ValueError as e:
        raise Unusable(str(e)) from e


def parse_abc_file(path: str, label: str, limit: int | None) -> Outcome:
    """A piece per tune of an ABC file (at most ``limit``); a failed tune is one skip entry."""
    from core.corpus import scores

    pieces, skipped = [], []
    for number, score in scores.read_abc_tunes(path, limit):
        tune = label if number is None else f"{label}#{number}"
        if isinstance(score, Exception):
            skipped.append((tune, f"could not parse ({type(score).__name__}: {score})"))
            continue
        try:
            pieces.append(scores.score_to_piece(score, tune, _meta(score, label)))
        except ValueError as e:
            skipped.append((tune, str(e)))
    return pieces, skipped


def _meta(score, label: str) -> dict[str, str]:
    title = score.metadata.bestTitle if score.metadata is not None else None
    return {"file": label, "title": str(title or "")}
