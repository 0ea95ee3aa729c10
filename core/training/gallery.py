"""The shipped gallery: runs trained by this code, kept in ``checkpoints/``, rebuilt by one command.

``python -m core gallery build [NAME] [--groove PATH]`` retrains a shipped run from the spec
below (same seed; epochs, not a time budget, so a rebuild on another machine trains the same),
strips the optimizer state from its checkpoints (the gallery only generates, and this keeps
``checkpoints/`` small), writes its model card and swaps it into place. Checkpoints are spread
from under-trained to over-trained so the Gallery page can show copying grow with epochs.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from core import atomic
from core.models import presets
from core.paths import SHARED_DATA, SHIPPED_RUNS
from core.runs import Run, checkpoint_name
from core.training.report import checkpoint_report, checkpoint_reporter
from core.settings import TrainSpec
from core.training.train import train

GROOVE_CREDIT = "Groove MIDI Dataset, Gillick et al. 2019, CC BY 4.0"

# name -> (spec, one-line description)
SHIPPED: dict[str, tuple[TrainSpec, str]] = {
    "bach-studio-events": (
        TrainSpec(corpus="bach-chorales", encoding="events", preset="studio", size="small",
                  epochs=30, checkpoint_epochs=[1, 2, 4, 6, 10, 15, 20, 25, 30], patience=6,
                  val_share=0.1, seed=7),
        "Bach chorales, studio LSTM on REMI events, trained by truncated BPTT (consecutive "
        "32-token windows, the state carried through each whole chorale, as in generation) "
        "with 35 held out: the default model of Home and Generate, stopped at its best "
        "held-out NLL."),
    "bach-memorise-events": (
        TrainSpec(corpus="bach-chorales", encoding="events", preset="studio", size="small",
                  epochs=450, checkpoint_epochs=[1, 10, 30, 60, 100, 150, 200, 300, 450],
                  max_pieces=5, val_share=0.2, dropout=0.0, batch_size=1, learning_rate=0.005,
                  window=128, train_on="pieces", seed=7),
        "The copying story: the same model made to memorise 4 chorales (no dropout, one piece "
        "per batch, trained far past its best epoch), so its late checkpoints turn into a "
        "jukebox of its corpus. Not the default: that one (bach-studio-events) learns from all "
        "the chorales and is stopped at its best held-out NLL."),
    "fiddle-studio-events": (
        TrainSpec(corpus="fiddle-tunes", encoding="events", preset="studio", size="small",
                  epochs=6, checkpoint_epochs=[1, 2, 3, 4, 5, 6], patience=2,
                  max_pieces=2000, val_share=0.1, seed=7),
        "O'Neill's and Ryan's fiddle tunes (the first 2,000 of 3,068), studio LSTM on REMI "
        "events, trained by truncated BPTT (consecutive 32-token windows, the state carried "
        "through each whole tune); stopped at its best held-out NLL."),
    "groove-devfest-drums": (
        TrainSpec(corpus="groove", encoding="drums", preset="devfest", size="small",
                  epochs=12, checkpoint_epochs=[1, 2, 3, 5, 8, 12], patience=3,
                  val_share=0.1, window=32, seed=7),
        f"Drum beats, the DevFest model on drum classes, on the whole Groove train split "
        f"(every beat, 378 performances); trained on the {GROOVE_CREDIT}."),
    "bach-skuli-chords": (
        TrainSpec(corpus="bach-chorales", encoding="chords-pc", preset="skuli", size="small",
                  epochs=12, checkpoint_epochs=[1, 2, 4, 6, 9, 12], max_pieces=80,
                  val_share=0.15, window=32, seed=7),
        "Bach chorales with the classic Skúli model and its original tokens (a chord as its "
        "normal-order pitch classes), to compare with studio."),
    "jsb-biaxial-pianoroll": (
        TrainSpec(corpus="jsb", encoding="pianoroll-quarter", preset="biaxial", size="medium",
                  epochs=60, checkpoint_epochs=[1, 3, 6, 10, 15, 20, 30, 40, 50, 60], patience=6,
                  seed=7),
        "Johnson's biaxial RNN on the JSB Chorales benchmark (its standard 229 / 76 / 77 split, "
        "one step per quarter note): true polyphony, a time-axis LSTM shared by every pitch and "
        "a note-axis LSTM up the keyboard; stopped at its best held-out NLL."),
    "bach-crnngan-continuous": (
        TrainSpec(corpus="bach-chorales", encoding="continuous-3", preset="crnngan", size="small",
                  epochs=100, checkpoint_epochs=[3, 6, 10, 20, 30, 45, 60, 80, 100], seed=7),
        "Mogren's C-RNN-GAN on the Bach chorales: real-valued notes (up to 3 tones per onset, "
        "the paper's C-RNN-GAN-3), an LSTM generator pre-trained for 6 epochs with squared error, "
        "then trained against a bidirectional LSTM discriminator with feature matching; a GAN "
        "has no loss to minimise, so its card shows the paper's measures by epoch next to the "
        "held-out chorales'."),
}
DEFAULT_RUN = "bach-studio-events"


def default_run() -> Run | None:
    run = Run(SHIPPED_RUNS / DEFAULT_RUN)
    return run if run.exists and run.epochs() else None


def build(name: str, *, groove: str | Path | None = None, out_root: Path = SHIPPED_RUNS,
          log=print) -> Run:
    """Retrain the shipped run ``name`` into ``out_root/name`` (replacing it when done)."""
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
    run = train(spec, work, queue=False, log=log,
                on_checkpoint=lambda r: checkpoint_reporter(r, log))
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
    best_epoch = run.best_epoch()
    if (run.path / "best.keras").is_file() and best_epoch and best_epoch not in run.epochs():
        os.replace(run.path / "best.keras", run.path / checkpoint_name(best_epoch))  # keep the best
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
    gan = bool(model.get("features"))   # the C-RNN-GAN: no likelihood, its own table
    best = min(hist, key=lambda r: r.get("val_loss", float("inf"))) if hist else {}
    lines = [
        f"# {c.get('name', run.name)}", "", c.get("description", ""), "",
        "| | |", "|---|---|",
        f"| corpus | `{spec['corpus']}` ({c['corpus']['used']} pieces used of {c['corpus']['files']}) |",
        f"| split | {len(c['split']['train'])} train / {len(c['split']['val'])} validation pieces, "
        f"by piece, seed {spec['seed']} |",
        f"| encoding | `{spec['encoding']}` (" + (f"{model['features']} real values per step"
                                                   if gan else f"vocabulary {model['vocab_size']}") + ") |",
        f"| preset | `{model['preset']}`, size `{model['size']}`, window {model['window']}, "
        f"units {model['units']} |",
        f"| parameters | {c['params']:,} |",
        f"| epochs | {len(hist)} (checkpoints: {', '.join(map(str, run.epochs()))}) |",
        f"| wall time | {c.get('wall_seconds', 0) / 60:.1f} min on {c['device']} (Keras backend {c['backend']}) |",
        f"| trained on | {c['model'].get('train_on', 'windows')} (state carried through whole pieces) |"
        if c["model"].get("train_on") == "pieces" else
        f"| trained on | consecutive windows of {model['window']} tokens, the state carried from "
        "one to the next through each whole piece (truncated BPTT) |"
        if c["model"].get("train_on") == "carried" else
        f"| trained on | windows of {model['window']} {'steps' if gan else 'tokens'}"
        f"{'' if gan else ' (how this model generates)'} |",
        *([f"| held-out measure | the generator's teacher-forced squared error (`val_mse`), and the "
           "paper's measures of samples next to the held-out pieces' (below) |",
           "| default checkpoint | the latest: a GAN has no validation loss to choose by |"] if gan else
          [f"| best validation loss | {best.get('val_loss', float('nan')):.4f} nats/token at epoch {best.get('epoch', '-')} |",
           f"| default checkpoint | epoch {run.best_epoch()}: the kept checkpoint with the lowest validation loss |"]),
        "| optimizer state | dropped from shipped checkpoints (they generate; they do not resume) |",
    ]
    if c.get("credit"):
        lines.append(f"| data credit | {c['credit']} |")
    first = run.sample_metrics(run.epochs()[0]) if run.epochs() else {}
    if gan:
        return "\n".join(lines + _gan_by_epoch(run, first) + _rebuild(c))
    lines += ["", "## Copying and held-out likelihood by epoch", "",
              f"Samples: 4 of {first.get('sample_tokens', 512)} tokens per checkpoint at "
              "temperature 1 with no top-k, top-p or anti-loop (the model, not the sampler). Copy rate: share of a sample's 8-note "
              "n-grams found verbatim in the training pieces (mean of the 4); the held-out "
              f"pieces' own copy rate, the reference for real music, is "
              f"{_f(first.get('heldout_copy_rate'))} ({first.get('val_pieces', '-')} pieces), their "
              f"loop rate {_f(first.get('heldout_loop_rate'))}. Held-out NLL: nats per token from "
              "one stateful pass over each whole validation piece (the generator's own step), "
              "overall and for the predictions after tokens 0-127 and 512+.", "",
              "| epoch | train loss | held-out NLL/token | NLL 0-127 | NLL 512+ | n-gram NLL/token "
              "| copy rate | longest copy (notes) | loop rate |",
              "|---|---|---|---|---|---|---|---|---|"]
    by_epoch = {r["epoch"]: r for r in hist}
    for e in run.epochs():
        m, h = run.sample_metrics(e), by_epoch.get(e, {})
        pos = m.get("nll_by_position") or {}
        lines.append(f"| {e} | {_f(h.get('loss'))} | {_f(m.get('nll_token'))} | {_f(pos.get('0-127'))} | "
                     f"{_f(pos.get('512+'))} | {_f(m.get('baseline_nll_token'))} | "
                     f"{_f(m.get('copy_rate'))} | {m.get('longest_copy_notes', '-')} | "
                     f"{_f(m.get('loop_rate_mean', m.get('loop_rate')))} |")
    steps = {e: run.sample_metrics(e).get("frame_nll") for e in run.epochs()}
    if any(v is not None for v in steps.values()):
        lines += ["", "Held-out NLL per time step (nats, all of a step's tokens summed; the JSB "
                  "benchmark's unit; the test split: `python -m core eval --run RUN --split "
                  "test`): " + ", ".join(f"epoch {e} {_f(v)}" for e, v in steps.items()) + "."]
    return "\n".join(lines + _rebuild(c))


def _rebuild(c: dict[str, Any]) -> list[str]:
    groove = " --groove PATH" if c.get("credit") else ""
    return ["", f"Rebuild: `python -m core gallery build {c.get('name')}{groove}`", ""]


def _gan_by_epoch(run: Run, first: dict[str, Any]) -> list[str]:
    """A GAN's card table: its losses, and the paper's measures of its samples by epoch next to
    the held-out pieces' own (``core.evaluation.music_measures``), with copy and loop rate."""
    def pair(m, key):
        return f"{_f(m.get(key))} ({_f(m.get('heldout_' + key))})"

    lines = ["", "## The GAN by epoch", "",
             f"Samples: 4 of {first.get('sample_tokens', '-')} steps per checkpoint from noise alone "
             "(noise scale 1). The paper's measures of the samples, the held-out pieces' own in "
             "brackets: polyphony (share of onsets with 2+ tones), in scale (share of notes in the "
             "best major scale), repeated (share of 4-note melodic patterns repeating earlier), "
             "tone span (semitones). Copy rate: share of 8-onset n-grams found verbatim in the "
             f"training pieces (held-out pieces' own: {_f(first.get('heldout_copy_rate'))}). "
             "Epochs up to the pre-training's end train the generator alone (squared error).", "",
             "| epoch | D loss | G loss | D accuracy | val squared error | polyphony | in scale "
             "| repeated | tone span | copy rate | loop rate |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    by_epoch = {r["epoch"]: r for r in run.history()}
    for e in run.epochs():
        m, h = run.sample_metrics(e), by_epoch.get(e, {})
        lines.append(f"| {e} | {_f(h.get('d_loss'))} | {_f(h.get('g_loss'))} | "
                     f"{_f(h.get('d_accuracy'))} | {_f(m.get('val_mse'))} | {pair(m, 'polyphony')} | "
                     f"{pair(m, 'scale_consistency')} | {pair(m, 'repetitions')} | "
                     f"{pair(m, 'tone_span')} | {_f(m.get('copy_rate'))} | "
                     f"{_f(m.get('loop_rate_mean'))} |")
    return lines


def _f(v) -> str:
    return f"{v:.3f}" if isinstance(v, (int, float)) else "-"
