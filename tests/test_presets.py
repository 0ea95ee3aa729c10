"""Every preset is one catalogue entry with a Keras builder and a NumPy inference form."""

from __future__ import annotations

import numpy as np
import pytest

from core import presets
from core.inference import engine_for
from core.modelconfig import PRESETS


def test_every_preset_has_a_builder():
    assert set(presets.BUILDERS) == set(PRESETS)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_generates_through_its_numpy_form(name):
    config = presets.make_config(name, 30, "small", window=8)
    engine = engine_for(presets.build(config), config)  # a ValueError if it had no NumPy form
    probs = engine.start(np.array([3, 4, 5], np.int32), batch=2)
    assert probs.shape == (2, 30)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", list(PRESETS))
def test_stateful_presets_train_on_whole_pieces_and_the_others_on_windows(name):
    config = presets.make_config(name, 30)
    assert config.train_on == ("pieces" if PRESETS[name].many_to_many else "windows")
    if not PRESETS[name].many_to_many:
        with pytest.raises(ValueError, match="trains on windows only"):
            presets.make_config(name, 30, train_on="pieces")
