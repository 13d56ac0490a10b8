"""Every planned number is pinned: the plan of each catalog model and handbook example equals its golden file.

On a deliberate change, regenerate with `python -m tests.golden_plans` and review the diff (README "Tests").
"""

from __future__ import annotations

import difflib
import json

import pytest

from tests.golden_plans import GOLDEN_DIR, HANDBOOK_EXAMPLES, cases, render

CASES = cases()


def test_every_catalog_model_and_handbook_example_has_a_golden_plan() -> None:
    from kubectl_llm import catalog

    assert len(CASES) == len(catalog.model_ids()) + len(HANDBOOK_EXAMPLES) >= 30
    stale = sorted({p.stem for p in GOLDEN_DIR.glob("*.json")} - set(CASES))
    assert not stale, f"golden files no case produces: {stale} (run python -m tests.golden_plans)"


@pytest.mark.parametrize("stem", sorted(CASES))
def test_plan_matches_golden(stem: str) -> None:
    model_id, request = CASES[stem]
    path = GOLDEN_DIR / f"{stem}.json"
    assert path.exists(), f"{path.name} missing: run python -m tests.golden_plans"
    want, got = path.read_text(encoding="utf-8"), render(model_id, request)
    if want != got:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden", "now", n=1))
        pytest.fail(f"the plan of {model_id} {request} changed (python -m tests.golden_plans to accept):\n{diff[:4000]}")


def test_golden_handbook_examples_say_what_the_handbook_says() -> None:
    """The golden files are not just snapshots: the handbook's numbers hold in them."""
    minimax = json.loads((GOLDEN_DIR / "handbook-minimax-m2.5-a100-262144.json").read_text())["plan"]
    assert (minimax["gpu"]["count"], minimax["parallelism"]["tensor"]) == (4, 4)
    assert minimax["resources"]["cpu"] == str(2 * 4 + 2)
    qwen = json.loads((GOLDEN_DIR / "handbook-qwen3.5-397b-fp8-h200-1010000.json").read_text())["plan"]
    assert (qwen["parallelism"]["tensor"], qwen["parallelism"]["pipeline"]) == (2, 2)
    # the handbook's own --hf-overrides (l. 230 for MiniMax-M2.5, l. 357 for Qwen3.5-397B-A17B-FP8), byte for byte as
    # JSON, and the rest of its MiniMax command line: TP 4, --max-num-seqs 128, utilisation 0.95, the minimax_m2 parsers
    assert minimax["serving"]["hf_overrides"] == json.loads(
        '{"max_position_embeddings": 262144, "rope_scaling": {"type": "dynamic", "factor": 1.5, '
        '"original_max_position_embeddings": 196608}}')
    assert (minimax["serving"]["max_model_len"], minimax["serving"]["max_num_seqs"],
            minimax["serving"]["gpu_memory_utilization"]) == (262144, 128, 0.95)
    assert (minimax["serving"]["tool_call_parser"], minimax["serving"]["reasoning_parser"]) == ("minimax_m2",) * 2
    assert qwen["serving"]["hf_overrides"] == json.loads(
        '{"text_config": {"max_position_embeddings": 1010000, "rope_parameters": {"mrope_interleaved": true, '
        '"mrope_section": [11, 11, 10], "rope_type": "yarn", "rope_theta": 10000000, "partial_rotary_factor": 0.25, '
        '"factor": 4.0, "original_max_position_embeddings": 262144}}}')
    assert qwen["serving"]["max_model_len"] == 1010000 and qwen["gpu"]["count"] == 4
    llama = json.loads((GOLDEN_DIR / "handbook-llama-3.1-70b-a40-6gpus.json").read_text())["plan"]
    assert (llama["parallelism"]["tensor"], llama["parallelism"]["pipeline"]) == (2, 3)
