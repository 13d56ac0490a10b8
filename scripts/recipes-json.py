#!/usr/bin/env python3
"""Write the JSON copies of the package's YAML data (recipes.json, gpus.json, sites/nrp.json): the YAML is what
people edit, the planner reads the copy.

Why: `kubectl llm plan` read three YAML files (the recipes, the GPU catalog, the default site profile); parsing
them and importing yaml took ~40 ms of every plan (recipes.yaml alone ~25 ms, 94 families, with libyaml), the JSON
copies take about 1 ms. tests/test_recipes_json.py fails when a copy is stale.

    python scripts/recipes-json.py            # rewrite every copy
    python scripts/recipes-json.py --check    # exit 1 if a copy does not match its YAML
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

PACKAGE = Path(__file__).resolve().parents[1] / "kubectl_llm"
# the YAML files the planner reads on every plan; each copy is written beside its YAML, same name, .json
SOURCES = (PACKAGE / "planner" / "data" / "recipes.yaml", PACKAGE / "planner" / "data" / "gpus.yaml",
           PACKAGE / "sites" / "nrp.yaml")


def copy_path(source: Path) -> Path:
    return source.with_suffix(".json")


def render(source: Path) -> str:
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    note = f"generated from {source.name} by scripts/recipes-json.py: edit the YAML, then run the script"
    return json.dumps({"_generated": note, **data}, ensure_ascii=False, separators=(",", ":")) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for source in SOURCES:
        out, text = copy_path(source), render(source)
        if "--check" in argv:
            if not out.exists() or out.read_text(encoding="utf-8") != text:
                stale.append(out)
        else:
            out.write_text(text, encoding="utf-8")
    for out in stale:
        print(f"{out} is stale: run python scripts/recipes-json.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
