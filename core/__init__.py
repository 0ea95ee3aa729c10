"""Composer Studio's library: corpora, encodings, models, training, generation, rendering.

Nothing in this package imports Streamlit; the app in ``pages/`` only calls into it.
"""

__version__ = "0.1.0"
