"""Composer Studio: the entry point only routes to the pages in pages/."""

from pathlib import Path

import streamlit as st

from app_ui.rights import sign_in
from app_ui.routing import routing
from core.generation.pool import all_busy

# the icon ships as a file: a ":material/..." page icon is fetched from fonts.gstatic.com
ICON = str(Path(__file__).resolve().parent / "app_ui" / "assets" / "favicon.png")
st.set_page_config(page_title="Composer Studio", page_icon=ICON, layout="wide")
sign_in()  # room mode: a presenter link's ?key= leaves the address; a cookie's right returns
# The kiosk settings (no traceback on screen, no Deploy button, no file watcher) are server
# settings: .streamlit/config.toml, read before the first request.
# routing: the page run below was routed here (app_ui.routing); all_busy: a visitor is being
# served, so Home's pool of pieces composed ahead (app_ui.ready) makes nothing meanwhile
with routing(), all_busy():
    st.navigation([
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/corpus.py", title="Corpus", icon=":material/library_music:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/gallery.py", title="Gallery", icon=":material/photo_library:"),
        st.Page("pages/generate.py", title="Generate", icon=":material/tune:"),
    ]).run()
