"""The fake API server (tests/fakes/apiserver.py) against the REAL helm binaries and the kubernetes Python client.

Proves that the fake is good enough for a whole release lifecycle (install, list, get values, upgrade, rollback,
uninstall, install --wait) with Helm 4 (server-side apply, kstatus watcher) and Helm 3 (create + three-way
strategic merge patches), and for the reads kubectl_llm does with the kubernetes client (pods by label, events by
field selector, logs with tail and follow). No kubectl_llm code is involved here.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.fakes.apiserver import FakeApiServer, client_env

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "llm-model"
DEFAULT_VALUES = CHART / "ci" / "01-default-values.yaml"
MODEL_LABEL = "llm.nrp-nautilus.io/model"
RELEASE = "m1"
CHART_KINDS = {"Deployment", "PersistentVolumeClaim", "Service", "Backend", "AIServiceBackend", "AIGatewayRoute"}


@pytest.fixture
def api():
    with FakeApiServer(namespaces=["llm"]) as server:
        yield server


@pytest.fixture
def env(api: FakeApiServer, tmp_path: Path) -> dict[str, str]:
    return client_env(tmp_path, api.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm"))


@pytest.fixture(params=["helm", "helm3"])
def helm(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_bin")


def run(helm: str, env: dict[str, str], *args: str, check: bool = True,
        timeout: float = 60) -> subprocess.CompletedProcess:
    proc = subprocess.run([helm, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"{helm} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}")
    return proc


def install(helm: str, env: dict[str, str], *extra: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(helm, env, "upgrade", "--install", RELEASE, str(CHART), "-n", "llm", "-f", str(DEFAULT_VALUES),
               *extra, check=check)


def releases(helm: str, env: dict[str, str]) -> dict[str, dict]:
    return {r["name"]: r for r in json.loads(run(helm, env, "list", "-n", "llm", "-o", "json").stdout)}


def container(api: FakeApiServer) -> dict:
    deployment = api.get_object("Deployment", RELEASE, "llm")
    assert deployment is not None
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_release_lifecycle(helm: str, env: dict[str, str], api: FakeApiServer) -> None:
    install(helm, env)
    listed = releases(helm, env)
    assert listed[RELEASE]["status"] == "deployed" and listed[RELEASE]["revision"] == "1"
    labelled = api.objects(f"{MODEL_LABEL}={RELEASE}", namespace="llm")
    assert CHART_KINDS <= {kind for kind, _ in labelled}
    assert ("Pod", RELEASE) not in labelled  # the helm-test hook Pod is not installed
    assert any(kind == "Pod" for kind, _ in labelled), "the simulated Deployment controller made a Pod"
    assert set(api.objects("owner=helm,name=m1", kind="Secret")) == {("Secret", "sh.helm.release.v1.m1.v1")}
    values = json.loads(run(helm, env, "get", "values", RELEASE, "-n", "llm", "-o", "json").stdout)
    assert values == {"test": {"enabled": True}}
    image_v1 = container(api)["image"]
    pods_v1 = {name for kind, name in labelled if kind == "Pod"}

    # revision 2: a new image and an extra env var (Helm 3: strategic merge patch of the containers list)
    install(helm, env, "--set", "engine.image=vllm/vllm-openai:v9.9.9",
            "--set", "engine.env[0].name=SAFETENSORS_FAST_GPU", "--set-string", "engine.env[0].value=1")
    assert releases(helm, env)[RELEASE]["revision"] == "2"
    c = container(api)
    assert c["image"] == "vllm/vllm-openai:v9.9.9"
    assert {"name": "SAFETENSORS_FAST_GPU", "value": "1"} in c["env"]
    assert c["args"] and c["command"], "the patch kept the rest of the container"
    deployment = api.get_object("Deployment", RELEASE, "llm")
    assert deployment["metadata"]["generation"] == 2
    assert deployment["status"]["observedGeneration"] == 2
    pods_v2 = {name for kind, name in api.objects(f"{MODEL_LABEL}={RELEASE}", kind="Pod")}
    assert len(pods_v2) == 1 and pods_v2.isdisjoint(pods_v1), "the new template replaced the Pod"

    # revision 3 = rollback to 1
    run(helm, env, "rollback", RELEASE, "1", "-n", "llm")
    listed = releases(helm, env)
    assert listed[RELEASE]["revision"] == "3" and listed[RELEASE]["status"] == "deployed"
    c = container(api)
    assert c["image"] == image_v1
    assert "SAFETENSORS_FAST_GPU" not in {e["name"] for e in c.get("env") or []}
    history = json.loads(run(helm, env, "history", RELEASE, "-n", "llm", "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1, 2, 3]

    run(helm, env, "uninstall", RELEASE, "-n", "llm")
    assert api.objects(f"{MODEL_LABEL}={RELEASE}") == []
    assert api.objects("owner=helm") == []
    assert releases(helm, env) == {}


def test_install_wait_helm4_watcher(helm_bin: str, env: dict[str, str], api: FakeApiServer) -> None:
    """Helm 4's --wait (kstatus watcher) sees the simulated Deployment become Current, through LIST + WATCH."""
    started = time.monotonic()
    run(helm_bin, env, "install", RELEASE, str(CHART), "-n", "llm", "-f", str(DEFAULT_VALUES), "--wait",
        "--timeout", "20s")
    assert time.monotonic() - started < 15
    assert releases(helm_bin, env)[RELEASE]["status"] == "deployed"
    assert api.requests(verb="watch", resource="deployments"), "the watcher watched the Deployment"
    run(helm_bin, env, "uninstall", RELEASE, "-n", "llm", "--wait", "--timeout", "20s")
    assert api.objects(f"{MODEL_LABEL}={RELEASE}") == []


