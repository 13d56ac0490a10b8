"""Model facts, normalised once from a raw config.json into a frozen record.

Everything the memory model and the parallelism search need is read here, following vLLM's own normalisation
(``vllm/transformers_utils/model_arch_config_convertor.py``; see ``notes/vllm-memory-model.md`` §2): the text
config of multimodal models (``text_config`` nesting), alias lists for head counts, per-layer attention kinds
(full, sliding window, chunked local, MLA, linear attention / Mamba state, none), RoPE dialect, quantization.
After this module nothing reads the raw config again, except the RoPE override that copies the model's own
RoPE block.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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
    # DSA (DeepSeek-V3.2 / GLM-5 sparse attention): the lightning indexer's K head size (0 = no indexer). vLLM builds
    # the indexer for a config with `index_topk` (deepseek_v2.py: is_v32 = hasattr(config, "index_topk"))
    index_head_dim: int = 0
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
    checkpoint: Checkpoint | None = None   # tensor shapes for the weight estimate (planner/weights/)

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
    q = _quant_block(config, tc)
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
    vals = [int(v) for k in _LEN_KEYS if isinstance(v := tc.get(k), (int, float)) and v > 0]
    if not vals and tc is not config:
        vals = [int(v) for k in _LEN_KEYS if isinstance(v := config.get(k), (int, float)) and v > 0]
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
        vocab_size=int(_get(tc, "vocab_size", default=0) or _get(config, "vocab_size", default=0)
                       or _TEXT_DEFAULTS.get(model_type, {}).get("vocab_size", 0)),   # Gemma 3 omits it
        intermediate_size=int(intermediate) if isinstance(intermediate, (int, float)) else 0,
        native_context=_native_context(tc, config, model_type),
        dtype=dtype if dtype in _DTYPE_BYTES else "bfloat16",
        quant=_quantization(config, tc),
        sliding_window=sliding,
        chunk_size=chunk,
        kv_heads_per_layer=kv_per_layer,
        num_experts=num_experts,
        experts_per_token=int(_get(tc, "num_experts_per_tok", "moe_top_k", "experts_per_token", "top_k_experts",  # Gemma 4
                                    default=0) or 0),
        moe_intermediate_size=int(_get(tc, "moe_intermediate_size", "expert_intermediate_size", default=0)
                                  or (intermediate if num_experts and isinstance(intermediate, int) else 0) or 0),
        kv_lora_rank=int(tc.get("kv_lora_rank") or 0) if mla else 0,
        qk_rope_head_dim=int(tc.get("qk_rope_head_dim") or 0) if mla else 0,
        index_head_dim=int(tc.get("index_head_dim") or 0) if mla and tc.get("index_topk") is not None else 0,
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
        checkpoint=checkpoint_shapes(config),
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


# --- checkpoint shapes: what the weight estimator (planner/weights/) prices ---------------------------------------
# Parsed once here, leniently: a field the config omits is None, a malformed one is None plus a line in
# ``Checkpoint.problems``; ``from_config`` never fails because of them. The estimator raises the first problem,
# and names a missing field only when the layout it builds needs that field.

# transformers defaults for configs that omit fields (the official Gemma 3 config is sparse)
_TEXT_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma3_text": {"vocab_size": 262208, "tie_word_embeddings": True, "head_dim": 256},
    "gemma3": {"vocab_size": 262208, "tie_word_embeddings": True, "head_dim": 256},
    "gemma2": {"tie_word_embeddings": True},
    "gemma": {"tie_word_embeddings": True},
}


@dataclass(frozen=True)
class QuantGroup:
    """One compressed-tensors / modelopt ``config_groups`` entry: how its weights are stored."""

    has_weights: bool                      # the group has a "weights" scheme object
    num_bits: int | None = None
    kind: str = "int"                      # "int" | "float"
    strategy: str = ""                     # channel | group | tensor | block | tensor_group ...
    group_size: int | None = None
    block: tuple[int, int] | None = None   # block_structure
    symmetric: bool = True
    targets: tuple[str, ...] = ("Linear",)


@dataclass(frozen=True)
class QuantConfig:
    """The checkpoint's quantization_config (or compression_config), as stored."""

    method: str                            # quant_method, lower case; "modelopt" when only quant_algo is given
    algo: str                              # quant_algo, upper case ("" if none)
    skip: tuple[str, ...]                  # modules_to_not_convert + ignored_layers + ignore + exclude_modules
    weight_block_size: tuple[int, int] | None = None
    static_activations: bool = False       # activation_scheme: static (fp8 per-tensor stores an input scale)
    bits: int | None = None                # AWQ / GPTQ: bits or w_bit
    group_size: int | None = None
    q_group_size: int | None = None        # AWQ's name for group_size
    lm_head: bool = False                  # GPTQ lm_head: true
    groups: tuple[QuantGroup, ...] = ()


