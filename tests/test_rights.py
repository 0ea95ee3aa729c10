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
    monkeypatch.setattr(rights, "wrong_keys", rights.WrongKeys())
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


def _put_upload(app, session: str, data: bytes) -> int:
    """A PUT to Streamlit's upload route, as a browser's uploader sends it (in process: an
    ASGI call, no socket); the response's status."""
    import asyncio

    boundary = "composer-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mid\"\r\n"
            f"Content-Type: audio/midi\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    path = f"/_stcore/upload_file/{session}/file-1"
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PUT",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "server": ("127.0.0.1", 8501), "client": ("127.0.0.1", 50000),
             "headers": [(b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
                         (b"content-length", str(len(body)).encode())]}
    sent, chunks = [], [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def test_streamlits_upload_endpoint_keeps_files_from_the_presenter_only(room, monkeypatch):
    """A phone can send files to ``/_stcore/upload_file`` without any uploader on its page:
    ``app_ui.serve`` makes Streamlit's own route refuse them (403) and keep nothing."""
    from starlette.applications import Starlette
    from streamlit import config
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.web.server.starlette.starlette_routes import create_upload_routes

    from app_ui import serve

    monkeypatch.setattr(MemoryUploadedFileManager, "add_file", MemoryUploadedFileManager.add_file)
    serve._uploads_need_the_right()
    serve._uploads_need_the_right()   # twice (a second server start in one process): one wrap
    xsrf = config.get_option("server.enableXsrfProtection")
    config.set_option("server.enableXsrfProtection", False)  # the route's own check, not ours
    try:
        files = MemoryUploadedFileManager("/_stcore/upload_file")

        class LiveSessions:
            def is_active_session(self, session_id):
                return True

        app = Starlette(routes=create_upload_routes(LiveSessions(), files, None))
        rights.grant("presenter-session")
        assert _put_upload(app, "phone-session", b"MThd" * 1000) == 403
        assert files.get_files("phone-session", ["file-1"]) == []
        assert _put_upload(app, "presenter-session", b"MThd") == 204
        assert [f.data for f in files.get_files("presenter-session", ["file-1"])] == [b"MThd"]
        monkeypatch.setenv("COMPOSER_DEMO", "1")                 # demo mode: nobody uploads
        assert _put_upload(app, "presenter-session", b"MThd") == 403
    finally:
        config.set_option("server.enableXsrfProtection", xsrf)


def test_wrong_keys_are_limited_per_address():
    now = [1000.0]
    wrong = rights.WrongKeys(clock=lambda: now[0])
    for _ in range(wrong.LIMIT - 1):
        wrong.failed("10.0.0.7")
    assert wrong.wait_s("10.0.0.7") == 0.0                       # still may try
    wrong.failed("10.0.0.7")
    assert wrong.wait_s("10.0.0.7") == pytest.approx(wrong.WINDOW_S)
    assert wrong.wait_s("10.0.0.8") == 0.0                       # another address is not held
    now[0] += wrong.WINDOW_S / 2
    assert wrong.wait_s("10.0.0.7") == pytest.approx(wrong.WINDOW_S / 2)
    now[0] += wrong.WINDOW_S / 2 + 0.01
    assert wrong.wait_s("10.0.0.7") == 0.0                       # a minute on, free again
    for i in range(wrong.KEEP + 10):                             # memory stays bounded
        wrong.failed(f"10.1.{i // 256}.{i % 256}")
    assert len(wrong.seen) == wrong.KEEP


def test_after_too_many_wrong_keys_even_the_right_one_is_not_tried(room, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr(rights, "_client", lambda: "10.9.8.7")   # AppTest has no real client
    for _ in range(rights.WrongKeys.LIMIT):
        rights.wrong_keys.failed("10.9.8.7")
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/corpus.py")
    at.query_params["key"] = KEY
    at.run()
    assert "key" not in at.query_params and "corpus_upload" not in at.session_state
    assert any("Too many wrong presenter links" in t.value for t in at.toast)
