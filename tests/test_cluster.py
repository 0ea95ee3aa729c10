"""Multi-worker training: TF_CONFIG, the local cluster, sharding, and real 2-worker trainings
(TensorFlow's MultiWorkerMirroredStrategy over localhost gRPC) against a single worker."""

from __future__ import annotations

import inspect
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.training import cluster
from core.training import device
from core.training import distributed
from core.cli import main
from core.training.report import checkpoint_reporter
from core.paths import PROJECT_ROOT
from core.runs import Run
from core.settings import TrainSpec
from core.training.train import train

# studio on 9 chorales (8 to train on): 2 global batches of 4, so every replica has rows
SPEC = dict(corpus="bach-chorales", max_pieces=9, encoding="chords", size="small", seed=1,
            dropout=0.0,   # (dropout off: the masks would differ between 1 and 2 replicas)
            train_on="pieces")   # what several replicas train on; the one-worker run the same


# --- the cluster, without TensorFlow -------------------------------------------------------
def test_tf_config_is_read_the_standard_way():
    assert not cluster.from_env({}).multi and cluster.from_env({}).chief
    addresses = ["a:1", "b:2", "c:3"]
    two = cluster.from_env({"TF_CONFIG": cluster.tf_config(addresses, 2)})
    assert (two.addresses, two.index, two.workers, two.chief) == (tuple(addresses), 2, 3, False)
    with_chief = {"cluster": {"chief": ["c:0"], "worker": ["w:1"]}, "task": {"type": "chief", "index": 0}}
    assert cluster.from_env({"TF_CONFIG": json.dumps(with_chief)}).chief
    with_chief["task"] = {"type": "worker", "index": 0}
    assert cluster.from_env({"TF_CONFIG": json.dumps(with_chief)}).index == 1


@pytest.mark.parametrize("bad,message", [
    ("{not json", "not valid"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}', "ps"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "not in its cluster"),
])
def test_a_bad_tf_config_is_a_plain_error(bad, message):
    with pytest.raises(ValueError, match=message):
        cluster.from_env({"TF_CONFIG": bad})


def test_free_ports_are_distinct():
    ports = cluster.free_ports(4)
    assert len(set(ports)) == 4 and all(p > 0 for p in ports)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


