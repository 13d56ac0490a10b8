"""Handbook rules and defaults live in planner/rules.py only; the charts' own defaults agree with it."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from kubectl_llm.planner import rules

ROOT = Path(__file__).resolve().parents[1]
MODEL_VALUES = yaml.safe_load((ROOT / "charts" / "llm-model" / "values.yaml").read_text())
GATEWAY_VALUES = yaml.safe_load((ROOT / "charts" / "llm-gateway" / "values.yaml").read_text())


def _after(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_model_chart_defaults_agree_with_rules() -> None:
    engine = MODEL_VALUES["engine"]
    assert engine["port"] == MODEL_VALUES["service"]["port"] == rules.ENGINE_PORT == 5000
    assert _after(engine["args"], "--port") == str(rules.ENGINE_PORT)
    assert _after(engine["args"], "--download-dir") == rules.DOWNLOAD_DIR
    assert MODEL_VALUES["probes"]["downloadBytesPerSecond"] == rules.DOWNLOAD_BYTES_PER_SECOND
    assert MODEL_VALUES["probes"]["loadSeconds"] == rules.MIN_LOAD_SECONDS
    assert MODEL_VALUES["gateway"]["timeout"] == rules.ROUTE_TIMEOUT == "1200s"


def test_gateway_chart_waits_at_least_the_route_timeout() -> None:
    # Envoy drains in-flight requests and resets silent streams no sooner than a route's request deadline
    assert GATEWAY_VALUES["envoyProxy"]["drainTimeout"] == rules.ROUTE_TIMEOUT
    assert GATEWAY_VALUES["clientTrafficPolicy"]["streamIdleTimeout"] == rules.ROUTE_TIMEOUT


def test_planner_uses_the_rules() -> None:
    from kubectl_llm.planner.plan import make_plan
    from kubectl_llm.planner.request import PlanRequest
    from kubectl_llm.planner.values import chart_values
    from tests.test_planner import source

    plan = make_plan(source("Qwen/Qwen3-8B"), PlanRequest(gpu_type="A100"))
    d = plan.to_dict()
    assert d["route"]["timeout"] == rules.ROUTE_TIMEOUT
    args = d["serving"]["args"]
    assert _after(args, "--port") == str(rules.ENGINE_PORT) and _after(args, "--download-dir") == rules.DOWNLOAD_DIR
    assert float(_after(args, "--gpu-memory-utilization")) == rules.DEFAULT_UTILIZATION
    v = chart_values(plan)
    assert v["probes"]["downloadBytesPerSecond"] == rules.DOWNLOAD_BYTES_PER_SECOND
    assert v["probes"]["loadSeconds"] == rules.MIN_LOAD_SECONDS      # 16 GB on one GPU: the 15-minute floor


# literal values that must appear only in rules.py (a second copy is how they drift apart); the default utilisation
# is left out of the scan because 0.95 is also an ordinary ratio elsewhere (a load test's "95 % of the target")
_ONE_PLACE = {"1200s", rules.DOWNLOAD_DIR, rules.ENGINE_PORT, rules.DOWNLOAD_BYTES_PER_SECOND, rules.GPU_COUNTS,
              rules.KV_DTYPES}


def test_each_rule_is_written_once() -> None:
    found = []
    for path in sorted((ROOT / "kubectl_llm").rglob("*.py")):
        if path.name == "rules.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            value = None
            if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
                value = node.value
            elif isinstance(node, ast.Tuple) and all(isinstance(e, ast.Constant) for e in node.elts):
                value = tuple(e.value for e in node.elts)  # type: ignore[attr-defined]
            if value is not None and value in _ONE_PLACE:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {value!r}")
    assert not found, found
