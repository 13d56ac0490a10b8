#!/usr/bin/env python3
"""Benchmark: `kubectl-llm plan` beside the `helm template` it feeds, and `add --dry-run=client`, in one run.

Each command runs as a fresh process, as an admin types it:
  plan      `kubectl-llm plan <local dir> -o json`
  template  `helm template NAME charts/llm-model -f <the plan's chart values>` (the render step alone)
  dry-run   `kubectl-llm add <local dir> --model-id ID --dry-run=client -o yaml` (plan + helm template + output)
Goals (issue 8): plan median within 3x of the helm template median of the same model, and add --dry-run=client
under 1 s. Usage:
    python benchmarks/bench_plan.py [--runs 9] [MODEL_ID ...]
Each model's catalog config is written to a temp directory so the run is fully offline (local-dir path: no Hub
client is imported). The three commands take turns in each round (plan, template, dry-run, plan, ...), so a busy
machine slows them alike. Wall times are what an admin waits; on a busy machine they include time spent waiting for a
CPU, so each row also gives the dry-run's CPU time (user + system of the process and its helm children, median of
the same runs: it barely moves with load) and the 1-minute load average when the row was measured. Prints one line
per model and exits 1 when a goal (judged on wall time) is missed. Output, one row per model:
    model  plan  template  ratio  dry-run  dry-run-cpu  load
Recorded results: README.md, "Benchmark".
"""

from __future__ import annotations

import argparse
import json
import resource
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubectl_llm import catalog
from kubectl_llm.adapters.charts import chart_path
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.source import ModelSource
from kubectl_llm.planner.values import chart_values

PLAN_VS_TEMPLATE = 3.0
DRY_RUN_S = 1.0
DEFAULT_MODELS = ["Qwen/Qwen3-8B", "MiniMaxAI/MiniMax-M2.5", "deepseek-ai/DeepSeek-V3", "Qwen/Qwen3.5-397B-A17B"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_times(commands: list[list[str]], runs: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Median wall time and median CPU time (user + system, the process and the children it waited for) of each
    command over ``runs``. The commands take turns (plan, template, dry-run, plan, ...) so that a busy machine slows
    each of them alike and the plan / template ratio stays comparable."""
    times: list[list[float]] = [[] for _ in commands]
    cpus: list[list[float]] = [[] for _ in commands]
    for i in range(runs + 1):  # round 0 is the warm-up (byte-code caches, page cache), not counted
        for argv, samples, cpu in zip(commands, times, cpus):
            c, t = _children_cpu(), time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, text=True, env=env)
            if i:
                samples.append(time.perf_counter() - t)
                cpu.append(_children_cpu() - c)
            if proc.returncode not in (0, 5):
                sys.exit(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return [statistics.median(s) for s in times], [statistics.median(s) for s in cpus]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=DEFAULT_MODELS)
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    exe = shutil.which("kubectl-llm") or sys.exit("kubectl-llm not on PATH (pip install -e .)")
    helm = os.environ.get("KUBECTL_LLM_HELM") or shutil.which("helm") or sys.exit("helm not on PATH")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    # An installed plugin runs from byte-compiled modules; a dev shell with PYTHONDONTWRITEBYTECODE=1 would time
    # the compiler instead. Drop it and let one warm-up run per command write the caches.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    ok = True
    print(f"{'model':34s} {'plan':>8s} {'template':>9s} {'ratio':>6s} {'dry-run':>8s} {'dry-run-cpu':>11s} "
          f"{'load':>5s}   (medians of {args.runs}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    dry_cpus: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for mid in args.models:
            data = json.loads(catalog.find(mid).read_text())
            d = Path(tmp) / mid.replace("/", "__")
            d.mkdir()
            (d / "config.json").write_text(json.dumps(data["config"]))
            plan = make_plan(ModelSource(model_id=mid, config=data["config"], weights=None, origin="local"), PlanRequest())
            values = Path(tmp) / f"{d.name}.values.json"
            values.write_text(json.dumps(chart_values(plan)))
            (t_plan, t_tpl, t_dry), (_, _, c_dry) = median_times([
                [exe, "plan", str(d), "-o", "json"],
                [helm, "template", plan.name, str(chart_path("llm-model")), "-f", str(values)],
                [exe, "add", str(d), "--model-id", mid, "--dry-run=client", "-o", "yaml"]], args.runs, env)
            ratio = t_plan / t_tpl
            ok &= ratio <= PLAN_VS_TEMPLATE and t_dry <= DRY_RUN_S
            dry_cpus.append(c_dry)
            print(f"{mid:34s} {t_plan * 1000:6.0f}ms {t_tpl * 1000:7.0f}ms {ratio:5.1f}x {t_dry * 1000:6.0f}ms "
                  f"{c_dry * 1000:9.0f}ms {os.getloadavg()[0]:5.1f}")
    configs = [json.loads(catalog.find(m).read_text())["config"] for m in catalog.model_ids()]
    from kubectl_llm.planner.facts import checkpoint_shapes
    from kubectl_llm.planner.weights import estimate_weights

    t = time.perf_counter()
    for c in configs:
        estimate_weights(checkpoint_shapes(c))
    print(f"weight estimate of all {len(configs)} catalog configs in-process: {(time.perf_counter() - t) * 1000:.0f} ms")
    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} CPUs (other jobs slow both sides, not always "
          f"alike)")
    busy = f" (a busy machine: the load average is above {os.cpu_count()} CPUs, so wall times include waiting for " \
           f"a CPU; dry-run CPU time at most {max(dry_cpus) * 1000:.0f} ms)" if not ok and load > (os.cpu_count() or 1) else ""
    print(f"goals: plan <= {PLAN_VS_TEMPLATE:.0f}x helm template, add --dry-run=client <= {DRY_RUN_S * 1000:.0f} ms: "
          f"{'met' if ok else 'MISSED'}{busy}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
