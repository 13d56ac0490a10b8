"""planner/weights/ (fed by the one config parser, facts.py) against the estimator it replaced.

tests/fixtures/weights_baseline.json holds, for every config in tests/fixtures/configs, the embedded catalog and
../shared/models, and for the quantization variants below, the WeightEstimate (or the error message) of the old
single-module estimator kubectl_llm/planner/params.py, computed at commit de476fb just before it was split and
deleted. The refactor moved no number: every field must be equal (warnings are new and must be empty here).
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from kubectl_llm.errors import BadModelConfig
from kubectl_llm.planner.facts import checkpoint_shapes, from_config
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.source import ModelSource, WeightMetadata
from kubectl_llm.planner.weights import estimate_weights

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "configs"
CATALOG = ROOT / "kubectl_llm" / "catalog" / "models"
SHARED = ROOT.parent / "shared" / "models"
BASELINE = json.loads((ROOT / "tests" / "fixtures" / "weights_baseline.json").read_text())

# quantization layouts no real fixture uses, each on Llama-3.1-8B-Instruct (None: a compression_config instead)
VARIANTS: dict[str, dict[str, Any] | None] = {
    "fbgemm_fp8": {"quant_method": "fbgemm_fp8", "modules_to_not_convert": ["lm_head"]},
    "fp8_per_tensor_static": {"quant_method": "fp8", "activation_scheme": "static"},
    "modelopt_fp8": {"quant_method": "modelopt", "quant_algo": "FP8", "exclude_modules": ["lm_head"]},
    "modelopt_algo_only_nvfp4": {"quant_algo": "NVFP4", "group_size": 16},
    "ct_int8_channel_asym": {"quant_method": "compressed-tensors", "config_groups": {"g": {"targets": ["Linear"],
        "weights": {"num_bits": 8, "type": "int", "symmetric": False, "strategy": "channel"}}}},
    "ct_int4_group_asym": {"quant_method": "compressed-tensors", "config_groups": {"g": {"targets": ["Linear"],
        "weights": {"num_bits": 4, "type": "int", "symmetric": False, "strategy": "group", "group_size": 32}}},
        "ignore": ["lm_head", "re:.*layers\\.0\\..*"]},
    "ct_fp8_block": {"quant_method": "compressed-tensors", "config_groups": {"g": {"targets": ["Linear"],
        "weights": {"num_bits": 8, "type": "float", "strategy": "block", "block_structure": [128, 128]}}}},
    "ct_nvfp4_targets": {"quant_method": "compressed-tensors", "config_groups": {"g": {"targets": ["re:.*mlp.*"],
        "weights": {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16}}}},
    "gptq_int8_lm_head": {"quant_method": "gptq", "bits": 8, "group_size": -1, "lm_head": True},
    "awq_qgroup": {"quant_method": "awq", "w_bit": 4, "q_group_size": 64},
    "compression_config_fp8": None,
}


def _configs() -> list[tuple[str, str, dict[str, Any]]]:
    """(baseline key, test id, raw config) for every config the baseline covers."""
    out = [(p.stem, f"fixture/{p.stem}", json.loads(p.read_text())) for p in sorted(FIXTURES.glob("*.json"))]
    out += [(p.stem, f"catalog/{p.stem}", json.loads(p.read_text())["config"]) for p in sorted(CATALOG.glob("*.json"))]
    if SHARED.is_dir():
        out += [(p.parent.name, f"shared/{p.parent.name}", json.loads(p.read_text()))
                for p in sorted(SHARED.glob("*/config.json"))]
    base = json.loads((FIXTURES / "meta-llama__Llama-3.1-8B-Instruct.json").read_text())
    for name, quant in VARIANTS.items():
        cfg = copy.deepcopy(base)
        if quant is None:
            cfg["compression_config"] = {"quant_method": "fp8", "weight_block_size": [128, 128]}
        else:
            cfg["quantization_config"] = quant
        out.append((f"variant/{name}", f"variant/{name}", cfg))
    return out


CONFIGS = _configs()


def _result(facts_or_shapes: Any) -> dict[str, Any]:
    try:
        est = estimate_weights(facts_or_shapes)
    except BadModelConfig as exc:
        return {"error": exc.message}
    d = asdict(est)
    d["notes"] = list(d["notes"])
    assert d.pop("warnings") == (), "a complete real config must not need any guess"
    return d


def test_baseline_covers_every_config() -> None:
    assert {key for key, _, _ in CONFIGS} <= set(BASELINE)
    assert len(BASELINE) >= 40 and not any("error" in v for v in BASELINE.values())


@pytest.mark.parametrize("key,cfg", [(k, c) for k, _, c in CONFIGS], ids=[i for _, i, _ in CONFIGS])
def test_estimate_equals_the_old_estimator(key: str, cfg: dict[str, Any]) -> None:
    # the planner's path: from_config parses once, the estimate reads ModelFacts.checkpoint
    assert _result(from_config(cfg, key)) == BASELINE[key]
    assert _result(checkpoint_shapes(cfg)) == BASELINE[key]


# --- a missing optional detail is estimated and warned about, not refused --------------------------------------
SCOUT = "RedHatAI__Llama-4-Scout-17B-16E-Instruct-FP8-dynamic"


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_missing_llama4_projector_size_is_assumed_and_warned() -> None:
    cfg = _fixture(SCOUT)
    assert cfg["vision_config"].pop("vision_output_dim") == 4096
    est = estimate_weights(checkpoint_shapes(cfg))
    full = BASELINE[SCOUT]
    # multi_modal_projector.linear_1 is text hidden 5120 x vision_output_dim; assumed 7680 (transformers' default)
    # instead of 4096; the vision tower is in the FP8 checkpoint's ignore list, so bf16 (2 bytes)
    H = 5120
    assert est.params_by_part["vision"] - full["params_by_part"]["vision"] == H * (7680 - 4096)
    assert est.total_bytes - full["total_bytes"] == H * (7680 - 4096) * 2
    assert len(est.warnings) == 1 and "'vision_output_dim'" in est.warnings[0] and "7680" in est.warnings[0]


def test_missing_qwen3_vl_merger_width_uses_the_text_hidden_size() -> None:
    name = "Qwen__Qwen3-VL-235B-A22B-Instruct"
    cfg = _fixture(name)
    assert cfg["vision_config"].pop("out_hidden_size") == cfg["text_config"]["hidden_size"] == 4096
    est = estimate_weights(checkpoint_shapes(cfg))
    assert est.total_bytes == BASELINE[name]["total_bytes"]            # the guess is the real value here
    assert [w for w in est.warnings if "'out_hidden_size'" in w and "4096" in w]


def test_plan_carries_the_estimate_warning() -> None:
    cfg = _fixture(SCOUT)
    del cfg["vision_config"]["projector_input_dim"]
    src = ModelSource(model_id="RedHatAI/Llama-4-Scout-17B-16E-Instruct-FP8-dynamic", config=cfg, weights=None,
                      origin="local")
    plan = make_plan(src, PlanRequest(gpu_memory_bytes=1000 * 2**30))
    assert plan.weight_bytes == BASELINE[SCOUT]["total_bytes"]        # assumed 4096 = the real projector_input_dim
    assert any("projector_input_dim" in w for w in plan.warnings)
    # with safetensors metadata the estimate only splits the real bytes: no warning about a guess
    with_meta = make_plan(replace(src, weights=WeightMetadata(10**11, "safetensors headers")),
                          PlanRequest(gpu_memory_bytes=1000 * 2**30))
    assert not any("projector_input_dim" in w for w in with_meta.warnings)


def test_malformed_field_is_kept_out_of_from_config() -> None:
    # a malformed FP8 block size: the layout rules read it too (TP must keep whole blocks), so the config check
    # that from_config runs first (planner/validate.py) stops with the field named, before any estimate
    cfg = _fixture("meta-llama__Llama-3.1-8B-Instruct")
    cfg["quantization_config"] = {"quant_method": "fp8", "weight_block_size": [128]}
    with pytest.raises(BadModelConfig, match=r"weight_block_size is \[128\], not \[n, k\]"):
        estimate_weights(from_config(cfg, "m"))
