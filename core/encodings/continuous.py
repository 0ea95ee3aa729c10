"""``continuous``: a piece as real-valued steps, the C-RNN-GAN's representation (Mogren 2016).

One step per onset (up to ``tones`` notes that start together; ``tones=3`` is the paper's
C-RNN-GAN-3), each a row of real values:

    dt, then for each of the step's tones: length, pitch, intensity

``dt`` is the time since the previous step's onset and ``length`` a note's duration, both in
beats; ``pitch`` is the MIDI note number (the paper's frequency, on the musical scale) and
``intensity`` the velocity. A tone slot a step does not use holds zeros (intensity 0 = no tone).
More than ``tones`` notes at one onset go on to the next steps with ``dt = 0``, so nothing is
lost to the cap.

For training the values are scaled: ``dt`` and ``length`` as ``log(beats + 1/64)``, then with
``pitch`` standardized by the corpus's mean and spread (learnt by ``fit``); intensity is
``velocity / 127``. :meth:`ContinuousEncoding.decode` inverts this exactly (up to float32).

Known losses: instruments (everything decodes to one piano track; drum tracks are not read);
times are kept to float32 precision (about 1e-6 beats at a piece's start, 1e-4 after a thousand
beats); a generated step's values are rounded (pitch and velocity to integers, clipped to MIDI's
ranges; a tone whose intensity rounds below 1 is silent; a length is at least 1/64 beat) and
``dt`` and ``length`` are clipped to the longest the corpus has (a GAN's outlier is not an
hour of silence).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from core.encodings.base import Encoding, register
from core.piece import END, PITCH, START, VELOCITY, Piece, Track

EPS = 1.0 / 64            # beats: the log scale's offset, and the shortest decoded note
MAX_TONES = 8
SAME_ONSET = 1e-5         # beats: a decoded dt below this is 0 (the notes start together)


def _log_time(beats: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(beats, 0.0) + EPS)


@register
class ContinuousEncoding(Encoding):
    name = "continuous"
    continuous = True

    def __init__(self, tones: int = 1) -> None:
        if not 1 <= int(tones) <= MAX_TONES:
            raise ValueError(f"tones per step must be 1 to {MAX_TONES}, got {tones}")
        super().__init__(tones=int(tones))
        self.tones = int(tones)
        # scaling: (mean, spread) of log dt, log length and pitch
        self.scale: dict[str, list[float]] = {"dt": [0.0, 1.0], "length": [0.0, 1.0],
                                              "pitch": [60.0, 12.0]}
        #: the longest dt and length (beats) in the corpus: decoded values are clipped to them
        self.longest: dict[str, float] = {"dt": 16.0, "length": 16.0}

    @property
    def features(self) -> int:
        """Values per step: ``dt`` and three per tone."""
        return 1 + 3 * self.tones

    @property
    def feature_names(self) -> list[str]:
        names = ["dt"]
        for k in range(self.tones):
            names += [f"length_{k}", f"pitch_{k}", f"intensity_{k}"]
        return names

    # --- raw steps (beats, MIDI numbers) --------------------------------------------------
    def _raw(self, piece: Piece, count_losses: bool = True) -> np.ndarray:
        """Unscaled steps ``(T, features)``: dt and per tone length, pitch, velocity."""
        melodic = piece.select("melodic")
        notes = melodic.notes
        dropped = piece.n_notes - melodic.n_notes
        if dropped and count_losses:
            self.losses["drum_notes_dropped"] += dropped
        if not len(notes):
            return np.zeros((0, self.features))
        # within an onset: highest pitch first (the melody takes the first tone)
        order = np.lexsort((-notes[:, PITCH], notes[:, START]))
        notes = notes[order]
        starts = notes[:, START]
        new_onset = np.r_[True, np.diff(starts) > 1e-9]
        group = np.cumsum(new_onset) - 1
        rank = np.arange(len(notes)) - np.flatnonzero(new_onset)[group]
        # a group of n notes fills ceil(n / tones) steps
        step_in_group = rank // self.tones
        slot = rank % self.tones
        group_steps = np.bincount(group, weights=None, minlength=group.max() + 1)
        group_steps = -(-group_steps // self.tones)
        first_step = np.r_[0, np.cumsum(group_steps)[:-1]].astype(np.int64)
        step = first_step[group] + step_in_group
        rows = np.zeros((int(group_steps.sum()), self.features))
        onset = np.zeros(len(rows))
        onset[step] = starts
        rows[:, 0] = np.diff(onset, prepend=0.0)
        col = 1 + 3 * slot
        rows[step, col] = notes[:, END] - notes[:, START]
        rows[step, col + 1] = notes[:, PITCH]
        rows[step, col + 2] = notes[:, VELOCITY]
        return rows

    def _fit(self, pieces: Sequence[Piece]) -> None:
        raws = [self._raw(p, count_losses=False) for p in pieces]
        raw = np.concatenate(raws) if raws else np.zeros((0, self.features))
        if not len(raw):
            raise ValueError("the pieces have no pitched notes for the continuous encoding")
        played = raw[:, 3::3] > 0
        lengths = raw[:, 1::3][played]
        pitches = raw[:, 2::3][played]
        for key, values in (("dt", _log_time(raw[:, 0])), ("length", _log_time(lengths)),
                            ("pitch", pitches)):
            self.scale[key] = [float(values.mean()), float(max(values.std(), 1e-3))]
        self.longest = {"dt": float(max(raw[:, 0].max(), EPS)), "length": float(lengths.max())}

    # --- the protocol --------------------------------------------------------------------
    def encode(self, piece: Piece) -> np.ndarray:
        """Scaled steps, float32 ``(T, features)``."""
        raw = self._raw(piece)
        out = np.zeros_like(raw)
        (dm, ds), (lm, ls), (pm, ps) = self.scale["dt"], self.scale["length"], self.scale["pitch"]
        out[:, 0] = (_log_time(raw[:, 0]) - dm) / ds
        played = raw[:, 3::3] > 0
        out[:, 1::3] = np.where(played, (_log_time(raw[:, 1::3]) - lm) / ls, 0.0)
        out[:, 2::3] = np.where(played, (raw[:, 2::3] - pm) / ps, 0.0)
        out[:, 3::3] = raw[:, 3::3] / 127.0
        return out.astype(np.float32)

    def unscale(self, steps: np.ndarray) -> np.ndarray:
        """Scaled steps back to beats and MIDI numbers (float64, not yet rounded)."""
        x = np.nan_to_num(np.asarray(steps, np.float64).reshape(-1, self.features),
                          nan=0.0, posinf=50.0, neginf=-50.0)   # a diverged model's output
        (dm, ds), (lm, ls), (pm, ps) = self.scale["dt"], self.scale["length"], self.scale["pitch"]
        raw = np.empty_like(x)
        dt = np.minimum(np.exp(np.clip(x[:, 0] * ds + dm, -50, 50)) - EPS, self.longest["dt"])
        raw[:, 0] = np.where(dt < SAME_ONSET, 0.0, dt)   # float32 noise around "together"
        raw[:, 1::3] = np.minimum(np.exp(np.clip(x[:, 1::3] * ls + lm, -50, 50)) - EPS,
                                  self.longest["length"])
        raw[:, 2::3] = x[:, 2::3] * ps + pm
        raw[:, 3::3] = x[:, 3::3] * 127.0
        return raw

    def onsets(self, steps: np.ndarray) -> np.ndarray:
        """Each step's onset in beats (the running sum of ``dt``)."""
        return np.cumsum(self.unscale(steps)[:, 0])

    def decode(self, steps: np.ndarray) -> Piece:
        """A piece (one piano track) from scaled steps; silent tones are skipped."""
        raw = self.unscale(steps)
        onset = np.cumsum(raw[:, 0])
        rows = []
        for k in range(self.tones):
            length, pitch, velocity = raw[:, 1 + 3 * k], raw[:, 2 + 3 * k], raw[:, 3 + 3 * k]
            velocity = np.clip(np.rint(velocity), 0, 127)
            on = velocity >= 1
            if on.any():
                start = onset[on]
                rows.append(np.column_stack([
                    start, start + np.maximum(length[on], EPS),
                    np.clip(np.rint(pitch[on]), 0, 127), velocity[on], np.zeros(on.sum())]))
        notes = np.concatenate(rows) if rows else np.zeros((0, 5))
        return Piece("decoded", notes, [Track()])

    def _state(self) -> dict[str, Any]:
        return {"scale": self.scale, "longest": self.longest}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.scale = {k: [float(a), float(b)] for k, (a, b) in state["scale"].items()}
        self.longest.update({k: float(v) for k, v in state.get("longest", {}).items()})

    @property
    def size_text(self) -> str:
        return f"{self.features} real values per step"

    def _summary(self) -> dict[str, Any]:
        return {"features": self.features}

    def __repr__(self) -> str:
        return f"ContinuousEncoding(tones={self.tones}, features={self.features})"


@register
class ContinuousTriples(ContinuousEncoding):
    """``continuous-3``: up to three tones per step, the paper's C-RNN-GAN-3."""

    name = "continuous-3"

    def __init__(self, tones: int = 3) -> None:
        super().__init__(tones)
