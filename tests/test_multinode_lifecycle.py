"""A model spanning nodes, end to end against tests/fakes/apiserver.py with the real helm: add (a LeaderWorkerSet,
the fake's tiny LWS controller makes the leader and worker pods and their PVCs) -> list -> status (every pod of the
group, leader first) -> logs --worker -> upgrade -> rm (nothing left, the per-pod PVCs included); replicas; the
LeaderWorkerSet CRD missing on the cluster."""

from __future__ import annotations

import pytest

from kubectl_llm.adapters.cluster import Cluster
from tests.fakes.apiserver import FakeApiServer
from tests.test_cli_lifecycle import NS, VLLM_LOG, as_json, failed, fake, helm_release_secrets, kllm  # noqa: F401

MODEL = "meta-llama/Llama-3.1-405B"
NAME = "llama-3-1-405b"
LABEL = f"llm.nrp-nautilus.io/model={NAME}"
WORKER_LOG = "INFO 05-09 07:35:30 [multiproc_executor.py:90] headless worker rank 8..15 ready\n"


def lws_args(fake: FakeApiServer, role: str = "leaderTemplate") -> list[str]:
    lws = fake.get_object("LeaderWorkerSet", NAME, NS)
    return lws["spec"]["leaderWorkerTemplate"][role]["spec"]["containers"][0]["args"]


def test_multi_node_lifecycle_add_status_logs_upgrade_rm(fake: FakeApiServer) -> None:
    fake.set_pod_log(VLLM_LOG, pod=f"{NAME}-0")
    fake.set_pod_log(WORKER_LOG, pod=f"{NAME}-0-")
    added = as_json("add", MODEL, "--gpu", "H100-80GB")
    assert (added["name"], added["action"], added["revision"]) == (NAME, "installed", 1)
    objs = set(fake.objects(LABEL, namespace=NS))
    assert {("LeaderWorkerSet", NAME), ("Service", NAME), ("Pod", f"{NAME}-0"), ("Pod", f"{NAME}-0-1"),
            ("PersistentVolumeClaim", f"cache-{NAME}-0"), ("PersistentVolumeClaim", f"cache-{NAME}-0-1"),
            ("AIGatewayRoute", NAME)} <= objs
    assert not {k for k, _ in objs} & {"Deployment", "ReplicaSet"}
    worker = fake.get_object("Pod", f"{NAME}-0-1", NS)
    assert {"name": "LWS_WORKER_INDEX", "value": "1"} in worker["spec"]["containers"][0]["env"]

    (row,) = as_json("list")
    assert row["gpu"] == {"type": "H100-80GB", "count": 16, "nodes": 2, "per_node": 8} and row["replicas"] == 1
    assert "16 x H100-80GB (2 nodes)" in kllm("list").stdout

    status = as_json("status", NAME)
    assert [(p["name"], p["role"]) for p in status["pods"]] == [(f"{NAME}-0", "leader"), (f"{NAME}-0-1", "worker 1")]
    assert status["replicas"] == {"ready": 1, "desired": 1, "pods_per_replica": 2} and status["failing"] is None
    assert status["engine"]["kv_cache_tokens"] == 180224          # the leader's log, not the worker's
    text = kllm("status", NAME).stdout
    assert "replicas  1/1 ready (groups of 2 pods, one per node)" in text and f"pod       {NAME}-0 (leader)" in text

    assert kllm("logs", NAME, "--tail", "1").stdout.strip() == "INFO:     Application startup complete."
    assert kllm("logs", NAME, "--worker", "1").stdout == WORKER_LOG
    stderr = failed("logs", NAME, "--worker", "3", code=2, starts=f"release '{NAME}' has no worker 3")
    assert "0 is the leader" in stderr

    up = as_json("upgrade", NAME, "--context-length", "16384")
    assert (up["action"], up["revision"]) == ("upgraded", 2)
    for role in ("leaderTemplate", "workerTemplate"):
        args = lws_args(fake, role)
        assert args[args.index("--max-model-len") + 1] == "16384"
    pod_args = fake.get_object("Pod", f"{NAME}-0-1", NS)["spec"]["containers"][0]["args"]
    assert pod_args[pod_args.index("--max-model-len") + 1] == "16384"      # the group was recreated

    cluster = Cluster()
    assert {f"{k}/{n}" for k, n in fake.objects(LABEL, namespace=NS)} == set(cluster.labelled_objects(LABEL, NS))
    removed = as_json("rm", NAME)
    assert f"LeaderWorkerSet/{NAME}" in removed["removed"] and removed["kept"] == []
    assert fake.objects(LABEL) == [] and cluster.labelled_objects(LABEL, NS) == []
    assert helm_release_secrets(fake, NAME) == [] and as_json("list") == []


