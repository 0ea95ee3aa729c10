"""Generate music from a trained run: a primer, then one sampled token at a time.

    >>> gen = Generator.from_run("runs/bach-studio")           # best checkpoint
    >>> result = gen.generate(length=500, temperature=0.9, top_p=0.95, seed=1, variations=3)
    >>> result.piece(0).to_midi().write("out.mid")

Primers and the ``Result`` are ``core.generation.primers``'s (shared with ``core.generation.generate_steps``, the
C-RNN-GAN's generator, which :meth:`Generator.from_run` returns for such a run). A step is
computed by the preset's NumPy inference form (``core.models.inference``: the LSTM state
carried for many-to-many models, a sliding window for the seed models) and sampled by
``core.generation.sampling`` (temperature, top-k / top-p, repetition penalty, anti-loop), all variations
in one batch from a seeded generator, so the same seed gives the same music.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from core.models import presets
from core.encodings.base import PAD, Tokenizer
from core.models.inference import engine_for
from core.evaluation.loaded import LoadedRun, loaded
from core.generation.primers import PRIMERS, Primers, Result  # noqa: F401 (re-exported)
from core.models.numpy_ops import one_blas_thread
from core.runs import Run
from core.generation.sampling import LoopGuard, sample
from core.settings import DEFAULT_LENGTH, MAX_LENGTH, SamplingSettings

REPETITION_WINDOW = 32      # tokens looked back at by the repetition penalty
SECONDS_CHECK_EVERY = 16    # tokens between two decodes when a length in seconds is set and the
                            # encoding has no BeatClock


# --- the generator ------------------------------------------------------------------------------
class Generator(Primers):
    """Samples music from one checkpoint of a run. Build it with :meth:`from_run`, or from a live
    ``model`` (e.g. during training) with its ``tokenizer`` and ``config``
    (a :class:`core.models.presets.ModelConfig`)."""

    def __init__(self, model: Any, tokenizer: Tokenizer, config: Any,
                 run: LoadedRun | None = None) -> None:
        outputs = int(model.output_shape[-1])
        if outputs != tokenizer.vocab_size:
            raise ValueError(f"the checkpoint predicts {outputs} tokens but the run's tokenizer has "
                             f"{tokenizer.vocab_size}: it was trained on another vocabulary")
        self.model, self.tokenizer, self.config, self.run = model, tokenizer, config, run
        self._engine = engine_for(model, config)

    @classmethod
    def from_run(cls, run_dir: str | Path | Run | LoadedRun, epoch: int | None = None) -> "Generator":
        """The checkpoint of ``epoch`` (default: ``best.keras``, else the latest) of a run folder,
        loaded with ``safe_mode``, with the run's tokenizer and model config; for a model of
        real-valued steps (C-RNN-GAN) a ``core.generation.generate_steps.StepGenerator``, which takes the
        same arguments. A
        :class:`LoadedRun` given is used as is (the app passes its cached one); otherwise the
        process's (``core.evaluation.loaded.loaded``)."""
        if isinstance(run_dir, LoadedRun):
            lr = run_dir
        else:
            run = run_dir if isinstance(run_dir, Run) else Run(run_dir)
            if not run.exists:
                raise ValueError(f"{run.path} is not a run folder (no run.json)")
            lr = loaded(run)
        path = lr.run.checkpoint(epoch)
        try:
            model = presets.load_model(path)
        except Exception as e:
            raise ValueError(f"cannot load the checkpoint {path.name}: {e}") from e
        return cls.for_model(model, lr.tokenizer, lr.config, lr)

    @classmethod
    def for_model(cls, model: Any, tokenizer: Any, config: Any,
                  run: LoadedRun | None = None) -> "Generator":
        """The generator of a live ``model``: a ``Generator``, or for a model of real-valued
        steps a ``core.generation.generate_steps.StepGenerator`` (same arguments, same ``Result``)."""
        if config.reads_notes:
            from core.generation.generate_steps import StepGenerator
            return StepGenerator(model, tokenizer, config, run)
        return cls(model, tokenizer, config, run)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    # --- generation --------------------------------------------------------------------------
    def generate(self, length: int | None = None, *, seconds: float | None = None,
                 temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 anti_loop: float = 0.0, repetition_penalty: float = 1.0, seed: int | None = None,
                 variations: int = 1, primer: str | np.ndarray = "note", primer_text: str | None = None,
                 primer_midi: bytes | str | Path | None = None, primer_note: int | str | None = None,
                 primer_length: int | None = None, tempo: float = 120.0, program: int | None = None,
                 include_primer: bool | None = None, primer_piece: Any = None) -> Result:
        """Sample ``variations`` continuations of one primer, all in one batch.

        Length: ``length`` tokens (default 256), or with ``seconds`` until the generated part
        lasts that many seconds at ``tempo`` bpm (followed token by token: each variation ends
        at the first token that reaches it), with ``length`` as the cap on tokens (default 20000).
        ``temperature`` in (0, 5] (near 0: always the most probable token), ``top_k`` (0 = off),
        ``top_p`` in (0, 1] (1 = off), ``anti_loop`` strength in [0, 1] (0 = off; see
        :class:`LoopGuard`), ``repetition_penalty`` >= 1 (each token seen in the last 32 has its
        probability divided by it; 1 = off). ``primer``: a kind for :meth:`primer` (with
        ``primer_text``, ``primer_midi``, ``primer_note``, ``primer_length``, and for
        ``"phrase"`` the played ``primer_piece``) or token ids.
        ``include_primer``: whether :meth:`Result.piece` keeps the primer; by default a corpus
        window is left out (it is the corpus's music, not the model's) and any other kept.
        """
        SamplingSettings(length=length, seconds=seconds, temperature=temperature, top_k=top_k,
                         top_p=top_p, anti_loop=anti_loop, repetition_penalty=repetition_penalty,
                         seed=seed, variations=variations, tempo=tempo, program=program).validate()
        seed = int(np.random.default_rng().integers(2**31)) if seed is None else int(seed)
        rng = np.random.default_rng(seed)
        if include_primer is None:
            include_primer = not (isinstance(primer, str) and primer == "corpus")
        if isinstance(primer, str):
            primer = self.primer(primer, text=primer_text, midi=primer_midi, note=primer_note,
                                 length=primer_length, rng=rng, piece=primer_piece)
        primer = np.asarray(primer, np.int32).ravel()
        if not len(primer) or primer.min() <= PAD or primer.max() >= self.vocab_size:
            raise ValueError(f"primer tokens must be ids in 1..{self.vocab_size - 1}")
        cap = length or (MAX_LENGTH if seconds else DEFAULT_LENGTH)
        beats = seconds * tempo / 60.0 if seconds else None

        with one_blas_thread():
            t0 = time.perf_counter()
            tokens = self._sample(primer, cap, beats, variations, rng, temperature=temperature,
                                  top_k=top_k, top_p=top_p, anti_loop=anti_loop,
                                  repetition_penalty=repetition_penalty)
            elapsed = time.perf_counter() - t0
        return Result(tokens, len(primer), elapsed, seed, float(tempo), program, include_primer,
                      self.tokenizer)

    def _sample(self, primer: np.ndarray, cap: int, beats: float | None, variations: int,
                rng: np.random.Generator, *, temperature: float, top_k: int, top_p: float,
                anti_loop: float, repetition_penalty: float) -> list[np.ndarray]:
        """The sampling loop: token arrays (primer first) of every variation.

        With a length in ``beats``, each variation ends at the first generated token that makes
        it last that long, and sampling stops once all have one. A :class:`BeatClock` follows
        the length token by token; an encoding without one is decoded every
        ``SECONDS_CHECK_EVERY`` tokens and trimmed by binary search (cost quadratic in length).
        """
        n, vocab = len(primer), self.vocab_size
        seqs = np.zeros((variations, n + cap), np.int32)
        seqs[:, :n] = primer
        if getattr(self._engine, "takes_anti_loop", False):   # the engine's own (biaxial)
            self._engine.anti_loop, anti_loop = anti_loop, 0.0
        guard = LoopGuard(anti_loop, variations)
        for t in range(n):
            guard.observe(seqs, t)
        rows = np.arange(variations)[:, None]
        clock = self.tokenizer.beat_clock(variations) if beats else None
        reached = np.zeros(variations, np.int64)  # generated tokens up to the first that reaches
        probs = self._engine.start(primer, variations)
        end = n + cap
        for t in range(n, n + cap):
            penalized = None
            if repetition_penalty != 1.0:
                penalized = np.zeros((variations, vocab), bool)
                penalized[rows, seqs[:, max(0, t - REPETITION_WINDOW):t]] = True
            seqs[:, t] = sample(probs, rng, temperature=temperature, top_k=top_k, top_p=top_p,
                                banned=guard.banned(seqs, t, vocab), penalized=penalized,
                                penalty=repetition_penalty)
            guard.observe(seqs, t)
            done = t + 1 - n
            if clock is not None:
                reached[(reached == 0) & (clock.feed(seqs[:, t]) >= beats)] = done
                if reached.all():
                    end = t + 1
                    break
            elif beats and (done % SECONDS_CHECK_EVERY == 0) and all(
                    self._beats(s[n:t + 1]) >= beats for s in seqs):
                end = t + 1
                break
            if t + 1 < n + cap:
                probs = self._engine.step(seqs[:, t])
        tokens = [s[:end] for s in seqs]
        if clock is not None:
            tokens = [s[:n + r] if r else s for s, r in zip(tokens, reached.tolist())]
        elif beats:
            tokens = [s[:n + self._tokens_for(s[n:], beats)] for s in tokens]
        return tokens

    def _beats(self, tokens: np.ndarray) -> float:
        return self.tokenizer.decode(tokens).duration_beats

    def _tokens_for(self, tokens: np.ndarray, beats: float) -> int:
        """The fewest leading tokens that decode to at least ``beats`` (all when none do)."""
        lo, hi = 1, len(tokens)
        if not hi or self._beats(tokens) < beats:
            return hi
        while lo < hi:  # binary search: decoded duration grows with the prefix
            mid = (lo + hi) // 2
            lo, hi = (mid + 1, hi) if self._beats(tokens[:mid]) < beats else (lo, mid)
        return lo


