"""Reasons and warnings that must match the numbers and flags of the plan (fresh-eyes review of the multi-node,
DP and SGLang plans): a forced count is not 'the fewest', a forced --max-num-seqs is not the 2K-per-sequence rule,
TP below a node's GPUs does not mean 'PP across nodes' only, and a --launcher that cannot apply is said so."""

from __future__ import annotations

from kubectl_llm.planner.quantity import GiB
from tests.test_planner import plan


def test_forced_max_num_seqs_reason_names_the_flag_not_the_auto_rule():
    p = plan("openai/gpt-oss-120b", gpu_type="H100-80GB", gpu_memory_utilization=0.95, max_num_seqs=1024)
    d = p.to_dict()
    assert d["serving"]["max_num_seqs"] == 1024
    tokens = d["memory"]["kv_cache_tokens_per_dp_rank"]
    why = [r for r in p.reasons if r.startswith("max-num-seqs 1024")]
    assert why == [f"max-num-seqs 1024: set by --max-num-seqs ({tokens} KV tokens, ~{tokens // 1024} a sequence)"]
    assert not any("cap 256" in r for r in p.reasons)


def test_auto_max_num_seqs_reason_keeps_the_rule_and_sglang_names_its_flag():
    p = plan("Qwen/Qwen3-8B", gpu_type="A100-40GB", engine="sglang")
    d = p.to_dict()
    tokens, seqs = d["memory"]["kv_cache_tokens"], d["serving"]["max_num_seqs"]
    # the KV pool under SGLang's own default fraction for an A100 40 GB (0.83): 126896 // 2048 = 61 -> 32
    assert seqs == 1 << ((tokens // 2048).bit_length() - 1) == 32
    assert f"max-running-requests {seqs}: room for ~2K-token sequences in {tokens} KV tokens (cap 256)" in p.reasons
    assert "--max-running-requests" in d["serving"]["args"]


def test_gpu_count_forced_by_nodes_or_data_parallel_is_not_called_the_fewest():
    p = plan("Qwen/Qwen3-8B", nodes=2)
    gpus = p.to_dict()["gpu"]["count"]
    assert gpus == 2 * 8
    line = next(r for r in p.reasons if r.startswith(f"{gpus} GPU(s)"))
    assert line.startswith("16 GPU(s): set by --nodes 2, holding ") and "the fewest" not in line
    ds = plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=32)
    assert any(r.startswith("32 GPU(s): set by --data-parallel 32, holding ") for r in ds.reasons)
    auto = plan("meta-llama/Llama-3.1-405B", gpu_type="H100-80GB")
    assert any(r.startswith("16 GPU(s): the fewest that hold ") for r in auto.reasons)


def test_tp_below_a_node_says_the_stages_run_within_the_nodes_too():
    # SGLang has no DCP: Kimi-K2 (MLA) on H100 keeps TP 1 to avoid the duplicated latent, PP 16 over 2 nodes of 8
    p = plan("moonshotai/Kimi-K2-Instruct", gpu_type="H100-80GB", engine="sglang")
    d = p.to_dict()
    assert (d["parallelism"]["tensor"], d["parallelism"]["pipeline"], d["gpu"]["nodes"]) == (1, 16, 2)
    assert not any("TP 1 within each node" in r for r in p.reasons)
    assert ("2 nodes x 8 GPUs: TP 1 x PP 16, the pipeline stages run within and across the nodes (8 stages a node); "
            "one LeaderWorkerSet group of 2 pods") in p.reasons


def test_launcher_on_a_one_node_plan_is_warned_as_ignored():
    p = plan("Qwen/Qwen3-8B", gpu_type="A100-80GB", launcher="ray")
    assert p.to_dict()["serving"]["launcher"] is None
    assert ("--launcher ray is ignored: the plan fits one node (1 x A100-80GB), a single pod starts no multi-node "
            "launch") in p.warnings
    assert not any("--launcher" in w for w in plan("Qwen/Qwen3-8B", gpu_type="A100-80GB").warnings)


def test_data_parallel_expert_reason_is_the_flag_not_the_fp8_block_size():
    # Qwen3-30B-A3B is bf16: no FP8 block size; --data-parallel 2 is what turns expert parallel on (DP 2 x TP 1)
    p = plan("Qwen/Qwen3-30B-A3B", gpu_type="A100-80GB", data_parallel=2)
    d = p.to_dict()
    assert d["model"]["quantization"] == "none"
    assert (d["parallelism"]["data"], d["parallelism"]["tensor"], d["parallelism"]["expert"]) == (2, 1, True)
    assert "expert parallel: --data-parallel 2 shards the experts over all 2 GPUs" in p.reasons
    assert not any("FP8 block size" in r for r in p.reasons)


def test_sglang_mem_fraction_leaves_the_planned_overhead_outside():
    """--mem-fraction-static is what SGLang may use for weights + KV pool; the rest must hold the plan's own
    overhead. Kimi-K2 on H100 (SGLang, TP 1 x PP 16): the overhead is 10.7 GiB of 79.2 GiB, so util - 0.07 (0.88)
    left 9.5 GiB for it and let SGLang size its pool 5 GiB above the plan's KV."""
    p = plan("moonshotai/Kimi-K2-Instruct", gpu_type="H100-80GB", engine="sglang")
    d = p.to_dict()
    m, mem = d["memory"], d["gpu"]["memory_bytes"]
    util, frac = d["serving"]["gpu_memory_utilization"], d["serving"]["mem_fraction_static"]
    # the vLLM-style budget holds weights + in-budget overhead + KV (on the limiting GPU); SGLang's own default
    # for --tp-size 1 --pp-size 16 on an H100, (81559 - (512 + 12288 + 512 + 2048)) / 81559 = 0.812 -> 0.81, caps it
    assert util * mem >= m["weights_per_gpu_bytes"] + m["overhead_bytes_per_gpu"] + m["kv_cache_bytes_per_gpu"]
    assert int((util - m["overhead_bytes_per_gpu"] / mem) * 100) / 100 == 0.83 and frac == 0.81    # the cap binds
    assert (1 - frac) * mem >= m["overhead_bytes_per_gpu"]
    # SGLang's pool is frac x (memory - what is in use at its start-up) - weights (engine.sglang_pool_bytes; at
    # TP 1: 0.5 GiB context + 0.3 GiB loaded beyond the checkpoint): no KV beyond the plan's
    share = frac * (mem - (int(0.5 * GiB) + int(0.3 * GiB)))
    assert share <= m["weights_per_gpu_bytes"] + m["kv_cache_bytes_per_gpu"] + 1
    assert m["weights_per_gpu_bytes"] + m["kv_cache_bytes_per_gpu"] - share < 0.01 * mem
    assert d["serving"]["args"][d["serving"]["args"].index("--mem-fraction-static") + 1] == "0.81"
    assert "--mem-fraction-static 0.81 holds the weights and the KV pool, the other 0.19 x memory" in " ".join(p.reasons)


def test_start_up_baseline_reason_names_communication_buffers_only_when_it_holds_them():
    """The start-up baseline is the CUDA context alone (0.5 GiB = 512 MiB) at TP 1, and before vLLM 0.11 at any TP
    (the snapshot preceded the distributed init); at TP > 1 from 0.11 on it adds communication buffers (NVLink Hopper:
    0.5 + 1.5 = 2.0 GiB). Before: every plan said "CUDA context, communication buffers", a TP 1 plan too."""
    one = plan("Qwen/Qwen3-8B", gpu_type="H100-80GB")
    assert one.to_dict()["gpu"]["count"] == 1
    line = next(r for r in one.reasons if r.startswith("memory model of vLLM"))
    assert "the start-up baseline (~512 MiB: CUDA context) and" in line
    tp = plan("Qwen/Qwen3-32B", gpu_type="H100-80GB", gpus=2)
    assert tp.to_dict()["parallelism"]["tensor"] == 2
    line = next(r for r in tp.reasons if r.startswith("memory model of vLLM"))
    assert "the start-up baseline (~2.0 GiB: CUDA context, communication buffers) and" in line
