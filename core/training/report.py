"""How a checkpoint does: a short sample and the numbers that describe it.

:func:`checkpoint_report` runs after every checkpoint of a training (the training job passes it
to ``core.training.train.train`` as ``on_checkpoint``): it generates ``SAMPLE_VARIATIONS`` samples of
``SAMPLE_TOKENS`` tokens with a fixed seed at temperature 1, with no top-k, top-p or anti-loop (so
the numbers show the model, not the sampler), writes ``samples/epoch_NNNN.mid`` and
``samples/epoch_NNNN.json`` in the run folder, and returns the numbers:

- the samples (generated part only): ``core.evaluation.metrics.piece_metrics`` of the first against the
  *training* pieces (loop rate, pitch statistics and their distance to the corpus), the copy rate
  averaged over all of them, and ``token_loop_rate`` (loop rate of the token sequence);
  ``copied_passages``: the first sample's copied passages, each with its training piece, bars
  and interval (``core.evaluation.copies``);
- the held-out pieces measured the same way, as the reference: ``val_pieces``,
  ``heldout_copy_rate`` and ``heldout_loop_rate`` (``core.evaluation.loaded.LoadedRun.heldout``);
- ``frame_nll`` for the step encodings (``pianoroll``, ``frames``): nats per time step, the JSB
  benchmark's number (``python -m core eval --run RUN --split test`` on the test split);
- held-out likelihood on the validation pieces (``core.evaluation.likelihood.heldout_nll``: one stateful
  pass over each whole piece for many-to-many models), in nats per token and per note, with
  ``nll_by_position``, next to a 3-gram baseline fitted on the training pieces
  (``baseline_nll_token``, ``baseline_nll_note``).

A model of real-valued steps (the C-RNN-GAN) has no likelihood: its report has the samples'
numbers above (its samples start from noise alone, ``SAMPLE_GAN_STEPS`` steps), the paper's four
measures (``core.evaluation.music_measures``) for the samples and, as ``heldout_*``, for the validation
pieces, and ``val_mse``: the generator's teacher-forced squared error on the validation pieces.

When the run's corpus cannot be loaded any more, the report says why in ``corpus_problem`` and
leaves the corpus numbers out. ``python -m core eval --run DIR [--epoch N]`` prints
:func:`evaluate_run` as JSON.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from core import atomic
from core.evaluation import metrics
from core.evaluation import music_measures
from core.encodings.rolls import PianoRollTokenizer
from core.generation.generate import Generator
from core.evaluation.likelihood import heldout_nll
from core.evaluation.loaded import BASELINE_N, LoadedRun, loaded
from core.runs import Run

SAMPLE_TOKENS = 512
SAMPLE_STEPS = 64        # a piano-roll model's sample: this many steps (of every pitch's cell)
SAMPLE_SEED = 0
SAMPLE_VARIATIONS = 4    # copy rate is the mean over this many samples (the .mid is the first)
SAMPLE_GAN_STEPS = 128   # a C-RNN-GAN's sample: this many steps (onsets)


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


def evaluate_run(run_dir: Run | str | Path, epoch: int | None = None,
                 split: str = "val") -> dict[str, Any]:
    """The report of one checkpoint (default: ``best.keras``, else the latest), written nowhere;
    ``split="test"`` measures the held-out likelihood on the corpus's given test split (JSB)."""
    run = run_dir if isinstance(run_dir, Run) else Run(run_dir)
    if not run.exists:
        raise ValueError(f"{run_dir} is not a run folder (no run.json)")
    return _report(run, epoch, None, split)[0]


def checkpoint_reporter(run: Run, log: Callable[[str], None]) -> Callable[[int, Any], None]:
    """The ``on_checkpoint`` hook a training job passes to ``core.training.train.train``: a report for
    each checkpoint; a failed sample is logged and never ends the training."""
    def report(epoch: int, model: Any) -> None:
        try:
            checkpoint_report(run, epoch, model=model)
        except Exception as e:
            log(f"sample for epoch {epoch} failed: {e}")
    return report


def sample_tokens(tokenizer: Any) -> int:
    """A checkpoint sample's length: ``SAMPLE_TOKENS``, or ``SAMPLE_STEPS`` steps of a piano roll
    (whose tokens are cells, a step's worth per pitch), or ``SAMPLE_GAN_STEPS`` real-valued
    steps."""
    if tokenizer.continuous:
        return SAMPLE_GAN_STEPS
    if isinstance(tokenizer, PianoRollTokenizer):
        return SAMPLE_STEPS * tokenizer.pitches
    return SAMPLE_TOKENS


