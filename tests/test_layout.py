"""The floor plan of the package: concept packages on floors, no import runs back up.

Each unit (a concept package such as ``skkd.teachers``, or a top-level module) has a
floor; a module may import only units on lower floors, and modules of its own unit.
Every ``import`` counts, also those inside functions (a lazy import still ties the
modules together). See docs/where_things_live.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import skkd

PACKAGE = Path(skkd.__file__).resolve().parent

#: unit -> floor, from the ground up. A unit may import units on lower floors only.
FLOORS = {
    "skkd._version": 0, "skkd.exceptions": 0, "skkd.hookspecs": 0, "skkd.datasets": 0,
    "skkd._arrays": 0, "skkd._seeding": 0, "skkd._warnings": 0,
    "skkd._labels": 1, "skkd._options": 1, "skkd._registry": 1, "skkd._columns": 1,
    "skkd.plugins": 2, "skkd.losses": 2, "skkd.export": 2,
    "skkd.teachers": 3,
    "skkd.models": 4, "skkd.hints": 4,
    "skkd.augmentations": 5,
    "skkd.training": 6,
    "skkd.estimators": 7,
    "skkd.persistence": 8,
    "skkd.demo": 9,
    "skkd.cli": 10,
    "skkd": 11, "skkd.__main__": 11,
}


def _unit(module: str) -> str:
    """The unit a dotted module name belongs to: its concept package, or itself."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name in FLOORS:
            return name
    raise AssertionError(f"{module} belongs to no unit of FLOORS: give it a floor")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every skkd module ``path`` imports, lazily or not."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("skkd")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module == "skkd" or node.module.startswith("skkd.")):
            if node.module == "skkd":  # `from skkd import x`: a submodule, or a lazy name
                for a in node.names:
                    lazy = skkd._LAZY.get(a.name)
                    found.append((node.lineno, lazy or (
                        f"skkd.{a.name}" if a.name not in ("__version__", "hookimpl")
                        else "skkd._version" if a.name == "__version__" else "skkd.hookspecs")))
            else:  # `from skkd.pkg import _module` imports that module, not the face
                found += [(node.lineno, f"{node.module}.{a.name}"
                           if _is_module(f"{node.module}.{a.name}") else node.module)
                          for a in node.names]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_floor():
    for path in MODULES:
        _unit(_module_name(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_import_runs_up_or_sideways(path):
    name = _module_name(path)
    unit = _unit(name)
    if unit == "skkd":
        return  # the face: its names load lazily, from every floor
    for line, imported in _imports(path):
        target = _unit(imported)
        if target == unit:
            continue
        assert FLOORS[target] < FLOORS[unit], (
            f"{name}:{line} imports {imported} (floor {FLOORS[target]} of {target}), on or "
            f"above its own floor {FLOORS[unit]} ({unit}): move the shared code down a floor"
        )


@pytest.mark.parametrize("package", sorted({u for u in FLOORS if (PACKAGE.parent / u.replace(
    ".", "/")).is_dir() and u != "skkd"}))
def test_a_package_s_modules_never_import_its_own_face(package):
    # the face imports the private modules; one importing the face back is a cycle
    folder = PACKAGE.parent / package.replace(".", "/")
    for path in sorted(folder.glob("_*.py")):
        if path.name == "__init__.py":
            continue
        for line, imported in _imports(path):
            assert imported != package, (
                f"{_module_name(path)}:{line} imports its own package's face {package}: "
                "import the private module that defines the name"
            )


def test_no_two_modules_import_each_other_round_a_circle():
    # the floors rule keeps units apart; inside a unit, modules must not circle either
    # (a type-only import counts: it is an import the next reader must follow)
    graph = {_module_name(p): {m for _, m in _imports(p)} for p in MODULES}
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(graph.get(name, ())):
            if nxt == name or nxt not in graph or _unit(nxt) == "skkd":
                continue
            assert state.get(nxt) != 1, f"import cycle: {' -> '.join([*path, name, nxt])}"
            if nxt not in state:
                visit(nxt, [*path, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state and _unit(name) != "skkd":
            visit(name, [])
