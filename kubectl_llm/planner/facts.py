"""Model facts, normalised once from a raw config.json into a frozen record.

Everything the memory model and the parallelism search need is read here, following vLLM's own normalisation
(``vllm/transformers_utils/model_arch_config_convertor.py``; see ``notes/vllm-memory-model.md`` §2): the text
config of multimodal models (``text_config`` nesting), alias lists for head counts, per-layer attention kinds
(full, sliding window, chunked local, MLA, linear attention / Mamba state, none), RoPE dialect, quantization.
After this module nothing reads the raw config again, except the RoPE override that copies the model's own
RoPE block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from kubectl_llm.errors import BadModelConfig
from kubectl_llm.planner.validate import MLA_MODEL_TYPES, validate_config

# Layer kinds (one per decoder layer)
FULL = "full"            # full attention: KV grows with the context
SLIDING = "sliding"      # sliding-window attention: KV bounded by the window
CHUNKED = "chunked"      # chunked local attention (Llama 4): KV bounded by the chunk
MLA = "mla"              # multi-head latent attention: one latent "head", replicated on every TP rank
LINEAR = "linear"        # Gated DeltaNet linear attention (Qwen3-Next / Qwen3.5): fixed state per sequence
MAMBA = "mamba"          # Mamba2 (Nemotron-H): fixed state per sequence
NONE = "none"            # no attention cache (MLP-only layer, no-op attention)

# model_type values vLLM treats as DeepSeek-style MLA (when kv_lora_rank is set); `is_deepseek_mla`.
_MLA_MODEL_TYPES = MLA_MODEL_TYPES

# model_type values whose attention has no rotary position embedding (Nemotron-H and Jamba take positions from
# their Mamba layers, pure Mamba has no attention, GPT-2/BigCode/OPT learn absolute positions, BLOOM/MPT use ALiBi):
# a RoPE/YaRN override cannot extend their context.
_NO_ROPE_MODEL_TYPES = {
    "nemotron_h", "jamba", "mamba", "mamba2", "falcon_mamba", "gpt2", "gpt_bigcode", "opt", "bloom", "mpt",
}

_DTYPE_BYTES = {"float32": 4, "float": 4, "fp32": 4, "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2, "half": 2}

# keys vLLM reads for the derived max_model_len (smallest wins), notes §2
_LEN_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length",
             "max_seq_length", "seq_len", "max_target_positions")


@dataclass(frozen=True)
class Quantization:
    method: str | None = None              # fp8 | mxfp4 | modelopt | compressed-tensors | awq | gptq | None
    weight_bits: int = 16
    block: tuple[int, int] | None = None   # fp8 block-wise [n, k]
    kv_cache_dtype: str | None = None      # a KV scheme the checkpoint declares ("fp8"), else None


@dataclass(frozen=True)
class ModelFacts:
    model_id: str
    architecture: str
    model_type: str                  # text model_type
    family: str                      # recipe family key (see engine.py); "" when unknown
    num_layers: int
    layer_kinds: tuple[str, ...]     # one per layer: FULL / SLIDING / CHUNKED / MLA / LINEAR / MAMBA / NONE
    hidden_size: int
    num_attention_heads: int
    num_kv_heads: int                # total KV heads (1 for MLA in vLLM's KV accounting)
    head_dim: int                    # K (=V) head size; MLA: kv_lora_rank + qk_rope_head_dim
    vocab_size: int
    intermediate_size: int
    native_context: int              # vLLM's derived max_model_len
    dtype: str                       # activation dtype (bfloat16 / float16)
    quant: Quantization
    sliding_window: int | None = None
    chunk_size: int | None = None
    kv_heads_per_layer: tuple[int, ...] | None = None   # heterogeneous models (DeciLM); else None
    # MoE
    num_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0
    # MLA
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    # linear attention (Gated DeltaNet)
    linear_num_key_heads: int = 0
    linear_num_value_heads: int = 0
    linear_key_head_dim: int = 0
    linear_value_head_dim: int = 0
    linear_conv_kernel_dim: int = 0
    ssm_state_dtype: str = "bfloat16"
    # Mamba2
    mamba_num_heads: int = 0
    mamba_head_dim: int = 0
    mamba_n_groups: int = 0
    mamba_state_size: int = 0
    mamba_conv_kernel: int = 0
    # RoPE
    rope_container: str = ""          # "" (top level) or "text_config": where max_position_embeddings lives
    rope_dialect: str = "rope_scaling"  # "rope_scaling" | "rope_parameters"
    rope_block: Mapping[str, Any] | None = None   # the model's own rope_scaling / rope_parameters
    has_rope: bool = True             # False: no rotary embedding (see _NO_ROPE_MODEL_TYPES)
    multimodal: bool = False
    tie_word_embeddings: bool = False
    mtp_layers: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    config_warnings: tuple[str, ...] = ()   # values validate_config ignored safely (each says what was assumed)

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 1

    @property
    def uses_mla(self) -> bool:
        return MLA in self.layer_kinds

    @property
    def kv_dtype_bytes_auto(self) -> int:
        return _DTYPE_BYTES.get(self.dtype, 2)

    def count(self, kind: str) -> int:
        return sum(1 for k in self.layer_kinds if k == kind)

    @property
    def is_hybrid(self) -> bool:
        kinds = set(self.layer_kinds) - {NONE}
        return len(kinds) > 1


def _get(d: Mapping[str, Any], *keys: str, default: Any = None) -> Any:
    for k in keys:
        v = d.get(k)
        if v is not None:
            return v
    return default


def _require(d: Mapping[str, Any], key: str, model_id: str) -> Any:
    v = d.get(key)
    if v is None:
        raise BadModelConfig(f"{model_id}: config.json has no {key!r}")
    return v


def text_config(config: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """The config the language model reads, and where it sits ("" or "text_config")."""
    tc = config.get("text_config")
    if isinstance(tc, Mapping) and tc.get("num_hidden_layers"):
        return tc, "text_config"
    for key in ("llm_config", "language_config"):
        tc = config.get(key)
        if isinstance(tc, Mapping) and tc.get("num_hidden_layers"):
            return tc, key
    return config, ""


def _quantization(config: Mapping[str, Any], tc: Mapping[str, Any]) -> Quantization:
    q = config.get("quantization_config") or tc.get("quantization_config")
    if not isinstance(q, Mapping):
        return Quantization()
    method = str(q.get("quant_method") or q.get("quant_algo") or "").lower() or None
    kv = None
    bits = 16
    block = None
    if method == "fp8":
        bits = 8
        wbs = q.get("weight_block_size")
        if isinstance(wbs, (list, tuple)) and len(wbs) == 2:
            block = (int(wbs[0]), int(wbs[1]))
    elif method == "mxfp4":
        bits = 4
    elif method in ("awq", "gptq", "awq_marlin", "gptq_marlin"):
        bits = int(q.get("bits", q.get("w_bit", 4)))
    elif method in ("modelopt", "modelopt_fp4", "compressed-tensors"):
        groups = q.get("config_groups") or {}
        for g in groups.values() if isinstance(groups, Mapping) else ():
            w = (g or {}).get("weights") or {}
            if w.get("num_bits"):
                bits = int(w["num_bits"])
                break
        algo = str(q.get("quant_algo", "")).upper()
        if "FP4" in algo:
            bits = 4
        elif "FP8" in algo:
            bits = 8
        kvs = q.get("kv_cache_scheme") or q.get("kv_cache_quant_algo")
        if kvs:
            text = str(kvs).lower()
            kv = "nvfp4" if ("fp4" in text or "'num_bits': 4" in text) else "fp8"
    return Quantization(method=method, weight_bits=bits, block=block, kv_cache_dtype=kv)


def _layer_kinds(tc: Mapping[str, Any], n: int, mla: bool, model_type: str) -> tuple[tuple[str, ...], int | None, int | None]:
    """Per-layer attention kind, following each model's vLLM implementation."""
    sliding = tc.get("sliding_window")
    use_sw = tc.get("use_sliding_window")
    chunk = tc.get("attention_chunk_size")
    if mla:
        return (MLA,) * n, None, None
    # Nemotron-H: hybrid_override_pattern, M = mamba, * = attention, - = MLP, E = MoE
    pattern = tc.get("hybrid_override_pattern")
    if isinstance(pattern, str) and len(pattern) == n:
        return tuple({"M": MAMBA, "*": FULL}.get(ch, NONE) for ch in pattern), None, None
    # DeciLM (Nemotron-NAS): some attention blocks are no-ops
    blocks = tc.get("block_configs")
    if isinstance(blocks, list) and len(blocks) == n:
        kinds = []
        for b in blocks:
            att = (b or {}).get("attention") or {}
            kinds.append(NONE if att.get("no_op") or att.get("replace_with_linear") else FULL)
        return tuple(kinds), None, None
    types = tc.get("layer_types")
    if isinstance(types, list) and len(types) == n:
        kinds = []
        for t in types:
            t = str(t)
            if t in ("linear_attention",):
                kinds.append(LINEAR)
            elif t in ("sliding_attention", "sliding_window", "local_attention") and sliding:
                kinds.append(SLIDING)
            elif t in ("chunked_attention",):
                kinds.append(CHUNKED)
            elif t in ("mamba", "mamba2"):
                kinds.append(MAMBA)
            else:
                kinds.append(FULL)
        return tuple(kinds), (int(sliding) if sliding else None), (int(chunk) if chunk else None)
    # Qwen3-Next without layer_types: every `full_attention_interval`-th layer is full, the rest Gated DeltaNet
    interval = tc.get("full_attention_interval")
    if interval and tc.get("linear_num_value_heads"):
        return tuple(FULL if (i + 1) % int(interval) == 0 else LINEAR for i in range(n)), None, None
    # Gemma 2/3 without layer_types: every `sliding_window_pattern`-th layer is global (Gemma 3: 6)
    if model_type.startswith("gemma3") or model_type.startswith("gemma2"):
        every = int(tc.get("sliding_window_pattern") or (6 if model_type.startswith("gemma3") else 2))
        if sliding:
            return tuple(FULL if (i + 1) % every == 0 else SLIDING for i in range(n)), int(sliding), None
    # Llama 4: RoPE layers use chunked local attention, every 4th (NoPE) layer is global
    if chunk and model_type.startswith("llama4"):
        nope = tc.get("no_rope_layers") or [int((i + 1) % 4 != 0) for i in range(n)]
        return tuple(CHUNKED if nope[i] else FULL for i in range(n)), None, int(chunk)
    # Mistral-style global sliding window; `use_sliding_window: false` (Qwen2/3) switches it off
    if sliding and use_sw is not False and int(sliding) < int(_get(tc, *_LEN_KEYS, default=1 << 62)):
        return (SLIDING,) * n, int(sliding), None
    return (FULL,) * n, None, None


