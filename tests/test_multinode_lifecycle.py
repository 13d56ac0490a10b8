"""A model spanning nodes, end to end against tests/fakes/apiserver.py with the real helm: add (a LeaderWorkerSet,
the fake's tiny LWS controller makes the leader and worker pods and their PVCs) -> list -> status (every pod of the
group, leader first) -> logs --worker -> upgrade -> rm (nothing left, the per-pod PVCs included); replicas; the
LeaderWorkerSet CRD missing on the cluster."""

from __future__ import annotations

import json
import re

import pytest

from kubectl_llm.adapters.cluster import Cluster
from tests.fakes.apiserver import FakeApiServer
from tests.test_cli_lifecycle import NS, VLLM_LOG, as_json, failed, fake, helm_release_secrets, kllm  # noqa: F401

MODEL = "meta-llama/Llama-3.1-405B"
NAME = "llama-3-1-405b"
LABEL = f"llm.nrp-nautilus.io/model={NAME}"
WORKER_LOG = "INFO 05-09 07:35:30 [multiproc_executor.py:90] headless worker rank 8..15 ready\n"


def table_row(stdout: str, name: str) -> dict[str, str]:
    """The cells of release NAME's row of a `list` table, by header (cells are 2+ spaces apart)."""
    header, *rows = [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines()]
    (row,) = [r for r in rows if name in r]
    return dict(zip(header, row))


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
    assert row["gpu"] == {"type": "H100-80GB", "count": 16, "nodes": 2, "per_node": 8}
    assert row["replicas"] == {"ready": 1, "desired": 1, "updated": 1, "pods_per_replica": 2,
                               "workload": "LeaderWorkerSet"}
    assert table_row(kllm("list").stdout, NAME) | {"AGE": "-"} == {
        "NAME": NAME, "KIND": "model", "MODEL": MODEL, "GPUS": "16 x H100-80GB (2 nodes)", "READY": "1/1",
        "CONTEXT": "131072", "ROUTE": NAME, "STATUS": "deployed", "AGE": "-"}

    status = as_json("status", NAME)
    assert [(p["name"], p["role"]) for p in status["pods"]] == [(f"{NAME}-0", "leader"), (f"{NAME}-0-1", "worker 1")]
    assert status["replicas"] == row["replicas"] and status["failing"] is None
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
    sts = fake.get_object("StatefulSet", "qwen3-8b", NS)      # ReadWriteOnce storage: a claim per replica
    assert sts["spec"]["replicas"] == 2
    assert len([n for k, n in fake.objects("llm.nrp-nautilus.io/model=qwen3-8b", namespace=NS) if k == "Pod"]) == 2
    status = as_json("status", "qwen3-8b")
    assert status["replicas"] == {"ready": 2, "desired": 2, "updated": 2, "pods_per_replica": 1,
                                  "workload": "StatefulSet"}
    (row,) = as_json("list")
    assert row["replicas"] == status["replicas"]
    cells = table_row(kllm("list").stdout, "qwen3-8b")
    assert (cells["GPUS"], cells["READY"]) == ("2 x (1 x L40)", "2/2")


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


# --- ready/desired in list and status (issue 11: "`list` / `status` show ready/desired") --------------------------
@pytest.mark.parametrize("workload,storage", [
    ("Deployment", ["--set", "storage.accessMode=ReadWriteMany"]),     # one shared claim
    ("StatefulSet", []),                                                  # ReadWriteOnce: a claim per replica
])
def test_list_and_status_count_a_pod_that_is_not_ready(fake: FakeApiServer, workload: str,
                                                       storage: list[str]) -> None:
    as_json("add", "Qwen/Qwen3-8B", "--gpu", "L40", "--replicas", "2", *storage)
    assert fake.get_object(workload, "qwen3-8b", NS) is not None
    pods = sorted(n for k, n in fake.objects("llm.nrp-nautilus.io/model=qwen3-8b", namespace=NS) if k == "Pod")
    assert len(pods) == 2
    fake.set_pod_ready(pods[1], False, NS)
    # 2 pods, 1 of them not Ready: readyReplicas 1 of spec.replicas 2 (both of the current template)
    (row,) = as_json("list")
    assert row["replicas"] == {"ready": 1, "desired": 2, "updated": 2, "pods_per_replica": 1,
                               "workload": workload}
    assert table_row(kllm("list").stdout, "qwen3-8b")["READY"] == "1/2"
    status = as_json("status", "qwen3-8b")
    assert status["replicas"] == row["replicas"] and status["failing"]["pod"] == pods[1]
    text = kllm("status", "qwen3-8b").stdout
    assert "replicas  1/2 ready\n" in text and f"first not ready  {pods[1]}: " in text


