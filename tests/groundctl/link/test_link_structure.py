"""Structure of the flying code: small modules, and no import cycle between the link
manager, the `Vehicle` interface and the backends (they meet through `link.registry`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LIMIT = 450
MODULES = sorted(
    [
        *ROOT.glob("groundctl/link/**/*.py"),
        *ROOT.glob("groundctl/fleet/*.py"),
        *ROOT.glob("groundctl/cli/fly*.py"),
        ROOT / "groundctl/cli/sim.py",
        *ROOT.glob("sim/*.py"),
    ]
)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(ROOT)) for p in MODULES])
def test_module_is_small(path):
    n = len(path.read_text().splitlines())
    assert n <= LIMIT, f"{path.relative_to(ROOT)} has {n} lines (limit {LIMIT})"


def _imports(path: Path) -> set[str]:
    """Every groundctl.link module `path` imports, at any level (a function-level import makes
    a cycle as surely as one at the top)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("groundctl.link")}


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_no_cycle_between_manager_vehicle_and_backends():
    link = {_module(p): _imports(p) for p in ROOT.glob("groundctl/link/**/*.py")}
    backends = [m for m in link if m.startswith(("groundctl.link.pymav", "groundctl.link.mavsdk_"))]
    assert backends
    uses = lambda m, target: any(i == target or i.startswith(target + ".") for i in link[m])  # noqa: E731
    assert not uses("groundctl.link.vehicle", "groundctl.link.manager")
    for b in backends:
        assert not uses("groundctl.link.manager", b), f"manager imports backend {b}"
        assert not uses(b, "groundctl.link.manager"), f"{b} imports the manager"
    # The manager reaches the backends only through the registry.
    assert uses("groundctl.link.manager", "groundctl.link.registry")
