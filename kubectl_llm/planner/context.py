"""Context length and the RoPE override that reaches a context beyond the model's native one.

Handbook rule: the default is the model's full native context. Above it, ``--hf-overrides`` carries a RoPE
scaling block written in the model's own dialect:

* ``rope_parameters`` models (Qwen3.5, transformers >= 4.57 style): copy the model's block, set ``rope_type``
  in place, append ``factor`` and ``original_max_position_embeddings``; nested under ``text_config`` when the
  model nests its text config (multimodal checkpoints);
* ``rope_scaling`` models: a new block ``{"type": "dynamic", ...}`` (the handbook's MiniMax example) or
  ``{"rope_type": "yarn", ...}`` (Qwen's model-card form); a model whose block is already YaRN (DeepSeek,
  Kimi, gpt-oss) keeps its keys and only gets a larger factor.

``factor = N / original``, rounded up to the next 0.5. Dynamic NTK for factors <= 2, YaRN above when the family
supports it; a model card's instruction (recipe ``rope``: method, factor up to max_context) wins: Qwen3-VL's
recipe reaches 1,000,000 tokens with YaRN factor 3.0, not the 4.0 the rounding rule would give.

Refused, with the reason: a model without RoPE (Nemotron-H's attention has no rotary embedding; an override would
change nothing), and a model whose config already carries YaRN (DeepSeek-V3 factor 40 over 4096 = 163840, Kimi-K2,
gpt-oss): its card gives that context as the model's maximum, so the planner does not re-scale it unless the
recipe says the card allows it (``rope.rescale_existing``); every changed key is named in the reasons. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from kubectl_llm.errors import PlanError
from kubectl_llm.planner.facts import ModelFacts

DYNAMIC_MAX_FACTOR = 2.0


@dataclass(frozen=True)
class ContextDecision:
    max_model_len: int
    hf_overrides: dict[str, Any] | None
    rope_type: str | None          # "dynamic" | "yarn" | None
    factor: float | None
    reasons: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def extended(self) -> bool:
        """Above the native context: the engine must be told a longer max-model-len is intended."""
        return self.hf_overrides is not None


# The largest RoPE factor model cards publish as validated (Qwen3 / Qwen2.5: YaRN x4 for 131072 tokens; Qwen3.5:
# x4 for 1M): beyond it, with no recipe giving a max_context, the plan warns instead of extending silently.
UNVALIDATED_FACTOR = 4


def round_up_half(x: float) -> float:
    return math.ceil(x * 2 - 1e-9) / 2


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """'rope_type default -> yarn, factor 3.0, ...': what the override changes in the model's RoPE block."""
    out = []
    for k, v in new.items():
        if k not in old:
            out.append(f"{k} {v}")
        elif old[k] != v:
            out.append(f"{k} {old[k]} -> {v}")
    kept = [k for k in new if k in old and old[k] == new[k]]
    return ", ".join(out) + (f" ({', '.join(kept)} kept)" if kept else "")


