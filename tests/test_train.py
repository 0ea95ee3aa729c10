"""Real (tiny) trainings: every preset, checkpoints, resume, stop, kill -9, bad input."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import time

import numpy as np
import pytest

from core.training import jobs
from core.models import presets
from core.piece import from_note_list
from core.runs import Run
from core.settings import TrainSpec
from core.training.train import train
from tests.conftest import TINY

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _data_dir(data_dir):
    return data_dir


@pytest.fixture
def studio_run(tiny_run):
    return tiny_run


def wait_for(predicate, timeout=120.0, every=0.25):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


# --- windows -------------------------------------------------------------------------------

# --- a real run ----------------------------------------------------------------------------
def test_run_folder_is_complete(studio_run):
    run = studio_run
    assert run.status["state"] == "finished"
    assert run.epochs() == [1, 2]
    hist = run.history()
    assert [r["epoch"] for r in hist] == [1, 2]
    for row in hist:
        assert row["loss"] > 0 and row["val_loss"] > 0 and row["tokens_per_s"] > 0
    cfg = run.config
    assert cfg["model"]["preset"] == "studio" and cfg["params"] > 0
    assert set(cfg["split"]["train"]).isdisjoint(cfg["split"]["val"])
    assert (run.path / "best.keras").is_file() and run.best_epoch() in (1, 2)


def test_checkpoint_loads_from_its_folder_alone(studio_run, tmp_path):
    moved = Run(shutil.copytree(studio_run.path, tmp_path / "elsewhere"))
    model = presets.load_model(moved.checkpoint(1))
    tok = moved.tokenizer()
    x = np.ones((1, 50), np.int32)  # a whole-piece model takes any length
    probs = np.asarray(model(x))
    assert probs.shape == (1, 50, tok.vocab_size)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-4)


def test_resume_continues_the_epoch_count(studio_run, tmp_path):
    run = Run(shutil.copytree(studio_run.path, tmp_path / "resumed"))
    before = run.history()
    train(TrainSpec(corpus="", epochs=3), run.path, resume=True, log=lambda m: None)
    hist = run.history()
    assert [r["epoch"] for r in hist] == [1, 2, 3]
    assert hist[:2] == before
    assert run.epochs() == [1, 2, 3] and run.status["state"] == "finished"


@pytest.mark.parametrize("preset,window", [("skuli", 16), ("softology", 16), ("devfest", 16), ("ragtime", 16)])
def test_every_seed_preset_trains_one_epoch(preset, window, tmp_path):
    run = train(TrainSpec(preset=preset, epochs=1, window=window, batch_size=64, **TINY),
                tmp_path / preset, log=lambda m: None)
    assert run.status["state"] == "finished"
    assert run.config["model"]["preset"] == preset
    assert len(run.history()) == 1 and run.epochs() == [1]
    presets.load_model(run.checkpoint(1))


# --- bad input -----------------------------------------------------------------------------
def write_midi(path, notes):
    from_note_list(path.stem, notes).to_midi().write(str(path))


def test_one_token_vocabulary_is_refused_without_a_half_written_run(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    for i in range(3):
        write_midi(folder / f"same{i}.mid", [(b, b + 0.5, 60, 80) for b in np.arange(0, 8, 0.5)])
    run_dir = tmp_path / "run"
    with pytest.raises(ValueError, match="vocabulary"):
        train(TrainSpec(corpus=str(folder), epochs=1, encoding="chords"), run_dir, log=lambda m: None)
    status = Run(run_dir).status
    assert status["state"] == "failed" and "vocabulary" in status["message"]
    assert not (run_dir / "run.json").exists()


def test_empty_corpus_folder_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError):
        train(TrainSpec(corpus=str(tmp_path / "empty"), epochs=1), tmp_path / "run", log=lambda m: None)
    assert Run(tmp_path / "run").status["state"] == "failed"


def test_unwritable_run_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match="cannot write to the run folder"):
        train(TrainSpec(epochs=1, **TINY), blocker / "run", log=lambda m: None)


def test_existing_run_is_not_overwritten(studio_run):
    with pytest.raises(ValueError, match="already holds a run"):
        train(TrainSpec(epochs=1, **TINY), studio_run.path, log=lambda m: None)
    assert studio_run.epochs() == [1, 2]


# --- background jobs: stop, resume and kill -9 ----------------------------------------------
def long_job(tmp_path, name):
    spec = TrainSpec(preset="studio", epochs=200, window=32, **TINY)
    return jobs.start(spec, tmp_path / name)


def test_stop_request_saves_a_checkpoint_and_resume_goes_on(tmp_path):
    run = long_job(tmp_path, "stopme")
    assert wait_for(lambda: run.history(), timeout=180), (run.path / "train.log").read_text()
    jobs.stop(run.path, wait=60)
    assert jobs.state(run) == "stopped", run.status
    done = run.status["epoch"]
    assert done >= 1 and run.epochs()[-1] == done
    presets.load_model(run.checkpoint(done))
    # resume in the background and watch the epoch count go past where it stopped
    jobs.resume(run.path, epochs=done + 1)
    assert wait_for(lambda: jobs.state(run) == "finished", timeout=180), (run.path / "train.log").read_text()
    assert [r["epoch"] for r in run.history()] == list(range(1, done + 2))


def test_kill_9_leaves_every_checkpoint_loadable(tmp_path):
    run = long_job(tmp_path, "killme")
    assert wait_for(lambda: len(run.history()) >= 2, timeout=180), (run.path / "train.log").read_text()
    os.kill(int(run.status["pid"]), signal.SIGKILL)
    assert wait_for(lambda: jobs.state(run) == "interrupted", timeout=30)
    hist = run.history()
    assert [r["epoch"] for r in hist] == list(range(1, len(hist) + 1))
    for epoch in run.epochs():
        presets.load_model(run.checkpoint(epoch))
    jobs.resume(run.path, epochs=len(hist) + 1)  # and it goes on from its last checkpoint
    assert wait_for(lambda: jobs.state(run) == "finished", timeout=180), (run.path / "train.log").read_text()
    assert [r["epoch"] for r in run.history()][-1] == len(hist) + 1


def test_a_full_disk_while_saving_ends_the_job_failed_and_keeps_earlier_checkpoints(tmp_path):
    """A real OS failure: the resumed job runs under a file-size limit smaller than a
    checkpoint, so its next save fails with EFBIG, as a full disk fails a write."""
    spec = TrainSpec(preset="studio", epochs=2, window=32, **TINY)
    run = train(spec, tmp_path / "full", log=lambda m: None)
    before = {e: run.checkpoint(e).read_bytes() for e in run.epochs()}
    limit = min(len(b) for b in before.values()) // 2
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))  # inherited by the job's process
    try:
        jobs.resume(run.path, epochs=4)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert wait_for(lambda: jobs.state(run) == "failed", timeout=180), (run.path / "train.log").read_text()
    assert "the disk is full" in run.status["message"] and "Traceback" not in run.status["message"]
    assert {e: run.checkpoint(e).read_bytes() for e in run.epochs()} == before
    for epoch in before:
        presets.load_model(run.checkpoint(epoch))
    assert not list(run.path.glob(".*.tmp*"))  # no half-written checkpoint left behind


def test_patience_stops_at_the_best_epoch_and_keeps_its_checkpoint(tmp_path):
    # an absurd learning rate makes the validation loss worse after the first epochs
    spec = TrainSpec(preset="studio", epochs=30, patience=2, learning_rate=1.0, **TINY)
    run = train(spec, tmp_path / "early", log=lambda m: None)
    hist = run.history()
    best = min(hist, key=lambda r: r["val_loss"])["epoch"]
    assert len(hist) == best + 2 < 30
    assert run.status["state"] == "finished" and "stopped early" in run.status["message"]
    assert run.best_epoch() == best and run.epochs()[-1] == len(hist)


# --- the GPU path: cuDNN LSTMs, mixed precision, the device named --------------------------
def _every_preset():
    """A small model of every preset, on the inputs it reads."""
    for name, preset in presets.PRESETS.items():
        if preset.reads == "pianoroll":
            config = presets.make_config(name, 4, "small", pitches=12, pitch_low=60)
        elif preset.reads == "notes":
            config = presets.make_config(name, 0, "small", features=4)
        else:
            config = presets.make_config(name, 30, "small", window=8)
        yield name, config


@pytest.mark.parametrize("name,config", list(_every_preset()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_lstm_of_every_preset_can_run_on_cudnn(name, config):
    from core.training import device
    model = presets.build(config)
    lstms = [layer for layer in device._layers(model) if isinstance(layer, presets.layers.LSTM)]
    assert lstms, f"{name} has no LSTM layer"
    assert device.cudnn_blockers(model) == []


def test_a_recurrent_dropout_lstm_is_named_as_a_cudnn_blocker():
    import keras

    from core.training import device
    x = keras.Input((None, 3))
    y = keras.layers.LSTM(4, recurrent_dropout=0.2, name="slow")(x)
    y = keras.layers.Bidirectional(keras.layers.LSTM(4, unroll=True, name="unrolled"))(keras.ops.expand_dims(y, 1))
    blockers = device.cudnn_blockers(keras.Model(x, y))
    assert any(b.startswith("slow: recurrent dropout") for b in blockers)
    assert sum("unrolled" in b for b in blockers) == 2   # both directions


@pytest.mark.parametrize("name,config", list(_every_preset()), ids=lambda v: v if isinstance(v, str) else "")
def test_mixed_precision_keeps_float32_outputs(name, config):
    import keras
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = presets.compile_model(presets.build(config), config)
        if config.reads_notes:   # the GAN keeps float32 on a GPU (core.training.device.setup); its
            out = model.discriminator.get_layer("real")   # discriminator's output is float32
            assert out.dtype_policy.compute_dtype == "float32"
            return
        assert model.layers[-1].dtype_policy.compute_dtype == "float32"
        assert any(layer.dtype_policy.compute_dtype == "float16" for layer in model.layers)
        if name == "studio":   # one real mixed-precision step on this CPU: loss scaled, finite
            x = np.random.default_rng(0).integers(1, 30, (2, 16)).astype(np.int32)
            loss = model.train_on_batch(x, np.roll(x, -1, 1), sample_weight=np.ones((2, 16), np.float32))
            assert np.isfinite(np.ravel(loss)[0])
            assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
            assert np.asarray(model(x)).dtype == np.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_a_gpu_run_is_named_a_gpu_run_where_the_app_reads_it(tmp_path):
    for name, kind, workers in [("1 x NVIDIA H200", "GPU", 1), ("CPU (2 cores)", "CPU", 1),
                                ("2 workers × 1 x NVIDIA H200", "GPU", 2),
                                ("2 workers × CPU (2 cores)", "CPU", 2)]:
        run = Run(tmp_path / name.replace(" ", "_"))
        run.path.mkdir()
        run.write_config({"device": name, "device_kind": kind, "spec": {"epochs": 3}})
        run.write_status(state="finished", epoch=3, epochs=3, device=name, device_kind=kind)
        job = jobs.summary(run)
        assert (job.device, job.device_name, job.workers) == (kind, name, workers)
