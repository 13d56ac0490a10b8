"""The planner's chart values: every planned model satisfies charts/llm-model/values.schema.json, and a planned
release renders through the real helm binary into objects that validate strictly (core kinds + CRDs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubectl_llm import catalog
from kubectl_llm.errors import LlmError
from kubectl_llm.planner.values import chart_values
from manifest_validation import render_chart, validate_objects, validate_values
from test_planner import plan

CHART = Path(__file__).resolve().parents[1] / "charts" / "llm-model"


def _values(model_id, **kw):
    try:
        p = plan(model_id, **kw)
    except LlmError:
        return None
    return chart_values(p) if p.best else None


@pytest.mark.parametrize("model_id", catalog.model_ids())
def test_planned_values_match_chart_schema(model_id):
    values = _values(model_id)
    if values is not None:
        validate_values(values)


def test_planned_release_renders_and_validates():
    # the handbook's MiniMax example, rendered: the Deployment carries exactly the planned command line
    p = plan("MiniMaxAI/MiniMax-M2.5", gpu_type="A100-80GB", context=262144)
    values = chart_values(p)
    objs = render_chart(CHART, values, release="minimax-m2-5")
    validate_objects(objs)
    dep = next(o for o in objs if o["kind"] == "Deployment")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["args"] == p.to_dict()["serving"]["args"]
    assert c["resources"]["limits"]["nvidia.com/a100"] in (4, "4")
    assert c["resources"]["requests"]["cpu"] in ("10", 10)
    route = next(o for o in objs if o["kind"] == "AIGatewayRoute")
    header = route["spec"]["rules"][0]["matches"][0]["headers"][0]
    assert header["value"] == "minimax-m2-5"
    # a hybrid multimodal model with PP and env (Qwen3.5 long context) renders too
    p = plan("Qwen/Qwen3.5-397B-A17B-FP8", gpu_type="H200", context=1010000)
    objs = render_chart(CHART, chart_values(p), release="qwen3-5-397b")
    validate_objects(objs)
    env = next(o for o in objs if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "VLLM_ALLOW_LONG_MAX_MODEL_LEN", "value": "1"} in env