@dataclass(frozen=True)
class DeciBlock:
    """One DeciLM (Nemotron-NAS) block_configs entry."""

    attention: str                         # "gqa" | "linear" (replace_with_linear) | "none" (no_op)
    heads_in_group: int | None             # n_heads_in_group (None: missing or not a positive int)
    ffn: str                               # "mlp" | "linear" | "none"
    ffn_mult: float | None


@dataclass(frozen=True)
class VisionShapes:
    """The vision_config fields the vision-tower estimate uses (each tower type reads its own)."""

    model_type: str
    hidden_size: int | None = None
    embed_dim: int | None = None
    depth: int | None = None
    num_hidden_layers: int | None = None
    num_layers: int | None = None
    intermediate_size: int | None = None
    out_hidden_size: int | None = None
    patch_size: int | None = None
    temporal_patch_size: int | None = None
    in_channels: int | None = None
    num_channels: int | None = None
    spatial_merge_size: int | None = None
    num_position_embeddings: int | None = None
    image_size: int | None = None
    projector_input_dim: int | None = None
    projector_output_dim: int | None = None
    vision_output_dim: int | None = None
    pixel_shuffle_ratio: float | None = None
    deepstack_layers: int = 0
    use_head: bool = False


@dataclass(frozen=True)
class Checkpoint:
    """Tensor shapes of the checkpoint as config.json declares them: aliases resolved, transformers' defaults
    applied. Unlike ModelFacts (what vLLM's KV accounting sees), MLA here means "has kv_lora_rank" whatever the
    model type, and the dtype is the stored one (float32 stays float32)."""

    model_type: str                        # text model_type, lower case
    top_model_type: str                    # the outer model_type of a multimodal config
    nested: bool                           # the language model sits in text_config / llm_config / language_config
    dtype: str                             # dtype the unquantized tensors are stored in
    attention_kinds: tuple[str, ...]       # per layer: FULL (any softmax attention), MLA or LINEAR
    problems: tuple[str, ...] = ()
    quant: QuantConfig | None = None
    vision: VisionShapes | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    num_heads: int | None = None
    num_kv_heads: int | None = None
    head_dim: int | None = None
    attention_head_dim: int | None = None
    vocab_size: int | None = None
    tie_word_embeddings: bool = False
    hidden_act: str = "silu"
    mlp_bias: bool = False
    attention_bias: bool = False
    qkv_bias: bool = False
    use_qk_norm: bool = False
    qk_norm_type: str = ""
    attn_output_gate: bool = False
    intermediate_size: int | None = None
    ffn_hidden_size: int | None = None     # ffn_hidden_size / n_inner (when intermediate_size is absent)
    intermediate_size_mlp: int | None = None
    # MLA
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_nope_head_dim: int | None = None
    qk_rope_head_dim: int | None = None
    v_head_dim: int | None = None
    # Gated DeltaNet
    linear_num_key_heads: int | None = None
    linear_key_head_dim: int | None = None
    linear_num_value_heads: int | None = None
    linear_value_head_dim: int | None = None
    linear_conv_kernel_dim: int | None = None
    # Mamba2
    mamba_num_heads: int | None = None
    mamba_head_dim: int | None = None
    n_groups: int | None = None
    ssm_state_size: int | None = None
    conv_kernel: int | None = None
    mamba_proj_bias: bool = False
    use_bias: bool = False
    use_conv_bias: bool = True
    # MoE
    num_experts: int | None = None
    moe_intermediate_size: int | None = None
    shared_intermediate_size: int | None = None              # MiniMax / Mixtral-style shared MLP
    shared_expert_intermediate_size: int | None = None       # Qwen
    moe_shared_expert_intermediate_size: int | None = None   # Nemotron-H
    n_shared_experts: int | None = None
    use_routing_bias: bool = False
    topk_method: str = ""
    moe_layers: tuple[int, ...] | None = None                # Llama 4
    interleave_moe_layer_step: int | None = None
    first_k_dense_replace: int | None = None
    moe_layer_freq: int | None = None
    mlp_only_layers: tuple[int, ...] = ()
    decoder_sparse_step: int | None = None
    # layouts of their own
    block_configs: tuple[DeciBlock, ...] | None = None
    hybrid_override_pattern: str | None = None
    # MTP
    num_nextn_predict_layers: int | None = None
    mtp_num_hidden_layers: int | None = None
    use_mtp: bool = False


