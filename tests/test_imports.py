"""No import circle in ``src/realtime_fer``: its modules' imports, read with :mod:`ast`, form no cycle.

Every import counts: module-level ones, those under ``if TYPE_CHECKING:`` (a circle a type checker must
untangle is still a circle) and those inside functions (an import deferred to keep start-up light is
still an arrow between two rooms)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "realtime_fer"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports."""
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                # ``from pkg import sub`` imports the module ``pkg.sub`` when there is one
                targets.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base
                               for alias in node.names)
        graph[name] = {target for target in targets if target in paths and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) through each strongly connected group of modules
    that has more than one member (Tarjan's algorithm, then a walk inside the group)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [cycle_in(graph, group) for group in groups]


def cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A path from the group's first module back to itself, through the group only (breadth first)."""
    start = min(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        step = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if target not in came_from:
                    came_from[target] = node
                    step.append(target)
        frontier = step
    raise AssertionError(f"{group} is no cycle")


def describe(found: list[list[str]]) -> str:
    return "import circles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_the_graph_is_read_from_the_code():
    graph = import_graph()
    assert "realtime_fer.face" in graph["realtime_fer.draw"]
    assert "realtime_fer.draw" in graph["realtime_fer.pipeline"]  # ``from realtime_fer import draw``
    assert "realtime_fer.recognizer" in graph["realtime_fer.cli"]  # inside a function
    assert "realtime_fer.pipeline" in graph["realtime_fer"]  # under TYPE_CHECKING
    assert graph["realtime_fer.face"] == set()


def test_cycles_are_found_and_printed():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert describe(cycles(graph)) == "import circles:\na -> b -> c -> a"


def test_no_import_circle():
    found = cycles(import_graph())
    assert not found, describe(found)


def test_docs_architecture_names_every_module():
    text = (PACKAGE.parents[1] / "docs" / "ARCHITECTURE.md").read_text()
    unnamed = [path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
               if path.stem not in ("__init__", "__main__") and f"{path.name}`" not in text
               and f"{path.stem}," not in text and f"{path.stem})" not in text]
    assert not unnamed, f"docs/ARCHITECTURE.md names no {', '.join(unnamed)}"
