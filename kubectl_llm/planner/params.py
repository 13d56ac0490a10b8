"""Parameter count and checkpoint bytes estimated from config.json alone.

Why this exists: the planner sizes GPUs, the PVC and the pod memory from the weight bytes. Usually the model
source reads them from safetensors metadata; when it cannot (a bare local config.json, a Hub mirror without an
index, an offline catalog entry) the planner must still produce a number an admin can trust, and say that it is
an estimate. This module rebuilds the tensor inventory of the checkpoint from the architecture fields (the same
modules transformers / vLLM would build) and prices each tensor with the checkpoint's quantization layout.

What is counted
* ``total_params``: every parameter of the model vLLM serves: embeddings, decoder layers, final norm, the
  untied lm_head, the vision tower + projector. Multi-token-prediction (MTP / "nextn") layers are NOT in
  ``total_params`` (they are not part of the main model; the well-known counts such as DeepSeek-V3's 671e9
  exclude them); they are reported in ``mtp_params``.
* ``total_bytes``: what the checkpoint stores on disk (what the PVC must hold), MTP layers included, because
  the files ship them (DeepSeek-V3: one MTP layer inside its 688 GB).
* ``loaded_bytes``: what vLLM loads to the GPUs for the main model: ``total_bytes`` minus the MTP layers (vLLM
  loads those only with MTP speculative decoding on).
* ``bytes_by_part`` sums to ``total_bytes``; the ``"mtp"`` entry holds the MTP layers, so a consumer that wants
  the loaded split simply drops it.

Quantization layouts priced per weight matrix of ``rows x cols`` elements (scales as stored in the files):
* unquantized: the config dtype (``torch_dtype`` / ``dtype``, default bf16);
* fp8 block-wise ``[bn, bk]``: 1 byte + one float32 scale per ``bn x bk`` block; per-tensor fp8: one scale;
  ``modules_to_not_convert`` / ``ignored_layers`` stay in the activation dtype;
* compressed-tensors: weights per ``config_groups`` (8-bit float: 1 byte + scale per channel / group / block;
  4-bit int pack-quantized: 0.5 byte + scales (+ zero points); 4-bit float NVFP4: 0.5 byte + fp8 scale per
  16); the ``ignore`` list stays unquantized;
* mxfp4 (gpt-oss): only the MoE experts, 0.5 byte + one uint8 scale per 32 values; everything else bf16;
* modelopt NVFP4: 0.5 byte + one fp8 scale per 16 values + two float32 per-tensor scales; modelopt FP8:
  1 byte + per-tensor scales; ``exclude_modules`` / ``ignore`` patterns stay unquantized;
* AWQ / GPTQ: ``bits`` per weight + fp16 scale and packed zero point per group (GPTQ adds ``g_idx``).
Embeddings, norms, biases, routers and (except compressed-tensors / modelopt when not excluded) the lm_head stay
in the activation dtype, as the real checkpoints do.

Pure: standard library only, no I/O. Unknown layouts raise :class:`kubectl_llm.errors.BadModelConfig`.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from kubectl_llm.errors import BadModelConfig

__all__ = ["WeightEstimate", "estimate_weights"]

_DTYPE_BYTES = {"float32": 4, "float": 4, "fp32": 4, "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2,
                "half": 2}

# transformers defaults for configs that omit fields (the official Gemma 3 config is sparse)
_TEXT_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma3_text": {"vocab_size": 262208, "tie_word_embeddings": True, "head_dim": 256},
    "gemma3": {"vocab_size": 262208, "tie_word_embeddings": True, "head_dim": 256},
    "gemma2": {"tie_word_embeddings": True},
    "gemma": {"tie_word_embeddings": True},
}

# parts of bytes_by_part
EMBEDDINGS, ATTENTION, LINEAR_ATTENTION, MLP, SHARED, ROUTER, EXPERTS, NORMS, VISION, LM_HEAD, MTP = (
    "embeddings", "attention", "linear_attention", "mlp", "shared_experts", "router", "experts", "norms",
    "vision", "lm_head", "mtp")


@dataclass(frozen=True)
class WeightEstimate:
    """Parameters and bytes of a checkpoint, rebuilt from its config.json (see the module docstring)."""

    total_params: int              # main model incl. embeddings, untied lm_head, vision tower; MTP excluded
    total_bytes: int               # checkpoint bytes (PVC), MTP layers included
    expert_params: int             # routed-expert parameters (0 for dense), MTP excluded
    dense_params: int              # total_params - expert_params
    bytes_by_part: dict[str, int]  # sums to total_bytes; "mtp" holds the MTP layers
    notes: tuple[str, ...]         # how the number was made, for the plan's reasons
    mtp_params: int = 0            # parameters of MTP / nextn layers stored in the checkpoint
    loaded_bytes: int = 0          # bytes vLLM loads for the main model (total_bytes - MTP)
    params_by_part: dict[str, int] = field(default_factory=dict)
    quantization: str = "none"     # short label of the priced layout
    dtype: str = "bfloat16"        # dtype of the unquantized tensors

    @property
    def expert_bytes(self) -> int:
        """Routed-expert bytes of the main model: the part expert parallelism shards."""
        return self.bytes_by_part.get(EXPERTS, 0)

    @property
    def checkpoint_params(self) -> int:
        """Everything the files hold (the count the Hugging Face page shows): main model + MTP layers."""
        return self.total_params + self.mtp_params


# --- tensors ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _T:
    """One tensor (or ``count`` identical ones): a matmul weight of rows x cols, or a vector of rows x 1."""

    name: str                # HF-style module path; "{i}" = layer index (experts use index 0 as representative)
    part: str
    rows: int
    cols: int = 1
    count: int = 1
    linear: bool = False     # a quantizable matmul weight
    expert: bool = False     # routed expert (mxfp4 quantizes only these)
    fp32: bool = False       # stored in float32 whatever the model dtype (e_score_correction_bias, A_log ...)

    @property
    def params(self) -> int:
        return self.rows * self.cols * self.count


def _lin(name: str, part: str, rows: int, cols: int, count: int = 1, expert: bool = False) -> _T:
    return _T(name, part, rows, cols, count, linear=True, expert=expert)


def _vec(name: str, part: str, n: int, count: int = 1, fp32: bool = False) -> _T:
    return _T(name, part, n, 1, count, fp32=fp32)


# --- module-name patterns (modules_to_not_convert / ignore / exclude_modules) ---------------------------------
class _Patterns:
    """Matches module names against the pattern lists quantization configs carry.

    Forms seen in real configs: bare names (``"gate"``, ``"lm_head"``), dotted paths
    (``"model.layers.0.mlp.gate"``, possibly under another prefix than ours), trailing globs
    (``"model.layers.0.self_attn*"``), inner globs (``"model.layers.*.self_attn"``) and compressed-tensors
    regexes (``"re:.*lm_head"``, matched with ``re.match`` as compressed-tensors does). A plain or glob pattern
    matches when it covers whole dotted components of the name (``"model.layers.1.mlp"`` does not match layer 11).
    Plain and trailing-glob patterns are set lookups over the name's dotted sub-paths, because real lists hold
    hundreds of entries and the estimate must stay in the millisecond range.
    """

    def __init__(self, patterns: Iterable[Any]) -> None:
        self._plain: set[str] = set()
        self._prefix: dict[str, list[str]] = {}      # "a.b" -> ["tail", ...] for "a.b.tail*"
        self._globs: list[str] = []
        self._regex: list[re.Pattern[str]] = []
        self.size = 0
        for p in patterns:
            if not isinstance(p, str) or not p.strip():
                continue
            p = p.strip()
            self.size += 1
            if p.startswith("re:"):
                try:
                    self._regex.append(re.compile(p[3:]))
                except re.error as exc:
                    raise BadModelConfig(f"quantization_config has an invalid regex {p!r}: {exc}") from None
            elif not any(c in p for c in "*?["):
                self._plain.add(p)
            elif p.endswith("*") and not any(c in p[:-1] for c in "*?["):
                head, _, tail = p[:-1].rpartition(".")
                self._prefix.setdefault(head, []).append(tail)
            else:
                self._globs.append(p)

    def __bool__(self) -> bool:
        return self.size > 0

    def match(self, name: str) -> bool:
        if any(rx.match(name) for rx in self._regex):
            return True
        comps = name.split(".")
        k = len(comps)
        for a in range(k):
            for b in range(a + 1, k + 1):
                sub = ".".join(comps[a:b])
                if sub in self._plain:
                    return True
                if b < k and sub in self._prefix and any(comps[b].startswith(t) for t in self._prefix[sub]):
                    return True
                if self._globs and any(fnmatch.fnmatchcase(sub, g) for g in self._globs):
                    return True
            if "" in self._prefix and any(comps[a].startswith(t) for t in self._prefix[""]):
                return True         # a bare "name*" glob: any component starting with name
        return False


# --- quantization schemes -----------------------------------------------------------------------------------
@dataclass
class _Scheme:
    """Prices one tensor. ``applies`` says whether a linear weight is quantized at all."""

    label: str
    act_bytes: int
    note: str
    weight_bytes: Callable[[int, int], int] | None = None   # (rows, cols) -> bytes for one quantized matrix
    skip: _Patterns = field(default_factory=lambda: _Patterns(()))
    include: _Patterns | None = None      # compressed-tensors non-"Linear" targets
    experts_only: bool = False            # mxfp4
    quantize_lm_head: bool = False        # compressed-tensors / modelopt: lm_head is a Linear like any other
    quantize_vision: bool = True

    def quantized(self, t: _T, name: str) -> bool:
        if self.weight_bytes is None or not t.linear or t.part == ROUTER:
            return False            # routers stay in the activation dtype in every known checkpoint / in vLLM
        if self.experts_only and not t.expert:
            return False
        if t.part == LM_HEAD and not self.quantize_lm_head:
            return False
        if t.part == VISION and not self.quantize_vision:
            return False
        if self.include is not None and not self.include.match(name):
            return False
        return not (self.skip and self.skip.match(name))

    def tensor_bytes(self, t: _T, name: str) -> int:
        if self.quantized(t, name):
            assert self.weight_bytes is not None
            return self.weight_bytes(t.rows, t.cols) * t.count
        return t.params * (4 if t.fp32 else self.act_bytes)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _int_field(d: Mapping[str, Any], key: str, default: int | None = None) -> int | None:
    v = d.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
        raise BadModelConfig(f"quantization_config.{key} is not a number: {v!r}")
    return int(v)


def _scheme(config: Mapping[str, Any], act_bytes: int, dtype: str) -> _Scheme:
    q = config.get("quantization_config")
    if q is None:
        q = config.get("compression_config")
    if q is None:
        tc = _text_config(config)
        q = tc.get("quantization_config") if tc is not config else None
    if q is None:
        return _Scheme("none", act_bytes, f"unquantized {dtype}: {act_bytes} bytes per parameter")
    if not isinstance(q, Mapping):
        raise BadModelConfig("quantization_config is not a JSON object")
    method = str(q.get("quant_method") or "").lower()
    algo = str(q.get("quant_algo") or "").upper()
    if not method and algo:
        method = "modelopt"
    skip_list = list(q.get("modules_to_not_convert") or []) + list(q.get("ignored_layers") or []) \
        + list(q.get("ignore") or []) + list(q.get("exclude_modules") or [])
    skip = _Patterns(skip_list)
    kept = f"; {skip.size} module patterns kept unquantized" if skip else ""

    if method == "fp8":
        wbs = q.get("weight_block_size")
        if wbs is not None:
            if not (isinstance(wbs, (list, tuple)) and len(wbs) == 2 and all(isinstance(x, int) and x > 0
                                                                              for x in wbs)):
                raise BadModelConfig(f"quantization_config.weight_block_size must be [n, k], got {wbs!r}")
            bn, bk = int(wbs[0]), int(wbs[1])
            return _Scheme(f"fp8 block [{bn},{bk}]", act_bytes,
                           f"fp8 block-wise [{bn},{bk}]: 1 byte per weight + a float32 scale per {bn}x{bk} "
                           f"block; embeddings, lm_head, norms and routers in {dtype}{kept}",
                           lambda r, c: r * c + _cdiv(r, bn) * _cdiv(c, bk) * 4, skip)
        static = str(q.get("activation_scheme", "dynamic")).lower() == "static"
        return _Scheme("fp8 per-tensor", act_bytes,
                       f"fp8 per-tensor: 1 byte per weight + float32 scale(s); embeddings, lm_head, norms and "
                       f"routers in {dtype}{kept}",
                       lambda r, c: r * c + 4 + (4 if static else 0), skip)

    if method == "mxfp4":
        return _Scheme("mxfp4", act_bytes,
                       f"mxfp4: MoE experts in 4 bits + one uint8 scale per 32 values (0.53125 byte per weight); "
                       f"attention, routers, embeddings, lm_head, biases in {dtype}",
                       lambda r, c: r * c // 2 + _cdiv(r * c, 32), skip, experts_only=True)

    if method in ("modelopt", "modelopt_fp4", "modelopt_fp8"):
        if not algo:
            algo = "NVFP4" if method == "modelopt_fp4" else "FP8" if method == "modelopt_fp8" else ""
        group = _int_field(q, "group_size", None)
        for g in (q.get("config_groups") or {}).values() if isinstance(q.get("config_groups"), Mapping) else ():
            w = (g or {}).get("weights") if isinstance(g, Mapping) else None
            if isinstance(w, Mapping) and w.get("group_size"):
                group = int(w["group_size"])
        if "FP4" in algo:
            gs = group or 16
            return _Scheme("modelopt nvfp4", act_bytes,
                           f"modelopt NVFP4: 4 bits per weight + one fp8 scale per {gs} values + float32 "
                           f"per-tensor scales; excluded modules, embeddings, norms and routers in {dtype}{kept}",
                           lambda r, c: r * c // 2 + _cdiv(r * c, gs) + 8, skip, quantize_lm_head=True)
        if "FP8" in algo:
            return _Scheme("modelopt fp8", act_bytes,
                           f"modelopt FP8: 1 byte per weight + float32 per-tensor scales; excluded modules, "
                           f"embeddings, norms and routers in {dtype}{kept}",
                           lambda r, c: r * c + 8, skip, quantize_lm_head=True)
        raise BadModelConfig(f"modelopt quantization with quant_algo {algo or 'missing'!r} is not supported "
                             f"(known: NVFP4, FP8)")

    if method == "compressed-tensors":
        return _compressed_tensors(q, act_bytes, dtype, skip, kept)

    if method == "fbgemm_fp8":
        return _Scheme("fbgemm fp8", act_bytes,
                       f"fbgemm fp8: 1 byte per weight + a float32 scale per output channel; "
                       f"embeddings, lm_head, norms and routers in {dtype}{kept}",
                       lambda r, c: r * c + r * 4, skip)

    if method in ("awq", "gptq", "awq_marlin", "gptq_marlin"):
        bits = _int_field(q, "bits", None) or _int_field(q, "w_bit", None) or 4
        group = _int_field(q, "group_size", None)
        if group is None:
            group = _int_field(q, "q_group_size", 128)
        assert group is not None
        if bits not in (2, 3, 4, 8):
            raise BadModelConfig(f"{method} with {bits} bits is not supported (known: 2, 3, 4, 8)")
        gptq = method.startswith("gptq")

        def awq_gptq(r: int, c: int) -> int:
            g = c if group <= 0 else group
            groups = _cdiv(c, g)
            out = r * c * bits // 8 + r * groups * 2 + r * groups * bits // 8   # packed weight, fp16 scales, zeros
            return out + (c * 4 if gptq else 0)                                 # GPTQ g_idx (int32 per input)
        return _Scheme(f"{method.split('_')[0]} int{bits}", act_bytes,
                       f"{method.split('_')[0].upper()} {bits}-bit, group {group}: packed weights + fp16 scale "
                       f"and packed zero point per group; embeddings, lm_head and norms in {dtype}{kept}",
                       awq_gptq, skip, quantize_lm_head=bool(gptq and q.get("lm_head") is True),
                       quantize_vision=False)   # AutoAWQ / GPTQ quantize the decoder layers only

    raise BadModelConfig(f"quantization method {method or 'missing'!r} is not supported by the config-only "
                         f"estimate (known: fp8, fbgemm_fp8, mxfp4, modelopt, compressed-tensors, awq, gptq)",
                         "provide the checkpoint's model.safetensors.index.json so the bytes are read, "
                         "not estimated")


def _compressed_tensors(q: Mapping[str, Any], act_bytes: int, dtype: str, skip: _Patterns, kept: str) -> _Scheme:
    groups = q.get("config_groups")
    if not isinstance(groups, Mapping) or not groups:
        raise BadModelConfig("compressed-tensors quantization_config has no config_groups")
    if len(groups) > 1:
        raise BadModelConfig("compressed-tensors with several config_groups is not supported by the "
                             "config-only estimate")
    g = next(iter(groups.values()))
    if not isinstance(g, Mapping) or not isinstance(g.get("weights"), Mapping):
        raise BadModelConfig("compressed-tensors config group has no 'weights' scheme")
    w = g["weights"]
    bits = _int_field(w, "num_bits", None)
    if bits is None:
        raise BadModelConfig("compressed-tensors weights scheme has no num_bits")
    kind = str(w.get("type", "int")).lower()
    strategy = str(w.get("strategy") or "").lower()
    gs = _int_field(w, "group_size", None)
    block = w.get("block_structure")
    symmetric = w.get("symmetric", True) is not False
    targets = [t for t in (g.get("targets") or ["Linear"]) if isinstance(t, str)]
    include = None if any(t == "Linear" for t in targets) else _Patterns(targets)

    def scales(r: int, c: int) -> int:
        # scales are stored in the model dtype (bf16) for the int/float8 schemes llm-compressor writes
        if isinstance(block, (list, tuple)) and len(block) == 2:
            return _cdiv(r, int(block[0])) * _cdiv(c, int(block[1])) * act_bytes
        if strategy == "group" or (gs and strategy != "channel"):
            return r * _cdiv(c, gs or c) * act_bytes
        if strategy == "tensor":
            return act_bytes
        return r * act_bytes                                     # channel (default)

    if kind == "float" and bits == 8:
        label, fn = "compressed-tensors fp8", (lambda r, c: r * c + scales(r, c))
        desc = f"compressed-tensors FP8 ({strategy or 'channel'} scales)"
    elif kind == "float" and bits == 4:
        g4 = gs or 16
        label, fn = "compressed-tensors nvfp4", (lambda r, c: r * c // 2 + _cdiv(r * c, g4) + 8)
        desc = f"compressed-tensors NVFP4 (fp8 scale per {g4})"
    elif kind == "int" and bits in (4, 8):
        def fn(r: int, c: int) -> int:
            zeros = 0 if symmetric else (r * _cdiv(c, gs or c) * bits // 8 if strategy != "channel" else r)
            return r * c * bits // 8 + scales(r, c) + zeros + 16     # + weight_shape (2 x int64)
        label, desc = f"compressed-tensors int{bits}", f"compressed-tensors INT{bits} ({strategy or 'group'})"
    else:
        raise BadModelConfig(f"compressed-tensors weights of {bits}-bit {kind} are not supported by the "
                             "config-only estimate")
    return _Scheme(label, act_bytes, f"{desc}; ignored modules, embeddings, norms and routers in {dtype}{kept}",
                   fn, skip, include=include, quantize_lm_head=True)


# --- config access ------------------------------------------------------------------------------------------
def _text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    for key in ("text_config", "llm_config", "language_config"):
        tc = config.get(key)
        if isinstance(tc, Mapping) and tc:
            return tc
    return config


class _Cfg:
    """Typed access to the text config with transformers' defaults and BadModelConfig on bad values."""

    def __init__(self, tc: Mapping[str, Any], model_type: str) -> None:
        self.tc = tc
        self.defaults = _TEXT_DEFAULTS.get(model_type, {})

    def raw(self, *keys: str) -> Any:
        for k in keys:
            v = self.tc.get(k)
            if v is not None:
                return v
        for k in keys:
            if k in self.defaults:
                return self.defaults[k]
        return None

    def int(self, *keys: str, default: int | None = None, required: bool = True) -> int:
        v = self.raw(*keys)
        if v is None:
            if default is not None:
                return default
            if required:
                raise BadModelConfig(f"config.json has no {keys[0]!r}; cannot estimate the weights",
                                     f"add {keys[0]!r} to config.json, or provide model.safetensors.index.json")
            return 0
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 0 or v == float("inf"):
            raise BadModelConfig(f"config.json field {keys[0]!r} is not a non-negative number: {v!r}")
        return int(v)

    def flag(self, key: str, default: bool = False) -> bool:
        v = self.tc.get(key)
        return default if v is None else bool(v)


