"""--set / -f overrides merged the way Helm merges them, and the planner-owned keys they may not set. Pure."""

from __future__ import annotations

import pytest

from kubectl_llm.cli.overrides import PLAN_OWNED, apply_overrides, deep_merge, parse_set, plan_owned, refuse_plan_owned
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


def test_plan_owned_keys_are_found_at_any_depth():
    assert plan_owned({"gpu": {"count": 4}, "storage": {"size": "9Gi"}}) == [("gpu.count", PLAN_OWNED["gpu.count"])]
    assert [k for k, _ in plan_owned({"gpu": None})] == ["gpu.count", "gpu.type", "gpu.resource"]
    assert [k for k, _ in plan_owned({"engine": {"args": [None, "x"], "image": "v"}})] == ["engine.args"]
    assert plan_owned({"engine": {"image": "vllm/vllm-openai:v0.18.0", "env": []}, "scheduling": {}}) == []
    with pytest.raises(UsageError, match="gpu.count, resources.cpu are planned"):
        refuse_plan_owned({"gpu": {"count": 4}, "resources": {"cpu": "10"}})
