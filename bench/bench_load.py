"""A room of phones pressing Compose at once, in real headless Chromium; prints JSON.

    .venv/bin/python bench/bench_load.py [--sessions 1,5,20] [--rounds 2] [--listen 15]
                                         [--root PROJECT] [--first-visit]

For each session count, a fresh server (``StudioServer``: the app as ``make run`` starts it,
localhost only, data in a temporary folder) and that many browser sessions, each its own
browser context (its own cookies and Streamlit session), all on Home with Compose ready. The
harness waits until the server's CPU has been idle for 2 s (nothing left to warm up), then
runs ``--rounds`` rounds: every session presses Compose within a few milliseconds of the
others, and each one's time runs from its own click until its new audio can play
(``PIECE_JS``: a new piece whose audio has loaded). Between rounds the room listens to its pieces for
``--listen`` seconds, as people do before they press again. Reported per session count: p50,
p95 and max seconds, errors (an error message on the page, or no audio within
``--timeout``), and pieces seen by more than one session (the same audio twice: must be 0).

``--first-visit``: the first visitor of a fresh server, who opens Home as soon as the server
answers and presses Compose once the button is there: seconds to the button and to audio.

Room options (``make room``, issue 26): ``--room`` serves as ``make room`` does (every
interface, everyone an audience session; the harness still talks to 127.0.0.1 only);
``--train`` starts a training job (``core.training.jobs.start``, as the presenter's Start
does, so at the job's lower CPU priority) in that server's data folder before the rounds and
stops it after; ``--greedy`` adds one more session that presses Compose every 0.25 s all
through every round, as fast as one person can (its presses are counted, not timed);
``--idle S`` first measures S seconds of the server's and the browsers' CPU with the room open
and nobody pressing (in a room: what following the training's chart costs).

``--root`` measures another checkout of the project with this same harness (for before/after
figures); a checkout without ``app_ui/serve.py`` is started with plain ``streamlit run``.
Everything is bounded: sessions <= 40, each wait by ``--timeout``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_app  # noqa: E402  (the shared harness: StudioServer, launch_chromium, ...)

MAX_SESSIONS = 40
ERROR_JS = "() => document.querySelectorAll('[data-testid=\"stAlertContentError\"], " \
           "[data-testid=\"stException\"]').length"
# The piece on the page and whether its audio can play: an <audio> of the page itself (st.audio)
# or inside a player iframe (the playing piano roll). A player is told apart by its page's
# length and two slices of it (the WAV inside): enough to see the same piece twice.
PIECE_JS = """() => {
  const ids = [], states = [];
  for (const a of document.querySelectorAll('audio[src]')) { ids.push(a.src); states.push(a.readyState); }
  for (const f of document.querySelectorAll('iframe')) {
    let doc = null;
    try { doc = f.contentDocument; } catch (e) {}
    const a = doc && doc.querySelector('audio');
    if (!a) continue;
    const s = f.srcdoc || '', n = s.length;
    ids.push(n + ':' + s.slice(n / 3, n / 3 + 64) + s.slice(2 * n / 3, 2 * n / 3 + 64));
    states.push(a.readyState);
  }
  return {id: ids.length ? ids.join('|') : null, ready: ids.length > 0 && states.every(r => r >= 3)};
}"""


# Starts a 20 ms check inside the page: the seconds from ``t0`` (set just before the click)
# until a new piece's audio can play land in ``window.__composer.seconds``.
WATCH_JS = f"""() => {{
  const piece = {PIECE_JS};
  const state = window.__composer = {{before: piece().id, t0: null, seconds: null}};
  const timer = setInterval(() => {{
    if (state.t0 === null) return;
    const now = piece();
    if (now.ready && now.id !== state.before) {{
      state.seconds = (performance.now() - state.t0) / 1000;
      clearInterval(timer);
    }}
  }}, 20);
}}"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children that have exited."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def browser_cpu_seconds() -> float:
    """CPU seconds used so far by every live Chromium process on this machine."""
    total = 0.0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"chromium" in (proc / "cmdline").read_bytes():
                total += cpu_seconds(int(proc.name))
        except (OSError, ValueError):
            continue
    return total


