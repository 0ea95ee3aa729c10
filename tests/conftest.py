"""Fixtures shared by the test modules.

- ``data_dir``: one temporary ``COMPOSER_DATA`` for the whole session (user runs, uploads and
  the corpus cache, so a corpus is parsed once), restored afterwards.
- ``tiny_run``: one real training, done once per session and reused by the training,
  generation and app tests: ``studio`` on 6 Bach chorales in the ``chords`` encoding, 2 epochs,
  a checkpoint (and its sample report, wired as the CLI's job wires it) after each. Tests that
  change a run work on a copy (``copy_run``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.training.report import checkpoint_reporter
from core.runs import Run
from core.settings import TrainSpec
from core.training.train import train

TINY = dict(corpus="bach-chorales", max_pieces=6, encoding="chords", size="small", seed=1)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.getbasetemp() / "composer-data"
    saved = os.environ.get("COMPOSER_DATA")
    os.environ["COMPOSER_DATA"] = str(path)
    yield path
    if saved is None:
        os.environ.pop("COMPOSER_DATA", None)
    else:
        os.environ["COMPOSER_DATA"] = saved


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, data_dir) -> Run:
    spec = TrainSpec(preset="studio", epochs=2, window=32, **TINY)
    return train(spec, tmp_path_factory.mktemp("shared-runs") / "tiny", queue=False,
                 log=lambda m: None, on_checkpoint=lambda run: checkpoint_reporter(run, print))


@pytest.fixture
def copy_run(tmp_path):
    """``copy_run(run)``: a copy of a run folder under this test's temporary folder."""
    def copy(run: Run, name: str = "copy") -> Run:
        return Run(shutil.copytree(run.path, tmp_path / name))
    return copy


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (``bench_app.launch_chromium``: it resolves
    nothing but loopback)."""
    import sys

    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from bench_app import launch_chromium

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()
