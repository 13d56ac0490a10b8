"""Parameter count and checkpoint bytes estimated from config.json alone.

Why this exists: the planner sizes GPUs, the PVC and the pod memory from the weight bytes. Usually the model
source reads them from safetensors metadata; when it cannot (a bare local config.json, a Hub mirror without an
index, an offline catalog entry) the planner must still produce a number an admin can trust, and say that it is
an estimate. This package rebuilds the tensor inventory of the checkpoint from the architecture fields (the same
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

Modules: ``facts.checkpoint_shapes`` parses config.json once (the only reader of the raw config);
``tensors`` (the tensor record), ``quant`` (bytes per tensor), ``blocks`` (one decoder block per mixer kind),
``layouts`` (which block each layer gets, embeddings, MTP), ``vision`` (vision tower + projector), and this
module (the sums). Pure: standard library only, no I/O. Unknown layouts raise
:class:`kubectl_llm.errors.BadModelConfig`; a missing optional detail (a projector size) is estimated and
reported in ``WeightEstimate.warnings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from kubectl_llm.errors import BadModelConfig
from kubectl_llm.planner.facts import Checkpoint, ModelFacts, dtype_bytes
from kubectl_llm.planner.weights.layouts import Builder
from kubectl_llm.planner.weights.quant import scheme
from kubectl_llm.planner.weights.tensors import EXPERTS, MTP, T

__all__ = ["WeightEstimate", "estimate_weights"]


@dataclass(frozen=True)
class WeightEstimate:
    """Parameters and bytes of a checkpoint, rebuilt from its config.json (see the package docstring)."""

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
    warnings: tuple[str, ...] = ()  # details the config omits that were estimated (a projector size)

    @property
    def expert_bytes(self) -> int:
        """Routed-expert bytes of the main model: the part expert parallelism shards."""
        return self.bytes_by_part.get(EXPERTS, 0)

    @property
    def checkpoint_params(self) -> int:
        """Everything the files hold (the count the Hugging Face page shows): main model + MTP layers."""
        return self.total_params + self.mtp_params


def estimate_weights(facts: ModelFacts | Checkpoint) -> WeightEstimate:
    """Estimate parameters and checkpoint bytes from the model's normalised facts (see the package docstring).

    Raises BadModelConfig when a field the layout needs is missing or malformed; never KeyError/TypeError.
    """
    c = facts.checkpoint if isinstance(facts, ModelFacts) else facts
    if c is None:
        raise BadModelConfig("the model facts carry no checkpoint shapes; cannot estimate the weights")
    if c.problems:
        raise BadModelConfig(c.problems[0])
    try:
        return _estimate(c)
    except BadModelConfig:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError, OverflowError) as exc:
        raise BadModelConfig(f"config.json has a value the weight estimate cannot use ({type(exc).__name__}: "
                             f"{exc})") from None


def _estimate(c: Checkpoint) -> WeightEstimate:
    b = Builder(c)
    b.build()
    dtype = c.dtype
    act = int(dtype_bytes(dtype))
    sch = scheme(c.quant, act, dtype)
    params: dict[str, int] = {}
    nbytes: dict[str, int] = {}
    expert_params = 0
    mtp_params = 0
    patterns = bool(sch.skip) or sch.include is not None

    def price(tensors: Iterable[T], index: int | None, part_override: str | None = None) -> tuple[int, int, int]:
        p_total = b_total = e_total = 0
        for t in tensors:
            name = t.name.replace("{i}", str(index)) if index is not None and patterns else t.name
            by = sch.tensor_bytes(t, name)
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
        groups: dict[int, tuple[tuple[T, ...], int]] = {}
        for _, tensors in b.layers:
            key = id(tensors)
            groups[key] = (tensors, groups[key][1] + 1 if key in groups else 1)
        for tensors, n in groups.values():
            for t in tensors:
                by = sch.tensor_bytes(t, t.name) * n
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
    notes.append(sch.note)
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
        quantization=sch.label,
        dtype=dtype,
        warnings=tuple(b.warnings),
    )