@pytest.mark.parametrize("fake", [{"pod_mode": "unschedulable"}], indirect=True)
def test_status_of_a_group_names_the_first_pod_that_is_not_ready(fake: FakeApiServer) -> None:
    as_json("add", MODEL, "--gpu", "H100-80GB")
    status = as_json("status", NAME)
    assert status["replicas"]["ready"] == 0
    assert status["failing"]["pod"] == f"{NAME}-0" and status["failing"]["stage"] == "pending"
    assert "Insufficient nvidia.com/gpu" in status["failing"]["detail"]
    assert [p["role"] for p in status["pods"]] == ["leader", "worker 1"]
    assert f"first not ready  {NAME}-0: pending - 0/3 nodes are available" in kllm("status", NAME).stdout


@pytest.mark.parametrize("fake", [{"served_groups": ["aigateway.envoyproxy.io", "gateway.envoyproxy.io",
                                                     "gateway.networking.k8s.io"]}], indirect=True)
def test_missing_leaderworkerset_crd_is_named_with_the_install_command(fake: FakeApiServer) -> None:
    for args in (["add", MODEL, "--gpu", "H100-80GB"], ["add", MODEL, "--gpu", "H100-80GB", "--dry-run=server"]):
        stderr = failed(*args, starts="the cluster does not serve leaderworkerset.x-k8s.io")
        assert "hint: a cluster admin installs LeaderWorkerSet" in stderr and "kubectl apply --server-side" in stderr
    assert fake.objects(LABEL) == [] and helm_release_secrets(fake, NAME) == []
    # a model that fits one node needs no LeaderWorkerSet
    assert as_json("add", "Qwen/Qwen3-8B", "--gpu", "L40")["action"] == "installed"


def test_replicas_serve_behind_one_service(fake: FakeApiServer) -> None:
    as_json("add", "Qwen/Qwen3-8B", "--gpu", "L40", "--replicas", "2")
    dep = fake.get_object("Deployment", "qwen3-8b", NS)
    assert dep["spec"]["replicas"] == 2
    assert len([n for k, n in fake.objects("llm.nrp-nautilus.io/model=qwen3-8b", namespace=NS) if k == "Pod"]) == 2
    status = as_json("status", "qwen3-8b")
    assert status["replicas"] == {"ready": 2, "desired": 2, "pods_per_replica": 1}
    (row,) = as_json("list")
    assert row["replicas"] == 2 and "2 x (1 x L40)" in kllm("list").stdout


@pytest.fixture
def fast_group_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubectl_llm.cli import release_cmds, waiting

    monkeypatch.setattr(release_cmds, "GROUP_POLL_SECONDS", 0.05)
    monkeypatch.setattr(waiting, "POLL_SECONDS", 0.05)


def test_add_wait_returns_once_every_pod_of_the_group_is_ready(fake: FakeApiServer, fast_group_poll: None) -> None:
    result = kllm("add", MODEL, "--gpu", "H100-80GB", "--wait", "-o", "json")
    assert '"action": "installed"' in result.stdout
    assert all(fake.get_object("Pod", p, NS)["status"]["phase"] == "Running" for p in (f"{NAME}-0", f"{NAME}-0-1"))


@pytest.mark.parametrize("fake", [{"pod_mode": "unschedulable"}], indirect=True)
def test_add_wait_on_a_group_that_never_gets_ready_leaves_nothing(fake: FakeApiServer, fast_group_poll: None) -> None:
    """Helm's --wait sees a LeaderWorkerSet as ready once it exists; ours waits for the group's pods and undoes the
    install when they are not ready within --timeout."""
    stderr = failed("add", MODEL, "--gpu", "H100-80GB", "--wait", "--timeout", "2s",
                    starts=f"release {NAME}: 0/1 groups of 2 pods ready after 2s (the install was removed)")
    assert f"kubectl llm status {NAME}" in stderr
    assert fake.objects(LABEL) == [] and helm_release_secrets(fake, NAME) == []
