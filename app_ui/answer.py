"""Play something, the model answers: the keyboard, the phrase it sends, and the answer.

:func:`played` shows the keyboard for a checkpoint (drum pads for a drum run) and returns
the phrase (``core.generation.phrase.Phrase``) on the rerun Answer caused, with what was
changed to make it playable said under the keyboard; :func:`phrase_options` are the primer
arguments of ``compose``. :func:`show_answer_panel` is Home's second way in: the keyboard,
a ten-second answer from the model, and the result (phrase and answer in two colours, one
piece to play and download).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app_ui.errors import action
from app_ui.keyboard import keyboard
from app_ui.music import compose, load_generator, show_composition
from app_ui.settings import demo_mode

ANSWER_SECONDS = 10
# Home's answer: the sampler of Home's Compose (app_ui.ready.HOME_OPTIONS), ten seconds long
HOME_ANSWER = dict(seconds=ANSWER_SECONDS, length=1024, temperature=1.0, top_k=20,
                   anti_loop=0.5, stereo=False, metrics=True)


@st.cache_data(show_spinner=False, max_entries=16)
def _drum_keys(run_dir: str, epoch: int | None) -> list[tuple[int, str]] | None:
    from core.generation.phrase import drum_keys

    tokenizer = load_generator(run_dir, epoch).tokenizer
    return drum_keys(tokenizer) if tokenizer.instrument_kind == "drums" else None


def played(run, epoch: int | None, key: str):
    """The keyboard for ``run``'s checkpoint ``epoch``; the phrase when Answer was pressed."""
    from core.generation.phrase import played_phrase

    drums = _drum_keys(str(run.path), epoch)
    sent = keyboard(key, drums=drums, large=demo_mode())
    if sent is None:
        return None
    with action("Reading what you played", hint="Play a few notes, then press Answer.") as done:
        phrase = played_phrase(sent.get("notes"), load_generator(run.path, epoch).tokenizer,
                               tempo=sent.get("tempo", 120), click_start=sent.get("click_start"))
    if not done.ok:
        return None
    for notice in phrase.notices:
        st.info(notice[0].upper() + notice[1:] + ".", icon=":material/music_note:")
    return phrase


def phrase_options(phrase) -> dict[str, Any]:
    """``compose``'s primer arguments for a played phrase (its tempo is the piece's)."""
    return {"primer": "phrase", "primer_piece": phrase.piece, "tempo": float(phrase.piece.tempo)}


def show_answer_panel(run, key: str = "home_play") -> None:
    """Home's "Play something, the model answers": keyboard, Answer, the result."""
    phrase = played(run, None, f"{key}_keys")
    if phrase is not None:
        with action("Answering", hint="Play a phrase again and press Answer, or use the "
                    "Generate page's 'What I play' with another model."):
            with st.spinner("The model is answering…"):
                st.session_state[f"{key}_result"] = compose(run.path, **HOME_ANSWER,
                                                            **phrase_options(phrase))[0]
    result = st.session_state.get(f"{key}_result")
    if result is not None:
        st.caption("Your phrase and the model's answer, in two colours: one piece.")
        show_composition(result, key=f"{key}_result", roll_height=260)
