"""Multi-node plans (issue 11): whole nodes of a GPU type, TP within a node x PP across nodes, DCP for MLA,
replicas planned per replica, DP attention + EP for MoE. Expected numbers are computed here from the formulas
(memory.py docstring, sizing.py handbook rules) and the catalog's config facts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kubectl_llm.errors import PlanError, UsageError
from kubectl_llm.planner.facts import checkpoint_shapes
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.quantity import GiB
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.source import ModelSource
from kubectl_llm.planner.weights import estimate_weights
from tests.test_planner import plan, source

GLM5 = Path(__file__).parent / "fixtures" / "multinode" / "zai-org__GLM-5.json"


def glm5_source() -> ModelSource:
    cfg = json.loads(GLM5.read_text())
    cfg.pop("_source")
    return ModelSource(model_id="zai-org/GLM-5", config=cfg, weights=None, origin="fixture")


def test_llama_405b_on_h100_is_two_nodes_of_tp8_pp2():
    p = plan("meta-llama/Llama-3.1-405B", gpu_type="H100-80GB")
    d = p.to_dict()
    assert p.fits
    assert (d["gpu"]["count"], d["gpu"]["nodes"], d["gpu"]["per_node"]) == (16, 2, 8)
    assert (d["parallelism"]["tensor"], d["parallelism"]["pipeline"], d["parallelism"]["decode_context"]) == (8, 2, 1)
    total = p.weight_bytes                                   # estimated from the config (no safetensors here)
    assert abs(total - 811706916800) / 811706916800 < 0.001     # the checkpoint's 811.7 GB
    # embeddings on stage 0 and lm_head on stage 1 are the same size (128256 x 16384 x 2 B), 126 layers = 63 + 63:
    # every GPU holds total / (TP 8 x PP 2)
    assert abs(d["memory"]["weights_per_gpu_bytes"] - total / 16) <= 16
    # 63 layers x 2 (K, V) x (8 KV heads / TP 8) x 128 head_dim x 2 B
    assert d["memory"]["kv_bytes_per_token"] == 63 * 2 * 1 * 128 * 2 == 32256
    # per pod = per node: CPU 2 x 8 + 2, RAM 55 % / 110 % of the node's half of the weights, shm 2 x 8 + 4,
    # the PVC holds the whole checkpoint (each pod downloads it) +15 %, whole Gi
    r = d["resources"]
    assert r["cpu"] == "18" and r["shm"] == "20Gi"
    assert r["memory_request"] == f"{math.ceil(total / 2 * 0.55 / GiB)}Gi" == "208Gi"
    assert r["memory_limit"] == f"{math.ceil(total / 2 * 1.10 / GiB)}Gi" == "416Gi"
    assert r["storage"] == f"{math.ceil(total * 1.15 / GiB)}Gi" == "870Gi"
    assert any(t["value"] == "large-gpu" for t in d["scheduling"]["tolerations"] if "value" in t)
    why = " | ".join(d["reasons"])
    assert "one node (8 x H100-80GB) is not enough: 8 GPUs: weights" in why
    assert "TP 8 within each node" in why and "PP 2 across nodes" in why
    assert "pipeline parallelism is the recommended and default way" in why
    text = p.to_text()
    assert "16 x H100-80GB = 2 nodes x 8" in text and "LeaderWorkerSet of 2 pods" in text


def test_405b_engine_args_leader_and_worker():
    d = plan("meta-llama/Llama-3.1-405B", gpu_type="H100-80GB").to_dict()
    leader, worker = d["serving"]["args"], d["serving"]["worker_args"]
    assert leader[leader.index("--tensor-parallel-size") + 1] == "8"
    assert leader[leader.index("--pipeline-parallel-size") + 1] == "2"
    for a in (leader, worker):
        assert a[a.index("--nnodes") + 1] == "2"
        assert a[a.index("--master-addr") + 1] == "$(LWS_LEADER_ADDRESS)"
    assert leader[leader.index("--node-rank") + 1] == "0" and "--headless" not in leader
    assert d["serving"]["command"] == ["vllm", "serve"]        # --headless exists only in `vllm serve`
    assert worker[worker.index("--node-rank") + 1] == "$(LWS_WORKER_INDEX)" and worker[-1] == "--headless"
    sg = plan("meta-llama/Llama-3.1-405B", gpu_type="H100-80GB", engine="sglang").to_dict()["serving"]
    assert sg["args"][sg["args"].index("--dist-init-addr") + 1] == "$(LWS_LEADER_ADDRESS):20000"
    assert sg["worker_args"][sg["worker_args"].index("--node-rank") + 1] == "$(LWS_WORKER_INDEX)"


def test_single_node_plan_has_no_worker_args():
    d = plan("Qwen/Qwen3-8B", gpu_type="A100-80GB").to_dict()
    assert (d["gpu"]["nodes"], d["gpu"]["per_node"], d["gpu"]["replicas"]) == (1, d["gpu"]["count"], 1)
    assert d["serving"]["worker_args"] == [] and "--nnodes" not in d["serving"]["args"]


@pytest.mark.parametrize("model_id", ["deepseek-ai/DeepSeek-V3", "moonshotai/Kimi-K2-Instruct"])
def test_mla_giants_on_a100_span_two_nodes_with_dcp(model_id):
    p = plan(model_id, gpu_type="A100-80GB")
    d = p.to_dict()
    assert p.fits and (d["gpu"]["nodes"], d["gpu"]["count"]) == (2, 16)
    assert (d["parallelism"]["tensor"], d["parallelism"]["pipeline"], d["parallelism"]["decode_context"]) == (8, 2, 8)
    assert not p.best.duplicated_kv
    # 61 layers -> stages of 30 and 31 (vLLM puts the extra layer on stage pp-2 = 0): MLA latent 512 + 64 values
    # x 2 B per layer, replicated on each TP rank, divided by DCP 8
    assert d["memory"]["kv_bytes_per_token"] == 31 * 576 * 2 / 8 == 4464
    assert "one node (8 x A100-80GB) is not enough" in " | ".join(d["reasons"])


def test_glm5_on_h100_spans_three_nodes():
    """GLM-5 is DSA (sparse attention): vLLM's FLASHMLA_SPARSE backend has no DCP, so TP 8 keeps the latent (and the
    indexer K, tests/test_dsa_indexer.py) on every rank; it still fits on 3 nodes."""
    p = make_plan(glm5_source(), PlanRequest(gpu_type="H100-80GB"))
    d = p.to_dict()
    assert p.fits and (d["gpu"]["nodes"], d["gpu"]["per_node"], d["gpu"]["count"]) == (3, 8, 24)
    assert (d["parallelism"]["tensor"], d["parallelism"]["pipeline"], d["parallelism"]["decode_context"]) == (8, 3, 1)
    assert p.best.duplicated_kv
    assert d["model"]["family"] == "glm5"
    # 78 layers / PP 3 = 26 per stage; MLA latent (512 + 64) x 2 B + the DSA indexer's 128 FP8 + 4 B scale
    assert d["memory"]["kv_bytes_per_token"] == 26 * (576 * 2 + 132) == 33384
    # two nodes are not enough either: 1486 GB loaded / 16 GPUs = 86 GiB > 0.95 x 79.19 GiB
    assert p.best.weights_per_gpu * 3 > 1.3e12 / 8


def test_forced_nodes_and_gpus_across_nodes():
    d = plan("Qwen/Qwen3-8B", gpu_type="H100-80GB", nodes=2).to_dict()
    assert (d["gpu"]["count"], d["gpu"]["nodes"]) == (16, 2)
    assert d["parallelism"]["tensor"] in (1, 2, 4, 8) and d["parallelism"]["tensor"] * d["parallelism"]["pipeline"] == 16
    with pytest.raises(PlanError) as e:
        plan("meta-llama/Llama-3.1-405B", gpu_type="H100-80GB", gpus=12)
    assert "multiple of 8" in str(e.value)


def test_replicas_are_planned_per_replica():
    one = plan("Qwen/Qwen3-8B", gpu_type="A100-80GB").to_dict()
    three = plan("Qwen/Qwen3-8B", gpu_type="A100-80GB", replicas=3).to_dict()
    assert three["gpu"]["replicas"] == 3 and one["gpu"]["replicas"] == 1
    assert three["memory"] == one["memory"] and three["gpu"]["count"] == one["gpu"]["count"]
    assert three["resources"] == one["resources"]
    n = one["gpu"]["count"]
    assert f"3 replicas behind one Service and route, each planned alike ({n} GPUs each, {3 * n} in all)" in \
        three["reasons"]
    with pytest.raises(UsageError):
        plan("Qwen/Qwen3-8B", gpu_type="A100-80GB", replicas=0)


def test_data_parallel_memory_hand_computed():
    """Qwen3-30B-A3B, --data-parallel 2 on A100-80GB: 2 ranks of TP 1; attention, norms, router, embeddings and
    lm_head replicated on each rank, routed experts split over both GPUs (EP)."""
    parts = estimate_weights(checkpoint_shapes(source("Qwen/Qwen3-30B-A3B").config)).bytes_by_part
    layers = parts["attention"] + parts["norms"] + parts["router"]
    expected_dp = layers + parts["experts"] / 2 + parts["embeddings"] + parts["lm_head"]
    expected_tp2 = (layers + parts["experts"]) / 2 + (parts["embeddings"] + parts["lm_head"]) / 2
    p = plan("Qwen/Qwen3-30B-A3B", gpu_type="A100-80GB", data_parallel=2)
    d = p.to_dict()
    assert (d["gpu"]["count"], d["parallelism"]["data"], d["parallelism"]["tensor"], d["parallelism"]["expert"]) \
        == (2, 2, 1, True)
    assert abs(d["memory"]["weights_per_gpu_bytes"] - expected_dp) <= 4
    assert expected_dp == 32073216000
    # each rank holds all 4 KV heads of its own sequences: 48 layers x 2 x 4 x 128 x 2 B
    assert d["memory"]["kv_bytes_per_token"] == 48 * 2 * 4 * 128 * 2 == 98304
    # the replica's KV tokens and concurrency are the sum over the 2 ranks
    assert d["memory"]["kv_cache_tokens"] == 2 * d["memory"]["kv_cache_tokens_per_dp_rank"]
    args = d["serving"]["args"]
    assert args[args.index("--data-parallel-size") + 1] == "2" and "--enable-expert-parallel" in args
    # the comparison with the TP 2 layout of the same 2 GPUs, with both evaluations' numbers
    tp2 = plan("Qwen/Qwen3-30B-A3B", gpu_type="A100-80GB", gpus=2, tp=2).to_dict()
    assert abs(tp2["memory"]["weights_per_gpu_bytes"] - expected_tp2) <= 4
    assert tp2["memory"]["kv_bytes_per_token"] == 48 * 2 * 2 * 128 * 2
    line = next(r for r in d["reasons"] if r.startswith("DP 2 x TP 1 + EP vs TP 2 on 2 GPUs"))
    dp_tok, tp_tok = d["memory"]["kv_cache_tokens"], tp2["memory"]["kv_cache_tokens"]
    assert f"{dp_tok} vs {tp_tok} KV tokens" in line
    # GQA: a DP rank stores all 4 KV heads but replicates 3.1 GB of attention/embeddings: TP 2 holds more tokens
    assert tp_tok > dp_tok and "DP + EP is worse for this model" in line


def test_data_parallel_suggested_when_it_wins():
    """DeepSeek-V3 on 8 H200 (one node, MLA): TP 8 + DCP 8 vs DP 8 + EP. Whichever holds more KV tokens is said;
    the suggestion ('worth trying: --data-parallel 8') appears only when DP wins."""
    p = plan("deepseek-ai/DeepSeek-V3", gpu_type="H200", gpus=8)
    d = p.to_dict()
    assert d["gpu"]["nodes"] == 1 and d["parallelism"]["decode_context"] > 1
    line = next(r for r in d["reasons"] if "DP 8 x TP 1 + EP vs" in r)
    dp = plan("deepseek-ai/DeepSeek-V3", gpu_type="H200", gpus=8, data_parallel=8).to_dict()
    # DP rank: 61 layers x 576 x 2 B, no TP copy, no DCP
    assert dp["memory"]["kv_bytes_per_token"] == 61 * 576 * 2
    dp_tok, tp_tok = dp["memory"]["kv_cache_tokens"], d["memory"]["kv_cache_tokens"]
    assert f"{dp_tok} vs {tp_tok} KV tokens" in line
    assert line.startswith("worth trying: --data-parallel 8") == (dp_tok > tp_tok)


def test_data_parallel_refused_for_dense_models():
    """One usage error before any search (it used to repeat per GPU type, naming whatever count was tried last)."""
    with pytest.raises(UsageError) as e:
        plan("Qwen/Qwen3-8B", data_parallel=2)
    assert e.value.message == "--data-parallel shards experts: Qwen/Qwen3-8B is not a MoE model"
    assert e.value.hint == "use --replicas 2 for independent copies behind the same route"


def test_data_parallel_wins_over_duplicated_mla_and_is_suggested():
    """SGLang has no DCP: TP 8 keeps the 576-value MLA latent on all 8 ranks (61 x 576 x 2 B per token per GPU),
    DP 8 + EP stores each token once, on its rank. DP holds more tokens and the plan suggests it."""
    p = plan("deepseek-ai/DeepSeek-V3", gpu_type="H200", gpus=8, tp=8, engine="sglang")
    d = p.to_dict()
    assert p.best.duplicated_kv and d["memory"]["kv_bytes_per_token"] == 61 * 576 * 2
    line = next(r for r in d["reasons"] if "DP 8 x TP 1 + EP vs TP 8 on 8 GPUs" in r)
    dp = plan("deepseek-ai/DeepSeek-V3", gpu_type="H200", gpus=8, data_parallel=8, engine="sglang").to_dict()
    assert dp["memory"]["kv_cache_tokens"] > d["memory"]["kv_cache_tokens"]
    assert line.startswith("worth trying: --data-parallel 8 (")
    assert "DP + EP is better for this model" in line and "MLA latent copied on each of TP 8 ranks" in line
    args = dp["serving"]["args"]
    assert args[args.index("--dp-size") + 1] == "8" and "--enable-dp-attention" in args
    assert args[args.index("--tp-size") + 1] == "8"          # SGLang: DP attention ranks split the TP group
