#!/usr/bin/env python3
"""Write kubectl_llm/planner/data/recipes.json from recipes.yaml, the file people edit.

The planner reads the JSON copy: parsing the YAML took ~25 ms of every `kubectl llm plan` (94 families, with
libyaml), the JSON takes under 1 ms. tests/test_recipes_json.py fails when the copy is stale.

    python scripts/recipes-json.py            # rewrite recipes.json
    python scripts/recipes-json.py --check    # exit 1 if recipes.json does not match recipes.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parents[1] / "kubectl_llm" / "planner" / "data"
NOTE = "generated from recipes.yaml by scripts/recipes-json.py: edit the YAML, then run the script"


def render() -> str:
    data = yaml.safe_load((DATA / "recipes.yaml").read_text(encoding="utf-8"))
    return json.dumps({"_generated": NOTE, **data}, ensure_ascii=False, separators=(",", ":")) + "\n"


def main(argv: list[str]) -> int:
    out = DATA / "recipes.json"
    text = render()
    if "--check" in argv:
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            print(f"{out} is stale: run python scripts/recipes-json.py", file=sys.stderr)
            return 1
        return 0
    out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