def test_install_wait_helm3_legacy(helm3_bin: str, env: dict[str, str], api: FakeApiServer) -> None:
    """Helm 3's --wait (polling ready checker: Deployment -> its new ReplicaSet, PVC Bound, Service clusterIP)."""
    install(helm3_bin, env, "--wait", "--timeout", "20s")
    assert releases(helm3_bin, env)[RELEASE]["status"] == "deployed"


def test_install_wait_times_out_on_unschedulable_pods(helm_bin: str, env: dict[str, str],
                                                      api: FakeApiServer) -> None:
    api.set_pod_mode("unschedulable")
    proc = install(helm_bin, env, "--wait", "--timeout", "2s", check=False)
    assert proc.returncode != 0
    assert releases(helm_bin, env)[RELEASE]["status"] == "failed"
    pods = [name for kind, name in api.objects(f"{MODEL_LABEL}={RELEASE}", kind="Pod")]
    assert len(pods) == 1
    pod = api.get_object("Pod", pods[0], "llm")
    assert pod["status"]["phase"] == "Pending"
    assert "Insufficient nvidia.com/gpu" in pod["status"]["conditions"][0]["message"]


def test_missing_ai_gateway_crds(helm: str, tmp_path: Path) -> None:
    groups = {"gateway.envoyproxy.io", "gateway.networking.k8s.io", "leaderworkerset.x-k8s.io"}
    with FakeApiServer(namespaces=["llm"], served_groups=groups) as api:
        env = client_env(tmp_path, api.write_kubeconfig(tmp_path / "kubeconfig"))
        proc = install(helm, env, check=False)
    assert proc.returncode != 0
    assert 'no matches for kind "AIGatewayRoute" in version "aigateway.envoyproxy.io/v1alpha1"' in proc.stderr \
        or 'no matches for kind "AIServiceBackend"' in proc.stderr, proc.stderr


def test_forbidden(helm: str, env: dict[str, str], api: FakeApiServer) -> None:
    api.forbidden = True
    proc = install(helm, env, check=False)
    assert proc.returncode != 0
    assert "forbidden" in proc.stderr and 'User "fake-user" cannot' in proc.stderr, proc.stderr


