"""How each tensor is priced: the checkpoint's quantization layout (see the package docstring for the formulas).

Input is the ``QuantConfig`` that ``facts.checkpoint_shapes`` parsed; this module only decides the bytes.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from kubectl_llm.errors import BadModelConfig
from kubectl_llm.planner.facts import QuantConfig, QuantGroup
from kubectl_llm.planner.weights.tensors import LM_HEAD, ROUTER, VISION, T, cdiv


class Patterns:
    """Matches module names against the pattern lists quantization configs carry.

    Forms seen in real configs: bare names (``"gate"``, ``"lm_head"``), dotted paths
    (``"model.layers.0.mlp.gate"``, possibly under another prefix than ours), trailing globs
    (``"model.layers.0.self_attn*"``), inner globs (``"model.layers.*.self_attn"``) and compressed-tensors
    regexes (``"re:.*lm_head"``, matched with ``re.match`` as compressed-tensors does). A plain or glob pattern
    matches when it covers whole dotted components of the name (``"model.layers.1.mlp"`` does not match layer 11).
    Plain and trailing-glob patterns are set lookups over the name's dotted sub-paths, because real lists hold
    hundreds of entries and the estimate must stay in the millisecond range.
    """

    def __init__(self, patterns: Iterable[object]) -> None:
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


@dataclass
class Scheme:
    """Prices one tensor. ``quantized`` says whether a linear weight is quantized at all."""

    label: str
    act_bytes: int
    note: str
    weight_bytes: Callable[[int, int], int] | None = None   # (rows, cols) -> bytes for one quantized matrix
    skip: Patterns = field(default_factory=lambda: Patterns(()))
    include: Patterns | None = None       # compressed-tensors non-"Linear" targets
    experts_only: bool = False            # mxfp4
    quantize_lm_head: bool = False        # compressed-tensors / modelopt: lm_head is a Linear like any other
    quantize_vision: bool = True

    def quantized(self, t: T, name: str) -> bool:
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

    def tensor_bytes(self, t: T, name: str) -> int:
        if self.quantized(t, name):
            assert self.weight_bytes is not None
            return self.weight_bytes(t.rows, t.cols) * t.count
        return t.params * (4 if t.fp32 else self.act_bytes)


def scheme(q: QuantConfig | None, act_bytes: int, dtype: str) -> Scheme:
    """The pricing of a checkpoint's quantization layout; BadModelConfig for a layout not known here."""
    if q is None:
        return Scheme("none", act_bytes, f"unquantized {dtype}: {act_bytes} bytes per parameter")
    method, algo = q.method, q.algo
    skip = Patterns(q.skip)
    kept = f"; {skip.size} module patterns kept unquantized" if skip else ""

    if method == "fp8":
        if q.weight_block_size is not None:
            bn, bk = q.weight_block_size
            return Scheme(f"fp8 block [{bn},{bk}]", act_bytes,
                          f"fp8 block-wise [{bn},{bk}]: 1 byte per weight + a float32 scale per {bn}x{bk} "
                          f"block; embeddings, lm_head, norms and routers in {dtype}{kept}",
                          lambda r, c: r * c + cdiv(r, bn) * cdiv(c, bk) * 4, skip)
        static = q.static_activations
        return Scheme("fp8 per-tensor", act_bytes,
                      f"fp8 per-tensor: 1 byte per weight + float32 scale(s); embeddings, lm_head, norms and "
                      f"routers in {dtype}{kept}",
                      lambda r, c: r * c + 4 + (4 if static else 0), skip)

    if method == "mxfp4":
        return Scheme("mxfp4", act_bytes,
                      f"mxfp4: MoE experts in 4 bits + one uint8 scale per 32 values (0.53125 byte per weight); "
                      f"attention, routers, embeddings, lm_head, biases in {dtype}",
                      lambda r, c: r * c // 2 + cdiv(r * c, 32), skip, experts_only=True)

    if method in ("modelopt", "modelopt_fp4", "modelopt_fp8"):
        if not algo:
            algo = "NVFP4" if method == "modelopt_fp4" else "FP8" if method == "modelopt_fp8" else ""
        group = q.group_size
        for g in q.groups:
            if g.group_size:
                group = g.group_size
        if "FP4" in algo:
            gs = group or 16
            return Scheme("modelopt nvfp4", act_bytes,
                          f"modelopt NVFP4: 4 bits per weight + one fp8 scale per {gs} values + float32 "
                          f"per-tensor scales; excluded modules, embeddings, norms and routers in {dtype}{kept}",
                          lambda r, c: r * c // 2 + cdiv(r * c, gs) + 8, skip, quantize_lm_head=True)
        if "FP8" in algo:
            return Scheme("modelopt fp8", act_bytes,
                          f"modelopt FP8: 1 byte per weight + float32 per-tensor scales; excluded modules, "
                          f"embeddings, norms and routers in {dtype}{kept}",
                          lambda r, c: r * c + 8, skip, quantize_lm_head=True)
        raise BadModelConfig(f"modelopt quantization with quant_algo {algo or 'missing'!r} is not supported "
                             f"(known: NVFP4, FP8)")

    if method == "compressed-tensors":
        return _compressed_tensors(q.groups, act_bytes, dtype, skip, kept)

    if method == "fbgemm_fp8":
        return Scheme("fbgemm fp8", act_bytes,
                      f"fbgemm fp8: 1 byte per weight + a float32 scale per output channel; "
                      f"embeddings, lm_head, norms and routers in {dtype}{kept}",
                      lambda r, c: r * c + r * 4, skip)

    if method in ("awq", "gptq", "awq_marlin", "gptq_marlin"):
        return _awq_gptq(q, act_bytes, dtype, skip, kept)

    raise BadModelConfig(f"quantization method {method or 'missing'!r} is not supported by the config-only "
                         f"estimate (known: fp8, fbgemm_fp8, mxfp4, modelopt, compressed-tensors, awq, gptq)",
                         "provide the checkpoint's model.safetensors.index.json so the bytes are read, "
                         "not estimated")


def _awq_gptq(q: QuantConfig, act_bytes: int, dtype: str, skip: Patterns, kept: str) -> Scheme:
    method = q.method
    bits = q.bits or 4
    group = q.group_size if q.group_size is not None else (q.q_group_size if q.q_group_size is not None else 128)
    if bits not in (2, 3, 4, 8):
        raise BadModelConfig(f"{method} with {bits} bits is not supported (known: 2, 3, 4, 8)")
    gptq = method.startswith("gptq")

    def awq_gptq(r: int, c: int) -> int:
        g = c if group <= 0 else group
        groups = cdiv(c, g)
        out = r * c * bits // 8 + r * groups * 2 + r * groups * bits // 8   # packed weight, fp16 scales, zeros
        return out + (c * 4 if gptq else 0)                                 # GPTQ g_idx (int32 per input)
    return Scheme(f"{method.split('_')[0]} int{bits}", act_bytes,
                  f"{method.split('_')[0].upper()} {bits}-bit, group {group}: packed weights + fp16 scale "
                  f"and packed zero point per group; embeddings, lm_head and norms in {dtype}{kept}",
                  awq_gptq, skip, quantize_lm_head=bool(gptq and q.lm_head),
                  quantize_vision=False)   # AutoAWQ / GPTQ quantize the decoder layers only


def _compressed_tensors(groups: tuple[QuantGroup, ...], act_bytes: int, dtype: str, skip: Patterns,
                        kept: str) -> Scheme:
    if not groups:
        raise BadModelConfig("compressed-tensors quantization_config has no config_groups")
    if len(groups) > 1:
        raise BadModelConfig("compressed-tensors with several config_groups is not supported by the "
                             "config-only estimate")
    w = groups[0]
    if not w.has_weights:
        raise BadModelConfig("compressed-tensors config group has no 'weights' scheme")
    bits = w.num_bits
    if bits is None:
        raise BadModelConfig("compressed-tensors weights scheme has no num_bits")
    kind, strategy, gs, block = w.kind, w.strategy, w.group_size, w.block
    include = None if any(t == "Linear" for t in w.targets) else Patterns(w.targets)

    def scales(r: int, c: int) -> int:
        # scales are stored in the model dtype (bf16) for the int/float8 schemes llm-compressor writes
        if block is not None:
            return cdiv(r, block[0]) * cdiv(c, block[1]) * act_bytes
        if strategy == "group" or (gs and strategy != "channel"):
            return r * cdiv(c, gs or c) * act_bytes
        if strategy == "tensor":
            return act_bytes
        return r * act_bytes                                     # channel (default)

    fn: Callable[[int, int], int]
    if kind == "float" and bits == 8:
        label, fn = "compressed-tensors fp8", (lambda r, c: r * c + scales(r, c))
        desc = f"compressed-tensors FP8 ({strategy or 'channel'} scales)"
    elif kind == "float" and bits == 4:
        g4 = gs or 16
        label, fn = "compressed-tensors nvfp4", (lambda r, c: r * c // 2 + cdiv(r * c, g4) + 8)
        desc = f"compressed-tensors NVFP4 (fp8 scale per {g4})"
    elif kind == "int" and bits in (4, 8):
        symmetric = w.symmetric

        def fn(r: int, c: int) -> int:
            zeros = 0 if symmetric else (r * cdiv(c, gs or c) * bits // 8 if strategy != "channel" else r)
            return r * c * bits // 8 + scales(r, c) + zeros + 16     # + weight_shape (2 x int64)
        label, desc = f"compressed-tensors int{bits}", f"compressed-tensors INT{bits} ({strategy or 'group'})"
    else:
        raise BadModelConfig(f"compressed-tensors weights of {bits}-bit {kind} are not supported by the "
                             "config-only estimate")
    return Scheme(label, act_bytes, f"{desc}; ignored modules, embeddings, norms and routers in {dtype}{kept}",
                  fn, skip, include=include, quantize_lm_head=True)
