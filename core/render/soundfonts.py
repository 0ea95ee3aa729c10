"""Which General MIDI soundfont FluidSynth plays with.

The first that exists wins (documented for users in ``soundfonts/README.md``):

1. ``soundfonts/*.sf2`` or ``*.sf3`` in the project, alphabetically first;
2. the file named by the environment variable ``COMPOSER_SOUNDFONT``;
3. a system-wide General MIDI soundfont (Debian's ``fluid-soundfont-gm``, ``musescore-general``...);
4. ``TimGM6mb.sf2``, the small one that ships inside the ``pretty_midi`` package.

``SOUNDFONTS_DIR`` and ``SYSTEM_SOUNDFONTS`` are module variables so that tests can point them
elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.paths import PROJECT_ROOT

SOUNDFONTS_DIR = PROJECT_ROOT / "soundfonts"
SOUNDFONT_ENV = "COMPOSER_SOUNDFONT"
SOUNDFONT_SUFFIXES = (".sf2", ".sf3")
SYSTEM_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),    # Debian/Ubuntu fluid-soundfont-gm
    Path("/usr/share/sounds/sf3/default-GM.sf3"),    # Debian alternatives (MuseScore_General)
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),       # Fedora, Arch
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/default.sf3"),
    Path("/usr/local/share/soundfonts/default.sf2"),  # Homebrew and BSD conventions
    Path("/opt/homebrew/share/soundfonts/default.sf2"),
)


def _pretty_midi_soundfont() -> Path | None:
    """The ``TimGM6mb.sf2`` inside the installed pretty_midi package, if any."""
    try:
        import pretty_midi
    except ImportError:
        return None
    return Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"


def soundfont_candidates() -> list[tuple[str, Path]]:
    """Every place a soundfont may come from, in resolution order, as ``(source, path)``.

    ``source`` is ``"project"``, ``"env"``, ``"system"`` or ``"pretty_midi"``. Paths are not
    checked for existence here; see :func:`resolve_soundfont`.
    """
    found: list[tuple[str, Path]] = []
    folder = Path(SOUNDFONTS_DIR)
    if folder.is_dir():
        found += [("project", p) for p in sorted(folder.iterdir(), key=lambda p: p.name.lower())
                  if p.suffix.lower() in SOUNDFONT_SUFFIXES]
    if os.environ.get(SOUNDFONT_ENV):
        found.append(("env", Path(os.environ[SOUNDFONT_ENV]).expanduser()))
    found += [("system", p) for p in SYSTEM_SOUNDFONTS]
    bundled = _pretty_midi_soundfont()
    if bundled is not None:
        found.append(("pretty_midi", bundled))
    return found


def resolve_soundfont() -> tuple[Path | None, str | None]:
    """The soundfont to use and where it came from: ``(path, source)``, or ``(None, None)``."""
    for source, path in soundfont_candidates():
        if path.is_file():
            return path, source
    return None, None


def find_soundfont() -> Path | None:
    """The first existing soundfont in resolution order (see module docstring), or ``None``."""
    return resolve_soundfont()[0]
