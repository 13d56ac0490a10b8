"""benchmarks/bench_plan.py keeps running as the CLI changes (it broke once when `add DIR` started to need
--model-id). Only that its commands succeed is checked here: speed is judged from the script's own report, never by
a timed test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def test_benchmark_commands_run_for_one_model() -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "bench_plan.py"), "--runs", "1",
                           "Qwen/Qwen3-8B"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr          # 1 = a goal missed on a busy machine, not a broken command
    row = next(line for line in proc.stdout.splitlines() if line.startswith("Qwen/Qwen3-8B"))
    cells = row.split()
    assert row.count("ms") == 4 and cells[3].endswith("x")   # plan, template, ratio, dry-run, dry-run CPU measured
    assert float(cells[-1]) >= 0                                     # the load average beside the figures
    assert 0 < int(cells[5].removesuffix("ms")) < 60_000
    assert "goals:" in proc.stdout
