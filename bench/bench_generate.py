"""Generation speed: seconds to generate 500 tokens, ours against the seed projects' way.

Models are untrained (speed does not depend on the weights) at realistic sizes, with a real
``chords`` tokenizer of 300 tokens:

- ``studio`` small and medium through :class:`core.generation.generate.Generator`: the NumPy recurrence,
  one token per step with the LSTM state carried forward; plain sampling and with every control
  on (top-k, top-p, anti-loop, repetition penalty); 1 and 4 variations;
- ``studio`` small with a length in seconds, ``generate(seconds=30)``, on the ``events`` (REMI)
  tokenizer of the Home page's model: how long the music is must be known after every token
  (an untrained model rarely writes a whole note, Pitch then Velocity then Duration, so it takes
  some 2500-3000 tokens to last 30 s; a trained one about 1000);
- ``skuli`` large (the original 3 x LSTM(512), 100-token window), three ways of running the
  full window once per token: the seed approach, ``model.predict`` per token, batch 1, as the
  original notebooks did; the compiled Keras predict function called directly
  (``predict_on_batch``), once per step for all variations; and ours, the same window in NumPy
  (:class:`core.generation.generate.WindowForward`, what ``Generator`` uses). These take up to seconds per
  token on a CPU, so they are timed over ``--skuli-tokens`` tokens and scaled to 500 (each step
  costs the same: the window has a fixed size).

Each number is the median of ``--repeats`` runs, in wall-clock seconds (``_s``) and CPU seconds
of all this process's threads (``_cpu_s``: less sensitive to other processes on a shared
machine; the load average is recorded). Prints one JSON object.
Usage: ``.venv/bin/python bench/bench_generate.py [--repeats 5] [--skuli-tokens 8]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from core.models import presets  # noqa: E402
from core.encodings import get_tokenizer  # noqa: E402
from core.generation.generate import Generator, sample  # noqa: E402
from core.piece import from_note_list  # noqa: E402

TOKENS = 500
VOCAB = 300
SECONDS = 30  # music asked of generate(seconds=...)


def tokenizer_of_300():
    """A real ``chords`` tokenizer fitted to 298 distinct notes and chords (+ PAD and REST)."""
    sets = ([(p,) for p in range(128)] + [(p, p + 4) for p in range(120)]
            + [(p, p + 4, p + 7) for p in range(50)])
    notes = [(step, step + 1, p, 80) for step, chord in enumerate(sets) for p in chord]
    tokenizer = get_tokenizer("chords", step=1.0).fit([from_note_list("all", notes)])
    assert tokenizer.vocab_size == VOCAB, tokenizer.vocab_size
    return tokenizer


def generator(preset: str, size: str, tokenizer) -> Generator:
    config = presets.make_config(preset, VOCAB, size)
    return Generator(presets.build(config), tokenizer, config)


def median(fn, repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds (all threads of this process) of ``fn(i)``."""
    wall, cpu = [], []
    for i in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(i)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def seed_approach(model, window: np.ndarray, tokens: int) -> None:
    """The original notebooks' loop: ``model.predict`` on the whole window for every token."""
    rng = np.random.default_rng(0)
    pattern = window.copy()
    for _ in range(tokens):
        probs = model.predict(pattern[None], verbose=0)
        token = sample(probs, rng)[0]
        pattern = np.append(pattern[1:], token)