class _Fields:
    """Reads numbers and flags of one config object with alias lists, recording malformed values as problems."""

    def __init__(self, d: Mapping[str, Any], defaults: Mapping[str, Any], problems: list[str],
                 where: str = "") -> None:
        self.d, self.defaults, self.problems, self.where = d, defaults, problems, where

    def raw(self, *keys: str) -> Any:
        for k in keys:
            v = self.d.get(k)
            if v is not None:
                return v
        for k in keys:
            if k in self.defaults:
                return self.defaults[k]
        return None

    def num(self, *keys: str) -> int | None:
        v = self.raw(*keys)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 0 or v == float("inf"):
            self.problems.append(f"config.json field {self.where}{keys[0]!r} is not a non-negative number: {v!r}")
            return None
        return int(v)

    def flag(self, key: str, default: bool = False) -> bool:
        v = self.d.get(key)
        return default if v is None else bool(v)

    def text(self, *keys: str) -> str:
        v = self.raw(*keys)
        return str(v) if v else ""

    def ints(self, key: str) -> tuple[int, ...] | None:
        v = self.d.get(key)
        if v is None:
            return None
        if not isinstance(v, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                              and x == x and abs(x) != float("inf") for x in v):
            self.problems.append(f"config.json field {self.where}{key!r} is not a list of layer numbers")
            return None
        return tuple(int(x) for x in v)


def _quant_block(config: Mapping[str, Any], tc: Mapping[str, Any]) -> Any:
    """The quantization block a checkpoint declares: quantization_config, compression_config, or the text config's."""
    q = config.get("quantization_config")
    if q is None:
        q = config.get("compression_config")
    if q is None and tc is not config:
        q = tc.get("quantization_config")
    return q


