"""Serving recipes (``data/recipes.yaml``) and the engine command line built from a plan. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from kubectl_llm.planner.facts import FULL, SLIDING, ModelFacts
from kubectl_llm.planner.quantity import GiB
from kubectl_llm.planner.rules import DOWNLOAD_DIR, ENGINE_PORT

DATA = Path(__file__).resolve().parent / "data"   # a plain path: importlib.resources costs ~25 ms to import


@dataclass(frozen=True)
class Recipe:
    key: str
    tool_call_parser: str | None = None        # vLLM names; the SGLang ones are in ``sglang``
    reasoning_parser: str | None = None
    trust_remote_code: bool = False
    expert_parallel: str = "never"         # never | optional | always | above_4
    dcp: bool = False
    rope: Mapping[str, Any] = field(default_factory=dict)
    yarn: bool = True
    extra_args: tuple[str, ...] = ()
    suggest: tuple[str, ...] = ()
    sglang: Mapping[str, Any] = field(default_factory=dict)
    min_version: Mapping[str, str] = field(default_factory=dict)   # engine -> minimum version serving the family
    version_reason: str = ""               # why the family needs a newer engine than the default image
    note: str = ""                         # a parser caveat the plan must show as a warning
    tool_template: Mapping[str, str] = field(default_factory=dict)   # {path, why}: the docs' --chat-template
    no_tool_reason: str = ""               # known: this checkpoint has no tool-call format (a reason, not a warning)
    source: str = ""                       # where the family's flags come from (recipe / docs URL)
    base: bool = False                     # a base (non-chat) checkpoint of an instruct-only family
    architecture: str = ""                 # the checkpoint's class (SGLang's pin follows it: ``sglang_classes``)
    sglang_why: str = ""                   # min_version.sglang "none": why no SGLang release is known to serve it
    sglang_dev_image: str = ""             # ... and the sgl-cookbook's dedicated (dev) image for it, if it names one
    sglang_full_kv: bool = False           # SGLang keeps full-length KV on its sliding-window layers (no hybrid SWA)


@lru_cache(maxsize=1)
def _data() -> Mapping[str, Any]:
    """data/recipes.yaml, read from its generated JSON copy (scripts/recipes-json.py; the YAML took ~25 ms to parse)."""
    data: Mapping[str, Any] = json.loads((DATA / "recipes.json").read_text(encoding="utf-8"))
    return data


def engine_defaults(engine: str) -> Mapping[str, Any]:
    defaults: Mapping[str, Any] = _data()["engines"][engine]
    return defaults


def parse_version(text: str) -> tuple[int, ...]:
    """'0.17.0' -> (0, 17, 0); 'v0.21' -> (0, 21); '0.10.1.1' -> (0, 10, 1, 1). Comparable tuples."""
    return tuple(int(p) for p in str(text).lstrip("v").split(".") if p.isdigit())


def version_text(version: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in version)


def parser_first_version(kind: str, name: str, engine: str = "vllm") -> tuple[int, ...] | None:
    """First release of ``engine`` that registers parser ``name`` (kind: tool | reasoning; the engine's own name):
    vLLM from the ``parsers`` table, SGLang from ``sglang_parsers`` (names newer than the default release); None when
    unknown or, for SGLang, already in the default release."""
    if engine == "vllm":
        first = ((_data().get("parsers", {}).get(kind) or {}).get(name) or {}).get("vllm")
    else:
        first = ((_data().get("sglang_parsers") or {}).get(kind) or {}).get(name)
    return parse_version(first) if first else None


def sglang_class(architecture: str) -> Mapping[str, Any]:
    """recipes.yaml ``sglang_classes`` entry of a model class ({first, fallback | why}); {} = in the default release."""
    entry: Mapping[str, Any] = ((_data().get("sglang_classes") or {}).get("classes") or {}).get(architecture) or {}
    return entry


def sglang_class_first(architecture: str) -> tuple[int, ...] | None:
    """The first SGLang release registering ``architecture`` when that is newer than the default image, else None."""
    first = sglang_class(architecture).get("first")
    return parse_version(first) if first else None


# recipes.yaml min_version.sglang of a family no SGLang release is known to serve: --engine sglang refuses it
SGLANG_NONE = "none"


def engine_cannot_serve(recipe: "Recipe", engine: str) -> tuple[str, str]:
    """(why, hint) when no release of ``engine`` can load the checkpoint's class, or (SGLang) when no release is known
    to serve the family (``min_version.sglang: none``; the hint names --engine vllm and the vLLM release it pins);
    ('', '') when one can, or when SGLang's Transformers fallback serves the class (``sglang_fallback`` warns)."""
    entry = sglang_class(recipe.architecture) if engine == "sglang" else {}
    checked = (_data().get("sglang_classes") or {}).get("checked")
    if entry and not entry.get("first") and not entry.get("fallback"):
        return (f"SGLang has no implementation of {recipe.architecture} in any release up to {checked} "
                f"({' '.join(str(entry.get('why') or '').split())})",
                "serve it with vLLM (the default engine): drop --engine sglang")
    if engine == "sglang" and recipe.min_version.get("sglang") == SGLANG_NONE:
        image = (f"; the sgl-cookbook serves it from the dedicated image {recipe.sglang_dev_image}, which is no "
                 f"release" if recipe.sglang_dev_image else "")
        vllm = version_text(engine_version(recipe, "vllm"))
        return (f"no SGLang release is known to serve the {recipe.key} family (sglang wheels up to {checked} read: "
                f"{' '.join(recipe.sglang_why.split())}){image}",
                f"use --engine vllm: the plan pins vLLM {vllm} (image {engine_image(recipe, 'vllm')}) for it")
    return "", ""


def sglang_fallback(recipe: "Recipe") -> str:
    """The warning of an SGLang plan whose class only SGLang's Transformers fallback serves ('' otherwise)."""
    entry = sglang_class(recipe.architecture)
    if entry.get("first") or not entry.get("fallback"):
        return ""
    checked = (_data().get("sglang_classes") or {}).get("checked")
    return (f"SGLang has no implementation of {recipe.architecture} in any release up to {checked}: "
            f"{' '.join(str(entry['fallback']).split())} (https://docs.sglang.io/supported_models/"
            f"transformers_fallback.html), slower than a native implementation and with tensor parallelism only (that "
            f"fallback, sglang/srt/models/transformers.py, has no pipeline stages: the plan uses TP only); --engine vllm serves "
            f"it natively")


# The vLLM version whose memory terms (planner/memory.py) size an SGLang plan. The memory model is keyed by vLLM
# versions and calibrated on vLLM start-up logs only (none of SGLang's): SGLang's own version (0.5.x) must never be
# compared with vLLM's thresholds as if it were vLLM's (it fell below vLLM 0.7 and picked the V0 terms by accident:
# V0 non-torch, 39-byte sampler, no big-MoE margin, V0 start-up reserve). Neither candidate is lower everywhere
# (uncapped --mem-fraction-static, V0 terms / 0.17 terms / SGLang 0.5.9's own default): Qwen3-8B H100 TP 1
# 0.90 / 0.92 / 0.835, A10 TP 2 0.74 / 0.84 / 0.831; gpt-oss-120b H100 TP 2 0.90 / 0.85 / 0.830; Qwen3-235B-FP8
# H100 TP 4 0.87 / 0.85 / 0.821; gpt-oss-20b A10 0.79 / 0.77 / 0.837. The V0 terms are lower only on small dense
# models, where SGLang's own default (sglang_default_mem_fraction, the upper bound every SGLang plan obeys) is
# within 0.1 of them; the 0.17 terms are lower on the big MoE models where the optimistic misses were
# (sampler, big-MoE margin, calibrated on the 30+ held logs). So the stand-in is vLLM 0.17 (the handbook's image),
# capped by SGLang's own default.
SGLANG_MEMORY_STANDIN: tuple[int, ...] = (0, 17, 0)


def memory_model_version(recipe: "Recipe", engine: str) -> tuple[int, ...]:
    """The vLLM version whose memory terms size the plan: the pinned vLLM version, or for SGLang the deliberate
    stand-in SGLANG_MEMORY_STANDIN (never SGLang's own version read as vLLM's)."""
    return SGLANG_MEMORY_STANDIN if engine == "sglang" else engine_version(recipe, engine)


def engine_version(recipe: "Recipe", engine: str) -> tuple[int, ...]:
    """The engine version a plan for this recipe runs (the memory model and the parser registry follow it).

    The engine's default image version, raised to the family's minimum (recipes.yaml ``min_version``), for SGLang to
    the first release registering the checkpoint's class (``sglang_classes``), and for vLLM to the first release
    registering each parser the plan passes (SGLang: its own names, ``recipe.sglang``)."""
    parsers = ((recipe.tool_call_parser, recipe.reasoning_parser) if engine == "vllm" else
               (recipe.sglang.get("tool_call_parser"), recipe.sglang.get("reasoning_parser")))
    arch = recipe.architecture if engine == "sglang" else ""
    return _engine_version(engine, recipe.min_version.get(engine), *parsers, arch)


@lru_cache(maxsize=256)
def _engine_version(engine: str, floor: str | None, tool: str | None, reasoning: str | None,
                    architecture: str = "") -> tuple[int, ...]:
    """engine_version from the recipe fields it reads (hashable; the search asks once per layout evaluated)."""
    version = parse_version(engine_defaults(engine)["version"])
    if floor:
        version = max(version, parse_version(floor))
    if architecture:
        version = max(version, sglang_class_first(architecture) or ())
    for kind, name in (("tool", tool), ("reasoning", reasoning)):
        first = parser_first_version(kind, name, engine) if name else None
        if first:
            version = max(version, first)
    return version


def engine_image(recipe: "Recipe", engine: str) -> str:
    """The default image (the handbook's), or the engine's image of the pinned newer version."""
    d = engine_defaults(engine)
    version = engine_version(recipe, engine)
    if version == parse_version(d["version"]):
        return str(d["image"])
    return f"{d['image'].rsplit(':', 1)[0]}:v{version_text(version)}"


def cuda_driver_gt(recipe: "Recipe | None", engine: str) -> int:
    """The NVIDIA driver major a node must exceed for the plan's image: the CUDA 12.9 default's, or the CUDA 13
    builds' once the pinned release is one (recipes.yaml ``engines.*.cuda13_from``)."""
    d = engine_defaults(engine)
    first = d.get("cuda13_from")
    if recipe is not None and first and engine_version(recipe, engine) >= parse_version(first):
        return int(d["cuda13_driver_gt"])
    return int(d["cuda_driver_gt"])


def checkpoint_format(facts: ModelFacts) -> str | None:
    """The checkpoint format key of ``checkpoint_gpus`` in recipes.yaml ("nvfp4"), or None."""
    if facts.quant.weight_bits == 4 and facts.quant.method in ("modelopt", "modelopt_fp4"):
        return "nvfp4"
    return None


def checkpoint_gpus(facts: ModelFacts) -> Mapping[str, Any] | None:
    """The ``checkpoint_gpus`` rule of recipes.yaml for this checkpoint ({min_compute, needs}), or None."""
    fmt = checkpoint_format(facts)
    return (_data().get("checkpoint_gpus") or {}).get(fmt) if fmt else None


# DSA sparse attention (DeepSeek-V3.2, GLM-5: a config with index_topk) has one vLLM attention backend on NVIDIA,
# FLASHMLA_SPARSE: "FlashMLA Sparse is only supported on Hopper and Blackwell DC devices" (vllm-project/vllm#54059;
# #35021 "GLM-5 (Sparse MLA / DSA) cannot run on sm80 GPUs (A100/A800)"; #31936 RTX PRO 6000, sm120; the Triton
# fallback for sm80/sm120, #38006, is an open feature request)
DSA_COMPUTE = (9.0, 12.0)            # [Hopper, below the sm120 workstation Blackwells)


def gpu_cannot_run(facts: ModelFacts, compute: float, engine: str = "vllm") -> str:
    """Why a GPU of this compute capability cannot run the checkpoint ('' if it can, or if compute is unknown)."""
    if facts.index_head_dim and compute and not DSA_COMPUTE[0] <= compute < DSA_COMPUTE[1]:
        # SGLang: its DeepSeek-V3.2 / GLM-5 usage page (docs.sglang.io basic_usage/deepseek_v32) serves DSA on
        # H200 / B200 (and AMD / NPU builds); its NSA backend runs FlashMLA's sparse kernels, Hopper / Blackwell only
        return (f"cannot run DSA sparse attention: vLLM's only backend for it (FLASHMLA_SPARSE) needs a Hopper or "
                f"Blackwell data-center GPU (compute 9.x/10.x), this card is compute {compute}" if engine != "sglang"
                else f"cannot run DSA sparse attention: SGLang serves it on Hopper / Blackwell data-center GPUs "
                f"(its DSA usage page lists H200 / B200; the FlashMLA sparse kernels need compute 9.x/10.x), this "
                f"card is compute {compute}")
    sg = sglang_gpus(facts) if engine == "sglang" else {}
    if sg and compute and compute >= float(sg["below_compute"]):
        return f"cannot run under SGLang: {' '.join(str(sg['why']).split())}, this card is compute {compute}"
    rule = checkpoint_gpus(facts)
    if not rule or not compute or compute >= float(rule["min_compute"]):
        return ""
    return (f"cannot run the {str(checkpoint_format(facts)).upper()} checkpoint: the recipes list {rule['needs']}, "
            f"this card is compute {compute}")


def _family(key: str) -> Mapping[str, Any]:
    """The recipes.yaml family entry of ``key`` ({} for none)."""
    return next((f for f in _data()["families"] if f["key"] == key), {})


def sglang_gpus(facts: ModelFacts) -> Mapping[str, Any]:
    """The family's ``sglang_gpus`` rule ({below_compute, why}: SGLang cannot start it from that compute up), or {}."""
    return _family(facts.family).get("sglang_gpus") or {}


def engine_facts(facts: ModelFacts, recipe: Recipe, engine: str) -> ModelFacts:
    """The facts the engine's KV cache follows: SGLang runs a family marked ``sglang_full_kv`` without hybrid SWA
    memory (every layer keeps full-length KV), so its sliding-window layers are sized as full attention."""
    if engine != "sglang" or not recipe.sglang_full_kv or SLIDING not in facts.layer_kinds:
        return facts
    return replace(facts, layer_kinds=tuple(FULL if k == SLIDING else k for k in facts.layer_kinds))


def _is_instruct(model_id: str, markers: list[str] | None) -> bool:
    mid = model_id.lower()
    return any(m in mid for m in (markers or ["instruct", "-it", "chat", "thinking"]))


def match_id(model_id: str) -> str:
    """The part of a model id that family patterns look at: the lower-cased repo id, or a local directory's name."""
    mid = model_id.strip().rstrip("/")
    if mid.startswith(("/", ".", "~")) or "\\" in mid or mid.count("/") > 1:
        mid = mid.replace("\\", "/").rsplit("/", 1)[-1]
    return mid.lower()


def _alternative_matches(m: Mapping[str, Any], arch: str, model_type: str, mid: str) -> bool:
    kinds = m.get("architectures") or m.get("model_types")
    if kinds and not (arch in m.get("architectures", ()) or model_type in m.get("model_types", ())):
        return False
    if m.get("id_contains") and not any(s in mid for s in m["id_contains"]):
        return False
    if any(s in mid for s in m.get("id_excludes", ())):
        return False
    return bool(kinds or m.get("id_contains"))


def family_matches(fam: Mapping[str, Any], arch: str, model_type: str, model_id: str) -> bool:
    """``match`` is one alternative or a list of them; an alternative matches on architecture or model_type, and
    (when given) an id containing one of ``id_contains`` and none of ``id_excludes``."""
    alts = fam.get("match") or {}
    mid = match_id(model_id)
    return any(_alternative_matches(m, arch, model_type, mid) for m in (alts if isinstance(alts, list) else [alts]))


def _sglang_names(fam: Mapping[str, Any], tool: str | None, reasoning: str | None, base: bool) -> dict[str, Any]:
    """SGLang names: the family's own, else the vLLM name's SGLang equivalent (recipes.yaml ``parsers``). A name
    vLLM does not need (gpt-oss reasoning: vLLM reads harmony natively) stays when the family sets it for SGLang."""
    out = dict(fam.get("sglang") or {})
    parsers = _data().get("parsers", {})
    for key, kind, name in (("tool_call_parser", "tool", tool), ("reasoning_parser", "reasoning", reasoning)):
        if key not in out and name:
            out[key] = ((parsers.get(kind) or {}).get(name) or {}).get("sglang")
        sglang_only = fam.get(key) is None and key in (fam.get("sglang") or {}) and not base
        if not name and not sglang_only:
            out.pop(key, None)
    return {k: v for k, v in out.items() if v}


def find_recipe(facts: ModelFacts) -> Recipe:
    mid = match_id(facts.model_id)
    for fam in _data()["families"]:
        if not family_matches(fam, facts.architecture, facts.model_type, facts.model_id):
            continue
        tool = fam.get("tool_call_parser")
        base = (bool(fam.get("instruct_only")) and not _is_instruct(mid, fam.get("instruct_markers"))) or any(
            s in mid for s in fam.get("base_markers", ()))
        if base:
            tool = None
        reasoning = fam.get("reasoning_parser")
        only = fam.get("reasoning_only_if_id_contains")
        if reasoning and only and not any(s in mid for s in only):
            reasoning = None
        unless = fam.get("reasoning_unless_id_contains")
        if reasoning and unless and any(s in mid for s in unless):
            reasoning = None
        if (fam.get("instruct_only") or base) and tool is None:
            reasoning = None
        extra = list(fam.get("extra_args", []))
        for needle, args in (fam.get("extra_args_if_id_contains") or {}).items():
            if needle in mid:
                extra += args
        no_tool = ""
        if base and any(s in mid for s in fam.get("base_markers", ())):
            no_tool = (f"no tool-call or reasoning parser: {facts.model_id} looks like a base checkpoint "
                       f"({' / '.join(s for s in fam['base_markers'] if s in mid)} in its id), which has no chat "
                       "format to parse")
        elif base:
            no_tool = (f"no tool-call or reasoning parser: {facts.model_id} looks like a base checkpoint (no "
                       f"{' / '.join(fam.get('instruct_markers') or ['instruct', '-it', 'chat', 'thinking'])} "
                       "in its id), which has no chat format to parse")
        elif fam.get("no_tool_reason") and not tool:
            no_tool = str(fam["no_tool_reason"])
        return Recipe(key=fam["key"], tool_call_parser=tool, reasoning_parser=reasoning,
                      trust_remote_code=bool(fam.get("trust_remote_code")),
                      expert_parallel=fam.get("expert_parallel", "never"), dcp=bool(fam.get("dcp")),
                      rope=fam.get("rope") or {}, yarn=fam.get("yarn", True), extra_args=tuple(extra),
                      suggest=tuple(fam.get("suggest", ())), sglang=_sglang_names(fam, tool, reasoning, base),
                      min_version={k: str(v) for k, v in (fam.get("min_version") or {}).items()},
                      version_reason=str(fam.get("version_reason") or ""), note=str(fam.get("note") or ""),
                      tool_template=({str(k): str(v) for k, v in fam["tool_template"].items()}
                                     if tool and fam.get("tool_template") else {}),
                      no_tool_reason=no_tool, source=str(fam.get("source") or ""), base=base,
                      architecture=facts.architecture, sglang_why=str(fam.get("sglang_why") or ""),
                      sglang_dev_image=str(fam.get("sglang_dev_image") or ""),
                      sglang_full_kv=bool(fam.get("sglang_full_kv")))
    return Recipe(key="generic", architecture=facts.architecture)


def json_arg(value: Any) -> str:
    """JSON as the handbook writes it: ', ' and ': ' separators, key order kept."""
    return json.dumps(value)


@dataclass(frozen=True)
class EngineSettings:
    engine: str
    model_id: str
    served_name: str
    tp: int
    pp: int
    dcp: int
    dp: int
    ep: bool
    max_model_len: int
    max_num_seqs: int
    gpu_memory_utilization: float
    hf_overrides: Mapping[str, Any] | None
    kv_cache_dtype: str
    recipe: Recipe
    revision: str | None = None     # pinned HF revision: the pod loads what was planned, not the default branch
    max_num_batched_tokens: int | None = None    # None: the engine's default for the card
    mem_fraction: float | None = None   # SGLang --mem-fraction-static the plan sized (None: from the utilisation)


def engine_env(engine: str, context_extended: bool) -> list[tuple[str, str]]:
    """Environment the engine needs for the plan: above the native context vLLM refuses a longer max-model-len
    unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1; SGLang's counterpart is SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN=1."""
    if not context_extended:
        return []
    if engine == "sglang":
        return [("SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN", "1")]
    return [("VLLM_ALLOW_LONG_MAX_MODEL_LEN", "1")]


def mem_fraction_static(gpu_memory_utilization: float, overhead_fraction: float = 0.07) -> float:
    """SGLang's --mem-fraction-static (weights + KV pool) for a vLLM-style utilisation: the plan's in-budget
    overhead (activations, non-torch, margin: ``overhead_fraction`` of the GPU's memory, 0.07 when not planned) is
    outside it, so the fraction is utilisation - overhead, rounded down to the 0.01 SGLang is given."""
    return int(round((gpu_memory_utilization - overhead_fraction) * 100, 6)) / 100


def sglang_default_mem_fraction(gpu_mib: int, tp_size: int, pp_size: int = 1, dp_size: int = 1,
                                dp_attention: bool = False, chunked_prefill_size: int | None = None,
                                cuda_graph_max_bs: int | None = None,
                                vision: tuple[int | None, int | None] | None = None) -> float:
    """The --mem-fraction-static SGLang chooses itself when it is not given, for a card of ``gpu_mib`` MiB
    (nvidia-smi memory.total, what SGLang reads) and SGLang's ``--tp-size`` (TP x DP with DP attention).

    ServerArgs._handle_gpu_memory_settings (sgl-project/sglang python/sglang/srt/server_args.py@v0.5.9): the
    chunked-prefill size and CUDA-graph max batch by memory tier (< 20 GiB: 2048 / 8; < 35 GiB: 2048 / 24, 80 from
    TP 4; < 60 GiB: 4096 / 32, 160 from TP 4; < 160 GiB: 8192 / 256, 512 from TP 4; else 16384 / 512), then
    reserved MiB = 512 + max(chunked, 2048) x 1.5 + graph_bs x 2 + tp x pp / 8 x 1024 (+ graph_bs x dp x 3 with DP
    attention, + graph_bs x dp x 1.5 more above bs 300), at least 10240 on cards above 60 GiB, and the fraction is
    round((gpu - reserved) / gpu, 3). A multimodal model (``vision`` = the vision_config's (num_hidden_layers,
    hidden_size), None each when absent: 24 / 1024) is then scaled by adjust_mem_fraction_for_vlm: x 0.95 x
    clamp(1 - 0.1 x (layers x hidden^2 / (24 x 1024^2) - 1), 0.8, 1.05). Not modelled: piecewise CUDA graphs and
    speculative decoding (off in plans) and ROCm's aiter."""
    if gpu_mib < 20 * 1024:
        chunk, bs = 2048, 8
    elif gpu_mib < 35 * 1024:
        chunk, bs = 2048, (24 if tp_size < 4 else 80)
    elif gpu_mib < 60 * 1024:
        chunk, bs = 4096, (32 if tp_size < 4 else 160)
    elif gpu_mib < 160 * 1024:
        chunk, bs = 8192, (256 if tp_size < 4 else 512)
    else:
        chunk, bs = 16384, 512
    chunk = chunked_prefill_size if chunked_prefill_size else chunk
    bs = cuda_graph_max_bs if cuda_graph_max_bs else bs
    reserved = 512 + max(chunk, 2048) * 1.5 + bs * 2 + tp_size * pp_size / 8 * 1024
    if dp_attention:
        reserved += bs * dp_size * 3 + (bs * dp_size * 1.5 if bs > 300 else 0)
    if gpu_mib > 60 * 1024:
        reserved = max(reserved, 10 * 1024)
    frac = round((gpu_mib - reserved) / gpu_mib, 3)
    if vision is not None:
        layers, hidden = vision[0] or 24, vision[1] or 1024
        factor = max(0.8, min(1.05, 1.0 - 0.1 * (layers * hidden ** 2 / (24 * 1024 ** 2) - 1.0)))
        frac = frac * 0.95 * factor
    return frac


SGLANG_LOAD_EXTRA_BYTES = int(0.3 * GiB)   # SGLang holds this much more than the checkpoint after loading (see below)
SGLANG_TP_EXTRA_BYTES = int(0.5 * GiB)     # ... and this more than vLLM's start-up baseline with TP > 1 on NVLink Hopper


def sglang_startup_bytes(layout: Any, gpu_compute: float = 0.0, gpu_nvlink: bool = True) -> int:
    """What --mem-fraction-static's share comes off besides the weights, per GPU: the memory already in use when
    SGLang measures the ``total`` the fraction multiplies (CUDA context; with TP > 1 the NCCL communicators and custom
    all-reduce buffers: ModelRunner.init_torch_distributed returns the free memory after them, "Load weight begin.
    avail mem=" prints it) and what loading holds beyond the checkpoint's bytes (post-load free memory is what
    SGLang subtracts).

    = vLLM's start-up baseline (memory.startup_baseline_bytes, V1 terms: 0.5 GiB; + 1.5 GiB with TP > 1 on NVLink
    Hopper; else 0.2 GiB per extra rank) + SGLANG_LOAD_EXTRA_BYTES + SGLANG_TP_EXTRA_BYTES where vLLM's NVLink term
    applies. The held logs (tests/data/sglang_observed.yaml): at TP 1 on 80 GB cards 79.19 GiB less 78.81 / 78.59 /
    78.48 free at start (0.38 / 0.60 / 0.71 GiB); loading holds 0.12-0.28 GiB more than the plan's checkpoint
    weights (Llama-3.1-8B 15.09 / 15.11 GiB for 14.96, Qwen3-30B-A3B-FP8 29.15 for 29.03, QwQ-32B TP 4 15.54 for
    15.26); an RTX 3090 under WSL2 0.82 GiB in use at start (the desktop); Qwen3-235B-A22B-FP8 at TP 4 on H100s
    2.30 GiB in all (its pool of 16.46 GiB at 0.93); sgl-project/sglang PR #11716 (8 x H200, TP 8) 137.29-137.52
    GiB free of 139.8 at start ("Init torch distributed ends. mem usage=1.77-2.01 GB"). So 0.8 GiB at TP 1, 2.8
    GiB with TP > 1 on NVLink Hopper, 0.8 + 0.2 GiB per extra rank elsewhere (4 x RTX 4090 and 4 x L4: 0.47 / 0.13
    GiB in use at start, the term is pessimistic there)."""
    from kubectl_llm.planner.memory import CONTEXT_BASELINE_BYTES, STARTUP_NVLINK_TP_BYTES, startup_baseline_bytes

    base = startup_baseline_bytes(layout, SGLANG_MEMORY_STANDIN, gpu_compute, gpu_nvlink)
    nvlink_tp = layout.tp > 1 and base == CONTEXT_BASELINE_BYTES + STARTUP_NVLINK_TP_BYTES
    return base + SGLANG_LOAD_EXTRA_BYTES + (SGLANG_TP_EXTRA_BYTES if nvlink_tp else 0)


def sglang_pool_bytes(usable: int, fraction: float, weights: int, startup: int) -> int:
    """SGLang's KV pool per GPU for ``--mem-fraction-static`` = ``fraction``: ModelRunner.profile_max_num_token
    (model_runner_kv_cache_mixin.py in 0.5.x) sizes it as rest = post - total x (1 - fraction), where total is the
    free memory at start-up (``usable`` less ``startup``, sglang_startup_bytes) and post = total - the weights, so
    rest = fraction x (usable - startup) - weights. Below zero SGLang refuses to start ("Not enough memory. Please
    try to increase --mem-fraction-static")."""
    return int(fraction * (usable - startup) - weights)


def sglang_max_running_requests(per_rank: int, dp: int) -> int:
    """SGLang's --max-running-requests for ``per_rank`` sequences on each of ``dp`` DP ranks.

    With --enable-dp-attention (every SGLang DP plan passes it) the flag is global: each rank's scheduler takes
    ``server_args.max_running_requests // (server_args.dp_size if server_args.enable_dp_attention else 1)``
    (sgl-project/sglang python/sglang/srt/managers/tp_worker.py@4f34e24af764d45c2dde4a17cadcdaa7d08a7248,
    TpModelWorker.__init__; later releases moved the same line to ModelRunner). Without DP attention every DP
    rank is its own scheduler with the full value. vLLM's --max-num-seqs is per DP rank (one scheduler per engine
    core), so only SGLang multiplies."""
    return per_rank * dp


def vllm_args(s: EngineSettings) -> list[str]:
    """The vLLM OpenAI server arguments, in the handbook's order."""
    r = s.recipe
    a = ["--port", str(ENGINE_PORT), "--host", "0.0.0.0", "--download-dir", DOWNLOAD_DIR,
         "--model", s.model_id, "--served-model-name", s.served_name]
    if s.revision:  # weights, tokenizer and (remote) code from the same revision
        a += ["--revision", s.revision, "--tokenizer-revision", s.revision]
        if r.trust_remote_code:
            a += ["--code-revision", s.revision]
    a += ["--tensor-parallel-size", str(s.tp)]
    if s.pp > 1:
        a += ["--pipeline-parallel-size", str(s.pp)]
    if s.dcp > 1:
        a += ["--decode-context-parallel-size", str(s.dcp)]
    if s.dp > 1:
        a += ["--data-parallel-size", str(s.dp)]
    if s.ep:
        a += ["--enable-expert-parallel"]
    if r.trust_remote_code:
        a += ["--trust-remote-code"]
    a += ["--enable-chunked-prefill", "--enable-prefix-caching",
          "--max-num-seqs", str(s.max_num_seqs),
          *(["--max-num-batched-tokens", str(s.max_num_batched_tokens)] if s.max_num_batched_tokens else []),
          "--gpu-memory-utilization", f"{s.gpu_memory_utilization:.2f}",
          "--max-model-len", str(s.max_model_len)]
    if s.hf_overrides:
        a += ["--hf-overrides", json_arg(s.hf_overrides)]
    if s.kv_cache_dtype != "auto":
        a += ["--kv-cache-dtype", s.kv_cache_dtype]
    if r.tool_call_parser:
        a += ["--enable-auto-tool-choice", "--tool-call-parser", r.tool_call_parser]
    if r.reasoning_parser:
        a += ["--reasoning-parser", r.reasoning_parser]
    a += list(r.extra_args)
    return a


LEADER_ADDRESS = "$(LWS_LEADER_ADDRESS)"   # LeaderWorkerSet injects these into every container; the kubelet expands
WORKER_INDEX = "$(LWS_WORKER_INDEX)"       # $(VAR) in command and args (leader = 0, workers 1..size-1)
SGLANG_DIST_PORT = 20000
VLLM_SERVE = ("vllm", "serve")              # multi-node vLLM: the CLI whose workers take --headless
VLLM_DP_RPC_PORT = 13345
RAY_PORT = 6379                             # the official LWS vLLM example's Ray head port
LAUNCHERS = ("native", "ray")
# First vLLM release with the native multi-node flags --nnodes/--node-rank/--master-addr/--master-port/--headless
# (PR #23691 "[V1] Support MP Executor for multi node distributed inference"); what was checked against vLLM's arg
# parser, and where, is in tests/data/vllm_multinode_flags.yaml.
VLLM_NATIVE_MULTINODE = (0, 11, 1)
# Ray is no longer a dependency of the vLLM image from 0.18.0 on ("Starting from 0.18.0, vLLM no longer depends on
# Ray by default", docs.gpustack.ai/2.2/tutorials/running-distributed-vllm-with-multiprocessing) [inferred for the image]
VLLM_RAY_DROPPED = (0, 18, 0)

# The kubelet expands $(VAR) in command/args and turns $$ into $: the shell arithmetic is written $$((...)).
# Workers of a DP group: vLLM needs each node's first DP rank (--data-parallel-start-rank), worker-index x the ranks
# per node, which the kubelet cannot compute; a shell does, then execs `vllm serve` with the args unchanged ("$@").
DP_WORKER_SCRIPT = 'exec vllm serve "$@" --data-parallel-start-rank $$((LWS_WORKER_INDEX * {local}))'
# Ray (the official LWS vLLM example, docs/examples/vllm/GPU/lws.yaml + examples/online_serving/multi-node-serving.sh):
# the leader starts the Ray head, waits until LWS_GROUP_SIZE nodes are alive (300 s, as the example's script), then
# runs `vllm serve ... --distributed-executor-backend ray`; each worker joins the head and blocks.
RAY_LEADER_SCRIPT = (
    "ray start --head --port={port} --disable-usage-stats || exit 1; "
    "i=0; until python3 -c 'import os, ray; ray.init(address=\"auto\", logging_level=\"ERROR\"); "
    "raise SystemExit(sum(n[\"Alive\"] for n in ray.nodes()) < int(os.environ[\"LWS_GROUP_SIZE\"]))'; "
    "do i=$$((i + 1)); [ $i -lt 60 ] || {{ echo \"ray: fewer than $LWS_GROUP_SIZE nodes after 300 s\" >&2; exit 1; }}; "
    "sleep 5; done; exec vllm serve \"$@\"")
RAY_WORKER_SCRIPT = "until ray start --address=$(LWS_LEADER_ADDRESS):{port} --block; do sleep 5; done"


@dataclass(frozen=True)
class GroupLaunch:
    """How the pods of a LeaderWorkerSet group start: the leader's and the workers' command and args
    (an empty command = the engine's default)."""

    leader_command: tuple[str, ...]
    leader_args: tuple[str, ...]
    worker_command: tuple[str, ...]
    worker_args: tuple[str, ...]


def default_launcher(engine: str, version: tuple[int, ...]) -> str:
    """native when the engine launches across nodes by itself (SGLang always; vLLM from 0.11.1), else ray."""
    return "native" if engine == "sglang" or version >= VLLM_NATIVE_MULTINODE else "ray"


def group_launch(s: EngineSettings, args: list[str], nodes: int, launcher: str = "native") -> GroupLaunch:
    """The leader and workers of a LeaderWorkerSet group of ``nodes`` pods.

    vLLM native (>= 0.11.1): every pod runs `vllm serve` with ``--nnodes N --node-rank R --master-addr <leader>``,
    the workers with ``--headless`` (no API server). DP ranks over N nodes use vLLM's documented multi-node DP
    flags instead (docs/serving/data_parallel_deployment.md): every pod ``--data-parallel-size-local`` (ranks per
    node), ``--data-parallel-address <leader>`` and ``--data-parallel-rpc-port``; workers ``--headless`` and their
    ``--data-parallel-start-rank`` = worker-index x ranks per node, computed by a shell. vLLM ray: the Ray head on
    the leader, the workers in the Ray cluster, `vllm serve ... --distributed-executor-backend ray` (DP:
    ``--data-parallel-backend ray``). SGLang: ``--nnodes N --node-rank R --dist-init-addr <leader>:20000``.
    """
    if s.engine == "sglang":
        if launcher != "native":
            raise ValueError("SGLang launches its nodes itself (--nnodes/--node-rank/--dist-init-addr): no Ray launcher")
        common = ["--nnodes", str(nodes), "--dist-init-addr", f"{LEADER_ADDRESS}:{SGLANG_DIST_PORT}"]
        return GroupLaunch((), tuple(args + common + ["--node-rank", "0"]),
                           (), tuple(args + common + ["--node-rank", WORKER_INDEX]))
    local = s.dp // nodes
    if launcher == "ray":
        extra = (["--data-parallel-size-local", str(local), "--data-parallel-backend", "ray"] if s.dp > 1
                 else ["--distributed-executor-backend", "ray"])
        return GroupLaunch(("/bin/sh", "-c", RAY_LEADER_SCRIPT.format(port=RAY_PORT), "vllm"), tuple(args + extra),
                           ("/bin/sh", "-c", RAY_WORKER_SCRIPT.format(port=RAY_PORT)), ())
    if s.dp > 1:
        common = ["--data-parallel-size-local", str(local), "--data-parallel-address", LEADER_ADDRESS,
                  "--data-parallel-rpc-port", str(VLLM_DP_RPC_PORT)]
        return GroupLaunch(VLLM_SERVE, tuple(args + common),
                           ("/bin/sh", "-c", DP_WORKER_SCRIPT.format(local=local), "vllm"),
                           tuple(args + common + ["--headless"]))
    common = ["--nnodes", str(nodes), "--master-addr", LEADER_ADDRESS]
    return GroupLaunch(VLLM_SERVE, tuple(args + common + ["--node-rank", "0"]),
                       VLLM_SERVE, tuple(args + common + ["--node-rank", WORKER_INDEX, "--headless"]))


def sglang_args(s: EngineSettings) -> list[str]:
    """The SGLang equivalent (sglang.launch_server)."""
    r = s.recipe
    a = ["--port", str(ENGINE_PORT), "--host", "0.0.0.0", "--download-dir", DOWNLOAD_DIR,
         "--model-path", s.model_id, "--served-model-name", s.served_name]
    if s.revision:
        a += ["--revision", s.revision]
    a += ["--tp-size", str(s.tp * s.dp)]           # DP attention splits SGLang's TP group into dp ranks
    if s.pp > 1:
        a += ["--pp-size", str(s.pp)]
    if s.dp > 1:
        a += ["--dp-size", str(s.dp), "--enable-dp-attention"]
    if s.ep:
        a += ["--ep-size", str(s.tp * s.dp)]
    if r.trust_remote_code:
        a += ["--trust-remote-code"]
    a += ["--max-running-requests", str(sglang_max_running_requests(s.max_num_seqs, s.dp)),
          *(["--chunked-prefill-size", str(s.max_num_batched_tokens)] if s.max_num_batched_tokens else []),
          "--mem-fraction-static", f"{s.mem_fraction or mem_fraction_static(s.gpu_memory_utilization):.2f}",
          "--context-length", str(s.max_model_len)]
    if s.hf_overrides:
        a += ["--json-model-override-args", json_arg(s.hf_overrides)]
    if s.kv_cache_dtype not in ("auto", "bfloat16", "float16"):
        a += ["--kv-cache-dtype", "fp8_e4m3" if s.kv_cache_dtype in ("fp8", "fp8_e4m3") else s.kv_cache_dtype]
    if r.sglang.get("tool_call_parser"):           # SGLang's own names (parsers.choose resolves them)
        a += ["--tool-call-parser", r.sglang["tool_call_parser"]]
    if r.sglang.get("reasoning_parser"):
        a += ["--reasoning-parser", r.sglang["reasoning_parser"]]
    return a
