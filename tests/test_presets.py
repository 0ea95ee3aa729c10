"""Every preset is one catalogue entry with a Keras builder and a NumPy inference form."""

from __future__ import annotations

import numpy as np
import pytest

from core.models import presets
from core.models.inference import GeneratorStepper, engine_for
from core.models.config import PRESETS


def test_every_preset_has_a_builder():
    assert set(presets.BUILDERS) == set(PRESETS)


def _config(name, **kw):
    """A small config of any preset: a piano-roll one on 12 pitches' cells, the C-RNN-GAN on
    4 real values per step, the others on 30 tokens."""
    if PRESETS[name].reads == "notes":
        return presets.make_config(name, 0, "small", features=4, **kw)
    if PRESETS[name].reads == "pianoroll":
        return presets.make_config(name, 4, "small", pitches=12, pitch_low=55, **kw)
    return presets.make_config(name, 30, "small", **kw)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_generates_through_its_numpy_form(name):
    config = _config(name, window=8)
    if PRESETS[name].reads == "notes":   # real values: the generator one step at a time
        stepper = GeneratorStepper(presets.build(config))
        stepper.start(2)
        assert stepper.step(np.full((2, 4), 0.5, np.float32)).shape == (2, 4)
        return
    engine = engine_for(presets.build(config), config)  # a ValueError if it had no NumPy form
    probs = engine.start(np.array([1, 2, 3], np.int32), batch=2)
    assert probs.shape == (2, config.vocab_size)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", list(PRESETS))
def test_stateful_presets_carry_their_state_and_the_others_train_on_windows(name):
    config = _config(name)
    stateful = PRESETS[name].many_to_many
    # token models: truncated BPTT; the biaxial model (a piano roll) trains on whole pieces
    expected = ("pieces" if PRESETS[name].reads == "pianoroll" else "carried") if stateful else "windows"
    assert config.train_on == expected
    if not stateful:
        for mode in ("pieces", "carried"):
            with pytest.raises(ValueError, match="trains on windows only"):
                _config(name, train_on=mode)
