"""--set / -f overrides merged the way Helm merges them, and the fit warnings they trigger. Pure functions."""

from __future__ import annotations

import pytest

from kubectl_llm.cli.overrides import apply_overrides, deep_merge, fit_warnings, parse_set
from kubectl_llm.errors import UsageError


def test_set_grammar_and_types_follow_helm():
    assert parse_set(["gpu.count=2,engine.name=vllm"]) == {"gpu": {"count": 2}, "engine": {"name": "vllm"}}
    # Helm's --set keeps floats as strings, types true/false/null and integers without leading zeros.
    assert parse_set(["a=0.95", "b=true", "c=null", "d=007", "e=-3"]) == {
        "a": "0.95", "b": True, "c": None, "d": "007", "e": -3}
    assert parse_set(["args[1]=x"]) == {"args": [None, "x"]}
    assert parse_set(["list={a,b,3}"]) == {"list": ["a", "b", 3]}
    assert parse_set([r"annotations.nvidia\.com/gpu=1,msg=a\,b"]) == {"annotations": {"nvidia.com/gpu": 1},
                                                                        "msg": "a,b"}
    assert parse_set(["gpu.count=2"], as_string=True) == {"gpu": {"count": "2"}}
    with pytest.raises(UsageError):
        parse_set(["novalue"])


def test_merge_replaces_lists_like_helm_not_like_pyhelm3():
    base = {"engine": {"args": ["--a", "1"], "name": "vllm"}, "gpu": {"count": 1}}
    assert deep_merge(base, {"engine": {"args": ["--b"]}}) == {"engine": {"args": ["--b"], "name": "vllm"},
                                                               "gpu": {"count": 1}}
    assert deep_merge(base, {"gpu": None}) == {"engine": {"args": ["--a", "1"], "name": "vllm"}}


def test_files_then_set_then_set_string(tmp_path):
    f = tmp_path / "v.yaml"
    f.write_text("gpu:\n  count: 4\nstorage:\n  size: 50Gi\n")
    values, user = apply_overrides({"gpu": {"count": 1, "type": "L40"}}, (str(f),), ("gpu.count=2",),
                                   ("storage.size=60Gi",))
    assert values == {"gpu": {"count": 2, "type": "L40"}, "storage": {"size": "60Gi"}}
    assert user == {"gpu": {"count": 2}, "storage": {"size": "60Gi"}}


def test_bad_values_file_is_a_usage_error(tmp_path):
    f = tmp_path / "v.yaml"
    f.write_text("- just\n- a list\n")
    with pytest.raises(UsageError, match="must hold a YAML mapping"):
        apply_overrides({}, (str(f),))


def test_fit_warnings_name_the_numbers():
    planned = {"gpu": {"count": 4, "type": "A100-80GB"},
               "engine": {"maxModelLen": 262144, "gpuMemoryUtilization": 0.95}}
    assert fit_warnings(planned, {"gpu": {"count": 4}}) == []
    (w,) = fit_warnings(planned, {"gpu": {"count": 2}})
    assert w.startswith("--set gpu.count=2 is below the planned 4 GPUs")
    # the sized engine numbers live in engine.args: overriding the informational key is called out as such
    (w,) = fit_warnings(planned, {"engine": {"maxModelLen": 300000}})
    assert "--max-model-len stays 262144" in w and "--context-length" in w
    assert fit_warnings(planned, {"engine": {"maxModelLen": 262144}}) == []


def test_override_below_the_planned_gpus_asks_the_planner_again(monkeypatch):
    """The planner re-checks the forced GPU count: 1 x 8 GiB cannot hold Qwen3-8B, so the add warns it."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from kubectl_llm.cli.planning import build_request, load_source, make_plan, planned_values

    request = build_request({"gpu_memory": "8GiB"}, None)
    source = load_source("Qwen/Qwen3-8B", None)
    plan = make_plan(source, request)
    assert plan.fits and plan.to_dict()["gpu"]["count"] >= 2
    planned = planned_values(source, request, plan, (), ("gpu.count=1",), ())
    assert planned.values["gpu"]["count"] == 1
    assert any(w.startswith("with your overrides the plan does NOT fit") for w in planned.warnings)
