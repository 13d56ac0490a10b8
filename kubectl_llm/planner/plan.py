"""The planner's entry point: ModelSource + PlanRequest -> Plan (every decision with its reason). Pure.

Search, as the handbook teaches: for each candidate GPU type, the fewest GPUs (1, 2, 3, 4, 6, 8) whose best
layout holds the weights + one request of max-model-len + overhead. Layouts of N GPUs are TP x PP with TP
dividing the attention heads (and the KV heads, or being a multiple of them), the quantisation blocks and the
linear-attention heads; among those that fit, a layout that does not duplicate the KV cache wins (DCP where vLLM
implements it for the architecture, else TP = KV heads and PP for the rest), then fewer pipeline stages.
Without --gpu, every catalog type is tried and the one reserving the least GPU memory wins.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import Any

from kubectl_llm.errors import BadModelConfig, LlmError, PlanError, UsageError
from kubectl_llm.planner import engine as eng
from kubectl_llm.planner import parsers, sizing
from kubectl_llm.planner.context import ContextDecision, decide_context
from kubectl_llm.planner.engine_args import apply_engine_args, flag_key
from kubectl_llm.planner.facts import CHUNKED, LINEAR, MAMBA, SLIDING, ModelFacts, dtype_bytes, from_config
from kubectl_llm.planner.gpus import GpuType, custom_gpu
from kubectl_llm.planner.memory import (CONTEXT_BASELINE_BYTES, indexer_bytes_per_token, Layout, Overhead, WeightParts, engine_batch_defaults, expert_kernel_scale,
                                        StageKV, overhead, stage_kv, stage_layers, weights_per_gpu)
from kubectl_llm.planner.quantity import GiB, human
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.rules import DEFAULT_UTILIZATION, GPU_COUNTS, KV_DTYPES, ROUTE_TIMEOUT
from kubectl_llm.planner.site import NVIDIA_PREFIX, Site, default_site
from kubectl_llm.planner.source import ModelSource
from kubectl_llm.planner.storage import WeightsStorage, weights_storage
from kubectl_llm.planner.validate import validate_config
from kubectl_llm.planner.weights import estimate_weights

MAX_NODES = 8                          # multi-node plans: whole nodes, 2..MAX_NODES of them


@dataclass(frozen=True)
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
    sglang_cap: float | None = None  # SGLang's own default --mem-fraction-static (an upper bound; None: vLLM/forced)
    sglang_fraction: float | None = None  # the --mem-fraction-static the SGLang pool was sized with (None: vLLM)
    seqs_cap: int | None = None    # vLLM hybrid models: the Mamba cache blocks, one per running sequence (None: no cap)


@dataclass(frozen=True)
class Resources:
    """The engine container and its Kubernetes sizing, decided once when the plan is built (rules in sizing.py)."""

    image: str
    command: tuple[str, ...]
    cpu: str | None
    memory_request: str
    memory_limit: str
    storage: str
    shm: str | None
    node_affinity: tuple[dict[str, Any], ...]
    tolerations: tuple[dict[str, Any], ...]


def _resources(f: ModelFacts, best: Evaluation | None, weight_bytes: int, engine: str, site: Site,
               gpu_named: bool, recipe: eng.Recipe | None = None) -> Resources:
    nodes = nodes_of(best.layout.gpus, best.gpu.per_node) if best else 1
    gpus = best.layout.gpus // nodes if best else 0          # per pod: one pod per node of a multi-node plan
    eng_defaults = eng.engine_defaults(engine)
    mem_req, mem_lim = sizing.memory(weight_bytes // nodes, f.multimodal)
    return Resources(
        # a GPU type may name its own engine build (a site's ROCm image for an AMD card), else the family-pinned
        # image (recipes.yaml); then the site's mirror
        image=site.image((best.gpu.image_for(engine) if best else None)
                         or (eng.engine_image(recipe, engine) if recipe else eng_defaults["image"])),
        command=tuple(eng_defaults["command"]),
        cpu=str(sizing.cpu(gpus)) if gpus else None, memory_request=mem_req, memory_limit=mem_lim,
        storage=sizing.storage(weight_bytes), shm=sizing.shm(gpus) if gpus else None,
        node_affinity=tuple(sizing.node_affinity(best.gpu, gpu_named, eng.cuda_driver_gt(recipe, engine), site)
                            if best else ()),
        tolerations=tuple(sizing.tolerations(gpus, site)))


@dataclass(frozen=True)
class Plan:
    """Every decision of one plan, built once by ``make_plan`` and never changed after (``to_dict`` and
    ``to_text`` only serialise it)."""

    facts: ModelFacts
    source: ModelSource
    request: PlanRequest
    weight_bytes: int
    weight_bytes_source: str
    context: ContextDecision
    recipe: eng.Recipe
    best: Evaluation | None
    per_gpu_type: tuple[tuple[str, str], ...]    # (type, one-line outcome), in the order tried
    resources: Resources
    site: Site
    name: str
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    kv_dtype: str = "bfloat16"
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    gpu_named: bool = False
    max_context_that_fits: int | None = None
    worker_args: tuple[str, ...] = ()          # multi-node: the args of the worker pods
    command: tuple[str, ...] = ()              # () = the engine's default command
    worker_command: tuple[str, ...] = ()       # multi-node: the workers' command (() = the engine's)
    launcher: str = ""                         # multi-node: native | ray ("" on one node)
    one_node_why: str = ""                     # multi-node: why one node is not enough
    storage: WeightsStorage | None = None      # the workload kind and its weights claims (planner/storage.py)
    hint: str = ""                             # does not fit: the changes that make it fit (_checked_hint)

    @property
    def nodes(self) -> int:
        return nodes_of(self.best.layout.gpus, self.best.gpu.per_node) if self.best else 0

    @property
    def gpus_per_pod(self) -> int:
        return self.best.layout.gpus // max(1, self.nodes) if self.best else 0

    @property
    def fits(self) -> bool:
        return bool(self.best and self.best.fits)

    @property
    def engine_image(self) -> str:
        """The engine image before the site's registry mirror: the GPU type's own build (a site's ROCm image for
        an AMD card), else the family-pinned image (recipes.yaml: a family that needs a newer engine)."""
        own = self.best.gpu.image_for(self.request.engine) if self.best else None
        return own or eng.engine_image(self.recipe, self.request.engine)

    def fit_hint(self) -> str:
        """For a plan that does not fit: only the changes that make it fit ('' when it fits). Each change the plan
        could replay was planned when the plan was made (``hint``, see ``_checked_hint``)."""
        return "" if self.fits else self.hint

    def hint_candidates(self) -> tuple[str, list[tuple[str, dict[str, Any] | None, str]]]:
        """(head, [(tip, the request change that replays it or None, group)]) for a plan that does not fit: every
        change that might help, before ``_checked_hint`` plans them (a group keeps its first tip that fits)."""
        b, f, req = self.best, self.facts, self.request
        if b is None or self.fits:
            return "", []
        lay = b.layout
        # a larger card must give the weights + overhead alone, else today's budget + the KV one request lacks
        need = (b.weights_per_gpu + b.overhead_bytes if b.kv_cache_bytes <= 0 else
                b.gpu.memory_bytes * b.util + b.kv_bytes_per_token * max(0, self.context.max_model_len - b.kv_tokens))
        if b.seqs_cap is not None and b.max_num_seqs > b.seqs_cap and b.kv_tokens >= self.context.max_model_len:
            need = b.gpu.memory_bytes * b.util + (b.max_num_seqs - b.seqs_cap) * b.kv_cache_bytes / (b.seqs_cap + 1)
        Tip = tuple[str, dict[str, Any] | None, str]
        larger: list[Tip] = [(f"a larger GPU (--gpu {g.name})", {"gpu_type": g.name}, "gpu")
                  for g in sorted(self.site.gpu_catalog, key=lambda g: g.memory_bytes)
                  if g.memory_bytes > b.gpu.memory_bytes and g.memory_bytes * b.util > need
                  and not eng.gpu_cannot_run(f, g.compute, req.engine)
                  ] if len(self.per_gpu_type) == 1 else []      # all types tried: another type cannot help
        # More GPUs can help only where a flag held the count below the most one copy may have (MAX_NODES whole
        # nodes): without one, the search already tried every count up to that.
        limit = MAX_NODES * b.gpu.per_node
        forced = [k for k in ("gpus", "tp", "pp", "nodes") if getattr(req, k)]
        more_gpus: list[Tip] = ([(f"more --nodes (up to {MAX_NODES})" if req.nodes else
                                  f"more --gpus (up to {limit}: {MAX_NODES} nodes of {b.gpu.per_node})",
                                  {k: None for k in forced}, "")] if forced and lay.gpus < limit else [])
        tips: list[Tip] = []
        # SGLang's own default fraction (an upper bound the plan keeps unless the utilisation is forced) binds
        if (b.sglang_cap is not None and not req.gpu_memory_utilization
                and eng.mem_fraction_static(b.util, b.overhead_bytes / b.gpu.memory_bytes) > b.sglang_cap):
            tips.append((f"--gpu-memory-utilization {b.util:.2f} (lifts the cap at SGLang's own default "
                         f"{b.sglang_cap:.2f}; SGLang then gets what the plan sized)",
                         {"gpu_memory_utilization": round(b.util, 2)}, ""))
        # the sampler and activations grow with forced batch limits
        if req.max_num_seqs:
            tips.append(("--max-num-seqs left to the plan", {"max_num_seqs": None}, ""))
        if req.max_num_batched_tokens:
            tips.append(("--max-num-batched-tokens left to the engine", {"max_num_batched_tokens": None}, ""))
        if b.kv_cache_bytes <= 0:           # the weights (+ overhead) alone do not fit: KV settings cannot help
            head = (f"the weights alone need {human(b.weights_per_gpu)} per GPU on {lay.gpus} x {b.gpu.name}: "
                    if b.weights_per_gpu >= b.gpu.memory_bytes * b.util else
                    f"the weights {human(b.weights_per_gpu)} + overhead {human(b.overhead_bytes)} per GPU on "
                    f"{lay.gpus} x {b.gpu.name} leave no KV cache: ")
            tips += more_gpus + larger
            if f.quant.weight_bits >= 16:
                tips.append(("a quantized (FP8 / NVFP4) checkpoint of the model", None, ""))
            return head, tips
        if b.seqs_cap is not None and b.max_num_seqs > b.seqs_cap and b.kv_tokens >= self.context.max_model_len:
            head = f"{b.max_num_seqs} sequences need as many Mamba cache blocks, this layout holds {b.seqs_cap}: "
            own: list[Tip] = [(f"--max-num-seqs {b.seqs_cap}", {"max_num_seqs": b.seqs_cap}, "")] if b.seqs_cap else []
            return head, own + [t for t in tips if t[1] != {"max_num_seqs": None}] + more_gpus + larger
        if self.max_context_that_fits:
            tips.append((f"--max-model-len {self.max_context_that_fits}",
                         {"max_model_len": self.max_context_that_fits, "context": None}, ""))
        if dtype_bytes(self.kv_dtype) > 1:
            tips.append(("--kv-cache-dtype fp8 (half the KV bytes)", {"kv_cache_dtype": "fp8"}, ""))
        tips += more_gpus + larger
        if req.gpu_memory_utilization and req.gpu_memory_utilization < DEFAULT_UTILIZATION:
            tips.append((f"--gpu-memory-utilization {DEFAULT_UTILIZATION}",
                         {"gpu_memory_utilization": DEFAULT_UTILIZATION}, ""))
        head = (f"the KV cache for one {self.context.max_model_len}-token request does not fit: "
                if b.kv_tokens < self.context.max_model_len else f"{b.why}: ")
        return head, tips

    # -- documents ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        b = self.best
        f = self.facts
        gpus = b.layout.gpus if b else 0
        nodes = self.nodes
        dp = b.layout.dp if b else 1
        res = self.resources
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
                "count": gpus, "nodes": nodes, "per_node": self.gpus_per_pod, "replicas": self.request.replicas,
                "resource": gpu.resource if gpu else None,
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
                "kv_cache_tokens": b.kv_tokens * dp if b else None,
                "kv_cache_tokens_per_dp_rank": b.kv_tokens if b else None,
                "max_concurrency": round(b.concurrency * dp, 2) if b else None,
                "overhead_bytes_per_gpu": b.overhead_bytes if b else None,
                "margin_bytes": b.overhead.margin if b and b.overhead else None,
                "overhead": _overhead_dict(b.overhead) if b and b.overhead else None,
                "max_context_that_fits": self.max_context_that_fits,
            },
            "serving": {
                "engine": self.request.engine, "image": res.image,
                "engine_version": eng.version_text(eng.engine_version(self.recipe, self.request.engine)),
                "command": list(self.command or res.command),
                "max_model_len": self.context.max_model_len,
                "gpu_memory_utilization": b.util if b else None,
                "mem_fraction_static": (_sglang_fraction(b) if b and self.request.engine == "sglang"
                                        else None),
                "max_num_seqs": b.max_num_seqs if b else None,
                "max_running_requests": (eng.sglang_max_running_requests(b.max_num_seqs, dp)
                                         if b and self.request.engine == "sglang" else None),
                "hf_overrides": self.context.hf_overrides,
                "rope": {"type": self.context.rope_type, "factor": self.context.factor} if self.context.rope_type else None,
                "tool_call_parser": self.recipe.tool_call_parser if self.request.engine == "vllm"
                else self.recipe.sglang.get("tool_call_parser"),
                "reasoning_parser": self.recipe.reasoning_parser if self.request.engine == "vllm"
                else self.recipe.sglang.get("reasoning_parser"),
                "trust_remote_code": self.recipe.trust_remote_code,
                "args": list(self.args),
                "worker_args": list(self.worker_args),
                "worker_command": list(self.worker_command),
                "launcher": self.launcher or None,
                "env": [{"name": k, "value": v} for k, v in self.env],
            },
            "resources": {
                "cpu": res.cpu, "memory_request": res.memory_request, "memory_limit": res.memory_limit,
                "storage": res.storage,
                "storage_class": self.storage.storage_class if self.storage else self.site.storage_class,
                "shm": res.shm,
            },
            "scheduling": {
                "node_affinity": list(res.node_affinity), "tolerations": list(res.tolerations),
                "priority_class": self.site.priority_class_name,
            },
            "site": {"name": self.site.name, "gateway_parent_refs": [dict(r) for r in self.site.gateway_parent_refs],
                     "cluster_domain": self.site.cluster_domain},
            "route": {"name": self.name, "served_model_name": f.model_id, "timeout": ROUTE_TIMEOUT},
        }

    def to_text(self) -> str:
        d = self.to_dict()
        b = self.best
        origin = {"catalog": ", config from the embedded catalog"}.get(self.source.origin, "")
        lines = [f"model    {d['model']['id']}  ({d['model']['architecture']}, {human(self.weight_bytes)} weights"
                 f" — {self.weight_bytes_source}{origin})"]
        if b:
            lay = b.layout
            par = f"TP {lay.tp}" + (f" x PP {lay.pp}" if lay.pp > 1 else "") + (
                f", DCP {lay.dcp}" if lay.dcp > 1 else "") + (", EP" if lay.ep else "")
            if lay.dp > 1:
                par = f"DP {lay.dp} x TP {lay.tp}" + (f" x PP {lay.pp}" if lay.pp > 1 else "") + ", EP"
            nodes = (f" = {self.nodes} nodes x {self.gpus_per_pod}" if self.nodes > 1 else "")
            reps = (f", {self.request.replicas} replicas" if self.request.replicas > 1 else "")
            lines += [
                f"fits     {'yes' if self.fits else 'NO'}",
                f"gpus     {lay.gpus} x {b.gpu.name}{nodes} ({human(b.gpu.memory_bytes)} each, {b.gpu.resource})"
                f"  {par}{reps}",
                f"context  {self.context.max_model_len} tokens (native {self.facts.native_context})"
                + (f", RoPE {self.context.rope_type} x{self.context.factor}" if self.context.rope_type else ""),
                f"weights  {human(b.weights_per_gpu)} per GPU",
                f"kv       {_num(b.kv_bytes_per_token)} B/token/GPU ({self.kv_dtype}), "
                f"{human(b.kv_cache_bytes)} KV cache per GPU = {b.kv_tokens * lay.dp} tokens"
                + (f" ({lay.dp} DP ranks x {b.kv_tokens})" if lay.dp > 1 else "")
                + f", max concurrency {b.concurrency * lay.dp:.2f} at full length",
                _overhead_line(b, self.request.engine),
                f"engine   vLLM {d['serving']['engine_version']} ({d['serving']['image']})  "
                f"max-num-seqs {b.max_num_seqs}, gpu-memory-utilization {b.util:.2f}"
                if self.request.engine == "vllm" else
                f"engine   SGLang {d['serving']['engine_version']} ({d['serving']['image']})  "
                f"max-running-requests {eng.sglang_max_running_requests(b.max_num_seqs, lay.dp)}, "
                + _fraction_text(_sglang_fraction(b)),
                f"k8s      cpu {d['resources']['cpu']}, memory {d['resources']['memory_request']}/"
                f"{d['resources']['memory_limit']}, pvc {d['resources']['storage']}"
                + (f" per pod (LeaderWorkerSet of {self.nodes} pods)" if self.nodes > 1 else ""),
            ]
        lines.append("why")
        lines += [f"  - {r}" for r in self.reasons]
        if self.warnings:
            lines.append("warnings")
            lines += [f"  - {w}" for w in self.warnings]
        if not self.fits:
            lines.append("per GPU type")
            lines += [f"  - {k}: {v}" for k, v in self.per_gpu_type]
        return "\n".join(lines) + "\n"


def _overhead_dict(o: Overhead) -> dict[str, Any]:
    return {"activation_bytes": o.activation, "sampler_bytes": o.sampler, "non_torch_bytes": o.non_torch,
            "cuda_graph_bytes": o.cudagraphs, "cuda_graphs_in_budget": o.graphs_in_budget,
            "startup_baseline_bytes": o.startup_baseline, "sampler_warmup_bytes": o.sampler_warmup,
            "repack_holes_bytes": o.repack_holes,
            "outside_budget_bytes": o.outside_budget, "max_num_batched_tokens": o.tokens}


def _overhead_line(b: Evaluation, engine: str = "vllm") -> str:
    o = b.overhead
    if o is None:
        return f"overhead {human(b.overhead_bytes)} per GPU"
    graphs = (f"CUDA graphs {human(o.cudagraphs)} " + ("inside the budget" if o.graphs_in_budget
                                                      else "in the (1 - utilisation) slack" if engine == "vllm"
                                                      else "outside --mem-fraction-static too"))
    return (f"overhead {human(b.overhead_bytes)} per GPU = activation/sampler peak "
            f"{human(max(o.activation, o.sampler))} + non-torch {human(o.non_torch)}"
            + (f" + {graphs}" if o.graphs_in_budget else "") + f" + safety margin {human(o.margin)}"
            + ("" if o.graphs_in_budget else f"; {graphs}"))


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 2)


# --- weights ------------------------------------------------------------------------------------------------------
# safetensors metadata and the config.json estimate agree within this factor on every real checkpoint held (the
# catalog's 33: within 10 %); further apart, the metadata is taken for corrupt or for another checkpoint
WEIGHTS_AGREE = 3
WEIGHTS_MAX = 1 << 50        # 1 PiB: ~500x the largest checkpoint known (Kimi-K2, ~1 TB)


def _weights(source: ModelSource, facts: ModelFacts) -> tuple[int, int, str, WeightParts, list[str], list[str]]:
    """(checkpoint bytes = what the PVC stores, loaded bytes = what the GPUs hold, source, split, notes,
    warnings)."""
    notes: list[str] = []
    warnings: list[str] = []
    try:
        est = estimate_weights(facts)
    except BadModelConfig as exc:
        if source.weights is None:
            raise
        est = None               # the checkpoint's own total stands; say what the plan lost, never silently
        warnings.append(f"the weight split could not be estimated from config.json ({exc.message}): the "
                        f"checkpoint's {human(source.weights.total_bytes)} are sharded as if all were decoder-layer "
                        f"weights (embeddings, vision tower and experts not told apart)")
    est_loaded = int(getattr(est, "loaded_bytes", 0) or (est.total_bytes if est else 0))
    metadata_total = int(source.weights.total_bytes) if source.weights is not None else 0
    if metadata_total > 0 and est is not None and est.total_bytes and not (
            est.total_bytes / WEIGHTS_AGREE <= metadata_total <= est.total_bytes * WEIGHTS_AGREE):
        # a corrupt or mismatched index (a total of 1 byte, or 10^30): never silently; the larger of the two is
        # used, so the plan is never sized below what config.json describes
        assert source.weights is not None
        if metadata_total > WEIGHTS_MAX:
            warnings.append(f"{source.weights.source} says {human(metadata_total)}, not a plausible checkpoint size "
                            f"(more than 1 PiB): ignored; the weights are estimated from config.json")
            metadata_total = 0
        else:
            larger = max(metadata_total, int(est.total_bytes))
            warnings.append(f"{source.weights.source} says {human(metadata_total)}, but config.json describes about "
                            f"{human(est.total_bytes)}: more than {WEIGHTS_AGREE}x apart (a corrupt or mismatched "
                            f"index?); the plan uses the larger, {human(larger)}")
            if larger > metadata_total:
                metadata_total = 0                      # the estimate below
        overruled = metadata_total == 0
    else:
        overruled = False
    if source.weights is not None and metadata_total > 0:
        total = metadata_total
        src = source.weights.source
        loaded = int(total * est_loaded / est.total_bytes) if est and est.total_bytes else total
    else:
        assert est is not None
        total, loaded = int(est.total_bytes), est_loaded
        src = ("estimated from config.json (the safetensors metadata total was overruled)" if overruled else
               "estimated from config.json (no safetensors metadata)")
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
    if f.index_head_dim:
        # DSA runs on vLLM's FLASHMLA_SPARSE backend, which has no DCP: "Today the FlashMLA sparse backend cannot
        # run under DCP at all" (vllm-project/vllm PR #45426, 2026-06, after the pinned 0.17.0; not merged)
        return False
    return not (set(f.layer_kinds) & {SLIDING, CHUNKED, LINEAR, MAMBA})


def _ep_problem(f: ModelFacts, ranks: int, engine: str) -> str:
    """'' if expert parallelism over ``ranks`` GPUs can place this model's routed experts, else why not.

    SGLang gives every EP rank num_experts / ep_size experts and asserts it divides (python/sglang/srt/layers/moe/
    fused_moe_triton/layer.py, FusedMoE: `assert num_experts % self.moe_ep_size == 0`). vLLM spreads a remainder
    (determine_expert_map), but more ranks than experts leaves ranks without one: not planned."""
    if engine == "sglang" and f.num_experts % ranks:
        return f"EP {ranks}: SGLang needs the EP size to divide the {f.num_experts} experts"
    if f.num_experts < ranks:
        return f"EP {ranks}: more ranks than the {f.num_experts} experts"
    return ""


def _dcp_problem(f: ModelFacts, tp: int, dcp: int) -> str:
    """'' if vLLM accepts DCP ``dcp`` at TP ``tp`` for this model's attention heads, else why not.

    DCP shards the tokens among the TP ranks that hold copies of one KV head, so for a GQA/MQA model (not MLA,
    whose latent cache is one head on every rank) vLLM's ModelConfig.verify_with_parallel_config (vllm/config/
    model.py) asserts TP > KV heads, DCP <= TP // KV heads ("decode context parallel size must less than or equal
    to (tensor parallel size T // total num kv heads K)") and (heads // KV heads) % DCP == 0."""
    if f.uses_mla:
        return ""
    kv = f.num_kv_heads
    if tp <= kv:
        return (f"DCP {dcp} at TP {tp}: vLLM needs TP above the {kv} KV heads for decode context parallel "
                f"(no KV copies to shard)")
    if dcp > tp // kv:
        return f"DCP {dcp} at TP {tp}: vLLM allows at most TP / KV heads = {tp} / {kv} = {tp // kv}"
    if (f.num_attention_heads // kv) % dcp:
        return (f"DCP {dcp}: vLLM needs it to divide the {f.num_attention_heads // kv} query heads per KV head")
    return ""


def _layouts(f: ModelFacts, n: int, recipe: eng.Recipe, req: PlanRequest) -> tuple[list[Layout], list[str]]:
    out, problems = [], []
    for tp in [d for d in range(n, 0, -1) if n % d == 0]:
        pp = n // tp
        if req.tp and tp != req.tp or req.pp and pp != req.pp:
            continue
        why, need_ep = _layout_problem(f, tp, pp, recipe, n)
        if not why and pp > 1 and req.engine == "sglang" and eng.sglang_fallback(recipe):
            why = f"PP {pp}: SGLang's Transformers fallback (sglang/srt/models/transformers.py) has no pipeline stages"
        if why:
            problems.append(why)
            continue
        # EP places whole experts on the TP x DP ranks: with one rank (TP 1, pure PP) there is nothing to place
        ep = f.is_moe and tp > 1 and (need_ep or recipe.expert_parallel == "always"
                                      or (recipe.expert_parallel == "above_4" and n > 4))
        if ep and (why := _ep_problem(f, tp, req.engine)):
            if need_ep:          # the FP8 blocks need EP at this TP, and EP cannot place the experts
                problems.append(why)
                continue
            ep = False           # the recipe's preference only: TP shards every expert instead
        kv = 1 if f.uses_mla else f.num_kv_heads
        dcps = [1]
        if tp > kv and _dcp_supported(f, recipe, req.engine) and not _dcp_problem(f, tp, tp // kv):
            dcps = [tp // kv, 1]
        if req.dcp:
            if tp % req.dcp:
                problems.append(f"DCP {req.dcp} does not divide TP {tp}")
                continue
            if req.dcp > 1 and req.engine == "vllm" and (why := _dcp_problem(f, tp, req.dcp)):
                problems.append(why)
                continue
            if req.dcp > 1 and not _dcp_supported(f, recipe, req.engine):
                problems.append("SGLang has no decode-context-parallel: drop --dcp" if req.engine == "sglang" else
                                f"vLLM has no decode-context-parallel for {f.architecture}"
                                + (" with sliding/linear/Mamba layers" if f.is_hybrid else "")
                                + (" (DSA sparse attention: FLASHMLA_SPARSE has no DCP)" if f.index_head_dim else ""))
                continue
            dcps = [req.dcp]
        for d in dcps:
            out.append(Layout(tp=tp, pp=pp, dcp=d, ep=ep))
    return out, problems


def _max_num_seqs(kv_tokens: int, forced: int | None, cap: int | None = None) -> int:
    """Room for sequences of ~2K tokens on average, a power of two between 8 and 256 (handbook: tune this before
    lowering max-model-len), and never above ``cap`` (see ``_batch_cap``)."""
    if forced:
        return forced
    n = max(1, kv_tokens // 2048)
    p = 1 << (n.bit_length() - 1)
    seqs = max(8, min(256, p))
    return min(seqs, cap) if cap else seqs


def _batch_cap(req: PlanRequest) -> int | None:
    """vLLM refuses to start when max_num_batched_tokens < max_num_seqs (SchedulerConfig: each running sequence
    takes at least a token a step): a forced --max-num-batched-tokens caps max-num-seqs (None: no cap)."""
    return req.max_num_batched_tokens if req.engine == "vllm" and req.max_num_batched_tokens else None


def _seqs_cap(req: PlanRequest, ev: Evaluation) -> int | None:
    """The most sequences vLLM accepts for this layout: the batch cap and a hybrid model's Mamba cache blocks
    (at least 1; None: no cap)."""
    caps = [c for c in (_batch_cap(req), ev.seqs_cap) if c is not None]
    return max(1, min(caps)) if caps else None


def _raised_batch(req: PlanRequest, gpu: GpuType) -> int | None:
    """--max-num-batched-tokens the plan must pass itself: a --max-num-seqs above vLLM's default batch for the card
    (2048 / 8192 tokens) would make vLLM refuse to start ("max_num_batched_tokens (2048) must be greater than or
    equal to max_num_seqs (4096)", SchedulerConfig._verify_args; vLLM fills in its default before that check), so
    the plan raises the batch to the sequences (None: the engine's default or the user's flag stands)."""
    if req.engine != "vllm" or req.max_num_batched_tokens or not req.max_num_seqs:
        return None
    default = engine_batch_defaults(gpu.memory_bytes, " ".join((gpu.name, *gpu.products)))[0]
    return req.max_num_seqs if req.max_num_seqs > default else None


def _batched_tokens(req: PlanRequest, gpu: GpuType) -> int:
    """The max-num-batched-tokens the engine will run with (T of the profile run)."""
    return (req.max_num_batched_tokens or _raised_batch(req, gpu)
            or engine_batch_defaults(gpu.memory_bytes, " ".join((gpu.name, *gpu.products)))[0])


class _Same:
    """A cache key that is one object by identity (ModelFacts holds dicts, so it has no hash of its own); the
    cache keeps the object alive, so its id cannot be reused while the entry exists."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj


@functools.lru_cache(maxsize=1024)
def _stage_kv(f: _Same, layout: Layout, kv_dsz: float, layers: range, tokens: int) -> StageKV:
    """stage_kv, once per model x layout x stage: the search asks for the same stage on every GPU type."""
    assert isinstance(f.obj, ModelFacts)
    return stage_kv(f.obj, layout, kv_dsz, layers, max_num_batched_tokens=tokens)


@functools.lru_cache(maxsize=4096)
def _stage_overhead(f: _Same, layout: Layout, **kwargs: Any) -> Overhead:
    """overhead, once per model x layout x stage shape x GPU: re-evaluations of a layout (other max-num-seqs,
    context lengths) and GPU types of the same compute ask for the same one."""
    assert isinstance(f.obj, ModelFacts)
    return overhead(f.obj, layout, **kwargs)


def _evaluate(f: ModelFacts, parts: WeightParts, gpu: GpuType, layout: Layout, L: int, kv_dsz: float,
              recipe: eng.Recipe, req: PlanRequest, seqs: int | None = None) -> Evaluation:
    vision_replicated = "--mm-encoder-tp-mode" in recipe.extra_args
    w_stages = weights_per_gpu(parts, f, layout, vision_replicated,
                               expert_kernel_scale(f, gpu.compute, layout.tp, layout.ep))
    stages = stage_layers(f.num_layers, layout.pp)
    seqs_guess = seqs or req.max_num_seqs or _max_num_seqs(1 << 30, None, _batch_cap(req))
    tokens = _batched_tokens(req, gpu)
    version = eng.memory_model_version(recipe, req.engine)     # SGLang: the deliberate vLLM stand-in
    util = req.gpu_memory_utilization or DEFAULT_UTILIZATION
    cap = _sglang_cap(gpu, layout, req, f)
    capped = False
    alike: dict[tuple[int, bool, int], Overhead] = {}        # stages differ only in these three (most are alike)
    for s, rng in enumerate(stages):
        key = (len(rng), s == len(stages) - 1, w_stages[s])
        if key not in alike:
            alike[key] = _stage_overhead(_Same(f), layout, layers_on_stage=key[0], last_stage=key[1],
                                         weights_per_gpu=key[2], max_num_seqs=seqs_guess,
                                         max_num_batched_tokens=tokens, version=version, gpu_compute=gpu.compute,
                                         gpu_nvlink=gpu.nvlink)
    overheads = [alike[(len(rng), s == len(stages) - 1, w_stages[s])] for s, rng in enumerate(stages)]
    outside = max(o.outside_budget for o in overheads)
    in_budget = max(o.in_budget for o in overheads)
    if req.mem_fraction_static:                # SGLang's fraction as given: the utilisation it stands for
        util = req.mem_fraction_static + in_budget / gpu.memory_bytes
    if req.gpu_memory_utilization is None and not req.mem_fraction_static and gpu.memory_bytes * (1 - util) < outside:
        util = min(util, math.floor((1 - outside / gpu.memory_bytes) * 100) / 100)
    frac = planned = None
    startup = 0
    if req.engine == "sglang":
        # one --mem-fraction-static for every stage: the utilisation less the largest in-budget overhead, rounded
        # down to 0.01, never above SGLang's own default (cap) unless forced; the pool is what SGLang makes of it
        planned = req.mem_fraction_static or eng.mem_fraction_static(util, in_budget / gpu.memory_bytes)
        frac = planned if cap is None else min(planned, cap)
        startup = eng.sglang_startup_bytes(layout, gpu.compute, gpu.nvlink)
    worst: tuple[float, int, StageKV, int, int, int] | None = None
    state_blocks: int | None = None
    for s, rng in enumerate(stages):
        kv = _stage_kv(_Same(f), layout, kv_dsz, rng, tokens)
        avail = int(gpu.memory_bytes * util - w_stages[s] - overheads[s].in_budget)
        if frac is not None and planned is not None:
            avail = eng.sglang_pool_bytes(gpu.memory_bytes, frac, w_stages[s], startup)
            if frac < planned:             # the cap, not the weights, is what leaves too little
                capped = capped or eng.sglang_pool_bytes(gpu.memory_bytes, planned, w_stages[s], startup) > 0
        blocks = max(0, avail // kv.bytes_per_block)
        if kv.state_bytes_per_sequence:
            state_blocks = blocks if state_blocks is None else min(state_blocks, blocks)
        need = kv.blocks_for(L)
        conc = (blocks - 1) / need if need else 0.0
        cand = (conc, s, kv, avail, blocks, need)
        if worst is None or conc < worst[0]:
            worst = cand
    assert worst is not None, "a layout has at least one pipeline stage"
    conc, s, kv, avail, blocks, need = worst
    ov = overheads[s]
    kv_tokens = int(max(0.0, conc) * L)
    per_tok = kv.growing_bytes_per_token / layout.dcp
    slack = int(gpu.memory_bytes * (1 - util))
    # Hybrid (Mamba / linear-attention) models under vLLM: every running sequence keeps one state block of the
    # shared pool, and vLLM refuses to capture its CUDA graphs otherwise ("ValueError: max_num_seqs (256) exceeds
    # available Mamba cache blocks (184). Each decode sequence requires one Mamba cache block, so CUDA graph capture
    # cannot proceed"; the pool's blocks = KV memory // one block of every group, the block 0 is the null block).
    # SGLang sizes its Mamba pool apart from the KV pool and caps its running requests by it itself.
    seqs_cap = max(0, state_blocks - 1) if state_blocks is not None and req.engine == "vllm" else None
    # a forced --mem-fraction-static is the user's reserve, as SGLang takes it: the check is a warning then
    fits = (avail > 0 and blocks - 1 >= need and (slack >= outside or bool(req.mem_fraction_static))
            and (seqs_cap is None or seqs_guess <= seqs_cap))
    why = ""
    if avail <= 0 and w_stages[s] >= gpu.memory_bytes:
        # no utilisation in this sentence: the weights alone exceed the card (a layout's own utilisation may be
        # lowered below the plan's for its CUDA graphs, and quoting it beside the plan's read as a contradiction)
        why = f"weights {human(w_stages[s])} per GPU exceed the {human(gpu.memory_bytes)} of one {gpu.name}"
    elif avail <= 0 and frac is not None:
        why = (f"weights {human(w_stages[s])} per GPU fill SGLang's static share ({human(frac * (gpu.memory_bytes - startup))}"
               f" of the {human(gpu.memory_bytes)} less {human(startup)} in use at its start-up): no KV pool (SGLang: "
               f"\"Not enough memory\")")
    elif avail <= 0:
        why = (f"weights {human(w_stages[s])} + overhead {human(ov.in_budget)} per GPU exceed "
               f"{util:.2f} x {human(gpu.memory_bytes)}"
               + (f" (the utilisation lowered from {DEFAULT_UTILIZATION} so that the rest holds this layout's "
                  f"{human(outside)} outside it)" if util < DEFAULT_UTILIZATION and not req.gpu_memory_utilization
                  else ""))
    elif blocks - 1 < need:
        why = f"KV cache {human(max(avail, 0))} per GPU holds {kv_tokens} tokens, less than one request of {L}"
    elif seqs_cap is not None and seqs_guess > seqs_cap:
        why = (f"max-num-seqs {seqs_guess} exceeds the {seqs_cap} Mamba cache blocks the KV memory holds (vLLM "
               f"refuses to start: each running sequence of a hybrid model keeps one state block)")
    elif slack < outside and not req.mem_fraction_static:
        why = (f"(1 - {util:.2f}) x {human(gpu.memory_bytes)} = {human(slack)} cannot hold the {human(outside)} "
               + ("vLLM allocates outside --gpu-memory-utilization" if req.engine == "vllm" else
                  "SGLang allocates outside --mem-fraction-static")
               + (" (start-up baseline, CUDA graphs, sampler warm-up)" if not ov.graphs_in_budget
                  else " (start-up baseline, sampler warm-up)"))
    if why and capped:
        own = (f"--mem-fraction-static capped at SGLang's own default {cap:.2f} for --tp-size {layout.tp * layout.dp}"
               f"{f' --dp-size {layout.dp} with DP attention' if layout.dp > 1 else ''} on {gpu.name} (server_args.py"
               f"@v0.5.9); --gpu-memory-utilization overrides it")
        why = (f"{own}: it leaves no KV pool after the weights {human(w_stages[s])} per GPU" if avail <= 0
               else f"{why} ({own})")
    kv_dup = (layout.tp > layout.dcp) if f.uses_mla else (layout.tp > f.num_kv_heads * layout.dcp)
    ev = Evaluation(gpu=gpu, layout=layout, util=util, max_num_seqs=seqs_guess, weights_per_gpu=max(w_stages),
                    kv_bytes_per_token=per_tok, state_bytes_per_sequence=kv.state_bytes_per_sequence,
                    kv_cache_bytes=max(0, avail), kv_tokens=kv_tokens, concurrency=max(0.0, conc), fits=fits,
                    duplicated_kv=kv_dup, why=why, overhead_bytes=ov.in_budget, overhead=ov, available_bytes=avail,
                    sglang_cap=cap, sglang_fraction=frac, seqs_cap=seqs_cap)
    if seqs is None and not req.max_num_seqs:
        if not fits:
            # the sampler and the CUDA graphs grow with max-num-seqs: retry with the fewest the plan would choose,
            # unless the weights alone fill the budget (most layouts of a large model on small cards): then no
            # max-num-seqs can make room, and the retry would only repeat this answer
            if max(w_stages) >= gpu.memory_bytes * (req.gpu_memory_utilization or DEFAULT_UTILIZATION):
                return ev
            fewest = _evaluate(f, parts, gpu, layout, L, kv_dsz, recipe, req,
                               seqs=_max_num_seqs(0, None, _seqs_cap(req, ev)))
            if not fewest.fits:
                return ev
            ev = fewest
        ms = _max_num_seqs(ev.kv_tokens, None, _seqs_cap(req, ev))
        if ms != ev.max_num_seqs:
            again = _evaluate(f, parts, gpu, layout, L, kv_dsz, recipe, req, seqs=ms)
            if again.fits:
                return again
    return ev


def _preference(e: Evaluation, f: ModelFacts) -> tuple[bool, int, bool, int, int]:
    """Fits, then fewer GPUs, then no duplicated KV cache, then fewer pipeline stages, then more DCP.

    A duplicate counts only when TP could have stopped at the KV heads with TP >= 2: with one KV head (MLA, MQA)
    and no DCP, only TP 1 x PP N avoids it, giving up tensor and expert parallelism, so TP goes as far as valid
    (the recipes' TP 8 + EP for DeepSeek/Kimi) and PP only covers what TP cannot."""
    avoidable = e.duplicated_kv and (1 if f.uses_mla else f.num_kv_heads) > 1
    return (not e.fits, e.layout.gpus, avoidable, e.layout.pp, -e.layout.dcp)


def _closeness(e: Evaluation) -> tuple[int, int, float]:
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


def nodes_of(gpus: int, per_node: int) -> int:
    """Pods of one replica: one node when the GPUs fit in one, else whole nodes (multi-node counts are multiples)."""
    return 1 if gpus <= per_node else -(-gpus // per_node)


def _counts(gpu: GpuType, req: PlanRequest) -> tuple[tuple[int, ...], str]:
    """GPU counts to try on this type, fewest first: one node's counts, then 2..MAX_NODES whole nodes.
    ('' or why none is possible)."""
    per = gpu.per_node
    single = tuple(sorted({n for n in GPU_COUNTS if n <= per} | {per}))
    multi = tuple(k * per for k in range(2, MAX_NODES + 1))
    if req.nodes:
        base = single if req.nodes == 1 else (req.nodes * per,)
    else:
        base = single + multi
    if req.gpus:
        if req.gpus > per and req.gpus % per:
            return (), f"--gpus {req.gpus} spans nodes of {per} GPUs: use a multiple of {per}"
        if req.nodes and nodes_of(req.gpus, per) != req.nodes:
            return (), f"--gpus {req.gpus} is {nodes_of(req.gpus, per)} node(s) of {per} GPUs, not --nodes {req.nodes}"
        return (req.gpus,), ""
    dp = req.data_parallel or 1
    if req.tp and req.pp:
        want = req.tp * req.pp * dp
        if want > per and want % per:
            return (), f"TP {req.tp} x PP {req.pp} x DP {dp} = {want} GPUs is not whole nodes of {per} GPUs"
        return (want,), ""
    out = tuple(n for n in base if n % dp == 0 and (not req.tp or (n // dp) % req.tp == 0)
                and (not req.pp or (n // dp) % req.pp == 0))
    return out, "" if out else "no GPU count matches the forced --tp/--pp/--data-parallel/--nodes"


def _dp_layouts(f: ModelFacts, n: int, per: int, recipe: eng.Recipe, req: PlanRequest
                ) -> tuple[list[Layout], list[str]]:
    """DP attention + expert parallel: ``dp`` ranks of TP = n / dp each (no PP), experts sharded over all n GPUs."""
    dp = req.data_parallel or 1
    if not f.is_moe:
        return [], [f"--data-parallel shards experts: {f.model_id} is not a MoE model (use --replicas for copies)"]
    if n % dp:
        return [], [f"DP {dp} does not divide {n} GPUs"]
    tp = n // dp
    if req.tp and req.tp != tp or (req.pp or 1) != 1:
        return [], [f"DP {dp} on {n} GPUs means TP {tp} and no PP"]
    if n > per and per % tp:
        return [], [f"TP {tp} of a DP rank must stay within one node of {per} GPUs"]
    why, _ = _layout_problem(f, tp, 1, recipe, n)
    if why or (why := _ep_problem(f, n, req.engine)):
        return [], [why]
    return [Layout(tp=tp, pp=1, dcp=1, dp=dp, ep=True)], []


def _node_layouts(f: ModelFacts, n: int, per: int, recipe: eng.Recipe, req: PlanRequest
                  ) -> tuple[list[Layout], list[str]]:
    """Layouts of n GPUs on nodes of ``per``: across nodes TP stays within a node (NVLink) and PP spans them."""
    if req.data_parallel:
        return _dp_layouts(f, n, per, recipe, req)
    layouts, problems = _layouts(f, n, recipe, req)
    if n > per:
        inside = [lay for lay in layouts if per % lay.tp == 0]
        if layouts and not inside:
            problems.append(f"TP must stay within one node of {per} GPUs")

        def duplicates(lay: Layout) -> bool:
            return lay.tp > lay.dcp * (1 if f.uses_mla else f.num_kv_heads)
        # what the preference can pick: the largest TP, and the largest TP that keeps one KV copy (fewest PP
        # stages either way); smaller TPs only add pipeline stages (and search time, at 16-64 GPUs)
        keep = {max((lay.tp for lay in inside), default=0),
                max((lay.tp for lay in inside if not duplicates(lay)), default=0)}
        layouts = [lay for lay in inside if lay.tp in keep]
    return layouts, problems


def _search_gpu(f: ModelFacts, parts: WeightParts, gpu: GpuType, L: int, kv_dsz: float, recipe: eng.Recipe,
                req: PlanRequest) -> tuple[Evaluation | None, str, str]:
    """(best evaluation, why nothing fits, why one node is not enough when the answer spans nodes)."""
    counts, why_none = _counts(gpu, req)
    best: Evaluation | None = None
    last_why = why_none
    one_node_why = ""
    for n in counts:
        if n > gpu.per_node and not one_node_why:
            one_node_why = last_why
        layouts, problems = _node_layouts(f, n, gpu.per_node, recipe, req)
        if not layouts:
            last_why = f"{n} GPUs: " + ("; ".join(dict.fromkeys(problems)) or "no valid layout")
            continue
        evals = sorted((_evaluate(f, parts, gpu, lay, L, kv_dsz, recipe, req) for lay in layouts),
                       key=lambda e: _preference(e, f))
        top = replace(evals[0], layout_reason=_layout_reason(f, evals[0], evals, recipe, req)
                      if n <= gpu.per_node else "")       # across nodes: _explain_nodes says why TP x PP
        if top.fits:
            return top, "", one_node_why
        if best is None or _closeness(top) > _closeness(best):
            best = top
        last_why = f"{n} GPUs: {top.why}"
    return best, last_why or "no GPU count fits", ""


def _total(e: Evaluation) -> tuple[int, float]:
    """(KV tokens, full-length concurrency) of one replica: DP ranks each hold their own."""
    return e.kv_tokens * e.layout.dp, e.concurrency * e.layout.dp


def _compare_dp(f: ModelFacts, parts: WeightParts, best: Evaluation, L: int, kv_dsz: float, recipe: eng.Recipe,
                req: PlanRequest) -> list[str]:
    """DP attention + EP against the TP/PP layout on the same GPUs: which holds more KV tokens and concurrency."""
    if not f.is_moe or not best.fits:
        return []
    n, per = best.layout.gpus, best.gpu.per_node
    if req.data_parallel:
        plain = replace(req, data_parallel=None, tp=None, pp=None, dcp=None, gpus=n)
        layouts, _ = _node_layouts(f, n, per, recipe, plain)
        evals = sorted((_evaluate(f, parts, best.gpu, lay, L, kv_dsz, recipe, plain) for lay in layouts),
                       key=lambda e: _preference(e, f))
        dp_e, tp_e = best, (evals[0] if evals and evals[0].fits else None)
    else:
        if n < 2:
            return []
        layouts, _ = _dp_layouts(f, n, per, recipe, replace(req, data_parallel=n, tp=None, pp=None))
        if not layouts:
            return []
        dp_e, tp_e = _evaluate(f, parts, best.gpu, layouts[0], L, kv_dsz, recipe, req), best
        if not dp_e.fits:
            return []
    lay = dp_e.layout
    dp_tok, dp_conc = _total(dp_e)
    name = f"DP {lay.dp} x TP {lay.tp} + EP"
    if tp_e is None:
        return [f"{name}: {dp_tok} KV tokens, concurrency {dp_conc:.2f}; no TP/PP layout of {n} GPUs fits"]
    tl = tp_e.layout
    tp_name = f"TP {tl.tp}" + (f" x PP {tl.pp}" if tl.pp > 1 else "") + (f", DCP {tl.dcp}" if tl.dcp > 1 else "")
    tp_tok, tp_conc = _total(tp_e)
    why_dp = ("attention weights are replicated per DP rank (" + human(dp_e.weights_per_gpu) + " weights per GPU vs "
              + human(tp_e.weights_per_gpu) + "), each rank keeps the KV of its own requests"
              + (f" instead of the MLA latent copied on each of TP {tl.tp} ranks" if f.uses_mla and tp_e.duplicated_kv
                 else ""))
    verdict = "better" if dp_tok > tp_tok else "worse"
    line = (f"{name} vs {tp_name} on {n} GPUs: {dp_tok} vs {tp_tok} KV tokens, full-length concurrency "
            f"{dp_conc:.2f} vs {tp_conc:.2f}: DP + EP is {verdict} for this model ({why_dp})")
    if not req.data_parallel and dp_tok > tp_tok:
        line = f"worth trying: --data-parallel {lay.dp} (" + line + ")"
    return [line]


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


def make_plan(source: ModelSource, req: PlanRequest, site: Site | None = None, *, hints: bool = True) -> Plan:
    """Plan ``source`` for ``req`` on ``site`` (default: ``req.site``, else the shipped profile, NRP). ``hints``: a
    plan that does not fit plans the changes its hint would name and keeps those that fit (``Plan.hint``)."""
    site = site or req.site or default_site()
    if req.engine not in ("vllm", "sglang"):
        raise UsageError(f"unknown engine {req.engine!r}", "use --engine vllm or --engine sglang")
    if req.launcher is not None and req.launcher not in eng.LAUNCHERS:
        raise UsageError(f"unknown --launcher {req.launcher!r}", "use --launcher native or --launcher ray")
    if req.launcher == "ray" and req.engine == "sglang":
        raise UsageError("--launcher ray is for vLLM", "SGLang launches its nodes itself: drop --launcher")
    if req.engine == "sglang" and req.dcp and req.dcp > 1:
        raise UsageError(f"--dcp {req.dcp}: SGLang has no decode-context-parallel",
                         "drop --dcp, or plan with --engine vllm")
    if req.kv_cache_dtype not in KV_DTYPES:
        raise UsageError(f"unknown --kv-cache-dtype {req.kv_cache_dtype!r}", f"one of {', '.join(KV_DTYPES)}")
    if req.gpu_type and req.gpu_memory_bytes is not None:
        raise UsageError("--gpu and --gpu-memory are exclusive", "--gpu names a known type; --gpu-memory any other")
    if req.gpu_memory_bytes is not None and req.gpu_memory_bytes < GiB:
        raise UsageError(f"--gpu-memory of {req.gpu_memory_bytes} bytes is not a GPU size",
                         "give the card's memory, e.g. --gpu-memory 80GiB")
    for flag, v in (("--gpus", req.gpus), ("--tp", req.tp), ("--pp", req.pp), ("--dcp", req.dcp),
                    ("--nodes", req.nodes), ("--replicas", req.replicas), ("--data-parallel", req.data_parallel)):
        if v is not None and v < 1:
            raise UsageError(f"{flag} must be at least 1")
    if req.data_parallel and (req.pp and req.pp > 1 or req.dcp and req.dcp > 1):
        raise UsageError("--data-parallel plans DP ranks of TP only", "drop --pp/--dcp with --data-parallel")
    if req.gpus and req.data_parallel and req.gpus % req.data_parallel:
        raise UsageError(f"--data-parallel {req.data_parallel} does not divide --gpus {req.gpus}",
                         "each DP rank gets the same number of GPUs: drop --gpus, or give a multiple of "
                         f"{req.data_parallel}")
    if req.gpus and req.data_parallel and req.tp and req.tp * req.data_parallel != req.gpus:
        raise UsageError(f"--data-parallel {req.data_parallel} x --tp {req.tp} = {req.data_parallel * req.tp} GPUs, "
                         f"not --gpus {req.gpus}", "each DP rank is TP GPUs: drop --gpus or --tp")
    if req.gpus and req.tp and req.pp and req.tp * req.pp * (req.data_parallel or 1) != req.gpus:
        raise UsageError(f"--tp {req.tp} x --pp {req.pp} = {req.tp * req.pp}, not --gpus {req.gpus}",
                         "TP x PP is the GPU count: drop one of --gpus/--tp/--pp")
    if req.gpus and req.tp and req.gpus % req.tp:
        raise UsageError(f"--tp {req.tp} does not divide --gpus {req.gpus}",
                         f"the GPUs are TP x PP: give --gpus a multiple of {req.tp}, or drop --tp")
    if req.dcp and req.tp and req.tp % req.dcp:
        raise UsageError(f"--dcp {req.dcp} must divide --tp {req.tp}",
                         "each DCP group is a share of the TP ranks: pick a divisor of --tp")
    if req.gpu_memory_utilization is not None and not (0.1 <= req.gpu_memory_utilization <= 0.99):
        raise UsageError("--gpu-memory-utilization must be between 0.1 and 0.99")
    cap = _batch_cap(req)
    if cap and req.max_num_seqs and req.max_num_seqs > cap:
        raise UsageError(f"--max-num-batched-tokens {cap} is below --max-num-seqs {req.max_num_seqs}: vLLM refuses "
                         f"to start (max_num_batched_tokens must be >= max_num_seqs, each sequence takes a token "
                         f"a step)", f"raise --max-num-batched-tokens to {req.max_num_seqs} or more, or lower "
                         f"--max-num-seqs to {cap}")
    if req.mem_fraction_static is not None:
        if req.engine != "sglang":
            raise UsageError("--mem-fraction-static is SGLang's flag", "with vLLM give --gpu-memory-utilization, or "
                             "add --engine sglang")
        if req.gpu_memory_utilization is not None:
            raise UsageError("--mem-fraction-static and --gpu-memory-utilization are mutually exclusive",
                             "--mem-fraction-static is SGLang's weights + KV pool share; give one of them")
        if not 0.1 <= req.mem_fraction_static <= 0.99:
            raise UsageError("--mem-fraction-static must be between 0.1 and 0.99")
    apply_engine_args([], req.engine_args)      # a flag the plan decides is a usage error before any planning

    checked = validate_config(source.config, source.model_id)      # the estimator reads the same checked config
    source = replace(source, config=checked.config)
    f = from_config(source.config, source.model_id)
    if req.data_parallel and req.data_parallel > 1 and not f.is_moe:
        raise UsageError(f"--data-parallel shards experts: {f.model_id} is not a MoE model",
                         f"use --replicas {req.data_parallel} for independent copies behind the same route")
    chosen = parsers.choose(eng.find_recipe(f), f.model_id, f.architecture, source.chat_template,
                            source.chat_template_source, req.engine,
                            chat_template_given=any(flag_key(a) == "--chat-template" for a in req.engine_args))
    recipe = chosen.recipe
    why_not, hint = eng.engine_cannot_serve(recipe, req.engine)      # a class no release of the engine loads
    if why_not:
        raise PlanError(why_not, hint)
    f = eng.engine_facts(f, recipe, req.engine)       # SGLang without hybrid SWA memory: full-length KV on every layer
    if req.tp and _layout_problem(f, req.tp, 1, recipe, req.tp)[0]:
        # a TP the model's heads refuse is so on every GPU type and count: one usage error, not one line per type
        valid = [str(t) for t in range(1, 65) if not _layout_problem(f, t, 1, recipe, t)[0]]
        raise UsageError(f"--tp {req.tp} for {f.model_id}: {_layout_problem(f, req.tp, 1, recipe, req.tp)[0]}",
                         f"use --tp {', '.join(valid)}" if valid else "drop --tp")
    total, loaded, wsrc, parts, wnotes, wwarnings = _weights(source, f)
    rope = recipe.rope or {}
    rope_original = rope.get("original") if (not rope.get("when_native")
                                             or rope.get("when_native") == f.native_context) else None
    ctx = decide_context(f, context=req.context, max_model_len=req.max_model_len, rope_method=rope.get("method"),
                         rope_original=rope_original, yarn_supported=recipe.yarn, rope_factor=rope.get("factor"),
                         rope_max_context=rope.get("max_context"),
                         rescale_existing=bool(rope.get("rescale_existing")), engine=req.engine)
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
    one_node: dict[str, str] = {}
    for g in gpus:
        cannot = eng.gpu_cannot_run(f, g.compute, req.engine)
        if cannot:
            outcomes[g.name] = cannot
            continue
        e, why, one_node[g.name] = _search_gpu(f, parts, g, L, kv_dsz, recipe, req)
        if e and e.fits:
            fitting.append(e)
            k = nodes_of(e.layout.gpus, g.per_node)
            outcomes[g.name] = f"fits on {e.layout.gpus} GPU(s)" + (f" = {k} nodes x {g.per_node}" if k > 1 else "")
        else:
            outcomes[g.name] = why
            if e and (closest is None or _closeness(e) > _closeness(closest)):
                closest = e
    best: Evaluation | None
    if fitting:
        best = min(fitting, key=lambda e: (nodes_of(e.layout.gpus, e.gpu.per_node), e.layout.gpus * e.gpu.memory_mib,
                                           e.layout.gpus))
    else:
        best = closest
    if best is None:
        forced = [f"--{flag}" for flag, v in (("gpus", req.gpus), ("tp", req.tp), ("pp", req.pp), ("dcp", req.dcp),
                                               ("nodes", req.nodes), ("data-parallel", req.data_parallel))
                  if v is not None]
        alike: dict[str, list[str]] = {}                # types that failed for the same reason, named once
        for gname, outcome in outcomes.items():
            alike.setdefault(outcome, []).append(gname)
        detail = "; ".join(f"{', '.join(names)}: {outcome}" for outcome, names in alike.items())
        if all(eng.gpu_cannot_run(f, g.compute, req.engine) for g in gpus):
            able = [g.name for g in site.gpu_catalog if not eng.gpu_cannot_run(f, g.compute, req.engine)]
            raise PlanError(f"{f.model_id} cannot run on {detail}",
                            f"pick a GPU that can: --gpu {' or --gpu '.join(able)}" if able else
                            "no catalog GPU type can run this checkpoint; pass --gpu-memory SIZE for such a card")
        raise PlanError(f"no valid layout for {f.model_id}: {detail}",
                        f"drop or change {'/'.join(forced)}" if forced else "try another --gpu type")

    name = sizing.check_name(req.name) if req.name else sizing.default_name(f.model_id)
    one_node_why = one_node.get(best.gpu.name, "") if best.fits else ""
    reasons: list[str] = []
    warnings: list[str] = list(source.warnings) + list(checked.warnings) + list(ctx.warnings)
    _explain(reasons, warnings, f, best, req, recipe, ctx, kv_name, total, wsrc, wnotes, len(gpus) > 1, chosen)
    warnings.extend(wwarnings)
    warnings.extend(_cuda_image_on_other_card(best.gpu, req.engine, recipe))
    reasons.extend(_explain_nodes(best, req, total, one_node_why))
    store = weights_storage(site, replicas=req.replicas, nodes=nodes_of(best.layout.gpus, best.gpu.per_node),
                            size=sizing.storage(total), weights=human(total), access_mode=req.storage_access_mode,
                            storage_class=req.storage_class, existing_claim=req.existing_claim)
    if store.reason:
        reasons.append(store.reason)
    reasons.extend(_compare_dp(f, parts, best, L, kv_dsz, recipe, req))
    settings = eng.EngineSettings(
        engine=req.engine, model_id=f.model_id, served_name=f.model_id, tp=best.layout.tp, pp=best.layout.pp,
        dcp=best.layout.dcp, dp=best.layout.dp, ep=best.layout.ep, max_model_len=L,
        max_num_seqs=best.max_num_seqs, gpu_memory_utilization=best.util, hf_overrides=ctx.hf_overrides,
        kv_cache_dtype=req.kv_cache_dtype, recipe=recipe, revision=req.revision,
        max_num_batched_tokens=req.max_num_batched_tokens or _raised_batch(req, best.gpu),
        mem_fraction=_sglang_fraction(best) if req.engine == "sglang" else None)
    args = eng.vllm_args(settings) if req.engine == "vllm" else eng.sglang_args(settings)
    if req.engine == "sglang" and settings.mem_fraction is None:    # does not fit: no fraction is meaningful
        i = args.index("--mem-fraction-static")
        del args[i:i + 2]
    if req.engine_args:      # the admin's own flags after the planned ones (a flag the plan sizes is refused)
        args, extra_reasons, extra_warnings = apply_engine_args(args, req.engine_args)
        reasons.extend(extra_reasons)
        warnings.extend(extra_warnings)
    group = eng.GroupLaunch((), tuple(args), (), ())
    launcher = ""
    nodes = nodes_of(best.layout.gpus, best.gpu.per_node)
    if nodes > 1:
        launcher, group = _launch_group(reasons, warnings, settings, args, nodes, req, recipe)
    elif req.launcher:
        warnings.append(f"--launcher {req.launcher} is ignored: the plan fits one node ({best.layout.gpus} x "
                        f"{best.gpu.name}), a single pod starts no multi-node launch")
    fitting_len = None if best.fits else _max_context(f, parts, best, kv_dsz, recipe, req, L)
    if fitting_len:     # more GPUs only where the plan is below the most one copy may have (MAX_NODES nodes)
        more = ("; more GPUs keep the full context" if best.layout.gpus < MAX_NODES * best.gpu.per_node else
                f" ({best.layout.gpus} GPUs = {MAX_NODES} nodes, the most kubectl llm plans)")
        reasons.append(f"on {best.layout.gpus} x {best.gpu.name} at most {fitting_len} tokens fit (--max-model-len "
                       f"{fitting_len}){more}")
    plan = Plan(facts=f, source=source, request=req, weight_bytes=total, weight_bytes_source=wsrc, context=ctx,
                recipe=recipe, best=best, per_gpu_type=tuple(outcomes.items()), kv_dtype=kv_name,
                gpu_named=bool(req.gpu_type), site=site, name=name, one_node_why=one_node_why,
                resources=_resources(f, best, total, req.engine, site, bool(req.gpu_type), recipe),
                reasons=tuple(reasons), warnings=tuple(warnings), args=group.leader_args,
                worker_args=group.worker_args, command=group.leader_command, worker_command=group.worker_command,
                launcher=launcher, env=tuple(eng.engine_env(req.engine, ctx.extended)),
                max_context_that_fits=fitting_len, storage=store)
    if plan.fits or not hints:
        return plan
    return replace(plan, hint=_checked_hint(plan, source, req, site))


def _checked_hint(plan: Plan, source: ModelSource, req: PlanRequest, site: Site) -> str:
    """The hint of a plan that does not fit: each change it could name is planned, and only those that fit are
    named (of a group, such as the larger GPU types, the first that fits); changes the planner cannot replay
    (another checkpoint) stay. When none fits, the hint says what was tried and what is left."""
    head, tips = plan.hint_candidates()
    if not head:
        return ""
    kept: list[str] = []
    groups: set[str] = set()
    tried: list[str] = []
    for text, change, group in tips:
        if group and group in groups:
            continue
        if change is None:
            kept.append(text)
            continue
        try:
            fits = make_plan(source, replace(req, **change), site, hints=False).fits
        except LlmError:
            fits = False
        if fits:
            kept.append(text)
            if group:
                groups.add(group)
        elif not group:
            tried.append(text)
    if kept:
        return head + "try " + ", or ".join(kept)
    b = plan.best
    assert b is not None
    gone = f" ({'; '.join(tried)} would not fit either)" if tried else ""
    return (head + f"no change kubectl llm can plan on {b.gpu.name} makes it fit{gone}: try another --gpu, a card "
            f"with more memory (--gpu-memory SIZE), or a smaller / quantized checkpoint of the model")


def _cuda_image_on_other_card(gpu: GpuType, engine: str, recipe: eng.Recipe) -> list[str]:
    """A card outside nvidia.com/* (amd.com/gpu, habana.ai/gaudi, ...) whose site entry names no image of this
    engine gets the engine's default image, a CUDA build: say so rather than render a pod that cannot start."""
    if gpu.resource.startswith(NVIDIA_PREFIX) or gpu.image_for(engine):
        return []
    name = "SGLang" if engine == "sglang" else "vLLM"
    return [f"{gpu.name} requests {gpu.resource} but the site names no {name} image for it (gpus[].images.{engine} "
            f"of the site file): the pod runs {eng.engine_image(recipe, engine)}, a CUDA build that needs NVIDIA "
            f"GPUs; give the card's own {name} build there"]


def _explain(r: list[str], w: list[str], f: ModelFacts, b: Evaluation, req: PlanRequest, recipe: eng.Recipe,
             ctx: ContextDecision, kv_dtype: str, weight_bytes: int, weight_source: str, wnotes: list[str],
             chose_type: bool, chosen: parsers.ParserChoice | None = None) -> None:
    """Append the plan's reasons to ``r`` and its warnings to ``w``, in the order the text prints them."""
    r.append(f"weights {human(weight_bytes)}: {weight_source}")
    r.extend(wnotes)
    r.extend(ctx.reasons)
    if f.uses_mla:
        r.append(f"MLA: one latent KV head of {f.head_dim} values per layer, replicated on every TP rank")
    if f.index_head_dim:
        r.append(f"DSA sparse attention: each layer also caches the lightning indexer's K, {f.index_head_dim} FP8 "
                 f"values + one fp32 scale per 128 = {indexer_bytes_per_token(f)} B per token, replicated on every "
                 f"TP rank" + (" (vLLM DeepseekV32IndexerCache)" if req.engine == "vllm" else ""))
    kinds = {k: f.count(k) for k in set(f.layer_kinds)}
    if f.is_hybrid:
        r.append("layers: " + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) +
                 " (only full/MLA layers grow with the context)")
    r.append(f"KV cache dtype {kv_dtype}" + (" (auto = activation dtype, also for FP8 weights)"
                                                   if req.kv_cache_dtype == "auto" and not f.quant.kv_cache_dtype
                                                   else ""))
    lay = b.layout
    scale = expert_kernel_scale(f, b.gpu.compute, lay.tp, lay.ep)
    if scale != 1.0:
        r.append(f"MXFP4 experts held {scale:.3f}x their checkpoint size on {b.gpu.name}: below Blackwell vLLM "
                 f"runs them through Marlin (or, on Hopper, Triton kernels of nearly the same size); Marlin pads "
                 f"hidden to a multiple of 256 and the per-GPU intermediate to 128" if req.engine == "vllm" else
                 f"MXFP4 experts held {scale:.3f}x their checkpoint size on {b.gpu.name}: below Blackwell the MoE "
                 f"kernels pad hidden to a multiple of 256 and the per-GPU intermediate to 128, and the plan holds "
                 f"SGLang's experts at that padded size too")
    if chose_type and b.fits:
        r.append(f"GPU type {b.gpu.name}: the least GPU memory reserved among the catalog types that fit "
                 f"({lay.gpus} x {human(b.gpu.memory_bytes)})")
    forced = _forced_count(req)
    r.append(f"{lay.gpus} GPU(s): {forced}, holding {human(b.weights_per_gpu)} weights per GPU + one "
             f"{ctx.max_model_len}-token request + {human(b.overhead_bytes)} overhead" if b.fits and forced else
             f"{lay.gpus} GPU(s): the fewest that hold {human(b.weights_per_gpu)} weights per GPU + one "
             f"{ctx.max_model_len}-token request + {human(b.overhead_bytes)} overhead"
             if b.fits else f"{lay.gpus} GPU(s) tried: {b.why}")
    kv = 1 if f.uses_mla else f.num_kv_heads
    if lay.dcp > 1:
        r.append(f"decode-context-parallel {lay.dcp}: TP {lay.tp} exceeds {kv} KV head(s); DCP x KV heads = TP, so "
                 f"each rank stores 1/{lay.dcp} of the tokens instead of a duplicate")
    if b.layout_reason:
        r.append(b.layout_reason)
    if b.duplicated_kv:
        dup = lay.tp // (kv * lay.dcp)
        if kv == 1:
            no_dcp = ("SGLang has no decode-context-parallel" if req.engine == "sglang" else
                      "--dcp 1 was asked for" if req.dcp == 1 else
                      "vLLM's sparse-MLA backend (DSA) has no decode-context-parallel" if f.index_head_dim else
                      "no decode-context-parallel here")
            w.append(f"TP {lay.tp} > 1 KV head ({'MLA latent' if f.uses_mla else 'MQA'}) and {no_dcp}: "
                                 f"the KV cache is duplicated {dup}x on every TP rank "
                                 + (f"(--data-parallel {lay.gpus}, TP 1 per DP rank, would avoid it)" if lay.dp > 1
                                    else f"(TP 1 x PP {lay.gpus} would avoid it at the cost of tensor and expert "
                                         f"parallelism)"))
        else:
            w.append(f"TP {lay.tp} > {kv} KV heads: the KV cache is duplicated {dup}x")
    if lay.ep:
        r.append("expert parallel: " + (f"--data-parallel {lay.dp} shards the experts over all {lay.gpus} GPUs"
                                        if lay.dp > 1 else
                                        "the recipe asks for it" if recipe.expert_parallel in ("always", "above_4")
                                        else "TP alone would split experts below the FP8 block size"))
    if chosen is not None:                           # parsers, their source, and the engine version they need
        r.extend(chosen.reasons)
        w.extend(chosen.warnings)
    for s in recipe.suggest:
        r.append(f"worth trying: {s}")
    if req.engine == "sglang":
        seqs = (f"max-running-requests {eng.sglang_max_running_requests(b.max_num_seqs, lay.dp)} = "
                f"{b.max_num_seqs} per DP rank x {lay.dp} (with DP attention SGLang divides it among the ranks)"
                if lay.dp > 1 else f"max-running-requests {b.max_num_seqs}")
        given = "--max-num-seqs"        # kubectl llm's flag (sequences per DP rank) for both engines
    else:
        seqs = f"max-num-seqs {b.max_num_seqs}" + (" per DP rank" if lay.dp > 1 else "")
        given = "--max-num-seqs"
    rank = " of a DP rank" if lay.dp > 1 else ""
    cap = _batch_cap(req)
    r.append(f"{seqs}: set by {given} ({b.kv_tokens} KV tokens{rank}, ~{b.kv_tokens // b.max_num_seqs} a sequence)"
             if req.max_num_seqs else
             f"{seqs}: room for ~2K-token sequences in {b.kv_tokens} KV tokens{rank} (cap "
             + (f"{b.seqs_cap}: the Mamba cache blocks, one per running sequence; vLLM refuses more)"
                if b.seqs_cap is not None and b.seqs_cap < min(256, cap or 256) else
                f"{cap}: vLLM needs max-num-batched-tokens >= max-num-seqs)" if cap and cap < 256 else "256)"))
    if raised := _raised_batch(req, b.gpu):
        default = engine_batch_defaults(b.gpu.memory_bytes, " ".join((b.gpu.name, *b.gpu.products)))[0]
        r.append(f"max-num-batched-tokens {raised}: raised to --max-num-seqs, above vLLM's default of {default} on "
                 f"{b.gpu.name} (vLLM refuses max_num_batched_tokens < max_num_seqs: each sequence takes a token a "
                 f"step)")
    if b.overhead:
        o = b.overhead
        version = ".".join(map(str, eng.engine_version(recipe, req.engine)))
        if req.engine == "sglang":
            frac, standin = _sglang_fraction(b), eng.version_text(eng.SGLANG_MEMORY_STANDIN)
            startup = eng.sglang_startup_bytes(lay, b.gpu.compute, b.gpu.nvlink)
            r.append(f"memory model: SGLang {version} is sized with the planner's accounting (activation peak, CUDA "
                     f"graphs, margin; calibrated on vLLM start-up logs: the terms of release {standin} stand in); the KV pool is "
                     f"SGLang's own formula, fraction x (memory - {human(startup)} in use at its start-up) - weights, "
                     f"checked on SGLang start-up logs (tests/data/sglang_observed.yaml)" + (
                         f"; --mem-fraction-static {frac:.2f} holds the weights and the KV pool, the other "
                         f"{1 - frac:.2f} x memory the activations and CUDA graphs" if frac is not None else
                         "; no --mem-fraction-static: the layout does not fit")
                     + (f"; capped at SGLang's own default {b.sglang_cap:.2f} for {b.gpu.name} at --tp-size "
                        f"{lay.tp * lay.dp} (server_args.py _handle_gpu_memory_settings)"
                        if frac is not None and b.sglang_cap is not None and frac >= b.sglang_cap else ""))
        else:
            r.append(f"memory model of vLLM {version}: "
                     + ("CUDA graphs are subtracted before the KV cache (>= 0.21)" if o.graphs_in_budget else
                        f"CUDA graphs (~{human(o.cudagraphs)}) live outside --gpu-memory-utilization (< 0.21)")
                     + f"; outside it too: the start-up baseline (~{human(o.startup_baseline)}: CUDA context"
                     + (", communication buffers" if o.startup_baseline > CONTEXT_BASELINE_BYTES else "")
                     + f") and the sampler warm-up after the graphs (~{human(o.sampler_warmup)})"
                     + (f", the MXFP4 re-layout's cache holes (~{human(o.repack_holes)})" if o.repack_holes else "")
                     + ", "
                     f"so (1 - utilisation) x memory must hold ~{human(o.outside_budget)}"
                     + (f" (the utilisation is lowered to {b.util:.2f} for it)"
                        if not req.gpu_memory_utilization and b.util < DEFAULT_UTILIZATION else "")
                     + f"; profile run of {o.tokens} tokens (vLLM's max-num-batched-tokens on {b.gpu.name})")
        w.extend(o.notes)
    if b.gpu.compute and f.quant.method == "fp8" and not b.gpu.native_fp8:
        # SGLang does the same: Fp8LinearMethod turns on weight-only Marlin when can_auto_enable_marlin_fp8()
        # (sgl-project/sglang python/sglang/srt/layers/quantization/fp8.py)
        w.append(f"{b.gpu.name} (compute {b.gpu.compute}) has no native FP8: "
                 f"{'vLLM' if req.engine == 'vllm' else 'SGLang'} runs the FP8 weights through Marlin weight-only "
                 f"kernels (works, slower prefill)")
    rule = eng.checkpoint_gpus(f)
    if rule and not b.gpu.compute:
        w.append(f"{str(eng.checkpoint_format(f)).upper()} checkpoint on a --gpu-memory card of unknown "
                             f"compute capability: the recipes list {rule['needs']}; make sure it is one")
    sg = eng.sglang_gpus(f) if req.engine == "sglang" else {}
    if sg and not b.gpu.compute:
        w.append(f"SGLang on a --gpu-memory card of unknown compute capability: {' '.join(str(sg['why']).split())}; "
                 f"make sure it is below compute {sg['below_compute']}")
    if req.mem_fraction_static and b.overhead is not None:
        reserve = int(b.gpu.memory_bytes * (1 - req.mem_fraction_static))
        need = b.overhead_bytes + b.overhead.outside_budget
        if reserve < need:
            w.append(f"--mem-fraction-static {req.mem_fraction_static:.2f} leaves {human(reserve)} per GPU outside "
                     f"SGLang's static pool, less than the {human(need)} the plan estimates for activations, CUDA "
                     f"graphs and buffers (terms calibrated on vLLM start-up logs; SGLang's own need may be lower): SGLang may run "
                     f"out of memory under load; a lower fraction, or drop it and let the plan size it")
    if not b.fits:
        w.append("the plan does not fit: see 'per GPU type'")


def _launch_group(r: list[str], w: list[str], settings: eng.EngineSettings, args: list[str], nodes: int,
                  req: PlanRequest, recipe: eng.Recipe) -> tuple[str, eng.GroupLaunch]:
    """(launcher, the leader's and workers' command and args) of a multi-node plan; why this launcher goes to
    ``r``, its caveats to ``w``."""
    version = eng.engine_version(recipe, req.engine)
    launcher = req.launcher or eng.default_launcher(req.engine, version)
    group = eng.group_launch(settings, args, nodes, launcher)
    if req.engine == "sglang":
        return launcher, group
    v, native = eng.version_text(version), eng.version_text(eng.VLLM_NATIVE_MULTINODE)
    local = settings.dp // nodes
    if launcher == "ray":
        r.append(f"launcher ray (the official LeaderWorkerSet vLLM example): the leader starts the Ray head on port "
                 f"{eng.RAY_PORT} and waits for {nodes} nodes, each worker joins it (ray start --block), vLLM runs "
                 f"its ranks through Ray" + ("" if req.launcher else
                                              f" (vLLM {v} has no native multi-node launch; it came in {native})"))
        if version >= eng.VLLM_RAY_DROPPED:
            w.append(f"--launcher ray: the vLLM image no longer depends on Ray from "
                     f"{eng.version_text(eng.VLLM_RAY_DROPPED)} on and this plan pins {v}; use an image with Ray "
                     f"installed, or --launcher native")
    elif settings.dp > 1:
        r.append(f"launcher native (vLLM {v}): {local} DP ranks per node, --data-parallel-address at the leader; "
                 f"each worker runs --headless with --data-parallel-start-rank = worker index x {local}")
    else:
        r.append(f"launcher native (vLLM {v} >= {native}): --nnodes {nodes} --node-rank R --master-addr <leader>, "
                 f"workers --headless; no Ray (--launcher ray for the Ray head/worker launch)")
    return launcher, group


def _sglang_cap(gpu: GpuType, layout: Layout, req: PlanRequest, f: ModelFacts) -> float | None:
    """SGLang's own default --mem-fraction-static for this card and layout (engine.sglang_default_mem_fraction),
    rounded down to the 0.01 SGLang is given: the plan's upper bound unless --gpu-memory-utilization forces it."""
    if req.engine != "sglang" or req.gpu_memory_utilization or req.mem_fraction_static:
        return None
    tp_size = layout.tp * layout.dp                    # the --tp-size an SGLang plan passes (DP attention inside)
    v = f.checkpoint.vision if f.checkpoint is not None and f.multimodal else None
    vision = (v.num_hidden_layers, v.hidden_size) if v is not None else None      # SGLang's VLM reduction
    own = eng.sglang_default_mem_fraction(gpu.memory_mib, tp_size, layout.pp, layout.dp, layout.dp > 1,
                                          req.max_num_batched_tokens, vision=vision)
    return math.floor(round(own * 100, 6)) / 100


def _planned_fraction(b: Evaluation) -> float:
    """SGLang's --mem-fraction-static: the weights + KV the plan sized, i.e. the utilisation less the plan's
    in-budget overhead, which SGLang keeps outside its static pool, and never above SGLang's own default
    (``sglang_cap``) unless --gpu-memory-utilization forces it."""
    if b.sglang_fraction is not None:
        return b.sglang_fraction
    planned = eng.mem_fraction_static(b.util, b.overhead_bytes / b.gpu.memory_bytes)
    return planned if b.sglang_cap is None else min(planned, b.sglang_cap)


def _sglang_fraction(b: Evaluation) -> float | None:
    """The --mem-fraction-static a plan shows and passes: None when the layout does not fit (weights + overhead
    exceed the card, so any fraction, even a negative one, would be meaningless)."""
    frac = _planned_fraction(b)
    return frac if b.fits and frac > 0 else None


def _fraction_text(frac: float | None) -> str:
    return f"mem-fraction-static {frac:.2f}" if frac is not None else "mem-fraction-static none (does not fit)"


def _forced_count(req: PlanRequest) -> str:
    """The flags that set the GPU count ('' when the planner chose the fewest)."""
    flags = [f"--{k} {v}" for k, v in (("gpus", req.gpus), ("nodes", req.nodes), ("data-parallel", req.data_parallel))
             if v]
    return "set by " + " ".join(flags) if flags else ""


def _explain_nodes(b: Evaluation, req: PlanRequest, weight_bytes: int, one_node_why: str) -> list[str]:
    """Why one node is not enough, how the nodes are used, and the replicas."""
    r: list[str] = []
    lay, per = b.layout, b.gpu.per_node
    nodes = nodes_of(lay.gpus, per)
    if nodes > 1:
        if one_node_why:
            r.append(f"one node ({per} x {b.gpu.name}) is not enough: {one_node_why}")
        if lay.dp > 1:
            r.append(f"{nodes} nodes x {per} GPUs: {lay.dp} DP ranks of TP {lay.tp}, experts sharded over all "
                     f"{lay.gpus} GPUs; one LeaderWorkerSet group of {nodes} pods")
        elif lay.tp < per:
            r.append(f"{nodes} nodes x {per} GPUs: TP {lay.tp} x PP {lay.pp}, the pipeline stages run within and "
                     f"across the nodes ({per // lay.tp} stages a node); one LeaderWorkerSet group of {nodes} pods")
        else:
            link = "NVLink" if b.gpu.nvlink else f"PCIe: {b.gpu.name} has no NVLink"
            r.append(f"{nodes} nodes x {per} GPUs: TP {lay.tp} within each node ({link}), PP {lay.pp} across "
                     f"nodes (the handbook: pipeline parallelism is the recommended and default way to shard models "
                     f"across multiple nodes); one LeaderWorkerSet group of {nodes} pods")
        r.append(f"per pod: {lay.gpus // nodes} GPUs, cpu/RAM/shm sized for its node, its own weights PVC "
                 f"({sizing.storage(weight_bytes)})")
    if req.replicas > 1:
        r.append(f"{req.replicas} replicas behind one Service and route, each planned alike "
                 f"({lay.gpus} GPUs each, {lay.gpus * req.replicas} in all)")
    return r
