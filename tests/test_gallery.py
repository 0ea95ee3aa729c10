"""The shipped gallery: every checkpoint loads and generates; the runs are complete and small."""

from __future__ import annotations

import pytest

from core.training import gallery
from core.training import jobs
from core.generation.generate import Generator
from core.paths import SHIPPED_RUNS
from core.runs import Run
from core.settings import TrainSpec

RUNS = [Run(SHIPPED_RUNS / name) for name in gallery.SHIPPED]  # every one must ship


def test_the_default_model_ships():
    assert gallery.default_run() is not None, "checkpoints/bach-studio-events is missing"


def test_checkpoints_folder_stays_small():
    total = sum(p.stat().st_size for p in SHIPPED_RUNS.rglob("*") if p.is_file())
    assert total <= 100 * 2**20, f"checkpoints/ is {total / 2**20:.1f} MB"


@pytest.mark.parametrize("run", RUNS, ids=[r.name for r in RUNS])
def test_shipped_run_is_complete(run):
    assert run.exists, f"{run.path} is missing: python -m core gallery build {run.name}"
    assert len(run.epochs()) >= 6
    gan = run.config["model"]["preset"] == "crnngan"
    card = run.model_card()
    heading = "The GAN by epoch" if gan else "Copying and held-out likelihood by epoch"
    assert card and heading in card and f"{run.config['params']:,}" in card
    for epoch in run.epochs():
        assert run.sample_path(epoch, ".mid").is_file()
        m = run.sample_metrics(epoch)
        assert m["epoch"] == epoch and "copy_rate" in m and "loop_rate" in m
        if gan:   # the paper's measures, next to the held-out pieces'
            assert all(k in m and f"heldout_{k}" in m for k in ("polyphony", "tone_span"))
    # a GAN has no validation loss to pick a best checkpoint by: its default is the latest
    assert run.best_epoch() is None if gan else run.best_epoch() in run.epochs()
    assert run.config["optimizer_state"] == "dropped"


@pytest.mark.parametrize("run", RUNS, ids=[r.name for r in RUNS])
def test_every_shipped_checkpoint_generates(run):
    for epoch in run.epochs():
        result = Generator.from_run(run, epoch).generate(12, seed=0)
        assert result.generated_tokens == 12
        if result.unit == "tokens":
            assert result.tokens[0].min() > 0  # never PAD


def test_the_memorising_run_copies_more_and_more():
    run = Run(SHIPPED_RUNS / "bach-memorise-events")
    rates = [run.sample_metrics(e)["copy_rate"] for e in run.epochs()]
    early, late = rates[: len(rates) // 2], rates[-2:]
    assert max(early) < min(late), rates
    last = run.sample_metrics(run.epochs()[-1])   # the story: a jukebox of its corpus at the end
    assert last["copy_rate"] >= 0.5 and last["longest_copy_notes"] >= 100, last


def test_shipped_runs_are_read_only():
    with pytest.raises(ValueError, match="read-only"):
        jobs.start(TrainSpec(corpus="bach-chorales", epochs=1), RUNS[0].path, resume=True)
