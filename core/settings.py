"""The settings a person can give, each written once: name, default, range and help text.

:class:`TrainSpec` (what to train) and :class:`SamplingSettings` (how to generate) are
dataclasses whose field metadata drives everything else: :func:`add_arguments` makes the
command line's options, :func:`from_args` reads them back, ``validate()`` checks the ranges with
one message format, and the app's widgets read their bounds from :func:`bounds`. A new setting is
one new field here.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any


def setting(default: Any, help: str, *, lo: float | None = None, hi: float | None = None,
            above: float | None = None, choices: tuple | None = None, cli: bool = True,
            unit: str = "", label: str | None = None) -> Any:
    """A dataclass field with its help text and its allowed range: ``lo`` <= value <= ``hi``,
    or ``above`` < value <= ``hi``."""
    meta = {"help": help, "lo": lo, "hi": hi, "above": above, "choices": choices, "cli": cli,
            "unit": unit, "label": label}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


class Settings:
    """Shared behaviour of the settings dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in known})

    def validate(self) -> None:
        """``ValueError`` naming the first setting outside its range, with the range."""
        for f in fields(self):  # type: ignore[arg-type]
            value, m = getattr(self, f.name), f.metadata
            if value is None or not m:
                continue
            label = m["label"] or f.name.replace("_", " ")
            if m["choices"] and value not in m["choices"]:
                raise ValueError(f"{label} must be one of {', '.join(map(str, m['choices']))}, "
                                 f"got {value!r}")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                lo, hi, above = m["lo"], m["hi"], m["above"]
                if ((lo is not None and value < lo) or (hi is not None and value > hi)
                        or (above is not None and value <= above)):
                    raise ValueError(f"{label} must be {_range(lo, hi, above)}{m['unit']}, "
                                     f"got {value}")


def _range(lo, hi, above=None) -> str:
    if above is not None:
        return f"more than {above:g}" + (f" and at most {hi:g}" if hi is not None else "")
    if lo is not None and hi is not None:
        return f"{lo:g} to {hi:g}"
    return f"at least {lo:g}" if lo is not None else f"at most {hi:g}"


def bounds(cls, name: str) -> tuple[float | None, float | None]:
    """``(lo, hi)`` of one setting, for a slider."""
    m = {f.name: f.metadata for f in fields(cls)}[name]
    return (m["lo"] if m["lo"] is not None else m["above"]), m["hi"]


def add_arguments(parser: argparse.ArgumentParser, cls, *, required: tuple[str, ...] = (),
                  defaults: dict[str, Any] | None = None) -> None:
    """One ``--option`` per field of ``cls`` (``checkpoint_epochs`` -> ``--checkpoint-epochs``).

    Options default to ``None`` (so a caller can tell "not given" from the dataclass default);
    :func:`from_args` fills in the dataclass defaults.
    """
    for f in fields(cls):
        m = f.metadata
        if not m.get("cli", True):
            continue
        default = (defaults or {}).get(f.name, f.default)
        shown = "" if default in (None, MISSING) else f" (default {default})"
        kwargs: dict[str, Any] = {"help": m["help"] + shown, "default": None,
                                  "type": _parser_type(f)}
        if m["choices"]:
            kwargs["choices"] = list(m["choices"])
        if f.name in required:
            kwargs["required"] = True
        parser.add_argument(f"--{f.name.replace('_', '-')}", **kwargs)


def from_args(cls, args: argparse.Namespace, **overrides: Any):
    """An instance of ``cls`` from :func:`add_arguments`'s options (``None``: the default)."""
    values = {f.name: getattr(args, f.name) for f in fields(cls)
              if getattr(args, f.name, None) is not None}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return cls(**values)


def to_args(obj) -> list[str]:
    """The command-line options that :func:`from_args` reads back as ``obj``."""
    out = []
    for key, value in obj.to_dict().items():
        if isinstance(value, list):
            value = ",".join(map(str, value))
        if value is not None:
            out += [f"--{key.replace('_', '-')}", str(value)]
    return out


def _parser_type(f):
    kind = str(f.type)
    if "list[int]" in kind:
        return _int_list
    if "bool" in kind:
        return _on_off
    if "float" in kind:
        return float
    if "int" in kind:
        return int
    return str


