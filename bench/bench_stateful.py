"""Windows against whole pieces: how the studio model should train to generate statefully.

The same studio model (size, batch, seed, optimizer), corpus and split, trained two ways in one
run: ``windows`` (128-token windows, each from a zero state: the earlier way) and ``pieces``
(whole pieces, the state carried through each, as the generator runs). After the same number of
epochs each is scored with the generator's own stateful step over every whole validation piece
(``core.evaluation.likelihood.heldout_nll``), overall and by position, next to the 3-gram baseline.
Tokens per second are supervised tokens over epoch wall time (the first epoch, with graph
tracing, left out), median over epochs.

Prints JSON. Usage: ``python bench/bench_stateful.py [--epochs 8] [--max-pieces N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="bach-chorales")
    ap.add_argument("--encoding", default="events")
    ap.add_argument("--size", default="small")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32, help="the studio preset's default")
    ap.add_argument("--max-pieces", type=int)
    ap.add_argument("--modes", default="windows,pieces")
    ap.add_argument("--long", type=int, default=640, help="tokens: the 'same pieces' figures use "
                    "only the validation pieces longer than this")
    args = ap.parse_args()

    import keras

    from core import corpus
    from core.evaluation import ngram
    from core.models import presets
    from core.encodings import get_tokenizer
    from core.evaluation.likelihood import heldout_nll
    from core.training.data import datasets

    pieces = corpus.load(args.corpus, max_pieces=args.max_pieces).pieces
    train_p, val_p = corpus.split(pieces, 0.1, seed=7)
    tok = get_tokenizer(args.encoding).fit(train_p)
    train_s, val_s = [tok.encode(p) for p in train_p], [tok.encode(p) for p in val_p]
    out = {"corpus": args.corpus, "encoding": args.encoding, "train_pieces": len(train_p),
           "val_pieces": len(val_p), "vocab": tok.vocab_size, "epochs": args.epochs,
           "batch_size": args.batch, "size": args.size, "load_avg_start": os.getloadavg()[0],
           "baseline_nll_token": ngram.ngram_baseline(train_s, 3, vocab_size=tok.vocab_size).nll(val_s)}
    for mode in args.modes.split(","):
        keras.utils.set_random_seed(7)
        config = presets.make_config("studio", tok.vocab_size, args.size, batch_size=args.batch,
                                     train_on=mode)
        model = presets.compile_model(presets.build(config), config)
        train_data, _ = datasets(config, train_s, val_s, seed=7)
        seconds = []

        class Clock(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                seconds.append(time.perf_counter() - self.t)

        t0 = time.perf_counter()
        model.fit(**train_data.fit_inputs(config.batch_size), epochs=args.epochs, verbose=0,
                  callbacks=[Clock()])
        wall = time.perf_counter() - t0
        nll = heldout_nll(model, config, val_s)
        # the same pieces in every bucket: long pieces are harder than short ones, so the plain
        # by-position figures mix "later in a piece" with "a longer piece"
        long_pieces = [s for s in val_s if len(s) > args.long]
        same = heldout_nll(model, config, long_pieces)["nll_by_position"] if long_pieces else None
        steady = seconds[1:] or seconds
        out[mode] = {"tokens_per_s": round(train_data.tokens / statistics.median(steady), 1),
                     "batches_per_epoch": train_data.batches, "wall_s": round(wall, 1),
                     "epoch_s": [round(s, 1) for s in seconds], **nll,
                     "nll_vs_baseline": nll["nll_token"] / out["baseline_nll_token"],
                     f"nll_by_position_pieces_over_{args.long}_tokens": same,
                     "pieces_over_long": len(long_pieces),
                     "late_vs_first_window": (nll["nll_by_position"]["512+"]
                                              / nll["nll_by_position"]["0-127"])}
        print(f"{mode}: {json.dumps(out[mode])}", file=sys.stderr, flush=True)
    if "windows" in out and "pieces" in out:
        out["pieces_vs_windows_tokens_per_s"] = out["pieces"]["tokens_per_s"] / out["windows"]["tokens_per_s"]
    out["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