def keras_direct(model, window: np.ndarray, tokens: int, batch: int) -> None:
    """The same loop through the compiled predict function, all variations in one call."""
    rng = np.random.default_rng(0)
    x = np.tile(window, (batch, 1))
    for _ in range(tokens):
        x[:, :-1] = x[:, 1:]
        x[:, -1] = sample(model.predict_on_batch(x), rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skuli-tokens", type=int, default=8, help="tokens timed for skuli, scaled to 500")
    args = parser.parse_args()

    tokenizer = tokenizer_of_300()
    controls = dict(top_k=20, top_p=0.95, anti_loop=0.5, repetition_penalty=1.2)
    out: dict = {"tokens": TOKENS, "vocab": VOCAB, "repeats": args.repeats}

    # studio: the NumPy recurrence
    for size in ("small", "medium"):
        gen = generator("studio", size, tokenizer)
        gen.generate(16)  # warm-up
        for name, kw in [("plain", {}), ("controls", controls), ("4_variations", dict(variations=4))]:
            wall, cpu = median(lambda i: gen.generate(TOKENS, seed=i, **kw), args.repeats)
            out[f"studio_{size}_{name}_s"] = round(wall, 4)
            out[f"studio_{size}_{name}_cpu_s"] = round(cpu, 4)
        out[f"studio_{size}_params"] = int(gen.model.count_params())

    # studio small, a length in seconds: the events tokenizer, as on the Home page
    events = get_tokenizer("events")
    config = presets.make_config("studio", events.vocab_size, "small")
    gen = Generator(presets.build(config), events, config)
    gen.generate(16)  # warm-up
    tokens = []  # generated by each run
    wall, cpu = median(lambda i: tokens.append(gen.generate(seconds=SECONDS, seed=i)
                                               .generated_tokens), args.repeats)
    out[f"studio_small_events_{SECONDS}_seconds_s"] = round(wall, 4)
    out[f"studio_small_events_{SECONDS}_seconds_cpu_s"] = round(cpu, 4)
    out[f"studio_small_events_{SECONDS}_seconds_tokens"] = int(statistics.median(tokens))

    # skuli large: the seed approach against ours, per token, scaled to 500 tokens
    n = args.skuli_tokens
    gen = generator("skuli", "large", tokenizer)
    window = np.random.default_rng(0).integers(1, VOCAB, gen.config.window).astype(np.int32)
    seed_approach(gen.model, window, 2)  # warm-up (traces predict)
    keras_direct(gen.model, window, 2, 1)
    keras_direct(gen.model, window, 2, 4)
    gen.generate(2, primer=window)
    timed = {
        "seed_predict_per_token": median(lambda i: seed_approach(gen.model, window, n), args.repeats),
        "keras_direct": median(lambda i: keras_direct(gen.model, window, n, 1), args.repeats),
        "keras_direct_4_variations": median(lambda i: keras_direct(gen.model, window, n, 4),
                                            args.repeats),
        "ours": median(lambda i: gen.generate(n, primer=window, seed=i), args.repeats),
        "ours_4_variations": median(lambda i: gen.generate(n, primer=window, seed=i, variations=4),
                                    args.repeats),
    }
    for name, (wall, cpu) in timed.items():
        out[f"skuli_large_{name}_s"] = round(wall / n * TOKENS, 2)
        out[f"skuli_large_{name}_cpu_s"] = round(cpu / n * TOKENS, 2)
    out["skuli_large_params"] = int(gen.model.count_params())
    out["skuli_large_tokens_timed"] = n

    seed = out["skuli_large_seed_predict_per_token_s"]
    out["speedup_studio_small_vs_seed"] = round(seed / out["studio_small_plain_s"], 1)
    out["speedup_studio_medium_vs_seed"] = round(seed / out["studio_medium_plain_s"], 1)
    out["speedup_skuli_keras_direct_vs_seed"] = round(seed / out["skuli_large_keras_direct_s"], 2)
    out["speedup_skuli_ours_vs_seed"] = round(seed / out["skuli_large_ours_s"], 2)
    out["speedup_skuli_ours_4_variations_vs_seed_per_piece"] = round(
        4 * seed / out["skuli_large_ours_4_variations_s"], 2)
    out["speedup_studio_small_vs_seed_cpu"] = round(
        out["skuli_large_seed_predict_per_token_cpu_s"] / out["studio_small_plain_cpu_s"], 1)
    out["target_studio_small_under_0.1_s"] = out["studio_small_plain_s"] < 0.1
    out["target_300x_vs_seed"] = out["speedup_studio_small_vs_seed"] >= 300
    out["machine"] = {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
                      "python": platform.python_version(), "numpy": np.__version__,
                      "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS")}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
