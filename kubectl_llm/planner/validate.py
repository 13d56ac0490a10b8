"""Sanity checks of a raw config.json, run once before anything reads it (``facts.from_config`` calls it). Pure.

A config.json comes from anywhere (a Hub repo, a hand-edited local directory), and JSON lets it say things no model
can be: ``NaN`` or ``Infinity`` layers (transformers writes those bare tokens, Python's json reads them), 10^12
layers, 4096.5 hidden units, more KV heads than attention heads, ``"architectures": "X"`` as a string. Without this
step such values reached ``int()`` or a ``range()`` deep in the planner and surfaced as an internal error (exit 70),
or were silently misread (``"X"[0]``).

Rule: a value the plan depends on is either valid or the plan stops with ONE ``BadModelConfig`` (exit 3) naming the
field, the value and what was expected; a value that can be ignored safely (the conservative reading is the one
without it: a malformed ``sliding_window`` means full attention, i.e. more KV memory) is ignored with a warning
that says so. Nothing is dropped silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from kubectl_llm.errors import BadModelConfig

# model_type values vLLM treats as DeepSeek-style MLA when kv_lora_rank is set (`is_deepseek_mla`)
MLA_MODEL_TYPES = frozenset({
    "deepseek_v2", "deepseek_v3", "deepseek_v32", "deepseek_mtp", "kimi_k2", "kimi_vl", "longcat_flash",
    "glm4_moe_lite", "glm_moe_dsa", "kimi_linear", "pangu_ultra_moe", "mistral_large_3",
})

# Plausible ranges of the integer fields the planner reads (min, max). The maxima are far above any real model
# (the largest today: ~200 layers, hidden 20480, 128 heads, vocab ~260K, 384 experts, contexts of ~10M tokens)
# and far below what would exhaust memory or overflow the arithmetic.
_LAYERS = (1, 4096)
_DIM = (1, 1 << 20)
_HEADS = (1, 1 << 14)
_COUNT = (0, 1 << 16)
_CONTEXT = (1, 1 << 32)

REQUIRED: dict[str, tuple[int, int]] = {
    "num_hidden_layers": _LAYERS, "hidden_size": _DIM, "num_attention_heads": _HEADS,
}
OPTIONAL: dict[str, tuple[int, int]] = {
    # heads and dims
    "num_key_value_heads": _HEADS, "n_head_kv": _HEADS, "num_kv_heads": _HEADS, "multi_query_group_num": _HEADS,
    "num_attention_groups": _HEADS, "head_dim": _DIM, "attention_head_dim": _DIM, "hidden_size_per_head": _DIM,
    "intermediate_size": (0, 1 << 22), "vocab_size": (1, 1 << 24),
    # MoE
    "num_experts": _COUNT, "num_local_experts": _COUNT, "n_routed_experts": _COUNT, "moe_num_experts": _COUNT,
    "num_experts_per_tok": _COUNT, "moe_top_k": _COUNT, "experts_per_token": _COUNT,
    "moe_intermediate_size": (0, 1 << 22), "expert_intermediate_size": (0, 1 << 22),
    "n_shared_experts": _COUNT, "shared_expert_intermediate_size": (0, 1 << 22), "first_k_dense_replace": _LAYERS,
    # MLA
    "kv_lora_rank": (0, 1 << 16), "q_lora_rank": (0, 1 << 16), "qk_rope_head_dim": (0, 1 << 16),
    "qk_nope_head_dim": (0, 1 << 16), "v_head_dim": (0, 1 << 16),
    # linear attention / Mamba
    "linear_num_key_heads": _HEADS, "linear_num_value_heads": _HEADS, "linear_key_head_dim": _DIM,
    "linear_value_head_dim": _DIM, "linear_conv_kernel_dim": (0, 1 << 10), "full_attention_interval": _LAYERS,
    "mamba_num_heads": _HEADS, "mamba_head_dim": _DIM, "n_groups": _HEADS, "ssm_state_size": _DIM,
    "conv_kernel": (0, 1 << 10),
    # context, layer patterns
    "max_position_embeddings": _CONTEXT, "sliding_window_pattern": _LAYERS,
}
# alternative context keys vLLM also reads (the smallest wins): a malformed one is ignored when another is valid
CONTEXT_ALIASES = ("n_positions", "max_seq_len", "seq_length", "max_sequence_length", "max_seq_length", "seq_len",
                   "max_target_positions")
# ignored with a warning when malformed: the reading without them is the conservative one
IGNORABLE: dict[str, tuple[tuple[int, int], str]] = {
    "sliding_window": ((1, 1 << 32), "every layer is treated as full attention (more KV memory, never less)"),
    "attention_chunk_size": ((1, 1 << 32), "every layer is treated as full attention (more KV memory, never less)"),
    "num_nextn_predict_layers": ((0, 64), "no MTP layers are counted"),
    "mtp_num_hidden_layers": ((0, 64), "no MTP layers are counted"),
}
_DTYPES = {"float32", "float", "fp32", "bfloat16", "bf16", "float16", "fp16", "half"}
_HINT = "fix config.json (or re-download it); a local directory lets you pass a corrected copy"


def _describe(v: Any) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def int_problem(v: Any, lo: int, hi: int) -> str:
    """'' when ``v`` is an integer in [lo, hi] (an integral float such as 4096.0 counts), else what is wrong."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return f"is {type(v).__name__} {_describe(v)}, not a whole number"
    if isinstance(v, float):
        if not math.isfinite(v):
            return f"is {_describe(v)}, not a whole number"
        if not v.is_integer():
            return f"is {_describe(v)}, not a whole number"
    if v < lo:
        return f"is {_describe(v)}, below {lo}"
    if v > hi:
        return f"is {_describe(v)}, not a plausible size (at most {hi})"
    return ""


