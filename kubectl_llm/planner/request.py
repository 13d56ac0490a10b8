"""What the user asks the planner for (the CLI's plan options, already parsed). Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubectl_llm.planner.site import Site


@dataclass(frozen=True)
class PlanRequest:
    gpu_type: str | None = None            # catalog key, e.g. "A100-80GB"; None = try the catalog's types
    gpu_memory_bytes: int | None = None    # --gpu-memory for a card not in the catalog (bytes)
    gpus: int | None = None                # forced GPU count
    tp: int | None = None                  # forced tensor parallel size
    pp: int | None = None                  # forced pipeline parallel size
    dcp: int | None = None                 # forced decode-context-parallel size
    context: int | None = None             # --context: target context, may exceed native (adds RoPE override)
    max_model_len: int | None = None       # --max-model-len: cap without RoPE override (must be <= native)
    gpu_memory_utilization: float | None = None
    mem_fraction_static: float | None = None   # SGLang --mem-fraction-static as given (weights + KV pool; no cap)
    kv_cache_dtype: str = "auto"           # auto | bfloat16 | float16 | fp8 | fp8_e4m3 | fp8_e5m2
    engine: str = "vllm"                   # vllm | sglang
    name: str | None = None                # release / route name; default derived from the model id
    max_num_seqs: int | None = None
    revision: str | None = None            # --revision: HF branch/tag/commit the engine must load (pinned in its args)
    max_num_batched_tokens: int | None = None   # None = vLLM's default for the card (memory.engine_batch_defaults)
    nodes: int | None = None               # forced node count (None = one node when it fits, else the fewest)
    replicas: int = 1                      # copies behind the same Service/route; each is planned alike
    data_parallel: int | None = None       # DP attention ranks + expert parallel (MoE only)
    launcher: str | None = None            # multi-node vLLM: native | ray (None = native when the version has it)
    engine_args: tuple[str, ...] = ()      # --engine-arg: argv tokens after the planned ones (engine_args.py)
    # The admin's own storage.* overrides (-f/--set), which decide with --replicas where the weights live
    # (planner/storage.py): storage.accessMode, storage.storageClass (None: not given), storage.existingClaim.
    storage_access_mode: str | None = None
    storage_class: str | None = None
    existing_claim: bool = False
    # The cluster the plan is for (storage/priority class, tolerations, GPU types, gateway ...); None = the site
    # profile shipped in the package (NRP). The CLI always passes the one in effect (adapters/site.py).
    site: Site | None = field(default=None, compare=False)
