"""Copied passages under a roll: where each comes from, and the original to hear beside it.

``show_passages`` lists a piece's copied passages (``core.evaluation.copies.Passage``, longest
first) with a **Play the original** button each; the chosen one is shown as two playing rolls
side by side, the copy and the training piece's own bars, both rendered by the same audio path
(``app_ui.music.audio_for``) and drawn by the same player (``core.render.player``).
"""

from __future__ import annotations

import streamlit as st

MAX_SHOWN = 8       # passages listed under a roll (the longest)
PAIR_ROLL_PX = 200  # height of each roll of a copy / original pair


def copied_labels(piece, passages) -> list[str] | None:
    """Per note of ``piece``: its passage's label or ``""``; ``None`` when nothing is copied."""
    from core.evaluation.copies import copied_note_labels

    return copied_note_labels(piece, passages) if passages else None


def show_passages(piece, passages, key: str) -> None:
    """The list of copied passages under a roll, and the chosen one next to its original."""
    if not passages:
        return
    shown = sorted(passages, key=lambda p: (-p.notes, p.start_s))[:MAX_SHOWN]
    more = f" (the {len(shown)} longest of {len(passages)})" if len(passages) > len(shown) else ""
    st.markdown(f"**Copied from the training pieces**{more}: outlined in the roll.")
    state = f"{key}_original"
    for i, p in enumerate(shown):
        text, button = st.columns([5, 2], vertical_alignment="center")
        text.markdown(f"{p.start_s:.1f}–{p.end_s:.1f} s · {p.notes} notes · {p.label()}")
        button.button("Play the original", key=f"{key}_orig_{i}", icon=":material/compare_arrows:",
                      on_click=st.session_state.__setitem__, args=(state, i), width="stretch")
    choice = st.session_state.get(state)
    if choice is None or choice >= len(shown):
        return
    _pair(piece, shown[choice], key)


def _pair(piece, passage, key: str) -> None:
    from app_ui.music import audio_for
    from app_ui.settings import demo_mode
    from core.render.player import player_height, player_html

    spb = piece.seconds_per_beat
    copy = piece.slice_beats(passage.start_s / spb - 1e-6, passage.end_s / spb)
    original = passage.original()
    large = demo_mode()
    left, right = st.columns(2)
    for col, music, title in ((left, copy, f"The copy ({passage.start_s:.1f}–{passage.end_s:.1f} s)"),
                              (right, original, f"The original: {original.name}")):
        with col:
            st.caption(title)
            wav, _ = audio_for(music)
            height = player_height(music, large, PAIR_ROLL_PX)
            st.iframe(player_html(music, wav, height=height, large=large), height=height + 8)


# --- the Gallery ---------------------------------------------------------------------------
def copying_story(run) -> float:
    """How much a run's chart shows copying grow: the rise of its samples' copy rate from its
    first checkpoint to its most copying one (0 when it has no sample metrics)."""
    rates = [m.get("copy_rate") for m in (run.sample_metrics(e) for e in run.epochs())]
    rates = [r for r in rates if isinstance(r, (int, float))]
    return max(rates) - rates[0] if rates else 0.0


def first_run(runs) -> int:
    """The run the Gallery opens first: the one whose chart shows the copying story best
    (a shipped run first among equals), else the first."""
    stories = [(copying_story(r), r.shipped) for r in runs]
    best = max(range(len(runs)), key=lambda i: stories[i]) if runs else 0
    return best if runs and stories[best][0] > 0 else 0


def sample_passages(run, piece) -> list | None:
    """A checkpoint sample's copied passages against the run's training pieces; ``None`` while
    the corpus is not ready (parsed in the background) or when it is gone."""
    from app_ui.music import copy_index_for

    index = copy_index_for(run)
    return index.passages(piece) if index is not None else None


def show_checkpoint_passages(run, epochs, piece_of) -> None:
    """Every checkpoint's copied passages, one line each: stepping along the epochs shows them
    appear and lengthen. ``piece_of(epoch)`` is the epoch's sample (or ``None``)."""
    from app_ui.music import copy_index_for

    index = copy_index_for(run)
    if index is None:
        st.caption("The training corpus is being read; the copied passages follow.")
        return
    rows = {"epoch": [], "passages": [], "copied notes": [], "longest passage": []}
    for epoch in epochs:
        piece = piece_of(epoch)
        if piece is None:
            continue
        found = index.passages(piece)
        longest = max(found, key=lambda p: p.notes, default=None)
        rows["epoch"].append(epoch)
        rows["passages"].append(len(found))
        rows["copied notes"].append(sum(p.notes for p in found))
        rows["longest passage"].append(longest.label() if longest else "")
    st.dataframe(rows, hide_index=True, key="gallery_passages_table")


def show_heldout_borrowing(run) -> None:
    """The held-out pieces' own borrowing from the training pieces (the dotted line), with
    examples: which held-out piece shares which passage with which training piece."""
    from app_ui.music import _loaded_run

    loaded_run = _loaded_run(str(run.path), run.config.get("created"))
    if not loaded_run.corpus_is_cached:
        return
    try:
        borrowed = [(name, p) for name, found in loaded_run.heldout_passages for p in found]
    except ValueError:  # the run's corpus is gone
        return
    with st.expander(f"Real music borrows too: {len(borrowed)} passages the held-out pieces "
                     "share with the training pieces"):
        if not borrowed:
            st.caption("The held-out pieces share no run of notes with the training pieces.")
        for name, p in sorted(borrowed, key=lambda x: -x[1].notes)[:MAX_SHOWN * 2]:
            st.markdown(f"held-out **{name}**, {p.start_s:.1f}–{p.end_s:.1f} s: {p.notes} notes "
                        f"shared — {p.label()}")