# --- architecture -------------------------------------------------------------------------------------------
_QKV_BIAS_TYPES = {"qwen2", "qwen2_moe", "qwen2_vl", "qwen2_5_vl", "qwen2_vl_text", "qwen2_5_vl_text"}
_QKV_ONLY_BIAS_TYPES = {"glm4_moe", "glm4", "glm", "chatglm"}     # attention_bias -> q/k/v bias, o_proj none
_BLOCK_SPARSE_TYPES = {"mixtral", "minimax_m2", "minimax", "phimoe"}
# model_type prefixes whose layout this module reproduces tensor by tensor (others get a generic estimate + note)
_KNOWN_TYPES = ("llama", "mistral", "mixtral", "qwen2", "qwen3", "deepseek", "kimi", "glm4", "minimax", "gpt_oss",
                "gemma2", "gemma3", "phimoe", "olmo", "nemotron")


@dataclass
class _Arch:
    """Normalised text-model fields plus the naming used for pattern matching."""

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


class _Builder:
    """Builds the tensor list of one model. Layers of identical shape share one template list."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        tc = _text_config(config)
        self.tc = tc
        self.nested = tc is not config
        self.model_type = str(tc.get("model_type") or config.get("model_type") or "").lower()
        self.top_type = str(config.get("model_type") or "").lower()
        self.c = _Cfg(tc, self.model_type)
        self.notes: list[str] = []
        self.layers: list[tuple[int, tuple[_T, ...]]] = []   # (layer index, templates)
        self.globals: list[_T] = []
        self.mtp: list[tuple[int, tuple[_T, ...]]] = []
        self.mtp_globals: list[_T] = []

    # -- fields ----------------------------------------------------------------------------------------------
    def arch(self) -> _Arch:
        c = self.c
        mt = self.model_type
        H = c.int("hidden_size", "d_model", "n_embd")
        L = c.int("num_hidden_layers", "num_layers", "n_layer")
        heads = c.int("num_attention_heads", "n_head", "num_heads")
        if H <= 0 or L <= 0 or heads <= 0:
            raise BadModelConfig("config.json has zero hidden_size, num_hidden_layers or num_attention_heads")
        V = c.int("vocab_size", "padded_vocab_size", required=False) or _Cfg(self.config, "").int("vocab_size")
        kv = c.int("num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num", default=0)
        if kv <= 0:
            kv = heads
        hd = c.int("head_dim", "attention_head_dim", default=0) or H // heads
        tied_raw = self.config.get("tie_word_embeddings")
        if tied_raw is None:
            tied_raw = c.raw("tie_word_embeddings")
        tied = bool(tied_raw) if tied_raw is not None else False
        if mt.startswith("llama4"):
            prefix, embed, head = "language_model.model", "language_model.model.embed_tokens", "language_model.lm_head"
        elif mt.startswith("gemma3") and self.nested:
            prefix, embed, head = "language_model.model", "language_model.model.embed_tokens", "language_model.lm_head"
        elif self.nested:
            prefix, embed, head = "model.language_model", "model.language_model.embed_tokens", "lm_head"
        elif mt == "nemotron_h":
            prefix, embed, head = "backbone", "backbone.embeddings", "lm_head"
        else:
            prefix, embed, head = "model", "model.embed_tokens", "lm_head"
        act = str(c.raw("hidden_act", "mlp_hidden_act", "activation_function") or "silu").lower()
        gated = not (mt == "nemotron_h" or act in ("relu2", "gelu_new", "gelu_pytorch_tanh") and mt in (
            "gpt2", "starcoder2", "gpt_bigcode", "phi", "falcon", "gpt_neox"))
        return _Arch(mt, H, V, L, heads, kv, hd, prefix, embed, head, tied, gated, c.flag("mlp_bias"))

    # -- building blocks -------------------------------------------------------------------------------------
    def gqa(self, a: _Arch, p: str, kv: int, *, gated_q: bool = False, mixer: str = "self_attn") -> list[_T]:
        c, mt = self.c, a.model_type
        H, hd = a.H, a.head_dim
        q_out, kv_out = a.heads * hd, kv * hd
        bias = c.flag("attention_bias")
        qkv_bias = bias or mt in _QKV_BIAS_TYPES or c.flag("qkv_bias")
        o_bias = bias and mt not in _QKV_ONLY_BIAS_TYPES
        n = f"{p}.{mixer}"
        out = [_lin(f"{n}.q_proj", ATTENTION, q_out * (2 if gated_q else 1), H),
               _lin(f"{n}.k_proj", ATTENTION, kv_out, H),
               _lin(f"{n}.v_proj", ATTENTION, kv_out, H),
               _lin(f"{n}.o_proj", ATTENTION, H, q_out)]
        if qkv_bias:
            out.append(_vec(f"{n}.qkv_bias", ATTENTION, q_out * (2 if gated_q else 1) + 2 * kv_out))
        if o_bias:
            out.append(_vec(f"{n}.o_proj.bias", ATTENTION, H))
        if mt == "gpt_oss":
            out.append(_vec(f"{n}.sinks", ATTENTION, a.heads))
        # q/k norms: per head (Qwen3 family, Gemma 3, GLM-4.x), full width (MiniMax per_layer), none (Llama 4 L2)
        per_head = mt.startswith(("qwen3", "gemma3", "olmoe")) or (mt.startswith("glm4") and c.flag("use_qk_norm"))
        if mt.startswith(("minimax", "olmo2")) or (c.flag("use_qk_norm") and str(c.raw("qk_norm_type") or "")
                                                   == "per_layer"):
            out.append(_vec(f"{n}.q_norm", NORMS, q_out))
            out.append(_vec(f"{n}.k_norm", NORMS, kv_out))
        elif per_head:
            out.append(_vec(f"{n}.q_norm", NORMS, hd))
            out.append(_vec(f"{n}.k_norm", NORMS, hd))
        return out

    def mla(self, a: _Arch, p: str) -> list[_T]:
        c = self.c
        H, nh = a.H, a.heads
        ql = c.int("q_lora_rank", default=0)
        kvl = c.int("kv_lora_rank")
        nope = c.int("qk_nope_head_dim")
        rope = c.int("qk_rope_head_dim")
        vd = c.int("v_head_dim", default=nope)
        n = f"{p}.self_attn"
        out: list[_T] = []
        if ql:
            out += [_lin(f"{n}.q_a_proj", ATTENTION, ql, H), _vec(f"{n}.q_a_layernorm", NORMS, ql),
                    _lin(f"{n}.q_b_proj", ATTENTION, nh * (nope + rope), ql)]
        else:
            out.append(_lin(f"{n}.q_proj", ATTENTION, nh * (nope + rope), H))
        out += [_lin(f"{n}.kv_a_proj_with_mqa", ATTENTION, kvl + rope, H), _vec(f"{n}.kv_a_layernorm", NORMS, kvl),
                _lin(f"{n}.kv_b_proj", ATTENTION, nh * (nope + vd), kvl),
                _lin(f"{n}.o_proj", ATTENTION, H, nh * vd)]
        if c.flag("attention_bias"):
            out.append(_vec(f"{n}.o_proj.bias", ATTENTION, H))
        return out

    def gated_deltanet(self, a: _Arch, p: str) -> list[_T]:
        """Qwen3-Next / Qwen3.5 Gated DeltaNet linear attention."""
        c = self.c
        H = a.H
        nk, dk = c.int("linear_num_key_heads"), c.int("linear_key_head_dim")
        nv, dv = c.int("linear_num_value_heads"), c.int("linear_value_head_dim")
        kernel = c.int("linear_conv_kernel_dim", default=4)
        key_dim, value_dim = nk * dk, nv * dv
        n = f"{p}.linear_attn"
        if a.model_type.startswith("qwen3_5"):
            proj = [_lin(f"{n}.in_proj_qkv", LINEAR_ATTENTION, 2 * key_dim + value_dim, H),
                    _lin(f"{n}.in_proj_z", LINEAR_ATTENTION, value_dim, H),
                    _lin(f"{n}.in_proj_b", LINEAR_ATTENTION, nv, H),
                    _lin(f"{n}.in_proj_a", LINEAR_ATTENTION, nv, H)]
        else:
            proj = [_lin(f"{n}.in_proj_qkvz", LINEAR_ATTENTION, 2 * key_dim + 2 * value_dim, H),
                    _lin(f"{n}.in_proj_ba", LINEAR_ATTENTION, 2 * nv, H)]
        return proj + [
            _vec(f"{n}.conv1d", LINEAR_ATTENTION, (2 * key_dim + value_dim) * kernel),
            _vec(f"{n}.dt_bias", LINEAR_ATTENTION, nv), _vec(f"{n}.A_log", LINEAR_ATTENTION, nv, fp32=True),
            _vec(f"{n}.norm", NORMS, dv),
            _lin(f"{n}.out_proj", LINEAR_ATTENTION, H, value_dim)]

    def mamba2(self, a: _Arch, p: str) -> list[_T]:
        """Nemotron-H Mamba2 mixer."""
        c = self.c
        H = a.H
        nheads = c.int("mamba_num_heads")
        hdim = c.int("mamba_head_dim")
        ng = c.int("n_groups", default=1)
        ds = c.int("ssm_state_size")
        kernel = c.int("conv_kernel", default=4)
        d_inner = nheads * hdim
        conv_dim = d_inner + 2 * ng * ds
        proj_bias = c.flag("mamba_proj_bias") or c.flag("use_bias")
        n = f"{p}.mixer"
        out = [_lin(f"{n}.in_proj", LINEAR_ATTENTION, 2 * d_inner + 2 * ng * ds + nheads, H),
               _vec(f"{n}.conv1d", LINEAR_ATTENTION, conv_dim * kernel + (conv_dim if c.flag("use_conv_bias", True)
                                                                          else 0)),
               _vec(f"{n}.dt_bias", LINEAR_ATTENTION, nheads), _vec(f"{n}.A_log", LINEAR_ATTENTION, nheads),
               _vec(f"{n}.D", LINEAR_ATTENTION, nheads), _vec(f"{n}.norm", NORMS, d_inner),
               _lin(f"{n}.out_proj", LINEAR_ATTENTION, H, d_inner)]
        if proj_bias:
            out.append(_vec(f"{n}.proj_bias", LINEAR_ATTENTION, 2 * d_inner + 2 * ng * ds + nheads + H))
        return out

    def dense_mlp(self, a: _Arch, p: str, inter: int, part: str = MLP, name: str = "mlp",
                  gated: bool | None = None) -> list[_T]:
        g = a.gated_mlp if gated is None else gated
        n = f"{p}.{name}"
        out = [_lin(f"{n}.up_proj", part, inter, a.H), _lin(f"{n}.down_proj", part, a.H, inter)]
        if g:
            out.insert(0, _lin(f"{n}.gate_proj", part, inter, a.H))
        if a.mlp_bias:
            out.append(_vec(f"{n}.bias", part, inter * (2 if g else 1) + a.H))
        return out

    def moe(self, a: _Arch, p: str, E: int) -> list[_T]:
        c, mt, H = self.c, a.model_type, a.H
        inter = c.int("moe_intermediate_size", "expert_intermediate_size", default=0) or c.int("intermediate_size")
        out: list[_T] = []
        if mt == "gpt_oss":
            n = f"{p}.mlp"
            out += [_lin(f"{n}.router", ROUTER, E, H), _vec(f"{n}.router.bias", ROUTER, E),
                    _lin(f"{n}.experts.gate_up_proj", EXPERTS, 2 * inter, H, E, expert=True),
                    _vec(f"{n}.experts.gate_up_proj_bias", EXPERTS, 2 * inter, E),
                    _lin(f"{n}.experts.down_proj", EXPERTS, H, inter, E, expert=True),
                    _vec(f"{n}.experts.down_proj_bias", EXPERTS, H, E)]
            return out
        if mt in _BLOCK_SPARSE_TYPES:
            n = f"{p}.block_sparse_moe"
            out += [_lin(f"{n}.gate", ROUTER, E, H),
                    _lin(f"{n}.experts.0.w1", EXPERTS, inter, H, E, expert=True),
                    _lin(f"{n}.experts.0.w3", EXPERTS, inter, H, E, expert=True),
                    _lin(f"{n}.experts.0.w2", EXPERTS, H, inter, E, expert=True)]
            shared = c.int("shared_intermediate_size", default=0)
            if shared:
                out += self.dense_mlp(a, p, shared, SHARED, "block_sparse_moe.shared_experts", gated=True)
            if c.flag("use_routing_bias"):
                out.append(_vec(f"{n}.e_score_correction_bias", ROUTER, E, fp32=True))
            return out
        if mt.startswith("llama4"):
            n = f"{p}.feed_forward"
            out += [_lin(f"{n}.router", ROUTER, E, H),
                    _lin(f"{n}.experts.0.gate_proj", EXPERTS, inter, H, E, expert=True),
                    _lin(f"{n}.experts.0.up_proj", EXPERTS, inter, H, E, expert=True),
                    _lin(f"{n}.experts.0.down_proj", EXPERTS, H, inter, E, expert=True)]
            out += self.dense_mlp(a, p, inter, SHARED, "feed_forward.shared_expert", gated=True)
            return out
        mixer = "mixer" if mt == "nemotron_h" else "mlp"
        gated = a.gated_mlp
        n = f"{p}.{mixer}"
        out.append(_lin(f"{n}.gate", ROUTER, E, H))
        ex = [_lin(f"{n}.experts.0.up_proj", EXPERTS, inter, H, E, expert=True),
              _lin(f"{n}.experts.0.down_proj", EXPERTS, H, inter, E, expert=True)]
        if gated:
            ex.insert(0, _lin(f"{n}.experts.0.gate_proj", EXPERTS, inter, H, E, expert=True))
        out += ex
        # shared experts: DeepSeek/GLM n_shared_experts x moe_intermediate; Qwen shared_expert_intermediate_size
        n_shared = c.int("n_shared_experts", "num_shared_experts", default=0)
        qwen_shared = c.int("shared_expert_intermediate_size", default=0)
        nem_shared = c.int("moe_shared_expert_intermediate_size", default=0)
        if qwen_shared:
            out += self.dense_mlp(a, p, qwen_shared, SHARED, f"{mixer}.shared_expert", gated=True)
            out.append(_lin(f"{n}.shared_expert_gate", ROUTER, 1, H))
        elif nem_shared:
            out += self.dense_mlp(a, p, nem_shared * max(n_shared, 1), SHARED, f"{mixer}.shared_experts")
        elif n_shared:
            out += self.dense_mlp(a, p, inter * n_shared, SHARED, f"{mixer}.shared_experts", gated=True)
        if str(c.raw("topk_method") or "") == "noaux_tc" or mt.startswith("glm4_moe") or mt == "nemotron_h":
            out.append(_vec(f"{n}.gate.e_score_correction_bias", ROUTER, E, fp32=True))
        return out

    # -- layout ----------------------------------------------------------------------------------------------
    def num_experts(self) -> int:
        return self.c.int("n_routed_experts", "num_local_experts", "num_experts", "moe_num_experts", default=0)

    def moe_layers(self, a: _Arch, E: int) -> list[bool]:
        c, L = self.c, a.L
        if E <= 1:
            return [False] * L
        if a.model_type.startswith("llama4"):
            ml = c.raw("moe_layers")
            if isinstance(ml, list):
                s = {int(x) for x in ml}
                return [i in s for i in range(L)]
            step = c.int("interleave_moe_layer_step", default=1) or 1
            return [(i + 1) % step == 0 for i in range(L)]
        if c.raw("first_k_dense_replace") is not None or c.raw("moe_layer_freq") is not None:
            k = c.int("first_k_dense_replace", default=0)
            freq = c.int("moe_layer_freq", default=1) or 1
            return [i >= k and i % freq == 0 for i in range(L)]
        only = c.raw("mlp_only_layers") or []
        if not isinstance(only, list):
            raise BadModelConfig("config.json field 'mlp_only_layers' is not a list")
        only_set = {int(x) for x in only}
        step = c.int("decoder_sparse_step", default=1) or 1
        return [i not in only_set and (i + 1) % step == 0 for i in range(L)]

    def attention_kinds(self, a: _Arch) -> list[str]:
        c, L = self.c, a.L
        if c.raw("kv_lora_rank") is not None:
            return ["mla"] * L
        types = c.raw("layer_types")
        has_linear = c.raw("linear_num_value_heads") is not None
        if isinstance(types, list) and len(types) == L:
            kinds = ["linear" if str(t) == "linear_attention" else "full" for t in types]
            if "linear" in kinds and not has_linear:
                raise BadModelConfig("config.json declares linear_attention layers but no linear_* head fields")
            return kinds
        interval = c.raw("full_attention_interval")
        if has_linear:
            if not interval:
                raise BadModelConfig("config.json has linear attention fields but neither layer_types nor "
                                     "full_attention_interval")
            k = c.int("full_attention_interval")
            return ["full" if (i + 1) % k == 0 else "linear" for i in range(L)]
        return ["full"] * L

    def build(self) -> None:
        mt = self.model_type
        a = self.arch()
        self.a = a
        c = self.c
        if mt in ("nemotron-nas", "deci", "decilm") or isinstance(c.raw("block_configs"), list):
            self.build_decilm(a)
        elif mt == "nemotron_h" or isinstance(c.raw("hybrid_override_pattern"), str):
            self.build_nemotron_h(a)
        else:
            self.build_standard(a)
        # embeddings, final norm, lm_head
        self.globals.append(_T(a.embed_name, EMBEDDINGS, a.V, a.H))
        self.globals.append(_vec(f"{a.prefix}.norm" if mt != "nemotron_h" else "backbone.norm_f", NORMS, a.H))
        if not a.tied:
            self.globals.append(_lin(a.head_name, LM_HEAD, a.V, a.H))
        self.build_vision(a)
        self.build_mtp(a)

    def _norms(self, p: str, H: int, n: int) -> list[_T]:
        names = ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                 "post_feedforward_layernorm")
        return [_vec(f"{p}.{names[k]}", NORMS, H) for k in range(n)]

    def layer(self, a: _Arch, attn: str, moe: bool, E: int, p: str = "") -> tuple[_T, ...]:
        p = p or f"{a.prefix}.layers.{{i}}"
        mt = a.model_type
        out: list[_T] = []
        if attn == "mla":
            out += self.mla(a, p)
        elif attn == "linear":
            out += self.gated_deltanet(a, p)
        else:
            gated_q = self.c.flag("attn_output_gate") or mt == "qwen3_next"
            out += self.gqa(a, p, a.kv_heads, gated_q=gated_q)
        if moe:
            out += self.moe(a, p, E)
        else:
            inter = self.c.int("intermediate_size_mlp", default=0) if mt.startswith("llama4") else 0
            out += self.dense_mlp(a, p, inter or self.c.int("intermediate_size", "ffn_hidden_size", "n_inner"))
        out += self._norms(p, a.H, 4 if mt.startswith(("gemma2", "gemma3")) else 2)
        return tuple(out)

    def build_standard(self, a: _Arch) -> None:
        E = self.num_experts()
        moe = self.moe_layers(a, E)
        kinds = self.attention_kinds(a)
        cache: dict[tuple[str, bool], tuple[_T, ...]] = {}
        for i in range(a.L):
            key = (kinds[i], moe[i])
            if key not in cache:
                cache[key] = self.layer(a, kinds[i], moe[i], E)
            self.layers.append((i, cache[key]))
        n_moe = sum(moe)
        desc = [f"{a.L} layers"]
        if kinds[0] == "mla":
            desc.append(f"MLA (q_lora {self.c.int('q_lora_rank', default=0)}, kv_lora "
                        f"{self.c.int('kv_lora_rank')})")
        elif "linear" in kinds:
            desc.append(f"{kinds.count('full')} full-attention + {kinds.count('linear')} Gated DeltaNet")
        else:
            desc.append(f"GQA {a.heads} heads / {a.kv_heads} KV heads x {a.head_dim}")
        if n_moe:
            shared = self.c.int("n_shared_experts", default=0) or (1 if self.c.raw("shared_expert_intermediate_size")
                                                                   or a.model_type.startswith("llama4") else 0)
            desc.append(f"{a.L - n_moe} dense + {n_moe} MoE layers with {E} routed"
                        + (f" + {shared} shared" if shared else "") + " experts")
        self.notes.append("estimated from config.json (no safetensors metadata): " + ", ".join(desc))
        if not a.model_type.startswith(_KNOWN_TYPES):
            self.notes.append(f"model_type {a.model_type or 'missing'!r} has no specific layout here; estimated as a "
                              f"standard decoder (attention + gated MLP or MoE per layer)")

    def build_decilm(self, a: _Arch) -> None:
        """Nemotron-NAS (DeciLM): per-layer block_configs with no-op / linear-replaced attention and ffn_mult."""
        blocks = self.c.raw("block_configs")
        if not isinstance(blocks, list) or len(blocks) != a.L:
            raise BadModelConfig("config.json block_configs must list one entry per layer")
        H = a.H
        n_attn = 0
        for i, b in enumerate(blocks):
            if not isinstance(b, Mapping):
                raise BadModelConfig(f"config.json block_configs[{i}] is not an object")
            att = b.get("attention") or {}
            ffn = b.get("ffn") or {}
            p = f"{a.prefix}.layers.{{i}}"
            out: list[_T] = []
            if att.get("replace_with_linear"):
                out += [_lin(f"{p}.self_attn.linear_attn", ATTENTION, H, H), _vec(f"{p}.input_layernorm", NORMS, H)]
            elif not att.get("no_op"):
                g = att.get("n_heads_in_group")
                if not isinstance(g, int) or g <= 0:
                    raise BadModelConfig(f"config.json block_configs[{i}].attention has no n_heads_in_group")
                out += self.gqa(a, p, a.heads // g) + [_vec(f"{p}.input_layernorm", NORMS, H)]
                n_attn += 1
            if ffn.get("replace_with_linear"):
                out += [_lin(f"{p}.mlp.linear_mlp", MLP, H, H), _vec(f"{p}.post_attention_layernorm", NORMS, H)]
            elif not ffn.get("no_op"):
                mult = ffn.get("ffn_mult")
                if not isinstance(mult, (int, float)) or mult <= 0:
                    raise BadModelConfig(f"config.json block_configs[{i}].ffn has no ffn_mult")
                inter = _cdiv(int(2 * mult * H / 3), 256) * 256          # DeciLM _ffn_mult_to_intermediate_size
                out += self.dense_mlp(a, p, inter) + [_vec(f"{p}.post_attention_layernorm", NORMS, H)]
            self.layers.append((i, tuple(out)))
        self.notes.append(f"estimated from config.json (no safetensors metadata): DeciLM/Nemotron-NAS, {a.L} "
                          f"blocks ({n_attn} with attention, {a.L - n_attn} attention no-op), per-block ffn_mult")

    def build_nemotron_h(self, a: _Arch) -> None:
        """Nemotron-H: one mixer per block from hybrid_override_pattern (M Mamba2, * attention, - MLP, E MoE)."""
        pattern = self.c.raw("hybrid_override_pattern")
        if not isinstance(pattern, str) or len(pattern) != a.L:
            raise BadModelConfig("config.json hybrid_override_pattern must have one character per layer")
        a.head_dim = self.c.int("attention_head_dim", "head_dim", default=0) or a.H // a.heads
        E = self.num_experts()
        cache: dict[str, tuple[_T, ...]] = {}
        p = f"{a.prefix}.layers.{{i}}"
        for i, ch in enumerate(pattern):
            if ch not in cache:
                if ch == "M":
                    mix = self.mamba2(a, p)
                elif ch == "*":
                    mix = self.gqa(a, p, a.kv_heads, mixer="mixer")
                elif ch == "-":
                    mix = self.dense_mlp(a, p, self.c.int("intermediate_size"), name="mixer", gated=False)
                elif ch == "E":
                    if E <= 1:
                        raise BadModelConfig("hybrid_override_pattern has MoE layers (E) but no n_routed_experts")
                    mix = self.moe(a, p, E)
                else:
                    raise BadModelConfig(f"hybrid_override_pattern has an unknown layer kind {ch!r}")
                cache[ch] = tuple(mix) + (_vec(f"{p}.norm", NORMS, a.H),)
            self.layers.append((i, cache[ch]))
        counts = ", ".join(f"{pattern.count(k)} {n}" for k, n in (("M", "Mamba2"), ("*", "attention"),
                                                                   ("-", "MLP"), ("E", "MoE")) if k in pattern)
        self.notes.append(f"estimated from config.json (no safetensors metadata): Nemotron-H hybrid, {a.L} blocks "
                          f"({counts})")

    # -- MTP -------------------------------------------------------------------------------------------------
    def build_mtp(self, a: _Arch) -> None:
        c, mt = self.c, a.model_type
        H = a.H
        if c.raw("num_nextn_predict_layers") is not None and (c.raw("kv_lora_rank") is not None
                                                              or mt.startswith(("deepseek", "kimi", "glm4_moe"))):
            n = c.int("num_nextn_predict_layers")
            E = self.num_experts()
            for k in range(n):
                i = a.L + k
                p = f"{a.prefix}.layers.{i}"
                kinds = self.attention_kinds(a)
                body = self.layer(a, kinds[-1], E > 1, E, p=p)
                extra = (_vec(f"{p}.enorm", MTP, H), _vec(f"{p}.hnorm", MTP, H), _T(f"{p}.eh_proj", MTP, H, 2 * H),
                         _vec(f"{p}.shared_head.norm", MTP, H), _T(f"{p}.embed_tokens", MTP, a.V, H),
                         _T(f"{p}.shared_head.head", MTP, a.V, H))
                self.mtp.append((i, body + extra))
            if n:
                self.notes.append(f"checkpoint stores {n} MTP (nextn) layer(s) with their own embedding and head "
                                  f"copies: counted in total_bytes (PVC), not in total_params or loaded_bytes "
                                  f"(vLLM loads them only for MTP speculative decoding)")
            return
        n = 0
        if c.raw("mtp_num_hidden_layers") is not None:
            n = c.int("mtp_num_hidden_layers")
        elif mt == "qwen3_next":
            n = 1      # Qwen3-Next ships one MTP layer ("mtp.*") although its config names no count
        if n:
            E = self.num_experts()
            moe = E > 1
            root = "mtp"
            for k in range(n):
                p = f"{root}.layers.{k}"
                body = self.layer(a, "full", moe, E, p=p)
                self.mtp.append((k, body))
            self.mtp_globals += [_T(f"{root}.fc", MTP, H, 2 * H), _vec(f"{root}.pre_fc_norm_embedding", MTP, H),
                                 _vec(f"{root}.pre_fc_norm_hidden", MTP, H), _vec(f"{root}.norm", MTP, H)]
            self.notes.append(f"checkpoint stores {n} MTP layer(s) (mtp.*): counted in total_bytes (PVC), not in "
                              f"total_params or loaded_bytes (vLLM loads them only for MTP speculative decoding)")
        elif c.flag("use_mtp"):
            self.notes.append("config sets use_mtp but the published checkpoint ships no MTP weights; not counted")

    # -- vision ----------------------------------------------------------------------------------------------
    def build_vision(self, a: _Arch) -> None:
        vc = self.config.get("vision_config")
        if vc is None:
            return
        if not isinstance(vc, Mapping):
            raise BadModelConfig("config.json vision_config is not an object")
        v = _Cfg(vc, str(vc.get("model_type") or ""))
        vt = str(vc.get("model_type") or "").lower()
        out: list[_T] = []
        P = "vision"
        if vt.startswith(("qwen3_vl", "qwen3_5")) or (self.top_type.startswith(("qwen3_vl", "qwen3_5"))
                                                      and vc.get("depth")):
            hs, depth, inter = v.int("hidden_size"), v.int("depth"), v.int("intermediate_size")
            out_h = v.int("out_hidden_size", default=a.H)
            patch, tps, inc = v.int("patch_size"), v.int("temporal_patch_size", default=2), v.int("in_channels",
                                                                                                  default=3)
            sms = v.int("spatial_merge_size", default=2)
            npos = v.int("num_position_embeddings", default=0)
            merged = hs * sms * sms
            n = "model.visual"
            out += [_T(f"{n}.patch_embed.proj", P, hs, inc * tps * patch * patch + 1),
                    _T(f"{n}.pos_embed", P, npos, hs)]
            blk = f"{n}.blocks.0"
            out += [_vec(f"{blk}.norms", P, 4 * hs, depth),
                    _lin(f"{blk}.attn.qkv", P, 3 * hs, hs + 1, depth), _lin(f"{blk}.attn.proj", P, hs, hs + 1, depth),
                    _lin(f"{blk}.mlp.linear_fc1", P, inter, hs + 1, depth),
                    _lin(f"{blk}.mlp.linear_fc2", P, hs, inter + 1, depth)]
            deep = vc.get("deepstack_visual_indexes") or []
            for k, norm_w in [("merger", hs)] + [(f"deepstack_merger_list.{j}", merged) for j in range(len(deep))]:
                out += [_vec(f"{n}.{k}.norm", P, 2 * norm_w), _lin(f"{n}.{k}.linear_fc1", P, merged, merged + 1),
                        _lin(f"{n}.{k}.linear_fc2", P, out_h, merged + 1)]
            desc = f"Qwen3-VL vision tower ({depth} blocks x {hs}, {len(deep)} deepstack mergers)"
        elif vt.startswith("siglip"):
            hs, L, inter = v.int("hidden_size"), v.int("num_hidden_layers"), v.int("intermediate_size")
            patch, img = v.int("patch_size"), v.int("image_size")
            inc = v.int("num_channels", default=3)
            n = "vision_tower.vision_model"
            blk = f"{n}.encoder.layers.0"
            out += [_T(f"{n}.embeddings.patch_embedding", P, hs, inc * patch * patch + 1),
                    _T(f"{n}.embeddings.position_embedding", P, (img // patch) ** 2, hs),
                    _vec(f"{blk}.layer_norms", P, 4 * hs, L),
                    _lin(f"{blk}.self_attn.qkvo", P, 4 * hs, hs + 1, L),
                    _lin(f"{blk}.mlp.fc1", P, inter, hs + 1, L), _lin(f"{blk}.mlp.fc2", P, hs, inter + 1, L),
                    _vec(f"{n}.post_layernorm", P, 2 * hs)]
            if vc.get("vision_use_head"):
                raise BadModelConfig("SigLIP vision_use_head=true is not supported by the config-only estimate")
            if self.top_type.startswith("gemma3"):
                out += [_lin("multi_modal_projector.mm_input_projection", P, hs, a.H),
                        _vec("multi_modal_projector.mm_soft_emb_norm", P, hs)]
            desc = f"SigLIP vision tower ({L} layers x {hs}) + projector"
        elif vt.startswith("llama4"):
            hs, L, inter = v.int("hidden_size"), v.int("num_hidden_layers"), v.int("intermediate_size")
            patch, img = v.int("patch_size"), v.int("image_size")
            inc = v.int("num_channels", default=3)
            ratio = vc.get("pixel_shuffle_ratio", 0.5)
            if not isinstance(ratio, (int, float)) or ratio <= 0:
                raise BadModelConfig("config.json vision_config.pixel_shuffle_ratio is not a positive number")
            pin, pout = v.int("projector_input_dim"), v.int("projector_output_dim")
            vout = v.int("vision_output_dim")
            n = "vision_model"
            blk = f"{n}.model.layers.0"
            out += [_lin(f"{n}.patch_embedding.linear", P, hs, inc * patch * patch),
                    _vec(f"{n}.class_embedding", P, hs),
                    _T(f"{n}.positional_embedding_vlm", P, (img // patch) ** 2 + 1, hs),
                    _vec(f"{n}.layernorm_pre_post", P, 4 * hs),
                    _vec(f"{blk}.layernorms", P, 4 * hs, L),
                    _lin(f"{blk}.self_attn.q_proj", P, 4 * hs, hs + 1, L),    # q/k/v/o with biases
                    _lin(f"{blk}.mlp.fc1", P, inter, hs + 1, L), _lin(f"{blk}.mlp.fc2", P, hs, inter + 1, L),
                    _lin(f"{n}.vision_adapter.mlp.fc1", P, pin, int(hs / (ratio * ratio))),
                    _lin(f"{n}.vision_adapter.mlp.fc2", P, pout, pin),
                    _lin("multi_modal_projector.linear_1", P, a.H, vout)]
            desc = f"Llama 4 vision tower ({L} layers x {hs}) + adapter + projector"
        else:
            # generic ViT: layers x (4 hs^2 attention + 2 hs x inter MLP, biases, 2 LayerNorms)
            hs = v.int("hidden_size", "embed_dim")
            L = v.int("num_hidden_layers", "depth", "num_layers")
            inter = v.int("intermediate_size", default=0) or 4 * hs
            n = "vision_tower"
            out += [_lin(f"{n}.layers.0.attn", P, 4 * hs, hs + 1, L), _lin(f"{n}.layers.0.fc1", P, inter, hs + 1, L),
                    _lin(f"{n}.layers.0.fc2", P, hs, inter + 1, L), _vec(f"{n}.layers.0.norms", P, 4 * hs, L),
                    _lin("multi_modal_projector", P, a.H, hs)]
            desc = f"generic ViT estimate for vision model_type {vt or 'unknown'!r} ({L} layers x {hs})"
        self.globals += out
        self.notes.append(desc)


# --- public -------------------------------------------------------------------------------------------------
def estimate_weights(config: Mapping[str, Any]) -> WeightEstimate:
    """Estimate parameters and checkpoint bytes from a parsed config.json (see the module docstring).

    Raises BadModelConfig when a field the layout needs is missing or malformed; never KeyError/TypeError.
    """
    if not isinstance(config, Mapping):
        raise BadModelConfig("config.json is not a JSON object")
    try:
        return _estimate(config)
    except BadModelConfig:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError, OverflowError) as exc:
        raise BadModelConfig(f"config.json has a value the weight estimate cannot use ({type(exc).__name__}: "
                             f"{exc})") from None


def _dtype(config: Mapping[str, Any]) -> str:
    tc = _text_config(config)
    for d in (tc, config):
        for k in ("torch_dtype", "dtype"):
            v = d.get(k)
            if isinstance(v, str) and v.lower().removeprefix("torch.") in _DTYPE_BYTES:
                return v.lower().removeprefix("torch.")
    return "bfloat16"


def _estimate(config: Mapping[str, Any]) -> WeightEstimate:
    b = _Builder(config)
    b.build()
    dtype = _dtype(config)
    act = _DTYPE_BYTES[dtype]
    scheme = _scheme(config, act, dtype)
    params: dict[str, int] = {}
    nbytes: dict[str, int] = {}
    expert_params = 0
    mtp_params = 0
    patterns = bool(scheme.skip) or scheme.include is not None

    def price(tensors: Iterable[_T], index: int | None, part_override: str | None = None) -> tuple[int, int, int]:
        p_total = b_total = e_total = 0
        for t in tensors:
            name = t.name.replace("{i}", str(index)) if index is not None and patterns else t.name
            by = scheme.tensor_bytes(t, name)
            part = part_override or t.part
            params[part] = params.get(part, 0) + t.params
            nbytes[part] = nbytes.get(part, 0) + by
            p_total += t.params
            b_total += by
            if t.expert or (t.part == EXPERTS):
                e_total += t.params
        return p_total, b_total, e_total

    if patterns:
        for i, tensors in b.layers:
            expert_params += price(tensors, i)[2]
    else:
        # identical layers share one template tuple: price each once, multiply
        groups: dict[int, tuple[tuple[_T, ...], int]] = {}
        for _, tensors in b.layers:
            key = id(tensors)
            groups[key] = (tensors, groups[key][1] + 1 if key in groups else 1)
        for tensors, n in groups.values():
            for t in tensors:
                by = scheme.tensor_bytes(t, t.name) * n
                params[t.part] = params.get(t.part, 0) + t.params * n
                nbytes[t.part] = nbytes.get(t.part, 0) + by
                if t.part == EXPERTS:
                    expert_params += t.params * n
    expert_params += price(b.globals, None)[2]
    for i, tensors in b.mtp:
        mtp_params += price(tensors, i, MTP)[0]
    mtp_params += price(b.mtp_globals, None, MTP)[0]

    total_bytes = sum(nbytes.values())
    total_params = sum(v for k, v in params.items() if k != MTP)
    mtp_bytes = nbytes.get(MTP, 0)
    notes = list(b.notes)
    notes.append(scheme.note)
    notes.append(f"{total_params / 1e9:.2f}e9 parameters"
                 + (f" ({expert_params / 1e9:.2f}e9 in routed experts)" if expert_params else "")
                 + f", {total_bytes / 1e9:.2f} GB checkpoint"
                 + (f", {(total_bytes - mtp_bytes) / 1e9:.2f} GB loaded without MTP" if mtp_bytes else ""))
    return WeightEstimate(
        total_params=total_params,
        total_bytes=total_bytes,
        expert_params=expert_params,
        dense_params=total_params - expert_params,
        bytes_by_part={k: v for k, v in nbytes.items() if v},
        notes=tuple(notes),
        mtp_params=mtp_params,
        loaded_bytes=total_bytes - mtp_bytes,
        params_by_part={k: v for k, v in params.items() if v},
        quantization=scheme.label,
        dtype=dtype,
    )
