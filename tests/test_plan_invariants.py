"""A plan that says fits must start on the first try: the invariant sweep (tests/plan_invariants.py) on a sample, and
the defects it found, each with its hand-computed numbers.

The whole sweep (~18,000 plans: catalog + ../shared/models x every GPU type of the NRP site x vLLM / SGLang x
contexts x GPU counts x forced flags, ~2.5 min) runs with ``python -m tests.plan_invariants``; here a fixed sample
of it, plus the requests that found the defects below.
"""

from __future__ import annotations

import json

import pytest

from kubectl_llm import catalog
from kubectl_llm.errors import LlmError, PlanError
from kubectl_llm.planner.facts import from_config
from kubectl_llm.planner.memory import Layout, layer_kv_bytes_per_token, stage_kv, state_bytes_per_layer
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.request import PlanRequest
from tests import plan_invariants as inv

SAMPLE = 1500          # plans of ~19,600 (no-fit hints replayed too); ~10 s alone on one core


def _plan(model_id: str, **req):
    src = catalog.load(model_id)
    assert src is not None, model_id
    return src, make_plan(src, PlanRequest(**req))


def test_a_sample_of_the_sweep_keeps_every_engine_and_cluster_rule():
    n, found, counts = inv.sweep(SAMPLE)
    assert n == SAMPLE and counts["fits"] > SAMPLE // 3, counts
    assert not found, "\n".join(f"{m} {json.dumps(r)}: {v}" for m, r, v in found[:20])


# the requests that found the defects below (all fit and break a rule before the fixes)
FOUND = [
    ("meta-llama/Llama-3.1-8B-Instruct", {"engine": "vllm", "gpu_type": "L40S", "dcp": 2, "gpus": 8}),
    ("Qwen/Qwen3-235B-A22B", {"engine": "vllm", "gpu_type": "H100-80GB", "dcp": 4, "gpus": 8}),
    ("Qwen/Qwen3.5-27B", {"engine": "vllm", "gpu_type": "H100-80GB", "max_num_seqs": 512}),
    ("Qwen/Qwen3.5-397B-A17B-FP8", {"engine": "vllm", "gpu_type": "A10"}),
    ("mistralai/Mixtral-8x7B-v0.1", {"engine": "sglang", "gpu_type": "A10", "data_parallel": 8}),
    ("mistralai/Mixtral-8x7B-v0.1", {"engine": "vllm", "gpu_type": "A10", "data_parallel": 8}),
    ("zai-org/GLM-4.7", {"engine": "sglang", "gpu_type": "H100-80GB", "data_parallel": 8}),
    ("Qwen/Qwen3-8B", {"engine": "vllm", "gpu_type": "L40S", "max_num_seqs": 4096}),
]


@pytest.mark.parametrize("model_id,req", FOUND, ids=[f"{m}-{'-'.join(map(str, r.values()))}" for m, r in FOUND])
def test_the_requests_that_found_defects_keep_the_rules(model_id, req):
    src = catalog.load(model_id)
    try:
        plan = make_plan(src, PlanRequest(**req))
    except LlmError as e:
        assert e.message and e.hint
        return
    assert inv.violations(plan, req, dict(src.config)) == []


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


# --- Mamba cache blocks of hybrid models ------------------------------------------------------------------------------
def test_hybrid_max_num_seqs_stays_within_the_mamba_cache_blocks_by_hand():
    # vLLM: "ValueError: max_num_seqs (N) exceeds available Mamba cache blocks (M). Each decode sequence requires one
    # Mamba cache block, so CUDA graph capture cannot proceed". Qwen3.5-27B at TP 1 (16 full-attention + 48 Gated
    # DeltaNet layers): full layer 2 x 4 KV heads x 256 x 2 B = 4096 B a token; a DeltaNet state (conv (2 x 16 x 128
    # + 48 x 128) x (4 - 1) x 2 B = 61,440 + fp32 SSM 48 x 128 x 128 x 4 B = 3,145,728) = 3,207,168 B; the attention
    # block grows to 16 x ceil(3,207,168 / (16 x 4096)) = 784 tokens, a page of 784 x 4096 = 3,211,264 B, and a
    # block id spans the 16 layers of a group: 16 x 3,211,264 = 51,380,224 B.
    src = catalog.load("Qwen/Qwen3.5-27B")
    f = from_config(src.config, src.model_id)
    assert state_bytes_per_layer(f, 1) == 61_440 + 3_145_728
    assert layer_kv_bytes_per_token(f, 1, 2.0, 3) == 4096
    kv = stage_kv(f, Layout(tp=1), 2.0, range(f.num_layers), 8192)
    assert (kv.block_size, kv.bytes_per_block) == (784, 51_380_224)
    # --max-num-seqs 512 on one H100 was `fits: true`: its KV memory holds ~342 blocks (341 after the null block)
    _, one = _plan("Qwen/Qwen3.5-27B", gpu_type="H100-80GB", gpus=1, max_num_seqs=512)
    blocks = one.best.kv_cache_bytes // 51_380_224
    assert not one.fits and f"max-num-seqs 512 exceeds the {blocks - 1} Mamba cache blocks" in one.best.why
    assert one.best.seqs_cap == blocks - 1 and 300 < blocks - 1 < 512
    assert f"this layout holds {blocks - 1}: try --max-num-seqs {blocks - 1}" in one.fit_hint()
    # without --gpus the search goes on to the next count (TP 2: more blocks than sequences)
    _, two = _plan("Qwen/Qwen3.5-27B", gpu_type="H100-80GB", max_num_seqs=512)
    assert two.fits and two.best.layout.gpus == 2 and two.best.seqs_cap >= 512
    # an automatic max-num-seqs is capped by the blocks: a power of two from the KV tokens, then the cap
    _, auto = _plan("Qwen/Qwen3.5-397B-A17B-FP8", gpu_type="A10")
    assert auto.fits and auto.best.max_num_seqs <= auto.best.seqs_cap


