"""From CLI options to a plan and chart values: the glue between click and the pure planner.

Why a module of its own: `plan`, `add` and `upgrade` all build the same PlanRequest, check the same flag
conflicts and the same release name, and `add`/`upgrade` both merge user overrides and warn when they break the
fit. Planner, Hub adapter and values builder are imported lazily so `--help` stays fast.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from kubectl_llm.errors import DoesNotFit, InvalidName, LlmError, UsageError
from kubectl_llm.planner.request import PlanRequest

# Helm caps release names at 53 characters; the name is also the route and a DNS-1123 label.
MAX_NAME = 53
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def validate_name(name: str) -> str:
    """The release / route name must be a DNS-1123 label of at most 53 characters (Helm's limit)."""
    if len(name) > MAX_NAME:
        raise InvalidName(f"name {name!r} is {len(name)} characters long; Helm allows at most {MAX_NAME}",
                          "pass a shorter --name, e.g. qwen3-8b")
    if not _DNS_LABEL.match(name):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:MAX_NAME].strip("-") or "my-model"
        raise InvalidName(f"name {name!r} is not a DNS-1123 label (lower-case letters, digits and '-', "
                          f"starting and ending with a letter or digit)", f"try --name {suggestion}")
    return name


def build_request(opts: dict[str, Any], name: str | None) -> PlanRequest:
    """PlanRequest from the parsed plan options; refuses flag pairs that contradict each other."""
    from kubectl_llm.planner.quantity import parse_gpu_memory

    if opts.get("gpu") and opts.get("gpu_memory") is not None:
        raise UsageError("--gpu and --gpu-memory are mutually exclusive",
                         "name a catalog type with --gpu, or give the memory of another card with --gpu-memory")
    if opts.get("context_length") and opts.get("max_model_len"):
        raise UsageError("the context length and --max-model-len are mutually exclusive",
                         "--context-length may exceed the native context (RoPE scaling); --max-model-len only caps")
    if name is not None:
        validate_name(name)
    gpu_memory = parse_gpu_memory(opts["gpu_memory"]) if opts.get("gpu_memory") is not None else None
    site = load_site(opts.get("site")).site
    return PlanRequest(
        gpu_type=opts.get("gpu"), gpu_memory_bytes=gpu_memory, gpus=opts.get("gpus"), tp=opts.get("tp"),
        pp=opts.get("pp"), dcp=opts.get("dcp"), context=opts.get("context_length"),
        max_model_len=opts.get("max_model_len"), gpu_memory_utilization=opts.get("gpu_memory_utilization"),
        kv_cache_dtype=opts.get("kv_cache_dtype") or "auto", engine=opts.get("engine") or "vllm", name=name,
        max_num_seqs=opts.get("max_num_seqs"), max_num_batched_tokens=opts.get("max_num_batched_tokens"),
        site=site, nodes=opts.get("nodes"), replicas=opts.get("replicas") or 1,
        data_parallel=opts.get("data_parallel"))


def load_site(option: str | None) -> Any:
    """The site profile in effect: --site FILE, $KUBECTL_LLM_SITE, ~/.config/kubectl-llm/site.yaml, else NRP's
    (site adapter; validated against kubectl_llm/sites/site.schema.json)."""
    from kubectl_llm.adapters.site import load_site as adapter_load_site

    return adapter_load_site(option)


def load_source(model: str, revision: str | None, check_token: bool = False) -> Any:
    """The model from the Hub, the local cache, a local directory or the embedded catalog (hub adapter);
    ``check_token`` also asks the Hub whether the pod will need a token to download it."""
    from kubectl_llm.adapters.hub import load_model
    from kubectl_llm.cli import output

    return load_model(model, revision=revision, warn=output.warn, check_token=check_token)


def make_plan(source: Any, request: PlanRequest) -> Any:
    from kubectl_llm.planner.plan import make_plan as planner_make_plan

    return planner_make_plan(source, request)


def why_not(model: str, plan: Any) -> DoesNotFit:
    """DoesNotFit with the reason of the closest GPU type tried (the plan's own type among its per-type candidates),
    else its last reason; the hint is the plan's, naming only changes that can make it fit."""
    doc = plan.to_dict()
    candidates = (doc.get("gpu") or {}).get("candidates")
    if isinstance(candidates, dict) and candidates:
        gpu = (doc.get("gpu") or {}).get("type")
        gpu, why = (gpu, candidates[gpu]) if gpu in candidates else next(iter(candidates.items()))
        reason = f"{gpu}: {why}"
    else:
        reasons = list(doc.get("reasons") or [])
        reason = reasons[-1] if reasons else ""
    hint = plan.fit_hint() if hasattr(plan, "fit_hint") else None
    return DoesNotFit(f"{model} does not fit" + (f" ({reason})" if reason else ""), hint or None)


def plan_name(plan: Any) -> str:
    """Release name = the plan's route name (the planner derives it from the model id unless --name)."""
    return validate_name(str(plan.to_dict()["route"]["name"]))


@dataclass
class Planned:
    """A plan turned into the values one release is installed with."""

    plan: Any
    name: str
    values: dict[str, Any]        # planned values with the user's overrides merged in (what helm gets)
    user: dict[str, Any]          # the user's overrides alone
    warnings: list[str]


def planned_values(source: Any, request: PlanRequest, plan: Any, files: tuple[str, ...], sets: tuple[str, ...],
                   set_strings: tuple[str, ...]) -> Planned:
    """Chart values for the plan, user overrides merged the way Helm merges, and fit warnings for them."""
    from kubectl_llm.cli.overrides import REPLAN_KEYS, apply_overrides, fit_warnings, get_path
    from kubectl_llm.planner.values import chart_values

    base = chart_values(plan)
    values, user = apply_overrides(base, files, sets, set_strings)
    warnings = list(getattr(plan, "warnings", []) or [])
    warnings += fit_warnings(base, user)
    forced = {field: get_path(user, key) for key, field in REPLAN_KEYS.items() if get_path(user, key) is not None}
    size = int(get_path(values, "group.size") or 1)
    if isinstance(forced.get("gpus"), int) and size > 1:     # gpu.count is per pod; the planner counts them all
        forced["gpus"] *= size
    if forced:
        warnings += _recheck(source, request, forced)
    return Planned(plan=plan, name=plan_name(plan), values=values, user=user, warnings=warnings)


def _recheck(source: Any, request: PlanRequest, forced: dict[str, Any]) -> list[str]:
    """Ask the planner whether the plan still fits with the overridden numbers forced; say so when it does not."""
    try:
        changes = {k: v for k, v in forced.items() if k in {f.name for f in dataclasses.fields(PlanRequest)}}
        replan = make_plan(source, dataclasses.replace(request, **changes))
    except (LlmError, TypeError, ValueError) as exc:
        return [f"the planner cannot re-check your overrides ({getattr(exc, 'message', exc)})"]
    if getattr(replan, "fits", True):
        return []
    reasons = list(getattr(replan, "reasons", None) or replan.to_dict().get("reasons") or [])
    return ["with your overrides the plan does NOT fit" + (f": {reasons[0]}" if reasons else "")]
