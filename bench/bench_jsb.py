"""The JSB Chorales benchmark: nats per time step on the test split, quarter-note steps.

The number of Boulanger-Lewandowski et al. (ICML 2012): the negative log-likelihood of each
test chorale's piano roll, per time step. Two of our models, each evaluated on the 77 test
chorales with ``core.training.report.evaluate_run(run, split="test")`` (``frame_nll``):

- ``biaxial``: the shipped gallery run ``jsb-biaxial-pianoroll`` (the biaxial RNN on the
  ``pianoroll-quarter`` cells; per step it sums play *and* articulation terms, an upper bound on
  the play-only NLL, since on JSB the articulation follows from the play bits);
- ``studio``: the studio LSTM on ``frames-quarter`` tokens (each step's pitches lowest first,
  then an end-of-step token; summed token NLL of a step = that step's NLL), trained by this
  script when its run folder is missing (``--train``), on the train split transposed by up to
  +-``TRANSPOSE`` semitones. Its command is written in the run folder (``bench-command.txt``).

Both are upper bounds (their probability mass also covers token or cell sequences that are
not JSB frames). Prints JSON. Usage:
``python bench/bench_jsb.py [--biaxial RUN] [--studio RUN] [--train]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PUBLISHED = {"source": "Boulanger-Lewandowski, Bengio, Vincent (ICML 2012), JSB test split, "
                       "quarter-note steps, NLL per time step",
             "RNN": 8.71, "best (RNN-NADE, HF)": 5.19}
TRANSPOSE = 3


def studio_spec(transpose: int = TRANSPOSE):
    from core.settings import TrainSpec
    return TrainSpec(corpus="jsb", encoding="frames-quarter", preset="studio", size="small",
                     epochs=15, patience=3, transpose=transpose or None, batch_size=16,
                     checkpoint_epochs=[15], seed=7)


def measure(run_dir: Path) -> dict:
    from core.training.report import evaluate_run
    from core.runs import Run
    run = Run(run_dir)
    t0 = time.perf_counter()
    test = evaluate_run(run, split="test")
    val = evaluate_run(run, split="val")
    history = run.history()
    config = run.config
    return {"run": str(run_dir), "preset": config["model"]["preset"],
            "encoding": config["spec"]["encoding"], "size": config["model"]["size"],
            "params": config["params"], "transpose": config["spec"].get("transpose"),
            "epoch": test["epoch"], "epochs_trained": len(history),
            "train_minutes": round(config.get("wall_seconds",
                                              sum(r["seconds"] for r in history)) / 60, 1),
            "device": config["device"],
            "test_frame_nll": round(test["frame_nll"], 3), "test_steps": test["frame_steps"],
            "val_frame_nll": round(val["frame_nll"], 3), "val_steps": val["frame_steps"],
            "test_nll_token": round(test["nll_token"], 4),
            "eval_seconds": round(time.perf_counter() - t0, 1)}


def generation_seconds(run_dir: Path, repeats: int = 3) -> dict:
    """Median wall time to generate 30 s of music (120 bpm), 1 and 4 variations, in one batch."""
    import statistics
    from core.generation.generate import Generator
    gen = Generator.from_run(run_dir)
    out = {}
    for variations in (1, 4):
        times = [gen.generate(20_000, seconds=30, seed=k, variations=variations,
                              anti_loop=0.5).elapsed_s for k in range(repeats)]
        out[f"generate_30s_{variations}_variation_s"] = round(statistics.median(times), 3)
    return out


def main() -> None:
    from core.paths import SHIPPED_RUNS, data_dir
    ap = argparse.ArgumentParser()
    ap.add_argument("--biaxial", default=str(SHIPPED_RUNS / "jsb-biaxial-pianoroll"))
    ap.add_argument("--studio", default=str(data_dir() / "runs" / "jsb-studio-frames"))
    ap.add_argument("--train", action="store_true", help="train the studio run when it is missing")
    ap.add_argument("--transpose", type=int, default=TRANSPOSE,
                    help="semitones the studio run's training pieces are also moved by (0: none)")
    args = ap.parse_args()

    studio = Path(args.studio)
    if args.train and not (studio / "run.json").is_file():
        from core.settings import to_args
        from core.training.train import train
        spec = studio_spec(args.transpose)
        studio.mkdir(parents=True, exist_ok=True)
        (studio / "bench-command.txt").write_text(
            "python -m core train " + " ".join(to_args(spec)) + f" --run-dir {studio}\n")
        t0 = time.time()
        run = train(spec, studio, queue=False, log=lambda m: print(m, file=sys.stderr, flush=True))
        config = run.config
        config["wall_seconds"] = round(time.time() - t0, 1)
        run.write_config(config)

    load = os.getloadavg()
    out = {"benchmark": "jsb", "published": PUBLISHED, "load_avg_1m_before": round(load[0], 2),
           "cores": os.cpu_count(), "models": {}}
    for name, path in (("biaxial", Path(args.biaxial)), ("studio", studio)):
        out["models"][name] = (measure(path) if (path / "run.json").is_file()
                               else {"missing": str(path)})
    if "missing" not in out["models"]["biaxial"]:
        out["models"]["biaxial"].update(generation_seconds(Path(args.biaxial)))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
