"""Time from clicking Compose on Home to audio ready, in real headless Chromium; prints JSON.

    .venv/bin/python bench/bench_app.py [--runs 7] [--runs-root PATH]

Starts ``streamlit run streamlit_app.py`` on a free localhost port (data in a temporary folder),
opens Home, waits for the model to warm up, then clicks Compose ``--runs`` times. Each time is
from the click until a new ``<audio>`` element has a ``src`` *and* its audio can play
(``readyState >= 3``, the browser has fetched and decoded it) with the piano roll drawn. With no
shipped gallery run, ``--runs-root`` points the app at a folder of runs (or a tiny run is
trained first). The harness (``StudioServer``, ``launch_chromium``) is shared with
``tests/test_browser.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from core.training.cluster import free_ports  # noqa: E402  (plain Python: no TensorFlow)
CHROMIUM = "/usr/bin/chromium"
# Nothing but loopback resolves: a page that reached for a CDN fails here instead of sending
# traffic off the machine (tests/test_browser.py also records every request a page makes).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]

# The first playing piano roll's <audio> (core/render/player.py: audio and roll in one frame).
PLAYER_JS = """() => {
  for (const f of document.querySelectorAll('iframe')) {
    let doc = null;
    try { doc = f.contentDocument; } catch (e) {}
    const a = doc && doc.querySelector('[data-composer-player] audio');
    if (a) return {src: a.src || null, ready: a.readyState, notes: doc.querySelectorAll('rect.note').length};
  }
  return {src: null, ready: 0, notes: 0};
}"""
# A new audio (not the one before the click) that can play, in a piano roll with its notes drawn.
AUDIO_READY_JS = """(before) => {
  const p = (%s)();
  return !!(p.src && p.src !== before && p.ready >= 3 && p.notes > 0);
}""" % PLAYER_JS


class StudioServer:
    """The app as ``make run`` serves it (``python -m app_ui.serve``: ``streamlit run
    streamlit_app.py``, warmed at start) as a subprocess on a free port; ``stop()`` ends it.
    ``args``: the launcher's options after the port (default: localhost only; ``["--room"]``
    serves as ``make room`` does). Every caller talks to it at ``url``, on 127.0.0.1."""

    def __init__(self, data_dir: Path, runs_roots: list[Path] = (), extra_env: dict | None = None,
                 log_path: Path | None = None, args: list[str] | None = None) -> None:
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "COMPOSER_DATA": str(data_dir), "PYTHONUNBUFFERED": "1",
               "COMPOSER_RUNS_ROOTS": os.pathsep.join(map(str, runs_roots)), **(extra_env or {})}
        self.log_path = log_path or Path(data_dir) / "streamlit.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, *self.command(), "--server.port", str(self.port),
             *(["--server.address", "127.0.0.1"] if args is None else args)],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    @staticmethod
    def command() -> list[str]:
        """As ``make run`` starts the app; plain ``streamlit run`` for a checkout from before
        ``app_ui/serve.py`` (``bench_load.py --root``)."""
        if (ROOT / "app_ui" / "serve.py").is_file():
            return ["-m", "app_ui.serve"]
        return ["-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
                "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            time.sleep(0.3)
        raise TimeoutError(f"streamlit did not start in {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_home(browser, url: str, timeout_ms: int = 120_000):
    """A page on Home with the Compose button ready (model and synthesizer warmed up)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(timeout_ms)
    page.goto(url)
    page.get_by_role("button", name="Compose").wait_for()
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSpinner\"]')")
    return page


def compose_once(page, timeout_ms: int = 60_000) -> float:
    """Click Compose; seconds until the new audio can play and the piano roll is drawn."""
    before = page.evaluate(PLAYER_JS)["src"]
    t0 = time.perf_counter()
    page.get_by_role("button", name="Compose").click()
    page.wait_for_function(AUDIO_READY_JS, arg=before, timeout=timeout_ms, polling=20)
    return time.perf_counter() - t0


def tiny_run(base: Path) -> Path:
    """A 2-epoch studio run on 6 chorales (for machines without the shipped gallery)."""
    run_dir = base / "runs" / "tiny"
    if not (run_dir / "best.keras").is_file():
        sys.path.insert(0, str(ROOT))
        from core.settings import TrainSpec
        from core.training.train import train

        shutil.rmtree(run_dir, ignore_errors=True)
        train(TrainSpec(corpus="bach-chorales", max_pieces=6, encoding="chords", preset="studio",
                        size="small", epochs=2, window=32, seed=1), run_dir, log=lambda m: None)
    return run_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="Compose clicks to time (default 7)")
    parser.add_argument("--runs-root", type=Path, help="folder of runs when none is shipped")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(json.dumps({"skipped": f"{CHROMIUM} not found"}))
        return 0
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT))
    from core.training import gallery

    work = Path(tempfile.mkdtemp(prefix="bench-app-"))
    os.environ["COMPOSER_DATA"] = str(work / "data")
    roots = [args.runs_root] if args.runs_root else []
    model = gallery.default_run()
    if model is None and not roots:
        roots = [tiny_run(work).parent]
    server = StudioServer(work / "data", roots)
    try:
        server.wait_ready()
        with sync_playwright() as p:
            browser = launch_chromium(p)
            t0 = time.perf_counter()
            page = open_home(browser, server.url)
            first_load = time.perf_counter() - t0
            times = [compose_once(page) for _ in range(args.runs)]
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({
        "benchmark": "compose_click_to_audio_ready",
        "model": model.name if model else (f"first run under {args.runs_root}" if args.runs_root
                                           else "tiny test run (no shipped gallery run)"),
        "runs": args.runs,
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "times_s": [round(t, 3) for t in times],
        "first_page_load_s": round(first_load, 2),
        "target_s": 2.0,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
