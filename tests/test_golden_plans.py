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
    llama = json.loads((GOLDEN_DIR / "handbook-llama-3.1-70b-a40-6gpus.json").read_text())["plan"]
    assert (llama["parallelism"]["tensor"], llama["parallelism"]["pipeline"]) == (2, 3)
