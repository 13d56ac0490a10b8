"""Plans that say fits must start on the first try: the defects an invariant sweep of the planner found (vLLM /
SGLang refuse these layouts and flags at start-up), each with its hand-computed numbers."""

from __future__ import annotations

import pytest

from kubectl_llm import catalog
from kubectl_llm.errors import PlanError
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.request import PlanRequest


def _plan(model_id: str, **req):
    src = catalog.load(model_id)
    assert src is not None, model_id
    return src, make_plan(src, PlanRequest(**req))


# --- DCP on a GQA model -----------------------------------------------------------------------------------------------
def test_forced_dcp_on_a_gqa_model_keeps_vllms_kv_head_rule_by_hand():
    # vllm/config/model.py verify_with_parallel_config, not MLA: TP > KV heads, DCP <= TP // KV heads, (heads // KV
    # heads) % DCP == 0. Qwen3-235B-A22B: 64 heads, 4 KV heads; at TP 8: 8 // 4 = 2, 64 // 4 = 16 query heads per KV
    # head. --dcp 4 at TP 8 was planned (fits, TP 8 x DCP 4) and vLLM refuses it; --dcp 2 is what vLLM allows.
    with pytest.raises(PlanError) as e:
        _plan("Qwen/Qwen3-235B-A22B", gpu_type="H100-80GB", gpus=8, dcp=4)
    assert "DCP 4 at TP 8: vLLM allows at most TP / KV heads = 8 / 4 = 2" in e.value.message
    _, ok = _plan("Qwen/Qwen3-235B-A22B", gpu_type="H100-80GB", gpus=8, dcp=2)
    assert ok.fits and (ok.best.layout.tp, ok.best.layout.dcp) == (8, 2)
    # Llama-3.1-8B: 8 KV heads; TP 8 is not above them, so no DCP at any TP of 8 GPUs (it planned TP 8 x DCP 2)
    with pytest.raises(PlanError) as e:
        _plan("meta-llama/Llama-3.1-8B-Instruct", gpu_type="L40S", gpus=8, dcp=2)
    assert "DCP 2 at TP 8: vLLM needs TP above the 8 KV heads" in e.value.message and e.value.hint


# --- expert parallel placement ----------------------------------------------------------------------------------------
def test_expert_parallel_places_every_expert_by_hand():
    # SGLang FusedMoE: `assert num_experts % self.moe_ep_size == 0`. GLM-4.7: 160 routed experts; DP 8 x TP 8 = EP
    # 64 on 64 H100s: 160 % 64 = 32, refused by SGLang, and was planned; DP 8 x TP 4 = EP 32: 160 / 32 = 5 a rank.
    _, glm = _plan("zai-org/GLM-4.7", engine="sglang", gpu_type="H100-80GB", data_parallel=8)
    assert glm.best.layout.gpus != 64
    assert 160 % (glm.best.layout.tp * glm.best.layout.dp) == 0
    # Mixtral-8x7B: 8 experts; DP 8 on 16 A10s would be EP 16, ranks 8..15 without an expert (both engines)
    for engine in ("vllm", "sglang"):
        _, mix = _plan("mistralai/Mixtral-8x7B-v0.1", engine=engine, gpu_type="A10", data_parallel=8)
        assert mix.best.layout.tp * mix.best.layout.dp <= 8, engine
