"""``make run``'s install step picks TensorFlow's CUDA build where ``nvidia-smi`` lists a GPU.

The Makefile's own recipe runs (real make, real shell); only ``nvidia-smi`` and the venv's
``python`` are stand-ins that record what they were asked, since no GPU (and no second
TensorFlow install) is at hand where the suite runs.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _install(tmp_path: Path, gpu: bool) -> tuple[str, Path]:
    venv, tools = tmp_path / "venv", tmp_path / "tools"
    (venv / "bin").mkdir(parents=True)
    tools.mkdir()
    calls = tmp_path / "pip-calls"
    python = venv / "bin" / "python"
    python.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\n")
    smi = tools / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100'\n" if gpu else "#!/bin/sh\nexit 9\n")
    for f in (python, smi):
        f.chmod(0o755)
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"}
    subprocess.run(["make", "-s", f"VENV={venv}", f"{venv}/.installed-runtime"], cwd=ROOT, env=env,
                   check=True, capture_output=True, text=True, timeout=60)
    return calls.read_text(), venv


@pytest.mark.parametrize("gpu", [True, False])
def test_the_runtime_install_follows_nvidia_smi(tmp_path, gpu):
    calls, venv = _install(tmp_path, gpu)
    if gpu:
        assert calls.strip() == f"-m pip install -q -r {venv}/requirements-gpu.txt"
        wanted = (venv / "requirements-gpu.txt").read_text()
        pinned = (ROOT / "requirements.txt").read_text()
        version = next(l for l in pinned.splitlines() if l.startswith("tensorflow-cpu==")).split("==")[1]
        assert f"tensorflow[and-cuda]=={version}" in wanted.splitlines()
        assert "tensorflow-cpu==" not in wanted
        assert wanted.splitlines()[1:] == [l.replace("tensorflow-cpu==", "tensorflow[and-cuda]==")
                                           for l in pinned.splitlines()[1:]]   # nothing else
    else:
        assert calls.strip() == "-m pip install -q -r requirements.txt"
    assert (venv / ".installed-runtime").exists()
