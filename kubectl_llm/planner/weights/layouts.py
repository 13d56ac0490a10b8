"""Whole-model layouts: which block each layer gets (standard decoder, DeciLM, Nemotron-H), the dense / MoE layer
pattern, embeddings and head, and the MTP layers the checkpoint stores."""

from __future__ import annotations

from kubectl_llm.errors import BadModelConfig
from kubectl_llm.planner.facts import LINEAR, MLA, Checkpoint
from kubectl_llm.planner.weights import blocks
from kubectl_llm.planner.weights.blocks import Arch
from kubectl_llm.planner.weights.tensors import (ATTENTION, EMBEDDINGS, LM_HEAD, MLP, MTP, NORMS, T, cdiv, lin, need,
                                                 opt, vec)
from kubectl_llm.planner.weights.vision import vision_tower

# model_type prefixes whose layout this package reproduces tensor by tensor (others get a generic estimate + note)
_KNOWN_TYPES = ("llama", "mistral", "mixtral", "qwen2", "qwen3", "deepseek", "kimi", "glm4", "minimax", "gpt_oss",
                "gemma2", "gemma3", "phimoe", "olmo", "nemotron")

Layers = list[tuple[int, tuple[T, ...]]]     # (layer index, tensors); identical layers share one tuple


def arch(c: Checkpoint) -> Arch:
    mt = c.model_type
    H = need(c.hidden_size, "hidden_size")
    L = need(c.num_layers, "num_hidden_layers")
    heads = need(c.num_heads, "num_attention_heads")
    if H <= 0 or L <= 0 or heads <= 0:
        raise BadModelConfig("config.json has zero hidden_size, num_hidden_layers or num_attention_heads")
    V = need(c.vocab_size, "vocab_size")
    kv = c.num_kv_heads or heads
    hd = c.head_dim or H // heads
    if mt.startswith("llama4") or (mt.startswith("gemma3") and c.nested):
        prefix, embed, head = "language_model.model", "language_model.model.embed_tokens", "language_model.lm_head"
    elif c.nested:
        prefix, embed, head = "model.language_model", "model.language_model.embed_tokens", "lm_head"
    elif mt == "nemotron_h":
        prefix, embed, head = "backbone", "backbone.embeddings", "lm_head"
    else:
        prefix, embed, head = "model", "model.embed_tokens", "lm_head"
    act = c.hidden_act
    gated = not (mt == "nemotron_h" or act in ("relu2", "gelu_new", "gelu_pytorch_tanh") and mt in (
        "gpt2", "starcoder2", "gpt_bigcode", "phi", "falcon", "gpt_neox"))
    return Arch(mt, H, V, L, heads, kv, hd, prefix, embed, head, c.tie_word_embeddings, gated, c.mlp_bias)