def test_list_and_status_count_a_group_with_one_worker_not_ready(fake: FakeApiServer) -> None:
    as_json("add", MODEL, "--gpu", "H100-80GB", "--replicas", "2")
    fake.set_pod_ready(f"{NAME}-1-1", False, NS)
    # group 0: leader and worker Ready; group 1: its worker is not: 1 of 2 groups (of 2 pods each) is ready
    assert fake.get_object("LeaderWorkerSet", NAME, NS)["status"]["readyReplicas"] == 1
    (row,) = as_json("list")
    assert row["replicas"] == {"ready": 1, "desired": 2, "updated": 2, "pods_per_replica": 2,
                               "workload": "LeaderWorkerSet"}
    cells = table_row(kllm("list").stdout, NAME)
    assert (cells["GPUS"], cells["READY"]) == ("2 x (16 x H100-80GB (2 nodes))", "1/2")
    status = as_json("status", NAME)
    assert status["replicas"] == row["replicas"]
    assert [(p["name"], p["role"], p["ready"]) for p in status["pods"]] == [
        (f"{NAME}-0", "leader", True), (f"{NAME}-0-1", "worker 1", True),
        (f"{NAME}-1", "leader", True), (f"{NAME}-1-1", "worker 1", False)]
    assert status["failing"]["pod"] == f"{NAME}-1-1"
    text = kllm("status", NAME).stdout
    assert "replicas  1/2 ready (groups of 2 pods, one per node)\n" in text
    assert f"first not ready  {NAME}-1-1: " in text


def test_a_workload_deleted_by_hand_shows_0_of_n_and_the_command_that_brings_it_back(fake: FakeApiServer) -> None:
    as_json("add", "Qwen/Qwen3-8B", "--gpu", "L40")
    fake.delete_object("Deployment", "qwen3-8b", NS)
    hint = "its Deployment is missing: re-apply the release with 'kubectl llm rollback qwen3-8b 1 -n llm'"
    listed = kllm("list", "-o", "json")
    (row,) = json.loads(listed.stdout)
    assert row["replicas"] == {"ready": 0, "desired": 1, "updated": 0, "pods_per_replica": 1, "workload": "missing"}
    assert f"warning: release qwen3-8b: {hint}" in listed.stderr
    assert table_row(kllm("list").stdout, "qwen3-8b")["READY"] == "0/1"
    assert f"replicas  0/1 ready - {hint}\n" in kllm("status", "qwen3-8b").stdout
    kllm("rollback", "qwen3-8b", "1")
    assert as_json("list")[0]["replicas"]["ready"] == 1


# --- --wait on a group: the old pods keep their names and stay Ready for a while --------------------------------
REVISION = "leaderworkerset.sigs.k8s.io/template-revision-hash"
GROUP_PODS = (f"{NAME}-0", f"{NAME}-0-1", f"{NAME}-1", f"{NAME}-1-1")


