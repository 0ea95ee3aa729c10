"""``make room`` and ``make run`` as served, in real headless Chromium on loopback only.

- Which sockets each listens on (``ss -ltn``): ``make run`` on 127.0.0.1 only, ``make room``
  on every interface. Both servers are started with the Makefile's own command line.
- One room: an audience phone finds no Start, Upload or Stop; the presenter link gives its
  browser them, leaves the address bar at once, and holds across a reload and a page
  change (the cookie); the presenter starts a tiny training, the phone sees the live chart gain
  an epoch on Home without a reload and composes with the newest checkpoint; the key is in no log.
Every request goes to 127.0.0.1, never to the machine's LAN address. The Gallery's Delete is
left to ``tests/test_rights.py`` (refused on the server) and the same ``granted()`` check: the
Gallery renders every sample's audio first, 30-100 s more here on 2 busy cores.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench_app import CHROMIUM, PLAYER_JS, StudioServer, launch_chromium  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.browser]
KEY = "room-test-key-7Hq2"
TIMEOUT_MS = 120_000
# Home's live chart (room mode): an image drawn on the server, at a new address when it changes,
# and its caption "Epoch N of M" (N: epochs done)
LIVE_JS = """() => {
  const img = document.querySelector('.st-key-live_chart img');
  const epoch = Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"]'))
    .map(el => el.innerText.match(/^Epoch (\\d+) of/)).find(m => m);
  return {src: img ? img.src : '', epoch: epoch ? Number(epoch[1]) : -1};
}"""


def make_args(target: str) -> list[str]:
    """The launcher's options in the Makefile's ``target`` recipe, without the port."""
    recipe = re.search(rf"^{target}: .*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    words = recipe.split()
    assert words[:3] == ["$(PY)", "-m", "app_ui.serve"], recipe
    assert words[-2:] == ["--server.port", "$(PORT)"], recipe
    return words[3:-2]


def listening(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (``ss -ltn``)."""
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    found = set()
    for line in out.splitlines():
        local = line.split()[3]
        host, _, p = local.rpartition(":")
        if p == str(port):
            found.add(host)
    return found


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) not found")
def test_make_run_listens_on_localhost_only_and_make_room_on_every_interface(tmp_path):
    assert make_args("run") == [] and make_args("room") == ["--room"]
    env = {"COMPOSER_READY_PIECES": "0", "COMPOSER_PRESENTER_KEY": KEY}
    for target, expected in (("run", {"127.0.0.1"}), ("room", None)):
        server = StudioServer(tmp_path / target, extra_env=env, args=make_args(target))
        try:
            server.wait_ready()  # over 127.0.0.1, as every request here
            hosts = listening(server.port)
        finally:
            server.stop()
        if expected:
            assert hosts == expected, hosts
        else:  # the wildcard: IPv4 and/or IPv6, no single address
            assert hosts and hosts <= {"*", "0.0.0.0", "[::]", "[::]%*"}, hosts
    banner = (tmp_path / "room" / "streamlit.log").read_text()
    assert "Audience (phones, the projector): http://" in banner
    assert "?key=<COMPOSER_PRESENTER_KEY>" in banner and KEY not in banner


@pytest.fixture(scope="module")
def room(tmp_path_factory, tiny_run):
    base = tmp_path_factory.getbasetemp() / "app"
    (base / "data" / "cache").mkdir(parents=True, exist_ok=True)
    data = tmp_path_factory.mktemp("room-data")
    (data / "cache").symlink_to(base / "data" / "cache")  # parsed corpora: no second parse
    runs = tmp_path_factory.mktemp("room-runs")
    shutil.copytree(tiny_run.path, runs / "tiny")
    srv = StudioServer(data, [runs], args=["--room"],
                       extra_env={"COMPOSER_PRESENTER_KEY": KEY, "COMPOSER_READY_PIECES": "1"})
    try:
        srv.wait_ready()
        yield srv, data
    finally:
        srv.stop()
        from core.training import jobs  # stop the training the test started, if it still runs
        for job in jobs.active_jobs(data / "runs"):
            jobs.stop(job.path, wait=20)


