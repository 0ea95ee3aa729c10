"""The presets' catalogue: sizes, defaults and the JSON-able ``ModelConfig`` that rebuilds a model.

No Keras import here, so listing presets (the Train page, the CLI) is instant; the builders
live in ``core.presets``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# size -> architecture numbers, per preset. "large" is each seed model's original size.
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "skuli": {
        "small": {"units": [128, 128, 128], "dense": 64},
        "medium": {"units": [256, 256, 256], "dense": 128},
        "large": {"units": [512, 512, 512], "dense": 256},
    },
    "softology": {
        "small": {"units": [128, 64], "dense": 32},
        "medium": {"units": [256, 128], "dense": 64},
        "large": {"units": [512, 256], "dense": 128},
    },
    "devfest": {
        "small": {"embed": 32, "units": [64], "dense": 64},
        "medium": {"embed": 64, "units": [128], "dense": 128},
        "large": {"embed": 64, "units": [256], "dense": 256},
    },
    "ragtime": {
        "small": {"units": [64]},
        "medium": {"units": [128]},
        "large": {"units": [256]},
    },
    "studio": {
        "small": {"embed": 64, "units": [256]},
        "medium": {"embed": 128, "units": [384, 384]},
        "large": {"embed": 256, "units": [512, 512, 512]},
    },
}

# Per-preset defaults for everything that is not a size.
DEFAULTS: dict[str, dict[str, Any]] = {
    "skuli": {"window": 100, "dropout": 0.3, "optimizer": "rmsprop", "learning_rate": 1e-3,
              "size": "large", "batch_size": 128},
    "softology": {"window": 100, "dropout": 0.3, "optimizer": "adam", "learning_rate": 1e-3,
                  "size": "large", "batch_size": 128},
    "devfest": {"window": 200, "dropout": 0.0, "optimizer": "adam", "learning_rate": 1e-3,
                "size": "large", "batch_size": 128},
    "ragtime": {"window": 30, "dropout": 0.0, "optimizer": "adam", "learning_rate": 1e-2,
                "size": "small", "batch_size": 32},
    "studio": {"window": 128, "dropout": 0.1, "optimizer": "adam", "learning_rate": 2e-3,
               "size": "small", "batch_size": 32, "clipnorm": 1.0},
}

MANY_TO_MANY = {"ragtime", "studio"}


def preset_names() -> list[str]:
    return list(SIZES)


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

    @property
    def many_to_many(self) -> bool:
        return self.preset in MANY_TO_MANY

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def make_config(preset: str, vocab_size: int, size: str | None = None, **overrides: Any) -> ModelConfig:
    """The config of ``preset`` at ``size``, with any field overridden (None means default)."""
    if preset not in SIZES:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(SIZES)}")
    if vocab_size < 2:
        raise ValueError(f"vocabulary of {vocab_size} token(s): a model needs at least 2 to choose from")
    defaults = dict(DEFAULTS[preset])
    size = size or defaults.pop("size")
    defaults.pop("size", None)
    if size not in SIZES[preset]:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES[preset])}")
    values = {**defaults, **SIZES[preset][size]}
    values.update({k: v for k, v in overrides.items() if v is not None})
    if int(values["window"]) < 1:
        raise ValueError("window must be at least 1 token")
    return ModelConfig(preset=preset, vocab_size=int(vocab_size), size=size, **values)
