"""Invariant sweep of the pure planner: plans that say ``fits: true`` must be plans vLLM / SGLang / Kubernetes accept.

The project's promise is "a plan that says fits must start on the first try". This module checks, for every plan
of a sweep, the rules the engines and the cluster enforce at start-up (each check names its source), and that a
plan that does not fit says why and what could help. ``tests/test_plan_invariants.py`` runs a deterministic
sample of the sweep; the whole sweep (tens of thousands of plans, a few minutes) runs with

    python -m tests.plan_invariants            # every model x GPU type x engine x context x GPU count x flags
    python -m tests.plan_invariants --sample N # the test's sample size

Checked on every plan that fits: TP divides the attention heads, KV heads divide TP or TP divides them (every
layer's), linear-attention / Mamba heads divide TP, TP divides the dense and (without EP) the MoE intermediate
sizes, PP leaves no stage without layers, block-FP8 partitions
(dense, MoE without EP, shared experts) are whole blocks, EP places every expert (SGLang: divides them), DCP keeps
vLLM's rules, TP x PP x DP = the GPUs and = what the engine's args say, pods of at most a node's GPUs with TP
inside a node, KV tokens >= max-model-len, hybrid models' max-num-seqs <= Mamba cache blocks, vLLM's
max-num-batched-tokens >= max-num-seqs, weights + overhead + KV within utilisation x memory (SGLang: the fraction
in (0, 1) and weights + pool within it), the slack holds what vLLM allocates outside the budget, a context above the
native one has the RoPE override / env, every emitted parser is registered in the pinned release, the PVC is >= 110 %
of the checkpoint, requests <= limits, and the chart's values.schema.json. A plan that does not fit must give a
reason and a hint; a refused request an error with a hint. Not checkable: CPU / memory against the nodes (the site
profile records no node CPU or RAM).

False alarms of the first version of these checks, left out (each also at its check): the utilisation of a forced
SGLang --mem-fraction-static passing 1 in the JSON (SGLang is only given the fraction); with PP, summing the largest
stage's weights with the limiting stage's overhead / KV (Kimi-K2 TP 8 x PP 8 on L40S), and recounting the Mamba
blocks from the limiting stage's KV memory with another stage's block size. A violation prints the request, so
that one plan can be replayed with ``kubectl llm plan``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from kubectl_llm import catalog
from kubectl_llm.errors import LlmError
from kubectl_llm.planner import engine as eng
from kubectl_llm.planner.facts import LINEAR, MAMBA
from kubectl_llm.planner.memory import engine_batch_defaults, stage_kv, stage_layers
from kubectl_llm.planner.plan import Plan, make_plan
from kubectl_llm.planner.quantity import parse_bytes
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.site import default_site
from kubectl_llm.planner.source import ModelSource

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
REG_FILE = Path(__file__).resolve().parent / "data" / "parser_registries.yaml"
GiB = 1 << 30


# --- the models -------------------------------------------------------------------------------------------------------
def sources() -> list[ModelSource]:
    """The embedded catalog and every config of ../shared/models (when beside the checkout), as found."""
    out = [src for mid in catalog.model_ids() if (src := catalog.load(mid)) is not None]
    if SHARED_MODELS.is_dir():
        for folder in sorted(p for p in SHARED_MODELS.iterdir() if (p / "config.json").is_file()):
            meta = json.loads((folder / "meta.json").read_text())
            out.append(ModelSource(meta["model_id"], json.loads((folder / "config.json").read_text()), None, "local"))
    return out


# --- the requests -----------------------------------------------------------------------------------------------------
def requests(src: ModelSource, native: int) -> Iterator[dict[str, Any]]:
    """Every request of the sweep for one model (PlanRequest keyword arguments)."""
    gpu_types: list[str | None] = [None] + [g.name for g in default_site().gpu_catalog]
    contexts = sorted({0, 8192, native, 2 * native} - ({8192} if native <= 8192 else set()))
    for engine, gpu, ctx, n in itertools.product(("vllm", "sglang"), gpu_types, contexts, (None, 1, 2, 4, 8, 16)):
        if n is not None and gpu is None:
            continue           # --gpus without --gpu tries every type with that count: covered per type
        req: dict[str, Any] = {"engine": engine}
        if gpu:
            req["gpu_type"] = gpu
        if ctx:
            req["context"] = ctx
        if n:
            req["gpus"] = n
        yield req
    # forced flags, on a few types
    for engine, gpu in itertools.product(("vllm", "sglang"), ("H100-80GB", "L40S", "A10")):
        base = {"engine": engine, "gpu_type": gpu}
        yield {**base, "kv_cache_dtype": "fp8"}
        yield {**base, "max_num_seqs": 512}
        yield {**base, "max_num_seqs": 4}
        yield {**base, "max_num_seqs": 4096}
        yield {**base, "max_num_batched_tokens": 16384}
        yield {**base, "context": 8192, "max_num_batched_tokens": 512}
        for tp, pp in ((1, 1), (2, 1), (4, 1), (8, 1), (2, 2), (1, 4), (4, 2), (3, 1), (6, 1)):
            yield {**base, "tp": tp, "pp": pp}
        for dp in (2, 4, 8):
            yield {**base, "data_parallel": dp}
        for dcp in (2, 4, 8):
            yield {**base, "dcp": dcp, "gpus": 8}
        yield {**base, "gpu_memory_utilization": 0.8}
        yield {**base, "nodes": 2}
        if engine == "vllm":
            yield {**base, "nodes": 2, "launcher": "ray"}
        yield {**base, "replicas": 2}
        yield {**base, "context": 8192, "gpus": 16}
        if engine == "sglang":
            yield {**base, "mem_fraction_static": 0.8}


# --- the invariants ---------------------------------------------------------------------------------------------------
def _arg(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


def _int_arg(args: list[str], flag: str, default: int = 1) -> int:
    v = _arg(args, flag)
    return int(v) if v is not None else default


_REG: dict[str, Any] | None = None


def _registries() -> dict[str, Any]:
    global _REG
    if _REG is None:
        import yaml

        _REG = yaml.safe_load(REG_FILE.read_text())
    return _REG


def _parser_problem(engine: str, kind: str, name: str, version: tuple[int, ...]) -> str:
    """'' when the pinned engine release registers parser ``name`` (tests/data/parser_registries.yaml, from
    ../shared/notes/parser-registries.md), else why not."""
    reg = _registries()
    if engine == "vllm":
        r = reg["vllm"][kind]
        if name not in r["names"] and name not in r.get("also", {}):
            return f"vLLM has no {kind} parser {name}"
        first = r["known_from"].get(name)
        if first is None or eng.parse_version(first) > version:
            return f"vLLM {kind} parser {name} is known from {first}, the plan pins {eng.version_text(version)}"
        return ""
    if name not in reg["sglang"][kind]["names"]:
        return f"SGLang has no {kind} parser {name}"
    first = reg["sglang"]["known_from"][kind].get(name)
    if first and eng.parse_version(first) > version:
        return f"SGLang {kind} parser {name} is known from {first}, the plan pins {eng.version_text(version)}"
    if not first and name not in reg["sglang"]["release_0_5_9"][kind]:
        return f"SGLang {kind} parser {name}: no release known to register it"
    return ""


def _derived_max_len(overrides: dict[str, Any] | None, native: int, config: dict[str, Any]) -> int:
    """vLLM's derived max_model_len with the plan's --hf-overrides applied (``_get_and_verify_max_len``:
    YaRN multiplies original_max_position_embeddings by the factor, other types max_position_embeddings)."""
    if not overrides:
        return native
    block: dict[str, Any] | None = None
    for holder in (overrides, overrides.get("text_config") or {}):
        for key in ("rope_scaling", "rope_parameters"):
            if isinstance(holder.get(key), dict):
                block = holder[key]
    if not block or "factor" not in block:
        return native
    rtype = block.get("rope_type") or block.get("type")
    base = int(block.get("original_max_position_embeddings") or native) if rtype == "yarn" else native
    return int(base * float(block["factor"]))


def violations(plan: Plan, req: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """What vLLM / SGLang / Kubernetes would refuse in a plan, or what a plan that does not fit leaves unsaid."""
    d = plan.to_dict()
    out: list[str] = []
    if not d["fits"]:
        if not d["reasons"]:
            out.append("no-fit: no reason")
        if not plan.fit_hint():
            out.append("no-fit: no hint")
        return out
    f, b = plan.facts, plan.best
    assert b is not None
    lay, engine = b.layout, req.get("engine", "vllm")
    tp, pp, dp, dcp = lay.tp, lay.pp, lay.dp, lay.dcp
    args = d["serving"]["args"]
    version = eng.parse_version(d["serving"]["engine_version"])

    # parallel sizes: vLLM ModelConfig.verify_with_parallel_config ("Total number of attention heads (H) must be
    # divisible by tensor parallel size"); QKVParallelLinear: KV heads divide TP or TP divides them (replication)
    if f.num_attention_heads % tp:
        out.append(f"TP {tp} does not divide {f.num_attention_heads} heads")
    if not f.uses_mla:
        for kv in set(f.kv_heads_per_layer or (f.num_kv_heads,)) - {0}:
            if (kv >= tp and kv % tp) or (kv < tp and tp % kv):
                out.append(f"TP {tp} vs {kv} KV heads")
    if LINEAR in f.layer_kinds and (f.linear_num_key_heads % tp or f.linear_num_value_heads % tp):
        out.append(f"TP {tp} does not divide the linear-attention heads")
    if MAMBA in f.layer_kinds and (f.mamba_num_heads % tp or (f.mamba_n_groups % tp and tp % f.mamba_n_groups)):
        out.append(f"TP {tp} vs Mamba heads {f.mamba_num_heads} / groups {f.mamba_n_groups}")
    if pp > f.num_layers or min(len(r) for r in stage_layers(f.num_layers, pp)) < 1:
        out.append(f"PP {pp} leaves a stage without layers ({f.num_layers} layers)")
    # every TP-sharded projection divides: vLLM's ColumnParallelLinear / RowParallelLinear divide() assert it, and the
    # fused MoE asserts intermediate_size % tp_size == 0 (fused_moe/config.py) when TP shards each expert (no EP)
    c = config.get("text_config") or config
    if tp > 1 and f.is_moe and not lay.ep and f.moe_intermediate_size % tp:
        out.append(f"MoE intermediate {f.moe_intermediate_size} / TP {tp}")
    if tp > 1 and _dense_mlp_layers(config) and isinstance(c.get("intermediate_size"), int) and c["intermediate_size"] % tp:
        out.append(f"dense intermediate {c['intermediate_size']} / TP {tp}")
    # block-FP8 checkpoints: vLLM's Fp8LinearMethod.create_weights -> validate_fp8_block_shape: "Weight output_
    # partition_size = N is not divisible by weight quantization block_n = 128" for every TP-sharded projection
    blk = f.quant.block[0] if f.quant.block else 0
    if blk and tp > 1:
        moe_i, dense_i = f.moe_intermediate_size, f.intermediate_size
        if f.is_moe and moe_i and not lay.ep and moe_i % (tp * blk):
            out.append(f"FP8 block {blk}: MoE intermediate {moe_i} / TP {tp}")
        dense_layers = _dense_mlp_layers(config)
        if dense_i and dense_layers and dense_i % (tp * blk):
            out.append(f"FP8 block {blk}: dense intermediate {dense_i} / TP {tp} ({dense_layers} dense layers)")
        shared = _shared_expert_intermediate(config)
        if shared and shared % (tp * blk):
            out.append(f"FP8 block {blk}: shared-expert intermediate {shared} / TP {tp}")
    if lay.ep and f.is_moe and engine == "sglang" and f.num_experts % (tp * dp):
        # SGLang places num_experts / ep_size experts per rank (no remainder rule)
        out.append(f"SGLang EP {tp * dp} does not divide {f.num_experts} experts")
    if lay.ep and f.is_moe and f.num_experts < tp * dp:
        out.append(f"EP {tp * dp} ranks for {f.num_experts} experts: ranks without an expert")
    if dcp > 1:
        # vllm/config/parallel.py: DCP reuses the TP group, so D must divide TP. Not MLA: vllm/config/model.py
        # ModelConfig.verify_with_parallel_config asserts TP > KV heads, D <= TP // KV heads and (heads / KV heads)
        # % D == 0 ("decode context parallel size must less than or equal to (tensor parallel size ...")
        kv = 1 if f.uses_mla else f.num_kv_heads
        if engine != "vllm" or tp % dcp or (not f.uses_mla and (
                tp <= kv or dcp > tp // kv or (f.num_attention_heads // kv) % dcp)):
            out.append(f"DCP {dcp} with TP {tp} and {kv} KV heads ({engine})")
    if tp * pp * dp != d["gpu"]["count"]:
        out.append(f"TP {tp} x PP {pp} x DP {dp} != {d['gpu']['count']} GPUs")

    # what the engine is told equals the layout
    if engine == "vllm":
        told = (_int_arg(args, "--tensor-parallel-size"), _int_arg(args, "--pipeline-parallel-size"),
                _int_arg(args, "--data-parallel-size"), _int_arg(args, "--decode-context-parallel-size"))
        if told != (tp, pp, dp, dcp):
            out.append(f"vLLM args say TP/PP/DP/DCP {told}, the plan {(tp, pp, dp, dcp)}")
    else:
        told = (_int_arg(args, "--tp-size", _int_arg(args, "--tensor-parallel-size")),
                _int_arg(args, "--pp-size", _int_arg(args, "--pipeline-parallel-size")),
                _int_arg(args, "--dp-size", _int_arg(args, "--data-parallel-size")))
        if told != (tp * dp, pp, dp):   # SGLang's --tp-size is the whole group with DP attention
            out.append(f"SGLang args say tp/pp/dp {told}, the plan {(tp * dp, pp, dp)}")

    # expert parallel and DP attention as the engine is told: vLLM --enable-expert-parallel, SGLang --ep-size TP x DP
    # (its --tp-size) and --enable-dp-attention with --dp-size
    if engine == "vllm" and ("--enable-expert-parallel" in args) != lay.ep:
        out.append(f"vLLM --enable-expert-parallel vs the plan's EP {lay.ep}")
    if engine == "sglang":
        if lay.ep and _int_arg(args, "--ep-size", 0) != tp * dp:
            out.append(f"SGLang --ep-size {_arg(args, '--ep-size')} vs EP {tp * dp}")
        if dp > 1 and "--enable-dp-attention" not in args:
            out.append("SGLang --dp-size without --enable-dp-attention")
    # multi-node: every pod is told the same parallel sizes, the node count and its rank
    nodes_told = d["gpu"]["nodes"]
    if nodes_told > 1 and d["serving"]["launcher"] == "ray":
        # Ray: the workers only join the leader's Ray cluster (ray start), the leader's vLLM places every rank
        if _arg(args, "--distributed-executor-backend") != "ray":
            out.append("--launcher ray without --distributed-executor-backend ray")
    elif nodes_told > 1:
        wargs = d["serving"]["worker_args"]
        if not wargs:
            out.append(f"{nodes_told} nodes but no worker args")
        for flag in ("--tensor-parallel-size", "--pipeline-parallel-size", "--tp-size", "--pp-size", "--dp-size",
                     "--data-parallel-size", "--max-model-len", "--context-length"):
            if _arg(args, flag) != _arg(wargs, flag):
                out.append(f"leader {flag} {_arg(args, flag)} vs workers {_arg(wargs, flag)}")
        if engine == "sglang" or dp == 1:
            if _int_arg(args, "--nnodes", 0) != nodes_told:
                out.append(f"--nnodes {_arg(args, '--nnodes')} vs {nodes_told} pods")
        else:
            if _int_arg(args, "--data-parallel-size-local", 0) * nodes_told != dp:
                out.append(f"--data-parallel-size-local {_arg(args, '--data-parallel-size-local')} x {nodes_told} "
                           f"nodes != DP {dp}")

    # Kubernetes: the pod's GPUs on one node of that type
    per_node, nodes = b.gpu.per_node, d["gpu"]["nodes"]
    if d["gpu"]["per_node"] > per_node or d["gpu"]["per_node"] * nodes != d["gpu"]["count"]:
        out.append(f"{d['gpu']['count']} GPUs as {nodes} pods x {d['gpu']['per_node']} on nodes of {per_node}")
    if nodes > 1 and per_node % tp and dp == 1:
        out.append(f"TP {tp} spans nodes of {per_node}")

    # the KV cache: vLLM's check_enough_kv_cache_memory refuses a max_model_len one request cannot reach
    L = d["serving"]["max_model_len"]
    if b.kv_tokens < L:
        out.append(f"KV {b.kv_tokens} tokens < max-model-len {L}")
    if req.get("context") and L < min(req["context"], 10**9) and not plan.max_context_that_fits:
        out.append(f"max-model-len {L} below the context asked for {req['context']}")
    if engine == "vllm" and _arg(args, "--max-model-len") not in (None, str(L)):
        out.append("--max-model-len differs from the plan's")
    # hybrid models keep one state block per running sequence: vLLM refuses more max_num_seqs than Mamba blocks
    # ("ValueError: max_num_seqs (256) exceeds available Mamba cache blocks (184). Each decode sequence requires one
    # Mamba cache block, so CUDA graph capture cannot proceed"); blocks = KV memory // one block of every group.
    # SGLang sizes its Mamba pool apart from the KV pool (not checked here)
    if b.state_bytes_per_sequence and engine == "vllm":
        if pp == 1:
            kv = stage_kv(f, lay, _kv_dsz(d, f), range(f.num_layers), d["memory"]["overhead"]["max_num_batched_tokens"])
            blocks = b.kv_cache_bytes // kv.bytes_per_block
            if blocks - 1 < b.max_num_seqs:          # the null block is not the requests'
                out.append(f"{blocks} KV blocks < max-num-seqs {b.max_num_seqs} (hybrid state)")
        # with PP every stage has its own block size and KV memory, and the plan reports the stage that limits the
        # concurrency, not always the one with the fewest blocks: the planner's own per-stage minimum is checked
        elif (cap := getattr(b, "seqs_cap", None)) is None or b.max_num_seqs > cap:
            out.append(f"max-num-seqs {b.max_num_seqs} vs the Mamba cache blocks {cap} (hybrid state, PP)")

    # batch limits: SchedulerConfig "max_num_batched_tokens (T) must be greater than or equal to max_num_seqs (S)"
    T = d["memory"]["overhead"]["max_num_batched_tokens"]
    if engine == "vllm":
        emitted_t = _arg(args, "--max-num-batched-tokens")
        engine_t = int(emitted_t) if emitted_t else engine_batch_defaults(
            b.gpu.memory_bytes, " ".join((b.gpu.name, *b.gpu.products)))[0]
        if engine_t != T:
            out.append(f"the profile assumes {T} batched tokens, vLLM will use {engine_t}")
        if engine_t < b.max_num_seqs:
            out.append(f"max-num-batched-tokens {engine_t} < max-num-seqs {b.max_num_seqs}")
        if _int_arg(args, "--max-num-seqs", -1) != b.max_num_seqs:
            out.append("--max-num-seqs differs from the plan's")

    # memory: weights + overhead + KV within the budget. With PP the plan reports the largest stage's weights but
    # the overhead and KV of the stage that limits the concurrency (false alarms when summed: Kimi-K2 TP 8 x PP 8 on
    # L40S), so there only the limiting stage's own balance is checked
    mem = b.gpu.memory_bytes
    util = d["serving"]["gpu_memory_utilization"]
    kv_here = b.kv_cache_bytes if pp == 1 else 0
    if b.available_bytes <= 0 or b.kv_cache_bytes != b.available_bytes:
        out.append(f"available KV {b.available_bytes} vs the KV cache {b.kv_cache_bytes}")
    if engine == "vllm":
        if not 0 < util <= 1:
            out.append(f"utilisation {util}")
        if pp == 1 and b.weights_per_gpu + b.overhead_bytes + kv_here > util * mem + 1:
            out.append("weights + overhead + KV above utilisation x memory")
        if float(_arg(args, "--gpu-memory-utilization") or util) != util:
            out.append("--gpu-memory-utilization differs from the plan's")
        if (1 - util) * mem < (b.overhead.outside_budget if b.overhead else 0) - 1:
            out.append("the slack cannot hold what vLLM allocates outside the budget")
    else:
        # false alarm left out: with a forced --mem-fraction-static the JSON's utilisation is F + the in-budget
        # overhead over the memory, which may pass 1; SGLang is never told it (the plan warns instead, ARCHITECTURE)
        frac = d["serving"]["mem_fraction_static"]
        if frac is None or not 0 < frac < 1:
            out.append(f"--mem-fraction-static {frac}")
        elif float(_arg(args, "--mem-fraction-static") or -1) != frac:
            out.append("--mem-fraction-static differs from the plan's")
        if frac and b.weights_per_gpu + kv_here > frac * mem + 1:
            out.append("weights + KV pool above mem-fraction-static x memory")
        if _arg(args, "--max-running-requests") and int(_arg(args, "--max-running-requests") or 0) < 1:
            out.append("--max-running-requests < 1")

    # context: a max-model-len above the model's own needs the RoPE override (or the engine's env)
    native = f.native_context
    if L > native:
        env = {e["name"]: e["value"] for e in d["serving"]["env"]}
        if engine == "vllm":
            derived = _derived_max_len(d["serving"]["hf_overrides"], native, config)
            if L > derived and env.get("VLLM_ALLOW_LONG_MAX_MODEL_LEN") != "1":
                out.append(f"max-model-len {L} above vLLM's derived {derived} without VLLM_ALLOW_LONG_MAX_MODEL_LEN")
        elif env.get("SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN") not in ("1", "true", "True"):
            if not _arg(args, "--json-model-override-args"):
                out.append(f"context {L} above native {native} without an override for SGLang")

    # parsers the pinned release registers
    for kind, flag in (("tool", "--tool-call-parser"), ("reasoning", "--reasoning-parser")):
        name = _arg(args, flag)
        if name and (why := _parser_problem(engine, kind, name, version)):
            out.append(why)

    # resources: the PVC holds the checkpoint (handbook: 10-20 % over), requests within limits
    res = d["resources"]
    storage = parse_bytes(res["storage"])
    if storage < d["model"]["weight_bytes"] * 1.10:
        out.append(f"PVC {res['storage']} < weights {d['model']['weight_bytes'] / GiB:.1f} GiB + 10 %")
    if parse_bytes(res["memory_request"]) > parse_bytes(res["memory_limit"]):
        out.append("memory request above its limit")
    if res["cpu"] is not None and float(res["cpu"]) <= 0:
        out.append("cpu request <= 0")

    # the chart's values.schema.json
    from kubectl_llm.planner.values import chart_values

    for v in _schema_violations(chart_values(plan)):
        out.append(f"schema: {v}")
    return out


_VALIDATOR: Any = None


def _schema_violations(values: dict[str, Any]) -> list[str]:
    """adapters.charts.schema_violations("llm-model", values), with the schema and values.yaml read once."""
    global _VALIDATOR
    from kubectl_llm.adapters import charts

    if _VALIDATOR is None:
        import jsonschema
        import yaml

        chart = charts.chart_path("llm-model")
        _VALIDATOR = (yaml.safe_load((chart / "values.yaml").read_text()) or {},
                      jsonschema.Draft7Validator(json.loads((chart / "values.schema.json").read_text())))
    defaults, validator = _VALIDATOR
    merged = charts._coalesce(defaults, json.loads(json.dumps(values)))
    return [f"{charts._path(e)}: {charts._reason(e)}" for e in validator.iter_errors(merged)]


def hint_problem(src: ModelSource, req: dict[str, Any], plan: Plan) -> str:
    """'' when one of the changes a no-fit plan's hint names makes the plan fit (or the hint names only changes the
    planner cannot replay: another checkpoint, a card of --gpu-memory SIZE), else why not. Each named change is
    replayed as the flag it names."""
    import re

    hint = plan.fit_hint()
    tries: list[dict[str, Any]] = []
    if m := re.search(r"--max-model-len (\d+)", hint):
        tries.append({**{k: v for k, v in req.items() if k != "context"}, "max_model_len": int(m[1])})
    if "--kv-cache-dtype fp8" in hint:
        tries.append({**req, "kv_cache_dtype": "fp8"})
    if "more --gpus" in hint or "more --nodes" in hint:
        tries.append({k: v for k, v in req.items() if k not in ("gpus", "tp", "pp", "nodes")})
    if m := re.search(r"--gpu ([A-Za-z0-9-]+)", hint):
        tries.append({**req, "gpu_type": m[1]})
    if m := re.search(r"--max-num-seqs (\d+)", hint):
        tries.append({**req, "max_num_seqs": int(m[1])})
    if m := re.search(r"--gpu-memory-utilization ([0-9.]+)", hint):
        tries.append({**req, "gpu_memory_utilization": float(m[1])})
    if "checkpoint" in hint or "--gpu-memory SIZE" in hint:
        return ""            # another checkpoint or a card not in the catalog may help: not replayable here
    if not tries:
        return f"no change to replay in: {hint}"
    for t in tries:
        try:
            if make_plan(src, PlanRequest(**t)).fits:
                return ""
        except LlmError:
            continue
    return f"none of the hint's changes fits: {hint}"


def _kv_dsz(d: dict[str, Any], f: Any) -> float:
    from kubectl_llm.planner.facts import dtype_bytes

    return float(dtype_bytes(d["memory"]["kv_cache_dtype"]))


def _dense_mlp_layers(config: dict[str, Any]) -> int:
    """Decoder layers with a dense (TP-sharded) MLP in a MoE config: DeepSeek first_k_dense_replace, Qwen
    mlp_only_layers / decoder_sparse_step; a dense model has them all."""
    c = config.get("text_config") or config
    n = int(c.get("num_hidden_layers") or 0)
    experts = c.get("n_routed_experts") or c.get("num_experts") or c.get("num_local_experts") or 0
    if not experts:
        return n
    dense = int(c.get("first_k_dense_replace") or 0)
    dense += len(c.get("mlp_only_layers") or [])
    step = int(c.get("decoder_sparse_step") or 1)
    if step > 1:
        dense += sum(1 for i in range(n) if (i + 1) % step)
    return dense


def _shared_expert_intermediate(config: dict[str, Any]) -> int:
    c = config.get("text_config") or config
    if c.get("shared_expert_intermediate_size"):
        return int(c["shared_expert_intermediate_size"])
    if c.get("n_shared_experts") and c.get("moe_intermediate_size"):
        return int(c["n_shared_experts"]) * int(c["moe_intermediate_size"])
    return 0


# --- the sweep --------------------------------------------------------------------------------------------------------
def sweep(sample: int | None = None, seed: int = 9, hints: bool = True
          ) -> tuple[int, list[tuple[str, dict[str, Any], str]], Counter]:
    """(plans made, [(model, request, violation)], outcome counts). ``sample``: plans per run, drawn evenly;
    ``hints``: replay the changes each no-fit hint names (one more plan per change)."""
    cases = []
    for src in sources():
        native = _native(src)
        cases.extend((src, req) for req in requests(src, native))
    if sample and sample < len(cases):
        cases = random.Random(seed).sample(cases, sample)
    found: list[tuple[str, dict[str, Any], str]] = []
    counts: Counter = Counter()
    for src, req in cases:
        try:
            plan = make_plan(src, PlanRequest(**req))
        except LlmError as e:
            counts["refused"] += 1
            if not e.message or not e.hint:    # one "error: ..." line and a hint (HELPERS.md)
                found.append((src.model_id, req, f"refused without a hint: {e.message}"))
            continue
        counts["fits" if plan.fits else "no-fit"] += 1
        if not plan.fits and hints and (why := hint_problem(src, req, plan)):
            found.append((src.model_id, req, f"no-fit hint: {why}"))
        for v in violations(plan, req, dict(src.config)):
            found.append((src.model_id, req, v))
    return len(cases), found, counts


def _native(src: ModelSource) -> int:
    from kubectl_llm.planner.facts import from_config

    try:
        return from_config(src.model_id, src.config).native_context
    except LlmError:
        return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=None)
    ap.add_argument("--show", type=int, default=3, help="examples shown per kind of violation")
    args = ap.parse_args()
    n, found, counts = sweep(args.sample)
    print(f"{n} plans: {dict(counts)}; {len(found)} violations")
    kinds: dict[str, list[tuple[str, dict[str, Any], str]]] = {}
    for model, req, v in found:
        key = v.split(":")[0] if v.startswith(("schema", "no-fit")) else " ".join(
            w for w in v.split() if not any(ch.isdigit() for ch in w))
        kinds.setdefault(key, []).append((model, req, v))
    for key, rows in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        print(f"\n== {len(rows)} x {key}")
        models = Counter(m for m, _, _ in rows)
        print("   models:", dict(models.most_common(8)))
        for model, req, v in rows[:args.show]:
            print(f"   {model} {req}: {v}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