def wait_idle(pid: int, quiet_s: float = 2.0, timeout: float = 300.0, share: float = 0.05) -> float:
    """Seconds until the server used under ``share`` of a core for ``quiet_s`` seconds."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        before = cpu_seconds(pid)
        time.sleep(quiet_s)
        if cpu_seconds(pid) - before < share * quiet_s:
            break
    return time.perf_counter() - t0


def press_compose(page, timeout: float) -> float:
    """Click Compose; seconds until a new piece's audio can play."""
    before = page.evaluate(PIECE_JS)["id"]
    t0 = time.perf_counter()
    page.get_by_role("button", name="Compose").click()
    page.wait_for_function(f"() => {{ const s = ({PIECE_JS})(); return s.ready && s.id !== "
                           f"{json.dumps(before)}; }}", timeout=timeout * 1000, polling=20)
    return time.perf_counter() - t0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def start_training(data: Path):
    """A training job in ``data`` (as the presenter's Start makes one), long enough to outlast
    the rounds; ``None`` where this checkout cannot start one."""
    os.environ["COMPOSER_DATA"] = str(data)
    sys.path.insert(0, str(bench_app.ROOT))
    from core.settings import TrainSpec
    from core.training import jobs

    return jobs.start(TrainSpec(corpus="bach-chorales", max_pieces=60, encoding="events",
                                preset="studio", size="small", epochs=200))


def room(browser, url: str, sessions: int, rounds: int, listen: float, timeout: float,
         server_pid: int, greedy: bool = False, in_room: bool = False, idle_s: float = 0.0) -> dict:
    pages = []
    for _ in range(sessions):  # Browser.new_page: each page in a new context of its own
        pages.append(bench_app.open_home(browser, url, int(timeout * 1000)))
    hog = bench_app.open_home(browser, url, int(timeout * 1000)) if greedy else None
    hog_presses = 0
    # in a room every phone's Home polls the training's chart (app_ui.live): never quite idle
    settle = wait_idle(server_pid, share=0.3 if in_room else 0.05)
    idle = None
    if idle_s:   # the room only following (a room's Home polls the training's chart)
        server_before, browser_before = cpu_seconds(server_pid), browser_cpu_seconds()
        time.sleep(idle_s)
        idle = {"seconds": idle_s, "server_s": round(cpu_seconds(server_pid) - server_before, 1),
                "browser_s": round(browser_cpu_seconds() - browser_before, 1)}
    times, errors, seen, shared, cpu = [], 0, set(), 0, []
    for r in range(rounds):
        if r:
            time.sleep(listen)
        for p in pages:  # each page times itself: a busy page cannot delay another's figure
            p.evaluate(WATCH_JS)
        server_before, browser_before = cpu_seconds(server_pid), browser_cpu_seconds()
        for p in pages:  # as close together as one driver can click
            p.evaluate("() => { window.__composer.t0 = performance.now(); }")
            p.get_by_role("button", name="Compose", exact=True).click(no_wait_after=True)
        done: dict[int, float] = {}
        deadline = time.perf_counter() + timeout
        while len(done) < sessions and time.perf_counter() < deadline:
            time.sleep(0.25)
            if hog is not None:  # presses again, whatever its last press is doing
                hog.get_by_role("button", name="Compose", exact=True).click(no_wait_after=True)
                hog_presses += 1
            for i, p in enumerate(pages):
                if i not in done:
                    seconds = p.evaluate("() => window.__composer.seconds")
                    if seconds is not None:
                        done[i] = seconds
        cpu.append({"server_s": round(cpu_seconds(server_pid) - server_before, 1),
                    "browser_s": round(browser_cpu_seconds() - browser_before, 1)})
        for i, p in enumerate(pages):
            if i not in done or p.evaluate(ERROR_JS):
                errors += 1
                continue
            times.append(done[i])
            audio = hashlib.sha1(str(p.evaluate(PIECE_JS)["id"]).encode()).hexdigest()
            shared += audio in seen
            seen.add(audio)
    for p in pages + ([hog] if hog else []):
        p.context.close()
    extra = {"greedy_presses": hog_presses} if greedy else {}
    if idle is not None:
        extra["idle_cpu"] = idle
    return {**extra, "sessions": sessions, "rounds": rounds, "settle_s": round(settle, 1),
            "p50_s": round(statistics.median(times), 2) if times else None,
            "p95_s": round(percentile(times, 0.95), 2) if times else None,
            "max_s": round(max(times), 2) if times else None,
            "errors": errors, "pieces_seen_twice": shared, "cpu_per_round": cpu,
            "times_s": [round(t, 2) for t in sorted(times)]}


