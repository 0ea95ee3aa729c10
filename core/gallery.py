"""The shipped gallery: runs trained by this code, kept in ``checkpoints/``, rebuilt by one command.

``python -m core gallery build [NAME] [--groove PATH]`` retrains a shipped run from the spec
below (same seed), strips the optimizer state from its checkpoints (the gallery only
generates, and this keeps ``checkpoints/`` small), writes its model card and swaps it into
place. Checkpoints are spread from under-trained to over-trained so the Gallery page can show
copying grow with epochs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path
from typing import Any

from core import atomic
from core.paths import SHARED_DATA, SHIPPED_RUNS
from core.runs import Run, checkpoint_name
from core.train import TrainSpec

GROOVE_CREDIT = "Groove MIDI Dataset, Gillick et al. 2019, CC BY 4.0"

# name -> (spec, one-line description)
SHIPPED: dict[str, tuple[TrainSpec, str]] = {
    "bach-studio-events": (
        TrainSpec(corpus="bach-chorales", encoding="events", preset="studio", size="small",
                  epochs=300, checkpoint_epochs=[1, 10, 30, 60, 100, 150, 200, 300], max_pieces=10,
                  val_share=0.1, window=128, dropout=0.0, batch_size=8, learning_rate=0.003,
                  seed=7),
        "Bach chorales, studio LSTM on REMI events: the default model of Home and Generate. "
        "Deliberately small data and no dropout, trained far past its best epoch, so the late "
        "checkpoints memorise: the gallery's copying story."),
    "fiddle-studio-events": (
        TrainSpec(corpus="fiddle-tunes", encoding="events", preset="studio", size="small",
                  epochs=40, checkpoint_epochs=[1, 3, 6, 12, 25, 40], max_pieces=100,
                  val_share=0.1, window=128, seed=7),
        "O'Neill's and Ryan's fiddle tunes, studio LSTM on REMI events."),
    "groove-devfest-drums": (
        TrainSpec(corpus="groove", encoding="drums", preset="devfest", size="small",
                  epochs=12, checkpoint_epochs=[1, 2, 3, 5, 8, 12], max_pieces=100,
                  val_share=0.1, window=32, seed=7),
        f"Drum beats, the DevFest model on drum classes; trained on the {GROOVE_CREDIT}."),
    "bach-skuli-chords": (
        TrainSpec(corpus="bach-chorales", encoding="chords", preset="skuli", size="small",
                  epochs=12, checkpoint_epochs=[1, 2, 4, 6, 9, 12], max_pieces=80,
                  val_share=0.15, window=32, seed=7),
        "Bach chorales with the classic Skúli model and chord tokens, to compare with studio."),
}
DEFAULT_RUN = "bach-studio-events"


def default_run() -> Run | None:
    run = Run(SHIPPED_RUNS / DEFAULT_RUN)
    return run if run.exists and run.epochs() else None


def build(name: str, *, groove: str | Path | None = None, out_root: Path = SHIPPED_RUNS,
          log=print) -> Run:
    """Retrain the shipped run ``name`` into ``out_root/name`` (replacing it when done)."""
    from core.train import train

    if name not in SHIPPED:
        raise ValueError(f"unknown gallery run {name!r}; choose one of {', '.join(SHIPPED)}")
    spec, _ = SHIPPED[name]
    spec = TrainSpec.from_dict(spec.to_dict())
    if spec.corpus == "groove":
        root = Path(groove or SHARED_DATA / "groove")
        if not (root / "info.csv").is_file():
            raise ValueError(f"the Groove MIDI Dataset is not at {root}; pass --groove PATH")
        spec.corpus = f"groove:{root}"
    work = out_root / f".{name}.building"
    shutil.rmtree(work, ignore_errors=True)
    started = time.time()
    run = train(spec, work, queue=False, log=log)
    package(run, name=name, wall_seconds=time.time() - started)
    final = out_root / name
    old = out_root / f".{name}.old"
    if final.exists():
        os.replace(final, old)
    os.replace(work, final)
    shutil.rmtree(old, ignore_errors=True)
    return Run(final)


def package(run: Run, *, name: str, wall_seconds: float | None = None) -> None:
    """Make a finished run shippable: no optimizer state, no best.keras copy, fresh samples and
    metrics for every checkpoint, a model card. Idempotent (``gallery refresh`` reruns it)."""
    from core.evaluate import checkpoint_report

    for epoch in run.epochs():
        strip_optimizer(run.path / checkpoint_name(epoch), run.config["model"])
        checkpoint_report(run, epoch)  # from the shipped weights, by the current code
    (run.path / "best.keras").unlink(missing_ok=True)
    val = {r["epoch"]: r["val_loss"] for r in run.history() if "val_loss" in r}
    kept = [e for e in run.epochs() if e in val]
    if kept:  # best.json points at the kept checkpoint with the lowest validation loss
        best = min(kept, key=val.get)
        atomic.write_json(run.path / "best.json", {"epoch": best, "val_loss": val[best]})
    for junk in ("stop.request", "job.json", "train.log"):
        (run.path / junk).unlink(missing_ok=True)
    config = run.config
    if wall_seconds is not None:
        config["wall_seconds"] = round(wall_seconds, 1)
    config.update(name=name, optimizer_state="dropped", description=SHIPPED[name][1])
    if "groove" in config["spec"]["corpus"]:
        config["spec"]["corpus"] = "groove"  # the data path is an argument, not part of the run
        config["credit"] = GROOVE_CREDIT
    run.write_config(config)
    atomic.write_text(run.path / "MODEL_CARD.md", model_card(run))


def strip_optimizer(path: Path, model_config: dict[str, Any]) -> None:
    """Rewrite a checkpoint with weights only (rebuilt from its config; no optimizer)."""
    from core import presets

    trained = presets.load_model(path)
    bare = presets.build(presets.ModelConfig.from_dict(model_config))
    bare.set_weights(trained.get_weights())
    tmp = atomic.temp_path_for(path)
    try:
        bare.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def model_card(run: Run) -> str:
    """The run's model card in Markdown: data, model, training and copy rate by epoch."""
    c, hist = run.config, run.history()
    spec, model = c["spec"], c["model"]
    best = min(hist, key=lambda r: r.get("val_loss", float("inf"))) if hist else {}
    lines = [
        f"# {c.get('name', run.name)}", "", c.get("description", ""), "",
        "| | |", "|---|---|",
        f"| corpus | `{spec['corpus']}` ({c['corpus']['used']} pieces used of {c['corpus']['files']}) |",
        f"| split | {len(c['split']['train'])} train / {len(c['split']['val'])} validation pieces, "
        f"by piece, seed {spec['seed']} |",
        f"| encoding | `{spec['encoding']}` (vocabulary {model['vocab_size']}) |",
        f"| preset | `{model['preset']}`, size `{model['size']}`, window {model['window']}, "
        f"units {model['units']} |",
        f"| parameters | {c['params']:,} |",
        f"| epochs | {len(hist)} (checkpoints: {', '.join(map(str, run.epochs()))}) |",
        f"| wall time | {c.get('wall_seconds', 0) / 60:.1f} min on {c['device']} (Keras backend {c['backend']}) |",
        f"| best validation loss | {best.get('val_loss', float('nan')):.4f} nats/token at epoch {best.get('epoch', '-')} |",
        f"| default checkpoint | epoch {run.best_epoch()}: the kept checkpoint with the lowest validation loss |",
        "| optimizer state | dropped from shipped checkpoints (they generate; they do not resume) |",
    ]
    if c.get("credit"):
        lines.append(f"| data credit | {c['credit']} |")
    lines += ["", "## Copy rate by epoch", "",
              "Copy rate: share of the sample's 8-note n-grams found verbatim in the training "
              "pieces. Loop rate: share of the sample inside a repeating cycle.", "",
              "| epoch | train loss | val loss | copy rate | longest copy (notes) | loop rate | held-out NLL/token | n-gram NLL/token |",
              "|---|---|---|---|---|---|---|---|"]
    by_epoch = {r["epoch"]: r for r in hist}
    for e in run.epochs():
        m, h = run.sample_metrics(e), by_epoch.get(e, {})
        lines.append(f"| {e} | {_f(h.get('loss'))} | {_f(h.get('val_loss'))} | {_f(m.get('copy_rate'))} | "
                     f"{m.get('longest_copy_notes', '-')} | {_f(m.get('loop_rate'))} | "
                     f"{_f(m.get('nll_token'))} | {_f(m.get('baseline_nll_token'))} |")
    groove = " --groove PATH" if c.get("credit") else ""
    lines += ["", f"Rebuild: `python -m core gallery build {c.get('name', run.name)}{groove}`", ""]
    return "\n".join(lines)


