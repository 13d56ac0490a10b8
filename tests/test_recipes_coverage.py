"""Every recipe of the vllm-project/recipes repository maps to a family that plans the recipe's parsers.

tests/data/recipes_repo_families.yaml lists each models/<org>/<model>.yaml (and flat models/<slug>.yaml) found (with the commit read), a
representative model id with its trimmed config (architectures + model_type), and the vLLM parsers the recipe names.
A recipe deliberately not covered carries a `why`. Expected values are hand-listed from the recipes, independently of
kubectl_llm/planner/data/recipes.yaml, so a family that drifts from its recipe fails here.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from kubectl_llm.planner import engine as eng
from kubectl_llm.planner.parsers import choose
from test_parsers import vllm_registered

HERE = Path(__file__).resolve().parent
DATA = yaml.safe_load((HERE / "data" / "recipes_repo_families.yaml").read_text(encoding="utf-8"))
RECIPES = DATA["recipes"]
COVERED = [r for r in RECIPES if "family" in r]
SKIPPED = [r for r in RECIPES if "family" not in r]
DOCS = [d for d in DATA["docs"] if "family" in d]
FAMILY_KEYS = {f["key"] for f in eng._data()["families"]}


def test_the_list_is_the_recipes_found_each_once():
    paths = [r["path"] for r in RECIPES]
    assert len(paths) == len(set(paths)) == DATA["found"] == 235
    # models/<org>/<model>.yaml, or the first site's flat models/<slug>.yaml (its loader read models/*.yaml)
    assert all(p.startswith("models/") and p.endswith(".yaml") and p.count("/") in (1, 2) for p in paths)
    assert DATA["found"] < DATA["listed_by_index"]          # the rest is named as not found, not silently dropped
    # most of the repository's chat LLMs are covered; the rest say why
    assert len(COVERED) >= 110 and all(r.get("why") for r in SKIPPED)


def _plan(entry: dict, model_id: str):
    cfg = entry["config"]
    arch = cfg["architectures"][0]
    facts = SimpleNamespace(architecture=arch, model_type=cfg.get("model_type", ""), model_id=model_id)
    recipe = eng.find_recipe(facts)
    return recipe, choose(recipe, model_id, arch, None, None, "vllm").recipe


def _check(entry: dict, model_id: str) -> None:
    assert entry["family"] in FAMILY_KEYS, f"{entry['family']} is not a family of recipes.yaml"
    found, chosen = _plan(entry, model_id)
    assert found.key == entry["family"]
    assert (chosen.tool_call_parser, chosen.reasoning_parser) == (entry["tool"], entry["reasoning"])
    version = eng.engine_version(chosen, "vllm")
    assert eng.version_text(version) == entry["vllm"]
    for kind, name in (("tool", chosen.tool_call_parser), ("reasoning", chosen.reasoning_parser)):
        if name:
            assert not vllm_registered(kind, name, version), vllm_registered(kind, name, version)
    if "recipe_tool" in entry or "recipe_reasoning" in entry:
        # the plan departs from the recipe only with a stated reason
        assert entry.get("differs"), entry["path"] if "path" in entry else entry["model"]
        assert (entry.get("recipe_tool", entry["tool"]), entry.get("recipe_reasoning", entry["reasoning"])) != (
            entry["tool"], entry["reasoning"])


@pytest.mark.parametrize("entry", COVERED, ids=[r["path"][7:-5] for r in COVERED])
def test_recipe_plans_its_family_and_parsers(entry):
    assert entry.get("read"), "say which commit (or source) was read"
    _check(entry, entry["model_id"])


@pytest.mark.parametrize("entry", DOCS, ids=[d["model"] for d in DOCS])
def test_docs_models_plan_their_parsers(entry):
    _check(entry, entry["model"])


def test_recipes_not_covered_say_why_and_claim_no_family():
    for entry in SKIPPED + [d for d in DATA["docs"] if "family" not in d]:
        assert len(entry["why"]) > 15 and "tool" not in entry


def test_families_added_from_the_repository_are_each_exercised():
    # every family this coverage list names exists, and the families added from the recipes repo each have a recipe
    named = {r["family"] for r in COVERED} | {d["family"] for d in DOCS}
    added = {"inkling", "macaron", "kimi_k25", "kimi_k3", "kimi_linear", "step3p5", "minimax_m3", "mimo_v2", "mimo_v2_5", "hy3", "ling3",
             "ling_2_6", "bailing", "intern_s1", "internvl", "lfm2", "cohere", "cohere_moe", "apertus", "glm4",
             "glm5", "glm5_1", "glm5_2", "glm5_3", "glm5_next", "nemotron_3_nano", "nemotron_3_ultra",
             "nemotron_3_5", "qwen3guard", "qwen2_5_vl", "tinyllama", "trinity", "mellum2", "phi4_multimodal",
             "thaillm", "minicpm5", "mistral_small_4", "mistral_medium_3_5", "ernie45_vl", "laguna", "laguna_2_1", "nemotron_vl", "intern_s2",
             "minicpm_v", "deepseek_v4_vision", "glm_ga", "glm4v", "param2"}
    assert added <= FAMILY_KEYS and added <= named, sorted(added - named)


def test_every_markdown_guide_folder_maps_to_families_or_says_why():
    guides = DATA["guides"]
    paths = [g["path"] for g in guides]
    assert len(paths) == len(set(paths)) and all(p.endswith(".md") for p in paths)
    folders = {p.split("/")[0] for p in paths}
    assert len(folders) >= 28            # every model-family folder of the repository's guides
    for g in guides:
        assert bool(g.get("families")) != bool(g.get("why")), g["path"]
        assert set(g.get("families", ())) <= FAMILY_KEYS, g["path"]
