"""The arithmetic of the Keras layers the models use, in float32 NumPy: activations, the LSTM
cell (gates ``i, f, c, o``, as Keras orders them), an LSTM over a sequence, stacked LSTM steps,
and the weights read from Keras layers. ``core.models.inference`` builds the models' inference
forms from these; :func:`one_blas_thread` is how they run.
"""

from __future__ import annotations

import contextlib
from typing import Any

import keras
import numpy as np
from threadpoolctl import threadpool_limits


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * np.tanh(0.5 * x) + 0.5  # = 1 / (1 + exp(-x)), without overflow


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


ACTIVATIONS = {"linear": lambda x: x, "relu": lambda x: np.maximum(x, 0.0),
                "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
                "softmax": softmax}


def lstm_weights(layer: Any) -> list[np.ndarray]:
    """``[kernel (in, 4n), recurrent_kernel (n, 4n), bias (4n,)]`` of a Keras LSTM, float32."""
    cfg = layer.get_config()
    if (cfg["activation"], cfg["recurrent_activation"], cfg["use_bias"], cfg["go_backwards"]) != \
            ("tanh", "sigmoid", True, False):
        raise ValueError(f"{layer.name}: only forward tanh/sigmoid LSTMs with a bias are supported")
    return [np.asarray(w, np.float32) for w in layer.get_weights()]


def token_table(layer: Any) -> np.ndarray:
    """The rows fed to the first layer per token id: an embedding matrix, or one-hot rows."""
    if isinstance(layer, keras.layers.Embedding):
        if layer.mask_zero:
            raise ValueError(f"{layer.name}: a masking embedding is not supported")
        return np.asarray(layer.get_weights()[0], np.float32)
    return np.eye(layer.vocab_size, dtype=np.float32)


def lstm_cell(z: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One Keras LSTM step from the gate inputs ``z = x @ kernel + h @ recurrent + bias``
    ``(batch, 4n)``, gates in the order ``i, f, c, o``: returns the new ``(h, c)``."""
    n = c.shape[1]
    gates = sigmoid(z)
    c = gates[:, n:2 * n] * c + gates[:, :n] * np.tanh(z[:, 2 * n:3 * n])
    return gates[:, 3 * n:] * np.tanh(c), c


def stack_step(x: np.ndarray, weights: list[list[np.ndarray]], h: list[np.ndarray],
                c: list[np.ndarray]) -> np.ndarray:
    """One step of stacked LSTMs (``weights``: kernel, recurrent, bias per layer) from input
    ``x``, updating the states ``h`` and ``c`` in place; the top layer's ``h``."""
    for i, (kernel, recurrent, bias) in enumerate(weights):
        h[i], c[i] = lstm_cell(x @ kernel + h[i] @ recurrent + bias, c[i])
        x = h[i]
    return x


def lstm_run(z_in: np.ndarray, recurrent: np.ndarray, h: np.ndarray,
              c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A Keras LSTM over the gate inputs ``z_in = x @ kernel + bias`` of all its steps (one
    product) ``(batch, T, 4n)``, from the state ``(h, c)``: every step's ``h`` and the end state."""
    out = np.empty(z_in.shape[:2] + (recurrent.shape[0],), np.float32)
    for t in range(z_in.shape[1]):
        h, c = lstm_cell(z_in[:, t] + h @ recurrent, c)
        out[:, t] = h
    return out, h, c


def lstm_sequence(x: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray,
                   return_sequences: bool) -> np.ndarray:
    """A Keras LSTM over ``x`` ``(batch, T, in)`` from a zero state: ``(batch, T, n)`` or the
    last ``h`` ``(batch, n)``."""
    zero = np.zeros((x.shape[0], recurrent.shape[0]), np.float32)
    hs, h, _ = lstm_run(x @ kernel + bias, recurrent, zero, zero)
    return hs if return_sequences else h


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Keep NumPy's BLAS on one thread while stepping a model (threadpoolctl).

    The per-step products are small (a few hundred rows): extra BLAS threads gain little on an
    idle machine and, on a busy one, spin waiting for each other (measured 20-40x slower with
    2 cores shared by several processes).
    """
    return threadpool_limits(1, user_api="blas")

