"""The keyboard in the browser (``st.components.v2``): play a phrase, press Answer.

The component's script (``synth.js`` and ``keyboard.js``, joined into one module) and style
ship in ``app_ui/components/keyboard/`` (nothing is fetched); they are read once and registered
under one name. :func:`keyboard` mounts it and returns what
Answer sent (``{"notes": [[pitch, start_s, end_s, velocity], ...], "tempo", "click_start"}``)
on the rerun Answer caused, else ``None``. Note and drum names come from
``core.render.pianoroll`` (C4 = MIDI 60), so the keys and the rolls name notes alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamlit.components.v2 import component

from core.render.pianoroll import NOTE_NAMES

ASSETS = Path(__file__).resolve().parent / "components" / "keyboard"

# one ES module: the synth (Web Audio), then the keyboard that plays it and exports the component
_mount = component("composer_studio.keyboard",
                   js="\n".join((ASSETS / f).read_text(encoding="utf-8")
                                 for f in ("synth.js", "keyboard.js")),
                   css=(ASSETS / "keyboard.css").read_text(encoding="utf-8"))


def keyboard(key: str, *, drums: list[tuple[int, str]] | None = None, tempo: int = 120,
             octave: int = 4, large: bool = False) -> dict[str, Any] | None:
    """The keyboard (two octaves from C``octave``, or one pad per drum sound in ``drums``:
    ``(pitch, General MIDI name)``); the phrase Answer sent on this rerun, or ``None``."""
    result = _mount(key=key, data={"names": NOTE_NAMES, "drums": drums, "tempo": int(tempo),
                                   "octave": int(octave), "octaves": 2, "large": bool(large)},
                    on_answer_change=lambda: None)
    answer = result.get("answer") if result is not None else None
    return answer if isinstance(answer, dict) else None