def _quant_config(q: Any, problems: list[str]) -> QuantConfig | None:
    if q is None:
        return None
    if not isinstance(q, Mapping):
        problems.append("quantization_config is not a JSON object")
        return None

    def num(d: Mapping[str, Any], key: str, where: str = "quantization_config") -> int | None:
        v = d.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or abs(v) == float("inf"):
            problems.append(f"{where}.{key} is not a number: {v!r}")
            return None
        return int(v)

    method = str(q.get("quant_method") or "").lower()
    algo = str(q.get("quant_algo") or "").upper()
    if not method and algo:
        method = "modelopt"
    skip: list[str] = []
    for key in ("modules_to_not_convert", "ignored_layers", "ignore", "exclude_modules"):
        v = q.get(key) or []
        if not isinstance(v, (list, tuple)):
            problems.append(f"quantization_config.{key} is not a list")
            continue
        skip += [p for p in v if isinstance(p, str)]
    wbs = q.get("weight_block_size")
    block = None
    if wbs is not None:
        if isinstance(wbs, (list, tuple)) and len(wbs) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                                                    and x > 0 for x in wbs):
            block = (int(wbs[0]), int(wbs[1]))
        elif method == "fp8":
            problems.append(f"quantization_config.weight_block_size must be [n, k], got {wbs!r}")
    groups: list[QuantGroup] = []
    cg = q.get("config_groups")
    for g in cg.values() if isinstance(cg, Mapping) else ():
        w = g.get("weights") if isinstance(g, Mapping) else None
        if not isinstance(w, Mapping):
            groups.append(QuantGroup(has_weights=False))
            continue
        assert isinstance(g, Mapping)
        bs = w.get("block_structure")
        gblock = None
        if isinstance(bs, (list, tuple)) and len(bs) == 2:
            if all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 1 for x in bs):
                gblock = (int(bs[0]), int(bs[1]))
            else:
                problems.append(f"compressed-tensors block_structure must be two positive numbers, got {bs!r}")
        targets = g.get("targets") or ["Linear"]
        groups.append(QuantGroup(
            has_weights=True, num_bits=num(w, "num_bits", "config_groups.weights"),
            kind=str(w.get("type", "int")).lower(), strategy=str(w.get("strategy") or "").lower(),
            group_size=num(w, "group_size", "config_groups.weights"), block=gblock,
            symmetric=w.get("symmetric", True) is not False,
            targets=tuple(t for t in targets if isinstance(t, str)) if isinstance(targets, list) else ("Linear",)))
    return QuantConfig(
        method=method, algo=algo, skip=tuple(skip), weight_block_size=block,
        static_activations=str(q.get("activation_scheme", "dynamic")).lower() == "static",
        bits=num(q, "bits") or num(q, "w_bit"), group_size=num(q, "group_size"), q_group_size=num(q, "q_group_size"),
        lm_head=q.get("lm_head") is True, groups=tuple(groups))


def _vision_shapes(vc: Any, problems: list[str]) -> VisionShapes | None:
    if vc is None:
        return None
    if not isinstance(vc, Mapping):
        problems.append("config.json vision_config is not an object")
        return None
    f = _Fields(vc, {}, problems, "vision_config.")
    ratio = vc.get("pixel_shuffle_ratio")
    if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio > 0
                              or ratio == float("inf")):
        problems.append("config.json vision_config.pixel_shuffle_ratio is not a positive number")
        ratio = None
    deep = vc.get("deepstack_visual_indexes") or []
    return VisionShapes(
        model_type=str(vc.get("model_type") or "").lower(),
        hidden_size=f.num("hidden_size"), embed_dim=f.num("embed_dim"), depth=f.num("depth"),
        num_hidden_layers=f.num("num_hidden_layers"), num_layers=f.num("num_layers"),
        intermediate_size=f.num("intermediate_size"), out_hidden_size=f.num("out_hidden_size"),
        patch_size=f.num("patch_size"), temporal_patch_size=f.num("temporal_patch_size"),
        in_channels=f.num("in_channels"), num_channels=f.num("num_channels"),
        spatial_merge_size=f.num("spatial_merge_size"), num_position_embeddings=f.num("num_position_embeddings"),
        image_size=f.num("image_size"), projector_input_dim=f.num("projector_input_dim"),
        projector_output_dim=f.num("projector_output_dim"), vision_output_dim=f.num("vision_output_dim"),
        pixel_shuffle_ratio=float(ratio) if ratio is not None else None,
        deepstack_layers=len(deep) if isinstance(deep, (list, tuple)) else 0,
        use_head=bool(vc.get("vision_use_head")))


