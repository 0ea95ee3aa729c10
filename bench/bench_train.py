"""Training speed: the seed approach (skuli, many-to-one) against studio (many-to-many).

Same corpus, encoding and validation windows for both, in one run:

1. supervised tokens per second of each (median of several timed chunks after warm-up);
2. skuli trains for a fixed wall-time budget; its best validation loss is the bar;
3. studio trains until its validation loss on the *same* windows (100 tokens of context ->
   the next token, read off studio's last position) reaches that bar; wall time compared.

Prints JSON. Usage: ``python bench/bench_train.py [--budget 300] [--max-pieces 120]``.

``--speed studio:medium,studio:large`` instead measures training tokens/s of those presets the
way they train (whole pieces for ``studio``), median over batches after a warm-up pass, on
whatever device the Keras backend sees: the CPU-against-GPU comparison. Runs under any Keras
backend (``KERAS_BACKEND=jax`` or ``torch`` on a GPU machine without TensorFlow); a preset that
cannot run there (the C-RNN-GAN's training step is TensorFlow-only; its speed is
``bench/bench_gan.py``) is listed under ``skipped`` with the reason.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="bach-chorales")
    ap.add_argument("--encoding", default="events")
    ap.add_argument("--max-pieces", type=int, default=120)
    ap.add_argument("--skuli-size", default="large")
    ap.add_argument("--studio-size", default="large")
    ap.add_argument("--budget", type=float, default=300.0, help="skuli's training budget, seconds")
    ap.add_argument("--batch", type=int, default=128,
                    help="batch size for both models (skuli's own default), so each step is comparable")
    ap.add_argument("--chunk", type=int, default=10, help="skuli: batches between validation checks")
    ap.add_argument("--studio-chunk", type=int, default=1,
                    help="studio: batches between checks (it reaches the bar within a few)")
    ap.add_argument("--speed", default=None, metavar="PRESET:SIZE,...",
                    help="measure training tokens/s of these presets instead (e.g. "
                         "studio:medium,studio:large)")
    ap.add_argument("--seconds", type=float, default=60.0, help="--speed: timed seconds per preset")
    args = ap.parse_args()
    if args.speed:
        print(json.dumps(speed(args), indent=1))
        return

    import keras

    from core import corpus
    from core.training import device
    from core.models import presets
    from core.models.batches import make_windows
    from core.encodings import get_tokenizer

    keras.utils.set_random_seed(0)
    pieces = corpus.load(args.corpus, max_pieces=args.max_pieces).pieces
    train_p, val_p = corpus.split(pieces, 0.15, seed=0)
    tok = get_tokenizer(args.encoding).fit(train_p)
    train_s, val_s = [tok.encode(p) for p in train_p], [tok.encode(p) for p in val_p]
    window = 100
    val = make_windows(val_s, window, many_to_many=False, max_samples=2000)

    def build(preset, size):
        cfg = presets.make_config(preset, tok.vocab_size, size, window=window, batch_size=args.batch)
        return presets.compile_model(presets.build(cfg), cfg), cfg

    def val_loss(model, many_to_many):
        probs = np.asarray(model.predict(val.x, batch_size=256, verbose=0))
        if many_to_many:
            probs = probs[:, -1, :]
        p = probs[np.arange(len(val.y)), val.y]
        return float(-np.mean(np.log(np.maximum(p, 1e-9))))

    def run(preset, size, many_to_many, budget, chunk, target=None):
        model, cfg = build(preset, size)
        data = make_windows(train_s, window, many_to_many)
        n, bs = len(data.x), cfg.batch_size
        rng = np.random.default_rng(0)
        order = rng.permutation(n)
        curve, speeds, trained_s, pos = [], [], 0.0, 0
        model.train_on_batch(data.x[:bs], data.y[:bs], sample_weight=data.w[:bs])  # compile/warm-up
        while trained_s < budget:  # training time only: validation checks are not counted
            t = time.perf_counter()
            tokens = 0
            for _ in range(chunk):
                if pos + bs > n:
                    order, pos = rng.permutation(n), 0
                idx = order[pos:pos + bs]
                pos += bs
                model.train_on_batch(data.x[idx], data.y[idx], sample_weight=data.w[idx])
                tokens += int(data.w[idx].sum())
            dt = time.perf_counter() - t
            trained_s += dt
            speeds.append(tokens / dt)
            loss = val_loss(model, many_to_many)
            curve.append((round(trained_s, 2), round(loss, 4)))
            if target is not None and loss <= target:
                break
        return {"preset": preset, "size": size, "params": int(model.count_params()),
                "tokens_per_s": round(statistics.median(speeds), 1),
                "train_seconds": round(trained_s, 1), "best_val_loss": min(l for _, l in curve),
                "curve": curve}

    skuli = run("skuli", args.skuli_size, False, args.budget, args.chunk)
    target = skuli["best_val_loss"]
    studio = run("studio", args.studio_size, True, args.budget, args.studio_chunk, target=target)
    reached = studio["best_val_loss"] <= target
    studio_time = next((t for t, l in studio["curve"] if l <= target), None)
    skuli_time = next(t for t, l in skuli["curve"] if l <= target)
    print(json.dumps({
        "corpus": args.corpus, "pieces": len(pieces), "encoding": args.encoding,
        "vocab": tok.vocab_size, "window": window, "batch": args.batch, "device": device.describe(),
        "skuli": skuli, "studio": studio,
        "tokens_per_s_ratio": round(studio["tokens_per_s"] / skuli["tokens_per_s"], 1),
        "target_val_loss": target, "studio_reached_target": reached,
        "skuli_seconds_to_target": skuli_time, "studio_seconds_to_target": studio_time,
        "time_to_loss_ratio": round(skuli_time / studio_time, 1) if studio_time else None,
    }, indent=1))


def speed(args) -> dict:
    """Training tokens/s of each ``PRESET:SIZE`` in ``args.speed`` on this backend's device."""
    import keras

    from core import corpus
    from core.training import device
    from core.models import presets
    from core.encodings import get_tokenizer
    from core.training.data import datasets

    backend = keras.backend.backend()
    pieces = corpus.load(args.corpus, max_pieces=args.max_pieces).pieces
    train_p, val_p = corpus.split(pieces, 0.15, seed=0)
    tok = get_tokenizer(args.encoding).fit(train_p)
    train_s, val_s = [tok.encode(p) for p in train_p], [tok.encode(p) for p in val_p]
    results, skipped = [], []
    for item in args.speed.split(","):
        name, _, size = item.partition(":")
        preset = presets.PRESETS.get(name)
        if preset is None or preset.reads != "tokens":
            if preset is None:
                why = "unknown preset"
            elif preset.reads == "notes":
                why = ("its training step is TensorFlow-only" if backend != "tensorflow" else
                       "a GAN step is not a token step") + "; its speed is bench/bench_gan.py"
            else:
                why = f"it reads {preset.reads}, not the {args.encoding} tokens measured here"
            skipped.append({"preset": name, "size": size, "why": why})
            continue
        size = size or preset.defaults["size"]
        keras.utils.set_random_seed(0)
        config = presets.make_config(name, tok.vocab_size, size or None)
        model = presets.compile_model(presets.build(config), config)
        source = datasets(config, train_s, val_s, seed=0)[0].source
        for i in range(len(source)):   # warm-up: every batch shape compiled once
            model.train_on_batch(*source[i][:2], sample_weight=source[i][2])
        rates, timed, i = [], 0.0, 0
        while timed < args.seconds:
            x, y, w = source[i % len(source)]
            t = time.perf_counter()
            model.train_on_batch(x, y, sample_weight=w)
            dt = time.perf_counter() - t
            timed += dt
            rates.append(float(w.sum()) / dt)
            i += 1
        results.append({"preset": name, "size": size,
                        "params": int(model.count_params()), "batch": config.batch_size,
                        "train_on": config.train_on, "tokens_per_s": round(statistics.median(rates), 1),
                        "batches_timed": len(rates)})
    return {"backend": backend, "device": device.describe(), "corpus": args.corpus,
            "pieces": len(pieces), "encoding": args.encoding, "vocab": tok.vocab_size,
            "results": results, "skipped": skipped}


if __name__ == "__main__":
    main()