def _report(run: Run, epoch: int | None, model: Any,
            split: str = "val") -> tuple[dict[str, Any], Any]:
    t0 = time.perf_counter()
    lr = loaded(run)
    if model is not None:
        gen = Generator.for_model(model, lr.tokenizer, lr.config, lr)
    else:
        gen = Generator.from_run(run, epoch)
        if epoch is None:  # best.keras, else the latest checkpoint
            best = run.checkpoint(None).name == "best.keras"
            epoch = run.best_epoch() if best else run.epochs()[-1]
    report: dict[str, Any] = {"run": run.name, "epoch": epoch}
    corpus: LoadedRun | None = lr
    try:
        lr.split
    except ValueError as e:
        corpus, report["corpus_problem"] = None, str(e)

    # the samples: raw model behaviour, primed from the corpus when it is there (a GAN's from
    # noise alone, as in its paper)
    primer = "none" if lr.tokenizer.continuous else "corpus" if corpus else "note"
    length = sample_tokens(lr.tokenizer)
    result = gen.generate(length, seed=SAMPLE_SEED, temperature=1.0, primer=primer,
                          include_primer=False, variations=SAMPLE_VARIATIONS)
    sample = result.piece(0)
    report.update(sample_tokens=length, sample_primer=primer,
                  sample_primer_tokens=result.primer_length, sample_seed=SAMPLE_SEED,
                  sample_seconds=round(result.elapsed_s, 4))
    report.update(metrics.piece_metrics(sample, corpus.copy_index if corpus else None,
                                        corpus.pitch_class_histogram if corpus else None))
    if not lr.tokenizer.continuous:
        report["token_loop_rate"] = metrics.loop_rate(result.tokens[0][result.primer_length:])
    if corpus is None:
        report["report_seconds"] = round(time.perf_counter() - t0, 3)
        return report, sample
    # copying and looping averaged over all the samples: one sample is a noisy measure
    pieces = result.pieces
    copies = [corpus.copy_index.copy_stats(p) for p in pieces]
    report["copy_rate_samples"] = [round(c["copy_rate"], 4) for c in copies]
    report["copy_rate"] = float(np.mean(report["copy_rate_samples"]))
    for key in ("longest_copy_notes", "longest_copy_seconds", "longest_copy_onsets"):
        report[key] = max(c[key] for c in copies)
    report["loop_rate_mean"] = float(np.mean([metrics.loop_rate(p) for p in pieces]))
    # where the first sample's copied notes come from (core.evaluation.copies)
    report["copied_passages"] = [p.to_dict() for p in corpus.copy_index.passages(sample)]
    report.update(corpus.heldout)
    if lr.tokenizer.continuous:
        report.update(_step_model_numbers(gen, corpus, pieces))
        report["report_seconds"] = round(time.perf_counter() - t0, 3)
        return report, sample

    # held-out likelihood, nats per token and per note, the way the model generates
    val_seqs = corpus.heldout_sequences(split)
    report["nll_split"] = split
    try:
        report.update(heldout_nll(gen.model, gen.config, val_seqs))
    except ValueError as e:
        report["nll_token"], report["nll_problem"] = None, str(e)
    steps_in = getattr(lr.tokenizer, "steps_in", None)
    if steps_in is not None and report["nll_token"] is not None:
        # nats per time step: every token of a step scored (frames: all but START; pianoroll:
        # every cell), so the total over the pieces divided by their steps
        steps = sum(steps_in(s) for s in val_seqs)
        report["frame_nll"] = report["nll_token"] * report["scored_tokens"] / steps
        report["frame_steps"] = int(steps)
    report["baseline_nll_token"] = corpus.baseline_nll_token
    for name in ("nll", "baseline_nll"):
        value = report[f"{name}_token"]
        report[f"{name}_note"] = (metrics.nll_per_note(value, val_seqs, corpus.val_notes)
                                  if value is not None and corpus.val_notes else None)
    report["baseline"] = f"{BASELINE_N}-gram, Witten-Bell smoothing"
    report["report_seconds"] = round(time.perf_counter() - t0, 3)
    return report, sample


def _step_model_numbers(gen: Any, corpus: LoadedRun, samples: list) -> dict[str, Any]:
    """A C-RNN-GAN's own numbers: the paper's measures of its samples and of the held-out
    pieces, and its teacher-forced squared error on the held-out pieces."""
    out: dict[str, Any] = dict(music_measures.mean_measures(samples))
    val = [p.select("melodic") for p in corpus.split[1]]
    out.update({f"heldout_{k}": v for k, v in music_measures.mean_measures(val).items()})
    out["val_mse"] = gen.teacher_forced_error(corpus.val_sequences, seed=SAMPLE_SEED)
    return out
