"""Composer Studio: the entry point only routes to the pages in pages/."""

import streamlit as st

st.set_page_config(page_title="Composer Studio", page_icon=":material/piano:", layout="wide")
# kiosk-safe: no traceback ever reaches the screen (the console keeps it), no Deploy button
st.set_option("client.showErrorDetails", "none")
st.set_option("client.toolbarMode", "minimal")
st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/corpus.py", title="Corpus", icon=":material/library_music:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/gallery.py", title="Gallery", icon=":material/photo_library:"),
    st.Page("pages/generate.py", title="Generate", icon=":material/tune:"),
]).run()
