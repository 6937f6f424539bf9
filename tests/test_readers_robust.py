"""Readers on the files analysts really get: cut downloads, odd encodings, no ids, panels."""

from __future__ import annotations

import ast
from pathlib import Path

import geo_risk.readers as readers_pkg


def test_reader_modules_import_each_other_without_a_cycle() -> None:
    folder = Path(readers_pkg.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                deps.add(node.module.split(".")[0])
        graph[path.stem] = deps - {"__init__"}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    cycles = sorted(m for m in graph if m != "__init__" and reaches(m, m, {m}))
    assert cycles == []
    # the pairs named in issue 14 now share a builder module instead
    assert "incidents" not in graph["ucdp"] and "consultations" not in graph["hxl"]
