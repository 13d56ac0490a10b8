"""The tensors of one decoder block, per mixer kind: GQA / MLA attention, Gated DeltaNet, Mamba2, dense MLP, MoE.

Every function returns the tensors of one layer under the module prefix ``p`` (``"{i}"`` = the layer index).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_llm.planner.facts import Checkpoint
from kubectl_llm.planner.weights.tensors import (ATTENTION, EXPERTS, LINEAR_ATTENTION, MLP, NORMS, ROUTER, SHARED, T,
                                                 lin, need, opt, vec)

_QKV_BIAS_TYPES = {"qwen2", "qwen2_moe", "qwen2_vl", "qwen2_5_vl", "qwen2_vl_text", "qwen2_5_vl_text"}
_QKV_ONLY_BIAS_TYPES = {"glm4_moe", "glm4", "glm", "chatglm"}     # attention_bias -> q/k/v bias, o_proj none
_BLOCK_SPARSE_TYPES = {"mixtral", "minimax_m2", "minimax", "phimoe"}


@dataclass
class Arch:
    """The checked text-model dimensions plus the module naming used for pattern matching."""

    model_type: str
    H: int
    V: int
    L: int
    heads: int
    kv_heads: int
    head_dim: int
    prefix: str              # decoder layers live under f"{prefix}.layers.{i}"
    embed_name: str
    head_name: str
    tied: bool
    gated_mlp: bool
    mlp_bias: bool


def gqa(c: Checkpoint, a: Arch, p: str, kv: int, *, gated_q: bool = False, mixer: str = "self_attn") -> list[T]:
    mt = a.model_type
    H, hd = a.H, a.head_dim
    q_out, kv_out = a.heads * hd, kv * hd
    bias = c.attention_bias
    qkv_bias = bias or mt in _QKV_BIAS_TYPES or c.qkv_bias
    o_bias = bias and mt not in _QKV_ONLY_BIAS_TYPES
    n = f"{p}.{mixer}"
    out = [lin(f"{n}.q_proj", ATTENTION, q_out * (2 if gated_q else 1), H),
           lin(f"{n}.k_proj", ATTENTION, kv_out, H),
           lin(f"{n}.v_proj", ATTENTION, kv_out, H),
           lin(f"{n}.o_proj", ATTENTION, H, q_out)]
    if qkv_bias:
        out.append(vec(f"{n}.qkv_bias", ATTENTION, q_out * (2 if gated_q else 1) + 2 * kv_out))
    if o_bias:
        out.append(vec(f"{n}.o_proj.bias", ATTENTION, H))
    if mt == "gpt_oss":
        out.append(vec(f"{n}.sinks", ATTENTION, a.heads))
    # q/k norms: per head (Qwen3 family, Gemma 3, GLM-4.x), full width (MiniMax per_layer), none (Llama 4 L2)
    per_head = mt.startswith(("qwen3", "gemma3", "olmoe")) or (mt.startswith("glm4") and c.use_qk_norm)
    if mt.startswith(("minimax", "olmo2")) or (c.use_qk_norm and c.qk_norm_type == "per_layer"):
        out.append(vec(f"{n}.q_norm", NORMS, q_out))
        out.append(vec(f"{n}.k_norm", NORMS, kv_out))
    elif per_head:
        out.append(vec(f"{n}.q_norm", NORMS, hd))
        out.append(vec(f"{n}.k_norm", NORMS, hd))
    return out


def mla(c: Checkpoint, a: Arch, p: str) -> list[T]:
    H, nh = a.H, a.heads
    ql = opt(c.q_lora_rank, 0)
    kvl = need(c.kv_lora_rank, "kv_lora_rank")
    nope = need(c.qk_nope_head_dim, "qk_nope_head_dim")
    rope = need(c.qk_rope_head_dim, "qk_rope_head_dim")
    vd = opt(c.v_head_dim, nope)
    n = f"{p}.self_attn"
    out: list[T] = []
    if ql:
        out += [lin(f"{n}.q_a_proj", ATTENTION, ql, H), vec(f"{n}.q_a_layernorm", NORMS, ql),
                lin(f"{n}.q_b_proj", ATTENTION, nh * (nope + rope), ql)]
    else:
        out.append(lin(f"{n}.q_proj", ATTENTION, nh * (nope + rope), H))
    out += [lin(f"{n}.kv_a_proj_with_mqa", ATTENTION, kvl + rope, H), vec(f"{n}.kv_a_layernorm", NORMS, kvl),
            lin(f"{n}.kv_b_proj", ATTENTION, nh * (nope + vd), kvl),
            lin(f"{n}.o_proj", ATTENTION, H, nh * vd)]
    if c.attention_bias:
        out.append(vec(f"{n}.o_proj.bias", ATTENTION, H))
    return out


def gated_deltanet(c: Checkpoint, a: Arch, p: str) -> list[T]:
    """Qwen3-Next / Qwen3.5 Gated DeltaNet linear attention."""
    H = a.H
    nk, dk = need(c.linear_num_key_heads, "linear_num_key_heads"), need(c.linear_key_head_dim, "linear_key_head_dim")
    nv = need(c.linear_num_value_heads, "linear_num_value_heads")
    dv = need(c.linear_value_head_dim, "linear_value_head_dim")
    kernel = opt(c.linear_conv_kernel_dim, 4)
    key_dim, value_dim = nk * dk, nv * dv
    n = f"{p}.linear_attn"
    if a.model_type.startswith("qwen3_5"):
        proj = [lin(f"{n}.in_proj_qkv", LINEAR_ATTENTION, 2 * key_dim + value_dim, H),
                lin(f"{n}.in_proj_z", LINEAR_ATTENTION, value_dim, H),
                lin(f"{n}.in_proj_b", LINEAR_ATTENTION, nv, H),
                lin(f"{n}.in_proj_a", LINEAR_ATTENTION, nv, H)]
    else:
        proj = [lin(f"{n}.in_proj_qkvz", LINEAR_ATTENTION, 2 * key_dim + 2 * value_dim, H),
                lin(f"{n}.in_proj_ba", LINEAR_ATTENTION, 2 * nv, H)]
    return proj + [
        vec(f"{n}.conv1d", LINEAR_ATTENTION, (2 * key_dim + value_dim) * kernel),
        vec(f"{n}.dt_bias", LINEAR_ATTENTION, nv), vec(f"{n}.A_log", LINEAR_ATTENTION, nv, fp32=True),
        vec(f"{n}.norm", NORMS, dv),
        lin(f"{n}.out_proj", LINEAR_ATTENTION, H, value_dim)]


def mamba2(c: Checkpoint, a: Arch, p: str) -> list[T]:
    """Nemotron-H Mamba2 mixer."""
    H = a.H
    nheads = need(c.mamba_num_heads, "mamba_num_heads")
    hdim = need(c.mamba_head_dim, "mamba_head_dim")
    ng = opt(c.n_groups, 1)
    ds = need(c.ssm_state_size, "ssm_state_size")
    kernel = opt(c.conv_kernel, 4)
    d_inner = nheads * hdim
    conv_dim = d_inner + 2 * ng * ds
    n = f"{p}.mixer"
    out = [lin(f"{n}.in_proj", LINEAR_ATTENTION, 2 * d_inner + 2 * ng * ds + nheads, H),
           vec(f"{n}.conv1d", LINEAR_ATTENTION, conv_dim * kernel + (conv_dim if c.use_conv_bias else 0)),
           vec(f"{n}.dt_bias", LINEAR_ATTENTION, nheads), vec(f"{n}.A_log", LINEAR_ATTENTION, nheads),
           vec(f"{n}.D", LINEAR_ATTENTION, nheads), vec(f"{n}.norm", NORMS, d_inner),
           lin(f"{n}.out_proj", LINEAR_ATTENTION, H, d_inner)]
    if c.mamba_proj_bias or c.use_bias:
        out.append(vec(f"{n}.proj_bias", LINEAR_ATTENTION, 2 * d_inner + 2 * ng * ds + nheads + H))
    return out


def dense_mlp(a: Arch, p: str, inter: int, part: str = MLP, name: str = "mlp", gated: bool | None = None) -> list[T]:
    g = a.gated_mlp if gated is None else gated
    n = f"{p}.{name}"
    out = [lin(f"{n}.up_proj", part, inter, a.H), lin(f"{n}.down_proj", part, a.H, inter)]
    if g:
        out.insert(0, lin(f"{n}.gate_proj", part, inter, a.H))
    if a.mlp_bias:
        out.append(vec(f"{n}.bias", part, inter * (2 if g else 1) + a.H))
    return out


def moe(c: Checkpoint, a: Arch, p: str, E: int) -> list[T]:
    mt, H = a.model_type, a.H
    inter = c.moe_intermediate_size or need(c.intermediate_size, "intermediate_size")
    out: list[T] = []
    if mt == "gpt_oss":
        n = f"{p}.mlp"
        out += [lin(f"{n}.router", ROUTER, E, H), vec(f"{n}.router.bias", ROUTER, E),
                lin(f"{n}.experts.gate_up_proj", EXPERTS, 2 * inter, H, E, expert=True),
                vec(f"{n}.experts.gate_up_proj_bias", EXPERTS, 2 * inter, E),
                lin(f"{n}.experts.down_proj", EXPERTS, H, inter, E, expert=True),
                vec(f"{n}.experts.down_proj_bias", EXPERTS, H, E)]
        return out
    if mt in _BLOCK_SPARSE_TYPES:
        n = f"{p}.block_sparse_moe"
        out += [lin(f"{n}.gate", ROUTER, E, H),
                lin(f"{n}.experts.0.w1", EXPERTS, inter, H, E, expert=True),
                lin(f"{n}.experts.0.w3", EXPERTS, inter, H, E, expert=True),
                lin(f"{n}.experts.0.w2", EXPERTS, H, inter, E, expert=True)]
        if c.shared_intermediate_size:
            out += dense_mlp(a, p, c.shared_intermediate_size, SHARED, "block_sparse_moe.shared_experts", gated=True)
        if c.use_routing_bias:
            out.append(vec(f"{n}.e_score_correction_bias", ROUTER, E, fp32=True))
        return out
    if mt.startswith("llama4"):
        n = f"{p}.feed_forward"
        out += [lin(f"{n}.router", ROUTER, E, H),
                lin(f"{n}.experts.0.gate_proj", EXPERTS, inter, H, E, expert=True),
                lin(f"{n}.experts.0.up_proj", EXPERTS, inter, H, E, expert=True),
                lin(f"{n}.experts.0.down_proj", EXPERTS, H, inter, E, expert=True)]
        out += dense_mlp(a, p, inter, SHARED, "feed_forward.shared_expert", gated=True)
        return out
    mixer = "mixer" if mt == "nemotron_h" else "mlp"
    n = f"{p}.{mixer}"
    out.append(lin(f"{n}.gate", ROUTER, E, H))
    ex = [lin(f"{n}.experts.0.up_proj", EXPERTS, inter, H, E, expert=True),
          lin(f"{n}.experts.0.down_proj", EXPERTS, H, inter, E, expert=True)]
    if a.gated_mlp:
        ex.insert(0, lin(f"{n}.experts.0.gate_proj", EXPERTS, inter, H, E, expert=True))
    out += ex
    # shared experts: DeepSeek/GLM n_shared_experts x moe_intermediate; Qwen shared_expert_intermediate_size
    n_shared = opt(c.n_shared_experts, 0)
    if c.shared_expert_intermediate_size:
        out += dense_mlp(a, p, c.shared_expert_intermediate_size, SHARED, f"{mixer}.shared_expert", gated=True)
        out.append(lin(f"{n}.shared_expert_gate", ROUTER, 1, H))
    elif c.moe_shared_expert_intermediate_size:
        out += dense_mlp(a, p, c.moe_shared_expert_intermediate_size * max(n_shared, 1), SHARED,
                         f"{mixer}.shared_experts")
    elif n_shared:
        out += dense_mlp(a, p, inter * n_shared, SHARED, f"{mixer}.shared_experts", gated=True)
    if c.topk_method == "noaux_tc" or mt.startswith("glm4_moe") or mt == "nemotron_h":
        out.append(vec(f"{n}.gate.e_score_correction_bias", ROUTER, E, fp32=True))
    return out
