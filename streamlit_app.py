"""Composer Studio: the entry point only routes to the pages in pages/."""

import streamlit as st

st.set_page_config(page_title="Composer Studio", page_icon="🎹", layout="wide")
st.title("Composer Studio")
st.write("Train LSTMs on MIDI and make music with them. The pages are on their way.")
