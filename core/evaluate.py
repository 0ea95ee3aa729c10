"""How a checkpoint does: a short sample and the numbers that describe it.

:func:`checkpoint_report` runs after every checkpoint of a training (``core.train`` calls it):
it generates ``SAMPLE_VARIATIONS`` samples of ``SAMPLE_TOKENS`` tokens with a fixed seed at temperature 1 and no anti-loop (so
the numbers show the model's own behaviour), writes ``samples/epoch_NNNN.mid`` and
``samples/epoch_NNNN.json`` in the run folder, and returns the numbers:

- the sample (generated part only): ``core.metrics.piece_metrics`` against the *training*
  pieces (copy rate and longest copy, loop rate, pitch statistics and their distance to the
  corpus), plus ``token_loop_rate`` (loop rate of the token sequence);
- held-out likelihood on the validation pieces, in nats per token and per note, of the model
  (``nll_token``, ``nll_note``) and of a 3-gram baseline fitted on the training pieces
  (``baseline_nll_token``, ``baseline_nll_note``). Many-to-many models are scored on every token
  (``metrics.model_nll``); many-to-one models on up to ``MAX_NLL_WINDOWS`` evenly spaced
  positions that have a full window before them (as in their training), turned into nats per
  note with the validation set's tokens-per-note.

The corpus, its copy index and the baseline are built once per run per process, so a report
costs the sample plus one pass over the validation tokens. When the run's corpus cannot be
loaded any more, the report says why in ``corpus_problem`` and leaves those numbers out.
``python -m core eval --run DIR [--epoch N]`` prints :func:`evaluate_run` as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import atomic, metrics
from core.generate import (Generator, cache_key, corpus_split, training_sequences,
                           validation_sequences)
from core.runs import Run

SAMPLE_TOKENS = 512
SAMPLE_SEED = 0
SAMPLE_VARIATIONS = 4    # copy rate is the mean over this many samples (the .mid is the first)
COPY_N = 8               # onsets per n-gram in the copy index
BASELINE_N = 3           # order of the n-gram baseline
MAX_NLL_WINDOWS = 256    # validation positions scored per report for many-to-one models
NLL_BATCH = 64


@dataclass
class _Corpus:
    """What every report of one run needs from its corpus, built once per process."""

    index: metrics.CorpusIndex
    pc_hist: np.ndarray
    val_notes: int
    baseline_nll_token: float | None


_CORPORA: dict[tuple[str, Any], _Corpus] = {}


def _corpus(run: Run) -> _Corpus:
    key = cache_key(run)
    if key not in _CORPORA:
        tokenizer = run.tokenizer()
        train, val = corpus_split(run)
        kind = tokenizer.instrument_kind
        val_seqs = validation_sequences(run)
        try:
            baseline = metrics.ngram_baseline(training_sequences(run), BASELINE_N,
                                              vocab_size=tokenizer.vocab_size).nll(val_seqs)
        except ValueError:  # every validation piece is shorter than 2 tokens
            baseline = None
        _CORPORA[key] = _Corpus(index=metrics.CorpusIndex(train, COPY_N, kind),
                                pc_hist=metrics.pitch_class_histogram([p.select(kind) for p in train]),
                                val_notes=sum(p.select(kind).n_notes for p in val),
                                baseline_nll_token=baseline)
    return _CORPORA[key]


def checkpoint_report(run: Run | str | Path, epoch: int, model: Any = None) -> dict[str, Any]:
    """Sample and numbers for the checkpoint of ``epoch``, written beside it (atomically) as
    ``run.sample_path(epoch, ".mid")`` and ``run.sample_path(epoch, ".json")``.

    ``model``: the live model (during training); by default the checkpoint is loaded.
    """
    run = run if isinstance(run, Run) else Run(run)
    report, sample = _report(run, epoch, model)
    atomic.write_bytes(run.sample_path(epoch, ".mid"), sample.to_midi_bytes())
    atomic.write_json(run.sample_path(epoch, ".json"), report)
    return report


def evaluate_run(run_dir: Run | str | Path, epoch: int | None = None) -> dict[str, Any]:
    """The report of one checkpoint (default: ``best.keras``, else the latest), written nowhere."""
    run = run_dir if isinstance(run_dir, Run) else Run(run_dir)
    if not run.exists:
        raise ValueError(f"{run_dir} is not a run folder (no run.json)")
    return _report(run, epoch, None)[0]


def _report(run: Run, epoch: int | None, model: Any) -> tuple[dict[str, Any], Any]:
    from core import presets

    t0 = time.perf_counter()
    if model is not None:
        config = presets.ModelConfig.from_dict(run.config["model"])
        gen = Generator(model, run.tokenizer(), config, run)
    else:
        gen = Generator.from_run(run, epoch)
        if epoch is None:  # best.keras, else the latest checkpoint
            best = run.checkpoint(None).name == "best.keras"
            epoch = run.best_epoch() if best else run.epochs()[-1]
    report: dict[str, Any] = {"run": run.name, "epoch": epoch}
    try:
        corpus = _corpus(run)
    except ValueError as e:
        corpus, report["corpus_problem"] = None, str(e)

    # the sample: raw model behaviour, primed from the corpus when it is there
    primer = "corpus" if corpus else "note"
    result = gen.generate(SAMPLE_TOKENS, seed=SAMPLE_SEED, temperature=1.0, primer=primer,
                          include_primer=False, variations=SAMPLE_VARIATIONS)
    sample = result.piece(0)
    report.update(sample_tokens=SAMPLE_TOKENS, sample_primer=primer,
                  sample_primer_tokens=result.primer_length, sample_seed=SAMPLE_SEED,
                  sample_seconds=round(result.elapsed_s, 4))
    report.update(metrics.piece_metrics(sample, corpus.index if corpus else None,
                                        corpus.pc_hist if corpus else None))
    report["token_loop_rate"] = metrics.loop_rate(result.tokens[0][result.primer_length:])
    if corpus:  # copying averaged over all the variations: one sample is a noisy measure
        copies = [corpus.index.copy_stats(p) for p in result.pieces]
        report["copy_rate_samples"] = [round(c["copy_rate"], 4) for c in copies]
        report["copy_rate"] = float(np.mean(report["copy_rate_samples"]))
        for key in ("longest_copy_notes", "longest_copy_seconds", "longest_copy_onsets"):
            report[key] = max(c[key] for c in copies)

    # held-out likelihood, nats per token and per note
    if corpus:
        val_seqs = validation_sequences(run)
        try:
            report["nll_token"] = _model_nll(gen, val_seqs)
        except ValueError as e:
            report["nll_token"], report["nll_problem"] = None, str(e)
        report["baseline_nll_token"] = corpus.baseline_nll_token
        for name in ("nll", "baseline_nll"):
            value = report[f"{name}_token"]
            report[f"{name}_note"] = (metrics.nll_per_note(value, val_seqs, corpus.val_notes)
                                      if value is not None and corpus.val_notes else None)
        report["baseline"] = f"{BASELINE_N}-gram, Witten-Bell smoothing"
    report["report_seconds"] = round(time.perf_counter() - t0, 3)
    return report, sample


def _model_nll(gen: Generator, seqs: list[np.ndarray]) -> float:
    """Nats per token on ``seqs``: every token for many-to-many models; for many-to-one ones, up
    to ``MAX_NLL_WINDOWS`` evenly spaced tokens that have a full window before them."""
    from core.train import make_windows

    config = gen.config
    if config.many_to_many:
        return metrics.model_nll(gen.model, seqs, config.window, NLL_BATCH)
    w = make_windows(seqs, config.window, many_to_many=False, max_samples=MAX_NLL_WINDOWS)
    total = 0.0
    for at in range(0, len(w.x), NLL_BATCH):
        probs = np.asarray(gen.model.predict_on_batch(w.x[at:at + NLL_BATCH]), np.float64)
        picked = probs[np.arange(len(probs)), w.y[at:at + NLL_BATCH]]
        total -= np.log(np.maximum(picked, 1e-12)).sum()
    return float(total / len(w.x))


# --- command line -------------------------------------------------------------------------------
def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="sample a checkpoint and print its metrics as JSON")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("--epoch", type=int, help="checkpoint epoch (default: best, else latest)")
    p.set_defaults(func=lambda args: print(json.dumps(evaluate_run(args.run, args.epoch), indent=2)))
