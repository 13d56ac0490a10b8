"""`kubectl llm gpus --cluster` and `--gpu auto` against the fake API server: GPU nodes from their labels, GPUs
requested by the pods bound to them, the choice among the cluster's types, and the catalog fallback when a
namespace-scoped user cannot list nodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubectl_llm import fleet
from tests.cli_harness import cli_cluster, kllm
from tests.fakes.apiserver import FakeApiServer

NS = "llm"
NRP_TAINT = {"key": "nautilus.io/reservation", "value": "nrp-llm", "effect": "NoSchedule"}


def node(name: str, product: str, mib: int, count: int, *, driver: int = 570, resource: str = "nvidia.com/gpu",
         taints: list[dict] | None = None, ready: bool = True) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"nvidia.com/gpu.product": product, "nvidia.com/gpu.memory": str(mib),
                                                  "nvidia.com/gpu.count": str(count),
                                                  "nvidia.com/cuda.driver.major": str(driver)}},
            "spec": {"taints": taints or []},
            "status": {"allocatable": {resource: str(count), "cpu": "64"},
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def gpu_pod(name: str, on: str, gpus: int, ns: str = "other", resource: str = "nvidia.com/gpu",
            phase: str = "Running") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"nodeName": on, "containers": [{"name": "c", "image": "x",
                                                     "resources": {"limits": {resource: str(gpus)}}}]},
            "status": {"phase": phase}}


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    with cli_cluster(tmp_path, monkeypatch, namespaces=[NS, "other"], **(getattr(request, "param", {}) or {})) as api:
        for obj in (node("l40-a", "NVIDIA-L40", 46068, 4), node("l40-b", "NVIDIA-L40", 46068, 4),
                    node("a100-a", "NVIDIA-A100-SXM4-80GB", 81920, 8, resource="nvidia.com/a100",
                         taints=[NRP_TAINT]),
                    node("new-card", "NVIDIA-B300-SXM6-288GB", 294912, 8),
                    node("cpu-only", "", 0, 0)):
            if not obj["metadata"]["labels"]["nvidia.com/gpu.product"]:
                obj["metadata"]["labels"] = {}
                obj["status"]["allocatable"] = {"cpu": "32"}
            api.create_object(obj)
        # l40-a: 3 of 4 requested; l40-b: all 4 requested; a finished pod holds nothing.
        for obj in (gpu_pod("train-1", "l40-a", 2), gpu_pod("train-2", "l40-a", 1), gpu_pod("big", "l40-b", 4),
                    gpu_pod("done", "l40-a", 1, phase="Succeeded"), gpu_pod("a100-job", "a100-a", 6,
                                                                            resource="nvidia.com/a100"),
                    gpu_pod("b300-job", "new-card", 8)):
            api.create_object(obj)
        yield api


def test_gpus_cluster_lists_nodes_with_allocatable_and_requested(fake: FakeApiServer) -> None:
    doc = json.loads(kllm("gpus", "--cluster", "-o", "json").stdout)
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert sorted(nodes) == ["a100-a", "l40-a", "l40-b", "new-card"]      # the CPU node is no GPU node
    assert {k: (n["type"], n["allocatable"], n["requested"], n["free"]) for k, n in nodes.items()} == {
        "a100-a": ("A100-80GB", 8, 6, 2), "l40-a": ("L40", 4, 3, 1), "l40-b": ("L40", 4, 4, 0),
        "new-card": (None, 8, 8, 0)}
    a100 = nodes["a100-a"]
    assert (a100["product"], a100["memory_mib"], a100["count"], a100["driver_major"], a100["resource"]) == \
        ("NVIDIA-A100-SXM4-80GB", 81920, 8, 570, "nvidia.com/a100")
    assert a100["taints"] == [NRP_TAINT]
    types = {t["type"]: t for t in doc["types"]}
    assert (types["L40"]["nodes"], types["L40"]["allocatable"], types["L40"]["free"],
            types["L40"]["max_free_on_one_node"]) == (2, 8, 1, 1)
    assert types["NVIDIA-B300-SXM6-288GB"]["in_catalog"] is False
    table = kllm("gpus", "--cluster").stdout
    assert "(not in catalog)" in table and "nautilus.io/reservation=nrp-llm:NoSchedule" in table


def test_gpu_auto_prefers_a_type_with_the_count_free_on_one_node(fake: FakeApiServer) -> None:
    """Qwen3-8B needs 1 GPU on either type. L40 reserves less memory and l40-a has 1 free: L40 on l40-a."""
    result = kllm("plan", "Qwen/Qwen3-8B", "--gpu", "auto", "-o", "json")
    assert json.loads(result.stdout)["gpu"]["type"] == "L40"
    assert "--gpu auto: 1 x L40; nodes that could take it now: l40-a" in result.stderr

    # The last free L40 taken: the A100 node (2 free, its reservation taint tolerated by the plan) wins now,
    # although an L40 would reserve less memory.
    fake.create_object(gpu_pod("grab", "l40-a", 1))
    result = kllm("plan", "Qwen/Qwen3-8B", "--gpu", "auto", "-o", "json")
    assert json.loads(result.stdout)["gpu"]["type"] == "A100-80GB"
    assert "--gpu auto: 1 x A100-80GB; nodes that could take it now: a100-a" in result.stderr

    # add --gpu auto installs what it chose.
    added = kllm("add", "Qwen/Qwen3-8B", "--gpu", "auto", "-o", "json")
    assert "1 x A100-80GB" in added.stderr
    assert fake.get_object("Deployment", "qwen3-8b", NS)["spec"]["template"]["spec"]["containers"][0][
        "resources"]["limits"]["nvidia.com/a100"] in (1, "1")


def test_gpu_auto_plans_a_type_missing_from_the_catalog_from_its_labels(fake: FakeApiServer) -> None:
    """Only the B300 node free: the card is not in the catalog, so it is planned from gpu.memory (288 GiB label)."""
    for name in ("l40-a", "l40-b", "a100-a"):
        fake.delete_object("Node", name)
    fake.delete_object("Pod", "b300-job", "other")
    result = kllm("plan", "Qwen/Qwen3-8B", "--gpu", "auto", "-o", "json")
    doc = json.loads(result.stdout)
    assert doc["gpu"]["memory_bytes"] == 294912 * 2**20 - int(0.6 * 2**30) == fleet.usable_bytes(294912)
    assert "1 x NVIDIA-B300-SXM6-288GB (not in the catalog: planned from its memory label); nodes that could take " \
           "it now: new-card" in result.stderr


@pytest.mark.parametrize("fake", [{"forbidden": lambda r: r["resource"] == "nodes"}], indirect=True)
def test_gpu_auto_without_rights_to_list_nodes_falls_back_to_the_catalog(fake: FakeApiServer) -> None:
    result = kllm("plan", "Qwen/Qwen3-8B", "--gpu", "auto", "-o", "json")
    catalog = json.loads(kllm("plan", "Qwen/Qwen3-8B", "-o", "json").stdout)
    assert json.loads(result.stdout)["gpu"]["type"] == catalog["gpu"]["type"]
    assert "warning: --gpu auto: cannot read the cluster's GPU nodes (permission denied" in result.stderr
    assert "planning with the catalog's types instead" in result.stderr
    failed = kllm("gpus", "--cluster", code=6)
    assert failed.stderr.startswith("error: permission denied") and "hint:" in failed.stderr


def test_choice_rules_are_pure() -> None:
    c = fleet.GpuCandidate
    assert fleet.choose_gpu([c("A", True, True, 1, 80, ()), c("B", True, True, 1, 48, ())]).gpu == "B"
    assert fleet.choose_gpu([c("A", True, True, 1, 80, ("n1",)), c("B", True, True, 1, 48, ())]).gpu == "A"
    assert fleet.choose_gpu([c("A", True, False, 0, 0, ())]) is None
    assert fleet.tolerates([{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}],
                           {"key": "k", "value": "v", "effect": "NoSchedule"})
    assert not fleet.tolerates([], {"key": "k", "value": "v", "effect": "NoSchedule"})
    assert fleet.tolerates([], {"key": "k", "effect": "PreferNoSchedule"})
    labels = {"nvidia.com/gpu.memory": "46068", "nvidia.com/cuda.driver.major": "570"}
    assert fleet.matches_affinity([{"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["45000"]}], labels)
    assert not fleet.matches_affinity([{"key": "nvidia.com/cuda.driver.major", "operator": "Gt",
                                        "values": ["575"]}], labels)


def test_gpus_cluster_on_a_cluster_without_gpu_nodes_says_which_label_it_looked_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: 'no node has a nvidia.com/gpu.product label' (and 'a acme.dev/...' on another site): the label is
    named as a label."""
    with cli_cluster(tmp_path, monkeypatch, namespaces=[NS]) as api:
        cpu = node("cpu-only", "", 0, 0)
        cpu["metadata"]["labels"], cpu["status"]["allocatable"] = {}, {"cpu": "32"}
        api.create_object(cpu)
        result = kllm("gpus", "--cluster")
        assert result.stdout == ""
        assert "no GPU nodes (no node has the label nvidia.com/gpu.product or a GPU resource)" in result.stderr
