#!/usr/bin/env python3
"""Benchmark: wall time of `kubectl-llm plan <local dir> -o json` (a fresh process each run, as an admin types it).

Goal (issue 2): median <= 0.5 s on the 2-core dev machine. Usage:
    python benchmarks/bench_plan.py [--runs 15] [MODEL_ID ...]
Each model's catalog config is written to a temp directory so the run is fully offline (local-dir path: no Hub
client is imported). Prints one line per model and exits 1 when a median exceeds the goal.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubectl_llm import catalog

GOAL_S = 0.5
DEFAULT_MODELS = ["Qwen/Qwen3-8B", "MiniMaxAI/MiniMax-M2.5", "deepseek-ai/DeepSeek-V3", "Qwen/Qwen3.5-397B-A17B"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=DEFAULT_MODELS)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    exe = shutil.which("kubectl-llm") or sys.exit("kubectl-llm not on PATH (pip install -e .)")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for mid in args.models:
            data = json.loads(catalog.find(mid).read_text())
            d = Path(tmp) / mid.replace("/", "__")
            d.mkdir()
            (d / "config.json").write_text(json.dumps(data["config"]))
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                proc = subprocess.run([exe, "plan", str(d), "-o", "json"], capture_output=True, text=True)
                times.append(time.perf_counter() - t)
                if proc.returncode not in (0, 5):
                    sys.exit(f"{mid}: exit {proc.returncode}: {proc.stderr.strip()}")
            med = statistics.median(times)
            worst = max(worst, med)
            print(f"{mid:40s} median {med * 1000:6.0f} ms  min {min(times) * 1000:6.0f} ms  ({args.runs} runs)")
    print(f"goal {GOAL_S * 1000:.0f} ms: {'met' if worst <= GOAL_S else 'MISSED'}")
    return 0 if worst <= GOAL_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