def _f(v) -> str:
    return f"{v:.3f}" if isinstance(v, (int, float)) else "-"


# --- command line --------------------------------------------------------------------------
def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gallery", help="list or rebuild the shipped gallery runs")
    gsub = p.add_subparsers(dest="gallery_command", required=True)
    ls = gsub.add_parser("list", help="list the shipped runs")
    ls.set_defaults(func=_cli_list)
    b = gsub.add_parser("build", help="retrain shipped runs from their config and seed")
    b.add_argument("names", nargs="*", help=f"runs to build (default: all of {', '.join(SHIPPED)})")
    b.add_argument("--groove", help="path to the Groove MIDI Dataset (default ../shared/data/groove)")
    b.add_argument("--out", type=Path, default=SHIPPED_RUNS, help="where to put the runs")
    b.set_defaults(func=_cli_build)
    r = gsub.add_parser("refresh", help="regenerate samples, metrics and model cards (no training)")
    r.add_argument("names", nargs="*", help="runs to refresh (default: all built ones)")
    r.add_argument("--out", type=Path, default=SHIPPED_RUNS)
    r.set_defaults(func=_cli_refresh)


def _cli_list(args: argparse.Namespace) -> int:
    for name, (spec, desc) in SHIPPED.items():
        run = Run(SHIPPED_RUNS / name)
        have = f"{len(run.epochs())} checkpoints" if run.exists else "not built"
        print(f"{name:24s} {have:16s} {desc}")
    return 0


def _cli_build(args: argparse.Namespace) -> int:
    for name in args.names or list(SHIPPED):
        run = build(name, groove=args.groove, out_root=args.out, log=lambda m: print(m, flush=True))
        print(f"built {run.path} ({len(run.epochs())} checkpoints)")
    return 0


def _cli_refresh(args: argparse.Namespace) -> int:
    for name in args.names or [n for n in SHIPPED if Run(args.out / n).exists]:
        package(Run(args.out / name), name=name)
        print(f"refreshed {args.out / name}")
    return 0
