"""Corpus: load a built-in corpus or uploaded MIDI, see its statistics and skipped files, preview pieces."""

import streamlit as st

from app_ui import action, page_guard, upload_limit_mb
from app_ui.layout import demo_notice, header
from app_ui.rights import granted
from app_ui.copies import sample_passages
from app_ui.music import audio_for, show_music, usable_runs
from app_ui.uploads import as_pairs, load_uploads, save_uploads
from app_ui.routing import routed_page

routed_page()  # a deep link to this page still runs streamlit_app.py first

header("Corpus", "The music a model learns from. Pick a built-in collection or upload your "
       "own MIDI files, then look at what is in it before training.")

AUTO_VOCAB_PIECES = 150  # fit every encoding without asking up to this many pieces
STAT_LABELS = {  # key in CorpusResult.stats() -> label
    "pieces": "Pieces", "notes": "Notes", "duration_seconds": "Total duration",
    "pitch_min": "Lowest pitch", "pitch_max": "Highest pitch",
}
NOTE_NAMES = [f"{n}{octave - 1}" for octave in range(11)
              for n in ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")]


def _progress_bar():
    """A progress bar and the ``progress(done, total, name)`` callback that moves it."""
    bar = st.progress(0.0, text="Starting…")

    def progress(done: int, total: int, name: str = "") -> None:
        bar.progress(min(done / total, 1.0) if total else 0.0,
                     text=f"Parsing {done}/{total} {name}".rstrip())
    return bar, progress


def _format(key: str, value) -> str:
    if key.startswith("duration") and isinstance(value, (int, float)):
        minutes = value / 60
        return f"{minutes / 60:.1f} h" if minutes >= 120 else f"{minutes:.0f} min"
    if key.startswith("pitch") and isinstance(value, int) and 0 <= value < 128:
        return f"{NOTE_NAMES[value]} ({value})"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{value[0]}–{value[1]}"
    return str(value)


def _vocab_sizes(pieces) -> dict[str, str]:
    """Vocabulary size per encoding (fitted on these pieces), or why it does not apply."""
    from core.encodings import vocabulary_sizes

    return {name: f"{size:,}" if isinstance(size, int) else f"— ({size})"
            for name, size in vocabulary_sizes(pieces).items()}


with page_guard("Corpus"):
    from core import corpus

    builtin_tab, upload_tab = st.tabs(["Built-in corpus", "Upload MIDI"])
    with builtin_tab:
        catalog = {b["name"]: b for b in corpus.list_builtin()}
        name = st.selectbox("Corpus", list(catalog), key="corpus_builtin",
                            format_func=lambda n: f"{n} ({catalog[n]['pieces']:,} pieces)")
        st.caption(catalog[name]["description"])
        max_pieces = st.number_input("Pieces to load (0 = all of them)", min_value=0, value=100,
                                     step=50, key="corpus_max_pieces",
                                     help="Large corpora take a while to parse the first time; "
                                          "after that they load from the cache.")
        if st.button("Load corpus", key="corpus_load", type="primary"):
            with action("Loading the corpus", hint="Try fewer pieces, or another corpus."):
                bar, progress = _progress_bar()
                result = corpus.load(name, max_pieces=max_pieces or None, progress=progress)
                bar.empty()
                st.session_state["corpus_result"] = result
                st.session_state.pop("corpus_vocab", None)

    with upload_tab:
        if not granted():  # demo mode, or the audience in a room (app_ui.rights)
            demo_notice("Uploading MIDI")
        else:
            limit = upload_limit_mb()
            files = st.file_uploader(f"MIDI files (.mid, .midi, .rmi) or a .zip of them — up to "
                                     f"{limit:g} MB in all", type=["mid", "midi", "rmi", "kar", "zip"],
                                     accept_multiple_files=True, key="corpus_upload")
            set_name = st.text_input("Name for this corpus", value="my-midi", key="corpus_upload_name")
            if st.button("Load uploaded files", key="corpus_upload_load", type="primary"):
                with action("Reading your files", hint="Check that they are MIDI files (.mid) or a "
                            f".zip of them, under {limit:g} MB in all, and upload again."):
                    pairs = as_pairs(files)
                    bar, progress = _progress_bar()
                    try:
                        result = load_uploads(pairs, progress=progress)
                    finally:
                        bar.empty()
                    folder = save_uploads(set_name, result.pieces)
                    st.session_state["corpus_result"] = result
                    st.session_state.pop("corpus_vocab", None)
                    st.success(f"Saved as the corpus `{folder.name}`: you can train on it on the "
                               "Train page.", icon=":material/check_circle:")

    result = st.session_state.get("corpus_result")
    if result is not None:
        st.subheader(f"{result.name}")
        st.write(result.summary())
        stats = result.stats()
        shown = [(k, v) for k, v in stats.items() if k in STAT_LABELS and not isinstance(v, dict)]
        if shown:
            for col, (k, v) in zip(st.columns(len(shown)), shown):
                col.metric(STAT_LABELS[k], _format(k, v))
        others = {k: v for k, v in stats.items() if k not in STAT_LABELS}
        if others:
            with st.expander("More statistics"):
                st.json(others)

        with st.expander("Vocabulary size per encoding", expanded=True):
            if "corpus_vocab" not in st.session_state:
                small = len(result.pieces) <= AUTO_VOCAB_PIECES  # a few seconds: just do it
                if small or st.button("Count tokens in every encoding", key="corpus_vocab_button"):
                    with action("Counting vocabularies"), st.spinner("Fitting every encoding…"):
                        st.session_state["corpus_vocab"] = _vocab_sizes(result.pieces)
            vocab = st.session_state.get("corpus_vocab")
            if vocab:
                st.table({"encoding": list(vocab), "vocabulary": list(vocab.values())})

        if result.repaired:
            with st.expander(f"Repaired files ({len(result.repaired)})", expanded=True):
                st.caption("Used, read past damage the way other MIDI tools read it:")
                st.dataframe({"file": [f for f, _ in result.repaired],
                              "repaired": ["; ".join(r) for _, r in result.repaired]},
                             hide_index=True, key="corpus_repaired")

        if result.skipped:
            with st.expander(f"Skipped files ({len(result.skipped)})", expanded=True):
                st.dataframe({"file": [f for f, _ in result.skipped],
                              "reason": [r for _, r in result.skipped]},
                             hide_index=True, key="corpus_skipped")

        if result.pieces:
            st.subheader("Preview a piece")
            index = st.selectbox("Piece", range(len(result.pieces)), key="corpus_preview",
                                 format_func=lambda i: result.pieces[i].name)
            piece = result.pieces[index]
            runs = [r for r in usable_runs() if not r.config.get("model", {}).get("features")]
            against = st.selectbox("Mark what it copies from the training pieces of", [None, *runs],
                                   key="corpus_copies_run", format_func=lambda r: "no run" if r is None
                                   else r.name, help="For a piece a model made: which notes come "
                                   "from which of the run's training pieces.")
            with action("Preview", hint="Pick another piece."):
                with st.spinner("Rendering audio…"):
                    wav, warning = audio_for(piece)
                if warning:
                    st.warning(warning, icon=":material/volume_up:")
                passages = sample_passages(against, piece) if against is not None else None
                if against is not None and passages is None:
                    st.caption(f"{against.name}'s training pieces are still being read; the copied "
                               "notes show in a moment.")
                show_music(piece, wav, key="corpus_roll", title=piece.name, passages=passages)
