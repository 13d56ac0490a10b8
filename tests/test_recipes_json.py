"""The planner reads data/recipes.json, a generated copy of data/recipes.yaml (the file people edit): the copy must
hold exactly what the YAML says."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from kubectl_llm.planner import engine
from tests.conftest import REPO_ROOT


def test_recipes_json_is_the_yaml() -> None:
    res = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "recipes-json.py"), "--check"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    from_yaml = yaml.safe_load((engine.DATA / "recipes.yaml").read_text(encoding="utf-8"))
    loaded = dict(json.loads((engine.DATA / "recipes.json").read_text(encoding="utf-8")))
    assert loaded.pop("_generated").startswith("generated from recipes.yaml")
    assert loaded == from_yaml
    assert engine._data()["families"] == from_yaml["families"]       # what the planner uses
