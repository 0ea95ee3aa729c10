"""Composer Studio's library: corpora, encodings, models, training, generation, rendering.

Nothing in this package imports Streamlit; the app in ``pages/`` only calls into it.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter, not errors

__version__ = "0.1.0"