def test_injected_failure_rolls_back(helm: str, env: dict[str, str], api: FakeApiServer) -> None:
    """A 422 on the Deployment write fails the upgrade; --atomic/--rollback-on-failure restores revision 1."""
    install(helm, env)
    rule = api.fail("write", "Deployment", times=1)
    flag = "--rollback-on-failure" if "helm3" not in Path(helm).name else "--atomic"
    proc = install(helm, env, "--set", "engine.image=vllm/vllm-openai:v9.9.9", flag, "--timeout", "20s",
                   check=False)
    assert proc.returncode != 0 and "is invalid" in proc.stderr, proc.stderr
    api.clear_failures(rule)
    listed = releases(helm, env)
    assert listed[RELEASE]["status"] == "deployed" and listed[RELEASE]["revision"] == "3"
    assert container(api)["image"] == "vllm/vllm-openai:v0.17.0"


# --- the kubernetes Python client ---------------------------------------------------------------------------
@pytest.fixture
def core(api: FakeApiServer, tmp_path: Path):
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=str(api.write_kubeconfig(tmp_path / "kc")))
    yield client.CoreV1Api(api_client)
    api_client.close()


def _deploy(api: FakeApiServer, name: str = RELEASE, image: str = "vllm/vllm-openai:v0.17.0") -> None:
    labels = {"app.kubernetes.io/instance": name, MODEL_LABEL: name}
    api.create_object({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "llm", "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "vllm", "image": image}]}}}})


def test_python_client_pods_events_logs(api: FakeApiServer, core) -> None:
    _deploy(api)
    _deploy(api, "other")
    pods = core.list_namespaced_pod("llm", label_selector=f"app.kubernetes.io/instance={RELEASE}").items
    assert len(pods) == 1
    pod = pods[0]
    assert pod.status.phase == "Running" and pod.spec.node_name == "gpu-node-1"
    assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
    assert pod.metadata.owner_references[0].kind == "ReplicaSet"
    assert core.list_namespaced_pod("llm", label_selector=f"{MODEL_LABEL} in (m1,other)").items.__len__() == 2
    assert core.list_namespaced_pod("llm", label_selector=f"{MODEL_LABEL}!=m1").items[0].metadata.name \
        .startswith("other-")

    events = core.list_namespaced_event("llm", field_selector=f"involvedObject.name={pod.metadata.name}").items
    assert {e.reason for e in events} >= {"Scheduled", "Started"}
    assert all(e.involved_object.name == pod.metadata.name for e in events)

    api.set_pod_log("line 1\nline 2\nline 3\n", pod=RELEASE)
    assert core.read_namespaced_pod_log(pod.metadata.name, "llm", tail_lines=2) == "line 2\nline 3\n"
    assert core.read_namespaced_pod_log(pod.metadata.name, "llm", container="vllm") == "line 1\nline 2\nline 3\n"
    resp = core.read_namespaced_pod_log(pod.metadata.name, "llm", follow=True, _preload_content=False)
    try:
        streamed = b"".join(resp.stream()).decode()
    finally:
        resp.release_conn()
    assert streamed == "line 1\nline 2\nline 3\n"
    other = core.list_namespaced_pod("llm", label_selector=f"{MODEL_LABEL}=other").items[0].metadata.name
    assert "Application startup complete." in core.read_namespaced_pod_log(other, "llm", tail_lines=1)

    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("nope", "llm")
    assert err.value.status == 404 and json.loads(err.value.body)["reason"] == "NotFound"


def test_python_client_unschedulable_and_watch(api: FakeApiServer, core) -> None:
    from kubernetes import watch

    api.set_pod_mode("unschedulable")
    _deploy(api)
    pod = core.list_namespaced_pod("llm", label_selector=f"{MODEL_LABEL}={RELEASE}").items[0]
    assert pod.status.phase == "Pending"
    events = core.list_namespaced_event("llm", field_selector=f"involvedObject.name={pod.metadata.name}").items
    assert [(e.type, e.reason) for e in events] == [("Warning", "FailedScheduling")]
    assert "Insufficient nvidia.com/gpu" in events[0].message

    seen: list[tuple[str, str]] = []
    first = threading.Event()

    def watch_pods() -> None:
        for ev in watch.Watch().stream(core.list_namespaced_pod, "llm", label_selector=f"{MODEL_LABEL}={RELEASE}",
                                       timeout_seconds=5):
            seen.append((ev["type"], ev["object"].status.phase))
            first.set()
            if ev["object"].status.phase == "Running":
                break

    watcher = threading.Thread(target=watch_pods)
    watcher.start()
    assert first.wait(5), "the watch delivered the existing Pod"
    api.set_pod_mode("running")  # "GPUs freed": the Pending Pod gets scheduled and runs
    watcher.join(timeout=5)
    assert seen[0] == ("ADDED", "Pending") and seen[-1] == ("MODIFIED", "Running")


def test_discovery_falls_back_from_aggregated(helm_bin: str, env: dict[str, str], api: FakeApiServer) -> None:
    """client-go asks for aggregated discovery; the legacy JSON answer makes it read every group-version."""
    run(helm_bin, env, "template", RELEASE, str(CHART), "-n", "llm", "--validate")
    apis = api.requests(path="/apis")
    assert apis and "apidiscovery.k8s.io" in apis[0]["accept"]
    assert api.requests(path="/apis/aigateway.envoyproxy.io/v1beta1")
    assert api.requests(path="/openapi/v3")


def _raw(api: FakeApiServer, method: str, path: str, body: object = None,
         content_type: str = "application/json") -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(api.url + path, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_generic_store_semantics(api: FakeApiServer) -> None:
    cms = "/api/v1/namespaces/llm/configmaps"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1", "b": "x"}},
          "data": {"k": "v"}}
    assert _raw(api, "POST", cms + "?dryRun=All", cm)[0] == 201 and api.get_object("ConfigMap", "c", "llm") is None
    code, created = _raw(api, "POST", cms, cm)
    assert code == 201 and created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    code, status = _raw(api, "POST", cms, cm)
    assert (code, status["kind"], status["reason"]) == (409, "Status", "AlreadyExists")
    assert status["message"] == 'configmaps "c" already exists'
    assert _raw(api, "POST", "/api/v1/namespaces/nope/configmaps", cm)[1]["message"] == 'namespaces "nope" not found'

    # selectors
    for selector, expected in (("a=1", 1), ("a!=1", 0), ("a", 1), ("!a", 0), ("b in (x,y)", 1),
                               ("b notin (x)", 0), ("a=1,b=x", 1)):
        from urllib.parse import quote
        assert len(_raw(api, "GET", f"{cms}?labelSelector={quote(selector)}")[1]["items"]) == expected, selector
    assert len(_raw(api, "GET", f"{cms}?fieldSelector=metadata.name%3Dc")[1]["items"]) == 1

    # patches
    _raw(api, "PATCH", f"{cms}/c", {"data": {"k": None, "n": "1"}}, "application/merge-patch+json")
    _raw(api, "PATCH", f"{cms}/c", [{"op": "add", "path": "/data/j", "value": "2"}], "application/json-patch+json")
    assert api.get_object("ConfigMap", "c", "llm")["data"] == {"n": "1", "j": "2"}

    # server-side apply: create-or-merge, field ownership, conflicts, force
    def apply(manager: str, data: dict, force: bool = False) -> tuple[int, dict]:
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": data}
        return _raw(api, "PATCH", f"{cms}/s?fieldManager={manager}{'&force=true' * force}", config,
                    "application/apply-patch+yaml")

    assert apply("one", {"x": "1", "y": "1"})[0] == 201
    apply("one", {"x": "1"})
    assert api.get_object("ConfigMap", "s", "llm")["data"] == {"x": "1"}, "a field no longer applied is removed"
    code, status = apply("two", {"x": "2"})
    assert (code, status["reason"]) == (409, "Conflict") and 'conflict with "one"' in status["message"]
    assert apply("two", {"x": "2"}, force=True)[0] == 200
    assert api.get_object("ConfigMap", "s", "llm")["data"] == {"x": "2"}
    managers = {m["manager"] for m in api.get_object("ConfigMap", "s", "llm")["metadata"]["managedFields"]}
    assert managers == {"two"}, "forcing took the field over"

    # delete, deletecollection, 404 Status
    assert _raw(api, "DELETE", f"{cms}/c")[0] == 200
    code, status = _raw(api, "DELETE", f"{cms}/c")
    assert (code, status["reason"], status["details"]["kind"]) == (404, "NotFound", "configmaps")
    assert len(_raw(api, "DELETE", cms)[1]["items"]) == 1 and api.objects(kind="ConfigMap") == []

    # an injected failure and Forbidden
    api.fail("create", "configmaps", times=1)
    assert _raw(api, "POST", cms, cm)[1]["reason"] == "Invalid"
    assert _raw(api, "POST", cms, cm)[0] == 201
    api.forbidden = lambda request: request["verb"] == "delete"
    assert _raw(api, "DELETE", f"{cms}/c")[1]["reason"] == "Forbidden"
    assert _raw(api, "GET", "/apis")[0] == 200, "discovery stays readable"


# --- admission, storage classes and finalizers (issue 9, item 7) ---------------------------------------------------
def events_of(api: FakeApiServer, name: str) -> list[tuple[str, str, str, int]]:
    with api._lock:  # noqa: SLF001 - read the store directly: events carry no labels
        evs = [o for k, o in api._store.items() if k[1] == "events" and o["involvedObject"]["name"] == name]  # noqa: SLF001
    return [(e["type"], e["reason"], e["message"], e["count"]) for e in evs]


def test_a_missing_priority_class_refuses_the_pod(helm_bin: str, env: dict[str, str], api: FakeApiServer) -> None:
    install(helm_bin, env, "--set", "scheduling.priorityClassName=gold")
    assert [k for k, _ in api.objects(f"{MODEL_LABEL}={RELEASE}") if k == "Pod"] == []
    (rs_name,) = [n for k, n in api.objects(f"{MODEL_LABEL}={RELEASE}") if k == "ReplicaSet"]
    rs = api.get_object("ReplicaSet", rs_name, "llm")
    (cond,) = rs["status"]["conditions"]
    message = f'pods "{rs_name}-" is forbidden: no PriorityClass with name gold was found'
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == ("ReplicaFailure", "True",
                                                                               "FailedCreate", message)
    dep = api.get_object("Deployment", RELEASE, "llm")
    failure = {c["type"]: c for c in dep["status"]["conditions"]}["ReplicaFailure"]
    assert (failure["status"], failure["reason"], failure["message"]) == ("True", "FailedCreate", message)
    assert ("Warning", "FailedCreate", f"Error creating: {message}") in [e[:3] for e in events_of(api, rs_name)]
    # the admin creates the class: the controller's retry lets the Pod in
    api.create_object({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "gold"},
                       "value": 10})
    pods = [n for k, n in api.objects(f"{MODEL_LABEL}={RELEASE}") if k == "Pod"]
    assert len(pods) == 1 and api.get_object("Pod", pods[0], "llm")["status"]["phase"] == "Running"


def test_a_claim_of_an_unknown_storage_class_stays_pending(helm_bin: str, env: dict[str, str],
                                                           api: FakeApiServer) -> None:
    install(helm_bin, env, "--set", "storage.storageClass=rook-ceph")
    pvc = api.get_object("PersistentVolumeClaim", RELEASE, "llm")
    assert pvc["status"]["phase"] == "Pending"
    assert ("Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "rook-ceph" not found') in \
        [e[:3] for e in events_of(api, RELEASE)]
    (pod_name,) = [n for k, n in api.objects(f"{MODEL_LABEL}={RELEASE}") if k == "Pod"]
    pod = api.get_object("Pod", pod_name, "llm")
    assert pod["status"]["phase"] == "Pending"
    assert "pod has unbound immediate PersistentVolumeClaims" in pod["status"]["conditions"][0]["message"]
    api.create_object({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "rook-ceph"},
                       "provisioner": "rook-ceph.rbd.csi.ceph.com"})
    assert api.get_object("PersistentVolumeClaim", RELEASE, "llm")["status"]["phase"] == "Bound"
    assert api.get_object("Pod", pod_name, "llm")["status"]["phase"] == "Running"


def test_a_claim_in_use_stays_terminating_until_its_pod_is_gone(api: FakeApiServer) -> None:
    api.create_object({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": "weights", "namespace": "llm"},
                       "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                                "resources": {"requests": {"storage": "1Gi"}}}})
    assert api.get_object("PersistentVolumeClaim", "weights", "llm")["metadata"]["finalizers"] == \
        ["kubernetes.io/pvc-protection"]
    api.create_object({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": "llm"},
                       "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                "volumes": [{"name": "w", "persistentVolumeClaim": {"claimName": "weights"}}]},
                       "status": {"phase": "Running"}})
    api.delete_object("PersistentVolumeClaim", "weights", "llm")
    pvc = api.get_object("PersistentVolumeClaim", "weights", "llm")
    assert pvc is not None and pvc["metadata"]["deletionTimestamp"]       # Terminating
    api.delete_object("Pod", "debug", "llm")
    assert api.get_object("PersistentVolumeClaim", "weights", "llm") is None


def test_removing_the_last_finalizer_completes_a_delete(api: FakeApiServer, core) -> None:
    api.create_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "held", "namespace": "llm", "finalizers": ["example.com/hold"]}, "data": {"a": "b"}})
    core.delete_namespaced_config_map("held", "llm")
    assert api.get_object("ConfigMap", "held", "llm")["metadata"]["deletionTimestamp"]
    core.patch_namespaced_config_map("held", "llm", {"metadata": {"finalizers": None}})
    assert api.get_object("ConfigMap", "held", "llm") is None


