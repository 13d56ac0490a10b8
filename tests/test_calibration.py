"""The memory model against what real vLLM runs printed (tests/data/vllm_observed.yaml, with sources).

Only runs whose conditions the planner models are used: a GPU type of the catalog, no KV connector or offload, the
full set of numbers needed literally in the log. Most observations in the file are partial and serve as notes.
What is checked:
- weights per GPU against "Model loading took X GiB" (MXFP4 Marlin padding on an A100);
- the KV memory left (utilisation x usable - weights - overhead) against "Available KV cache memory": never
  optimistic (a plan that promises more than vLLM finds fails at startup), at most a few percent pessimistic;
- KV bytes per token against "GPU KV cache size: N tokens" for the same memory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubectl_llm.planner.facts import from_config
from kubectl_llm.planner.memory import expert_kernel_scale
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.quantity import GiB
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.source import ModelSource

DATA = Path(__file__).parent / "data" / "vllm_observed.yaml"
CATALOG = Path(__file__).parents[1] / "kubectl_llm" / "catalog" / "models"

# Qwen/Qwen3-0.6B config.json (the numbers the planner reads); not in the catalog.
QWEN3_06B = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 1024,
             "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
             "intermediate_size": 3072, "vocab_size": 151936, "tie_word_embeddings": True,
             "max_position_embeddings": 40960, "torch_dtype": "bfloat16", "rope_theta": 1000000,
             "rms_norm_eps": 1e-06, "hidden_act": "silu"}


def observation(model: str, source_url: str) -> dict:
    (entry,) = [e for e in yaml.safe_load(DATA.read_text()) if e["model"] == model and e["source"] == source_url]
    return entry


def catalog_source(model_id: str) -> ModelSource:
    data = json.loads((CATALOG / (model_id.replace("/", "__") + ".json")).read_text())
    return ModelSource(model_id=model_id, config=data["config"], weights=None, origin="catalog")


def test_observations_file_is_well_formed() -> None:
    entries = yaml.safe_load(DATA.read_text())
    assert len(entries) >= 10
    for e in entries:
        assert e["source"].startswith("https://"), e
        assert e["model"] and e["gpu"] and isinstance(e["observed"], dict)


def test_mxfp4_marlin_padding_by_hand() -> None:
    """vLLM Mxfp4MoEMethod.create_weights under Marlin: hidden -> multiple of 256, intermediate/TP -> of 128."""
    f = from_config(catalog_source("openai/gpt-oss-20b").config, "openai/gpt-oss-20b")
    assert (f.hidden_size, f.moe_intermediate_size) == (2880, 2880)
    assert expert_kernel_scale(f, 8.0, 1, False) == pytest.approx(3072 * 2944 / (2880 * 2880))   # 1.0904
    assert expert_kernel_scale(f, 8.0, 2, False) == pytest.approx(3072 * 1536 / (2880 * 1440))   # 1440 -> 1536
    assert expert_kernel_scale(f, 8.0, 2, True) == pytest.approx(3072 * 2944 / (2880 * 2880))    # EP: not split
    # Hopper too: vLLM 0.10.1 loaded gpt-oss-120b on an H100 through Marlin at 65.97 GiB (vllm#23278), 0.14.1
    # through Triton at 64.38 GiB (vllm#33155); the checkpoint is 60.8 GiB. The Marlin size is the larger.
    assert expert_kernel_scale(f, 9.0, 1, False) == pytest.approx(3072 * 2944 / (2880 * 2880))
    assert expert_kernel_scale(f, 10.0, 1, False) == 1.0                                         # Blackwell
    dense = from_config(catalog_source("Qwen/Qwen3-8B").config, "Qwen/Qwen3-8B")
    assert expert_kernel_scale(dense, 8.0, 1, False) == 1.0


def test_gpt_oss_20b_on_a100_weights_and_kv_memory_match_the_vllm_log() -> None:
    obs = observation("openai/gpt-oss-20b", "https://myoceane.fr/index.php/ai-vllm-a100-gemma-4/")
    util = obs["gpu_memory_utilization"]                                       # 0.65
    plan = make_plan(catalog_source("openai/gpt-oss-20b"),
                     PlanRequest(gpu_type="A100-80GB", gpus=1, gpu_memory_utilization=util, max_num_seqs=256,
                                 max_model_len=obs["max_model_len"]))
    mem = plan.to_dict()["memory"]
    weights_gib = mem["weights_per_gpu_bytes"] / GiB
    # 13.72 GiB printed; the checkpoint is 12.82 GiB, the Marlin padding makes it ~13.67.
    assert weights_gib == pytest.approx(obs["observed"]["model_loading_gib"], rel=0.01)
    kv_gib = mem["kv_cache_bytes_per_gpu"] / GiB
    observed_kv = obs["observed"]["available_kv_cache_gib"]                      # 36.56
    assert observed_kv * 0.95 <= kv_gib <= observed_kv


def test_qwen3_06b_on_a100_kv_memory_and_tokens_match_the_vllm_log() -> None:
    obs = observation("Qwen/Qwen3-0.6B", "https://github.com/vllm-project/vllm/pull/24577")
    source = ModelSource(model_id="Qwen/Qwen3-0.6B", config=QWEN3_06B, weights=None, origin="local")
    plan = make_plan(source, PlanRequest(gpu_type="A100-80GB", gpus=1, max_num_seqs=256,
                                         gpu_memory_utilization=obs["gpu_memory_utilization"],
                                         max_model_len=obs["max_model_len"]))
    mem = plan.to_dict()["memory"]
    assert mem["weights_per_gpu_bytes"] / GiB == pytest.approx(obs["observed"]["model_loading_gib"], rel=0.02)
    # KV bytes per token: 28 layers x 2 (K, V) x 8 KV heads x 128 dims x 2 bytes = 114,688.
    assert mem["kv_bytes_per_token"] == 28 * 2 * 8 * 128 * 2 == 114688
    observed_kv = obs["observed"]["available_kv_cache_gib"]                      # 69.66
    assert observed_kv * 0.97 <= mem["kv_cache_bytes_per_gpu"] / GiB <= observed_kv
    # The same bytes per token turn vLLM's own 69.66 GiB into its printed 652,144 tokens (to the log's rounding).
    assert observed_kv * GiB / 114688 == pytest.approx(obs["observed"]["kv_cache_tokens"], rel=1e-4)
