"""Composer Studio: the entry point only routes to the pages in pages/."""

import streamlit as st

st.set_page_config(page_title="Composer Studio", page_icon="🎹", layout="wide")
st.navigation([
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/corpus.py", title="Corpus", icon="📚"),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
    st.Page("pages/gallery.py", title="Gallery", icon="🖼️"),
    st.Page("pages/generate.py", title="Generate", icon="🎼"),
]).run()
