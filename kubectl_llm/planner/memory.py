"""The memory model: what vLLM will put on each GPU for a given layout, and whether max-model-len fits.

Follows ``notes/vllm-memory-model.md`` (vLLM 0.10-0.33 V1 engine):

* weights per GPU: dense parts / TP, routed experts / (TP x DP), embeddings on the first PP stage, lm_head on the
  last, vision tower replicated when served with ``--mm-encoder-tp-mode data``; the most loaded stage counts;
* KV bytes per token per GPU: ``layers_on_stage x 2 x max(1, kv_heads // TP) x head_dim x dsz`` (replication when
  TP > KV heads); MLA: ``layers x (kv_lora_rank + qk_rope_head_dim) x dsz`` replicated on every TP rank, plus DSA's
  indexer K cache (``indexer_bytes_per_token``); DCP divides the tokens a rank stores by D;
* per-sequence state of linear-attention (GDN) and Mamba2 layers, with vLLM's hybrid page alignment;
* the hybrid KV manager's grouping (group size = smallest bucket, padded groups share one block pool);
* available KV = total x utilisation - weights - overhead, the overhead a function of the model, the layout, the
  engine's batch limits and its version (``overhead``: activation / sampler peak, non-torch, safety margin, and
  CUDA graphs from vLLM 0.21 on; before 0.21 they must fit the (1 - utilisation) slack, which also holds the
  start-up baseline and the sampler warm-up after the graphs).
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kubectl_llm.planner.facts import (CHUNKED, FULL, LINEAR, MAMBA, MLA, NONE, SLIDING, ModelFacts, dtype_bytes)
from kubectl_llm.planner.quantity import GiB, MiB

BLOCK_SIZE = 16                      # vLLM CacheConfig.DEFAULT_BLOCK_SIZE
MAX_NUM_BATCHED_TOKENS = 8192        # `vllm serve` default with chunked prefill on datacenter GPUs
GROWING = (FULL, MLA)                # layers whose KV grows with the context


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Layout:
    tp: int = 1
    pp: int = 1
    dcp: int = 1
    dp: int = 1
    ep: bool = False

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.dp


@dataclass(frozen=True)
class WeightParts:
    """Checkpoint bytes split the way parallelism shards them (scaled to the real total)."""

    total: int
    embeddings: int
    lm_head: int
    vision: int
    experts: int           # routed experts, all layers
    layers: int            # everything else that lives in decoder layers (attention, dense MLP, norms, mamba)

    @classmethod
    def from_estimate(cls, total: int, parts: dict[str, int], est_total: int) -> "WeightParts":
        scale = total / est_total if est_total else 1.0
        emb = int(parts.get("embeddings", 0) * scale)
        head = int(parts.get("lm_head", 0) * scale)
        vision = int((parts.get("vision", 0) + parts.get("multimodal_projector", 0)) * scale)
        experts = int(parts.get("experts", 0) * scale)
        layers = max(0, total - emb - head - vision - experts)
        return cls(total=total, embeddings=emb, lm_head=head, vision=vision, experts=experts, layers=layers)


def stage_layers(n_layers: int, pp: int) -> list[range]:
    """vLLM's get_pp_indices: equal split; the remainder goes one layer each to stages pp-2, pp-3, ..."""
    per, rem = divmod(n_layers, pp)
    sizes = [per] * pp
    i = pp - 2
    while rem > 0 and i >= 0:
        sizes[i] += 1
        rem -= 1
        i -= 1
    if rem:                               # pp == 1 cannot have a remainder; pp == 2 with rem 1 handled above
        sizes[-1] += rem
    out, start = [], 0
    for s in sizes:
        out.append(range(start, start + s))
        start += s
    return out


