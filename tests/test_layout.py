"""The shape of ``core``: packages in pipeline order, no import cycles, small modules, one MIDI reader."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"
MAX_LINES = 400

#: ``core``'s parts in import order: each may import only itself and the parts before it.
#: The top-level modules are the shared basics (and ``runs``, the run folder, which reads a
#: run's tokenizer and so sits after ``encodings``); ``render`` draws and sounds a ``Piece``,
#: so it needs nothing but the basics although the data reaches it last.
LAYERS = [
    ("basics", {"core", "core.piece", "core.notes", "core.atomic", "core.paths", "core.settings"}),
    ("corpus", {"core.corpus"}),
    ("encodings", {"core.encodings"}),
    ("render", {"core.render"}),
    ("runs", {"core.runs"}),
    ("models", {"core.models"}),
    ("evaluation", {"core.evaluation"}),
    ("generation", {"core.generation"}),
    ("training", {"core.training"}),
    ("cli", {"core.cli", "core.__main__"}),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_modules() -> dict[str, Path]:
    return {module_name(p): p for p in CORE.rglob("*.py")}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The ``core`` modules a file imports, anywhere in it (inside functions too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in modules:
                out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names
                    if f"{node.module}.{a.name}" in modules}
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_core_has_no_import_cycle():
    modules = core_modules()
    # a package's own __init__ importing its submodules is how a package is put together,
    # not a cycle; every other edge counts
    graph = {m: {i for i in imports_of(p, modules) if not (p.name == "__init__.py" and i.startswith(m + "."))}
             for m, p in modules.items()}
    assert cycles(graph) == []


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of the part a module belongs to (its longest listed prefix)."""
    best = None
    for i, (_, members) in enumerate(LAYERS):
        for m in members:
            if (module == m or module.startswith(m + ".")) and (best is None or len(m) > best[1]):
                best = (i, len(m))
    assert best is not None, f"{module} belongs to no part of LAYERS: add it there"
    return best[0]


def test_packages_import_only_the_packages_before_them():
    modules = core_modules()
    late = sorted(f"{m} ({LAYERS[layer_of(m)][0]}) imports {i} ({LAYERS[layer_of(i)][0]})"
                  for m, p in modules.items() for i in imports_of(p, modules) if layer_of(i) > layer_of(m))
    assert late == []


def test_the_layer_check_catches_a_late_import():
    assert layer_of("core.models.presets") > layer_of("core.encodings.base")
    assert layer_of("core.runs") > layer_of("core.encodings")
    assert layer_of("core.training.train") > layer_of("core.generation.generate")


def test_every_package_says_what_it_owns_and_may_import():
    for init in CORE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        if init.parent.name in ("cli",):
            assert doc, init
            continue
        assert "May import:" in doc and len(doc) > 80, f"{init}: say what it owns and may import"


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_core_module_is_too_long_to_read_in_one_sitting():
    long = {m: n for m, p in core_modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_core_never_imports_streamlit():
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(str(n).split(".")[0] == "streamlit" for n in names), path


def test_user_midi_bytes_are_parsed_in_one_place():
    """``pretty_midi.PrettyMIDI(<bytes or file>)`` appears once in the project: the sandboxed
    parser every user file goes through (``core.corpus.read_midi`` / ``load``)."""
    root = CORE.parent
    calls = []
    for path in [*CORE.rglob("*.py"), *(root / "app_ui").glob("*.py"), *(root / "pages").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("PrettyMIDI", "MidiFile") and node.args):
                calls.append(f"{path.relative_to(root)}:{node.lineno}")
    assert [c.split(":")[0] for c in calls] == ["core/corpus/files.py"], calls
