"""The README's command-line examples, run as written, in order, from a scratch folder."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from core.cli import build_parser, main
from core.corpus import jsb

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def bash_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Command line"):text.index("## What is in it")]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def commands(block: str) -> list[list[str]]:
    """The ``$py -m core ...`` commands of a block (continuation lines joined)."""
    joined = block.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.split("  #")[0].strip()
        if line.startswith("$py -m core "):
            out.append(shlex.split(line)[3:])
    return out


def test_the_readme_has_the_examples():
    run, parse_only = (commands(b) for b in bash_blocks())
    assert len(run) >= 12 and [c[0] for c in parse_only] == ["gallery"] * 4 + ["corpus"]


def test_gallery_rebuild_examples_parse():
    for argv in commands(bash_blocks()[1]):
        build_parser().parse_args(argv)


def test_every_example_runs_as_written(tmp_path, data_dir, monkeypatch, capsys):
    """In this process (``python -m core`` is ``core.cli.main``), from a folder laid out like
    the project's: the shipped ``checkpoints/`` and a ``my_midi_folder/`` of MIDI files."""
    (tmp_path / "checkpoints").symlink_to(ROOT / "checkpoints")
    (tmp_path / "my_midi_folder").symlink_to(ROOT / "tests" / "fixtures" / "midi")
    monkeypatch.chdir(tmp_path)
    for argv in commands(bash_blocks()[0]):
        if "test" in argv and not jsb.default_path().is_file():
            continue  # the JSB test split lives in ../shared/data, which may be absent
        code = main(argv)
        printed = capsys.readouterr()
        assert code == 0, f"{' '.join(argv)}\n{printed.out}\n{printed.err}"
    for name in ("piece_1.mid", "piece_2.mid", "piece_1.wav", "beat.mid", "piece_1.musicxml",
                 "chorale.mid", "gan_1.mid", "gan_2.mid"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    assert [r for r in (tmp_path / "runs" / "bach" / "history.csv").read_text().splitlines()[1:]]


def test_every_commands_help_prints():
    """``python -m core COMMAND --help`` for every command (a stray % in a setting's help text
    once broke ``train --help``)."""
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert "train" in commands
    for name, sub in commands.items():
        assert sub.format_help(), name
