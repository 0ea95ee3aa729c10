"""Audio from a ``Piece`` or a ``PrettyMIDI``: FluidSynth when it is there, a plain synth when not.

>>> audio = render_audio(piece)              # Audio(samples, sample_rate, backend, ..., warning)
>>> samples, sample_rate = audio             # unpacks like a tuple
>>> st.audio(audio.wav_bytes())              # or render_wav(piece): RIFF WAV, 16-bit PCM

If FluidSynth cannot be used (library missing, no soundfont), ``render_audio`` falls back to the
simple synthesizer of :mod:`core.render.simple`, emits a ``RuntimeWarning`` and puts the same
text in ``Audio.warning`` for the app to show: a fallback is never silent.
"""

from __future__ import annotations

import io
import os
import warnings
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.render import fluid, simple
from core.render._music import Music, parts
from core.render.soundfonts import SOUNDFONT_ENV, resolve_soundfont

BACKENDS = ("auto", "fluidsynth", "simple")
SAMPLE_RATES = (8000, 96000)  # Hz, the range FluidSynth accepts
PEAK = 10 ** (-1 / 20)        # normalise the loudest sample to -1 dBFS


@dataclass(frozen=True, eq=False)
class Audio:
    """Rendered audio: float32 ``samples`` in [-1, 1], shape ``(n,)`` mono or ``(n, 2)`` stereo.

    ``sample_rate`` is in Hz; ``backend`` is ``"fluidsynth"`` or ``"simple"``; ``soundfont`` the
    file FluidSynth played; ``warning`` is ``None`` unless the user should hear about how this
    was made (the simple synthesizer). Unpacks as ``samples, sample_rate = audio``.
    """

    samples: np.ndarray
    sample_rate: int
    backend: str
    soundfont: Path | None = None
    warning: str | None = None

    def __iter__(self) -> Iterator:
        return iter((self.samples, self.sample_rate))

    def __repr__(self) -> str:
        extra = f", warning={self.warning!r}" if self.warning else ""
        return (f"Audio({self.duration:.2f} s, {self.sample_rate} Hz, {self.channels} ch, "
                f"backend={self.backend!r}{extra})")

    @property
    def channels(self) -> int:
        return 1 if self.samples.ndim == 1 else int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate

    def to_int16(self) -> np.ndarray:
        """Samples as 16-bit PCM, same shape."""
        return np.round(np.clip(self.samples, -1.0, 1.0) * 32767).astype(np.int16)

    def ogg_bytes(self, quality: float = 0.4) -> bytes:
        """An Ogg Vorbis file (``quality`` 0..1): about a seventh of the WAV, for a page that
        plays it (a browser decodes it in a fraction of the time it takes to receive the WAV)."""
        import soundfile

        buf = io.BytesIO()
        soundfile.write(buf, self.samples, self.sample_rate, format="OGG", subtype="VORBIS",
                        compression_level=1.0 - quality)  # libsndfile: 0 is the best quality
        return buf.getvalue()

    def wav_bytes(self) -> bytes:
        """A complete RIFF WAV file: 16-bit PCM, mono or stereo."""
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(self.channels)
            w.setsampwidth(2)
            w.setframerate(self.sample_rate)
            w.writeframes(self.to_int16().astype("<i2").tobytes())
        return buf.getvalue()