STUBBORN = python("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, "
                  "signal.SIG_IGN); subprocess.Popen([sys.executable, '-c', 'import time; "
                  "time.sleep(600)']); print('up', flush=True); time.sleep(600)")


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_a_worker_that_ignores_sigterm_is_killed_with_its_children(monkeypatch):
    monkeypatch.setattr(cluster, "GRACE_S", 0.5)
    proc = subprocess.Popen(STUBBORN, stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout.readline() == b"up\n"
    children = [int(c) for c in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    assert children
    cluster._stop([proc])
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    time.sleep(0.2)
    assert not any(alive(c) for c in children)


def test_the_first_failure_is_a_worker_before_the_chief_and_a_finished_chief_ends_the_wait(
        monkeypatch):
    monkeypatch.setattr(cluster, "GRACE_S", 0.5)
    both = [subprocess.Popen(python("import sys; sys.exit(3)")) for _ in range(2)]
    for p in both:
        p.wait()
    assert cluster._wait(both) == (1, 3)
    hung = subprocess.Popen(python("import time; time.sleep(600)"))
    try:
        chief = subprocess.Popen(python("pass"))
        start = time.monotonic()
        assert cluster._wait([chief, hung]) is None
        assert time.monotonic() - start < 5
    finally:
        hung.kill()
        hung.wait()


def test_workers_already_started_are_stopped_when_starting_another_fails(monkeypatch):
    monkeypatch.setattr(cluster, "GRACE_S", 0.5)
    started = []
    real_popen = subprocess.Popen

    def popen(argv, **kwargs):
        if started:
            raise OSError("no more processes")
        started.append(real_popen(python("import time; time.sleep(600)"), **kwargs))
        return started[-1]
    monkeypatch.setattr(cluster.subprocess, "Popen", popen)
    with pytest.raises(OSError):
        cluster.run_local(2, ["--run-dir", "unused"], log=lambda m: None)
    assert started[0].poll() is not None  # not left waiting for its cluster


def test_each_replica_gets_its_rows_of_the_global_batch():
    x = np.arange(10 * 3).reshape(10, 3)
    batch = ({"features": x, "cells": x + 1}, x, x * 0.5)
    shards = [distributed.shard(batch, r, 3) for r in range(3)]
    rows = np.concatenate([s[1] for s in shards])
    assert sorted(rows[:, 0]) == sorted(x[:, 0])          # every row once, none twice
    assert [len(s[1]) for s in shards] == [4, 3, 3]
    np.testing.assert_array_equal(shards[1][0]["cells"], x[1::3] + 1)
    assert len(distributed.shard(batch, 2, 3)[2]) == 3
    assert len(distributed.shard((x[:1], x[:1]), 1, 2)[0]) == 0   # a short batch: empty share


def test_window_batches_keep_a_seeded_order():
    x = np.arange(20)[:, None]
    a, b = (distributed.WindowBatches(x, x, x, 8, seed=3) for _ in range(2))
    assert len(a) == 3 and [a[i][0].tolist() for i in range(3)] == [b[i][0].tolist() for i in range(3)]
    assert sorted(np.concatenate([a[i][0][:, 0] for i in range(3)])) == list(range(20))


def test_a_cluster_names_its_device():
    info = {"backend": "tensorflow", "device": "GPU", "gpus": 1, "name": "1 x NVIDIA H200"}
    named = device.for_cluster(info, 2)["name"]
    assert named == "2 workers × 1 x NVIDIA H200"
    assert device.kind_of(named) == "GPU" and device.workers_of(named) == 2
    assert device.kind_of("2 workers × CPU (2 cores)") == "CPU"
    assert device.kind_of("CPU (2 cores)") == "CPU" and device.workers_of("CPU (2 cores)") == 1


def test_a_non_chief_worker_writes_nothing(tmp_path):
    run = Run(tmp_path / "run")
    view = distributed.ReadOnlyRun(run)
    view.write_status(state="running")
    view.append_history({"epoch": 1, "loss": 1.0})
    assert not run.path.exists() and view.status == {"state": "unknown"}


def test_the_non_chief_view_drops_every_write_a_run_has():
    """A write method added to ``Run`` must be added to ``ReadOnlyRun.WRITES`` too, or every
    worker of a cluster would write the run folder."""
    writes = {name for name, member in vars(Run).items()
              if inspect.isfunction(member) and not name.startswith("_")
              and re.search(r"atomic\.|\.unlink\(|_write_|open\(", inspect.getsource(member))}
    assert writes == set(distributed.ReadOnlyRun.WRITES)


def test_local_workers_are_refused_inside_a_cluster(monkeypatch, capsys):
    monkeypatch.setenv("TF_CONFIG", cluster.tf_config(["localhost:1", "localhost:2"], 0))
    assert main(["train", "--corpus", "bach-chorales", "--run-dir", "x", "--local-workers", "2"]) == 2
    assert "TF_CONFIG is set" in capsys.readouterr().err


def test_zero_local_workers_is_a_plain_error(tmp_path, capsys):
    run_dir = tmp_path / "x"
    assert main(["train", "--corpus", "bach-chorales", "--run-dir", str(run_dir),
                 "--local-workers", "0"]) == 2
    assert "needs at least 1 worker" in capsys.readouterr().err and not run_dir.exists()


# --- real 2-worker trainings ---------------------------------------------------------------
def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def _train_args(run_dir, epochs: int, batch: int) -> list[str]:
    spec = TrainSpec(preset="studio", epochs=epochs, batch_size=batch, **SPEC)
    from core.settings import to_args
    return [sys.executable, "-m", "core", "train", "--run-dir", str(run_dir), *to_args(spec)]


def _files(run: Run) -> set[str]:
    return {str(p.relative_to(run.path)) for p in run.path.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory, data_dir) -> Run:
    """The single-worker run every multi-replica run is held against: global batch 4."""
    return train(TrainSpec(preset="studio", epochs=2, batch_size=4, **SPEC),
                 tmp_path_factory.mktemp("one") / "one", log=lambda m: None,
                 on_checkpoint=lambda run: checkpoint_reporter(run, print))


def _assert_same_losses(one: Run, other: Run) -> None:
    for a, b in zip(one.history(), other.history(), strict=True):
        assert a["epoch"] == b["epoch"]
        # the same steps on the same batches; each replica averages its own rows' tokens
        assert b["loss"] == pytest.approx(a["loss"], rel=0.005), (one.history(), other.history())
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=0.01), (one.history(), other.history())


@pytest.mark.slow
def test_two_local_workers_match_one_worker_with_the_same_global_batch(tmp_path, one_worker):
    one = one_worker
    done = subprocess.run([*_train_args(tmp_path / "two", 2, 2), "--local-workers", "2"],
                          cwd=PROJECT_ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    two = Run(tmp_path / "two")
    assert two.status["state"] == "finished"
    _assert_same_losses(one, two)
    record = two.config["cluster"]
    assert (record["workers"], record["replicas"], record["batch_per_replica"],
            record["global_batch"]) == (2, 2, 2, 4)
    assert one.config["cluster"]["global_batch"] == 4
    assert two.config["device"].startswith("2 workers × CPU") and two.config["device_kind"] == "CPU"
    assert two.status["device"] == two.config["device"]
    # the chief wrote what one worker writes, once: nothing more, nothing twice
    assert _files(two) == _files(one)
    assert [r["epoch"] for r in two.history()] == [1, 2]
    assert "worker 1: epoch 2/2" in done.stdout and done.stdout.count("\nepoch 2/2") == 1


@pytest.mark.slow
def test_only_the_chief_writes_the_run_folder(tmp_path, data_dir):
    """Two 'machines': the same command, with the same relative --run-dir, in two folders."""
    addresses = [f"localhost:{p}" for p in cluster.free_ports(2)]
    command = _train_args(Path("runs/piece"), 1, 2)
    procs = []
    for i, machine in enumerate(["a", "b"]):
        (tmp_path / machine).mkdir()
        procs.append(subprocess.Popen(command, cwd=tmp_path / machine, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True,
                                      env=_env(TF_CONFIG=cluster.tf_config(addresses, i))))
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    chief = Run(tmp_path / "a" / "runs" / "piece")
    assert chief.status["state"] == "finished" and chief.epochs() == [1]
    assert chief.config["cluster"]["addresses"] == addresses
    assert list((tmp_path / "b").iterdir()) == []          # the other worker wrote nothing


MIRRORED = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]     # two devices of one machine, as two GPUs
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from core.training import distributed
from core.settings import TrainSpec
from core.training.train import train
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
class Rows(list):                                     # one global batch of 4 numbered rows
    def reshuffle(self): pass
x = tf.constant([[0], [1], [2], [3]])
first = next(iter(distributed.sharded(strategy, Rows([(x.numpy(), x.numpy())]))))
assert [r.numpy()[:, 0].tolist() for r in strategy.experimental_local_results(first[0])] == \
    [[0, 2], [1, 3]], "each replica gets its own rows"
distributed.make_strategy = lambda *a: strategy
train(TrainSpec(preset="studio", epochs=2, batch_size=2, **{spec}), sys.argv[1], queue=False)
"""


@pytest.mark.slow
def test_two_devices_of_one_machine_match_one_device(tmp_path, one_worker):
    """The several-GPUs path (MirroredStrategy), on two logical CPUs: 2 replicas x batch 2."""
    done = subprocess.run([sys.executable, "-c", MIRRORED.format(spec=SPEC), str(tmp_path / "two")],
                          cwd=PROJECT_ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    two = Run(tmp_path / "two")
    _assert_same_losses(one_worker, two)
    assert two.config["cluster"] == {"workers": 1, "addresses": [], "replicas": 2,
                                     "batch_per_replica": 2, "global_batch": 4}


def _worker_pid(launcher: int, index: int) -> int | None:
    children = Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()
    for pid in children:
        try:
            if f'"index": {index}'.encode() in Path(f"/proc/{pid}/environ").read_bytes():
                return int(pid)
        except OSError:
            continue
    return None


@pytest.mark.slow
def test_a_lost_worker_ends_the_job_clearly_and_resume_goes_on(tmp_path, data_dir):
    run = Run(tmp_path / "lost")
    job = subprocess.Popen([*_train_args(run.path, 200, 2), "--local-workers", "2"],
                           cwd=PROJECT_ROOT, env=_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    while not run.history() and time.time() < deadline and job.poll() is None:
        time.sleep(0.5)
    assert run.history(), job.communicate()[0][-3000:]
    os.kill(_worker_pid(job.pid, 1), signal.SIGKILL)
    out = job.communicate(timeout=120)[0]
    assert job.returncode == 2, out[-3000:]
    status = run.status
    assert status["state"] == "failed", status
    assert "worker 1 of 2 ended (killed by SIGKILL)" in status["message"]
    assert "resume" in status["message"]
    done = status["epoch"]
    assert run.epochs()[-1] == done >= 1
    # resume on a fresh 2-worker cluster, from the last checkpoint
    again = subprocess.run([sys.executable, "-m", "core", "train", "--run-dir", str(run.path),
                            "--resume", "--epochs", str(done + 1), "--local-workers", "2"],
                           cwd=PROJECT_ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert run.status["state"] == "finished"
    assert [r["epoch"] for r in run.history()] == list(range(1, done + 2))
