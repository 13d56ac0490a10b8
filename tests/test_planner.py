"""Planner tests: KV bytes per token by vLLM's rules (hand-computed), handbook examples, parallelism choices,
context/RoPE, Kubernetes sizing, and "every catalog model plans or fails with a reason".

Configs come from the embedded catalog (kubectl_llm/catalog/models), so a fresh clone runs these offline.
Notation in comments: L layers, kv KV heads, hd head_dim, 2 = K and V, dsz bytes per element (bf16 = 2).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from kubectl_llm import catalog
from kubectl_llm.errors import LlmError, PlanError, UsageError
from kubectl_llm.planner import memory
from kubectl_llm.planner.facts import from_config
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.source import ModelSource

BIG = 1000 * 2**30        # a hypothetical 1000 GiB card: forced layouts always have room, KV maths is unchanged


def source(model_id: str) -> ModelSource:
    path = catalog.find(model_id)
    assert path, f"{model_id} missing from the catalog"
    data = json.loads(path.read_text())
    return ModelSource(model_id=data["model_id"], config=data["config"], weights=None, origin="catalog")


def plan(model_id: str, **kw):
    return make_plan(source(model_id), PlanRequest(**kw))


def kv_per_token(model_id: str, **kw) -> float:
    kw.setdefault("gpu_memory_bytes", BIG)
    return plan(model_id, **kw).to_dict()["memory"]["kv_bytes_per_token"]


# --- KV bytes per token per GPU, 15+ architectures ------------------------------------------------------------
KV_CASES = [
    # GQA, TP1: L32 x 2 x kv8 x hd128 x 2 B
    ("meta-llama/Llama-3.1-8B-Instruct", dict(gpus=1), 32 * 2 * 8 * 128 * 2),             # 131072
    # TP4 splits 8 KV heads -> 2 per GPU: 80 x 2 x 2 x 128 x 2
    ("meta-llama/Llama-3.1-70B-Instruct", dict(gpus=4, tp=4), 80 * 2 * 2 * 128 * 2),      # 81920
    # TP8 on 8 KV heads -> 1 per GPU: 126 x 2 x 1 x 128 x 2
    ("meta-llama/Llama-3.1-405B", dict(gpus=8, tp=8), 126 * 2 * 1 * 128 * 2),             # 64512
    ("Qwen/Qwen3-8B", dict(gpus=1), 36 * 2 * 8 * 128 * 2),                                 # 147456
    # Qwen3-235B: 94 layers, 4 KV heads, TP4 -> 1 head/GPU (notes: 48,128 B)
    ("Qwen/Qwen3-235B-A22B", dict(gpus=4, tp=4), 94 * 2 * 1 * 128 * 2),
    # TP8 > 4 KV heads without DCP: each GPU keeps one (replicated) head -> same bytes as TP4
    ("Qwen/Qwen3-235B-A22B", dict(gpus=8, tp=8, dcp=1), 94 * 2 * 1 * 128 * 2),
    # ... with DCP 2 (= TP / kv) each rank stores every 2nd token
    ("Qwen/Qwen3-235B-A22B", dict(gpus=8, tp=8, dcp=2), 94 * 2 * 1 * 128 * 2 / 2),
    # MiniMax-M2: 62 layers, 8 KV heads, hd 128 (notes: 126,976 B at TP2)
    ("MiniMaxAI/MiniMax-M2.5", dict(gpus=2, tp=2), 62 * 2 * 4 * 128 * 2),
    # MLA: one latent head of kv_lora_rank 512 + qk_rope 64 = 576, replicated on every TP rank (notes: 70,272 B)
    ("deepseek-ai/DeepSeek-V3", dict(gpus=8, tp=8, dcp=1), 61 * (512 + 64) * 2),
    # MLA with DCP 8: 1/8 of the tokens per rank
    ("deepseek-ai/DeepSeek-V3", dict(gpus=8, tp=8, dcp=8), 61 * (512 + 64) * 2 / 8),
    # MLA with an fp8 KV cache: 1 byte per element
    ("deepseek-ai/DeepSeek-R1", dict(gpus=8, tp=8, dcp=1, kv_cache_dtype="fp8"), 61 * 576 * 1),
    ("moonshotai/Kimi-K2-Instruct", dict(gpus=8, tp=8, dcp=1), 61 * 576 * 2),
    # gpt-oss: alternate sliding (128) / full layers; only the 12 full layers grow: 12 x 2 x 8 x 64 x 2
    ("openai/gpt-oss-20b", dict(gpus=1), 12 * 2 * 8 * 64 * 2),
    ("openai/gpt-oss-120b", dict(gpus=2, tp=2), 18 * 2 * 4 * 64 * 2),
    # Llama 4 Scout: 36 chunked-local (8192) + 12 global (every 4th, NoPE) layers
    ("RedHatAI/Llama-4-Scout-17B-16E-Instruct-FP8-dynamic", dict(gpus=1), 12 * 2 * 8 * 128 * 2),
    # Gemma 3 27B: 5 local (1024) : 1 global -> 10 global of 62
    ("google/gemma-3-27b-it", dict(gpus=1), 10 * 2 * 16 * 128 * 2),
    # hybrids: only full-attention layers grow. Qwen3.5-27B: 16 full of 64, 4 KV heads, hd 256
    ("Qwen/Qwen3.5-27B", dict(gpus=1), 16 * 2 * 4 * 256 * 2),
    # Qwen3-Next 80B: 12 full of 48, 2 KV heads, TP2 -> 1 head: 12 x 2 x 1 x 256 x 2
    ("Qwen/Qwen3-Next-80B-A3B-Thinking", dict(gpus=2, tp=2), 12 * 2 * 1 * 256 * 2),
    # Qwen3.5-397B TP2 x PP2: stages of 30 layers; the 2nd stage holds 8 full layers (31, 35, ..., 59)
    ("Qwen/Qwen3.5-397B-A17B", dict(gpus=4, tp=2, pp=2), 8 * 2 * 1 * 256 * 2),
    # Nemotron-H: 10 attention layers ('*') among 118
    ("nvidia/Nemotron-H-56B-Base-8K", dict(gpus=1), 10 * 2 * 8 * 128 * 2),
    # Nemotron-Super (DeciLM): 49 of 80 layers keep attention, 64 heads / 8 per group = 8 KV heads
    ("nvidia/Llama-3_3-Nemotron-Super-49B-v1", dict(gpus=1), 49 * 2 * 8 * 128 * 2),
    # NVFP4 checkpoint declaring an FP8 KV scheme: auto -> fp8 (1 byte)
    ("nvidia/MiniMax-M2.5-NVFP4", dict(gpus=2, tp=2), 62 * 2 * 4 * 128 * 1),
    ("zai-org/GLM-4.7", dict(gpus=8, tp=8, dcp=1), 92 * 2 * 1 * 128 * 2),
    ("mistralai/Mixtral-8x7B-v0.1", dict(gpus=2, tp=2), 32 * 2 * 4 * 128 * 2),
]


@pytest.mark.parametrize("model_id,kw,expected", KV_CASES, ids=[f"{c[0]}-{c[1]}" for c in KV_CASES])
def test_kv_bytes_per_token(model_id, kw, expected):
    assert kv_per_token(model_id, **kw) == expected


def test_kv_cases_cover_fifteen_architectures():
    archs = {from_config(source(m).config, m).architecture for m, _, _ in KV_CASES}
    assert len(archs) >= 15, archs


def test_linear_attention_and_mamba_state_per_layer():
    # Qwen3-Next (notes 4.5): conv_dim = 128*16*2 + 128*32 = 8192; TP2: 4096 x (kernel 4 - 1) x 2 B = 24,576;
    # recurrent (32/2) x 128 x 128 x 2 B = 524,288 -> 548,864 B per layer per sequence
    f = from_config(source("Qwen/Qwen3-Next-80B-A3B-Thinking").config, "q")
    assert memory.state_bytes_per_layer(f, 2) == 24_576 + 524_288
    # Qwen3.5-27B TP1, SSM state float32: conv 10240 x 3 x 2 = 61,440; recurrent 48 x 128 x 128 x 4 = 3,145,728
    f = from_config(source("Qwen/Qwen3.5-27B").config, "q")
    assert memory.state_bytes_per_layer(f, 1) == 61_440 + 3_145_728
    # Nemotron-H Mamba2: conv (256*64 + 2*8*256) x 3 x 2 = 122,880; recurrent 256 x 64 x 256 x 2 = 8,388,608
    f = from_config(source("nvidia/Nemotron-H-56B-Base-8K").config, "n")
    assert memory.state_bytes_per_layer(f, 1) == 122_880 + 8_388_608


def test_hybrid_state_per_sequence_uses_vllm_page_alignment():
    # Qwen3-Next TP2: buckets 12 full / 36 linear -> group size 12, 3 linear groups. Attention per token per layer
    # = 1 head x 2 x 256 x 2 = 1,024 B; block grown to 16 * cdiv(548,864, 16 * 1,024) = 544 tokens; page =
    # 544 x 1,024 = 557,056 B; per sequence: 3 groups x 2 blocks (prefix-caching "align" mode) x 12 x page.
    d = plan("Qwen/Qwen3-Next-80B-A3B-Thinking", gpus=2, tp=2, gpu_memory_bytes=BIG).to_dict()
    assert d["memory"]["state_bytes_per_sequence"] == 3 * 2 * 12 * 544 * 1024


def test_pipeline_layer_split_follows_vllm():
    # 61 layers over 3 stages: 20 each, remainder to stage pp-2 -> [20, 21, 20]
    assert [len(r) for r in memory.stage_layers(61, 3)] == [20, 21, 20]
    # 62 over 4: 15 each, remainder 2 to stages 2 and 1 -> [15, 16, 16, 15]
    assert [len(r) for r in memory.stage_layers(62, 4)] == [15, 16, 16, 15]


# --- the handbook's two examples -------------------------------------------------------------------------------
def test_handbook_minimax_on_four_a100():
    d = plan("MiniMaxAI/MiniMax-M2.5", gpu_type="A100-80GB", context=262144).to_dict()
    assert d["fits"] is True
    assert d["gpu"]["count"] == 4 and d["gpu"]["resource"] == "nvidia.com/a100"
    assert d["parallelism"] == {"tensor": 4, "pipeline": 1, "decode_context": 1, "data": 1, "expert": False}
    assert d["resources"]["cpu"] == "10"                           # 2 x 4 + 2
    assert {"key": "nautilus.io/hardware", "operator": "Equal", "value": "large-gpu",
            "effect": "NoSchedule"} in d["scheduling"]["tolerations"]
    s = d["serving"]
    assert s["tool_call_parser"] == "minimax_m2" and s["reasoning_parser"] == "minimax_m2"
    assert s["hf_overrides"] == {"max_position_embeddings": 262144, "rope_scaling": {
        "type": "dynamic", "factor": 1.5, "original_max_position_embeddings": 196608}}
    args = s["args"]
    i = args.index("--hf-overrides")
    assert args[i + 1] == ('{"max_position_embeddings": 262144, "rope_scaling": {"type": "dynamic", "factor": 1.5, '
                           '"original_max_position_embeddings": 196608}}')
    for flag in ("--trust-remote-code", "--enable-chunked-prefill", "--enable-prefix-caching",
                 "--enable-auto-tool-choice"):
        assert flag in args
    assert "--enforce-eager" not in args
    assert args[args.index("--max-model-len") + 1] == "262144"
    assert args[args.index("--tensor-parallel-size") + 1] == "4"
    assert args[args.index("--port") + 1] == "5000"


def test_handbook_qwen35_fp8_on_four_h200():
    d = plan("Qwen/Qwen3.5-397B-A17B-FP8", gpu_type="H200", gpus=4, context=1010000).to_dict()
    assert d["fits"] is True
    assert (d["parallelism"]["tensor"], d["parallelism"]["pipeline"], d["parallelism"]["decode_context"]) == (2, 2, 1)
    expected = ('{"text_config": {"max_position_embeddings": 1010000, "rope_parameters": {"mrope_interleaved": true, '
                '"mrope_section": [11, 11, 10], "rope_type": "yarn", "rope_theta": 10000000, '
                '"partial_rotary_factor": 0.25, "factor": 4.0, "original_max_position_embeddings": 262144}}}')
    args = d["serving"]["args"]
    assert args[args.index("--hf-overrides") + 1] == expected
    assert args[args.index("--max-model-len") + 1] == "1010000"
    # without --gpus the search also lands on 4 H200 as TP2 x PP2 (TP4 would duplicate the 2 KV heads)
    d2 = plan("Qwen/Qwen3.5-397B-A17B-FP8", gpu_type="H200", context=1010000).to_dict()
    assert d2["gpu"]["count"] == 4 and d2["parallelism"]["tensor"] == 2 and d2["parallelism"]["pipeline"] == 2


# --- parallelism rules -----------------------------------------------------------------------------------------
def test_six_gpus_become_tp2_pp3():
    # 64 heads: TP6 and TP3 do not divide them, so 6 GPUs are TP2 x PP3 (handbook's example)
    d = plan("meta-llama/Llama-3.1-70B-Instruct", gpu_type="A40", gpus=6).to_dict()
    assert (d["parallelism"]["tensor"], d["parallelism"]["pipeline"]) == (2, 3)


def test_mla_model_gets_dcp_equal_to_tp():
    d = plan("deepseek-ai/DeepSeek-V3", gpu_type="H200", gpus=8).to_dict()
    assert d["parallelism"]["tensor"] == 8 and d["parallelism"]["decode_context"] == 8
    assert d["parallelism"]["expert"] is True                    # the DeepSeek recipe asks for EP


def test_fp8_block_needs_expert_parallel_at_tp8():
    # Qwen3-235B-FP8: moe_intermediate 1536 / 8 = 192, not a multiple of the FP8 block 128 -> EP keeps experts whole
    d = plan("Qwen/Qwen3-235B-A22B-FP8", gpu_type="H100-80GB", gpus=8, tp=8).to_dict()
    assert d["parallelism"]["expert"] is True
    d4 = plan("Qwen/Qwen3-235B-A22B-FP8", gpu_type="H200", gpus=4, tp=4).to_dict()   # 1536/4 = 384 = 3 x 128
    assert d4["parallelism"]["expert"] is False


def test_forced_values_refused_with_reason():
    with pytest.raises(UsageError, match="does not divide"):      # flags the model refuses: usage errors
        plan("Qwen/Qwen3-8B", gpu_type="A100-80GB", gpus=3, tp=3)
    with pytest.raises(PlanError, match="decode-context-parallel"):
        plan("Qwen/Qwen3.5-27B", gpu_type="A100-80GB", gpus=8, tp=8, dcp=2)
    with pytest.raises(UsageError, match="not --gpus 4"):
        plan("Qwen/Qwen3-8B", gpus=4, tp=2, pp=3)
    with pytest.raises(UsageError):
        plan("Qwen/Qwen3-8B", gpu_type="H200", gpu_memory_bytes=10)


def test_does_not_fit_reports_reason_and_max_context():
    p = plan("meta-llama/Llama-3.1-70B-Instruct", gpu_type="A100-80GB", gpus=1)
    d = p.to_dict()
    assert d["fits"] is False
    assert "exceed" in d["gpu"]["candidates"]["A100-80GB"]       # 131 GiB of weights on one 79 GiB card
    p2 = plan("meta-llama/Llama-3.1-70B-Instruct", gpu_type="A100-80GB", gpus=2)
    d2 = p2.to_dict()
    # 2 x A100: 65.7 GiB weights/GPU leaves ~7 GiB KV: fewer than 131072 tokens x 160 KiB/token/GPU
    assert d2["fits"] is False and 0 < d2["memory"]["max_context_that_fits"] < 131072


def test_no_gpu_type_picks_least_gpu_memory():
    d = plan("openai/gpt-oss-20b").to_dict()
    assert d["fits"] and d["gpu"]["count"] == 1
    assert d["gpu"]["memory_bytes"] < 48 * 2**30                 # a 24-48 GB card, not an 80 GB one
    assert d["gpu"]["product"] is None                           # not named: memory affinity only


# --- context ---------------------------------------------------------------------------------------------------
def test_qwen3_card_yarn_over_32768():
    d = plan("Qwen/Qwen3-8B", gpu_type="A100-80GB", context=131072).to_dict()
    assert d["serving"]["hf_overrides"] == {"max_position_embeddings": 131072, "rope_scaling": {
        "rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}


def test_context_rules():
    with pytest.raises(PlanError, match="above the native"):
        plan("Qwen/Qwen3-8B", max_model_len=100000)
    with pytest.raises(PlanError, match="llama3"):
        plan("meta-llama/Llama-3.1-8B-Instruct", context=262144)
    d = plan("Qwen/Qwen3-8B", gpu_type="A100-80GB", max_model_len=8192).to_dict()
    assert d["serving"]["max_model_len"] == 8192 and d["serving"]["hf_overrides"] is None
    # DeepSeek already uses YaRN (factor 40 over 4096 = 163840, its card's maximum): not silently re-scaled to 80
    with pytest.raises(PlanError, match="already uses YaRN factor 40"):
        plan("deepseek-ai/DeepSeek-V3", gpu_type="H200", gpus=8, context=327680)


# --- Kubernetes sizing -----------------------------------------------------------------------------------------
def test_sizing_rules():
    d = plan("Qwen/Qwen3-32B", gpu_type="L40S", gpus=2).to_dict()
    assert d["resources"]["cpu"] == "6"                            # 2 x 2 + 2
    keys = {t["key"] for t in d["scheduling"]["tolerations"]}
    assert "nautilus.io/hardware" not in keys                     # only 4 or 8 GPUs
    aff = {e["key"]: e for e in d["scheduling"]["node_affinity"]}
    assert aff["nvidia.com/gpu.product"]["values"] == ["NVIDIA-L40S"]
    assert aff["nvidia.com/gpu.memory"] == {"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["45000"]}
    assert aff["nvidia.com/cuda.driver.major"]["values"] == ["565"]
    w = d["model"]["weight_bytes"]
    gi = 2**30
    # memory request 55 % / limit 110 % of the weights, PVC 15 % over them (whole Gi, 8 Gi steps above 64)
    assert d["resources"]["memory_request"] == f"{-(-int(w * 0.55) // gi)}Gi"
    assert int(d["resources"]["storage"][:-2]) * gi >= 1.10 * w
    assert int(d["resources"]["storage"][:-2]) * gi <= 1.20 * w + 8 * gi


# --- every model plans or fails with a reason; JSON contract ---------------------------------------------------
CONTRACT = {
    "model": {"id", "architecture", "weight_bytes", "weight_bytes_source", "quantization", "native_context"},
    "gpu": {"type", "memory_bytes", "count", "resource", "product"},
    "parallelism": {"tensor", "pipeline", "decode_context", "data", "expert"},
    "memory": {"weights_per_gpu_bytes", "kv_bytes_per_token", "state_bytes_per_sequence", "kv_cache_bytes_per_gpu",
               "kv_cache_tokens", "max_concurrency", "overhead_bytes_per_gpu", "margin_bytes", "overhead"},
    "serving": {"engine", "image", "max_model_len", "gpu_memory_utilization", "max_num_seqs", "hf_overrides",
                "tool_call_parser", "reasoning_parser", "trust_remote_code", "args"},
    "resources": {"cpu", "memory_request", "memory_limit", "storage", "storage_class"},
    "scheduling": {"node_affinity", "tolerations", "priority_class"},
    "route": {"name", "served_model_name", "timeout"},
}


@pytest.mark.parametrize("model_id", catalog.model_ids())
def test_every_catalog_model_plans(model_id):
    try:
        p = plan(model_id)
    except LlmError as e:                       # allowed: a clear reason
        assert e.message and e.hint is not None
        return
    d = json.loads(json.dumps(p.to_dict()))    # JSON-serialisable
    assert {"fits", "reasons", "warnings"} <= set(d)
    for section, keys in CONTRACT.items():
        assert keys <= set(d[section]), (section, keys - set(d[section]))
    assert isinstance(d["parallelism"]["expert"], bool)
    if d["fits"]:
        assert d["memory"]["kv_cache_tokens"] >= d["serving"]["max_model_len"]
    else:
        assert d["reasons"] and any(d["gpu"]["candidates"].values())


def test_sglang_equivalent():
    d = plan("Qwen/Qwen3-8B", gpu_type="A100-80GB", engine="sglang").to_dict()
    a = d["serving"]["args"]
    assert d["serving"]["image"].startswith("lmsysorg/sglang")
    assert a[a.index("--model-path") + 1] == "Qwen/Qwen3-8B" and a[a.index("--tp-size") + 1] == "1"
    assert a[a.index("--context-length") + 1] == "40960"
    assert a[a.index("--tool-call-parser") + 1] == "qwen25"


# --- the planner stays pure ------------------------------------------------------------------------------------
FORBIDDEN = {"kubernetes", "huggingface_hub", "pyhelm3", "subprocess", "socket", "requests", "urllib", "httpx"}


def test_planner_imports_no_io():
    root = Path(__file__).resolve().parents[1] / "kubectl_llm" / "planner"
    for py in root.glob("*.py"):
        tree = ast.parse(py.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in FORBIDDEN, f"{py.name} imports {n}"


SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"


@pytest.mark.skipif(not SHARED_MODELS.is_dir(), reason="../shared/models not beside the checkout")
@pytest.mark.parametrize("folder", sorted(p.name for p in SHARED_MODELS.glob("*/")) if SHARED_MODELS.is_dir() else [])
def test_every_shared_config_plans_or_fails_with_reason(folder):
    # the raw reference configs as found (incl. the ABRIDGED MiniMax copy and Nemotron-H's bare `Infinity`)
    config = json.loads((SHARED_MODELS / folder / "config.json").read_text())
    meta = json.loads((SHARED_MODELS / folder / "meta.json").read_text())
    try:
        d = make_plan(ModelSource(meta["model_id"], config, None, "local"), PlanRequest()).to_dict()
    except LlmError as e:
        assert e.message
        return
    assert isinstance(d["fits"], bool) and d["reasons"]


# Parser names (vLLM and SGLang) against the engines' registries and pinned versions: tests/test_parsers.py.
