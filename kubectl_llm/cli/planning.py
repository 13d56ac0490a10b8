"""From CLI options to a plan and chart values: the glue between click and the pure planner.

Why a module of its own: `plan`, `add` and `upgrade` all build the same PlanRequest, check the same flag
conflicts and the same release name, and `add`/`upgrade` both merge user overrides and warn when they break the
fit. Planner, Hub adapter and values builder are imported lazily so `--help` stays fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kubectl_llm.errors import DoesNotFit, InvalidName, LlmError, UsageError
from kubectl_llm.planner.request import PlanRequest

# Helm caps release names at 53 characters; the name is also the route and a DNS-1123 label.
MAX_NAME = 53
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*/[A-Za-z0-9][-A-Za-z0-9_.]*$")


def validate_name(name: str, flag: str = "--name") -> str:
    """The release / route name must be a DNS-1123 label of at most 53 characters (Helm's limit). ``flag``: how
    the user gave it, for the hint (a positional NAME is "": the hint then names the value, not --name)."""
    if len(name) > MAX_NAME:
        raise InvalidName(f"name {name!r} is {len(name)} characters long; Helm allows at most {MAX_NAME}",
                          f"pass a shorter {flag}, e.g. qwen3-8b" if flag else
                          f"release names have at most {MAX_NAME} characters")
    if not _DNS_LABEL.match(name):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:MAX_NAME].strip("-") or "my-model"
        raise InvalidName(f"name {name!r} is not a DNS-1123 label (lower-case letters, digits and '-', "
                          f"starting and ending with a letter or digit)",
                          f"try {flag} {suggestion}" if flag else f"try {suggestion}")
    return name


def build_request(opts: dict[str, Any], name: str | None, revision: str | None = None,
                  user: dict[str, Any] | None = None, *, recorded: bool = False) -> PlanRequest:
    """PlanRequest from the parsed plan options; refuses flag pairs that contradict each other. ``user``: the
    admin's -f/--set overrides, whose storage.* decide with --replicas where the weights live (planner/storage.py).
    ``recorded``: the options are a release's user layer, whose absent --site means the built-in profile (add, sync
    and --reset-values record any other site in effect), not whatever $KUBECTL_LLM_SITE says in this shell."""

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
    if recorded and not opts.get("site"):
        from kubectl_llm.planner.site import default_site

        site = default_site()
    else:
        site = load_site(opts.get("site")).site
    return PlanRequest(
        gpu_type=opts.get("gpu"), gpu_memory_bytes=gpu_memory, gpus=opts.get("gpus"), tp=opts.get("tp"),
        pp=opts.get("pp"), dcp=opts.get("dcp"), context=opts.get("context_length"),
        max_model_len=opts.get("max_model_len"), gpu_memory_utilization=opts.get("gpu_memory_utilization"),
        mem_fraction_static=opts.get("mem_fraction_static"),
        kv_cache_dtype=opts.get("kv_cache_dtype") or "auto", engine=opts.get("engine") or "vllm", name=name,
        max_num_seqs=opts.get("max_num_seqs"), max_num_batched_tokens=opts.get("max_num_batched_tokens"),
        revision=revision, site=site, nodes=opts.get("nodes"), replicas=opts.get("replicas") or 1,
        data_parallel=opts.get("data_parallel"), launcher=opts.get("launcher"),
        engine_args=tuple(str(a) for a in opts.get("engine_args") or ()),
        storage_access_mode=_storage(user, "accessMode"), storage_class=_storage(user, "storageClass"),
        existing_claim=bool(_storage(user, "existingClaim")))


def _storage(user: dict[str, Any] | None, key: str) -> str | None:
    """The admin's storage.KEY override (None: not given). No import of the overrides module: `plan` loads no yaml."""
    storage = (user or {}).get("storage")
    value = storage.get(key) if isinstance(storage, dict) else None
    return None if value is None else str(value)


def load_site(option: str | None) -> Any:
    """The site profile in effect: --site FILE, $KUBECTL_LLM_SITE, ~/.config/kubectl-llm/site.yaml, else NRP's
    (site adapter; validated against kubectl_llm/sites/site.schema.json)."""
    from kubectl_llm.adapters.site import load_site as adapter_load_site

    return adapter_load_site(option)


def load_source(model: str, revision: str | None, check_token: bool = False, model_id: str | None = None) -> Any:
    """The model from the Hub, the local cache, a local directory or the embedded catalog (hub adapter);
    ``check_token`` also asks the Hub whether the pod will need a token to download it. ``model_id``: the repo id
    a local directory stands for (what the pod loads, its served name and route)."""
    import dataclasses

    from kubectl_llm.adapters.hub import load_model
    from kubectl_llm.cli import output

    source = load_model(model, revision=revision, warn=output.warn, check_token=check_token)
    if model_id and source.origin == "local":
        source = dataclasses.replace(source, model_id=model_id)
    return source


