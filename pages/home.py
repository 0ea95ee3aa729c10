"""Home: what this is, and one button that composes a piece with the default gallery model."""

import streamlit as st

from app_ui import action, live, page_guard
from app_ui.answer import show_answer_panel
from app_ui.charts import empty_roll
from app_ui.layout import header
from app_ui.music import default_run, show_composition, warm_up
from app_ui.room import show_join_code
from app_ui.ready import home_piece
from app_ui.rights import is_presenter
from app_ui.settings import room_mode
from app_ui.routing import routed_page

routed_page()  # a deep link to this page still runs streamlit_app.py first

header("Composer Studio",
       "A small neural network (an LSTM) learned music from a corpus of MIDI files — Bach "
       "chorales for the one below. Press **Compose** and it writes a new piece, one note at a "
       "time: you hear it, see it as a piano roll, and can download it.\n\n"
       "Then explore: load a **Corpus** or upload your own MIDI, **Train** a model and watch "
       "its loss fall, browse the **Gallery** to hear when a model starts copying its corpus, "
       "and **Generate** with every slider.")

with page_guard("Home"):
    if is_presenter():
        show_join_code()
    run = default_run()
    if run is None:
        st.warning("No model is installed yet, so there is nothing to compose with.", icon=":material/piano:")
        st.page_link("pages/train.py", label="Train one on the Train page", icon=":material/model_training:")
    else:
        with st.spinner("Warming up the model and the synthesizer…"):
            warm_up(str(run.path))  # cached per process: only the first visit waits
        if st.button("Compose", icon=":material/music_note:", key="home_compose", type="primary", width="stretch"):
            with action("Composing", hint="Press Compose again, or choose another model on the "
                        "Generate page."):
                with st.spinner("Composing…"):
                    st.session_state["home_result"] = home_piece(run.path)
        result = st.session_state.get("home_result")
        if result is None:
            st.plotly_chart(empty_roll("Your piece will appear here"), key="home_empty_roll",
                            width="stretch")
        else:
            show_composition(result, key="home_result", roll_height=320)
            st.page_link("pages/generate.py", label="More control: temperature, length, primer…",
                         icon=":material/tune:")
        st.subheader("Play something, the model answers")
        show_answer_panel(run)   # the second way in: a phrase on the keyboard, then Answer
        st.caption(f"Model: `{run.name}` — see its model card in the Gallery.")
    if room_mode():
        live.show()  # the presenter's training, live, for every phone
