"""`status` and `logs` over a recorded Helm release and a fake cluster view; `gateway install --dry-run=client`."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from kubectl_llm.adapters import cluster
from kubectl_llm.adapters.cluster import ContainerView, EventView, PodView
from kubectl_llm.cli.main import cli
from tests.manifest_validation import validate_objects
from tests.test_cli_progress import ALLOCATED
from tests.test_helm_contract import fake_helm  # noqa: F401 - fixture

NS = "nrp-llm"


@pytest.fixture
def starting_pod(monkeypatch):
    pod = PodView(name="qwen3-8b-7d9f-abc", phase="Running", node="gpu-07", scheduled=True, ready=False,
                  containers=[ContainerView("vllm", False, "running")])
    monkeypatch.setattr(cluster.Cluster, "pods", lambda self, name, ns: [pod] if name == "qwen3-8b" else [])
    deployment = {"metadata": {"name": "qwen3-8b", "namespace": NS, "generation": 1},
                  "spec": {"replicas": 1}, "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1}}
    monkeypatch.setattr(cluster.Cluster, "inference_workloads", lambda self, ns, release=None: {
        (NS, "qwen3-8b"): ("Deployment", deployment, [pod])})
    monkeypatch.setattr(cluster.Cluster, "logs", lambda self, pod, ns, tail=None, container=None: ALLOCATED)
    monkeypatch.setattr(cluster.Cluster, "events", lambda self, pod, ns, limit=8: [
        EventView("Normal", "Pulled", 'Successfully pulled image "vllm/vllm-openai:v0.17.0"', 1, "t1")])
    monkeypatch.setattr(cluster.Cluster, "gateway", lambda self, name, ns, section=None: cluster.GatewayView(
        name, ns, found=True, address="203.0.113.10"))
    monkeypatch.setattr(cluster.Cluster, "route", lambda self, name, ns: cluster.RouteView(True, True, ""))
    monkeypatch.setattr(cluster.Cluster, "workload_problems", lambda self, name, ns: [])
    return pod


def test_status_shows_phase_events_engine_progress_route_and_curl(fake_helm, starting_pod):  # noqa: F811
    assert CliRunner().invoke(cli, ["add", "Qwen/Qwen3-8B", "-n", NS]).exit_code == 0
    result = CliRunner().invoke(cli, ["status", "qwen3-8b", "-n", NS, "-o", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    (p,) = doc["pods"]
    assert (p["phase"], p["ready"], p["stage"]) == ("Running", False, "KV cache allocated")
    assert p["events"][0]["reason"] == "Pulled"
    assert doc["engine"]["kv_cache_tokens"] == 147056 and doc["engine"]["weights_gib"] == 15.2683
    assert doc["route"] == "qwen3-8b" and doc["model"] == "Qwen/Qwen3-8B"
    assert doc["replicas"] == {"ready": 0, "desired": 1, "updated": 1, "pods_per_replica": 1,
                               "workload": "Deployment"}            # the pod is not Ready yet: 0 of 1
    assert doc["curl"].startswith("curl -s http://203.0.113.10/v1/chat/completions")
    assert '"model":"qwen3-8b"' in doc["curl"]
    text = CliRunner().invoke(cli, ["status", "qwen3-8b", "-n", NS]).stdout
    assert "stage     KV cache allocated: KV cache allocated (20.21 GiB, 147,056 tokens), warming up" in text
    assert "kv cache  147,056 tokens, 20.21 GiB, max concurrency 3.59x" in text


def test_logs_print_the_newest_pod(fake_helm, starting_pod):  # noqa: F811
    assert CliRunner().invoke(cli, ["add", "Qwen/Qwen3-8B", "-n", NS]).exit_code == 0
    result = CliRunner().invoke(cli, ["logs", "qwen3-8b", "-n", NS])
    assert result.exit_code == 0 and "GPU KV cache size: 147,056 tokens" in result.stdout


def test_gateway_install_client_dry_run_renders_the_gateway_chart(helm_bin, monkeypatch):
    monkeypatch.delenv("KUBECTL_LLM_HELM", raising=False)
    result = CliRunner().invoke(cli, ["gateway", "install", "-n", NS, "--dry-run=client", "-o", "yaml"])
    assert result.exit_code == 0, result.stderr
    objs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert "Gateway" in {o["kind"] for o in objs}
    validate_objects(objs)
