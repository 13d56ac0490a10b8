#!/usr/bin/env python3
"""Import rules of the layering (ARCHITECTURE.md): the planner is pure, adapters never reach up into the CLI.

* ``kubectl_llm/planner/`` imports no adapter, no CLI, no cluster / Hub / Helm client and nothing that does
  network or process I/O (kubernetes, huggingface_hub, pyhelm3, subprocess, socket, ssl, asyncio, http, urllib).
* ``kubectl_llm/adapters/`` imports nothing from ``kubectl_llm.cli``.

Every ``import`` / ``from ... import`` statement counts, also inside functions (a lazy import is still a
dependency). Exit status 1 and one line per violation when a rule is broken. Run by ``.ci/run`` and
``tests/test_static_checks.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RULES: dict[str, tuple[str, ...]] = {
    "kubectl_llm/planner": ("kubectl_llm.adapters", "kubectl_llm.cli", "kubernetes", "huggingface_hub", "pyhelm3",
                            "subprocess", "socket", "ssl", "asyncio", "http", "urllib"),
    "kubectl_llm/adapters": ("kubectl_llm.cli",),
}


def _imported(node: ast.AST, module: str) -> list[str]:
    """Absolute module names one import statement names (relative imports resolved against ``module``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = module.split(".")[: -node.level]
            base = ".".join(parts + ([base] if base else []))
        return [base] + [f"{base}.{a.name}" for a in node.names]
    return []


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for folder, banned in RULES.items():
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root)
            module = ".".join(rel.with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text(), str(rel))):
                for name in _imported(node, module):
                    hit = next((b for b in banned if name == b or name.startswith(b + ".")), None)
                    if hit:
                        found.append(f"{rel}:{getattr(node, 'lineno', 0)}: imports {name} ({folder} must not "
                                     f"import {hit})")
                        break                   # one line per import statement
    return sorted(found)


def main() -> int:
    bad = violations()
    for line in bad:
        print(line)
    if not bad:
        print(f"import rules hold ({', '.join(RULES)})")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