def first_visit(browser, server, timeout: float) -> dict:
    t0 = time.perf_counter()
    server.wait_ready()
    healthy = time.perf_counter() - t0
    page = bench_app.open_home(browser, server.url, int(timeout * 1000))
    to_button = time.perf_counter() - t0
    compose = press_compose(page, timeout)
    page.context.close()
    return {"server_answers_s": round(healthy, 2), "compose_ready_s": round(to_button, 2),
            "first_compose_s": round(compose, 2),
            "first_audio_after_start_s": round(time.perf_counter() - t0, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,5,20")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--listen", type=float, default=15.0,
                        help="seconds between rounds (Home pieces last 15 s)")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--root", type=Path, default=HERE.parent)
    parser.add_argument("--first-visit", action="store_true")
    parser.add_argument("--room", action="store_true", help="serve as make room does")
    parser.add_argument("--train", action="store_true", help="a training job runs meanwhile")
    parser.add_argument("--greedy", action="store_true",
                        help="one more session presses Compose as fast as it can")
    parser.add_argument("--idle", type=float, default=0.0, metavar="S",
                        help="first measure S seconds of server and browser CPU with nobody "
                             "pressing (what following the training costs)")
    args = parser.parse_args()
    counts = [int(n) for n in args.sessions.split(",")]
    if not all(0 < n <= MAX_SESSIONS for n in counts):
        parser.error(f"sessions must be 1..{MAX_SESSIONS}")
    if not Path(bench_app.CHROMIUM).exists():
        print(json.dumps({"skipped": f"{bench_app.CHROMIUM} not found"}))
        return 0
    from playwright.sync_api import sync_playwright

    bench_app.ROOT = args.root.resolve()  # the checkout the server runs from
    out = {"machine": f"{os.cpu_count()} cores", "root": str(bench_app.ROOT),
           "room": args.room, "train": args.train, "greedy": args.greedy,
           "load_before": [round(x, 2) for x in os.getloadavg()], "listen_s": args.listen,
           "results": []}
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
        browser = bench_app.launch_chromium(pw)
        cache = Path(tmp) / "cache"   # parsed corpora shared by the servers: one parse in all
        for n in (["first"] if args.first_visit else []) + counts:
            data = Path(tmp) / f"data-{n}"
            data.mkdir()
            (data / "cache").symlink_to(cache, target_is_directory=True)
            cache.mkdir(exist_ok=True)
            server = bench_app.StudioServer(
                data, args=["--room"] if args.room else None,
                extra_env={"COMPOSER_PRESENTER_KEY": os.urandom(16).hex()} if args.room else None)
            job = None
            try:
                if n == "first":
                    out["first_visit"] = first_visit(browser, server, args.timeout)
                else:
                    server.wait_ready()
                    job = start_training(data) if args.train else None
                    out["results"].append(room(browser, server.url, n, args.rounds, args.listen,
                                               args.timeout, server.proc.pid, args.greedy,
                                               args.room, args.idle))
                    if job is not None:
                        out["results"][-1]["training_epochs_done"] = job.status.get("epoch", 0)
            finally:
                server.stop()
                if job is not None:
                    from core.training import jobs
                    jobs.stop(job.path, wait=30)
            print(json.dumps(out["results"][-1] if n != "first" else out["first_visit"]),
                  file=sys.stderr)
        browser.close()
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
