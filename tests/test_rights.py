"""Who may change things (``app_ui.rights``): every privileged action the pages call refuses a
session without the right and leaves no trace; the presenter key is compared in constant time,
leaves the address when used and never reaches a log. The same in a real browser against a
real room server: ``tests/test_room.py``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app_ui import rights

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
KEY = "k3y-for-the-tests-Zq81xw"


@pytest.fixture
def room(monkeypatch, data_dir):
    """Room mode with ``KEY``; the server's remembered sessions and tokens restored after."""
    monkeypatch.setenv("COMPOSER_ROOM", "1")
    monkeypatch.delenv("COMPOSER_DEMO", raising=False)
    monkeypatch.delenv("COMPOSER_PRESENTER_KEY", raising=False)
    monkeypatch.setattr(rights, "_key", None)
    monkeypatch.setattr(rights, "_sessions", rights.OrderedDict())
    monkeypatch.setattr(rights, "_tokens", rights.OrderedDict())
    rights.set_presenter_key(KEY)
    return data_dir


def _victim_run(name: str):
    """A user run folder (not a real training: these tests must never reach one)."""
    from core.paths import user_runs_dir
    from core.runs import Run

    path = user_runs_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "status.json").write_text('{"state": "stopped", "epoch": 1, "epochs": 2}')
    return Run(path)


def _privileged_calls(run):
    """Every privileged action, called as the pages call it."""
    from app_ui import runs, training, uploads
    from core.settings import TrainSpec

    spec = TrainSpec(corpus="bach-chorales", max_pieces=4, epochs=1, encoding="chords",
                     preset="studio", size="small")
    return {
        "start a training": lambda: training.start(spec),
        "stop a training": lambda: training.stop(run.path),
        "resume a training": lambda: training.resume(run.path, epochs=3),
        "upload MIDI": lambda: uploads.load_uploads([("a.mid", b"MThd")]),
        "save uploads": lambda: uploads.save_uploads("mine", []),
        "delete runs": lambda: runs.delete_run(run),
    }


def test_personal_use_has_every_right(monkeypatch):
    monkeypatch.delenv("COMPOSER_ROOM", raising=False)
    monkeypatch.delenv("COMPOSER_DEMO", raising=False)
    assert rights.granted() and not rights.is_presenter()
    rights.require("start a training")  # no refusal


def test_the_audience_is_refused_every_privileged_action_and_nothing_happens(room):
    from core.paths import user_runs_dir

    run = _victim_run("audience-target")
    before = sorted(p.name for p in user_runs_dir().iterdir())
    for what, call in _privileged_calls(run).items():
        with pytest.raises(rights.Refused, match="only the presenter can"):
            call()
    assert sorted(p.name for p in user_runs_dir().iterdir()) == before  # no job, no deletion
    assert not run.stop_requested and not (run.path / "job.json").exists()
    assert '"stopped"' in (run.path / "status.json").read_text()


def test_an_unknown_session_and_demo_mode_are_refused_too(room, monkeypatch):
    run = _victim_run("stranger-target")
    monkeypatch.setattr(rights, "_session_id", lambda: "a-session-nobody-granted")
    with pytest.raises(rights.Refused, match="only the presenter"):
        _privileged_calls(run)["delete runs"]()
    rights.grant("a-session-nobody-granted")
    monkeypatch.setenv("COMPOSER_DEMO", "1")  # demo mode: not even the presenter
    with pytest.raises(rights.Refused, match="demo mode"):
        _privileged_calls(run)["start a training"]()
    assert run.path.is_dir()


def test_the_presenters_session_passes_the_guard(room, monkeypatch):
    run = _victim_run("presenter-target")
    monkeypatch.setattr(rights, "_session_id", lambda: "the-presenters-session")
    rights.grant("the-presenters-session")
    assert rights.granted() and rights.is_presenter()
    _privileged_calls(run)["stop a training"]()  # past the guard: the job manager's own work
    assert run.stop_requested
    _privileged_calls(run)["delete runs"]()
    assert not run.path.exists()


def test_the_key_is_compared_in_constant_time(room, monkeypatch):
    import hmac

    compared, compare = [], hmac.compare_digest

    def recording(a, b):
        compared.append((type(a), type(b)))
        return compare(a, b)
    monkeypatch.setattr(rights.hmac, "compare_digest", recording)
    assert rights.key_matches(KEY)
    assert not rights.key_matches(KEY[:-1] + "x")
    assert not rights.key_matches("ünïcode is no key")  # compared as bytes: no TypeError
    assert compared == [(bytes, bytes)] * 3
    assert not rights.key_matches("") and not rights.key_matches(None)
    rights.set_presenter_key(None)   # room mode without a key: nobody is the presenter
    assert not rights.key_matches("")
    token = rights.new_token()
    assert rights.token_valid(token) and not rights.token_valid(token + "x")
    assert token not in repr(rights._tokens)  # the server keeps digests only


class _Everything(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.text = []

    def emit(self, record):
        self.text.append(self.format(record))


def test_the_presenter_link_gives_the_right_leaves_the_address_and_is_never_logged(room, monkeypatch):
    from streamlit.testing.v1 import AppTest

    handler = _Everything()
    loggers = [logging.getLogger(n) for n in ("", "streamlit", "composer_studio", "composer_studio.app")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        at = AppTest.from_file(APP, default_timeout=60)
        at.switch_page("pages/corpus.py")
        at.run()
        assert "corpus_upload" not in at.session_state      # the audience: no upload
        assert any("presenter's" in i.value for i in at.info)

        at.query_params["key"] = KEY
        at.run()
        assert "key" not in at.query_params                 # gone from the address
        assert "corpus_upload" in at.session_state          # the presenter: upload
        assert any("You are the presenter" in t.value for t in at.toast)
        cookie = [e.proto.body for e in at.get("html")]
        assert any(f"{rights.COOKIE}=" in c for c in cookie) and not any(KEY in c for c in cookie)
        at.switch_page("pages/gallery.py").run()            # the right holds across pages
        at.switch_page("pages/corpus.py").run()
        assert "corpus_upload" in at.session_state

        rights._sessions.clear()  # every AppTest has the same session id ("test session id")
        wrong = AppTest.from_file(APP, default_timeout=60)
        wrong.switch_page("pages/corpus.py")
        wrong.query_params["key"] = KEY + "-not"
        wrong.run()
        assert "key" not in wrong.query_params and "corpus_upload" not in wrong.session_state
        assert any("not the right one" in t.value for t in wrong.toast)
    finally:
        for lg, level in zip(loggers, levels):
            lg.removeHandler(handler)
            lg.setLevel(level)
    logged = "\n".join(handler.text)
    assert "presenter signed in" in logged and "wrong presenter key" in logged
    assert KEY not in logged
