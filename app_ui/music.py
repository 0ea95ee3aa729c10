"""Cached calls into ``core`` for the pages, and the one way a composition is shown.

- models: ``load_generator`` (``st.cache_resource``: one per checkpoint file per process), the
  copy index of a run's corpus (``corpus_index``), and ``warm_up`` (the compose path, once);
- audio: ``audio_for`` / ``midi_file_audio`` (``st.cache_data`` keyed by MIDI bytes or file), so
  a rerun never re-renders;
- runs: ``all_runs``, ``usable_runs``, ``default_run``, ``checkpoint_choices``;
- results: ``Composition`` and ``show_composition`` (audio, piano roll, metrics, downloads).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from app_ui.settings import run_roots

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
    from core import gallery
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
def _generator(run_dir: str, epoch: int | None, stamp: float):
    from core.generate import Generator

    return Generator.from_run(run_dir, epoch=epoch)


def load_generator(run_dir: str | Path, epoch: int | None = None):
    """The generator for one checkpoint, loaded once per process (and again if the file changes)."""
    from core.runs import Run

    run = Run(run_dir)
    return _generator(str(run.path), epoch, _stamp(run.checkpoint(epoch)))


# --- audio and pictures --------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=128)
def _wav_from_midi(midi: bytes, name: str) -> tuple[bytes, str | None]:
    from core.piece import Piece
    from core.render import render_audio
    import io
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(io.BytesIO(midi))
    audio = render_audio(Piece.from_midi(pm, name), sample_rate=SAMPLE_RATE)
    return audio.wav_bytes(), audio.warning


SAMPLE_RATE = 32000  # Hz: plenty for a GM soundfont in a browser, and a smaller page than 44.1k


def render(piece, stereo: bool = True) -> tuple[bytes, str | None]:
    """``(wav bytes, fallback warning or None)`` for a Piece."""
    from core.render import render_audio

    audio = render_audio(piece, sample_rate=SAMPLE_RATE, stereo=stereo)
    return audio.wav_bytes(), audio.warning


def audio_for(piece) -> tuple[bytes, str | None]:
    """``(wav bytes, warning)`` for a Piece, cached by its MIDI bytes (corpus previews)."""
    return _wav_from_midi(piece.to_midi_bytes(), piece.name)


@st.cache_data(show_spinner=False, max_entries=64)
def midi_file_audio(path: str, stamp: float) -> tuple[bytes, str | None]:
    """WAV for a MIDI file on disk (checkpoint samples), cached by path and modification time."""
    return _wav_from_midi(Path(path).read_bytes(), Path(path).stem)


@st.cache_data(show_spinner=False, max_entries=64)
def midi_file_piece(path: str, stamp: float):
    """The Piece in a MIDI file on disk (checkpoint samples)."""
    import pretty_midi

    from core.piece import Piece

    return Piece.from_midi(pretty_midi.PrettyMIDI(path), Path(path).stem)


@st.cache_resource(show_spinner=False)
def warm_up(run_dir: str) -> bool:
    """Run the whole compose path once per process (model, sampler, FluidSynth with its
    soundfont, MIDI writer, piano roll, the corpus copy index) so that the first real Compose
    is as quick as the rest."""
    try:
        c = compose(run_dir, length=16, seed=1, metrics=True, stereo=False)[0]
        piano_roll(c.piece).to_json()
    except Exception:  # a real problem shows up, with its message, when a person composes
        return False
    return True


def piano_roll(piece, title: str | None = None, height: int | None = None):
    from core.render import piano_roll as roll

    return roll(piece, title, height=height)


# --- compositions --------------------------------------------------------------------------
@dataclass
class Composition:
    """One generated piece, ready to show: everything is bytes or plain data."""

    title: str
    piece: Any
    midi: bytes
    wav: bytes
    audio_warning: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    musicxml: bytes | None = None
    musicxml_problem: str | None = None
    created: float = field(default_factory=time.time)

    @property
    def key(self) -> str:
        return hashlib.sha1(self.midi + str(self.created).encode()).hexdigest()[:10]


@st.cache_resource(show_spinner=False, max_entries=8)
def _corpus_index(run_dir: str, created: Any):
    """The copy-rate index of a run's training pieces (built once per run per process)."""
    from core.generate import corpus_split
    from core.metrics import CorpusIndex
    from core.runs import Run

    run = Run(run_dir)
    train, _ = corpus_split(run)
    return CorpusIndex(train, instruments=run.tokenizer().instrument_kind)


def corpus_index(run):
    return _corpus_index(str(run.path), run.config.get("created"))


def compose(run_dir: str | Path, epoch: int | None = None, *, score: bool = False,
            metrics: bool = False, stereo: bool = True, **options) -> list[Composition]:
    """Generate with ``options`` (see ``core.generate.Generator.generate``) and render each
    variation; ``metrics`` adds copy and loop rates, ``score`` a MusicXML file; ``stereo=False``
    renders mono (half the WAV for the browser to fetch and decode)."""
    from core.runs import Run

    run = Run(run_dir)
    generator = load_generator(run.path, epoch)
    result = generator.generate(**options)
    pieces = result.pieces
    out = []
    for i, piece in enumerate(pieces, start=1):
        wav, warning = render(piece, stereo)
        title = f"{run.name} · {checkpoint_label(run, epoch)}"
        if len(pieces) > 1:
            title += f" · variation {i}"
        c = Composition(title=title, piece=piece, midi=piece.to_midi_bytes(), wav=wav,
                        audio_warning=warning,
                        settings={"run": run.name, "epoch": epoch, **_plain(options), "seed": result.seed})
        if metrics:
            c.metrics = _metrics(run, piece)
        if score:
            from core.render import to_musicxml
            try:
                c.musicxml = to_musicxml(piece, title=title)
            except ValueError as e:  # e.g. a drum-only piece has no score; say so by the buttons
                c.musicxml_problem = str(e)
            except Exception:  # music21 could not notate it: a short note here, details in the log
                log.exception("MusicXML export failed for %s", title)
                c.musicxml_problem = "the score export failed for this piece (MIDI and WAV are fine)"
        out.append(c)
    return out


def _metrics(run, piece) -> dict[str, Any]:
    """Copy and loop numbers of a generated piece; loop rate alone if the corpus is gone."""
    from core.metrics import piece_metrics

    try:
        return piece_metrics(piece, corpus_index(run))
    except ValueError:  # the run's corpus cannot be loaded any more (e.g. a deleted upload)
        return piece_metrics(piece)


def _plain(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if isinstance(v, (int, float, str, bool, type(None)))}


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


def show_composition(c: Composition, key: str, *, downloads: bool = True, roll_height: int | None = None) -> None:
    """Audio player, piano roll, metrics and download buttons for one composition."""
    if c.audio_warning:
        st.warning(c.audio_warning, icon=":material/volume_up:")
    st.audio(c.wav, format="audio/wav")
    st.plotly_chart(piano_roll(c.piece, height=roll_height), key=f"{key}_roll", width="stretch")
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