def _on_off(text: str) -> bool:
    value = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}.get(
        text.strip().lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected on or off, not {text!r}")
    return value


def _int_list(text: str) -> list[int]:
    try:
        return sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 1,2,5, not {text!r}")


# --- what to train ---------------------------------------------------------------------------
DEFAULT_EPOCHS = 10         # when neither epochs nor minutes is given
DEFAULT_MINUTES = 3.0       # the Train page's time budget (docs/benchmarks.md: what 3 minutes reach)
MAX_EPOCHS = 100_000        # the most epochs a run asks for (a time budget's limit)

@dataclass
class TrainSpec(Settings):
    """What to train: everything the command line and the Train page can set."""

    corpus: str = setting("", "built-in corpus name, MIDI folder, .zip or .mid")
    encoding: str = setting("events", "token encoding")
    preset: str = setting("studio", "model preset")
    size: str | None = setting(None, "model size", choices=("small", "medium", "large"))
    epochs: int | None = setting(None, f"epochs to train (default {DEFAULT_EPOCHS}; with "
                                 "--minutes: as many as fit)", lo=1, hi=MAX_EPOCHS)
    minutes: float | None = setting(None, "train for this many minutes (a checkpoint at the "
                                    "budget, at most one epoch past it)", above=0, hi=7 * 24 * 60,
                                    unit=" minutes")
    checkpoint_every: int = setting(1, "keep a checkpoint every N epochs", lo=1)
    checkpoint_epochs: list[int] | None = setting(None, "keep exactly these epochs, e.g. 1,2,5,10")
    val_share: float = setting(0.1, "share of pieces held out for validation", above=0, hi=0.9)
    batch_size: int | None = setting(None, "pieces or windows per batch", lo=1, hi=4096)
    learning_rate: float | None = setting(None, "optimizer learning rate", above=0, hi=1.0)
    window: int | None = setting(None, "window in tokens (and a corpus primer's length)", lo=1,
                                 hi=4096)
    dropout: float | None = setting(None, "dropout rate", lo=0.0, hi=0.9)
    seed: int = setting(0, "random seed (split, weights, batches)")
    max_pieces: int | None = setting(None, "use only the first N pieces", lo=2)
    train_on: str | None = setting(None, "carried: consecutive windows of each piece with the "
                                   "LSTM state carried (truncated BPTT, the studio/ragtime "
                                   "default); pieces: whole pieces; windows: each window from "
                                   "zero", choices=("carried", "pieces", "windows"))
    patience: int | None = setting(None, "stop after N epochs without a better val_loss", lo=1)
    schedule: str | None = setting(None, "learning rate: constant (default) or cosine (down to 5 percent "
                                   "by the end of the run or its time budget)",
                                   choices=("constant", "cosine"))
    transpose: int | None = setting(None, "also train on each training piece moved up and down "
                                    "by 1..N semitones (validation pieces stay as they are)",
                                    lo=0, hi=12)
    # the crnngan preset's training recipe (core.models.crnngan); None: the preset's default
    pretrain_epochs: int | None = setting(None, "crnngan: epochs of teacher-forced squared-error "
                                          "pre-training of the generator first", lo=0, hi=10_000)
    feature_matching: bool | None = setting(None, "crnngan: train the generator to match the "
                                            "discriminator's features on real data (on/off)")
    freeze: bool | None = setting(None, "crnngan: pause whichever side is far ahead (on/off)")

    @property
    def epoch_limit(self) -> int:
        """The epochs to train: as asked, else as many as fit in the time budget, else
        ``DEFAULT_EPOCHS``."""
        return int(self.epochs or (MAX_EPOCHS if self.minutes else DEFAULT_EPOCHS))

    @property
    def lr_schedule(self) -> str:
        """The learning-rate schedule: as asked, else constant (it reached a lower held-out NLL
        than cosine in 3 minutes: docs/benchmarks.md)."""
        return self.schedule or "constant"

    @property
    def budget_s(self) -> float | None:
        """The time budget in seconds, when there is one."""
        return float(self.minutes) * 60 if self.minutes else None

    def wants_checkpoint(self, epoch: int) -> bool:
        if epoch == self.epoch_limit:
            return True
        if self.checkpoint_epochs:
            return epoch in self.checkpoint_epochs
        return epoch % self.checkpoint_every == 0


# --- how to generate -------------------------------------------------------------------------
MAX_LENGTH = 20_000         # tokens per variation
DEFAULT_LENGTH = 256        # tokens, when neither length nor seconds is given
MAX_VARIATIONS = 64
MAX_TEMPERATURE = 5.0


@dataclass
class SamplingSettings(Settings):
    """How :meth:`core.generation.generate.Generator.generate` samples; the ranges are checked here."""

    length: int | None = setting(None, f"tokens to generate (default {DEFAULT_LENGTH}; with "
                                 "--seconds: the most tokens)", lo=1, hi=MAX_LENGTH, unit=" tokens")
    seconds: float | None = setting(None, "stop when the music lasts this many seconds", above=0,
                                    hi=3600)
    temperature: float = setting(1.0, "sampling temperature (below 0.001: always the likeliest "
                                 "token)", above=0, hi=MAX_TEMPERATURE)
    top_k: int = setting(0, "keep the k likeliest tokens (0 = off)", lo=0, label="top-k")
    top_p: float = setting(1.0, "keep the likeliest tokens up to this probability (1 = off)",
                           above=0, hi=1.0, label="top-p")
    anti_loop: float = setting(0.0, "anti-loop strength 0 (off) to 1", lo=0.0, hi=1.0,
                               label="anti-loop")
    repetition_penalty: float = setting(1.0, "divide a recent token's probability by this (1 = off)",
                                        lo=1.0, hi=10.0)
    seed: int | None = setting(None, "random seed (the same seed gives the same music)")
    variations: int = setting(1, "pieces from one primer, in one batch", lo=1, hi=MAX_VARIATIONS)
    tempo: float = setting(120.0, "beats per minute", lo=20, hi=400, unit=" bpm")
    program: int | None = setting(None, "General MIDI program 0-127 (default: as decoded)", lo=0,
                                  hi=127)
