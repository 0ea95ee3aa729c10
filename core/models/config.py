"""The presets' catalogue: sizes, defaults and the JSON-able ``ModelConfig`` that rebuilds a model.

No Keras import here, so listing presets (the Train page, the CLI) is instant; the builders
live in ``core.models.presets``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

@dataclass(frozen=True)
class Preset:
    """One named architecture: its sizes, its defaults for everything else, and how it reads
    and generates. The Keras builder is ``core.models.presets``'s function of the same name, its NumPy
    inference form ``core.models.inference.engine_for`` (a stepper when ``many_to_many``, else a sliding
    window); a test checks every preset has both."""

    name: str
    summary: str
    sizes: dict[str, dict[str, Any]]   # "small" / "medium" / "large" -> architecture numbers
    defaults: dict[str, Any]           # everything that is not a size ("size": the default one)
    many_to_many: bool                 # every position supervised; generates with the state carried
    reads: str = "tokens"              # "tokens"; "pianoroll": the cells of a piano roll;
                                       # "notes": real-valued steps (the continuous encodings)


PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("skuli", "Classical-Piano-Composer: 3 LSTMs over a window of scaled token ids",
           {"small": {"units": [128, 128, 128], "dense": 64},
            "medium": {"units": [256, 256, 256], "dense": 128},
            "large": {"units": [512, 512, 512], "dense": 256}},
           {"window": 100, "dropout": 0.3, "optimizer": "rmsprop", "learning_rate": 1e-3,
            "size": "large", "batch_size": 128}, many_to_many=False),
    Preset("softology", "Softology's LSTM composer: 2 LSTMs with batch normalization",
           {"small": {"units": [128, 64], "dense": 32},
            "medium": {"units": [256, 128], "dense": 64},
            "large": {"units": [512, 256], "dense": 128}},
           {"window": 100, "dropout": 0.3, "optimizer": "adam", "learning_rate": 1e-3,
            "size": "large", "batch_size": 128}, many_to_many=False),
    Preset("devfest", "The DevFest 2021 drum-beat notebook: embedding, LSTM, dense, ELU",
           {"small": {"embed": 32, "units": [64], "dense": 64},
            "medium": {"embed": 64, "units": [128], "dense": 128},
            "large": {"embed": 64, "units": [256], "dense": 256}},
           {"window": 200, "dropout": 0.0, "optimizer": "adam", "learning_rate": 1e-3,
            "size": "large", "batch_size": 128}, many_to_many=False),
    Preset("ragtime", "The ragtime many-to-many LSTM on one-hot tokens",
           {"small": {"units": [64]}, "medium": {"units": [128]}, "large": {"units": [256]}},
           {"window": 30, "dropout": 0.0, "optimizer": "adam", "learning_rate": 1e-2,
            "size": "small", "batch_size": 32, "train_on": "carried"}, many_to_many=True),
    Preset("studio", "The studio default: embedding, stacked LSTM, every position supervised",
           {"small": {"embed": 64, "units": [256]},
            "medium": {"embed": 128, "units": [384, 384]},
            "large": {"embed": 256, "units": [512, 512, 512]}},
           # window, batch and rate chosen for held-out NLL per minute (docs/benchmarks.md):
           # with the state carried, a 32-token window is how far back a gradient reaches
           {"window": 32, "dropout": 0.1, "optimizer": "adam", "learning_rate": 2e-3,
            "size": "small", "batch_size": 32, "clipnorm": 1.0, "train_on": "carried"},
           many_to_many=True),
    Preset("biaxial", "Johnson's biaxial RNN: an LSTM along time shared by every pitch, then one "
           "up the keyboard at each step (pianoroll encodings)",
           {"small": {"units": [64, 64], "note_units": [32, 16]},
            "medium": {"units": [150, 150], "note_units": [64, 32]},
            "large": {"units": [300, 300], "note_units": [100, 50]}},
           {"window": 16, "dropout": 0.5, "optimizer": "adam", "learning_rate": 1e-3,
            "size": "small", "batch_size": 8, "clipnorm": 1.0, "train_on": "pieces"},
           many_to_many=True, reads="pianoroll"),
    Preset("crnngan", "Mogren's C-RNN-GAN: an LSTM generator of real-valued notes against a "
           "bidirectional LSTM discriminator (continuous encodings)",
           {"small": {"units": [64, 64], "d_units": [64, 64]},
            "medium": {"units": [128, 128], "d_units": [128, 128]},
            "large": {"units": [350, 350], "d_units": [350, 350]}},   # the paper's
           {"window": 64, "dropout": 0.1, "optimizer": "adam", "learning_rate": 1e-3,
            "size": "small", "batch_size": 16, "clipnorm": 5.0, "d_lr_factor": 0.5,
            "pretrain_epochs": 6, "feature_matching": True, "freeze": True},
           many_to_many=False, reads="notes"),
]}
#: How a model's training data is cut (``core.models.batches``): consecutive windows with the
#: LSTM state carried (truncated BPTT), whole pieces, or windows that each start from zero.
TRAIN_ON = ("carried", "pieces", "windows")
PIANOROLL_VOCAB = 4   # PAD, off, on, held: the pianoroll encodings' cells


def preset_names() -> list[str]:
    return list(PRESETS)


def check_pairing(preset: str, encoding: str, encoding_reads: str) -> None:
    """``ValueError`` saying which encodings go with ``preset`` when ``encoding`` (which gives
    ``encoding_reads``: ``core.encodings.encoding_reads``) does not; an unknown preset is
    :func:`make_config`'s message."""
    p = PRESETS.get(preset)
    if p is None:
        return
    if p.reads == "notes" and encoding_reads != "notes":
        raise ValueError(f"the {preset} preset reads real-valued notes: choose the continuous or "
                         f"continuous-3 encoding, not {encoding}")
    if encoding_reads == "notes" and p.reads != "notes":
        raise ValueError(f"the {encoding} encoding is real-valued: train it with the crnngan preset")
    if p.reads == "pianoroll" and encoding_reads != "pianoroll":
        raise ValueError(f"the {preset} preset reads a piano roll: choose the pianoroll or "
                         f"pianoroll-quarter encoding, not {encoding}")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model; stored in ``run.json`` as ``model``."""

    preset: str
    vocab_size: int
    size: str = ""
    window: int = 0
    units: list[int] = field(default_factory=list)
    embed: int = 0
    dense: int = 0
    dropout: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    clipnorm: float | None = None
    batch_size: int = 32
    #: "windows" (each from a zero state), "pieces" (whole pieces, the state carried through
    #: them as in generation) or "carried" (consecutive windows of whole pieces, the state
    #: carried between them: truncated BPTT); the last two many-to-many presets only; see
    #: ``core.models.batches``.
    train_on: str = "windows"
    max_len: int = 4096  # "pieces": longer pieces are cut into chunks of this many tokens
                         # (of this many steps, for a piano roll)
    #: the biaxial preset: its note-axis LSTMs, and the piano roll's pitches (low, count)
    note_units: list[int] = field(default_factory=list)
    pitch_low: int = 0
    pitches: int = 0
    #: the crnngan preset: values per step (of the continuous encoding; also its noise's size),
    #: the discriminator's LSTMs, its learning rate's share of the generator's, the epochs of
    #: teacher-forced pre-training, the generator's objective and the freezing rule
    features: int = 0
    d_units: list[int] = field(default_factory=list)
    d_lr_factor: float = 1.0
    pretrain_epochs: int = 0
    feature_matching: bool = False
    freeze: bool = False

    @property
    def many_to_many(self) -> bool:
        return PRESETS[self.preset].many_to_many

    @property
    def reads_pianoroll(self) -> bool:
        return PRESETS[self.preset].reads == "pianoroll"

    @property
    def reads_notes(self) -> bool:
        """A model of real-valued steps (the continuous encodings), not of tokens."""
        return PRESETS[self.preset].reads == "notes"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def make_config(preset: str, vocab_size: int, size: str | None = None, **overrides: Any) -> ModelConfig:
    """The config of ``preset`` at ``size``, with any field overridden (None means default)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    p = PRESETS[preset]
    if p.reads == "notes":
        vocab_size = 0   # real values, no vocabulary
        if int(overrides.get("features") or 0) < 4:
            raise ValueError(f"{preset} reads real-valued notes: train it on the continuous or "
                             "continuous-3 encoding")
    elif vocab_size < 2:
        raise ValueError(f"vocabulary of {vocab_size} token(s): a model needs at least 2 to choose from")
    defaults = dict(p.defaults)
    size = size or defaults.pop("size")
    defaults.pop("size", None)
    if size not in p.sizes:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(p.sizes)}")
    values = {**defaults, **p.sizes[size]}
    values.update({k: v for k, v in overrides.items() if v is not None})
    if int(values["window"]) < 1:
        raise ValueError("window must be at least 1 token")
    if values.get("train_on", "windows") not in TRAIN_ON:
        raise ValueError(f"train_on must be one of {', '.join(TRAIN_ON)}")
    if values.get("train_on") in ("pieces", "carried") and not p.many_to_many:
        raise ValueError(f"{preset} predicts one token after a window; it trains on windows only")
    if p.reads == "pianoroll":
        if int(values.get("pitches", 0)) < 1 or vocab_size != PIANOROLL_VOCAB:
            raise ValueError(f"{preset} reads a piano roll: train it on the pianoroll or "
                             "pianoroll-quarter encoding")
        if values.get("train_on") != "pieces":
            raise ValueError(f"{preset} trains on whole pieces only")
    return ModelConfig(preset=preset, vocab_size=int(vocab_size), size=size, **values)