def kv_heads_per_gpu(facts: ModelFacts, tp: int, layer: int | None = None) -> int:
    if facts.uses_mla:
        return 1
    total = facts.num_kv_heads
    if facts.kv_heads_per_layer is not None and layer is not None:
        total = facts.kv_heads_per_layer[layer]
        if total == 0:
            return 0
    return max(1, total // tp)


INDEXER_QUANT_BLOCK = 128            # vLLM's DSA Indexer: self.quant_block_size = 128 (one fp32 scale per 128 values)


def indexer_bytes_per_token(facts: ModelFacts) -> int:
    """DSA's lightning-indexer K cache, per token and layer, on every GPU (0 without DSA).

    vLLM (model_executor/models/deepseek_v2.py, Indexer): ``self.k_cache = DeepseekV32IndexerCache(head_dim=
    self.head_dim + self.head_dim // self.quant_block_size * 4, dtype=torch.uint8, ...)`` ("we use fp8 naive cache,
    where we store value in fp8 and scale in fp32 per quant_block_size element"), whose ``get_kv_cache_spec`` is an
    ``MLAAttentionSpec(num_kv_heads=1, head_size=head_dim, dtype=dtype)``: index_head_dim FP8 bytes + 4 bytes of
    scale per 128 values, one head, replicated on every TP rank, whatever --kv-cache-dtype is. index_head_dim 128:
    132 B per token per layer."""
    d = facts.index_head_dim
    return d + d // INDEXER_QUANT_BLOCK * 4 if d else 0


def fp8_ds_mla_bytes_per_token(facts: ModelFacts) -> int:
    """DSA with an FP8 KV cache: vLLM turns --kv-cache-dtype fp8* into its own "fp8_ds_mla" layout
    (model_executor/models/config.py, DeepseekV32ForCausalLM.verify_and_update_config: "if
    cache_config.cache_dtype.startswith("fp8"): cache_config.cache_dtype = "fp8_ds_mla""), whose page is
    ``block_size * 656`` (MLAAttentionSpec.real_page_size_bytes): the 512-value latent in FP8, one fp32 scale per 128
    of them, the 64 RoPE values kept in 16 bits (512 + 16 + 128 = 656)."""
    return facts.kv_lora_rank + facts.kv_lora_rank // INDEXER_QUANT_BLOCK * 4 + facts.qk_rope_head_dim * 2


def layer_kv_bytes_per_token(facts: ModelFacts, tp: int, kv_dsz: float, layer: int) -> float:
    """Bytes one GPU stores per token for one attention layer (before DCP)."""
    kind = facts.layer_kinds[layer]
    if kind == MLA:                                          # one latent head, replicated on every TP rank
        if facts.index_head_dim and kv_dsz == 1:
            return fp8_ds_mla_bytes_per_token(facts) + indexer_bytes_per_token(facts)
        return facts.head_dim * kv_dsz + indexer_bytes_per_token(facts)     # (+ DSA's indexer K cache)
    if kind in (FULL, SLIDING, CHUNKED):
        return 2 * kv_heads_per_gpu(facts, tp, layer) * facts.head_dim * kv_dsz
    return 0


def state_bytes_per_layer(facts: ModelFacts, tp: int) -> int:
    """Fixed per-sequence state of one linear-attention / Mamba2 layer on one GPU (conv + recurrent state)."""
    act = dtype_bytes(facts.dtype)
    ssm = dtype_bytes(facts.ssm_state_dtype)
    if LINEAR in facts.layer_kinds:
        conv_dim = (facts.linear_key_head_dim * facts.linear_num_key_heads * 2
                    + facts.linear_value_head_dim * facts.linear_num_value_heads)
        conv = (conv_dim // tp) * (facts.linear_conv_kernel_dim - 1) * act
        rec = (facts.linear_num_value_heads // tp) * facts.linear_value_head_dim * facts.linear_key_head_dim * ssm
        return int(conv + rec)
    if MAMBA in facts.layer_kinds:
        inter = facts.mamba_num_heads * facts.mamba_head_dim
        groups = facts.mamba_n_groups if facts.mamba_n_groups % tp == 0 else tp
        conv = ((inter + 2 * groups * facts.mamba_state_size) // tp) * (facts.mamba_conv_kernel - 1) * act
        rec = (facts.mamba_num_heads // tp) * facts.mamba_head_dim * facts.mamba_state_size * ssm
        return int(conv + rec)
    return 0


@dataclass(frozen=True)
class StageKV:
    """KV accounting of one pipeline stage (every GPU of a stage is alike)."""

    growing_bytes_per_token: float     # FULL + MLA layers, before DCP
    bytes_per_block: int               # one block id across the pool (all layers of a group / uniform model)
    block_size: int                    # tokens per block (hybrid mamba models get an aligned, larger block)
    blocks_for: Callable[[int], int]   # L -> blocks one request of length L needs
    state_bytes_per_sequence: int      # linear/mamba state per sequence (after page padding)


def stage_kv(facts: ModelFacts, layout: Layout, kv_dsz: float, layers: range,
             max_num_batched_tokens: int = MAX_NUM_BATCHED_TOKENS, prefix_caching: bool = True) -> StageKV:
    tp, dcp = layout.tp, layout.dcp
    per_layer = {i: layer_kv_bytes_per_token(facts, tp, kv_dsz, i) for i in layers}
    growing = sum(per_layer[i] for i in layers if facts.layer_kinds[i] in GROWING)
    buckets: dict[str, list[int]] = {}
    for i in layers:
        k = facts.layer_kinds[i]
        if k == NONE or (k in (FULL, SLIDING, CHUNKED, MLA) and per_layer[i] == 0):
            continue
        buckets.setdefault(k, []).append(i)
    bs = BLOCK_SIZE
    window, chunk = facts.sliding_window or 0, facts.chunk_size or 0     # set whenever a layer is SLIDING / CHUNKED
    state_layer = state_bytes_per_layer(facts, tp)
    attn_layers = [i for k, v in buckets.items() if k not in (LINEAR, MAMBA) for i in v]
    attn_tok = max((per_layer[i] for i in attn_layers), default=0)

    if len(buckets) <= 1 and not (set(buckets) & {LINEAR, MAMBA}):
        # uniform: one group holding every layer of the stage; a block spans all of them
        bytes_per_block = int(sum(per_layer[i] for i in attn_layers) * bs)
        kind = next(iter(buckets), FULL)

        def blocks_for(L: int) -> int:
            if kind == SLIDING:
                return cdiv(min(window - 1 + max_num_batched_tokens, L), bs) + 1
            if kind == CHUNKED:
                return cdiv(min(chunk + max_num_batched_tokens, L), bs)
            return cdiv(cdiv(L, dcp), bs)

        return StageKV(growing, max(bytes_per_block, 1), bs, blocks_for, 0)

    # hybrid: bucket by kind, group size g = smallest bucket (largest if max < 1.5 x min), padded groups
    sizes = [len(v) for v in buckets.values()]
    g = min(sizes)
    if max(sizes) < 1.5 * min(sizes):
        g = max(sizes)
    if set(buckets) & {LINEAR, MAMBA} and attn_tok:
        align = 16
        bs = align * cdiv(state_layer, int(align * attn_tok))      # attention block grown to fit one state page
    page = int(bs * attn_tok) if attn_tok else state_layer
    groups = {k: cdiv(len(v), g) for k, v in buckets.items()}
    state_blocks = 2 if prefix_caching else 1                     # "align" mamba cache mode with prefix caching

    def hybrid_blocks_for(L: int) -> int:
        total = 0
        for k, n in groups.items():
            if k in GROWING:
                total += n * cdiv(cdiv(L, dcp), bs)
            elif k == SLIDING:
                total += n * (cdiv(min(window - 1 + max_num_batched_tokens, L), bs) + 1)
            elif k == CHUNKED:
                total += n * cdiv(min(chunk + max_num_batched_tokens, L), bs)
            else:
                total += n * state_blocks
        return total

    state_seq = sum(n for k, n in groups.items() if k in (LINEAR, MAMBA)) * state_blocks * g * page
    return StageKV(growing, g * page, bs, hybrid_blocks_for, state_seq)


# --- overhead ------------------------------------------------------------------------------------------------
# Everything vLLM keeps on a GPU besides the weights and the KV cache, per GPU. ARCHITECTURE.md (Planner, step 4)
# gives the formulas with the evidence; tests/test_calibration.py checks them against real start-up logs
# (tests/data/vllm_observed.yaml). The model is built to be pessimistic: a plan that says "fits" must start.
GDN_TRANSIENT_FROM = (0, 26)         # vllm#50780: an mnbt-linear transient charged as graph memory on GDN hybrids
GRAPHS_IN_BUDGET_FROM = (0, 21)      # vLLM >= 0.21 profiles CUDA graphs and subtracts them before sizing the KV cache
V1_PROFILER_FROM = (0, 7)            # V0 (< 0.7) charged ~1.8 GiB of CUDA context as non-torch memory at TP 1
ACT_BYTES = 2                        # bf16 activations
# vLLM's dummy sampler run (v0.17.0, V1 runner), per logit of the R x vocab batch; see sampler_peak_bytes.
SAMPLER_TENSOR_BYTES = (
    ("logits from compute_logits, model dtype, held by _dummy_sampler_run", 2),
    ("Sampler.forward: logits.to(torch.float32); temperature is applied in place (div_)", 4),
    ("apply_top_k_top_p: logits.sort() values, float32", 4),
    ("apply_top_k_top_p: logits.sort() indices, int64", 8),
    ("top-k mask (logits_sort < kth value), bool, alive until the function returns", 1),
    ("top-p: logits_sort.softmax(), float32 (the cumsum is written into it: out=probs_sort)", 4),
    ("top-p mask (probs_sum <= 1 - p), bool", 1),
)
SAMPLER_BYTES_PER_LOGIT = sum(b for _, b in SAMPLER_TENSOR_BYTES)      # 24
# Before vLLM 0.17 the profile's sampler peak was measured, not read from code: Qwen3-14B on H100 with 1024 rows of a
# 151,936 vocabulary profiled a 5.64 GiB torch peak under v0.15.0 and v0.16.0 (2.23 GiB from v0.17.0 on;
# llm-d-planner's accuracy report, tests/data/vllm_overhead_observed.yaml): (5.64 GiB - (8192 + 2048) x 5120 x 2) /
# (1024 x 151936) = 38.25 bytes per logit, rounded up.
SORT_PATH_FROM = (0, 17)
SAMPLER_PRE_0_17_BYTES_PER_LOGIT = 39
# From vLLM 0.18 a batch of >= TRITON_TOPK_TOPP_MIN_ROWS rows is masked in place by a Triton top-k/top-p kernel
# (no sort): what stays alive is the random_sample step's.
TRITON_TOPK_TOPP_FROM = (0, 18)
TRITON_TOPK_TOPP_MIN_ROWS = 8        # apply_top_k_top_p: `if HAS_TRITON and logits.shape[0] >= 8`
SAMPLER_TRITON_TENSOR_BYTES = (
    ("logits from compute_logits, model dtype, held by _dummy_sampler_run", 2),
    ("Sampler.forward: logits.to(torch.float32), masked in place by apply_top_k_top_p_triton", 4),
    ("forward_native: logits.softmax(dim=-1, dtype=torch.float32)", 4),
    ("random_sample: q = torch.empty_like(probs).exponential_()", 4),
)
SAMPLER_TRITON_BYTES_PER_LOGIT = sum(b for _, b in SAMPLER_TRITON_TENSOR_BYTES)      # 14
CONTEXT_BYTES = int(0.5 * GiB)       # CUDA context growth, cuBLAS / attention-backend workspaces
COMM_BYTES = int(0.5 * GiB)          # NCCL communicators, any TP/PP/DP > 1 ...
TP_COMM_BYTES = int(1.0 * GiB)       # ... + tensor-parallel all-reduce workspaces when TP > 1 ...
COMM_BYTES_PER_RANK = int(0.125 * GiB)  # ... plus this per extra rank of the group (x2 both in the V0 profiler)
GRAPH_POOL_BYTES = int(0.25 * GiB)   # CUDA graph pool before vLLM 0.19: a fixed part ...
GRAPH_BYTES_PER_LAYER_SIZE = int(0.6 * MiB)  # ... plus this per (layer on the stage x captured batch size) when the
GRAPH_BYTES_PER_LAYER_SIZE_TP1 = int(0.2 * MiB)  # graphs hold collectives (TP > 1, DP + EP); this without them
GRAPH_BYTES_PER_LAYER_SIZE_PIECEWISE = int(0.57 * MiB)  # ... or this with them before 0.11, PIECEWISE graphs only
FULL_GRAPHS_BY_DEFAULT_FROM = (0, 11)  # vLLM < 0.11: PIECEWISE graphs only ("cudagraph_mode":1) unless hybrid
# From vLLM 0.19 (measured): the pool follows the largest captured batch, not the layer count (see cudagraph_bytes).
GRAPH_BY_CAPTURE_SIZE_FROM = (0, 19)
GRAPH_FIXED_BYTES = int(0.75 * GiB)              # per-graph objects of every captured size, PIECEWISE and FULL ...
GRAPH_BYTES_PER_CAPTURE_TOKEN = 820 * 1024       # 820 KiB ... + the shared pool, sized by the largest captured batch
GRAPH_BYTES_PER_LAYER_GRAPH = 80 * 1024          # ... or, when larger, 80 KiB per layer per captured graph
DEFAULT_MAX_CAPTURE_SIZE = 512       # vLLM: max_cudagraph_capture_size = min(2 x max_num_seqs, 512) ...
CAPTURE_SIZE_OVERRIDES = {"GptOssForCausalLM": 1024}   # ... unless the model's config hook raises it
RUNTIME_RESERVE_BYTES = int(0.25 * GiB)  # V0 (< 0.7) only: allocated after start-up, outside the budget
CONTEXT_BASELINE_BYTES = int(0.5 * GiB)  # V1: in use at vLLM's start-up snapshot, outside the budget (see
STARTUP_NVLINK_TP_BYTES = int(1.5 * GiB)  # startup_baseline_bytes): CUDA context; + TP comm buffers on NVLink Hopper
STARTUP_BYTES_PER_RANK = int(0.2 * GiB)   # ... or this per extra TP rank on other cards
SNAPSHOT_AFTER_COMM_FROM = (0, 11)        # before: the snapshot preceded the distributed init (vllm PR #25359)
MARGIN_BYTES = int(0.5 * GiB)        # rank-to-rank and build-to-build swings of the profiler
BIG_MOE_MARGIN = 0.05                # extra margin: this share of the weights per GPU for large MoE / multimodal


def engine_batch_defaults(gpu_memory_bytes: int, gpu_name: str) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) that vLLM's OpenAI server uses when neither flag is given.

    ``EngineArgs.get_batch_defaults``: a card of >= 70 GiB that is not an A100 gets 8192 tokens / 1024 sequences,
    every other card 2048 / 256. vLLM looks at the device name CUDA reports ("NVIDIA A100-SXM4-80GB"): give
    ``gpu_name`` the type's product labels too, a site may name its A100 pool anything."""
    if gpu_memory_bytes >= 70 * GiB and "a100" not in gpu_name.lower():
        return 8192, 1024
    return 2048, 256


def graphs_in_budget(version: tuple[int, ...]) -> bool:
    """Whether this vLLM version subtracts CUDA-graph memory before sizing the KV cache (on by default from 0.21)."""
    return tuple(version) >= GRAPHS_IN_BUDGET_FROM


FUSED_MOE_CHUNK_SIZE = 32768        # vLLM VLLM_FUSED_MOE_CHUNK_SIZE default (vllm/envs.py: "32768"; later 16 x 1024)


def moe_tokens(tokens: int, dp: int, ep: bool) -> int:
    """Tokens one GPU's MoE layers see in the profile's dummy batch: with expert parallelism over DP ranks every
    rank's batch is gathered onto every rank before the experts run (vLLM's default all2all backends for DP + EP,
    vllm-project/vllm vllm/distributed/device_communicators/all2all.py @e04bcc7f: ``NaiveAll2AllManager.
    naive_multicast`` allocates ``torch.empty((cu_tokens_across_sp_cpu[-1], x.size(1)))`` - the tokens of all DP
    ranks - and ``AgRsAll2AllManager.dispatch_router_logits`` "Gather hidden_states and router_logits from all dp
    ranks" with ``all_gatherv``); every DP rank profiles max-num-batched-tokens at once. So DP x T; else T."""
    return tokens * dp if ep and dp > 1 else tokens


def activation_peak_bytes(facts: ModelFacts, tp: int, tokens: int, ep: bool = False, dp: int = 1) -> int:
    """Forward-pass peak of vLLM's profile run (one dummy batch of ``tokens`` = max_num_batched_tokens), per GPU.

    T = tokens, h = hidden size, a = 2 (bf16), M = moe_tokens (T, or DP x T with DP + EP), C = FUSED_MOE_CHUNK_SIZE:
      hidden states / residual / norm outputs   6 x T x h x a
      attention q + k + v (sharded by TP)       T x (heads + 2 x kv_heads) x head_dim x a / TP
      dense MLP gate + up + act (by TP)         3 x T x intermediate x a / TP
      fused MoE caches (top-k copies)           min(M, max(T, C)) x k x (3 x I_moe / TP' + h) x a, TP' = 1 with EP
      router logits                             M x experts x 4
      DP + EP only: the gathered hidden states and the experts' output before the combine, 2 x M x h x a
    The caches are chunked at C tokens (``fused_experts_impl``: ``M = min(num_tokens, CHUNK_SIZE)``); below C
    tokens (every layout without DP + EP at vLLM's default 8192) the term is the plain T x k x (...) one.
    Evidence for the DP term: Qwen3-Coder-480B-A35B-Instruct-FP8 with DP 8 + EP on 8 x 139.8 GiB cards (vLLM
    0.10.1, recipes#12) left 1.47 GiB less KV memory than the plan without it, the sampler being the larger peak
    there (tests/data/vllm_overhead_observed.yaml)."""
    a = ACT_BYTES
    h = facts.hidden_size
    hidden_states = 6 * tokens * h * a
    qkv = tokens * (facts.num_attention_heads + 2 * max(1, facts.num_kv_heads)) * facts.head_dim * a // tp
    mlp = 3 * tokens * (facts.intermediate_size or 4 * h) * a // tp if not facts.is_moe else 0
    moe = 0
    if facts.is_moe:
        k = max(1, facts.experts_per_token)
        inter = facts.moe_intermediate_size or facts.intermediate_size
        m = moe_tokens(tokens, dp, ep)
        moe = min(m, max(tokens, FUSED_MOE_CHUNK_SIZE)) * k * (3 * inter // (1 if ep else tp) + h) * a
        moe += m * facts.num_experts * 4
        if m > tokens:
            moe += 2 * m * h * a
    return int(hidden_states + qkv + mlp + moe)


def sampler_rows(max_num_seqs: int, tokens: int) -> int:
    """Rows of the dummy sampler batch: the profile's dummy run spreads T tokens over min(max_num_seqs, T) requests
    and samples the last token of each (``GPUModelRunner._dummy_run``: ``num_reqs = min(num_tokens, max_num_reqs)``)."""
    return min(max_num_seqs, tokens)


def sampler_bytes_per_logit(rows: int, version: tuple[int, ...] = (0, 17, 0)) -> int:
    """Bytes alive per logit at the sampler's peak: measured 39 before vLLM 0.17; the sort path (24) in 0.17 and
    for fewer than 8 rows; the Triton top-k/top-p path (14) from 0.18 on."""
    if tuple(version) < SORT_PATH_FROM:
        return SAMPLER_PRE_0_17_BYTES_PER_LOGIT
    if tuple(version) >= TRITON_TOPK_TOPP_FROM and rows >= TRITON_TOPK_TOPP_MIN_ROWS:
        return SAMPLER_TRITON_BYTES_PER_LOGIT
    return SAMPLER_BYTES_PER_LOGIT


def sampler_peak_bytes(facts: ModelFacts, max_num_seqs: int, tokens: int, version: tuple[int, ...] = (0, 17, 0)) -> int:
    """Peak of vLLM's dummy sampler run at the end of the memory profile (last PP stage only), per GPU.

    Follows vLLM's code (V1 engine, CUDA, the default PyTorch sampler; FlashInfer sampling is used only with
    ``VLLM_USE_FLASHINFER_SAMPLER=1``: "FlashInfer top-p/top-k sampling is available but disabled by default" in
    the v0.19.0 logs of tests/data/vllm_overhead_observed.yaml):

    * ``GPUModelRunner.profile_run`` keeps the dummy forward's output (T x h) and its last-token rows (R x h,
      ``hidden_states[logit_indices]``) while ``_dummy_sampler_run`` draws ``torch.rand_like`` of the rows (R x h)
      and computes the logits of the full vocabulary (gathered on every TP rank);
    * the dummy ``SamplingMetadata`` sets temperature 0.5, ``top_p`` 0.9 and ``top_k`` = vocab - 1 on every row,
      ``all_greedy=False``, ``max_num_logprobs=None``: ``Sampler.forward`` casts the logits to float32 and
      ``TopKTopPSampler.forward_native`` runs ``apply_top_k_top_p``
      (``vllm/v1/sample/ops/topk_topp_sampler.py``), which sorts the whole vocabulary. The tensors alive at its
      peak (the top-p step) are SAMPLER_TENSOR_BYTES: 24 bytes per logit.
    * From v0.18.0 (docs.vllm.ai/en/v0.18.0/api/vllm/v1/sample/ops/topk_topp_triton/) ``apply_top_k_top_p``
      sends batches of >= 8 rows to a Triton kernel that masks the float32 logits in place, without the sort:
      the peak is then ``random_sample``'s (softmax probabilities + the exponential noise ``q``),
      SAMPLER_TRITON_TENSOR_BYTES: 14 bytes per logit. The v0.19.0 logs agree: gemma-3-27b-it and
      Llama-4-Scout at 1024 sequences profiled a torch peak of 3.99 / 3.19 GiB, below the sort path's 6.1 / 4.7
      GiB and above the 14-byte path's 3.6 / 2.8 GiB; so does v0.18.0 (Qwen3-14B: 2.23 GiB against 2.13).
    * v0.17.0, the default image: its Qwen3-14B profile peak (2.23 GiB) says the kernel is already there, but the
      kernel could not be confirmed from a stored copy of the v0.17.0 source, and issue 8's MiniMax-M2.5 case (vLLM
      version not given) would be 0.8 GiB optimistic with 14 bytes, so 0.17 keeps the sort path's 24 bytes. At the
      plan's own max-num-seqs (<= 256) that costs <= 0.36 GiB on a 152k vocabulary.
    * Before 0.17 the measured 39 bytes per logit (SAMPLER_PRE_0_17_BYTES_PER_LOGIT), more than the sort path read
      from today's code: the v0.15 / v0.16 profile peak of Qwen3-14B was 5.64 GiB.

    R = min(max_num_seqs, T) rows, a = 2 (bf16), b = 39, 24 or 14 bytes per logit (sampler_bytes_per_logit):
      R x vocab x b  +  (T + 2R) x h x a
    This is the term that makes vLLM's defaults on >= 70 GiB cards (1024 sequences) cost 3-6 GiB on 150-260k
    vocabularies."""
    rows = sampler_rows(max_num_seqs, tokens)
    logits = rows * facts.vocab_size * sampler_bytes_per_logit(rows, version)
    hidden = (tokens + 2 * rows) * facts.hidden_size * ACT_BYTES
    return int(logits + hidden)


def encoder_bytes(facts: ModelFacts, tokens: int) -> int:
    """One dummy multimodal batch through the vision encoder (the encoder budget is >= max_num_batched_tokens
    embeddings): 2 GiB + 12 live copies of T x h. Thin evidence (27B VLM: 2.2-2.8 GiB at T = 2048), hence the
    extra margin and a warning for multimodal models."""
    if not facts.multimodal:
        return 0
    return int(2 * GiB + 12 * tokens * facts.hidden_size * ACT_BYTES)


TP_COMM_FROM_COMPUTE = 9.0           # Hopper and later: where the TP_COMM_BYTES evidence is (see non_torch_bytes)


def non_torch_bytes(layout: Layout, version: tuple[int, ...] = (0, 17, 0), gpu_compute: float = 0.0) -> int:
    """CUDA context growth and workspaces (CONTEXT_BYTES) + communication buffers when the worker talks to others:
    COMM_BYTES + COMM_BYTES_PER_RANK x (ranks - 1), ranks = TP x PP x DP. The V0 profiler (< 0.7) counted far more:
    1.8 GiB of context at TP 1 and 1.8 GiB more at TP 2 (vllm#10511), so both parts are 1.8 GiB / x2 there.

    + TP_COMM_BYTES when TP > 1 on a GPU of compute >= 9.0 (or an unknown one): vLLM 0.19.0 on H100 measured a
    non-torch increase of 0.25 GiB at TP 1, 2.07 GiB at TP 2 and 2.13-2.17 GiB at TP 4 (0.07 GiB at PP 2 and PP 4
    without TP; llm-d-planner's v0.19.0 sweep in tests/data/vllm_overhead_observed.yaml), where the logs show the
    Hopper-only all-reduce paths (symmetric memory, FlashInfer's trtllm all-reduce workspace). Without the term the
    Llama-3.1-8B TP 2 row would be 0.58 GiB optimistic. No log measures it on Ampere / Ada cards, which keep the
    model above.

      V1, TP 1: 0.5 GiB;  H100 TP 2: 0.5 + 0.5 + 1.0 + 0.125 = 2.125 GiB;  TP 4: 2.375 GiB;  TP 8: 2.875 GiB;
      A100 TP 2: 0.5 + 0.5 + 0.125 = 1.125 GiB."""
    v0 = tuple(version) < V1_PROFILER_FROM
    ctx = int(1.8 * GiB) if v0 else CONTEXT_BYTES
    ranks = layout.tp * layout.pp * layout.dp
    comm = 0
    if ranks > 1:
        comm = (int(1.8 * GiB) if v0 else COMM_BYTES) + COMM_BYTES_PER_RANK * (2 if v0 else 1) * (ranks - 1)
        if layout.tp > 1 and not v0 and (not gpu_compute or gpu_compute >= TP_COMM_FROM_COMPUTE):
            comm += TP_COMM_BYTES
    return int(ctx + comm)


def max_capture_size(facts: ModelFacts, max_num_seqs: int, max_num_batched_tokens: int) -> int:
    """The largest batch vLLM captures in a CUDA graph: ``min(2 x max_num_seqs, 512)`` by default, raised to 1024
    for gpt-oss by its config hook (vllm-project/vllm vllm/model_executor/models/config.py @1936cf38,
    ``GptOssForCausalLMConfig.
    verify_and_update_config``: "Increase the max capture size from 512 to 1024 for performance. NOTE(woosuk): This
    will increase the number of CUDA graphs from 67 to 83." ... "if compilation_config.cudagraph_capture_sizes is
    None and compilation_config.max_cudagraph_capture_size is None: compilation_config.max_cudagraph_capture_size =
    1024"; the v0.19.0 log: "[model_executor/models/config.py:131] Overriding max cuda graph capture size to 1024
    for performance."), and never above max_num_batched_tokens."""
    top = CAPTURE_SIZE_OVERRIDES.get(facts.architecture) or min(2 * max_num_seqs, DEFAULT_MAX_CAPTURE_SIZE)
    return max(1, min(top, max_num_batched_tokens))


STEP16_CAPTURE_FROM = (0, 11)        # vLLM 0.11: capture sizes in steps of 16 above 256 (steps of 8 before)


def capture_sizes(max_num_seqs: int, top: int | None = None, version: tuple[int, ...] = (0, 17, 0)) -> int:
    """How many batch sizes vLLM captures: 1, 2, 4, then steps of 8 to 256, then of 16, up to ``top``
    (``max_cudagraph_capture_size``, by default min(2 x max_num_seqs, 512)). gpt-oss (top 1024): 3 + 31 + 49 = 83,
    the 83 of its v0.19.0 log (and of 0.11.2's, tonghuikang/blog@034b47cf: "256, 272, 288, ...").

    Before vLLM 0.11 the list kept steps of 8 to the top: ``[1, 2, 4] + [i for i in range(8, 513, 8)]`` (vLLM's
    ``_set_cudagraph_sizes``, V1 default), 67 sizes at 512 - the 67 PIECEWISE + 67 FULL graphs of the Qwen3-Next
    log under 0.10.2 ("cudagraph_capture_sizes":[512,504,...,16,8,4,2,1]). gpt-oss's hook set its own 83-size list
    to 1024 there too (its NOTE: "from 67 to 83"), which the step-16 count gives."""
    top = min(2 * max_num_seqs, DEFAULT_MAX_CAPTURE_SIZE) if top is None else top
    n = sum(1 for s in (1, 2, 4) if s <= top)
    if tuple(version) < STEP16_CAPTURE_FROM and top <= DEFAULT_MAX_CAPTURE_SIZE:
        return max(1, n + len(range(8, top + 1, 8)))
    n += len(range(8, min(top, 255) + 1, 8))
    n += len(range(256, top + 1, 16))
    return max(1, n)


def cudagraph_bytes(layers_on_stage: int, max_num_seqs: int, version: tuple[int, ...] = (0, 17, 0),
                    top: int | None = None, collectives: bool = True, full_graphs: bool = True) -> int:
    """CUDA graph memory per GPU ("Graph capturing finished in N secs, took X GiB").

    Before vLLM 0.19: GRAPH_POOL_BYTES + a per-(layer x captured size) cost x layers x captured sizes, the cost
    depending on whether the captured pieces hold collectives (``collectives``: TP > 1, or DP + EP's all-to-all).
    Two logs of one model (gpt-oss-120b, 36 layers, 83 PIECEWISE sizes up to 1024, gpt-oss's capture override):
    TP 4 on A100, vLLM 0.10.1: 1.88 GiB logged, GRAPH_BYTES_PER_LAYER_SIZE (0.6 MiB) gives 2.0 GiB; TP 1 on one
    H100, vLLM 0.11.2 (83 PIECEWISE + 3 FULL graphs, tonghuikang/blog@034b47cf, tests/data/
    vllm_overhead_observed.yaml): "Graph capturing finished in 9 secs, took 0.64 GiB", a third of it, and the 0.6
    MiB term (2.0 GiB) would have refused a run that started (3.17 GiB of slack at util 0.96 against 2.0 graphs +
    0.5 baseline + 1.78 MXFP4 holes). Without collectives the cost is GRAPH_BYTES_PER_LAYER_SIZE_TP1 (0.2 MiB):
    0.25 + 36 x 83 x 0.2 MiB = 0.83 GiB, 0.19 GiB above the logged 0.64. Which of TP, the release (0.10 -> 0.11)
    or the card makes the difference two logs cannot tell; TP is what the planner knows, and the TP > 1 term keeps
    its calibration. Thin: one log per side.

    From 0.19: GRAPH_FIXED_BYTES + GRAPH_BYTES_PER_CAPTURE_TOKEN x the largest captured batch. vLLM captures the
    largest batch first so that the smaller ones reuse its memory pool (``capture_model`` walks the sizes in
    descending order: "Capturing a cudagraph on (PIECEWISE, ... num_tokens=1024" comes first in the logs), and the
    v0.19.0 H100 logs (llm-d-planner accuracy/results/v0.19.0/logs @ d3121e059da8) measure a pool that does not
    grow with the layers: gemma-3-27b-it (62 layers, 51 PIECEWISE + 51 FULL sizes up to 512) 1.14 GiB,
    Llama-4-Scout TP 4 (48 layers, 51 PIECEWISE up to 512) 1.13 GiB, gpt-oss-20b TP 2 (24 layers, 83 PIECEWISE + 83
    FULL up to 1024) 1.55 GiB. The per-layer term would give 2.10 / 1.68 / 0.97 GiB: too much for the first two and
    too little for gpt-oss. Here (820 KiB per token): 512 -> 1.150 GiB, 1024 -> 1.551 GiB.

    Deep models add a per-graph cost on top of the pool: Llama-3.3-70B-Instruct-FP8-dynamic (80 layers, 51 PIECEWISE
    + 51 FULL up to 512) took 1.79 GiB at TP 2 and 1.66 GiB at TP 4 (same logs), and vLLM's own estimator there
    logs "Estimated PIECEWISE CUDA graph memory: 108.00 MiB first-capture + (51-1) x 20.00 MiB per-graph" (18 MiB at
    TP 4) against "186.00 MiB first-capture + (83-1) x 6.00 MiB per-graph" for gpt-oss-20b's 24 layers: the
    per-graph cost follows the layers. So the term is the larger of the pool term and GRAPH_FIXED_BYTES +
    GRAPH_BYTES_PER_LAYER_GRAPH x layers x 2 x captured sizes (PIECEWISE and FULL graphs, vLLM 0.19's default
    FULL_AND_PIECEWISE; a model whose backend captures PIECEWISE only is over-charged). 80 KiB: 80 layers x 102
    graphs -> 1.37 GiB, 62 x 102 (gemma-3-27b-it) -> 1.23, 48 x 102 (Scout) -> 1.12 (the pool term's 1.15 stays),
    24 x 166 (gpt-oss-20b) -> 1.05 (1.55 stays). For the 70B the term stays below vLLM's 1.79 / 1.66 GiB, but what
    the slack must hold in all is not: 2.0 (TP start-up baseline, logged 1.53 / 1.55 there) + 1.37 + 0.49 (sampler
    warm-up) = 3.86 GiB >= the logged 1.53 + 1.79 + 0.49 = 3.81, and <= the 3.96 GiB of slack at util 0.95 with
    which both runs started: 80 KiB is inside the window [73, 92] KiB those two bounds leave. Five measurements, one
    card, one release: thin (tests/test_calibration.py).

    Before 0.11 vLLM captured PIECEWISE graphs only by default ("cudagraph_mode":1 in the engine config it logs;
    hybrid Mamba / linear-attention models captured FULL graphs too: the Qwen3-Next 0.10.2 log, 67 + 67). With
    ``full_graphs`` False (the caller: version < FULL_GRAPHS_BY_DEFAULT_FROM, not hybrid, not MLA - no MLA log of
    that period is held) the cost with collectives is GRAPH_BYTES_PER_LAYER_SIZE_PIECEWISE (0.57 MiB). Two
    PIECEWISE-only logs measure it: gpt-oss-120b TP 4 on A100, 0.10.1, (1.88 - 0.25) GiB / (36 x 83) = 0.559 MiB
    (0.561 at the print's rounding); Qwen3-235B-A22B-Instruct-2507-FP8 TP 8 + EP on 8 x L40S, 0.10.2, "took 3.45
    GiB" for 94 layers x 67 sizes = 0.520 MiB. 0.57 MiB is above both; 0.6 MiB planned 3.94 GiB of graphs there,
    and with the 0.5 GiB baseline and the 0.145 GiB sampler warm-up (1 - 0.9) x 44.4 GiB = 4.44 GiB could not hold
    4.59: the plan refused a run that started. 0.57 gives 3.76 GiB, 4.40 in all (vLLM: 0.49 + 3.45 + 0.145 = 4.09)."""
    if tuple(version) >= GRAPH_BY_CAPTURE_SIZE_FROM:
        t = min(2 * max_num_seqs, DEFAULT_MAX_CAPTURE_SIZE) if top is None else top
        pool = GRAPH_FIXED_BYTES + t * GRAPH_BYTES_PER_CAPTURE_TOKEN
        per_graph = GRAPH_FIXED_BYTES + GRAPH_BYTES_PER_LAYER_GRAPH * layers_on_stage * 2 * capture_sizes(max_num_seqs, t)
        return int(max(pool, per_graph))
    per = GRAPH_BYTES_PER_LAYER_SIZE if collectives else GRAPH_BYTES_PER_LAYER_SIZE_TP1
    if collectives and not full_graphs and tuple(version) < FULL_GRAPHS_BY_DEFAULT_FROM:
        per = GRAPH_BYTES_PER_LAYER_SIZE_PIECEWISE
    return int(GRAPH_POOL_BYTES + layers_on_stage * capture_sizes(max_num_seqs, top, version) * per)


def startup_baseline_bytes(layout: Layout, version: tuple[int, ...] = (0, 17, 0), gpu_compute: float = 0.0,
                           gpu_nvlink: bool = True) -> int:
    """GPU memory already in use when vLLM takes its start-up snapshot: outside --gpu-memory-utilization.

    vLLM's ``Worker.init_device`` (vllm/v1/worker/gpu_worker.py; the index stores vllm-project/vllm's file only at an
    older commit, these lines are from later copies of it) runs ``init_worker_distributed_environment`` first
    ("Initialize the distributed environment BEFORE taking memory snapshot. This ensures NCCL buffers are allocated
    before we measure available memory"), then ``self.init_snapshot = MemorySnapshot(...)`` and
    ``self.requested_memory = request_memory(init_snapshot, cache_config)``, which is ``ceil(total_memory x
    gpu_memory_utilization)`` (vllm/v1/worker/utils.py). ``determine_available_memory`` sizes the KV cache as
    ``requested_memory - profile_result.non_kv_cache_memory`` (weights + torch peak increase + non-torch increase,
    increases measured from that snapshot). So what the snapshot already holds (CUDA context, NCCL communicators,
    custom all-reduce / symmetric-memory buffers) comes on top of the budget: (1 - util) x memory must hold it.

    The v0.19.0 H100 logs: total 79.19 GiB minus "Initial free memory" = 0.51 GiB at TP 1 (gemma-3-27b-it), 2.01
    at TP 2 (gpt-oss-20b), 2.07 at TP 4 (Llama-4-Scout). Here: CONTEXT_BASELINE_BYTES (0.5 GiB) + for TP > 1 on
    NVLink cards of compute >= 9.0 (or an unknown card) STARTUP_NVLINK_TP_BYTES (1.5 GiB), elsewhere
    STARTUP_BYTES_PER_RANK (0.2 GiB) per extra TP rank (gpt-oss-120b TP 8 on RTX PRO 4500 cards, vLLM 0.28: 1.37 GiB
    over its budget in all; consumer cards started with 1.18-1.88 GiB of slack at TP 2-4, club-3090#46 / #127).
    V0 (< 0.7): RUNTIME_RESERVE_BYTES + 0.2 GiB per extra TP rank, as before.

    V1 before 0.11 (SNAPSHOT_AFTER_COMM_FROM): CONTEXT_BASELINE_BYTES only. There ``init_device`` read the free
    memory before ``init_worker_distributed_environment`` (vllm-project/vllm vllm/v1/worker/gpu_worker.py @0012cf69:
    ``self.init_gpu_memory = torch.cuda.mem_get_info()[0]``, then "# Initialize the distributed environment."),
    so NCCL and custom all-reduce buffers were measured as non-torch memory inside the budget (non_torch_bytes
    charges them); vllm PR #25359 (merged 2025-09-22, after 0.10.2) moved the distributed init first ("NCCL buffers
    (~4.5 GiB for tensor parallelism) were allocated after the memory snapshot"). The 0.10.2 log of
    Qwen3-235B-A22B-Instruct-2507-FP8 at TP 8 + EP on 8 x L40S: "Free memory on device (43.93/44.42 GiB) on
    startup" (0.49 GiB in use) and 0.17-0.21 GiB of non-torch memory in the budget; 0.5 + 7 x 0.2 = 1.9 GiB here
    refused that run. 0.11.0 itself keeps the later terms (whether it has the PR is not checked: the larger)."""
    if tuple(version) < V1_PROFILER_FROM:
        return int(RUNTIME_RESERVE_BYTES + 0.2 * GiB * (layout.tp - 1))
    if tuple(version) < SNAPSHOT_AFTER_COMM_FROM:
        return CONTEXT_BASELINE_BYTES
    hopper = not gpu_compute or gpu_compute >= TP_COMM_FROM_COMPUTE
    if layout.tp > 1 and gpu_nvlink and hopper:
        return CONTEXT_BASELINE_BYTES + STARTUP_NVLINK_TP_BYTES
    return CONTEXT_BASELINE_BYTES + STARTUP_BYTES_PER_RANK * (layout.tp - 1)


def sampler_warmup_bytes(facts: ModelFacts, max_num_seqs: int, tokens: int, version: tuple[int, ...]) -> int:
    """Headroom the sampler warm-up needs after the KV cache and the CUDA graphs, outside the budget (last PP stage).

    ``Worker.compile_or_warm_up_model`` (vllm-project/vllm vllm/v1/worker/gpu_worker.py @0012cf69, the same order in
    the v0.19.0 traceback: gpu_worker.py:686 -> gpu_model_runner.py:5601 ``_dummy_sampler_run``) runs
    ``capture_model()`` and only then, on the last PP rank, ``max_num_reqs =
    min(max_num_seqs, max_num_batched_tokens)``; ``_dummy_run(num_tokens=max_num_reqs, ...)``;
    ``_dummy_sampler_run(hidden_states=last_hidden_states)`` ("NOTE: This is called after `capture_model` on purpose
    to prevent memory buffers from being cleared by `torch.cuda.empty_cache`"). The profile's peak room is in the
    budget, but by then the graph pool has been carved out of freed memory, and the warm-up's float32 logits (R x
    vocab x 4 bytes, one block) must find contiguous free memory. The v0.19.0 H100 logs: gpt-oss-20b TP 2 at util
    0.95 had 77.18 - (7.01 weights + 2.87 peak + 2.07 non-torch + 1.55 graphs + 63.28 KV) = 0.40 GiB left and died
    allocating it ("Tried to allocate 786.00 MiB" = 1024 x 201088 x 4 bytes, "CUDA out of memory occurred when
    warming up sampler with 1024 dummy requests", with 1.62 GiB "reserved by PyTorch but unallocated"); Llama-4-Scout
    TP 4 had 77.12 - (53.12 + 3.19 + 2.17 + 1.13 + 16.75) = 0.76 GiB left for its 0.77 GiB tensor (1024 x 202048 x
    4, within the logs' 0.01 GiB rounding) and started; gemma-3-27b-it had 2.31 GiB left for 1.0 GiB. R = min(
    max_num_seqs, tokens): R x vocab x 4 bytes."""
    if tuple(version) < V1_PROFILER_FROM:
        return 0
    return sampler_rows(max_num_seqs, tokens) * facts.vocab_size * 4


MXFP4_REPACK_HOLES_BYTES = int(1.78 * GiB)  # PyTorch cache left in holes by the MXFP4 expert re-layout (see below)


def mxfp4_repack_holes_bytes(facts: ModelFacts, version: tuple[int, ...]) -> int:
    """Conservative reserve, outside the budget, for MXFP4 MoE experts (gpt-oss) re-laid-out after loading.

    vLLM's MXFP4 MoE method writes padded / swizzled copies of each layer's experts after the checkpoint is loaded
    and frees the loaded ones (vllm-project/vllm vllm/model_executor/layers/fused_moe/oracle/mxfp4.py @001eda31, the
    TRITON branch the v0.19.0 H100 logs name; Marlin and FlashInfer re-lay them out too). The freed blocks stay in
    PyTorch's caching allocator, which vLLM's budget never counts (vllm/utils/mem_utils.py @a6d5c390
    ``memory_profiling``: weights + the allocated-bytes peak + non-torch memory). Two v0.19.0 H100 logs died in the
    sampler warm-up after the graphs with "1.78 GiB" (TP 1, util 0.95) and "1.62 GiB" (TP 2, util 0.95) "reserved by
    PyTorch but unallocated" in blocks too small for the warm-up's logits; at TP 1 that was the whole difference
    between the run that died and Llama-4-Scout at TP 4 (bf16, no re-layout), which started with less room by vLLM's
    own numbers. The holes do not follow the re-laid-out bytes (they halve from TP 1 to TP 2, the holes do not), so
    the reserve is the larger logged figure, whatever the layout: an empirical term from two logs of one model,
    kept because a plan that says "fits" must start (tests/test_calibration.py). V0 (< 0.7) is not charged."""
    if facts.quant.method != "mxfp4" or not facts.is_moe or tuple(version) < V1_PROFILER_FROM:
        return 0
    return MXFP4_REPACK_HOLES_BYTES


def large_moe(facts: ModelFacts, weights_per_gpu: int) -> bool:
    """Where the evidence says the profile run swings the most: MoE models holding >= 20 GiB per GPU."""
    return facts.is_moe and weights_per_gpu >= 20 * GiB


@dataclass(frozen=True)
class Overhead:
    """The non-KV memory of one GPU, by part (bytes)."""

    activation: int        # forward peak of the profile run (incl. the multimodal encoder)
    sampler: int           # dummy sampler peak (0 off the last PP stage)
    non_torch: int         # CUDA context, workspaces, communication buffers
    cudagraphs: int        # CUDA graph pool
    graphs_in_budget: bool
    runtime_reserve: int   # outside the budget besides the graphs: start-up baseline + sampler warm-up + holes
    margin: int            # the plan's safety margin
    tokens: int            # max_num_batched_tokens the profile used
    notes: tuple[str, ...] = ()
    startup_baseline: int = 0   # of runtime_reserve: in use at vLLM's start-up snapshot (startup_baseline_bytes)
    sampler_warmup: int = 0     # of runtime_reserve: the sampler warm-up after the graphs (sampler_warmup_bytes)
    repack_holes: int = 0       # of runtime_reserve: cache holes of the MXFP4 expert re-layout (mxfp4_repack_holes_bytes)

    @property
    def in_budget(self) -> int:
        """What comes off utilisation x memory before the KV cache is sized (the margin included)."""
        return (max(self.activation, self.sampler) + self.non_torch + self.margin
                + (self.cudagraphs if self.graphs_in_budget else 0))

    @property
    def outside_budget(self) -> int:
        """What (1 - utilisation) x memory must hold."""
        return self.runtime_reserve + (0 if self.graphs_in_budget else self.cudagraphs)


def overhead(facts: ModelFacts, layout: Layout, *, layers_on_stage: int, last_stage: bool, weights_per_gpu: int,
             max_num_seqs: int, max_num_batched_tokens: int, version: tuple[int, ...],
             gpu_compute: float = 0.0, gpu_nvlink: bool = True) -> Overhead:
    """The overhead model (ARCHITECTURE.md, Planner step 4). Peak = max(forward, sampler): the sampler runs after the
    forward pass has freed its activations. The margin is MARGIN_BYTES, plus BIG_MOE_MARGIN x the weights per GPU
    for large MoE models and multimodal models from vLLM 0.17 on, where the evidence is thin (issue 8's MiniMax-M2.5
    case, version not given, needs it). Before 0.17 the big-MoE logs that once needed it (gpt-oss-120b on one H100,
    0.10 / 0.11: 7.5 GiB of overhead; Qwen3-235B-A22B-FP8 at TP 4, 0.10) are explained by the measured 39-byte
    sampler, and the extra margin is not added there. Versions
    whose profiler is known to swing add to it: from 0.21 the CUDA-graph estimate counts twice (VERSION_SWINGS)."""
    t = max_num_batched_tokens
    act = activation_peak_bytes(facts, layout.tp, t, layout.ep, layout.dp) + encoder_bytes(facts, t)
    smp = sampler_peak_bytes(facts, max_num_seqs, t, version) if last_stage else 0
    graphs = cudagraph_bytes(layers_on_stage, max_num_seqs, version,
                             max_capture_size(facts, max_num_seqs, max_num_batched_tokens),
                             collectives=layout.tp > 1 or (layout.ep and layout.dp > 1),
                             full_graphs=bool({LINEAR, MAMBA} & set(facts.layer_kinds)) or facts.uses_mla)
    margin = MARGIN_BYTES
    thin = []
    if tuple(version) >= SORT_PATH_FROM:        # before 0.17 the measured sampler explains the big-MoE logs
        if large_moe(facts, weights_per_gpu):
            thin.append(f"a large MoE model ({weights_per_gpu / GiB:.0f} GiB of weights per GPU)")
        if facts.multimodal:
            thin.append("a multimodal encoder")
    if thin:
        margin += int(BIG_MOE_MARGIN * weights_per_gpu)
    swings = []
    if graphs_in_budget(version):
        margin += graphs
        swings.append(f"vLLM {'.'.join(map(str, version))} estimates CUDA-graph memory before the KV cache and logs "
                      "show the estimate off by GiBs both ways (vllm#53013, PR #51590): the graphs count twice")
    if tuple(version) >= GDN_TRANSIENT_FROM and LINEAR in facts.layer_kinds:
        extra = int(2 * GiB * t / 8192)
        margin += extra
        swings.append(f"from vLLM 0.26 the profile charges a transient growing with max-num-batched-tokens to "
                      f"Gated-DeltaNet hybrids (vllm#50780: 18-24 % less KV): {extra / GiB:.1f} GiB more")
    notes = []
    if thin or swings:
        notes.append("memory: " + "; ".join(
            ([" and ".join(thin) + " - few vLLM logs to calibrate on, vLLM's profile swings by several GiB here"]
             if thin else []) + swings) + f"; the plan keeps a {margin / GiB:.1f} GiB safety margin per GPU")
    base = startup_baseline_bytes(layout, version, gpu_compute, gpu_nvlink)
    warm = sampler_warmup_bytes(facts, max_num_seqs, t, version) if last_stage else 0
    holes = mxfp4_repack_holes_bytes(facts, version)
    if holes:
        notes.append(f"memory: MXFP4 experts are re-laid-out after loading and vLLM logs show "
                     f"{holes / GiB:.2f} GiB of PyTorch cache left in holes no later allocation could use (two logs, "
                     f"one model: thin); the plan keeps it outside the utilisation budget")
    return Overhead(activation=act, sampler=smp, non_torch=non_torch_bytes(layout, version, gpu_compute), cudagraphs=graphs,
                    graphs_in_budget=graphs_in_budget(version), runtime_reserve=base + warm + holes,
                    margin=margin, tokens=t, notes=tuple(notes), startup_baseline=base, sampler_warmup=warm,
                    repack_holes=holes)


# --- weights ---------------------------------------------------------------------------------------------------
MARLIN_BEFORE_COMPUTE = 10.0  # MXFP4 MoE: Marlin-padded sizes below Blackwell (Hopper: Marlin in 0.10, Triton later)


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def expert_kernel_scale(facts: ModelFacts, gpu_compute: float, tp: int, ep: bool) -> float:
    """How much larger vLLM holds the routed experts than the checkpoint stores them, for the MoE kernel the GPU gets.

    MXFP4 experts (gpt-oss) on a GPU below compute 9.0 run through Marlin, whose MoE kernel needs n % 256 and
    k % 128: vLLM's ``Mxfp4MoEMethod.create_weights`` pads hidden_size up to a multiple of 256 and the per-GPU
    intermediate size up to 128, in both expert matrices (gpt-oss 2880 x 2880 -> 3072 x 2944, +9.0 %). Checked
    against vLLM logs: gpt-oss-20b on an A100 "Model loading took 13.72 GiB" (12.82 GiB unpadded);
    tests/test_calibration.py. Hopper is held at the same padded size: vLLM 0.10.1 ran gpt-oss on an H100 through
    Marlin ("Model loading took 65.97 GiB", vllm#23278, the padded size), 0.14.1 through Triton kernels (64.38 GiB,
    vllm#33155), both well above the 60.8 GiB checkpoint; Marlin's is the larger. Blackwell kernels pad to 64 only
    (no change for gpt-oss); an unknown card (compute 0) is treated like Marlin, the larger.
    """
    if facts.quant.method != "mxfp4" or not facts.is_moe or not facts.moe_intermediate_size:
        return 1.0
    if gpu_compute and gpu_compute >= MARLIN_BEFORE_COMPUTE:
        return 1.0
    h = facts.hidden_size
    i = facts.moe_intermediate_size // (1 if ep else max(1, tp))
    if not h or not i:
        return 1.0
    return (_round_up(h, 256) * _round_up(i, 128)) / (h * i)


def weights_per_gpu(parts: WeightParts, facts: ModelFacts, layout: Layout, vision_replicated: bool,
                    expert_scale: float = 1.0) -> list[int]:
    """Bytes each PP stage's GPUs hold (list by stage); ``expert_scale`` from expert_kernel_scale."""
    n = facts.num_layers
    out = []
    stages = stage_layers(n, layout.pp)
    for s, rng in enumerate(stages):
        frac = len(rng) / n
        w = parts.layers * frac / layout.tp + parts.experts * expert_scale * frac / (layout.tp * layout.dp)
        if s == 0:
            w += parts.embeddings / layout.tp
            w += parts.vision if vision_replicated else parts.vision / layout.tp
        if s == len(stages) - 1:
            w += (parts.lm_head or (parts.embeddings if facts.tie_word_embeddings and layout.pp > 1 else 0)) / layout.tp
        out.append(int(w))
    return out