def _deci_blocks(blocks: Any, problems: list[str]) -> tuple[DeciBlock, ...] | None:
    if not isinstance(blocks, list):
        return None
    out = []
    for i, b in enumerate(blocks):
        att, ffn = (b.get("attention") or {}, b.get("ffn") or {}) if isinstance(b, Mapping) else (None, None)
        if not isinstance(att, Mapping) or not isinstance(ffn, Mapping):
            problems.append(f"config.json block_configs[{i}] is not an object")
            return None
        g, mult = att.get("n_heads_in_group"), ffn.get("ffn_mult")
        out.append(DeciBlock(
            attention="linear" if att.get("replace_with_linear") else "none" if att.get("no_op") else "gqa",
            heads_in_group=g if isinstance(g, int) and not isinstance(g, bool) and g > 0 else None,
            ffn="linear" if ffn.get("replace_with_linear") else "none" if ffn.get("no_op") else "mlp",
            ffn_mult=float(mult) if isinstance(mult, (int, float)) and not isinstance(mult, bool) and mult > 0
            and mult != float("inf") else None))
    return tuple(out)


def _checkpoint_kinds(tc: Mapping[str, Any], c: Checkpoint, problems: list[str]) -> tuple[str, ...]:
    """Per-layer attention tensors: MLA (kv_lora_rank given), Gated DeltaNet (LINEAR) or softmax attention (FULL)."""
    n = c.num_layers or 0
    if c.kv_lora_rank is not None:
        return (MLA,) * n
    types = tc.get("layer_types")
    if c.linear_num_value_heads is None and isinstance(types, list) and "linear_attention" in map(str, types):
        problems.append("config.json declares linear_attention layers but no linear_* head fields")
    if c.linear_num_value_heads is not None and not (isinstance(types, list) and len(types) == n) \
            and not tc.get("full_attention_interval"):
        problems.append("config.json has linear attention fields but neither layer_types nor full_attention_interval")
        return (FULL,) * n
    try:
        kinds, _, _ = _layer_kinds(tc, n, False, c.model_type)
    except (TypeError, ValueError, ZeroDivisionError, IndexError, OverflowError):
        problems.append("config.json has layer fields (layer_types, full_attention_interval, sliding_window) "
                        "the weight estimate cannot use")
        return (FULL,) * n
    return tuple(k if k == LINEAR else FULL for k in kinds)


