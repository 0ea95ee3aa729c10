"""Which device Keras will train on, for any backend, and how to use it well.

``describe()`` names the device for ``status.json`` and ``run.json``; ``setup()`` turns on
mixed precision on a GPU and returns a ``tf.distribute`` strategy scope when TensorFlow sees
several GPUs (a no-op context otherwise).
"""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache
from typing import Any

import keras


@lru_cache(maxsize=1)
def describe() -> dict[str, Any]:
    """``{"backend", "device" ("GPU"|"CPU"), "gpus", "name"}`` for the active Keras backend."""
    backend = keras.backend.backend()
    names: list[str] = []
    if backend == "tensorflow":
        import tensorflow as tf
        gpus = tf.config.list_physical_devices("GPU")
        names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    elif backend == "jax":
        import jax
        names = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    elif backend == "torch":
        import torch
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    kind = "GPU" if names else "CPU"
    label = f"{len(names)} x {names[0]}" if names else f"CPU ({os.cpu_count()} cores)"
    return {"backend": backend, "device": kind, "gpus": len(names), "name": label}


def kind_of(name: str) -> str:
    """``"GPU"`` or ``"CPU"`` from a device name as :func:`describe` writes it (``"1 x NVIDIA
    H200"``, ``"CPU (2 cores)"``): anything that is not a CPU is a GPU here."""
    return "CPU" if not name or name.upper().startswith(("CPU", "UNKNOWN")) else "GPU"


def setup() -> contextlib.AbstractContextManager:
    """Mixed precision on GPU; a MirroredStrategy scope for several TensorFlow GPUs."""
    info = describe()
    if info["device"] == "GPU":
        keras.mixed_precision.set_global_policy("mixed_float16")
    if info["backend"] == "tensorflow" and info["gpus"] > 1:
        import tensorflow as tf
        return tf.distribute.MirroredStrategy().scope()
    return contextlib.nullcontext()