class Builder:
    """Builds the tensor list of one model from its checkpoint shapes."""

    def __init__(self, c: Checkpoint) -> None:
        self.c = c
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.layers: Layers = []
        self.globals: list[T] = []
        self.mtp: Layers = []
        self.mtp_globals: list[T] = []

    def build(self) -> None:
        c = self.c
        mt = c.model_type
        a = arch(c)
        if mt in ("nemotron-nas", "deci", "decilm") or c.block_configs is not None:
            self.build_decilm(a)
        elif mt == "nemotron_h" or c.hybrid_override_pattern is not None:
            self.build_nemotron_h(a)
        else:
            self.build_standard(a)
        # embeddings, final norm, lm_head
        self.globals.append(T(a.embed_name, EMBEDDINGS, a.V, a.H))
        self.globals.append(vec(f"{a.prefix}.norm" if mt != "nemotron_h" else "backbone.norm_f", NORMS, a.H))
        if not a.tied:
            self.globals.append(lin(a.head_name, LM_HEAD, a.V, a.H))
        if c.vision is not None:
            tensors, desc, warnings = vision_tower(c.vision, c.top_model_type, a.H)
            self.globals += tensors
            self.notes.append(desc)
            self.warnings += warnings
        self.build_mtp(a)

    # -- standard decoder --------------------------------------------------------------------------------------
    def num_experts(self) -> int:
        return opt(self.c.num_experts, 0)

    def moe_layers(self, a: Arch, E: int) -> list[bool]:
        c, L = self.c, a.L
        if E <= 1:
            return [False] * L
        if a.model_type.startswith("llama4"):
            if c.moe_layers is not None:
                s = set(c.moe_layers)
                return [i in s for i in range(L)]
            step = c.interleave_moe_layer_step or 1
            return [(i + 1) % step == 0 for i in range(L)]
        if c.first_k_dense_replace is not None or c.moe_layer_freq is not None:
            k = opt(c.first_k_dense_replace, 0)
            freq = c.moe_layer_freq or 1
            return [i >= k and i % freq == 0 for i in range(L)]
        only = set(c.mlp_only_layers)
        step = c.decoder_sparse_step or 1
        return [i not in only and (i + 1) % step == 0 for i in range(L)]

    def layer(self, a: Arch, attn: str, moe: bool, E: int, p: str = "") -> tuple[T, ...]:
        c = self.c
        p = p or f"{a.prefix}.layers.{{i}}"
        mt = a.model_type
        out: list[T] = []
        if attn == MLA:
            out += blocks.mla(c, a, p)
        elif attn == LINEAR:
            out += blocks.gated_deltanet(c, a, p)
        else:
            out += blocks.gqa(c, a, p, a.kv_heads, gated_q=c.attn_output_gate or mt == "qwen3_next")
        if moe:
            out += blocks.moe(c, a, p, E)
        else:
            inter = opt(c.intermediate_size_mlp, 0) if mt.startswith("llama4") else 0
            out += blocks.dense_mlp(a, p, inter or need(c.intermediate_size if c.intermediate_size is not None
                                                        else c.ffn_hidden_size, "intermediate_size"))
        names = ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                 "post_feedforward_layernorm")
        out += [vec(f"{p}.{names[k]}", NORMS, a.H) for k in range(4 if mt.startswith(("gemma2", "gemma3")) else 2)]
        return tuple(out)

    def build_standard(self, a: Arch) -> None:
        c = self.c
        E = self.num_experts()
        moe = self.moe_layers(a, E)
        kinds = c.attention_kinds
        cache: dict[tuple[str, bool], tuple[T, ...]] = {}
        for i in range(a.L):
            key = (kinds[i], moe[i])
            if key not in cache:
                cache[key] = self.layer(a, kinds[i], moe[i], E)
            self.layers.append((i, cache[key]))
        n_moe = sum(moe)
        desc = [f"{a.L} layers"]
        if kinds[0] == MLA:
            desc.append(f"MLA (q_lora {opt(c.q_lora_rank, 0)}, kv_lora {c.kv_lora_rank})")
        elif LINEAR in kinds:
            desc.append(f"{len(kinds) - kinds.count(LINEAR)} full-attention + {kinds.count(LINEAR)} Gated DeltaNet")
        else:
            desc.append(f"GQA {a.heads} heads / {a.kv_heads} KV heads x {a.head_dim}")
        if n_moe:
            shared = opt(c.n_shared_experts, 0) or (1 if c.shared_expert_intermediate_size
                                                    or a.model_type.startswith("llama4") else 0)
            desc.append(f"{a.L - n_moe} dense + {n_moe} MoE layers with {E} routed"
                        + (f" + {shared} shared" if shared else "") + " experts")
        self.notes.append("estimated from config.json (no safetensors metadata): " + ", ".join(desc))
        if not a.model_type.startswith(_KNOWN_TYPES):
            self.notes.append(f"model_type {a.model_type or 'missing'!r} has no specific layout here; estimated as a "
                              f"standard decoder (attention + gated MLP or MoE per layer)")

    # -- layouts of their own ----------------------------------------------------------------------------------
    def build_decilm(self, a: Arch) -> None:
        """Nemotron-NAS (DeciLM): per-layer block_configs with no-op / linear-replaced attention and ffn_mult."""
        blocks_ = self.c.block_configs
        if blocks_ is None or len(blocks_) != a.L:
            raise BadModelConfig("config.json block_configs must list one entry per layer")
        H = a.H
        n_attn = 0
        p = f"{a.prefix}.layers.{{i}}"
        for i, b in enumerate(blocks_):
            out: list[T] = []
            if b.attention == "linear":
                out += [lin(f"{p}.self_attn.linear_attn", ATTENTION, H, H), vec(f"{p}.input_layernorm", NORMS, H)]
            elif b.attention == "gqa":
                if b.heads_in_group is None:
                    raise BadModelConfig(f"config.json block_configs[{i}].attention has no n_heads_in_group")
                out += blocks.gqa(self.c, a, p, a.heads // b.heads_in_group) + [vec(f"{p}.input_layernorm", NORMS, H)]
                n_attn += 1
            if b.ffn == "linear":
                out += [lin(f"{p}.mlp.linear_mlp", MLP, H, H), vec(f"{p}.post_attention_layernorm", NORMS, H)]
            elif b.ffn == "mlp":
                if b.ffn_mult is None:
                    raise BadModelConfig(f"config.json block_configs[{i}].ffn has no ffn_mult")
                inter = cdiv(int(2 * b.ffn_mult * H / 3), 256) * 256          # DeciLM _ffn_mult_to_intermediate_size
                out += blocks.dense_mlp(a, p, inter) + [vec(f"{p}.post_attention_layernorm", NORMS, H)]
            self.layers.append((i, tuple(out)))
        self.notes.append(f"estimated from config.json (no safetensors metadata): DeciLM/Nemotron-NAS, {a.L} "
                          f"blocks ({n_attn} with attention, {a.L - n_attn} attention no-op), per-block ffn_mult")

    def build_nemotron_h(self, a: Arch) -> None:
        """Nemotron-H: one mixer per block from hybrid_override_pattern (M Mamba2, * attention, - MLP, E MoE)."""
        c = self.c
        pattern = c.hybrid_override_pattern
        if pattern is None or len(pattern) != a.L:
            raise BadModelConfig("config.json hybrid_override_pattern must have one character per layer")
        a.head_dim = c.attention_head_dim or a.H // a.heads
        E = self.num_experts()
        cache: dict[str, tuple[T, ...]] = {}
        p = f"{a.prefix}.layers.{{i}}"
        for i, ch in enumerate(pattern):
            if ch not in cache:
                if ch == "M":
                    mix = blocks.mamba2(c, a, p)
                elif ch == "*":
                    mix = blocks.gqa(c, a, p, a.kv_heads, mixer="mixer")
                elif ch == "-":
                    mix = blocks.dense_mlp(a, p, need(c.intermediate_size, "intermediate_size"), name="mixer",
                                           gated=False)
                elif ch == "E":
                    if E <= 1:
                        raise BadModelConfig("hybrid_override_pattern has MoE layers (E) but no n_routed_experts")
                    mix = blocks.moe(c, a, p, E)
                else:
                    raise BadModelConfig(f"hybrid_override_pattern has an unknown layer kind {ch!r}")
                cache[ch] = tuple(mix) + (vec(f"{p}.norm", NORMS, a.H),)
            self.layers.append((i, cache[ch]))
        counts = ", ".join(f"{pattern.count(k)} {n}" for k, n in (("M", "Mamba2"), ("*", "attention"),
                                                                   ("-", "MLP"), ("E", "MoE")) if k in pattern)
        self.notes.append(f"estimated from config.json (no safetensors metadata): Nemotron-H hybrid, {a.L} blocks "
                          f"({counts})")

    # -- MTP ---------------------------------------------------------------------------------------------------
    def build_mtp(self, a: Arch) -> None:
        c, mt = self.c, a.model_type
        H = a.H
        if c.num_nextn_predict_layers is not None and (c.kv_lora_rank is not None
                                                       or mt.startswith(("deepseek", "kimi", "glm4_moe"))):
            n = c.num_nextn_predict_layers
            E = self.num_experts()
            for k in range(n):
                i = a.L + k
                p = f"{a.prefix}.layers.{i}"
                body = self.layer(a, c.attention_kinds[-1], E > 1, E, p=p)
                extra = (vec(f"{p}.enorm", MTP, H), vec(f"{p}.hnorm", MTP, H), T(f"{p}.eh_proj", MTP, H, 2 * H),
                         vec(f"{p}.shared_head.norm", MTP, H), T(f"{p}.embed_tokens", MTP, a.V, H),
                         T(f"{p}.shared_head.head", MTP, a.V, H))
                self.mtp.append((i, body + extra))
            if n:
                self.notes.append(f"checkpoint stores {n} MTP (nextn) layer(s) with their own embedding and head "
                                  f"copies: counted in total_bytes (PVC), not in total_params or loaded_bytes "
                                  f"(the engines load them only for MTP speculative decoding)")
            return
        n = 0
        if c.mtp_num_hidden_layers is not None:
            n = c.mtp_num_hidden_layers
        elif mt == "qwen3_next":
            n = 1      # Qwen3-Next ships one MTP layer ("mtp.*") although its config names no count
        if n:
            E = self.num_experts()
            root = "mtp"
            for k in range(n):
                self.mtp.append((k, self.layer(a, "full", E > 1, E, p=f"{root}.layers.{k}")))
            self.mtp_globals += [T(f"{root}.fc", MTP, H, 2 * H), vec(f"{root}.pre_fc_norm_embedding", MTP, H),
                                 vec(f"{root}.pre_fc_norm_hidden", MTP, H), vec(f"{root}.norm", MTP, H)]
            self.notes.append(f"checkpoint stores {n} MTP layer(s) (mtp.*): counted in total_bytes (PVC), not in "
                              f"total_params or loaded_bytes (the engines load them only for MTP speculative decoding)")
        elif c.use_mtp:
            self.notes.append("config sets use_mtp but the published checkpoint ships no MTP weights; not counted")
