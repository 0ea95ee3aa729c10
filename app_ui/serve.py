"""``make run`` and ``make room``: Streamlit's own ``run`` command on ``streamlit_app.py``, warm
before the first visitor comes.

    python -m app_ui.serve [--room] [streamlit run options, e.g. --server.port 8501]

Without ``--room`` (``make run``) the server listens on 127.0.0.1 only: this machine, with
every right, unless ``--server.address`` says otherwise. ``--room`` (``make room``) serves
every interface, everyone as audience but the presenter link's browser (``app_ui.room``,
``app_ui.rights``).

The server process starts a background warm-up as soon as Streamlit's runtime exists
(``app_ui.ready.start``: the default model, FluidSynth with its soundfont, Home's pool of
pieces composed ahead), so the first Compose is as quick as the rest. Streamlit's upload cap is
set from ``COMPOSER_UPLOAD_MB``, the same limit the app's own upload check uses; the other
server settings are in ``.streamlit/config.toml``.
"""

from __future__ import annotations

import math
import sys
import threading
import time

from app_ui.routing import ENTRY_POINT
from app_ui.settings import upload_limit_mb


def _keep_keras_state() -> None:
    """Streamlit calls ``keras.backend.clear_session()`` after every script run once Keras is
    imported (a guard for apps that build models in their script). This app builds none in a
    script (models are loaded once per process and generate in NumPy), and the call was 40 % of
    the server's script-thread time with ten visitors pressing Compose at once (py-spy), so it
    is left out; the hook's other half, closing pyplot's figures, stays. ``tests/test_serving.py``
    fails if Streamlit moves the hook."""
    from streamlit.runtime.scriptrunner import script_runner

    script_runner._clean_problem_modules = _close_pyplot_figures


def _uploads_need_the_right() -> None:
    """Streamlit's upload endpoint (``PUT /_stcore/upload_file/SESSION/FILE``) stores a file
    for any live session in memory until that session ends, whether or not its page shows an
    uploader. Its file manager's ``add_file`` is where a file is kept: this wraps it to refuse
    (403, nothing kept) a session without the right to upload (``app_ui.rights``: in room mode
    the audience, in demo mode everyone), so a phone cannot fill the server's memory.
    ``tests/test_rights.py`` sends real requests through Streamlit's own route."""
    from starlette.exceptions import HTTPException
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    from app_ui import rights

    keep = MemoryUploadedFileManager.add_file
    if getattr(keep, "needs_the_right", False):
        return

    def add_file(self, session_id: str, file) -> None:
        if not rights.session_granted(session_id):
            raise HTTPException(status_code=403, detail="only the presenter can upload here")
        keep(self, session_id, file)

    add_file.needs_the_right = True
    MemoryUploadedFileManager.add_file = add_file


def _close_pyplot_figures() -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


def _warm_when_serving() -> None:
    from streamlit.runtime import Runtime

    while not Runtime.exists():
        time.sleep(0.1)
    from app_ui import ready

    ready.start()


LOCAL_ONLY = ["--server.address", "127.0.0.1"]


def streamlit_argv(argv: list[str]) -> list[str]:
    """The ``streamlit run`` command line for ``make run``'s (or ``make room``'s) options."""
    if "--room" in argv:
        from app_ui import room

        argv = room.prepare([a for a in argv if a != "--room"])
    elif not any(a == "--server.address" or a.startswith("--server.address=") for a in argv):
        argv = [*LOCAL_ONLY, *argv]
    return ["streamlit", "run", str(ENTRY_POINT),
            "--server.maxUploadSize", str(math.ceil(upload_limit_mb())), *argv]


def main(argv: list[str]) -> None:
    from streamlit.web import cli

    sys.argv = streamlit_argv(argv)
    _keep_keras_state()
    _uploads_need_the_right()
    threading.Thread(target=_warm_when_serving, name="warm-when-serving", daemon=True).start()
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])