def checkpoint_shapes(config: Mapping[str, Any]) -> Checkpoint:
    """The checkpoint's tensor shapes from a raw config.json. Never raises BadModelConfig for a field: malformed
    values become ``problems`` (the weight estimator raises them); only a non-object config is refused."""
    if not isinstance(config, Mapping):
        raise BadModelConfig("config.json is not a JSON object")
    problems: list[str] = []
    tc, container = text_config(config)
    model_type = str(tc.get("model_type") or config.get("model_type") or "").lower()
    f = _Fields(tc, _TEXT_DEFAULTS.get(model_type, {}), problems)
    dtype = "bfloat16"
    for d in (tc, config):
        v = next((d.get(k) for k in ("torch_dtype", "dtype") if isinstance(d.get(k), str)
                  and str(d.get(k)).lower().removeprefix("torch.") in _DTYPE_BYTES), None)
        if v is not None:
            dtype = str(v).lower().removeprefix("torch.")
            break
    vocab = f.num("vocab_size", "padded_vocab_size") or _Fields(config, {}, problems).num("vocab_size")
    tied = config.get("tie_word_embeddings")
    if tied is None:
        tied = f.raw("tie_word_embeddings")
    c = Checkpoint(
        model_type=model_type, top_model_type=str(config.get("model_type") or "").lower(),
        nested=tc is not config, dtype=dtype, attention_kinds=(),
        quant=_quant_config(_quant_block(config, tc), problems),
        vision=_vision_shapes(config.get("vision_config"), problems),
        hidden_size=f.num("hidden_size", "d_model", "n_embd"),
        num_layers=f.num("num_hidden_layers", "num_layers", "n_layer"),
        num_heads=f.num("num_attention_heads", "n_head", "num_heads"),
        num_kv_heads=f.num("num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num"),
        head_dim=f.num("head_dim", "attention_head_dim"), attention_head_dim=f.num("attention_head_dim", "head_dim"),
        vocab_size=vocab, tie_word_embeddings=bool(tied),
        hidden_act=(f.text("hidden_act", "mlp_hidden_act", "activation_function") or "silu").lower(),
        mlp_bias=f.flag("mlp_bias"), attention_bias=f.flag("attention_bias"), qkv_bias=f.flag("qkv_bias"),
        use_qk_norm=f.flag("use_qk_norm"), qk_norm_type=f.text("qk_norm_type"),
        attn_output_gate=f.flag("attn_output_gate"),
        intermediate_size=f.num("intermediate_size"), ffn_hidden_size=f.num("ffn_hidden_size", "n_inner"),
        intermediate_size_mlp=f.num("intermediate_size_mlp"),
        q_lora_rank=f.num("q_lora_rank"), kv_lora_rank=f.num("kv_lora_rank"),
        qk_nope_head_dim=f.num("qk_nope_head_dim"), qk_rope_head_dim=f.num("qk_rope_head_dim"),
        v_head_dim=f.num("v_head_dim"),
        linear_num_key_heads=f.num("linear_num_key_heads"), linear_key_head_dim=f.num("linear_key_head_dim"),
        linear_num_value_heads=f.num("linear_num_value_heads"),
        linear_value_head_dim=f.num("linear_value_head_dim"), linear_conv_kernel_dim=f.num("linear_conv_kernel_dim"),
        mamba_num_heads=f.num("mamba_num_heads"), mamba_head_dim=f.num("mamba_head_dim"), n_groups=f.num("n_groups"),
        ssm_state_size=f.num("ssm_state_size"), conv_kernel=f.num("conv_kernel"),
        mamba_proj_bias=f.flag("mamba_proj_bias"), use_bias=f.flag("use_bias"),
        use_conv_bias=f.flag("use_conv_bias", True),
        num_experts=f.num("n_routed_experts", "num_local_experts", "num_experts", "moe_num_experts"),
        moe_intermediate_size=f.num("moe_intermediate_size", "expert_intermediate_size"),
        shared_intermediate_size=f.num("shared_intermediate_size"),
        shared_expert_intermediate_size=f.num("shared_expert_intermediate_size"),
        moe_shared_expert_intermediate_size=f.num("moe_shared_expert_intermediate_size"),
        n_shared_experts=f.num("n_shared_experts", "num_shared_experts"),
        use_routing_bias=f.flag("use_routing_bias"), topk_method=f.text("topk_method"),
        moe_layers=f.ints("moe_layers"), interleave_moe_layer_step=f.num("interleave_moe_layer_step"),
        first_k_dense_replace=f.num("first_k_dense_replace"), moe_layer_freq=f.num("moe_layer_freq"),
        mlp_only_layers=f.ints("mlp_only_layers") or (), decoder_sparse_step=f.num("decoder_sparse_step"),
        block_configs=_deci_blocks(f.raw("block_configs"), problems),
        hybrid_override_pattern=p if isinstance(p := f.raw("hybrid_override_pattern"), str) else None,
        num_nextn_predict_layers=f.num("num_nextn_predict_layers"),
        mtp_num_hidden_layers=f.num("mtp_num_hidden_layers"), use_mtp=f.flag("use_mtp"),
    )
    c = replace(c, attention_kinds=_checkpoint_kinds(tc, c, problems))
    return replace(c, problems=tuple(problems))
