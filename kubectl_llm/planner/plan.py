"""The planner's entry point: ModelSource + PlanRequest -> Plan (every decision with its reason). Pure.

Search, as the handbook teaches: for each candidate GPU type, the fewest GPUs (1, 2, 3, 4, 6, 8) whose best
layout holds the weights + one request of max-model-len + overhead. Layouts of N GPUs are TP x PP with TP
dividing the attention heads (and the KV heads, or being a multiple of them), the quantisation blocks and the
linear-attention heads; among those that fit, a layout that does not duplicate the KV cache wins (DCP where vLLM
implements it for the architecture, else TP = KV heads and PP for the rest), then fewer pipeline stages.
Without --gpu, every catalog type is tried and the one reserving the least GPU memory wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from kubectl_llm.errors import BadModelConfig, PlanError, UsageError
from kubectl_llm.planner import engine as eng
from kubectl_llm.planner import parsers, sizing
from kubectl_llm.planner.context import ContextDecision, decide_context
from kubectl_llm.planner.facts import CHUNKED, LINEAR, MAMBA, SLIDING, ModelFacts, dtype_bytes, from_config
from kubectl_llm.planner.gpus import GpuType, custom_gpu
from kubectl_llm.planner.memory import (Layout, Overhead, WeightParts, engine_batch_defaults, expert_kernel_scale,
                                        overhead, stage_kv, stage_layers, weights_per_gpu)
from kubectl_llm.planner.quantity import GiB, human
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.site import Site, default_site
from kubectl_llm.planner.source import ModelSource
from kubectl_llm.planner.validate import validate_config
from kubectl_llm.planner.weights import estimate_weights

GPU_COUNTS = (1, 2, 3, 4, 6, 8)        # one node; 5 and 7 never divide heads of real models
DEFAULT_UTILIZATION = 0.95             # the handbook's value
ROUTE_TIMEOUT = "1200s"
KV_DTYPES = ("auto", "bfloat16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2")


@dataclass
class Evaluation:
    """One layout on one GPU type, fully computed."""

    gpu: GpuType
    layout: Layout
    util: float
    max_num_seqs: int
    weights_per_gpu: int
    kv_bytes_per_token: float
    state_bytes_per_sequence: int
    kv_cache_bytes: int            # available KV memory on the limiting GPU
    kv_tokens: int
    concurrency: float
    fits: bool
    duplicated_kv: bool
    why: str                       # reason it does not fit / is invalid ("" if fits)
    overhead_bytes: int = 0        # taken off utilisation x memory before the KV cache (margin included)
    overhead: Overhead | None = None
    available_bytes: int = 0       # utilisation x memory - weights - overhead on the limiting GPU (< 0: none left)
    layout_reason: str = ""        # why TP x PP and not more TP (set by the search; "" without PP)


@dataclass
class Plan:
    facts: ModelFacts
    source: ModelSource
    request: PlanRequest
    weight_bytes: int
    weight_bytes_source: str
    context: ContextDecision
    recipe: eng.Recipe
    best: Evaluation | None
    per_gpu_type: dict[str, str]                 # type -> one-line outcome
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kv_dtype: str = "bfloat16"
    name: str = ""
    args: list[str] = field(default_factory=list)
    env: list[tuple[str, str]] = field(default_factory=list)
    gpu_named: bool = False
    max_context_that_fits: int | None = None
    site: Site = field(default_factory=default_site)

    @property
    def fits(self) -> bool:
        return bool(self.best and self.best.fits)

    def fit_hint(self) -> str:
        """For a plan that does not fit: only the changes that can make it fit ('' when it fits)."""
        b, f, req = self.best, self.facts, self.request
        if b is None or self.fits:
            return ""
        lay = b.layout
        need = b.weights_per_gpu + b.overhead_bytes if b.kv_cache_bytes <= 0 else b.gpu.memory_bytes * b.util
        more_memory = [g.name for g in sorted(self.site.gpu_catalog, key=lambda g: g.memory_bytes)
                       if g.memory_bytes * b.util > need and not eng.gpu_cannot_run(f, g.compute)
                       ] if len(self.per_gpu_type) == 1 else []      # all types tried: another type cannot help
        more_gpus = req.gpus is not None and req.gpus < max(GPU_COUNTS) or lay.gpus < max(GPU_COUNTS)
        tips: list[str] = []
        if b.kv_cache_bytes <= 0:           # the weights (+ overhead) alone do not fit: KV settings cannot help
            head = (f"the weights alone need {human(b.weights_per_gpu)} per GPU on {lay.gpus} x {b.gpu.name}: ")
            if more_gpus:
                tips.append("more --gpus" if req.gpus or req.tp or req.pp else f"up to {max(GPU_COUNTS)} GPUs")
            if more_memory:
                tips.append(f"a larger GPU (--gpu {more_memory[0]})")
            if f.quant.weight_bits >= 16:
                tips.append("a quantized (FP8 / NVFP4) checkpoint of the model")
            if not more_gpus:
                tips.append(f"more GPUs than one node's {max(GPU_COUNTS)}")
            return head + "try " + ", or ".join(tips)
        if self.max_context_that_fits:
            tips.append(f"--max-model-len {self.max_context_that_fits}")
        if dtype_bytes(self.kv_dtype) > 1:
            tips.append("--kv-cache-dtype fp8 (half the KV bytes)")
        if more_gpus:
            tips.append("more --gpus")
        if more_memory:
            tips.append(f"a larger GPU (--gpu {more_memory[0]})")
        if req.gpu_memory_utilization and req.gpu_memory_utilization < DEFAULT_UTILIZATION:
            tips.append(f"--gpu-memory-utilization {DEFAULT_UTILIZATION}")
        return (f"the KV cache for one {self.context.max_model_len}-token request does not fit: try "
                + ", or ".join(tips or ["a smaller --context"]))

    # -- documents ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        b = self.best
        f = self.facts
        gpus = b.layout.gpus if b else 0
        eng_defaults = eng.engine_defaults(self.request.engine)
        mem_req, mem_lim = sizing.memory(self.weight_bytes, f.multimodal)
        gpu = b.gpu if b else None
        return {
            "fits": self.fits,
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "model": {
                "id": f.model_id, "architecture": f.architecture, "model_type": f.model_type,
                "family": self.recipe.key, "weight_bytes": self.weight_bytes,
                "weight_bytes_source": self.weight_bytes_source,
                "quantization": f.quant.method or "none", "native_context": f.native_context,
                "layers": f.num_layers, "attention_heads": f.num_attention_heads, "kv_heads": f.num_kv_heads,
                "head_dim": f.head_dim, "mla": f.uses_mla, "moe_experts": f.num_experts,
                "multimodal": f.multimodal, "origin": self.source.origin,
            },
            "gpu": {
                "type": gpu.name if gpu else None, "memory_bytes": gpu.memory_bytes if gpu else None,
                "count": gpus, "resource": gpu.resource if gpu else None,
                "product": gpu.product if (gpu and self.gpu_named) else None,
                "candidates": dict(self.per_gpu_type),
            },
            "parallelism": {
                "tensor": b.layout.tp if b else None, "pipeline": b.layout.pp if b else None,
                "decode_context": b.layout.dcp if b else None, "data": b.layout.dp if b else None,
                "expert": bool(b and b.layout.ep),
            },
            "memory": {
                "weights_per_gpu_bytes": b.weights_per_gpu if b else None,
                "kv_bytes_per_token": _num(b.kv_bytes_per_token) if b else None,
                "kv_cache_dtype": self.kv_dtype,
                "state_bytes_per_sequence": b.state_bytes_per_sequence if b else None,
                "kv_cache_bytes_per_gpu": b.kv_cache_bytes if b else None,
                "kv_cache_tokens": b.kv_tokens if b else None,
                "max_concurrency": round(b.concurrency, 2) if b else None,
                "overhead_bytes_per_gpu": b.overhead_bytes if b else None,
                "margin_bytes": b.overhead.margin if b and b.overhead else None,
                "overhead": _overhead_dict(b.overhead) if b and b.overhead else None,
                "max_context_that_fits": self.max_context_that_fits,
            },
            "serving": {
                "engine": self.request.engine,
                "image": self.site.image(eng.engine_image(self.recipe, self.request.engine)),
                "engine_version": eng.version_text(eng.engine_version(self.recipe, self.request.engine)),
                "command": list(eng_defaults["command"]),
                "max_model_len": self.context.max_model_len,
                "gpu_memory_utilization": b.util if b else None,
                "max_num_seqs": b.max_num_seqs if b else None,
                "hf_overrides": self.context.hf_overrides,
                "rope": {"type": self.context.rope_type, "factor": self.context.factor} if self.context.rope_type else None,
                "tool_call_parser": self.recipe.tool_call_parser if self.request.engine == "vllm"
                else self.recipe.sglang.get("tool_call_parser"),
                "reasoning_parser": self.recipe.reasoning_parser if self.request.engine == "vllm"
                else self.recipe.sglang.get("reasoning_parser"),
                "trust_remote_code": self.recipe.trust_remote_code,
                "args": list(self.args),
                "env": [{"name": k, "value": v} for k, v in self.env],
            },
            "resources": {
                "cpu": str(sizing.cpu(gpus)) if gpus else None,
                "memory_request": mem_req, "memory_limit": mem_lim,
                "storage": sizing.storage(self.weight_bytes), "storage_class": self.site.storage_class,
                "shm": sizing.shm(gpus) if gpus else None,
            },
            "scheduling": {
                "node_affinity": sizing.node_affinity(gpu, self.gpu_named, int(eng_defaults["cuda_driver_gt"]),
                                                      self.site) if gpu else [],
                "tolerations": sizing.tolerations(gpus, self.site),
                "priority_class": self.site.priority_class_name,
            },
            "site": {"name": self.site.name, "gateway_parent_refs": [dict(r) for r in self.site.gateway_parent_refs],
                     "cluster_domain": self.site.cluster_domain},
            "route": {"name": self.name, "served_model_name": f.model_id, "timeout": ROUTE_TIMEOUT},
        }

    def to_text(self) -> str:
        d = self.to_dict()
        b = self.best
        lines = [f"model    {d['model']['id']}  ({d['model']['architecture']}, {human(self.weight_bytes)} weights"
                 f" — {self.weight_bytes_source})"]
        if b:
            lay = b.layout
            par = f"TP {lay.tp}" + (f" x PP {lay.pp}" if lay.pp > 1 else "") + (
                f", DCP {lay.dcp}" if lay.dcp > 1 else "") + (", EP" if lay.ep else "")
            lines += [
                f"fits     {'yes' if self.fits else 'NO'}",
                f"gpus     {lay.gpus} x {b.gpu.name} ({human(b.gpu.memory_bytes)} each, {b.gpu.resource})  {par}",
                f"context  {self.context.max_model_len} tokens (native {self.facts.native_context})"
                + (f", RoPE {self.context.rope_type} x{self.context.factor}" if self.context.rope_type else ""),
                f"weights  {human(b.weights_per_gpu)} per GPU",
                f"kv       {_num(b.kv_bytes_per_token)} B/token/GPU ({self.kv_dtype}), "
                f"{human(b.kv_cache_bytes)} KV cache per GPU = {b.kv_tokens} tokens, "
                f"max concurrency {b.concurrency:.2f} at full length",
                _overhead_line(b),
                f"engine   vllm  max-num-seqs {b.max_num_seqs}, gpu-memory-utilization {b.util:.2f}"
                if self.request.engine == "vllm" else
                f"engine   sglang  max-running-requests {b.max_num_seqs}, "
                f"mem-fraction-static {eng.mem_fraction_static(b.util):.2f}",
                f"k8s      cpu {d['resources']['cpu']}, memory {d['resources']['memory_request']}/"
                f"{d['resources']['memory_limit']}, pvc {d['resources']['storage']}",
            ]
        lines.append("why")
        lines += [f"  - {r}" for r in self.reasons]
        if self.warnings:
            lines.append("warnings")
            lines += [f"  - {w}" for w in self.warnings]
        if not self.fits:
            lines.append("per GPU type")
            lines += [f"  - {k}: {v}" for k, v in self.per_gpu_type.items()]
        return "\n".join(lines) + "\n"


def _overhead_dict(o: Overhead) -> dict[str, Any]:
    return {"activation_bytes": o.activation, "sampler_bytes": o.sampler, "non_torch_bytes": o.non_torch,
            "cuda_graph_bytes": o.cudagraphs, "cuda_graphs_in_budget": o.graphs_in_budget,
            "outside_budget_bytes": o.outside_budget, "max_num_batched_tokens": o.tokens}


def _overhead_line(b: Evaluation) -> str:
    o = b.overhead
    if o is None:
        return f"overhead {human(b.overhead_bytes)} per GPU"
    graphs = (f"CUDA graphs {human(o.cudagraphs)} " + ("inside the budget" if o.graphs_in_budget
                                                      else "in the (1 - utilisation) slack"))
    return (f"overhead {human(b.overhead_bytes)} per GPU = activation/sampler peak "
            f"{human(max(o.activation, o.sampler))} + non-torch {human(o.non_torch)}"
            + (f" + {graphs}" if o.graphs_in_budget else "") + f" + safety margin {human(o.margin)}"
            + ("" if o.graphs_in_budget else f"; {graphs}"))


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 2)


# --- weights ------------------------------------------------------------------------------------------------------
def _weights(source: ModelSource, facts: ModelFacts) -> tuple[int, int, str, WeightParts, list[str], list[str]]:
    """(checkpoint bytes = what the PVC stores, loaded bytes = what the GPUs hold, source, split, notes,
    warnings)."""
    notes: list[str] = []
    warnings: list[str] = []
    try:
        est = estimate_weights(facts)
    except BadModelConfig:
        if source.weights is None:
            raise
        est = None
    est_loaded = int(getattr(est, "loaded_bytes", 0) or (est.total_bytes if est else 0))
    if source.weights is not None and source.weights.total_bytes > 0:
        total = int(source.weights.total_bytes)
        src = source.weights.source
        loaded = int(total * est_loaded / est.total_bytes) if est and est.total_bytes else total
    else:
        assert est is not None
        total, loaded = int(est.total_bytes), est_loaded
        src = "estimated from config.json (no safetensors metadata)"
        detail = [n.split("): ", 1)[-1] if n.startswith("estimated from config.json") else n for n in est.notes]
        notes.append(f"{est.total_params / 1e9:.1f}B parameters: " + "; ".join(detail))
        warnings.extend(est.warnings)
    if est is not None:
        parts = WeightParts.from_estimate(loaded, dict(est.bytes_by_part), est_loaded or est.total_bytes)
    else:
        parts = WeightParts(total=loaded, embeddings=0, lm_head=0, vision=0, experts=0, layers=loaded)
    return total, loaded, src, parts, notes, warnings


# --- layouts ------------------------------------------------------------------------------------------------------
def _layout_problem(f: ModelFacts, tp: int, pp: int, recipe: eng.Recipe, n: int) -> tuple[str, bool]:
    """('' if valid else why, whether expert parallel is needed to be valid)."""
    if f.num_attention_heads % tp:
        return f"TP {tp} does not divide {f.num_attention_heads} attention heads", False
    if not f.uses_mla:
        kv = f.num_kv_heads
        if kv >= tp and kv % tp:
            return f"TP {tp} does not divide {kv} KV heads", False
        if kv < tp and tp % kv:
            return f"TP {tp} is not a multiple of {kv} KV heads", False
    if LINEAR in f.layer_kinds and (f.linear_num_key_heads % tp or f.linear_num_value_heads % tp):
        return f"TP {tp} does not divide the linear-attention heads", False
    if MAMBA in f.layer_kinds and f.mamba_num_heads % tp:
        return f"TP {tp} does not divide {f.mamba_num_heads} Mamba heads", False
    if pp > f.num_layers:
        return f"PP {pp} exceeds {f.num_layers} layers", False
    need_ep = False
    blk = f.quant.block[0] if f.quant.block else 0
    if blk and tp > 1:
        if f.is_moe and f.moe_intermediate_size and (f.moe_intermediate_size // tp) % blk:
            if recipe.expert_parallel in ("optional", "always", "above_4"):
                need_ep = True
            else:
                return (f"TP {tp}: MoE intermediate {f.moe_intermediate_size}/{tp} is not a multiple of the "
                        f"FP8 block {blk}"), False
        if not f.is_moe and f.intermediate_size and (f.intermediate_size // tp) % blk:
            return f"TP {tp}: intermediate {f.intermediate_size}/{tp} is not a multiple of the FP8 block {blk}", False
    return "", need_ep


def _dcp_supported(f: ModelFacts, recipe: eng.Recipe, engine: str) -> bool:
    if engine != "vllm" or not recipe.dcp:
        return False
    return not (set(f.layer_kinds) & {SLIDING, CHUNKED, LINEAR, MAMBA})


def _layouts(f: ModelFacts, n: int, recipe: eng.Recipe, req: PlanRequest) -> tuple[list[Layout], list[str]]:
    out, problems = [], []
    for tp in [d for d in range(n, 0, -1) if n % d == 0]:
        pp = n // tp
        if req.tp and tp != req.tp or req.pp and pp != req.pp:
            continue
        why, need_ep = _layout_problem(f, tp, pp, recipe, n)
        if why:
            problems.append(why)
            continue
        # EP places whole experts on the TP x DP ranks: with one rank (TP 1, pure PP) there is nothing to place
        ep = f.is_moe and tp > 1 and (need_ep or recipe.expert_parallel == "always"
                                      or (recipe.expert_parallel == "above_4" and n > 4))
        kv = 1 if f.uses_mla else f.num_kv_heads
        dcps = [1]
        if tp > kv and _dcp_supported(f, recipe, req.engine):
            dcps = [tp // kv, 1]
        if req.dcp:
            if tp % req.dcp:
                problems.append(f"DCP {req.dcp} does not divide TP {tp}")
                continue
            if req.dcp > 1 and not _dcp_supported(f, recipe, req.engine):
                problems.append(f"vLLM has no decode-context-parallel for {f.architecture}"
                                + (" with sliding/linear/Mamba layers" if f.is_hybrid else ""))
                continue
            dcps = [req.dcp]
        for d in dcps:
            out.append(Layout(tp=tp, pp=pp, dcp=d, ep=ep))
    return out, problems


def _max_num_seqs(kv_tokens: int, forced: int | None) -> int:
    """Room for sequences of ~2K tokens on average, a power of two between 8 and 256 (handbook: tune this before
    lowering max-model-len)."""
    if forced:
        return forced
    n = max(1, kv_tokens // 2048)
    p = 1 << (n.bit_length() - 1)
    return max(8, min(256, p))


def _evaluate(f: ModelFacts, parts: WeightParts, gpu: GpuType, layout: Layout, L: int, kv_dsz: float,
              recipe: eng.Recipe, req: PlanRequest, seqs: int | None = None) -> Evaluation:
    vision_replicated = "--mm-encoder-tp-mode" in recipe.extra_args
    w_stages = weights_per_gpu(parts, f, layout, vision_replicated,
                               expert_kernel_scale(f, gpu.compute, layout.tp, layout.ep))
    stages = stage_layers(f.num_layers, layout.pp)
    seqs_guess = seqs or req.max_num_seqs or 256
    tokens = req.max_num_batched_tokens or engine_batch_defaults(gpu.memory_bytes, gpu.name)[0]
    version = eng.engine_version(recipe, req.engine)
    util = req.gpu_memory_utilization or DEFAULT_UTILIZATION
    overheads = [overhead(f, layout, layers_on_stage=len(rng), last_stage=s == len(stages) - 1,
                          weights_per_gpu=w_stages[s], max_num_seqs=seqs_guess, max_num_batched_tokens=tokens,
                          version=version) for s, rng in enumerate(stages)]
    outside = max(o.outside_budget for o in overheads)
    if req.gpu_memory_utilization is None and gpu.memory_bytes * (1 - util) < outside:
        util = min(util, math.floor((1 - outside / gpu.memory_bytes) * 100) / 100)
    worst = None
    for s, rng in enumerate(stages):
        kv = stage_kv(f, layout, kv_dsz, rng, max_num_batched_tokens=tokens)
        avail = int(gpu.memory_bytes * util - w_stages[s] - overheads[s].in_budget)
        blocks = max(0, avail // kv.bytes_per_block)
        need = kv.blocks_for(L)
        conc = (blocks - 1) / need if need else 0.0
        cand = (conc, s, kv, avail, blocks, need)
        if worst is None or conc < worst[0]:
            worst = cand
    conc, s, kv, avail, blocks, need = worst
    ov = overheads[s]
    kv_tokens = int(max(0.0, conc) * L)
    per_tok = kv.growing_bytes_per_token / layout.dcp
    slack = int(gpu.memory_bytes * (1 - util))
    fits = avail > 0 and blocks - 1 >= need and slack >= outside
    why = ""
    if avail <= 0:
        why = (f"weights {human(w_stages[s])} + overhead {human(ov.in_budget)} per GPU exceed "
               f"{util:.2f} x {human(gpu.memory_bytes)}")
    elif blocks - 1 < need:
        why = f"KV cache {human(max(avail, 0))} per GPU holds {kv_tokens} tokens, less than one request of {L}"
    elif slack < outside:
        why = (f"(1 - {util:.2f}) x {human(gpu.memory_bytes)} = {human(slack)} cannot hold the {human(outside)} "
               f"vLLM allocates outside --gpu-memory-utilization"
               + (" (CUDA graphs, communication buffers)" if not ov.graphs_in_budget else " (communication buffers)"))
    kv_dup = (layout.tp > layout.dcp) if f.uses_mla else (layout.tp > f.num_kv_heads * layout.dcp)
    ev = Evaluation(gpu=gpu, layout=layout, util=util, max_num_seqs=seqs_guess, weights_per_gpu=max(w_stages),
                    kv_bytes_per_token=per_tok, state_bytes_per_sequence=kv.state_bytes_per_sequence,
                    kv_cache_bytes=max(0, avail), kv_tokens=kv_tokens, concurrency=max(0.0, conc), fits=fits,
                    duplicated_kv=kv_dup, why=why, overhead_bytes=ov.in_budget, overhead=ov, available_bytes=avail)
    if seqs is None and not req.max_num_seqs:
        if not fits:
            # the sampler and the CUDA graphs grow with max-num-seqs: retry with the fewest the plan would choose
            fewest = _evaluate(f, parts, gpu, layout, L, kv_dsz, recipe, req, seqs=_max_num_seqs(0, None))
            if not fewest.fits:
                return ev
            ev = fewest
        ms = _max_num_seqs(ev.kv_tokens, None)
        if ms != ev.max_num_seqs:
            again = _evaluate(f, parts, gpu, layout, L, kv_dsz, recipe, req, seqs=ms)
            if again.fits:
                return again
    return ev


def _preference(e: Evaluation, f: ModelFacts) -> tuple:
    """Fits, then fewer GPUs, then no duplicated KV cache, then fewer pipeline stages, then more DCP.

    A duplicate counts only when TP could have stopped at the KV heads with TP >= 2: with one KV head (MLA, MQA)
    and no DCP, only TP 1 x PP N avoids it, giving up tensor and expert parallelism, so TP goes as far as valid
    (the recipes' TP 8 + EP for DeepSeek/Kimi) and PP only covers what TP cannot."""
    avoidable = e.duplicated_kv and (1 if f.uses_mla else f.num_kv_heads) > 1
    return (not e.fits, e.layout.gpus, avoidable, e.layout.pp, -e.layout.dcp)


def _closeness(e: Evaluation) -> tuple:
    """How close a layout that does not fit came: more KV tokens, more KV memory, then the smallest share of the
    GPU the weights + overhead need (so when the weights fit nowhere, the largest GPU count tried is shown)."""
    return (e.kv_tokens, e.kv_cache_bytes, -(e.weights_per_gpu + e.overhead_bytes) / e.gpu.memory_bytes)


def _layout_reason(f: ModelFacts, top: Evaluation, evals: list[Evaluation], recipe: eng.Recipe,
                   req: PlanRequest) -> str:
    """Why a pipeline-parallel layout was chosen over more TP, from what was actually tried ('' without PP)."""
    lay = top.layout
    if lay.pp == 1:
        return ""
    head = f"TP {lay.tp} x PP {lay.pp}: "
    if req.tp or req.pp:
        return head + " and ".join(f"--{k} {v} was asked for" for k, v in (("tp", req.tp), ("pp", req.pp)) if v)
    n = lay.gpus
    kv = 1 if f.uses_mla else f.num_kv_heads
    invalid, dup, unfit = [], [], []
    for tp in [d for d in range(n, lay.tp, -1) if n % d == 0]:
        problem, _ = _layout_problem(f, tp, n // tp, recipe, n)
        tried = [e for e in evals if e.layout.tp == tp]
        if problem:
            invalid.append(problem)
        elif tried and top.fits and not tried[0].fits:
            unfit.append(f"TP {tp} x PP {n // tp} does not fit ({tried[0].why})")
        elif tried and tried[0].duplicated_kv:
            dup.append(tp)
    if dup and not invalid and not unfit:
        return head + (f"TP stops at the {kv} KV heads (more TP would duplicate the KV cache; "
                       f"{'vLLM has no DCP for this architecture' if req.engine == 'vllm' else 'SGLang has no DCP'}"
                       f"), pipeline parallel shards the rest")
    parts = invalid + unfit + ([f"TP {', '.join(map(str, dup))} would duplicate the KV cache"] if dup else [])
    return head + "; ".join(parts) + f", so pipeline parallel covers the other factor {lay.pp} (the handbook's " \
        f"TP x PP for GPU counts TP alone cannot use, e.g. 6 GPUs as TP 2 x PP 3)"


def _search_gpu(f: ModelFacts, parts: WeightParts, gpu: GpuType, L: int, kv_dsz: float, recipe: eng.Recipe,
                req: PlanRequest) -> tuple[Evaluation | None, str]:
    if req.gpus:
        counts: tuple[int, ...] = (req.gpus,)
    elif req.tp or req.pp:
        counts = ((req.tp or 1) * (req.pp or 1),) if (req.tp and req.pp) else tuple(
            n for n in GPU_COUNTS if (not req.tp or n % req.tp == 0) and (not req.pp or n % req.pp == 0))
    else:
        counts = GPU_COUNTS
    best: Evaluation | None = None
    last_why = ""
    for n in counts:
        layouts, problems = _layouts(f, n, recipe, req)
        if not layouts:
            last_why = f"{n} GPUs: " + ("; ".join(dict.fromkeys(problems)) or "no valid layout")
            continue
        evals = sorted((_evaluate(f, parts, gpu, lay, L, kv_dsz, recipe, req) for lay in layouts),
                       key=lambda e: _preference(e, f))
        top = replace(evals[0], layout_reason=_layout_reason(f, evals[0], evals, recipe, req))
        if top.fits:
            return top, ""
        if best is None or _closeness(top) > _closeness(best):
            best = top
        last_why = f"{n} GPUs: {top.why}"
    return best, last_why or "no GPU count fits"


def _max_context(f: ModelFacts, parts: WeightParts, e: Evaluation, kv_dsz: float, recipe: eng.Recipe,
                 req: PlanRequest, upper: int) -> int | None:
    """Binary search of the largest max-model-len that fits this layout (vLLM's 'estimated maximum model length')."""
    lo, hi = 0, upper
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _evaluate(f, parts, e.gpu, e.layout, mid, kv_dsz, recipe, req, seqs=e.max_num_seqs).fits:
            lo = mid
        else:
            hi = mid - 1
    return lo or None


def make_plan(source: ModelSource, req: PlanRequest, site: Site | None = None) -> Plan:
    """Plan ``source`` for ``req`` on ``site`` (default: ``req.site``, else the shipped profile, NRP)."""
    site = site or req.site or default_site()
    if req.engine not in ("vllm", "sglang"):
        raise UsageError(f"unknown engine {req.engine!r}", "use --engine vllm or --engine sglang")
    if req.kv_cache_dtype not in KV_DTYPES:
        raise UsageError(f"unknown --kv-cache-dtype {req.kv_cache_dtype!r}", f"one of {', '.join(KV_DTYPES)}")
    if req.gpu_type and req.gpu_memory_bytes is not None:
        raise UsageError("--gpu and --gpu-memory are exclusive", "--gpu names a known type; --gpu-memory any other")
    if req.gpu_memory_bytes is not None and req.gpu_memory_bytes < GiB:
        raise UsageError(f"--gpu-memory of {req.gpu_memory_bytes} bytes is not a GPU size",
                         "give the card's memory, e.g. --gpu-memory 80GiB")
    for flag, v in (("--gpus", req.gpus), ("--tp", req.tp), ("--pp", req.pp), ("--dcp", req.dcp)):
        if v is not None and v < 1:
            raise UsageError(f"{flag} must be at least 1")
    if req.gpus and req.tp and req.pp and req.tp * req.pp != req.gpus:
        raise PlanError(f"--tp {req.tp} x --pp {req.pp} = {req.tp * req.pp}, not --gpus {req.gpus}")
    if req.gpus and req.tp and req.gpus % req.tp:
        raise PlanError(f"--tp {req.tp} does not divide --gpus {req.gpus}")
    if req.dcp and req.tp and req.tp % req.dcp:
        raise PlanError(f"--dcp {req.dcp} must divide --tp {req.tp}")
    if req.gpu_memory_utilization is not None and not (0.1 <= req.gpu_memory_utilization <= 0.99):
        raise UsageError("--gpu-memory-utilization must be between 0.1 and 0.99")

    checked = validate_config(source.config, source.model_id)      # the estimator reads the same checked config
    source = replace(source, config=checked.config)
    f = from_config(source.config, source.model_id)
    chosen = parsers.choose(eng.find_recipe(f), f.model_id, f.architecture, source.chat_template,
                            source.chat_template_source, req.engine)
    recipe = chosen.recipe
    total, loaded, wsrc, parts, wnotes, wwarnings = _weights(source, f)
    rope = recipe.rope or {}
    rope_original = rope.get("original") if (not rope.get("when_native")
                                             or rope.get("when_native") == f.native_context) else None
    ctx = decide_context(f, context=req.context, max_model_len=req.max_model_len, rope_method=rope.get("method"),
                         rope_original=rope_original, yarn_supported=recipe.yarn, rope_factor=rope.get("factor"),
                         rope_max_context=rope.get("max_context"),
                         rescale_existing=bool(rope.get("rescale_existing")))
    L = ctx.max_model_len
    if req.kv_cache_dtype == "auto":
        kv_name = f.quant.kv_cache_dtype or f.dtype
    else:
        kv_name = req.kv_cache_dtype
    kv_dsz = dtype_bytes(kv_name)

    if req.gpu_type:
        gpus = [site.find_gpu(req.gpu_type)]
    elif req.gpu_memory_bytes is not None:
        gpus = [custom_gpu(req.gpu_memory_bytes)]
    else:
        gpus = list(site.gpu_catalog)

    outcomes: dict[str, str] = {}
    fitting: list[Evaluation] = []
    closest: Evaluation | None = None
    for g in gpus:
        cannot = eng.gpu_cannot_run(f, g.compute)
        if cannot:
            outcomes[g.name] = cannot
            continue
        e, why = _search_gpu(f, parts, g, L, kv_dsz, recipe, req)
        if e and e.fits:
            fitting.append(e)
            outcomes[g.name] = f"fits on {e.layout.gpus} GPU(s)"
        else:
            outcomes[g.name] = why
            if e and (closest is None or _closeness(e) > _closeness(closest)):
                closest = e
    if fitting:
        best = min(fitting, key=lambda e: (e.layout.gpus * e.gpu.memory_mib, e.layout.gpus))
    else:
        best = closest
    if best is None:
        forced = any(v is not None for v in (req.gpus, req.tp, req.pp, req.dcp))
        detail = "; ".join(f"{k}: {v}" for k, v in outcomes.items())
        if all(eng.gpu_cannot_run(f, g.compute) for g in gpus):
            able = [g.name for g in site.gpu_catalog if not eng.gpu_cannot_run(f, g.compute)]
            raise PlanError(f"{f.model_id} cannot run on {detail}",
                            f"pick a GPU that can: --gpu {' or --gpu '.join(able)}" if able else
                            "no catalog GPU type can run this checkpoint; pass --gpu-memory SIZE for such a card")
        raise PlanError(f"no valid layout for {f.model_id}: {detail}",
                        "drop or change --gpus/--tp/--pp/--dcp" if forced else "try another --gpu type")

    plan = Plan(facts=f, source=source, request=req, weight_bytes=total, weight_bytes_source=wsrc, context=ctx,
                recipe=recipe, best=best, per_gpu_type=outcomes, kv_dtype=kv_name,
                gpu_named=bool(req.gpu_type), site=site)
    plan.name = sizing.check_name(req.name) if req.name else sizing.default_name(f.model_id)
    plan.warnings.extend(list(source.warnings) + list(checked.warnings) + list(ctx.warnings))
    _explain(plan, wnotes, len(gpus) > 1, chosen)
    plan.warnings.extend(wwarnings)
    if best is not None:
        settings = eng.EngineSettings(
            engine=req.engine, model_id=f.model_id, served_name=f.model_id, tp=best.layout.tp, pp=best.layout.pp,
            dcp=best.layout.dcp, dp=best.layout.dp, ep=best.layout.ep, max_model_len=L,
            max_num_seqs=best.max_num_seqs, gpu_memory_utilization=best.util, hf_overrides=ctx.hf_overrides,
            kv_cache_dtype=req.kv_cache_dtype, recipe=recipe, max_num_batched_tokens=req.max_num_batched_tokens)
        plan.args = eng.vllm_args(settings) if req.engine == "vllm" else eng.sglang_args(settings)
        plan.env = eng.engine_env(req.engine, ctx.extended)
        if not best.fits:
            plan.max_context_that_fits = _max_context(f, parts, best, kv_dsz, recipe, req, L)
            if plan.max_context_that_fits:
                plan.reasons.append(f"on {best.layout.gpus} x {best.gpu.name} at most "
                                    f"{plan.max_context_that_fits} tokens fit (--max-model-len "
                                    f"{plan.max_context_that_fits}); more GPUs keep the full context")
    return plan


def _explain(plan: Plan, wnotes: list[str], chose_type: bool, chosen: parsers.ParserChoice | None = None) -> None:
    f, b, r = plan.facts, plan.best, plan.reasons
    r.append(f"weights {human(plan.weight_bytes)}: {plan.weight_bytes_source}")
    r.extend(wnotes)
    r.extend(plan.context.reasons)
    if f.uses_mla:
        r.append(f"MLA: one latent KV head of {f.head_dim} values per layer, replicated on every TP rank")
    kinds = {k: f.count(k) for k in set(f.layer_kinds)}
    if f.is_hybrid:
        r.append("layers: " + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) +
                 " (only full/MLA layers grow with the context)")
    r.append(f"KV cache dtype {plan.kv_dtype}" + (" (auto = activation dtype, also for FP8 weights)"
                                                   if plan.request.kv_cache_dtype == "auto" and not f.quant.kv_cache_dtype
                                                   else ""))
    if b is None:
        return
    lay = b.layout
    scale = expert_kernel_scale(f, b.gpu.compute, lay.tp, lay.ep)
    if scale != 1.0:
        r.append(f"MXFP4 experts held {scale:.3f}x their checkpoint size on {b.gpu.name}: below Blackwell vLLM "
                 f"runs them through Marlin (or, on Hopper, Triton kernels of nearly the same size); Marlin pads "
                 f"hidden to a multiple of 256 and the per-GPU intermediate to 128")
    if chose_type and plan.fits:
        r.append(f"GPU type {b.gpu.name}: the least GPU memory reserved among the catalog types that fit "
                 f"({lay.gpus} x {human(b.gpu.memory_bytes)})")
    r.append(f"{lay.gpus} GPU(s): the fewest that hold {human(b.weights_per_gpu)} weights per GPU + one "
             f"{plan.context.max_model_len}-token request + {human(b.overhead_bytes)} overhead"
             if plan.fits else f"{lay.gpus} GPU(s) tried: {b.why}")
    kv = 1 if f.uses_mla else f.num_kv_heads
    if lay.dcp > 1:
        r.append(f"decode-context-parallel {lay.dcp}: TP {lay.tp} exceeds {kv} KV head(s); DCP x KV heads = TP, so "
                 f"each rank stores 1/{lay.dcp} of the tokens instead of a duplicate")
    if b.layout_reason:
        r.append(b.layout_reason)
    if b.duplicated_kv:
        dup = lay.tp // (kv * lay.dcp)
        if kv == 1:
            no_dcp = ("SGLang has no decode-context-parallel" if plan.request.engine == "sglang" else
                      "--dcp 1 was asked for" if plan.request.dcp == 1 else "no decode-context-parallel here")
            plan.warnings.append(f"TP {lay.tp} > 1 KV head ({'MLA latent' if f.uses_mla else 'MQA'}) and {no_dcp}: "
                                 f"the KV cache is duplicated {dup}x on every TP rank (TP 1 x PP {lay.gpus} would "
                                 f"avoid it at the cost of tensor and expert parallelism)")
        else:
            plan.warnings.append(f"TP {lay.tp} > {kv} KV heads: the KV cache is duplicated {dup}x")
    if lay.ep:
        r.append("expert parallel: " + ("the recipe asks for it" if plan.recipe.expert_parallel in ("always", "above_4")
                                        else "TP alone would split experts below the FP8 block size"))
    if chosen is not None:                           # parsers, their source, and the engine version they need
        r.extend(chosen.reasons)
        plan.warnings.extend(chosen.warnings)
    for s in plan.recipe.suggest:
        r.append(f"worth trying: {s}")
    r.append(f"max-num-seqs {b.max_num_seqs}: room for ~2K-token sequences in {b.kv_tokens} KV tokens (cap 256)")
    if b.overhead:
        o = b.overhead
        r.append(f"memory model of vLLM {'.'.join(map(str, eng.engine_version(plan.recipe, plan.request.engine)))}: "
                 + ("CUDA graphs are subtracted before the KV cache (>= 0.21)" if o.graphs_in_budget else
                    f"CUDA graphs (~{human(o.cudagraphs)}) live outside --gpu-memory-utilization (< 0.21), so "
                    f"(1 - utilisation) x memory must hold them")
                 + f"; profile run of {o.tokens} tokens (vLLM's max-num-batched-tokens on {b.gpu.name})")
        plan.warnings.extend(o.notes)
    if b.gpu.compute and f.quant.method == "fp8" and not b.gpu.native_fp8:
        plan.warnings.append(f"{b.gpu.name} (compute {b.gpu.compute}) has no native FP8: vLLM runs the FP8 weights "
                             "through Marlin weight-only kernels (works, slower prefill)")
    rule = eng.checkpoint_gpus(f)
    if rule and not b.gpu.compute:
        plan.warnings.append(f"{str(eng.checkpoint_format(f)).upper()} checkpoint on a --gpu-memory card of unknown "
                             f"compute capability: the recipes list {rule['needs']}; make sure it is one")
    if not plan.fits:
        plan.warnings.append("the plan does not fit: see 'per GPU type'")