def deployable_model(model: str, model_id: str | None) -> tuple[str, str | None]:
    """(repo id the pod loads, local directory planned from or None) for add's MODEL and --model-id.

    The pod cannot read this machine's disk: a local directory is planned from here, but the pod downloads the
    repo id. A path (./x, /x, ~/x) needs --model-id; a repo id that also exists as a folder here stands for itself.
    """
    import os

    from kubectl_llm.adapters.hub import is_local_ref

    if model_id is not None and not _REPO_ID.match(model_id):
        raise UsageError(f"--model-id {model_id!r} is not a Hugging Face repo id",
                         "write it as ORG/NAME, e.g. --model-id Qwen/Qwen3-8B")
    if not is_local_ref(model):
        if model_id is not None and model_id != model:
            raise UsageError(f"--model-id is for a local directory; {model} is already a repo id",
                             f"drop --model-id, or pass the directory to plan from as MODEL")
        return model, None
    local = os.path.abspath(os.path.expanduser(model))
    if model_id:      # a directory that is gone is planned from the repo id (what upgrade does too)
        return model_id, local
    if not os.path.isdir(local):        # the same words as plan's (adapters.local.load_local), not "a directory here"
        from kubectl_llm.adapters.local import load_local

        load_local(model)
    if _REPO_ID.match(model) and not model.startswith((".", "/", "~")):
        return model, local   # ./ORG/NAME mirrored here: the pod downloads ORG/NAME
    raise UsageError(f"{model} is a directory on this machine: the pod cannot load it from there",
                     "name the Hugging Face repo id the pod should download: --model-id ORG/NAME (the plan still "
                     "reads config.json and the weights' sizes from the directory)")


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
    """Release name = the plan's route name (the planner derives it from the model id unless --name). A model's
    release also names its Service (and a LeaderWorkerSet): a DNS-1035 label, which starts with a letter; the API
    server refuses '8b-qwen' there after helm ran (an alias or external release has no Service: digits may lead)."""
    name = validate_name(str(plan.to_dict()["route"]["name"]))
    if not name[0].isalpha():
        from kubectl_llm.errors import InvalidName

        raise InvalidName(f"name {name!r} starts with a digit: a model's release names its Service, which must "
                          f"start with a letter (a DNS-1035 label; the API server refuses it)",
                          f"try --name {('llm-' + name)[:MAX_NAME].rstrip('-')}")
    return name


@dataclass
class Planned:
    """A plan turned into the values one release is installed with."""

    plan: Any
    name: str
    values: dict[str, Any]        # planned values with the user's overrides merged in (what helm gets)
    user: dict[str, Any]          # the user's overrides alone
    warnings: list[str]


def _quantity_bytes(size: Any) -> int | None:
    from kubectl_llm.planner.quantity import parse_bytes

    try:
        return parse_bytes(str(size))
    except LlmError:
        return None


def get_planned_storage(plan: Any) -> str:
    return str(((plan.to_dict().get("resources") or {}).get("storage")) or "size")


def planned_values(plan: Any, user: dict[str, Any], layer: Any | None = None) -> Planned:
    """Chart values for the plan with the user's overrides merged the way Helm merges, and the user layer stored
    beside them (``userLayer``) so a later upgrade re-applies it. Overrides of planner-owned values are refused."""
    from kubectl_llm.cli.overrides import deep_merge, refuse_plan_owned
    from kubectl_llm.cli.userlayer import KEY
    from kubectl_llm.planner.values import chart_values

    refuse_plan_owned(user)
    values = deep_merge(chart_values(plan), user)
    if layer is not None:
        values[KEY] = layer.to_values()
    warnings = list(getattr(plan, "warnings", []) or [])
    size = (user.get("storage") or {}).get("size") if isinstance(user.get("storage"), dict) else None
    weights = getattr(plan, "weight_bytes", 0) or 0
    if size and weights and _quantity_bytes(size) is not None and _quantity_bytes(size) < weights:  # type: ignore[operator]
        from kubectl_llm.planner.quantity import human

        raise UsageError(f"storage.size {size} is smaller than the model's {human(weights)} of weights: the "
                         f"download into the PVC would fail", f"drop the override (the plan sizes "
                         f"{get_planned_storage(plan)}, 10-20 % above the weights) or give more")
    return Planned(plan=plan, name=plan_name(plan), values=values, user=user, warnings=warnings)