def group_pods(fake: FakeApiServer) -> tuple[set[str], set[str], bool]:
    """(uids, template revisions, all Ready) of the 2 x 2 pods."""
    pods = [fake.get_object("Pod", n, NS) for n in GROUP_PODS]
    assert all(pods), pods
    return ({p["metadata"]["uid"] for p in pods}, {p["metadata"]["labels"][REVISION] for p in pods},
            all(any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"]) for p in pods))


@pytest.mark.parametrize("fake", [{"lws_rollout_delay": 1.5}], indirect=True)
def test_upgrade_and_rollback_wait_for_the_new_pods_of_every_group(fake: FakeApiServer,
                                                                   fast_group_poll: None) -> None:
    """The fake's LWS controller keeps the old, Ready pods 1.5 s after the template changed, then replaces them under
    the same names: --wait returns only once every pod of both groups is a new one, of the new revision, Ready."""
    as_json("add", MODEL, "--gpu", "H100-80GB", "--replicas", "2")
    uids1, rev1, ready = group_pods(fake)
    assert len(rev1) == 1 and ready
    up = kllm("upgrade", NAME, "--context-length", "16384", "--wait", "--timeout", "60s", "-o", "json")
    assert json.loads(up.stdout)["revision"] == 2
    uids2, rev2, ready = group_pods(fake)
    assert not uids2 & uids1 and len(rev2) == 1 and rev2 != rev1 and ready
    assert fake.get_object("LeaderWorkerSet", NAME, NS)["status"]["updatedReplicas"] == 2

    back = kllm("rollback", NAME, "1", "--wait", "-o", "json")
    assert json.loads(back.stdout)["revision"] == 3
    uids3, rev3, ready = group_pods(fake)
    assert not uids3 & uids2 and rev3 == rev1 and ready


@pytest.mark.parametrize("fake", [{"lws_rollout_delay": 600}], indirect=True)
def test_upgrade_wait_that_times_out_on_old_groups_says_so_and_rolls_back(fake: FakeApiServer,
                                                                          fast_group_poll: None) -> None:
    as_json("add", MODEL, "--gpu", "H100-80GB", "--replicas", "2")
    uids1, rev1, _ = group_pods(fake)
    # both old groups stay Ready (2/2) and none is of the new template (0/2) until the timeout
    stderr = failed("upgrade", NAME, "--context-length", "16384", "--wait", "--timeout", "2s",
           starts=f"release {NAME}: 2/2 groups of 2 pods ready, 0/2 on the new template after 2s "
                  f"(rolled back to the previous revision)")
    assert "hint: the pod was last seen updating: pod llama-3-1-405b-1-1 from before this change still runs; waiting " \
        "for the LeaderWorkerSet to replace it; the LeaderWorkerSet controller did not replace the old groups in time" \
        in stderr
    assert group_pods(fake)[:2] == (uids1, rev1)
    (row,) = as_json("list")
    assert row["revision"] == 3 and row["replicas"]["updated"] == 2     # rolled back: the old template is current
    # without --wait the upgrade returns at once; status says the old groups serve and none is new yet
    as_json("upgrade", NAME, "--context-length", "16384")
    status = as_json("status", NAME)
    assert status["replicas"] == {"ready": 2, "desired": 2, "updated": 0, "pods_per_replica": 2,
                                  "workload": "LeaderWorkerSet"}
    assert "replicas  2/2 ready (groups of 2 pods, one per node), 0/2 on the new template (rolling out)\n" in \
        kllm("status", NAME).stdout


def test_ray_launcher_lifecycle_keeps_the_launcher_on_upgrade(fake: FakeApiServer) -> None:
    """add --launcher ray: the worker pods run the Ray worker, not vLLM; a later upgrade keeps the launcher (the
    release's user layer stores the flag) until --launcher native switches the group back; rm leaves nothing."""
    added = as_json("add", MODEL, "--gpu", "H100-80GB", "--launcher", "ray")
    assert added["action"] == "installed"
    worker = fake.get_object("Pod", f"{NAME}-0-1", NS)["spec"]["containers"][0]
    assert worker["command"][:2] == ["/bin/sh", "-c"] and "ray start --address=$(LWS_LEADER_ADDRESS):6379" in \
        worker["command"][2] and worker.get("args", []) == []
    leader = lws_args(fake)
    assert leader[leader.index("--distributed-executor-backend") + 1] == "ray" and "--nnodes" not in leader

    assert as_json("upgrade", NAME, "--context-length", "16384")["action"] == "upgraded"
    leader = lws_args(fake)
    assert leader[leader.index("--max-model-len") + 1] == "16384" and "--distributed-executor-backend" in leader

    assert as_json("upgrade", NAME, "--launcher", "native")["action"] == "upgraded"
    leader, worker_args = lws_args(fake), lws_args(fake, "workerTemplate")
    assert "--distributed-executor-backend" not in leader and leader[leader.index("--nnodes") + 1] == "2"
    assert worker_args[-1] == "--headless"
    lws = fake.get_object("LeaderWorkerSet", NAME, NS)
    assert lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]["command"] == \
        ["vllm", "serve"]
    as_json("rm", NAME)
    assert fake.objects(LABEL) == []
