"""The memory model: what vLLM will put on each GPU for a given layout, and whether max-model-len fits.

Follows ``notes/vllm-memory-model.md`` (vLLM 0.10-0.33 V1 engine):

* weights per GPU: dense parts / TP, routed experts / (TP x DP), embeddings on the first PP stage, lm_head on the
  last, vision tower replicated when served with ``--mm-encoder-tp-mode data``; the most loaded stage counts;
* KV bytes per token per GPU: ``layers_on_stage x 2 x max(1, kv_heads // TP) x head_dim x dsz`` (replication when
  TP > KV heads); MLA: ``layers x (kv_lora_rank + qk_rope_head_dim) x dsz`` replicated on every TP rank; DCP divides
  the tokens a rank stores by D;
* per-sequence state of linear-attention (GDN) and Mamba2 layers, with vLLM's hybrid page alignment;
* the hybrid KV manager's grouping (group size = smallest bucket, padded groups share one block pool);
* available KV = total x utilisation - weights - activation peak - non-torch memory (CUDA graphs come out of the
  (1 - utilisation) slack in the v0.17 image we ship; ``cudagraph_bytes`` checks that slack).
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


def layer_kv_bytes_per_token(facts: ModelFacts, tp: int, kv_dsz: float, layer: int) -> float:
    """Bytes one GPU stores per token for one attention layer (before DCP)."""
    kind = facts.layer_kinds[layer]
    if kind == MLA:
        return facts.head_dim * kv_dsz                       # one latent head, replicated on every TP rank
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
def activation_peak_bytes(facts: ModelFacts, tp: int, max_num_seqs: int,
                          tokens: int = MAX_NUM_BATCHED_TOKENS) -> int:
    """Transient peak of vLLM's profile run (one dummy batch of max_num_batched_tokens), per GPU.

    A documented function of the model, not a constant: hidden states and residual (~6 live copies of
    tokens x hidden), the attention projections (q + kv sharded by TP), the MLP intermediate (gate+up+act,
    sharded by TP), the fused-MoE workspaces (tokens x top_k x (2 x moe_intermediate / TP + hidden)), and the
    sampler's fp32 logits for max_num_seqs x vocab. bf16 activations.
    """
    a = 2
    h = facts.hidden_size
    hidden_states = 6 * tokens * h * a
    qkv = tokens * (facts.num_attention_heads + 2 * max(1, facts.num_kv_heads)) * facts.head_dim * a // tp
    mlp = 3 * tokens * (facts.intermediate_size or 4 * h) * a // tp if not facts.is_moe else 0
    moe = 0
    if facts.is_moe:
        k = max(1, facts.experts_per_token)
        moe = tokens * k * (2 * facts.moe_intermediate_size // tp + h) * a
    logits = max_num_seqs * facts.vocab_size * 4 + tokens * facts.vocab_size * a // tp // 8
    mm = 0
    if facts.multimodal:
        mm = 2 * GiB            # one dummy multimodal batch through the encoder (encoder budget)
    return int(hidden_states + qkv + mlp + moe + logits + mm)


def non_torch_bytes(world_size: int) -> int:
    """CUDA context growth, cuBLAS/attention workspaces; NCCL and custom all-reduce buffers when distributed."""
    return int(0.6 * GiB + (0.5 * GiB if world_size > 1 else 0))


def cudagraph_bytes(layers_on_stage: int, max_num_seqs: int) -> int:
    """CUDA graph pool: ~0.3-2 GiB in vLLM logs; grows with the graphs captured (layers x batch sizes)."""
    sizes = min(67, 3 + max_num_seqs // 8)          # capture sizes 1,2,4,8,16,...,max_num_seqs (step 8)
    return int(256 * MiB + layers_on_stage * sizes * 0.25 * MiB)


# --- weights ---------------------------------------------------------------------------------------------------
MARLIN_BEFORE_COMPUTE = 9.0   # vLLM runs MXFP4 MoE through Marlin below Hopper (Triton/FlashInfer kernels from 9.0)


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def expert_kernel_scale(facts: ModelFacts, gpu_compute: float, tp: int, ep: bool) -> float:
    """How much larger vLLM holds the routed experts than the checkpoint stores them, for the MoE kernel the GPU gets.

    MXFP4 experts (gpt-oss) on a GPU below compute 9.0 run through Marlin, whose MoE kernel needs n % 256 and
    k % 128: vLLM's ``Mxfp4MoEMethod.create_weights`` pads hidden_size up to a multiple of 256 and the per-GPU
    intermediate size up to 128, in both expert matrices (gpt-oss 2880 x 2880 -> 3072 x 2944, +9.0 %). Checked
    against vLLM logs: gpt-oss-20b on an A100 "Model loading took 13.72 GiB" (12.82 GiB unpadded);
    tests/test_calibration.py. Hopper and newer use kernels that pad to 64 only (no change for gpt-oss); an unknown
    card (compute 0) is treated like Marlin, the larger of the two.
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
