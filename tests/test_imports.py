"""Imports run one way: no circle among the course's modules, and no import back up the layers.

Read from the source with ast, function-level imports included (a circle hidden inside a function
is still a circle: it only fails later, in whichever order the modules happen to load). The layers
are the ones CONTRIBUTING.md draws; a new module goes into one of them here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from autograder.paths import REPO_ROOT

PACKAGES = ("autograder", "capstone")

# Lowest first: a module may import its own layer and those below it, never one above.
# A name ending in "." is every module under that package.
LAYERS = [
    ("files and formats", ["autograder.paths", "autograder.printable", "autograder.submission_files",
                           "autograder.compare", "autograder.gradescope.schema", "autograder.leaderboard.rules"]),
    ("reading a notebook", ["autograder.notebook", "autograder.wording"]),
    ("lesson stores", ["autograder.source", "autograder.reference"]),
    ("loading", ["autograder.loader"]),
    ("tasks and checks", ["autograder.calls", "autograder.misconceptions", "autograder.tasks",
                          "autograder.checks.", "autograder.run", "autograder.fixtures",
                          "autograder.leaderboard.trainer"]),
    ("the jail", ["autograder.jail."]),
    ("grading", ["autograder.grade", "autograder.check_cell", "autograder.report", "autograder.leaderboard.judge",
                 "autograder.leaderboard.entry", "autograder.leaderboard.board"]),
    ("commands", ["autograder.__main__", "autograder.grade_class", "autograder.bench_grading",
                  "autograder.instructor", "autograder.release", "autograder.gradescope.",
                  "autograder.nbgrader_glue.", "autograder.leaderboard.rank", "autograder.leaderboard.gradescope"]),
    ("capstone", ["capstone."]),
]


def module_files() -> dict[str, Path]:
    """{'autograder.loader': path, 'autograder.jail': path of its __init__.py, ...}."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> dict[str, int]:
    """{module it imports: line of the first such import}, anywhere in the file."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            if target in known and target != name:
                found.setdefault(target, node.lineno)
    return found


def import_graph() -> dict[str, dict[str, int]]:
    files = module_files()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One circle through each group of modules that import each other (Tarjan's strongly connected
    components, then a shortest way back to the start), e.g. ['a', 'b', 'a']."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    found = []
    for group in groups:
        start, members = group[0], set(group)
        paths, seen = {start: [start]}, {start}
        queue = [start]
        while queue:  # breadth first: the shortest circle through `start`
            v = queue.pop(0)
            for w in sorted(graph[v]):
                if w == start:
                    queue = []
                    found.append(paths[v] + [start])
                    break
                if w in members and w not in seen:
                    seen.add(w)
                    paths[w] = paths[v] + [w]
                    queue.append(w)
    return found


def layer_of(name: str) -> int | None:
    for number, (_, members) in enumerate(LAYERS):
        for member in members:
            if name == member or (member.endswith(".") and (name + ".").startswith(member)):
                return number
    return None


def is_package(name: str, files: dict[str, Path]) -> bool:
    return files[name].name == "__init__.py"


def test_no_module_imports_itself_round_in_a_circle():
    graph = import_graph()
    found = cycles(graph)
    described = [" -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(circle, circle[1:])) + f" -> {circle[-1]}"
                 for circle in found]
    assert not found, "import circles (move what both need into a lower module):\n" + "\n".join(described)


def test_every_module_has_a_layer():
    files = module_files()
    missing = [name for name in files if not is_package(name, files) and layer_of(name) is None]
    assert not missing, f"add these modules to a layer in tests/test_imports.py and CONTRIBUTING.md: {missing}"


def test_imports_run_down_the_layers():
    files, graph = module_files(), import_graph()
    upward = []
    for name, targets in graph.items():
        if is_package(name, files):
            continue
        for target, line in targets.items():
            if is_package(target, files):  # a package's __init__ imports nothing of the course eagerly
                continue
            if layer_of(target) > layer_of(name):
                upward.append(f"{files[name].relative_to(REPO_ROOT)}:{line} ({LAYERS[layer_of(name)][0]}) "
                              f"imports {target} ({LAYERS[layer_of(target)][0]})")
    assert not upward, "imports back up the layers:\n" + "\n".join(upward)


@pytest.mark.parametrize("graph, circle", [
    ({"a": {"b": 1}, "b": {"a": 1}, "c": {"a": 1}}, ["a", "b", "a"]),
    ({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}, ["a", "b", "c", "a"]),
])
def test_the_circle_finder_finds_circles(graph, circle):
    assert cycles(graph) == [circle]


def test_the_circle_finder_passes_a_tree():
    assert cycles({"a": {"b": 1, "c": 1}, "b": {"c": 1}, "c": {}}) == []


def test_a_function_level_import_counts(tmp_path):
    module = tmp_path / "calls.py"
    module.write_text("def f():\n    from .run import describe\n    return describe\n")
    assert imports_of("autograder.calls", module, {"autograder.run"}) == {"autograder.run": 2}


def test_contributing_draws_every_layer():
    """CONTRIBUTING.md's diagram names each module (or package) the layers list."""
    text = (REPO_ROOT / "CONTRIBUTING.md").read_text()
    drawing = text[text.index("## The grader's layers"):]
    for _, members in LAYERS[:-1]:  # the capstone is the paragraph under the drawing
        for member in members:
            shown = member.removeprefix("autograder.").rstrip(".").replace(".", "/")
            shown = shown if member.endswith(".") else shown + ".py"
            assert shown in drawing, f"the drawing leaves out {shown}"


def test_nbgrader_config_imports_no_torch():
    """Every nbgrader command (a student's submit from the course folder too) reads nbgrader_config.py:
    the plug-ins import the grader, and so torch, only when they run (seconds of start-up saved)."""
    import subprocess
    import sys

    code = ("import runpy, sys\nfrom traitlets.config import Config\nc = Config()\n"
            "runpy.run_path('nbgrader_config.py', init_globals={'get_config': lambda: c})\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
