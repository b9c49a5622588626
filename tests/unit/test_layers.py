"""Imports flow one way: shared -> db -> ledger -> api -> events/jobs -> capabilities -> app.

A capability reaches another only through that capability's ``service`` module (or its
``replies``, the published shapes of its answers, which a composing capability answers too), and nothing
reaches into another module's private names. The test reads the source (every import, including
those inside functions, and every module named in a string: ``lazy.module("chalicelib...")``, a
request model ``"chalicelib.x.schemas:Model"``), so a new upward import fails here before it
tangles the layers. A module imported by a name computed at run time (``importlib`` on a name
built by convention) is an edge no reader can see: only the mechanisms that take a literal name
from their callers (``shared.lazy``, ``api.operation``'s model references) and a package's lazy
import of its own modules may do it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"shared": 0, "db": 1, "ledger": 2, "api": 3, "events": 4, "jobs": 4}
CAPABILITIES = {"programs": 5, "members": 5, "merchants": 5, "orders": 5, "points": 6, "stored_value": 6, "coupons": 6, "gift_cards": 7, "tiers": 7, "member_codes": 8, "benefits": 8, "tasks": 8,
                "overview": 9, "webhooks": 9, "system": 10, "pricing": 9,
                "checkout": 10, "staff": 6, "audit": 11, "reports": 11}
CAPABILITIES["settlement"] = 12           # mall settlement: reads the points valuation and the prepaid journal


def _package(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "app":
        return "app"
    if parts[0] != "chalicelib" or len(parts) < 2:
        return None
    return parts[1]


def _rank(package: str) -> int:
    if package == "app":
        return 99
    return LAYERS.get(package, CAPABILITIES.get(package, 50))


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


NAMED_MODULE = re.compile(r"^(chalicelib(?:\.[a-z_]+)+)(?::[A-Za-z_]+)?$")
DYNAMIC = {"import_module", "__import__"}
IMPORTS_BY_NAME = {"chalicelib.shared.lazy", "chalicelib.api.operation"}   # names given literally by callers


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (m := NAMED_MODULE.match(node.value)):
            found.append((node.lineno, m.group(1), []))
    return found


def _dynamic_imports(path: Path, package: str) -> list[str]:
    """Imports of a module whose name is computed at run time, but a package's of its own modules
    (a name that starts with the literal ``chalicelib.<package>.``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name not in DYNAMIC or not node.args:
            continue
        arg = node.args[0]
        head = arg.values[0] if isinstance(arg, ast.JoinedStr) and arg.values else arg
        literal = head.value if isinstance(head, ast.Constant) and isinstance(head.value, str) else ""
        if isinstance(arg, ast.Constant) or literal.startswith(f"chalicelib.{package}."):
            continue
        found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports a module named at run time")
    return found


SOURCES = sorted([ROOT / "app.py", *(p for p in (ROOT / "chalicelib").rglob("*/*.py"))])


def violations(path: Path) -> list[str]:
    """Every import in ``path`` that runs against the layers."""
    me = _module_name(path)
    mine = _package(me)
    assert mine is not None
    found = []
    for line, target, names in _imports(path):
        theirs = _package(target)
        if theirs is None or theirs == mine:
            continue
        # `from chalicelib.points import service` names the module in `names`
        modules = [f"{target}.{n}" for n in names] if target.count(".") == 1 else [target]
        where = f"{path.relative_to(ROOT)}:{line} imports {target}"
        if _rank(theirs) > _rank(mine):
            found.append(f"{where}: {mine} (layer {_rank(mine)}) may not import {theirs} (layer {_rank(theirs)})")
        elif theirs in CAPABILITIES and mine in CAPABILITIES and not all(m.endswith((".service", ".replies"))
                                                                          for m in modules):
            found.append(f"{where}: another capability is reached through its service (or replies) module only")
        if any(n.startswith("_") and not n.startswith("__") for n in names):
            found.append(f"{where}: private name {names}")
    return found if me in IMPORTS_BY_NAME else found + _dynamic_imports(path, mine)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_one_way(path):
    assert violations(path) == []


def test_the_check_catches_an_upward_import():
    fake = ROOT / "chalicelib" / "db" / "_probe_upward.py"
    try:
        fake.write_text("from chalicelib.points.service import earn\nfrom chalicelib.api import auth\n")
        found = violations(fake)
    finally:
        fake.unlink()
    assert len(found) == 2 and all("may not import" in f for f in found)


def test_the_check_catches_a_reach_into_another_capability():
    fake = ROOT / "chalicelib" / "points" / "_probe_reach.py"
    try:
        fake.write_text("from chalicelib.members.tables import MemberItem\n"
                        "from chalicelib.members import service\n"
                        "from chalicelib.members.replies import MemberPage\n"      # published shapes: allowed
                        "from chalicelib.points.program import _VERSIONS\n")
        found = violations(fake)
    finally:
        fake.unlink()
    assert len(found) == 1 and "through its service (or replies) module only" in found[0]


def test_the_check_catches_an_import_by_convention():
    fake = ROOT / "chalicelib" / "db" / "_probe_convention.py"
    try:
        fake.write_text("import importlib\n"
                        "def find(name):\n"
                        "    return importlib.import_module(f'chalicelib.{name}.repository')\n"
                        "def lazy(name):\n"
                        "    return __import__('chalicelib.points.service')\n")       # a literal: checked as an import
        found = violations(fake)
    finally:
        fake.unlink()
    assert sorted(f.split(" ", 1)[1] for f in found) == [
        "imports a module named at run time",
        "imports chalicelib.points.service: db (layer 1) may not import points (layer 6)"]


def test_a_module_named_in_a_string_is_an_import():
    fake = ROOT / "chalicelib" / "members" / "_probe_string.py"
    try:
        fake.write_text("service = lazy.module('chalicelib.points.service')\n"
                        "body = 'chalicelib.tiers.schemas:Change'\n")
        found = violations(fake)
    finally:
        fake.unlink()
    assert len(found) == 2 and all("may not import" in f for f in found)