def render_audio(music: Music, sample_rate: int = 44100, *, backend: str = "auto",
                 soundfont: str | Path | None = None, tail: float = 1.0, stereo: bool = True,
                 normalize: bool = True) -> Audio:
    """Synthesize ``music`` (a ``Piece`` or ``pretty_midi.PrettyMIDI``).

    ``sample_rate`` in Hz (44100, or 22050 for half the work); ``tail`` is the seconds of
    release and reverb kept after the last note ends, so the length is
    ``duration + tail`` seconds. ``backend``: ``"auto"`` (FluidSynth, else the simple synth
    with a warning), ``"fluidsynth"`` (raise :class:`FluidSynthUnavailable` instead of falling
    back) or ``"simple"``. ``soundfont`` overrides :func:`find_soundfont`. ``normalize`` scales
    the loudest sample to -1 dBFS.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if not (isinstance(sample_rate, (int, np.integer))
            and SAMPLE_RATES[0] <= sample_rate <= SAMPLE_RATES[1]):
        raise ValueError(f"sample_rate must be a whole number of Hz in {SAMPLE_RATES[0]}.."
                         f"{SAMPLE_RATES[1]}, got {sample_rate!r}")
    if not tail >= 0:
        raise ValueError(f"tail must be zero or more seconds, got {tail!r}")
    if soundfont is not None and not Path(soundfont).is_file():
        raise FileNotFoundError(f"soundfont not found: {soundfont}")
    sample_rate = int(sample_rate)
    music_parts, end = parts(music, "seconds")
    duration = end + tail

    if backend == "simple":
        warning = ("Rendered with the built-in simple synthesizer (backend='simple'): sine tones "
                   "and noise bursts, not real instruments.")
    else:
        try:
            fluid.load_fluidsynth()
            font = Path(soundfont) if soundfont is not None else _default_soundfont()
            frames = fluid.render(music_parts, duration, sample_rate, font)
            samples = frames.astype(np.float32) / 32768.0
            return Audio(_finish(samples, stereo, normalize), sample_rate, "fluidsynth", font)
        except fluid.FluidSynthUnavailable as e:
            if backend == "fluidsynth":
                raise
            warning = (f"{e}. This audio comes from the built-in simple synthesizer instead: "
                       f"sine tones and noise bursts, not real instruments.")
            warnings.warn(warning, RuntimeWarning, stacklevel=2)

    samples = simple.render(music_parts, duration, sample_rate)
    return Audio(_finish(samples, stereo, normalize), sample_rate, "simple", None, warning)


def render_wav(music: Music, sample_rate: int = 44100, **options) -> bytes:
    """``music`` as a complete WAV file (16-bit PCM); ``options`` as for :func:`render_audio`.

    When FluidSynth is missing the fallback's warning is emitted as a ``RuntimeWarning``;
    call :func:`render_audio` to get its text for display.
    """
    return render_audio(music, sample_rate, **options).wav_bytes()


def describe_backend() -> dict:
    """What :func:`render_audio` would use right now, for an "about" panel or a bug report.

    Keys: ``backend`` ("fluidsynth" or "simple"), ``fluidsynth`` (library loaded),
    ``fluidsynth_version``, ``pyfluidsynth_version``, ``soundfont`` (path or None),
    ``soundfont_source`` ("project", "env", "system", "pretty_midi"), ``problems`` (list of
    strings: why FluidSynth is unusable, a ``COMPOSER_SOUNDFONT`` that points nowhere).
    """
    problems = []
    try:
        fs = fluid.load_fluidsynth()
    except fluid.FluidSynthUnavailable as e:
        fs = None
        problems.append(str(e))
    font, source = resolve_soundfont()
    if font is None:
        problems.append("no soundfont found")
    env = os.environ.get(SOUNDFONT_ENV)
    if env and not Path(env).expanduser().is_file():
        problems.append(f"{SOUNDFONT_ENV}={env} does not exist")
    return {
        "backend": "fluidsynth" if fs is not None and font is not None else "simple",
        "fluidsynth": fs is not None,
        "fluidsynth_version": fluid.library_version() if fs is not None else None,
        "pyfluidsynth_version": getattr(fs, "api_version", None),
        "soundfont": str(font) if font is not None else None,
        "soundfont_source": source,
        "problems": problems,
    }


def _default_soundfont() -> Path:
    font, _ = resolve_soundfont()
    if font is None:
        raise fluid.FluidSynthUnavailable("no soundfont found (see soundfonts/README.md)")
    return font


def _finish(samples: np.ndarray, stereo: bool, normalize: bool) -> np.ndarray:
    """Mix to the requested channel count and scale the peak to ``PEAK``; float32."""
    if samples.ndim == 1 and stereo:
        samples = np.repeat(samples[:, None], 2, axis=1)
    elif samples.ndim == 2 and not stereo:
        samples = samples.mean(axis=1)
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    if normalize and peak > 0:
        samples = samples * (PEAK / peak)
    return np.ascontiguousarray(samples, dtype=np.float32)
