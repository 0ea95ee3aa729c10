"""Held-out likelihood, measured the way the model generates.

:func:`heldout_nll` is the project's one held-out NLL (nats per token):

- a many-to-many model (``studio``, ``ragtime``) reads each whole validation piece in one
  stateful pass with the generator's own step (:class:`core.models.inference.LSTMStepper`), from a zero
  state at the piece's first token, scoring every token but the first given all before it;
- the biaxial model (piano-roll cells) scores every cell of each whole piece in one pass of the
  Keras model: it is causal inside (the step before, the pitches below), so this is exactly the
  probability its cell-by-cell stepper gives (tested);
- a many-to-one seed model scores up to ``MAX_WINDOWS`` evenly spaced tokens that have a full
  window before them (its sliding window, :class:`core.models.inference.WindowForward`).

Both also report the NLL by position in the piece (``POSITION_BUCKETS``: the index of the token
a prediction is made *after*, so ``"0-127"`` is the first 128-token window), which shows whether
a model stays as good late in a piece as at its start. A probability below 1e-12 counts as 1e-12.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from core.models.biaxial import RollBatches
from core.models.inference import LSTMStepper, WindowForward
from core.models.numpy_ops import one_blas_thread, softmax

POSITION_BUCKETS = ((0, 128), (128, 256), (256, 512), (512, None))
MAX_WINDOWS = 256   # validation positions scored for a many-to-one model
BATCH = 64          # pieces (or windows) run together
ROLL_BATCH = 8      # piano-roll pieces run together (each is steps x pitches cells)
_MIN_PROB = 1e-12


def bucket_name(lo: int, hi: int | None) -> str:
    return f"{lo}+" if hi is None else f"{lo}-{hi - 1}"


def heldout_nll(model: Any, config: Any, seqs: Sequence[np.ndarray]) -> dict[str, Any]:
    """``{"nll_token", "nll_by_position", "scored_tokens"}`` of ``model`` on ``seqs`` (token id
    arrays); ``ValueError`` when there is nothing to score."""
    if config.reads_pianoroll:
        nats, positions = _rolls(model, config, seqs)
    elif config.many_to_many:
        with one_blas_thread():   # small products, one token at a time (see its docstring)
            nats, positions = _stateful(LSTMStepper(model), seqs)
    else:
        nats, positions = _windowed(WindowForward(model), seqs, config.window)
    if not len(nats):
        raise ValueError("nothing to score: every validation piece is too short")
    by_position: dict[str, float | None] = {}
    for lo, hi in POSITION_BUCKETS:
        inside = (positions >= lo) & (positions < (hi if hi is not None else np.inf))
        by_position[bucket_name(lo, hi)] = float(nats[inside].mean()) if inside.any() else None
    return {"nll_token": float(nats.mean()), "nll_by_position": by_position,
            "scored_tokens": int(len(nats))}


def _stateful(stepper: LSTMStepper, seqs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Nats of every scored token and the position it was predicted after, one pass per piece
    (:meth:`LSTMStepper.scan`: the generator's arithmetic, a chunk of steps at a time)."""
    pieces = sorted((np.asarray(s, np.int64) for s in seqs if len(s) > 1), key=len)
    nats, positions = [], []
    for at in range(0, len(pieces), BATCH):
        group = pieces[at:at + BATCH]
        lengths = np.array([len(p) for p in group])
        tokens = np.zeros((len(group), lengths.max()), np.int64)
        for row, p in enumerate(group):
            tokens[row, :len(p)] = p
        for t0, first, h in stepper.scan(tokens[:, :-1], lengths - 1):
            logits = h @ stepper.out_kernel + stepper.out_bias          # (rows, C, vocab)
            t = t0 + np.arange(h.shape[1])
            live = t[None, :] < lengths[first:, None] - 1               # (rows, C)
            probs = softmax(logits[live])                              # (scored, vocab)
            picked = probs[np.arange(len(probs)), tokens[first:, t + 1][live]].astype(np.float64)
            nats.append(-np.log(np.maximum(picked, _MIN_PROB)))
            positions.append(np.broadcast_to(t, live.shape)[live])
    return _joined(nats), _joined(positions)


def _rolls(model: Any, config: Any, seqs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Nats of every cell of every piece (the first included: it is predicted from silence)
    and its position (cell index) in the piece."""
    batches = RollBatches([s for s in seqs if len(s)], ROLL_BATCH, pitches=config.pitches,
                          low=config.pitch_low, max_len=config.max_len, shuffle=False)
    nats, positions = [], []
    for i in range(len(batches)):
        x, y, w = batches[i]
        probs = np.asarray(model(x, training=False), np.float64)
        picked = np.take_along_axis(probs, y[..., None], axis=-1)[..., 0]
        real = w > 0
        cell = np.arange(y.shape[1] * y.shape[2]).reshape(y.shape[1:])
        offsets = np.array([batches.chunks[j][1] for j in batches.batches[i]]) * config.pitches
        nats.append(-np.log(np.maximum(picked[real], _MIN_PROB)))
        positions.append((cell[None] + offsets[:, None, None])[real])
    return _joined(nats), _joined(positions)


def _windowed(forward: WindowForward, seqs: Sequence[np.ndarray],
              window: int) -> tuple[np.ndarray, np.ndarray]:
    """Nats of up to ``MAX_WINDOWS`` evenly spaced tokens with a full window before them."""
    places = [(i, t) for i, s in enumerate(seqs) for t in range(window, len(s))]
    if len(places) > MAX_WINDOWS:
        places = [places[k] for k in np.linspace(0, len(places) - 1, MAX_WINDOWS).astype(int)]
    nats = []
    for at in range(0, len(places), BATCH):
        part = places[at:at + BATCH]
        x = np.stack([np.asarray(seqs[i][t - window:t], np.int32) for i, t in part])
        probs = np.asarray(forward(x), np.float64)
        picked = probs[np.arange(len(part)), [int(seqs[i][t]) for i, t in part]]
        nats.append(-np.log(np.maximum(picked, _MIN_PROB)))
    return _joined(nats), np.array([t - 1 for _, t in places], np.int64)


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0)
