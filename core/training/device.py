"""Which device Keras will train on, for any backend, and how to use it well.

``describe()`` names the device for ``status.json`` and ``run.json`` (``for_cluster`` names a
cluster's: ``"2 workers × 1 x NVIDIA H200"``); ``setup(strategy)`` turns on mixed precision on a
GPU (the output layers stay float32, ``core.models.presets``) and returns the strategy's scope (a no-op
context without one). The strategy itself comes from ``core.training.distributed.make_strategy``.
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


def for_cluster(info: dict[str, Any], workers: int) -> dict[str, Any]:
    """:func:`describe`'s answer for a job of ``workers`` such workers (each this machine's kind):
    the name says how many (``"2 workers × CPU (2 cores)"``)."""
    if workers <= 1:
        return dict(info)
    return {**info, "workers": workers, "name": f"{workers} workers × {info['name']}"}


def kind_of(name: str) -> str:
    """``"GPU"`` or ``"CPU"`` from a device name as :func:`describe` and :func:`for_cluster` write
    it (``"1 x NVIDIA H200"``, ``"CPU (2 cores)"``, ``"2 workers × CPU (2 cores)"``): anything
    that is not a CPU is a GPU here."""
    local = (name or "").split("×")[-1].strip().upper()
    return "CPU" if not local or local.startswith(("CPU", "UNKNOWN")) else "GPU"


def workers_of(name: str) -> int:
    """How many workers a device name counts (1 unless it says ``"N workers × ..."``)."""
    head = (name or "").split("×")[0].strip()
    if "×" in (name or "") and head.endswith("workers") and head.split()[0].isdigit():
        return int(head.split()[0])
    return 1


def setup(strategy: Any = None, mixed: bool = True) -> contextlib.AbstractContextManager:
    """Mixed precision on a GPU (unless ``mixed`` is off: a model with its own training step and
    no loss scaling, the C-RNN-GAN, stays float32); the scope of ``strategy``
    (``core.training.distributed``) when there is one."""
    if mixed and describe()["device"] == "GPU":
        keras.mixed_precision.set_global_policy("mixed_float16")
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def cudnn_blockers(model: Any) -> list[str]:
    """The LSTM layers of ``model`` that Keras could *not* run with the cuDNN kernel on a GPU, and
    why: cuDNN needs tanh, a sigmoid recurrent activation, a bias, no recurrent dropout, no
    unroll (Keras's own conditions; a mask must also be right-padded, which whole-piece batches
    are). ``[]`` means every LSTM can use it. Layers inside ``Bidirectional`` count too."""
    tanh, sigmoid = keras.activations.tanh, keras.activations.sigmoid
    found = []
    for layer in _layers(model):
        if not isinstance(layer, keras.layers.LSTM):
            continue
        why = [reason for reason, bad in (
            ("activation is not tanh", layer.cell.activation is not tanh),
            ("recurrent activation is not sigmoid", layer.cell.recurrent_activation is not sigmoid),
            ("no bias", not layer.cell.use_bias),
            ("recurrent dropout", bool(layer.cell.recurrent_dropout)),
            ("unrolled", bool(layer.unroll)),
            ("cuDNN switched off", getattr(layer, "use_cudnn", "auto") is False)) if bad]
        if why:
            found.append(f"{layer.name}: {', '.join(why)}")
    return found


def _layers(model: Any):
    """Every layer inside ``model``: nested models and ``Bidirectional``'s two directions too."""
    return model._flatten_layers(include_self=False, recursive=True)
