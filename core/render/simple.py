"""A tiny numpy synthesizer, used when FluidSynth is not available.

Pitched notes are a few decaying sine harmonics; drum hits are noise bursts and pitch-swept
sines shaped like a kick, snare, tom or cymbal. It sounds like a music box, not an orchestra,
and :func:`core.render.render_audio` says so in the warning it attaches.
"""

from __future__ import annotations

import numpy as np

from core.render._music import Part

HARMONICS = (1.0, 0.45, 0.22, 0.1)  # amplitude of partials 1..4
ATTACK = 0.005                        # seconds
RELEASE = 0.08                        # seconds, time constant of the fade after note-off
LONGEST_NOTE = 6.0                    # seconds; a held note has decayed to silence by then

KICKS = {35, 36}
SNARES = {37, 38, 39, 40}
TOMS = {41, 43, 45, 47, 48, 50}
CLOSED_METAL = {42, 44, 54, 69, 70}         # closed hi-hat, pedal hat, tambourine, shakers
OPEN_METAL = {46, 49, 51, 52, 53, 55, 57, 59}  # open hat, crash, ride, china, splash


def render(parts: list[Part], duration: float, sample_rate: int) -> np.ndarray:
    """Mono float32 samples, shape ``(round(duration * sample_rate),)``; times in seconds."""
    out = np.zeros(int(round(duration * sample_rate)), dtype=np.float64)
    tones: dict[int, np.ndarray] = {}    # pitch -> decaying harmonic tone, grown as needed
    drums: dict[int, np.ndarray] = {}    # drum note -> hit
    release = np.exp(-np.arange(int(5 * RELEASE * sample_rate)) / (RELEASE * sample_rate))
    for part in parts:
        for start, end, pitch, velocity in part.notes:
            i = int(round(start * sample_rate))
            if i >= len(out):
                continue
            amp = (velocity / 127.0) ** 1.5
            pitch = int(np.clip(round(pitch), 0, 127))
            if part.track.is_drum:
                hit = drums.get(pitch)
                if hit is None:
                    hit = drums[pitch] = _drum(pitch, sample_rate)
                sound = amp * hit
            else:
                held = max(1, int(round(min(end - start, LONGEST_NOTE) * sample_rate)))
                n = held + len(release)
                tone = tones.get(pitch)
                if tone is None or len(tone) < n:
                    tone = tones[pitch] = _tone(pitch, max(n, int(sample_rate)), sample_rate)
                sound = amp * tone[:n]
                sound[held:] *= release
            sound = sound[:len(out) - i]
            out[i:i + len(sound)] += sound
    return out.astype(np.float32)


def _tone(pitch: int, n: int, sample_rate: int) -> np.ndarray:
    """``n`` samples of a struck, decaying harmonic tone at MIDI ``pitch``."""
    t = np.arange(n) / sample_rate
    freq = 440.0 * 2.0 ** ((pitch - 69) / 12)
    wave = sum(a * np.sin(2 * np.pi * k * freq * t)
               for k, a in enumerate(HARMONICS, start=1) if k * freq < sample_rate / 2)
    decay = 0.3 + 1.5 * np.clip((96 - pitch) / 60, 0, 1)  # seconds; low notes ring longer
    return np.minimum(t / ATTACK, 1.0) * np.exp(-t / decay) * wave


def _drum(pitch: int, sample_rate: int) -> np.ndarray:
    """One hit of General MIDI drum note ``pitch`` (noise is seeded by the pitch: repeatable)."""
    noise = np.random.default_rng(pitch).uniform(-1, 1, int(0.6 * sample_rate))
    t = np.arange(len(noise)) / sample_rate

    def swept_sine(start_hz: float, end_hz: float, sweep: float) -> np.ndarray:
        freq = end_hz + (start_hz - end_hz) * np.exp(-t / sweep)
        return np.sin(2 * np.pi * np.cumsum(freq) / sample_rate)

    if pitch in KICKS:
        return swept_sine(150, 45, 0.03) * np.exp(-t / 0.12)
    if pitch in SNARES:
        body = swept_sine(240, 180, 0.02) * np.exp(-t / 0.05)
        return 0.6 * noise * np.exp(-t / 0.07) + 0.5 * body
    if pitch in TOMS:
        base = 80 + 12 * (pitch - 41)
        return swept_sine(1.5 * base, base, 0.05) * np.exp(-t / 0.15)
    hiss = np.diff(noise, prepend=0.0) / 2  # first difference: a crude high-pass
    if pitch in OPEN_METAL:
        return 0.5 * hiss * np.exp(-t / 0.25)
    if pitch in CLOSED_METAL:
        return 0.5 * hiss * np.exp(-t / 0.03)
    return 0.5 * noise * np.exp(-t / 0.05)  # anything else: a short click of noise