def _page(context, url: str):
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.locator('[data-testid="stMain"]').wait_for()
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSpinner\"]')")
    return page


def _no_privileged_controls(page, url: str) -> None:
    page.goto(f"{url}/train")
    page.get_by_text("Training is the presenter's").wait_for()
    assert page.get_by_role("button", name="Start training").count() == 0
    assert page.get_by_role("button", name="Stop").count() == 0
    page.goto(f"{url}/corpus")
    page.get_by_role("tab", name="Upload MIDI").click()
    page.get_by_text("Uploading MIDI is the presenter's").wait_for()
    assert page.locator('input[type="file"]').count() == 0
    assert page.get_by_role("button", name="Load uploaded files").count() == 0


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not found")
def test_a_room_audience_presenter_and_live_training(room):
    from playwright.sync_api import sync_playwright

    server, data = room
    url = server.url
    with sync_playwright() as p:
        browser = launch_chromium(p)
        phone, presenter = browser.new_context(), browser.new_context()  # cookies of their own

        audience = _page(phone, url)
        _no_privileged_controls(audience, url)

        stage = _page(presenter, f"{url}/?key={KEY}")
        stage.get_by_text("You are the presenter").first.wait_for()
        stage.wait_for_function("() => !location.search.includes('key=')")
        assert "key" not in stage.url
        stage.get_by_text("Join on your phone").wait_for()  # the join code, for the projector
        assert stage.locator('[data-testid="stImage"] img').count() == 1
        stage.goto(f"{url}/corpus")  # a new page load: the right comes back with the cookie
        stage.get_by_role("tab", name="Upload MIDI").click()
        stage.locator('input[type="file"]').wait_for(state="attached")
        stage.goto(f"{url}/train")
        stage.get_by_text("epochs", exact=True).click()
        for label, value in (("Pieces to use (0 = all)", "4"), ("Minutes or epochs", "3")):
            box = stage.get_by_label(label, exact=True)
            box.fill(value)
            box.press("Tab")
        stage.get_by_role("button", name="Start training").click()
        stage.get_by_role("button", name="Stop").wait_for()  # the presenter may stop it

        audience.goto(f"{url}/train")  # the job's panel, without its buttons
        audience.get_by_text("waiting for the first epoch").first.wait_for()
        assert audience.get_by_role("button", name="Stop").count() == 0
        audience.goto(url)
        audience.get_by_text("Training now").wait_for()
        audience.locator(".st-key-live_chart img").wait_for()
        shown = audience.evaluate(LIVE_JS)  # the chart as the phone opened it ...
        audience.wait_for_function(
            f"() => {{ const now = ({LIVE_JS})(); return now.src !== {json.dumps(shown['src'])} "
            f"&& now.epoch > {shown['epoch']} && now.epoch >= 1; }}",
            timeout=240_000, polling=500)  # ... is redrawn with an epoch more, no reload
        seen = shown["epoch"]
        audience.get_by_role("button", name="Hear the model as it is now").click()
        audience.wait_for_function(f"() => ({PLAYER_JS})().ready >= 3")
        caption = audience.get_by_text(re.compile(r"as it was at epoch \d+$"))
        epoch = int(caption.inner_text().rsplit(" ", 1)[1])
        assert epoch > seen and list((data / "runs").glob(f"*/epoch_{epoch:04d}.keras"))
        assert audience.locator('[data-testid="stException"]').count() == 0
        browser.close()
    log = (data / "streamlit.log").read_text()
    assert KEY not in log, "the presenter key reached the server's log"
    jobs_logs = "".join(p.read_text() for p in (data / "runs").glob("*/train.log"))
    assert KEY not in jobs_logs
