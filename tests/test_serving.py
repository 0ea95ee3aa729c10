"""The server as a visitor meets it: deep links on a fresh server, the kiosk settings.

A fresh server (``python -m app_ui.serve``, as ``make run`` starts it) whose first visitors
open every page by its own URL at once, the way a QR code to ``/generate`` or a kiosk's
restored tab does: each must get the app's navigation, title and settings, never Streamlit's
``pages/`` folder fallback (raw file names, a "gallery" tab title, a Deploy button).
"""

from __future__ import annotations

import inspect
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench_app import CHROMIUM, StudioServer, launch_chromium  # noqa: E402

PAGES = {"generate": "Generate", "gallery": "Gallery", "corpus": "Corpus", "train": "Train",
         "": "Composer Studio"}  # the root last: it is the one that always worked
NAVIGATION = ["Home", "Corpus", "Train", "Gallery", "Generate"]


def test_server_settings_hold_from_the_first_request():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"] == {"toolbarMode": "minimal", "showErrorDetails": "none"}
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["maxUploadSize"] == 50  # COMPOSER_UPLOAD_MB's default
    assert config["runner"]["postScriptGC"] is False


def test_the_per_run_keras_reset_the_launcher_leaves_out_is_where_it_was():
    from streamlit.runtime.scriptrunner import script_runner

    assert "clear_session" in inspect.getsource(script_runner._clean_problem_modules)
    assert "_log_if_error(_clean_problem_modules)" in inspect.getsource(script_runner.ScriptRunner)


def test_the_launchers_per_run_hook_keeps_keras_and_closes_pyplot_figures(monkeypatch):
    import keras
    import matplotlib
    from streamlit.runtime.scriptrunner import script_runner

    from app_ui import serve

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(script_runner, "_clean_problem_modules",
                        script_runner._clean_problem_modules)  # restored after the test
    serve._keep_keras_state()
    cleared = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: cleared.append(1))
    plt.figure()
    script_runner._clean_problem_modules()
    assert plt.get_fignums() == [] and cleared == []


def test_the_launcher_sets_streamlits_upload_cap_from_composer_upload_mb(monkeypatch):
    from app_ui.serve import streamlit_argv

    monkeypatch.setenv("COMPOSER_UPLOAD_MB", "7.5")
    argv = streamlit_argv(["--server.port", "9999"])
    assert argv[:3] == ["streamlit", "run", str(ROOT / "streamlit_app.py")]
    assert argv[argv.index("--server.maxUploadSize") + 1] == "8"  # rounded up, never below
    assert argv[-2:] == ["--server.port", "9999"]


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not found")
def test_every_deep_link_on_a_fresh_server_goes_through_the_entry_point(tmp_path, data_dir):
    from playwright.sync_api import sync_playwright

    (tmp_path / "cache").symlink_to(data_dir / "cache", target_is_directory=True)
    server = StudioServer(tmp_path, extra_env={"COMPOSER_READY_PIECES": "1"})
    try:
        server.wait_ready()
        with sync_playwright() as p:
            browser = launch_chromium(p)
            tabs = {}
            for path in PAGES:  # every page's URL first, before anyone has opened the root
                tab = browser.new_page()
                tab.set_default_timeout(120_000)
                tab.goto(f"{server.url}/{path}", wait_until="commit")
                tabs[path] = tab
            for path, heading in PAGES.items():
                tab = tabs[path]
                tab.locator('[data-testid="stMain"] h1').first.wait_for()
                assert tab.locator("h1").first.inner_text() == heading, path
                links = tab.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
                assert [link.split("\n")[-1] for link in links] == NAVIGATION, path
                assert tab.title() == "Composer Studio", path
                assert tab.locator('[data-testid="stAppDeployButton"]').count() == 0, path
            browser.close()
    finally:
        server.stop()
