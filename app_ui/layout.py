"""Page chrome: the title, the demo-mode banner and its large controls."""

from __future__ import annotations

import streamlit as st

from app_ui.settings import demo_mode, room_mode

# Demo mode: bigger text, buttons and slider handles, readable from the back of a room.
DEMO_CSS = """
<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 20px; }
.stButton > button, .stDownloadButton > button { font-size: 1.35rem; padding: 0.8rem 1.6rem; min-height: 3.4rem; }
[data-testid="stSlider"] [role="slider"] { width: 1.6rem; height: 1.6rem; }
[data-testid="stWidgetLabel"] p { font-size: 1.15rem; }
</style>
"""


# No decorative motion (spinning icons, fades while a page reruns): the words stay, and a room
# of phones waiting for their pieces does not spend its CPU on animation. Measured with 10
# headless pages composing at once: the browsers' CPU fell from 6-8 s to 3.5 s
# (docs/benchmarks.md, "A room of phones").
STILL_CSS = """
<style>
*, *::before, *::after { animation: none !important; transition: none !important; }
</style>
"""


def header(title: str, intro: str | None = None) -> None:
    st.markdown(STILL_CSS, unsafe_allow_html=True)
    if demo_mode():
        st.markdown(DEMO_CSS, unsafe_allow_html=True)
    st.title(title)
    if intro:
        st.markdown(intro)


def demo_notice(what: str) -> None:
    """Say plainly that ``what`` is not this session's (demo mode, or the audience in a room)."""
    if room_mode() and not demo_mode():
        st.info(f"{what} is the presenter's. Follow the training on Home or below, and compose "
                "with any model on Home and the Generate page.", icon=":material/co_present:")
        return
    st.info(f"{what} is switched off in demo mode. The gallery models are ready to play with "
            "on the Generate page.", icon=":material/mic:")
