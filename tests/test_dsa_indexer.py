"""DSA (DeepSeek-V3.2 / GLM-5 sparse attention): vLLM caches the lightning indexer's K next to the MLA latent, and
its sparse-MLA backend has no decode-context-parallel. Expected bytes are computed here from vLLM's formula
(model_executor/models/deepseek_v2.py, Indexer.__init__):

    k_cache = DeepseekV32IndexerCache(head_dim=self.head_dim + self.head_dim // self.quant_block_size * 4,
                                      dtype=torch.uint8, ...)      # quant_block_size = 128
    get_kv_cache_spec -> MLAAttentionSpec(num_kv_heads=1, head_size=head_dim, dtype=uint8)

i.e. index_head_dim FP8 values + one fp32 scale per 128 of them, one head replicated on every TP rank, per layer,
whatever --kv-cache-dtype is (fixtures: GLM-5's and DeepSeek-V3.2's configs, index_head_dim 128, index_topk 2048)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubectl_llm.errors import PlanError
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.quantity import GiB
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.source import ModelSource
from tests.test_multinode_plan import glm5_source
from tests.test_planner import plan

INDEXER = 128 + 128 // 128 * 4          # 132 B per token per layer
LATENT = 512 + 64                       # kv_lora_rank + qk_rope_head_dim


def glm5(**kw):
    return make_plan(glm5_source(), PlanRequest(**kw))


def test_glm5_kv_bytes_per_token_include_the_indexer_cache():
    p = glm5(gpu_memory_bytes=2000 * GiB, gpus=1)
    assert p.facts.index_head_dim == 128
    # 78 layers x (576-value latent x 2 B + 132 B of indexer K)
    assert p.to_dict()["memory"]["kv_bytes_per_token"] == 78 * (LATENT * 2 + INDEXER) == 100152
    assert any("lightning indexer's K, 128 FP8 values + one fp32 scale per 128 = 132 B per token" in r
               for r in p.reasons)


def test_fp8_kv_is_vllms_fp8_ds_mla_layout_and_the_indexer_stays_132():
    """--kv-cache-dtype fp8 on DSA becomes vLLM's "fp8_ds_mla" (656 B a token: 512 FP8 latent values, 4 fp32 scales,
    64 RoPE values in 16 bits); the indexer K is FP8 + scale whatever the KV dtype."""
    p = glm5(gpu_memory_bytes=2000 * GiB, gpus=1, kv_cache_dtype="fp8")
    assert p.to_dict()["memory"]["kv_bytes_per_token"] == 78 * ((512 + 512 // 128 * 4 + 64 * 2) + INDEXER) == 61464


def test_without_index_topk_there_is_no_indexer():
    # DeepSeek-V3 (MLA, no DSA): the latent only, 61 x 576 x 2 B
    assert plan("deepseek-ai/DeepSeek-V3", gpu_memory_bytes=2000 * GiB, gpus=1).to_dict()["memory"][
        "kv_bytes_per_token"] == 61 * LATENT * 2


def test_dsa_has_no_decode_context_parallel():
    """FLASHMLA_SPARSE cannot run under DCP (vllm-project/vllm PR #45426): TP 8 keeps the latent and the indexer
    K on every rank, and a forced --dcp is refused with the reason."""
    p = glm5(gpu_type="H100-80GB")
    d = p.to_dict()
    assert p.fits and d["parallelism"]["decode_context"] == 1 and p.best.duplicated_kv
    lay = p.best.layout
    layers = -(-78 // lay.pp)                       # the fullest stage (vLLM's get_pp_indices)
    assert d["memory"]["kv_bytes_per_token"] == layers * (LATENT * 2 + INDEXER)
    assert any("sparse-MLA backend (DSA) has no decode-context-parallel" in w for w in p.warnings)
    with pytest.raises(PlanError) as e:
        glm5(gpu_type="H100-80GB", tp=8, dcp=8, nodes=3)
    assert "FLASHMLA_SPARSE has no DCP" in str(e.value)


V32 = Path(__file__).parent / "fixtures" / "multinode" / "deepseek-ai__DeepSeek-V3.2.json"


def v32(**kw):
    cfg = json.loads(V32.read_text())
    cfg.pop("_source")
    return make_plan(ModelSource(model_id="deepseek-ai/DeepSeek-V3.2", config=cfg, weights=None, origin="fixture"),
                     PlanRequest(**kw))


def test_deepseek_v32_kv_bytes_per_token():
    p = v32(gpu_memory_bytes=2000 * GiB, gpus=1)
    assert p.facts.index_head_dim == 128 and p.recipe.key == "deepseek_v32"
    # 61 layers x (576 x 2 B + 132 B); DeepSeek-V3 (the same network without DSA) stores 61 x 1152
    assert p.to_dict()["memory"]["kv_bytes_per_token"] == 61 * (LATENT * 2 + INDEXER) == 78324


def test_deepseek_v32_ray_launcher_warns_the_pinned_image_has_no_ray():
    """The deepseek_v32 family pins vLLM 0.18.0 (its recipe's min_vllm_version), from which the image no longer
    depends on Ray: --launcher ray says so; the native launch is the default."""
    p = v32(gpu_type="H100-80GB", data_parallel=32)
    assert p.nodes == 4 and p.launcher == "native"
    assert p.worker_command[:2] == ("/bin/sh", "-c") and "$$((LWS_WORKER_INDEX * 8))" in p.worker_command[2]
    ray = v32(gpu_type="H100-80GB", data_parallel=32, launcher="ray")
    assert any(w.startswith("--launcher ray: the vLLM image no longer depends on Ray from 0.18.0 on and this plan "
                            "pins 0.18.0") for w in ray.warnings)