def _where(container: str, key: str) -> str:
    return f"{container}.{key}" if container else key


def _check_section(d: dict[str, Any], container: str, model_id: str, warnings: list[str],
                   required: bool) -> None:
    """Raise on a bad value the plan needs; drop (and warn about) a bad value that can be ignored. Edits ``d``."""
    for key, (lo, hi) in (REQUIRED | OPTIONAL if required else OPTIONAL).items():
        v = d.get(key)
        if v is None:
            continue
        why = int_problem(v, lo, hi)
        if why:
            raise BadModelConfig(f"{model_id}: config.json field {_where(container, key)} {why}", _HINT)
    for key, ((lo, hi), consequence) in IGNORABLE.items():
        v = d.get(key)
        if v is None:
            continue
        why = int_problem(v, lo, hi)
        if why:
            del d[key]
            if not (key == "sliding_window" and v in (0, -1, False)):   # 0 / -1: "no window", the same meaning
                warnings.append(f"config.json field {_where(container, key)} {why}: ignored, {consequence}")
    for key in ("torch_dtype", "dtype"):
        v = d.get(key)
        if v is not None and (not isinstance(v, str) or v.lower().removeprefix("torch.") not in _DTYPES):
            del d[key]
            warnings.append(f"config.json field {_where(container, key)} is {_describe(v)}, not a known dtype: "
                            f"ignored, bfloat16 assumed")
    v = d.get("tie_word_embeddings")
    if v is not None and not isinstance(v, bool):
        d["tie_word_embeddings"] = bool(v)
        warnings.append(f"config.json field {_where(container, 'tie_word_embeddings')} is {_describe(v)}, not "
                        f"true/false: read as {bool(v)}")
    for key in ("rope_scaling", "rope_parameters"):
        v = d.get(key)
        if v is not None and not isinstance(v, Mapping):
            del d[key]
            warnings.append(f"config.json field {_where(container, key)} is {_describe(v)}, not an object: ignored "
                            f"(a --context-length above the native one then writes a fresh RoPE block)")
        elif v is not None:
            _check_rope(v, _where(container, key), model_id)
    for key in CONTEXT_ALIASES:
        v = d.get(key)
        if v is not None and int_problem(v, *_CONTEXT):
            del d[key]
            warnings.append(f"config.json field {_where(container, key)} {int_problem(v, *_CONTEXT)}: ignored as a "
                            f"context length")