def decide_context(facts: ModelFacts, *, context: int | None, max_model_len: int | None,
                   rope_method: str | None = None, rope_original: int | None = None,
                   yarn_supported: bool = True, rope_factor: float | None = None,
                   rope_max_context: int | None = None, rescale_existing: bool = False,
                   engine: str = "vllm") -> ContextDecision:
    native = facts.native_context
    if context is not None and max_model_len is not None:
        raise PlanError("--context-length and --max-model-len are exclusive",
                        "--context-length N reaches N (adding RoPE scaling above native); --max-model-len N only caps")
    if max_model_len is not None:
        if max_model_len > native:
            raise PlanError(f"--max-model-len {max_model_len} is above the native context {native}",
                            f"use --context-length {max_model_len} to extend it with RoPE scaling")
        if max_model_len < 1:
            raise PlanError("--max-model-len must be positive")
        return ContextDecision(max_model_len, None, None, None,
                               (f"max-model-len {max_model_len}: capped by --max-model-len (native {native})",))
    if context is None or context <= native:
        n = context or native
        why = (f"max-model-len {n}: the model's full native context (handbook: reach it before anything else)"
               if context is None else f"max-model-len {n}: --context-length (native {native}, no RoPE override)")
        return ContextDecision(n, None, None, None, (why,))

    if not facts.has_rope:
        raise PlanError(f"{facts.model_id} has no RoPE ({facts.model_type}: its attention layers carry no rotary "
                        f"position embedding), so a RoPE/YaRN override cannot extend its native {native} tokens "
                        f"to {context}", f"use --context-length {native} or less")
    block = dict(facts.rope_block or {})
    existing = str(block.get("rope_type") or block.get("type") or "default")
    original = rope_original or int(block.get("original_max_position_embeddings") or 0) or native
    if existing in ("llama3", "linear", "longrope", "mrope") and not rope_original:
        raise PlanError(f"{facts.model_id} already uses {existing} RoPE scaling up to {native} tokens; "
                        f"extending it to {context} is not supported",
                        f"use --context-length {native} or less")
    raw = context / original
    factor = round_up_half(raw)
    if existing == "yarn" and not rescale_existing:
        old = block.get("factor")
        raise PlanError(f"{facts.model_id} already uses YaRN factor {_num(old)} over "
                        f"{block.get('original_max_position_embeddings')} tokens to reach its native {native}; its "
                        f"model card gives no longer context, so the planner does not re-scale it to factor "
                        f"{_num(factor)} for {context}", f"use --context-length {native} or less")
    card = ""
    if rope_factor and (not rope_max_context or context <= rope_max_context) and factor > rope_factor:
        card = (f"factor {float(rope_factor)}: the model card / recipe's YaRN factor for up to "
                f"{rope_max_context or context} tokens ({context}/{original} = {raw:.3f} would round up to "
                f"{factor})")
        factor = float(rope_factor)
    if rope_method:
        method = rope_method
    elif existing == "yarn":
        method = "yarn"
    else:
        method = "yarn" if (factor > DYNAMIC_MAX_FACTOR and yarn_supported) else "dynamic"
    reasons = [f"max-model-len {context}: above the native {native}, so RoPE scaling is added: " + (
                   card or f"factor {context}/{original} = {raw:.3f}, rounded up to the next 0.5 = {factor}"),
               f"RoPE method {method}: " + (
                   "the model card / recipe says so" if rope_method else
                   "the model already uses YaRN" if existing == "yarn" else
                   f"dynamic NTK for factors <= {DYNAMIC_MAX_FACTOR}" if method == "dynamic" else
                   f"YaRN for factors > {DYNAMIC_MAX_FACTOR}")]

    if facts.rope_dialect == "rope_parameters":
        new_block: dict[str, Any] = {}
        for k, v in block.items():
            new_block[k] = method if k in ("rope_type", "type") else v
        if "rope_type" not in new_block:
            new_block["rope_type"] = method
        new_block["factor"] = factor
        new_block["original_max_position_embeddings"] = original
        inner = {"max_position_embeddings": context, "rope_parameters": new_block}
    else:
        if existing == "yarn":
            new_block = dict(block)
            new_block["factor"] = factor
            new_block["original_max_position_embeddings"] = original
        elif method == "dynamic":
            new_block = {"type": "dynamic", "factor": factor, "original_max_position_embeddings": original}
        else:
            new_block = {"rope_type": method, "factor": factor, "original_max_position_embeddings": original}
            for k in ("mrope_section", "mrope_interleaved"):
                if k in block:
                    new_block[k] = block[k]
        inner = {"max_position_embeddings": context, "rope_scaling": new_block}
    where = f"{facts.rope_container}." if facts.rope_container else ""
    key = "rope_parameters" if facts.rope_dialect == "rope_parameters" else "rope_scaling"
    flag = "--json-model-override-args" if engine == "sglang" else "--hf-overrides"
    reasons.append(f"{flag} changes {where}{key}: " + _changes(block, new_block)
                   + f"; {where}max_position_embeddings {native} -> {context}")
    warnings = []
    if not rope_max_context and factor > UNVALIDATED_FACTOR:
        warnings.append(f"RoPE factor {_num(factor)} stretches {facts.model_id}'s {original} trained positions "
                        f"{_num(factor)}-fold, beyond the x{UNVALIDATED_FACTOR} that model cards publish for YaRN / "
                        f"dynamic scaling and that no recipe here documents for it: quality at {context} tokens is "
                        f"untested (--context-length {original * UNVALIDATED_FACTOR} stays within x{UNVALIDATED_FACTOR})")
    if rope_max_context and context > rope_max_context:
        warnings.append(f"--context-length {context} is beyond the {rope_max_context} tokens the model card / recipe "
                        f"documents for RoPE scaling: quality there is untested by the model's authors")
    overrides = {facts.rope_container: inner} if facts.rope_container else inner
    return ContextDecision(context, overrides, method, factor, tuple(reasons), tuple(warnings))


def _num(x: Any) -> Any:
    return int(x) if isinstance(x, float) and x.is_integer() else x
