"""The C-RNN-GAN on this machine: training steps per second and the time to generate 30 s.

- **Training**: the ``crnngan`` preset (``--sizes``, default small and medium) on the Bach
  chorales in the ``continuous-3`` encoding, batches of the preset's size and window. After one
  warm-up epoch per phase (which traces the step into a graph), ``--repeats`` timed passes of
  ``--batches`` batches each, for the pre-training step (generator, squared error) and the
  adversarial step (both networks); the median steps per second (and real steps, i.e. notes'
  onsets, per second) of each.
- **Generation**: 30 s of music at 120 bpm (``seconds=30``), 1 and 4 variations, from noise alone,
  with the NumPy generator, by the shipped gallery run (``--run``) or, when absent, by a fresh
  model; median of ``--repeats``.

Prints JSON with the machine's load. Usage: ``python bench/bench_gan.py [--sizes small,medium]``.
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

SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints" / "bach-crnngan-continuous"


def train_speed(size: str, seqs, features: int, batches: int, repeats: int) -> dict:
    import keras

    from core.models import presets
    from core.models.crnngan import StepBatches

    config = presets.make_config("crnngan", 0, size, features=features)
    keras.utils.set_random_seed(0)
    model = presets.compile_model(presets.build(config), config)
    data = StepBatches(seqs, config.batch_size, config.window, seed=0)
    out = {"size": size, "params": int(model.count_params()), "batch_size": config.batch_size,
           "window": config.window}
    for phase in ("pretraining", "adversarial"):
        model.pretraining = phase == "pretraining"
        model.make_train_function(force=True)
        step = model.train_function
        model.train_step(data[0])        # eager once: builds the metrics
        t0 = time.perf_counter()
        step(iter([data[0]]))
        trace = time.perf_counter() - t0
        rates, real_steps = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            steps = 0
            for i in range(batches):
                x, w = data[i % len(data)]
                step(iter([(x, w)]))
                steps += int(w.sum())
            seconds = time.perf_counter() - t0
            rates.append(batches / seconds)
            real_steps.append(steps / seconds)
        out[phase] = {"first_call_s": round(trace, 1),
                      "batches_per_s": round(statistics.median(rates), 2),
                      "note_steps_per_s": round(statistics.median(real_steps)),
                      "runs": [round(r, 2) for r in rates]}
    return out


def generation_time(repeats: int) -> dict:
    from core.generation.generate import Generator

    if (SHIPPED / "run.json").is_file():
        gen, source = Generator.from_run(SHIPPED), SHIPPED.name
    else:
        from core import corpus
        from core.models import presets
        from core.encodings import get_tokenizer
        from core.generation.generate_steps import StepGenerator
        tok = get_tokenizer("continuous-3").fit(corpus.load("bach-chorales", max_pieces=40).pieces)
        config = presets.make_config("crnngan", 0, "small", features=tok.features)
        gen, source = StepGenerator(presets.build(config), tok, config), "untrained small model"
    out = {"model": source}
    for variations in (1, 4):
        times, steps = [], []
        for r in range(repeats):
            result = gen.generate(seconds=30, seed=r, variations=variations, primer="none")
            times.append(result.elapsed_s)
            steps.append(result.generated_tokens / variations)
        out[f"{variations}_variations"] = {"seconds": round(statistics.median(times), 4),
                                          "steps_per_variation": statistics.median(steps),
                                          "runs": [round(t, 4) for t in times]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,medium")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from core import corpus
    from core.encodings import get_tokenizer

    load_before = os.getloadavg()
    pieces = corpus.load("bach-chorales").pieces
    tok = get_tokenizer("continuous-3").fit(pieces)
    seqs = [tok.encode(p) for p in pieces]
    result = {"machine": f"{os.cpu_count()} cores", "load_before": [round(x, 2) for x in load_before],
              "corpus": "bach-chorales", "encoding": "continuous-3",
              "training": [train_speed(s, seqs, tok.features, args.batches, args.repeats)
                           for s in args.sizes.split(",")],
              "generation_30s": generation_time(max(args.repeats, 5))}
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