def test_sglang_hybrid_plans_get_no_mamba_cap():
    # SGLang keeps its Mamba pool apart from the KV pool: the vLLM rule is not applied to it
    _, p = _plan("Qwen/Qwen3.5-27B", engine="sglang", gpu_type="H100-80GB")
    assert p.fits and p.best.seqs_cap is None


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


# --- max-num-batched-tokens >= max-num-seqs ---------------------------------------------------------------------------
def test_a_forced_max_num_seqs_above_vllms_default_batch_raises_the_batch_by_hand():
    # vLLM's default max-num-batched-tokens on an L40S (44.4 GiB < 70 GiB) is 2048, and SchedulerConfig refuses
    # max_num_batched_tokens (2048) < max_num_seqs (4096). The plan passed --max-num-seqs 4096 alone; now it also
    # passes --max-num-batched-tokens 4096 and profiles the 4096-token batch.
    _, p = _plan("Qwen/Qwen3-8B", gpu_type="L40S", max_num_seqs=4096)
    args = p.to_dict()["serving"]["args"]
    assert args[args.index("--max-num-batched-tokens") + 1] == "4096"
    assert p.best.overhead.tokens == 4096
    assert any("max-num-batched-tokens 4096: raised to --max-num-seqs" in r for r in p.reasons)
    # on an H100 the default (8192) already holds 4096 sequences: nothing is added
    _, h = _plan("Qwen/Qwen3-8B", gpu_type="H100-80GB", max_num_seqs=4096)
    assert "--max-num-batched-tokens" not in h.to_dict()["serving"]["args"]
    # SGLang has no such rule (its --max-running-requests is not bounded by the chunk)
    _, s = _plan("Qwen/Qwen3-8B", engine="sglang", gpu_type="L40S", max_num_seqs=4096)
    assert "--chunked-prefill-size" not in s.to_dict()["serving"]["args"]


# --- a no-fit hint names only changes that make the plan fit ---------------------------------------------------------
def test_a_no_fit_hint_names_only_changes_that_fit_by_hand():
    # Llama-3.1-405B on 16 A10s: 47.2 GiB of weights per GPU. The hint offered "more --gpus (up to 64)", but no count
    # of A10s up to 64 holds the model (planned without --gpus: no fit), and named the first card whose 0.95 x memory
    # exceeds weights + overhead. Now every tip is planned first: A6000 x 16 (0.91 x 47.4 GiB < 47.2 + 3.8 GiB) does
    # not fit, H100-80GB x 16 does, so the hint names H100-80GB and no more GPUs.
    _, p = _plan("meta-llama/Llama-3.1-405B", gpu_type="A10", gpus=16)
    hint = p.fit_hint()
    assert not p.fits and "--gpus" not in hint and "(--gpu H100-80GB)" in hint
    assert not _plan("meta-llama/Llama-3.1-405B", gpu_type="A10")[1].fits
    assert not _plan("meta-llama/Llama-3.1-405B", gpu_type="A6000", gpus=16)[1].fits
    assert _plan("meta-llama/Llama-3.1-405B", gpu_type="H100-80GB", gpus=16)[1].fits
    # MiniMax-M2.5 on SGLang with --max-num-seqs 4096 on A10s: the sampler's logits of 4096 rows fill the budget. The
    # hint offered the same card ("a larger GPU (--gpu A10)") and lifting SGLang's cap, neither of which fits; now it
    # names leaving --max-num-seqs to the plan, which fits
    _, m = _plan("MiniMaxAI/MiniMax-M2.5", engine="sglang", gpu_type="A10", max_num_seqs=4096)
    hint = m.fit_hint()
    assert "--max-num-seqs left to the plan" in hint and "(--gpu A10)" not in hint and "lifts the cap" not in hint
    assert _plan("MiniMaxAI/MiniMax-M2.5", engine="sglang", gpu_type="A10")[1].fits
    # nothing the planner can replay fits: the hint says so and names what is left
    _, k = _plan("moonshotai/Kimi-K2-Instruct", gpu_type="A10", gpus=8)
    assert "no change kubectl llm can plan on A10 makes it fit (more --gpus (up to 64: 8 nodes of 8) would not fit " \
           "either)" in k.fit_hint()