def _check_rope(block: Mapping[str, Any], where: str, model_id: str) -> None:
    """A RoPE block (rope_scaling / rope_parameters, or one per layer kind under rope_parameters) is not ignorable:
    the plan reads its factor and original context to extend it, copies it into --hf-overrides, and vLLM reads every
    number in it. So a malformed value is one BadModelConfig, whatever the context asked for."""
    for key, v in block.items():
        at = f"{where}.{key}"
        if v is None:
            continue
        if isinstance(v, Mapping):
            _check_rope(v, at, model_id)
        elif key in ("rope_type", "type"):
            if not isinstance(v, str):
                raise BadModelConfig(f"{model_id}: config.json field {at} is {_describe(v)}, not a name", _HINT)
        elif key == "original_max_position_embeddings":
            why = int_problem(v, *_CONTEXT)
            if why:
                raise BadModelConfig(f"{model_id}: config.json field {at} {why}", _HINT)
        elif key in ("factor", "rope_theta"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise BadModelConfig(f"{model_id}: config.json field {at} is {type(v).__name__} {_describe(v)}, not "
                                     f"a positive number", _HINT)
            if not (math.isfinite(v) and v > 0):
                raise BadModelConfig(f"{model_id}: config.json field {at} is {_describe(v)}, not a positive number",
                                     _HINT)
        else:
            values = v if isinstance(v, list) else [v]
            bad = next((x for x in values if isinstance(x, float) and not math.isfinite(x)), None)
            if bad is not None:
                raise BadModelConfig(f"{model_id}: config.json field {at} is {_describe(v)}, not a finite number",
                                     _HINT)


def _check_heads(d: Mapping[str, Any], container: str, model_id: str, mla: bool) -> None:
    heads = d.get("num_attention_heads")
    kv = next((d[k] for k in ("n_head_kv", "num_kv_heads", "num_key_value_heads", "multi_query_group_num",
                              "num_attention_groups") if d.get(k) is not None), None)
    if mla or heads is None or kv is None:
        return                                   # MLA: vLLM ignores the KV-head count (one latent head)
    heads, kv = int(heads), int(kv)
    if kv > heads:
        raise BadModelConfig(f"{model_id}: config.json has {kv} KV heads but only {heads} attention heads "
                             f"({_where(container, 'num_key_value_heads')} must not exceed num_attention_heads)",
                             _HINT)
    if heads % kv:
        raise BadModelConfig(f"{model_id}: config.json's {heads} attention heads are not a multiple of its {kv} KV "
                             f"heads (grouped-query attention needs whole groups)", _HINT)


def _check_experts(d: Mapping[str, Any], container: str, model_id: str) -> None:
    n = next((d[k] for k in ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts")
              if d.get(k)), None)
    k = next((d[k] for k in ("num_experts_per_tok", "moe_top_k", "experts_per_token") if d.get(k)), None)
    if n and k and int(k) > int(n):
        raise BadModelConfig(f"{model_id}: config.json routes each token to {int(k)} experts but has only "
                             f"{int(n)} ({_where(container, 'num_experts_per_tok')} > number of experts)", _HINT)


def _check_quantization(q: Mapping[str, Any], model_id: str) -> None:
    wbs = q.get("weight_block_size")
    if wbs is not None and (not isinstance(wbs, list) or len(wbs) != 2 or any(int_problem(x, 1, 1 << 16)
                                                                               for x in wbs)):
        raise BadModelConfig(f"{model_id}: config.json field quantization_config.weight_block_size is "
                             f"{_describe(wbs)}, not [n, k] block sizes", _HINT)
    for key in ("bits", "w_bit"):
        if q.get(key) is not None and int_problem(q[key], 1, 16):
            raise BadModelConfig(f"{model_id}: config.json field quantization_config.{key} "
                                 f"{int_problem(q[key], 1, 16)}", _HINT)
    groups = q.get("config_groups")
    if groups is not None:
        if not isinstance(groups, Mapping) or not all(isinstance(g, Mapping) for g in groups.values()):
            raise BadModelConfig(f"{model_id}: config.json field quantization_config.config_groups is not an "
                                 f"object of objects", _HINT)
        for name, g in groups.items():
            w = g.get("weights")
            if w is not None and not isinstance(w, Mapping):
                raise BadModelConfig(f"{model_id}: config.json quantization_config.config_groups.{name}.weights is "
                                     f"{_describe(w)}, not an object", _HINT)
            if isinstance(w, Mapping) and w.get("num_bits") is not None and int_problem(w["num_bits"], 1, 16):
                raise BadModelConfig(f"{model_id}: config.json quantization_config.config_groups.{name}.weights."
                                     f"num_bits {int_problem(w['num_bits'], 1, 16)}", _HINT)


def _check_blocks(d: Mapping[str, Any], container: str, model_id: str) -> None:
    """DeciLM / Nemotron-NAS per-layer block_configs: objects, with whole positive head-group sizes."""
    blocks = d.get("block_configs")
    if blocks is None:
        return
    if not isinstance(blocks, list) or not all(isinstance(b, Mapping) for b in blocks):
        raise BadModelConfig(f"{model_id}: config.json field {_where(container, 'block_configs')} is not a list of "
                             f"objects", _HINT)
    for i, b in enumerate(blocks):
        for part in ("attention", "ffn"):
            if b.get(part) is not None and not isinstance(b[part], Mapping):
                raise BadModelConfig(f"{model_id}: config.json block_configs[{i}].{part} is not an object", _HINT)
        g = (b.get("attention") or {}).get("n_heads_in_group")
        if g is not None and int_problem(g, *_HEADS):
            raise BadModelConfig(f"{model_id}: config.json block_configs[{i}].attention.n_heads_in_group "
                                 f"{int_problem(g, *_HEADS)}", _HINT)
        m = (b.get("ffn") or {}).get("ffn_mult")
        if m is not None and (isinstance(m, bool) or not isinstance(m, (int, float)) or not math.isfinite(m)
                              or not 0 < m <= 1000):
            raise BadModelConfig(f"{model_id}: config.json block_configs[{i}].ffn.ffn_mult is {_describe(m)}, not "
                                 f"a positive multiplier", _HINT)


@dataclass(frozen=True)
class CheckedConfig:
    """The config with safely ignorable bad values removed, and the warnings that say so."""

    config: Mapping[str, Any]
    warnings: tuple[str, ...]


def validate_config(config: Any, model_id: str) -> CheckedConfig:
    """Check a raw config.json: raise BadModelConfig (exit 3) on a value the plan depends on; return the config
    without the values that can be ignored safely, and a warning for each of them. The input is not modified."""
    if not isinstance(config, Mapping):
        raise BadModelConfig(f"{model_id}: config.json is not a JSON object", _HINT)
    config = dict(config)
    warnings: list[str] = []
    archs = config.get("architectures")
    if archs is not None:
        if isinstance(archs, str):
            raise BadModelConfig(f"{model_id}: config.json field architectures is the string {_describe(archs)}, "
                                 f"not a list of class names", f'write "architectures": [{_describe(archs)}]'
                                 .replace("'", '"'))
        if not isinstance(archs, list) or not all(isinstance(a, str) and a for a in archs):
            raise BadModelConfig(f"{model_id}: config.json field architectures is {_describe(archs)}, not a list of "
                                 f"class names", _HINT)
        if not archs:
            warnings.append("config.json field architectures is empty: the model_type picks the serving recipe")
    for key in ("text_config", "llm_config", "language_config", "vision_config", "quantization_config",
                "compression_config"):
        v = config.get(key)
        if v is not None and not isinstance(v, Mapping):
            if key == "text_config" and config.get("num_hidden_layers") is not None:
                del config[key]
                warnings.append(f"config.json field text_config is {_describe(v)}, not an object: ignored, the "
                                f"top-level fields describe the language model")
                continue
            raise BadModelConfig(f"{model_id}: config.json field {key} is {_describe(v)}, not an object", _HINT)
    container = next((k for k in ("text_config", "llm_config", "language_config")
                      if isinstance(config.get(k), Mapping) and config[k].get("num_hidden_layers") is not None), "")
    if container:
        config[container] = tc = dict(config[container])
        _check_section(config, "", model_id, warnings, required=False)
    else:
        tc = config
    _check_section(tc, container, model_id, warnings, required=True)
    model_type = str(tc.get("model_type") or config.get("model_type") or "")
    mla = bool(tc.get("kv_lora_rank")) and model_type in MLA_MODEL_TYPES
    _check_heads(tc, container, model_id, mla)
    _check_experts(tc, container, model_id)
    _check_blocks(tc, container, model_id)
    for q in (config.get("quantization_config"), config.get("compression_config"), tc.get("quantization_config")):
        if q is not None and not isinstance(q, Mapping):
            raise BadModelConfig(f"{model_id}: config.json field quantization_config is {_describe(q)}, not an "
                                 f"object", _HINT)
        if q is not None:
            _check_quantization(q, model_id)
    n = int(tc["num_hidden_layers"]) if tc.get("num_hidden_layers") is not None else None
    types = tc.get("layer_types")
    if types is not None and (not isinstance(types, list) or len(types) != n):
        count = f"{len(types)} entries" if isinstance(types, list) else _describe(types)
        for key in ("layer_types", "sliding_window", "attention_chunk_size"):
            tc.pop(key, None)
        warnings.append(f"config.json field {_where(container, 'layer_types')} has {count} for {n} layers: "
                        f"ignored, every layer is treated as full attention (more KV memory, never less)")
    pattern = tc.get("hybrid_override_pattern")
    if pattern is not None and (not isinstance(pattern, str) or len(pattern) != n):
        raise BadModelConfig(f"{model_id}: config.json field {_where(container, 'hybrid_override_pattern')} must "
                             f"have one character per layer ({n}), got {_describe(pattern)}", _HINT)
    return CheckedConfig(config, tuple(warnings))
