"""Generate from a model of real-valued steps (the C-RNN-GAN, ``core.models.crnngan``).

:class:`StepGenerator` is what ``core.generation.generate.Generator.from_run`` returns for such a run: the
same ``generate`` arguments and the same ``Result`` (``core.generation.primers``) (each variation an array of steps rather than of
token ids; ``Result.piece`` decodes either). What differs is what a GAN can be asked:

- ``temperature`` is the **noise scale**: the generator's uniform noise is drawn as
  ``0.5 + temperature * (u - 0.5)`` (1: the training distribution; towards 0: the same steps
  every time; above 1: wilder);
- ``top_k``, ``top_p``, ``anti_loop`` and ``repetition_penalty`` act on a distribution over
  tokens, which a GAN does not have: they are accepted and ignored (the app hides them);
- a primer (a note, typed notes, a MIDI file or a corpus opening) is fed to the generator as its
  previous steps (teacher-forced, as in its pre-training), so its state starts from that music;
  ``primer="none"`` starts from noise alone, as in the paper.

A length is in steps (one per onset), or in seconds with ``seconds``; steps are made in one
batch for all variations by ``core.models.inference.GeneratorStepper`` in NumPy.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from core.encodings.continuous import EPS
from core.generation.primers import Primers, Result
from core.models.inference import GeneratorStepper
from core.models.numpy_ops import one_blas_thread
from core.settings import DEFAULT_LENGTH, MAX_LENGTH, SamplingSettings

#: What the Generate page and the CLI say about the sampler settings this model ignores.
IGNORED = ("top_k", "top_p", "anti_loop", "repetition_penalty")


class StepGenerator(Primers):
    """Samples real-valued steps from a C-RNN-GAN checkpoint (see the module's docstring)."""

    takes_tokens = False

    def __init__(self, model: Any, tokenizer: Any, config: Any, run: Any = None) -> None:
        if not tokenizer.continuous or int(model.features) != tokenizer.features:
            raise ValueError(f"the checkpoint writes {model.features} values per step but the "
                             f"run's encoding has {getattr(tokenizer, 'features', '?')}")
        self.model, self.tokenizer, self.config, self.run = model, tokenizer, config, run
        self._stepper = GeneratorStepper(model)

    def _primer_array(self, encoded: np.ndarray) -> np.ndarray:
        return np.asarray(encoded, np.float32).reshape(-1, self.tokenizer.features)

    def generate(self, length: int | None = None, *, seconds: float | None = None,
                 temperature: float = 1.0, seed: int | None = None, variations: int = 1,
                 primer: str | np.ndarray = "note", primer_text: str | None = None,
                 primer_midi: Any = None, primer_note: int | str | None = None,
                 primer_length: int | None = None, tempo: float = 120.0,
                 program: int | None = None, include_primer: bool | None = None,
                 primer_piece: Any = None,
                 **ignored: Any) -> Result:
        """``variations`` pieces of ``length`` steps (default 256), or with ``seconds`` until the
        generated part lasts that long at ``tempo`` (``length`` then caps the steps, default
        20000). ``temperature``: the noise scale. Other arguments as ``Generator.generate``."""
        unknown = set(ignored) - set(IGNORED)
        if unknown:
            raise TypeError(f"unexpected arguments: {', '.join(sorted(unknown))}")
        SamplingSettings(length=length, seconds=seconds, temperature=temperature, seed=seed,
                         variations=variations, tempo=tempo, program=program).validate()
        seed = int(np.random.default_rng().integers(2**31)) if seed is None else int(seed)
        rng = np.random.default_rng(seed)
        if include_primer is None:
            include_primer = not (isinstance(primer, str) and primer == "corpus")
        if isinstance(primer, str) and primer == "none":
            primer = np.zeros((0, self.tokenizer.features), np.float32)
        elif isinstance(primer, str):
            primer = self.primer(primer, text=primer_text, midi=primer_midi, note=primer_note,
                                 length=primer_length, rng=rng, piece=primer_piece)
        primer = self._primer_array(primer)
        cap = length or (MAX_LENGTH if seconds else DEFAULT_LENGTH)
        beats = seconds * tempo / 60.0 if seconds else None
        with one_blas_thread():
            t0 = time.perf_counter()
            steps = self._sample(primer, cap, beats, variations, rng, float(temperature))
            elapsed = time.perf_counter() - t0
        return Result(steps, len(primer), elapsed, seed, float(tempo), program, include_primer,
                      self.tokenizer)

    def _sample(self, primer: np.ndarray, cap: int, beats: float | None, variations: int,
                rng: np.random.Generator, noise_scale: float) -> list[np.ndarray]:
        stepper, z = self._stepper, self._stepper.noise_dim
        stepper.start(variations)

        def noise() -> np.ndarray:
            return (0.5 + noise_scale * (rng.random((variations, z)) - 0.5)).astype(np.float32)

        previous = np.zeros((variations, primer.shape[1]), np.float32)
        for row in primer:   # teacher-forced: the state reads the primer's steps
            stepper.step(noise(), teacher=previous)
            previous = np.broadcast_to(row, previous.shape)
        out = np.zeros((variations, cap, primer.shape[1]), np.float32)
        onset, longest = np.zeros(variations), np.zeros(variations)
        reached = np.zeros(variations, np.int64)      # steps up to the first that reaches beats
        made = cap
        for t in range(cap):
            out[:, t] = stepper.step(noise(), teacher=previous if t == 0 and len(primer) else None)
            if beats is not None:
                raw = self.tokenizer.unscale(out[:, t])
                onset += raw[:, 0]
                played = np.rint(np.clip(raw[:, 3::3], 0, 127)) >= 1
                ends = np.where(played, onset[:, None] + np.maximum(raw[:, 1::3], EPS), 0.0)
                longest = np.maximum(longest, ends.max(axis=1))
                reached[(reached == 0) & (longest >= beats)] = t + 1
                if reached.all():
                    made = t + 1
                    break
        lengths = [int(r) if r else made for r in reached] if beats is not None else [made] * variations
        return [np.concatenate([primer, out[i, :n]]) for i, n in enumerate(lengths)]

    def teacher_forced_error(self, seqs: list[np.ndarray], seed: int = 0) -> float | None:
        """Mean squared error (per value, scaled units) of each step predicted from the real
        step before it, over ``seqs``: the generator's held-out measure (its pre-training
        loss; ``val_mse`` in training). ``None`` without steps."""
        stepper, z = self._stepper, self._stepper.noise_dim
        rng = np.random.default_rng(seed)
        total, count = 0.0, 0
        with one_blas_thread():
            for seq in seqs:
                if not len(seq):
                    continue
                stepper.start(1)
                previous = np.zeros((1, seq.shape[1]), np.float32)
                for row in seq:
                    predicted = stepper.step(rng.random((1, z), dtype=np.float32), teacher=previous)
                    total += float(np.square(predicted[0] - row).mean())
                    previous = row[None]
                count += len(seq)
        return total / count if count else None