def _native_context(tc: Mapping[str, Any], config: Mapping[str, Any], model_type: str) -> int:
    vals = [int(tc[k]) for k in _LEN_KEYS if isinstance(tc.get(k), (int, float)) and tc.get(k) > 0]
    if not vals and tc is not config:
        vals = [int(config[k]) for k in _LEN_KEYS if isinstance(config.get(k), (int, float)) and config.get(k) > 0]
    if vals:
        return min(vals)
    if model_type.startswith("gemma3"):
        return 131072            # transformers' Gemma3TextConfig default; the official config omits it
    raise BadModelConfig("config.json gives no context length (max_position_embeddings)")


def _family(arch: str, model_type: str, model_id: str) -> str:
    """A coarse family key; the recipe table in engine.py refines it by model id."""
    return model_type.replace("_text", "")


def from_config(config: Mapping[str, Any], model_id: str) -> ModelFacts:
    """Normalise a raw config.json. Raises BadModelConfig naming the missing or malformed field (validate.py checks
    every value read here first; what it ignores safely is in ``config_warnings``)."""
    checked = validate_config(config, model_id)
    config = checked.config
    archs = config.get("architectures") or []
    arch = str(archs[0]) if archs else str(config.get("model_type", "unknown"))
    tc, container = text_config(config)
    model_type = str(tc.get("model_type") or config.get("model_type") or "")
    n = int(_require(tc, "num_hidden_layers", model_id))
    hidden = int(_require(tc, "hidden_size", model_id))
    heads = int(_require(tc, "num_attention_heads", model_id))
    mla = bool(tc.get("kv_lora_rank")) and model_type in _MLA_MODEL_TYPES
    kv_heads = _get(tc, "n_head_kv", "num_kv_heads", "num_key_value_heads", "multi_query_group_num",
                    "num_attention_groups")
    kv_per_layer = None
    blocks = tc.get("block_configs")
    if kv_heads is None and isinstance(blocks, list) and blocks:
        per = []
        for b in blocks:
            att = (b or {}).get("attention") or {}
            g = att.get("n_heads_in_group")
            per.append(0 if (att.get("no_op") or att.get("replace_with_linear") or not g) else heads // int(g))
        kv_per_layer = tuple(per)
        kv_heads = max(per) if any(per) else heads
    if kv_heads is None:
        kv_heads = heads          # MHA
    if mla:
        kv_heads = 1
        head_dim = int(tc["kv_lora_rank"]) + int(tc.get("qk_rope_head_dim") or 0)
    else:
        head_dim = int(_get(tc, "head_dim", "attention_head_dim", "hidden_size_per_head", default=0) or 0)
        if head_dim <= 0:
            head_dim = hidden // heads
    kinds, sliding, chunk = _layer_kinds(tc, n, mla, model_type)
    dtype = str(_get(tc, "dtype", "torch_dtype", default=None) or _get(config, "dtype", "torch_dtype",
                                                                          default="bfloat16"))
    if dtype in ("float32", "float", "fp32"):
        dtype = "bfloat16"        # fp32 checkpoints are served in bf16 by default
    rope_dialect = "rope_parameters" if isinstance(tc.get("rope_parameters"), Mapping) else "rope_scaling"
    rope_block = tc.get(rope_dialect) if isinstance(tc.get(rope_dialect), Mapping) else None
    if rope_block is None and isinstance(config.get("rope_scaling"), Mapping):
        rope_block = config["rope_scaling"]
    num_experts = int(_get(tc, "num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts",
                           default=0) or 0)
    intermediate = tc.get("intermediate_size")
    facts = ModelFacts(
        model_id=model_id,
        architecture=arch,
        model_type=model_type,
        family=_family(arch, model_type, model_id),
        num_layers=n,
        layer_kinds=kinds,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_kv_heads=int(kv_heads),
        head_dim=head_dim,
        vocab_size=int(_get(tc, "vocab_size", default=0) or _get(config, "vocab_size", default=0) or 0),
        intermediate_size=int(intermediate) if isinstance(intermediate, (int, float)) else 0,
        native_context=_native_context(tc, config, model_type),
        dtype=dtype if dtype in _DTYPE_BYTES else "bfloat16",
        quant=_quantization(config, tc),
        sliding_window=sliding,
        chunk_size=chunk,
        kv_heads_per_layer=kv_per_layer,
        num_experts=num_experts,
        experts_per_token=int(_get(tc, "num_experts_per_tok", "moe_top_k", "experts_per_token", default=0) or 0),
        moe_intermediate_size=int(_get(tc, "moe_intermediate_size", "expert_intermediate_size", default=0)
                                  or (intermediate if num_experts and isinstance(intermediate, int) else 0) or 0),
        kv_lora_rank=int(tc.get("kv_lora_rank") or 0) if mla else 0,
        qk_rope_head_dim=int(tc.get("qk_rope_head_dim") or 0) if mla else 0,
        linear_num_key_heads=int(tc.get("linear_num_key_heads") or 0),
        linear_num_value_heads=int(tc.get("linear_num_value_heads") or 0),
        linear_key_head_dim=int(tc.get("linear_key_head_dim") or 0),
        linear_value_head_dim=int(tc.get("linear_value_head_dim") or 0),
        linear_conv_kernel_dim=int(tc.get("linear_conv_kernel_dim") or 0),
        ssm_state_dtype=str(_get(tc, "mamba_ssm_dtype", "mamba_ssm_cache_dtype", default=dtype)),
        mamba_num_heads=int(tc.get("mamba_num_heads") or 0),
        mamba_head_dim=int(tc.get("mamba_head_dim") or 0),
        mamba_n_groups=int(tc.get("n_groups") or 0),
        mamba_state_size=int(tc.get("ssm_state_size") or 0),
        mamba_conv_kernel=int(tc.get("conv_kernel") or 0),
        rope_container=container,
        rope_dialect=rope_dialect,
        rope_block=rope_block,
        has_rope=model_type not in _NO_ROPE_MODEL_TYPES,
        multimodal=bool(config.get("vision_config") or container),
        tie_word_embeddings=bool(_get(config, "tie_word_embeddings", default=False)
                                 or tc.get("tie_word_embeddings", False)),
        mtp_layers=int(_get(tc, "num_nextn_predict_layers", "mtp_num_hidden_layers", default=0) or 0),
        config_warnings=checked.warnings,
    )
    if facts.kv_heads_per_layer is None and not mla and facts.num_kv_heads <= 0:
        raise BadModelConfig(f"{model_id}: num_key_value_heads must be positive")
    return facts


def dtype_bytes(name: str) -> float:
    """Bytes per element of a KV / state dtype name."""
    n = name.lower()
    if n.startswith("fp8") or n in ("int8", "uint8"):
        return 1
    if n == "nvfp4":
        return 0.5625        # head/2 + head/16 bytes per head element pair: 4 bits + fp8 scale per 16
    return _DTYPE_BYTES.get(n, 2)