# --- the LeaderWorkerSet controller: status counts and a rollout that keeps the old pods a while ----------------
def test_leaderworkerset_status_and_a_rollout_that_keeps_the_old_pods_first(tmp_path: Path) -> None:
    from kubernetes import client, config

    def lws_status() -> dict:
        return api.get_object("LeaderWorkerSet", "m", "llm")["status"]

    def uids() -> dict[str, str]:
        return {n: api.get_object("Pod", n, "llm")["metadata"]["uid"] for n in ("m-0", "m-0-1", "m-1", "m-1-1")}

    with FakeApiServer(namespaces=["llm"], lws_rollout_delay=0.5) as api:
        api.create_object({"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
                           "metadata": {"name": "m", "namespace": "llm"},
                           "spec": {"replicas": 2, "leaderWorkerTemplate": {"size": 2, "workerTemplate": {
                               "spec": {"containers": [{"name": "c", "image": "engine:1"}]}}}}})
        before = uids()                                  # 2 groups x 2 pods, leader <lws>-<g>, worker <lws>-<g>-<w>
        status = lws_status()
        assert {k: status[k] for k in ("observedGeneration", "replicas", "readyReplicas", "updatedReplicas")} == \
            {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "updatedReplicas": 2}
        api.set_pod_ready("m-1-1", False, "llm")         # one worker not Ready: its group is not
        assert lws_status()["readyReplicas"] == 1
        api.set_pod_ready("m-1-1", True, "llm")
        assert lws_status()["readyReplicas"] == 2

        api_client = config.new_client_from_config(config_file=str(api.write_kubeconfig(tmp_path / "kc")))
        try:
            client.CustomObjectsApi(api_client).patch_namespaced_custom_object(
                "leaderworkerset.x-k8s.io", "v1", "llm", "leaderworkersets", "m",
                {"spec": {"leaderWorkerTemplate": {"workerTemplate": {"spec": {"containers": [
                    {"name": "c", "image": "engine:2"}]}}}}})
        finally:
            api_client.close()
        # seen at once (generation 2), the old pods still Ready and none of the new template
        status = lws_status()
        assert (status["observedGeneration"], status["readyReplicas"], status["updatedReplicas"]) == (2, 2, 0)
        assert uids() == before
        deadline = time.monotonic() + 10
        while lws_status()["updatedReplicas"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        after = uids()                                   # replaced under the same names, of the new template
        assert not set(after.values()) & set(before.values()) and lws_status()["readyReplicas"] == 2
        assert api.get_object("Pod", "m-1-1", "llm")["spec"]["containers"][0]["image"] == "engine:2"
