"""Cached calls into ``core`` for the pages, and the one way a composition is shown.

- models: ``load_generator`` (``st.cache_resource``: one per checkpoint file per process), the
  run's ``LoadedRun`` (corpus split and copy index, parsed in the background when it is not
  cached yet), and ``warm_up`` (the compose path, once);
- audio: ``audio_for`` / ``midi_file_audio`` (``st.cache_data`` keyed by MIDI bytes or file), so
  a rerun never re-renders;
- runs: ``all_runs``, ``usable_runs``, ``default_run``, ``checkpoint_choices``;
- results: ``Composition`` and ``show_composition`` (audio, piano roll, metrics, downloads);
  ``show_music``: the one way a piece is shown (the piano roll that plays along, and its score
  in a tab beside it), on Home, Generate, the Corpus preview and the Gallery.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import streamlit as st

from app_ui.errors import action, explain
from app_ui.settings import demo_mode, run_roots
from core.generation.compose import Composition

log = logging.getLogger("composer_studio.app")


# --- runs ----------------------------------------------------------------------------------
def all_runs():
    """Every run (shipped, extra roots, the user's), default model first."""
    from core.runs import list_runs

    runs = list_runs(*run_roots())
    default = default_run()
    return sorted(runs, key=lambda r: (default is None or r.path != default.path,))


def usable_runs():
    """Runs that have at least one checkpoint to generate from."""
    return [r for r in all_runs() if r.epochs() or (r.path / "best.keras").is_file()]


def default_run():
    """The model behind Home: the shipped Bach chorales run, else the first usable run."""
    from core.training import gallery
    from core.runs import list_runs

    run = gallery.default_run()
    if run is not None:
        return run
    for r in list_runs(*run_roots()):
        if r.epochs():
            return r
    return None


def checkpoint_choices(run) -> list[int | None]:
    """``None`` (the best checkpoint) when there is one, then every epoch, newest first."""
    epochs = sorted(run.epochs(), reverse=True)
    return ([None] if (run.path / "best.keras").is_file() else []) + epochs


def checkpoint_label(run, epoch: int | None) -> str:
    if epoch is None:
        best = run.best_epoch()
        return f"best (epoch {best})" if best is not None else "best"
    return f"epoch {epoch}"


# --- models --------------------------------------------------------------------------------
def _stamp(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(show_spinner=False, max_entries=8)
def _generator(run_dir: str, created: Any, epoch: int | None, stamp: float):
    from core.generation.generate import Generator

    return Generator.from_run(_loaded_run(run_dir, created), epoch=epoch)


def load_generator(run_dir: str | Path, epoch: int | None = None):
    """The generator for one checkpoint, loaded once per process (and again if the file changes),
    sharing the run's cached ``LoadedRun`` (corpus split, copy index) with the metrics."""
    from core.runs import Run

    run = Run(run_dir)
    if not run.exists:
        raise ValueError(f"{run.path} is not a run folder (no run.json)")
    return _generator(str(run.path), run.config.get("created"), epoch, _stamp(run.checkpoint(epoch)))


# --- audio and pictures --------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=128)
def _wav(midi: bytes, _piece) -> tuple[bytes, str | None]:
    """WAV of ``_piece``, cached by its MIDI bytes (Streamlit does not hash ``_``-arguments)."""
    from core.render import render_audio

    audio = render_audio(_piece, sample_rate=SAMPLE_RATE)
    return audio.wav_bytes(), audio.warning


SAMPLE_RATE = 32000  # Hz: plenty for a GM soundfont in a browser, and a smaller page than 44.1k


def render(piece, stereo: bool = True) -> tuple[bytes, str | None]:
    """``(wav bytes, fallback warning or None)`` for a Piece."""
    from core.render import render_audio

    audio = render_audio(piece, sample_rate=SAMPLE_RATE, stereo=stereo)
    return audio.wav_bytes(), audio.warning


def audio_for(piece) -> tuple[bytes, str | None]:
    """``(wav bytes, warning)`` for a Piece, cached by its MIDI bytes (corpus previews)."""
    return _wav(piece.to_midi_bytes(), piece)


@st.cache_data(show_spinner=False, max_entries=64)
def midi_file_audio(path: str, stamp: float) -> tuple[bytes, str | None]:
    """WAV for a MIDI file on disk (checkpoint samples), cached by path and modification time."""
    return audio_for(midi_file_piece(path, stamp))


@st.cache_data(show_spinner=False, max_entries=64)
def midi_file_piece(path: str, stamp: float):
    """The Piece in a MIDI file on disk (checkpoint samples), read like any MIDI file."""
    from core.corpus import read_midi

    return read_midi(path)


@st.cache_resource(show_spinner=False)
def warm_up(run_dir: str) -> bool:
    """Run the whole compose path once per process (model, sampler, FluidSynth with its
    soundfont, MIDI writer, piano roll, the corpus copy index) so that the first real Compose
    is as quick as the rest."""
    try:
        from core.render.player import player_html

        c = compose(run_dir, length=16, seed=1, metrics=True, stereo=False)[0]
        player_html(c.piece, c.wav)
    except Exception:  # a real problem shows up, with its message, when a person composes
        return False
    return True


# --- compositions --------------------------------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=8)
def _loaded_run(run_dir: str, created: Any):
    """The run's corpus split, sequences and copy index (``core.evaluation.loaded.LoadedRun``), built once
    per run per process and shared by every visitor."""
    from core.evaluation.loaded import LoadedRun

    return LoadedRun(run_dir)


def _ready_corpus_index(run):
    """The copy index when it is quick to have; ``None`` (loop numbers only) while a corpus that
    was never parsed on this machine is parsed in the background (minutes for a whole built-in
    corpus), or when the run's corpus is gone."""
    loaded_run = _loaded_run(str(run.path), run.config.get("created"))
    if not loaded_run.corpus_is_cached:
        with _INDEX_LOCK:  # one background parse per run, however many visitors press Compose
            if loaded_run.run.path not in _BUILDING:
                _BUILDING.add(loaded_run.run.path)
                threading.Thread(target=_build_index, args=(loaded_run,), daemon=True).start()
        return None
    try:
        return loaded_run.copy_index
    except ValueError:  # the run's corpus cannot be loaded any more
        return None


def copy_index_for(run):
    """The run's copy index (``core.evaluation.copies.SourceIndex``) when it is quick to have,
    else ``None`` (see ``_ready_corpus_index``)."""
    return _ready_corpus_index(run)


def _build_index(loaded_run) -> None:
    try:
        loaded_run.copy_index
    except ValueError:
        log.info("the corpus of %s cannot be loaded", loaded_run.run.name)
    finally:
        with _INDEX_LOCK:
            _BUILDING.discard(loaded_run.run.path)


_INDEX_LOCK = threading.Lock()
_BUILDING: set = set()  # runs whose corpus a background thread is parsing


def compose(run_dir: str | Path, epoch: int | None = None, *, score: bool = False,
            metrics: bool = False, stereo: bool = True, **options) -> list[Composition]:
    """``core.generation.compose.compose`` with the cached generator and copy index: ``options`` as for
    ``Generator.generate``; ``stereo=False`` renders mono (half the WAV for a browser)."""
    from core.generation.compose import compose as compose_pieces
    from core.runs import Run

    run = Run(run_dir)
    index = None
    if metrics:
        index = _ready_corpus_index(run)
    made, _ = compose_pieces(load_generator(run.path, epoch), f"{run.name} · {checkpoint_label(run, epoch)}",
                             stereo=stereo, sample_rate=SAMPLE_RATE, preview=True, score=score,
                             copy_index=index, with_metrics=metrics, **options)
    for c in made:
        c.settings.update(run=run.name, epoch=epoch)
    return made


METRIC_LABELS = {
    "duration_seconds": ("Length", "{:.1f} s", None),
    "copy_rate": ("Copied", "{:.0%}", "Share of the piece's 8-onset stretches found note for note "
                  "in the training corpus."),
    "longest_copy_seconds": ("Longest copy", "{:.1f} s", "The longest stretch that appears note "
                             "for note in the training corpus."),
    "loop_rate": ("Looping", "{:.0%}", "Share of the piece stuck in a repeating cycle."),
    "distinct_pitches": ("Pitches", "{:d}", "Different pitches used."),
}


def show_metrics(metrics: dict[str, Any], piece=None) -> None:
    """A row of st.metric for the copy/loop numbers that are present."""
    values = dict(metrics)
    if piece is not None:
        values.setdefault("duration_seconds", piece.duration_seconds)
    shown = [(k, values[k]) for k in METRIC_LABELS if values.get(k) is not None]
    if not shown:
        return
    cols = st.columns(len(shown))
    for col, (k, v) in zip(cols, shown):
        label, fmt, helptext = METRIC_LABELS[k]
        try:
            text = fmt.format(int(v) if "d}" in fmt else float(v))
        except (TypeError, ValueError):
            text = str(v)
        col.metric(label, text, help=helptext)


@st.cache_data(show_spinner=False, max_entries=32)
def _musicxml(midi: bytes, _piece, title: str | None, model: str | None) -> bytes:
    """MusicXML of ``_piece``, cached by its MIDI bytes (for pieces composed without a score)."""
    from core.render import to_musicxml

    return to_musicxml(_piece, title=title, model=model)


@st.cache_data(show_spinner=False, max_entries=32)
def _score_page(musicxml: bytes, large: bool) -> str:
    """The score's pages engraved by Verovio, in a page with previous / next buttons."""
    from core.render import score_page

    return score_page(musicxml, large=large)


SCORE_PX = {False: 560, True: 720}  # the score's frame; a page taller than that scrolls


def show_music(piece, wav: bytes | None, key: str, *, musicxml: bytes | None = None,
               title: str | None = None, model: str | None = None,
               roll_height: int | None = None, score_problem: str | None = None,
               preview: bytes | None = None, passages: list | None = None) -> None:
    """The piano roll that plays along (audio and roll in one element; it carries ``preview``,
    the Ogg Vorbis of ``wav``, when there is one) and, in a "Score" tab beside it, the sheet
    music (engraved only when the tab is opened; from ``musicxml``, or written from ``piece``
    then). Demo mode makes both larger. ``passages`` (``core.evaluation.copies``): copied notes
    are outlined, and listed under the roll with the original to play beside each."""
    from app_ui.copies import copied_labels, show_passages
    from core.render.player import player_height, player_html

    large = demo_mode()
    roll_tab, score_tab = st.tabs(["Piano roll", "Score"], key=f"{key}_view", on_change="rerun")
    with roll_tab:
        height = player_height(piece, large, roll_height)
        st.iframe(player_html(piece, wav, height=height, large=large, preview=preview,
                              copied=copied_labels(piece, passages)), height=height + 8)
        show_passages(piece, passages, key)
    if not score_tab.open:
        return
    with score_tab:
        if score_problem:
            st.info(f"No score: {score_problem}.", icon=":material/music_off:")
            return
        try:
            with st.spinner("Engraving the score…"):
                xml = musicxml if musicxml is not None else _musicxml(piece.to_midi_bytes(), piece, title, model)
                page = _score_page(xml, large)
        except Exception as e:  # a plain message; the details go to the server log
            log.warning("no score for %s: %s", title or getattr(piece, "name", "a piece"), e)
            st.info(f"No score: {explain(e)}.", icon=":material/music_off:")
            return
        st.iframe(page, height=SCORE_PX[large])


def show_composition(c: Composition, key: str, *, downloads: bool = True, roll_height: int | None = None) -> None:
    """The playing piano roll and score, metrics and download buttons for one composition."""
    if c.audio_warning:
        st.warning(c.audio_warning, icon=":material/volume_up:")
    show_music(c.piece, c.wav, key, musicxml=c.musicxml, title=c.title, preview=c.preview,
               model=c.settings.get("run"), roll_height=roll_height, score_problem=c.musicxml_problem,
               passages=c.passages)
    show_metrics(c.metrics, c.piece)
    if downloads:
        stem = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in c.title)[:60].strip("-")
        cols = st.columns(3)
        cols[0].download_button("MIDI", c.midi, f"{stem}.mid", "audio/midi", key=f"{key}_mid", icon=":material/download:",
                                on_click="ignore", width="stretch")
        cols[1].download_button("WAV", c.wav, f"{stem}.wav", "audio/wav", key=f"{key}_wav", icon=":material/download:",
                                on_click="ignore", width="stretch")
        if c.musicxml is not None:
            cols[2].download_button("MusicXML", c.musicxml, f"{stem}.musicxml",
                                    "application/vnd.recordare.musicxml+xml", key=f"{key}_xml", icon=":material/download:",
                                    on_click="ignore", width="stretch")
        elif c.musicxml_problem:
            cols[2].caption(f"No score: {c.musicxml_problem}.")


def show_checkpoint_sample(run, epoch: int, key: str, height: int = 260, *, metrics: bool = True) -> None:
    """One checkpoint's sample (the Gallery's, and the Train page's while a job runs): audio,
    piano roll with its copied passages, and its measures (or why there is none)."""
    from app_ui.copies import sample_passages   # (it imports this module)

    path = run.sample_path(epoch, ".mid")
    if not path.is_file():
        st.caption(f"No sample was saved for epoch {epoch}.")
        return
    stamp = path.stat().st_mtime
    with action(f"Playing the epoch {epoch} sample", hint="Pick another checkpoint."):
        wav, warning = midi_file_audio(str(path), stamp)
        if warning:
            st.warning(warning, icon=":material/volume_up:")
        piece = midi_file_piece(str(path), stamp)
        show_music(piece, wav, key=f"{key}_roll", roll_height=height,
                   title=f"{run.name} · epoch {epoch}", model=run.name,
                   passages=sample_passages(run, piece))
        if metrics:
            show_metrics(run.sample_metrics(epoch))
