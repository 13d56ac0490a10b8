"""The cluster path of the CLI, offline: `kubectl llm add / list / status / logs / upgrade / rollback / rm` run the
REAL helm binary (through pyhelm3) and the kubernetes client against tests/fakes/apiserver.py.

What this proves: the commands' traffic works end to end (release storage, server-side apply, label selectors,
pods/events/logs, rollback on failure, uninstall leaving nothing with the model's label), and each cluster failure
gets its own message and exit code. What it cannot prove: that vLLM starts, that the gateway routes (the fake has
no controllers beyond Deployment -> Pod and PVC -> Bound); that is tests/e2e against a real cluster.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kubectl_llm.adapters.cluster import Cluster
from kubectl_llm.cli.main import cli
from tests.cli_harness import VLLM_LOG, cli_cluster, kllm  # noqa: F401 - imported from here by other test files
from tests.fakes.apiserver import FakeApiServer

NS = "llm"
MODEL = "Qwen/Qwen3-8B"       # in the embedded catalog: plans with no Hub
NAME = "qwen3-8b"             # its route / release name
LABEL = f"llm.nrp-nautilus.io/model={NAME}"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    """A started fake API server with namespace `llm`, KUBECONFIG pointing at it (context namespace `llm`)."""
    kwargs: dict[str, Any] = dict(getattr(request, "param", {}) or {})
    kwargs["namespaces"] = [NS, *kwargs.get("namespaces", [])]
    with cli_cluster(tmp_path, monkeypatch, pod_log=VLLM_LOG, **kwargs) as api:
        yield api


def failed(*args: str, code: int = 6, starts: str) -> str:
    """Run a command that must fail: exit ``code``, exactly one `error:` line starting with ``starts``, one
    `hint:` line, nothing else on stderr but progress lines (no traceback, no pyhelm3 'command failed' log)."""
    result = kllm(*args, code=code)
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {starts}"), result.stderr
    assert sum(line.startswith("hint: ") for line in lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "command failed" not in result.stderr
    return result.stderr


def as_json(*args: str) -> Any:
    return json.loads(kllm(*args, "-o", "json").stdout)


def helm_release_secrets(api: FakeApiServer, name: str = NAME) -> list[tuple[str, str]]:
    return api.objects(f"owner=helm,name={name}", namespace=NS, kind="Secret")


def container_args(api: FakeApiServer, name: str = NAME) -> list[str]:
    dep = api.get_object("Deployment", name, NS)
    assert dep is not None
    (container,) = [c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] in ("vllm", "engine",
                                                                                              "sglang")] or \
        dep["spec"]["template"]["spec"]["containers"][:1]
    return [str(a) for a in container.get("args", []) + container.get("command", [])]


def flag_value(args: list[str], flag: str) -> str | None:
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    for a in args:  # a shell command line in one string
        parts = a.split()
        if flag in parts and parts.index(flag) + 1 < len(parts):
            return parts[parts.index(flag) + 1]
    return None


def test_whole_lifecycle_add_list_status_logs_upgrade_rollback_rm(fake: FakeApiServer) -> None:
    plan = json.loads(kllm("plan", MODEL, "--gpu", "L40", "-o", "json").stdout)
    planned_len = plan["serving"]["max_model_len"]

    # add: one release holding the inference and the gateway objects, in the context's namespace (no -n given).
    added = as_json("add", MODEL, "--gpu", "L40")
    assert (added["name"], added["namespace"], added["action"], added["revision"]) == (NAME, NS, "installed", 1)
    kinds = {kind for kind, _ in fake.objects(LABEL, namespace=NS)}
    assert {"Deployment", "PersistentVolumeClaim", "Service", "Backend", "AIServiceBackend",
            "AIGatewayRoute"} <= kinds
    assert flag_value(container_args(fake), "--max-model-len") == str(planned_len)
    assert len(helm_release_secrets(fake)) == 1

    # The same add again changes nothing: no new revision, no new release Secret.
    again = as_json("add", MODEL, "--gpu", "L40")
    assert (again["action"], again["revision"]) == ("unchanged", 1)
    assert len(helm_release_secrets(fake)) == 1

    # list reads Helm: model id, GPUs, context, route, status.
    (row,) = as_json("list")
    assert (row["name"], row["model"], row["gpu"], row["context"], row["route"], row["status"]) == \
        (NAME, MODEL, {"type": "L40", "count": 1, "nodes": 1, "per_node": 1}, planned_len, NAME, "deployed")
    table = kllm("list").stdout
    assert NAME in table and "1 x L40" in table

    # status: the pod (Running and Ready in the fake), the engine's progress read from its log, route and curl.
    # The Gateway the route attaches to (llm-model's default parentRef = llm-gateway's default name), with an address.
    fake.create_object({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                        "metadata": {"name": "envoy-ai-gateway-nrp", "namespace": NS},
                        "spec": {"gatewayClassName": "llm", "listeners": [
                            {"name": "http", "port": 80, "protocol": "HTTP"}]},
                        "status": {"addresses": [{"type": "IPAddress", "value": "10.0.0.42"}]}})
    # A `helm test` Pod carries the release's instance label too; status, logs and --wait must ignore it.
    fake.create_object({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": f"{NAME}-test", "namespace": NS, "labels": {"app.kubernetes.io/instance": NAME,
                                                            "app.kubernetes.io/component": "test"}},
        "spec": {"containers": [{"name": "test", "image": "curlimages/curl"}]}, "status": {"phase": "Succeeded"}})
    status = as_json("status", NAME)
    (pod,) = status["pods"]
    assert pod["ready"] and pod["phase"] == "Running" and pod["node"] == "gpu-node-1"
    assert status["engine"]["kv_cache_tokens"] == 180224
    assert status["engine"]["weights_gib"] == pytest.approx(15.27)
    assert status["route"] == NAME
    assert status["curl"].startswith("curl -s http://10.0.0.42/v1/chat/completions ")
    assert f'"model":"{NAME}"' in status["curl"]
    text = kllm("status", NAME).stdout
    assert "stage     ready: serving (180,224 tokens of KV cache)" in text and f'route     "model": "{NAME}"' in text

    fake.delete_object("Pod", f"{NAME}-test", NS)
    # logs: tail and follow go through the pods/log subresource.
    assert kllm("logs", NAME, "--tail", "1").stdout.strip() == "INFO:     Application startup complete."
    followed = kllm("logs", NAME, "-f").stdout
    assert followed.splitlines() == VLLM_LOG.splitlines()

    # upgrade re-plans with a new option: a new revision with the new context.
    up = as_json("upgrade", NAME, "--context-length", "16384")
    assert (up["action"], up["revision"]) == ("upgraded", 2)
    assert flag_value(container_args(fake), "--max-model-len") == "16384"
    assert as_json("list")[0]["context"] == 16384

    # rollback: back to revision 1's objects as a new revision 3.
    back = as_json("rollback", NAME)
    assert back["revision"] == 3
    assert flag_value(container_args(fake), "--max-model-len") == str(planned_len)

    # rm: everything with the model's label goes, and Helm forgets the release. The e2e suite's check
    # (Cluster.labelled_objects, discovery over every listable kind) sees the same before and after.
    cluster = Cluster()
    before = cluster.labelled_objects(LABEL, NS)
    assert {f"{k}/{n}" for k, n in fake.objects(LABEL, namespace=NS)} == set(before)
    assert {"Deployment/qwen3-8b", "AIGatewayRoute/qwen3-8b", "Backend/qwen3-8b"} <= set(before)
    assert any(ref.startswith("ReplicaSet/") for ref in before) and any(ref.startswith("Pod/") for ref in before)
    removed = as_json("rm", NAME)
    assert "Deployment/qwen3-8b" in removed["removed"] and removed["kept"] == []
    assert fake.objects(LABEL) == []
    assert cluster.labelled_objects(LABEL, NS) == []
    assert helm_release_secrets(fake) == []
    assert as_json("list") == []


def test_rm_keep_cache_keeps_only_the_weights_pvc_and_a_later_add_adopts_it(fake: FakeApiServer) -> None:
    as_json("add", MODEL, "--gpu", "L40")
    pvc_uid = fake.get_object("PersistentVolumeClaim", NAME, NS)["metadata"]["uid"]
    removed = as_json("rm", NAME, "--keep-cache")
    assert removed["kept"] == [f"PersistentVolumeClaim/{NAME}"]
    assert fake.objects(LABEL) == [("PersistentVolumeClaim", NAME)]
    assert helm_release_secrets(fake) == []

    readded = as_json("add", MODEL, "--gpu", "L40")
    assert readded["action"] == "installed"
    assert fake.get_object("PersistentVolumeClaim", NAME, NS)["metadata"]["uid"] == pvc_uid  # same weights

    as_json("rm", NAME)  # without --keep-cache: the PVC an earlier --keep-cache protected goes too
    assert fake.objects(LABEL) == []


def test_failed_add_leaves_nothing_behind(fake: FakeApiServer) -> None:
    fake.fail("write", "AIGatewayRoute", message="AIGatewayRoute.aigateway.envoyproxy.io is invalid: injected")
    stderr = failed("add", MODEL, "--gpu", "L40", starts="helm failed: ")
    assert "AIGatewayRoute.aigateway.envoyproxy.io is invalid: injected (the partial install was removed)" in stderr
    assert fake.objects(LABEL) == []
    assert helm_release_secrets(fake) == []


def test_failed_upgrade_rolls_back_to_the_deployed_revision(fake: FakeApiServer) -> None:
    as_json("add", MODEL, "--gpu", "L40")
    before = flag_value(container_args(fake), "--max-model-len")
    fake.fail("write", "Deployment", message="Deployment.apps is invalid: injected", times=1)
    stderr = failed("upgrade", NAME, "--context-length", "16384", starts="helm failed: UPGRADE FAILED: ")
    assert "Deployment.apps is invalid: injected (rolled back to revision 1)" in stderr
    assert flag_value(container_args(fake), "--max-model-len") == before
    (row,) = as_json("list")
    assert row["status"] == "deployed" and row["context"] == int(before)


def test_rollback_without_revision_undoes_the_last_change_that_took_effect_not_the_failed_one(
        fake: FakeApiServer) -> None:
    """Revisions: 1 add, 2 --context-length 16384, 3 --context-length 8192 failed, 4 "Rollback to 2" (helm's undo).
    `rollback NAME` used helm's default, current - 1 = the failed revision 3: it re-applied 8192, the change that had
    just failed. Undo goes to revision 1 (3 failed, 2 is what runs now), and says what it passed over."""
    as_json("add", MODEL, "--gpu", "L40")
    first = flag_value(container_args(fake), "--max-model-len")
    assert first not in ("16384", "8192")
    assert as_json("upgrade", NAME, "--context-length", "16384")["revision"] == 2
    fake.fail("write", "Deployment", message="Deployment.apps is invalid: injected", times=1)
    assert "(rolled back to revision 2)" in failed("upgrade", NAME, "--context-length", "8192", starts="helm failed: ")
    assert flag_value(container_args(fake), "--max-model-len") == "16384"
    result = kllm("rollback", NAME, "-o", "json")
    assert json.loads(result.stdout) == {
        "name": NAME, "namespace": NS, "rolled_back_to": 1, "revision": 5,
        "passed_over": [{"revision": 3, "why": "it failed"},
                        {"revision": 2, "why": "the same chart and values as what runs now"}]}
    assert "passing over revision 3: it failed" in result.stderr
    assert flag_value(container_args(fake), "--max-model-len") == first


def test_rollback_without_revision_after_a_failed_first_upgrade_has_nothing_to_undo(fake: FakeApiServer) -> None:
    """1 add, 2 failed, 3 "Rollback to 1": what runs is revision 1; the only other revision is the failed one. helm's
    default re-applied it; now: one usage error naming both, and no new revision. An explicit REVISION still goes."""
    as_json("add", MODEL, "--gpu", "L40")
    fake.fail("write", "Deployment", message="Deployment.apps is invalid: injected", times=1)
    failed("upgrade", NAME, "--context-length", "8192", starts="helm failed: ")
    stderr = failed("rollback", NAME, code=2, starts=f"release '{NAME}' has no earlier revision to undo to "
                    "(revision 2: it failed; revision 1: the same chart and values as what runs now)")
    assert f"hint: 'kubectl llm rollback {NAME} REVISION' goes to a revision on purpose" in stderr
    assert len(helm_release_secrets(fake)) == 3    # one Secret a revision: the refusal added none
    assert as_json("rollback", NAME, "2") == {"name": NAME, "namespace": NS, "rolled_back_to": 2, "revision": 4,
                                               "passed_over": []}
    assert flag_value(container_args(fake), "--max-model-len") == "8192"


@pytest.fixture
def fast_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubectl_llm.cli import waiting

    monkeypatch.setattr(waiting, "POLL_SECONDS", 0.3)


def test_add_wait_draws_progress_and_keeps_stdout_parseable(fake: FakeApiServer, fast_poll: None) -> None:
    fake.pod_ready_delay = 1.5  # the Pod is ContainerCreating for 1.5 s, then Running and Ready
    result = kllm("add", MODEL, "--gpu", "L40", "--wait", "--timeout", "60s", "-o", "json")
    doc = json.loads(result.stdout)  # stdout: only the document
    assert (doc["action"], doc["revision"]) == ("installed", 1)
    stages = [line.split(f"{NAME}: ", 1)[1] for line in result.stderr.splitlines() if f"] {NAME}: " in line]
    assert "scheduled - on gpu-node-1: ContainerCreating" in stages  # polled every 0.3 s during the 1.5 s
    assert stages[-1].startswith("ready")


def test_rollback_wait_draws_progress_until_the_old_revision_serves(fake: FakeApiServer, fast_poll: None) -> None:
    kllm("add", MODEL, "--gpu", "L40", "--wait", "--timeout", "60s")
    kllm("upgrade", NAME, "--context-length", "32768", "--wait", "--timeout", "60s")
    fake.pod_ready_delay = 1.5  # the rolled-back pod is ContainerCreating for 1.5 s, then Running and Ready
    result = kllm("rollback", NAME, "1", "--wait", "--timeout", "60s", "-o", "json")
    doc = json.loads(result.stdout)  # stdout: only the document
    assert (doc["rolled_back_to"], doc["revision"]) == (1, 3)
    stages = [line.split(f"{NAME}: ", 1)[1] for line in result.stderr.splitlines() if f"] {NAME}: " in line]
    assert any(s.startswith("scheduled") for s in stages), result.stderr      # the new pod seen while helm waited
    assert stages[-1].startswith("ready")
    assert "--max-model-len" in container_args(fake) and "40960" in container_args(fake)  # revision 1's args


@pytest.mark.parametrize("fake", [{"pod_mode": "unschedulable"}], indirect=True)
def test_add_wait_that_times_out_is_rolled_back_and_says_why(fake: FakeApiServer, fast_poll: None) -> None:
    stderr = failed("add", MODEL, "--gpu", "L40", "--wait", "--timeout", "4s", starts="helm failed: ")
    assert "(helm rolled the release back)" in stderr
    (hint,) = [line for line in stderr.splitlines() if line.startswith("hint: ")]
    assert hint.startswith("hint: the pod was last seen pending: 0/3 nodes are available: 3 Insufficient "
                           "nvidia.com/gpu")
    assert fake.objects(LABEL) == [] and helm_release_secrets(fake) == []


@pytest.mark.parametrize("fake", [{"served_groups": ["gateway.networking.k8s.io"]}], indirect=True)
def test_missing_ai_gateway_crds_are_named(fake: FakeApiServer) -> None:
    for args in (["add", MODEL, "--gpu", "L40"], ["add", MODEL, "--gpu", "L40", "--dry-run=server"]):
        stderr = failed(*args, starts="the cluster does not serve aigateway.envoyproxy.io, gateway.envoyproxy.io")
        assert "hint: install the Envoy AI Gateway" in stderr
    assert fake.objects(LABEL) == [] and helm_release_secrets(fake) == []


@pytest.mark.parametrize("fake", [{"forbidden": True}], indirect=True)
def test_missing_permissions_are_named(fake: FakeApiServer) -> None:
    for args in (["list"], ["add", MODEL, "--gpu", "L40"], ["rm", NAME], ["status", NAME]):
        stderr = failed(*args, starts="permission denied")
        assert 'User "fake-user" cannot' in stderr and "hint: ask a cluster admin" in stderr


def test_unreachable_cluster_is_named(fake: FakeApiServer) -> None:
    port = fake.port
    fake.stop()  # nothing listens on the port any more
    for args in (["list"], ["add", MODEL, "--gpu", "L40"], ["status", NAME], ["rm", NAME], ["logs", NAME]):
        stderr = failed(*args, starts="cannot reach the cluster")
        assert f"127.0.0.1:{port}" in stderr and "connection refused" in stderr.lower()


def test_a_release_of_another_chart_is_never_touched(fake: FakeApiServer, tmp_path: Path) -> None:
    chart = tmp_path / "other"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: other\nversion: 1.0.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-other\ndata:\n  a: b\n")
    subprocess.run(["helm", "install", NAME, str(chart), "-n", NS], check=True, capture_output=True)
    for args in (["add", MODEL, "--gpu", "L40"], ["rm", NAME], ["upgrade", NAME], ["rollback", NAME],
                 ["status", NAME]):
        failed(*args, starts=f"release '{NAME}' ")
        assert "belongs to chart 'other'" in kllm(*args, code=6).stderr
    assert fake.get_object("ConfigMap", f"{NAME}-other", NS) is not None
    assert as_json("list") == []  # list shows llm-model releases only


def test_an_object_outside_the_release_holding_the_name_is_a_conflict(fake: FakeApiServer) -> None:
    fake.create_object({"apiVersion": "v1", "kind": "Service",
                        "metadata": {"name": NAME, "namespace": NS},
                        "spec": {"ports": [{"port": 8000}], "selector": {"app": "mine"}}})
    stderr = failed("add", MODEL, "--gpu", "L40", starts="an object of release 'qwen3-8b' already exists outside it")
    assert 'Service "qwen3-8b" in namespace "llm" exists' in stderr
    assert fake.get_object("Service", NAME, NS)["spec"]["selector"] == {"app": "mine"}  # untouched
    assert helm_release_secrets(fake) == []


def test_dry_run_server_persists_nothing(fake: FakeApiServer) -> None:
    objs = yaml.safe_load_all(kllm("add", MODEL, "--gpu", "L40", "--dry-run=server", "-o", "yaml").stdout)
    kinds = {o["kind"] for o in objs if o}
    assert {"Deployment", "AIGatewayRoute"} <= kinds
    assert fake.objects(LABEL) == [] and helm_release_secrets(fake) == []


def test_gateway_chart_install_upgrade_and_uninstall(fake: FakeApiServer) -> None:
    installed = as_json("gateway", "install")
    assert (installed["name"], installed["action"], installed["revision"]) == ("llm-gateway", "installed", 1)
    kinds = {k for k, _ in fake.objects("llm.nrp-nautilus.io/gateway")}   # GatewayClass is cluster-scoped
    assert {"Gateway", "GatewayClass", "EnvoyProxy", "ConfigMap"} <= kinds
    assert fake.get_object("Gateway", "envoy-ai-gateway-nrp", NS) is not None  # what llm-model routes attach to
    assert as_json("gateway", "install")["action"] == "unchanged"
    up = as_json("gateway", "upgrade", "--set", "gateway.name=gw-two")
    assert (up["action"], up["revision"]) == ("upgraded", 2)
    assert fake.get_object("Gateway", "gw-two", NS) is not None
    assert fake.get_object("Gateway", "envoy-ai-gateway-nrp", NS) is None
    as_json("add", MODEL, "--gpu", "L40")  # a model release is not the gateway's: uninstall must not take it
    failed("gateway", "uninstall", "--name", NAME, starts=f"release '{NAME}' belongs to chart 'llm-model'")
    assert "removed" in kllm("gateway", "uninstall").stdout
    assert fake.objects("llm.nrp-nautilus.io/gateway") == []
    failed("gateway", "uninstall", starts="no release 'llm-gateway'")
    assert fake.get_object("Deployment", NAME, NS) is not None


def test_helm3_drives_the_same_lifecycle(fake: FakeApiServer, helm3_bin: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Helm 3 creates and patches (no server-side apply) and pyhelm3 sends --atomic instead of
    --rollback-on-failure: the commands must not care."""
    monkeypatch.setenv("KUBECTL_LLM_HELM", helm3_bin)
    assert json.loads(kllm("version", "-o", "json").stdout)["helm"].startswith("v3.")
    assert as_json("add", MODEL, "--gpu", "L40")["action"] == "installed"
    assert fake.requests(method="POST", resource="deployments")  # Helm 3 creates; Helm 4 applies (PATCH)
    assert as_json("add", MODEL, "--gpu", "L40")["action"] == "unchanged"
    assert as_json("upgrade", NAME, "--context-length", "16384")["revision"] == 2
    assert flag_value(container_args(fake), "--max-model-len") == "16384"
    assert as_json("rollback", NAME, "1")["revision"] == 3
    assert flag_value(container_args(fake), "--max-model-len") != "16384"
    fake.fail("write", "Deployment", message="Deployment.apps is invalid: injected", times=1)
    stderr = failed("upgrade", NAME, "--context-length", "8192", starts="helm failed: ")
    assert "(rolled back to revision 3)" in stderr
    as_json("rm", NAME)
    assert fake.objects(LABEL) == [] and helm_release_secrets(fake) == []


def test_a_namespace_that_does_not_exist_is_named_and_nothing_is_installed(fake: FakeApiServer) -> None:
    stderr = failed("add", MODEL, "--gpu", "L40", "-n", "nope", starts="namespace 'nope' does not exist")
    assert "hint: create it (kubectl create namespace nope) or pick another with -n" in stderr
    assert "removed" not in stderr  # helm stored nothing, so there was nothing to undo
    assert fake.objects(LABEL) == []


@pytest.mark.parametrize("fake", [{"pod_mode": "unschedulable", "namespaces": ["team-b"]}], indirect=True)
def test_pending_model_status_logs_and_list_across_namespaces(fake: FakeApiServer) -> None:
    as_json("add", MODEL, "--gpu", "L40")
    as_json("add", MODEL, "--gpu", "L40", "-n", "team-b", "--name", "qwen-b")
    status = as_json("status", NAME)
    (pod,) = status["pods"]
    assert (pod["phase"], pod["ready"], pod["stage"]) == ("Pending", False, "pending")
    assert "Insufficient nvidia.com/gpu" in pod["detail"]
    assert [e["reason"] for e in pod["events"]] == ["FailedScheduling"]
    assert status["engine"] is None  # no container ran, so no log was read

    logs = kllm("logs", NAME)
    assert logs.stdout == "" and logs.stderr.startswith(f"no log yet: pod {NAME}-")
    assert "is pending (0/3 nodes are available" in logs.stderr

    rows = as_json("list", "-A")
    assert [(r["namespace"], r["name"]) for r in rows] == [("llm", NAME), ("team-b", "qwen-b")]
    for row in rows:  # one timestamp format for scripts, whatever helm printed
        assert row["created"].endswith("Z") and "T" in row["created"]
        assert row["updated"].endswith("Z") and "T" in row["updated"]
    assert [r["name"] for r in as_json("list", "-n", "team-b")] == ["qwen-b"]
    failed("list", "-A", "-n", "llm", code=2, starts="-n/--namespace and -A/--all-namespaces")


def test_kubeconfig_and_context_flags_win_over_the_environment(fake: FakeApiServer, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """--kubeconfig PATH and --context NAME, like kubectl; the namespace comes from the chosen context."""
    good = fake.write_kubeconfig(tmp_path / "good-kubeconfig", namespace="team-x", context="fake")
    config = yaml.safe_load(good.read_text())
    config["clusters"].append({"name": "dead", "cluster": {"server": "http://127.0.0.1:9"}})
    config["contexts"].append({"name": "dead", "context": {"cluster": "dead", "user": config["users"][0]["name"]}})
    config["current-context"] = "dead"
    good.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "does-not-exist"))
    fake.create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-x"}})

    conn = ["--kubeconfig", str(good), "--context", "fake"]
    added = as_json("add", MODEL, "--gpu", "L40", *conn)
    assert added["namespace"] == "team-x"
    assert [r["name"] for r in as_json("list", *conn)] == [NAME]
    failed("list", "--kubeconfig", str(good), starts="cannot reach the cluster")  # current context: dead
    failed("list", "--kubeconfig", str(good), "--context", "nope", starts="context 'nope' not found")
    as_json("rm", NAME, *conn)
    assert fake.objects(LABEL) == []


def test_upgrade_and_rollback_take_back_fields_changed_by_hand(fake: FakeApiServer) -> None:
    """An admin frees the GPUs with kubectl (another field manager now owns spec.replicas). Helm 4 applies
    server-side, which would fail with a conflict; kubectl llm forces it: the release is the desired state."""
    as_json("add", MODEL, "--gpu", "L40")
    patch = subprocess.run(["kubectl", "patch", f"deployment/{NAME}", "-n", NS, "--type", "merge",
                            "-p", '{"spec":{"replicas":0}}'], capture_output=True, text=True)
    assert patch.returncode == 0, patch.stderr
    assert fake.get_object("Deployment", NAME, NS)["spec"]["replicas"] == 0
    assert as_json("upgrade", NAME, "--context-length", "16384")["revision"] == 2
    assert fake.get_object("Deployment", NAME, NS)["spec"]["replicas"] == 1

    subprocess.run(["kubectl", "patch", f"deployment/{NAME}", "-n", NS, "--type", "merge",
                    "-p", '{"spec":{"replicas":0}}'], check=True, capture_output=True)
    assert as_json("rollback", NAME)["revision"] == 3
    dep = fake.get_object("Deployment", NAME, NS)
    assert dep["spec"]["replicas"] == 1 and flag_value(container_args(fake), "--max-model-len") != "16384"


def test_the_e2e_suite_itself_runs_green_against_the_fake(fake: FakeApiServer, tmp_path: Path) -> None:
    """tests/e2e has no real cluster here; run it against the fake API server and a stand-in for the gateway's
    /v1/models and /v1/chat/completions, so its own code (flags, JSON fields, the curl/base URL, the 'nothing left' check) is known to work."""
    import http.server
    import os
    import sys
    import threading

    seen_headers: list[str] = []
    seen_models: list[str] = []

    class Models(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            seen_headers.append(self.headers.get("x-ai-eg-model", ""))
            body = json.dumps({"object": "list", "data": [{"id": "kubectl-llm-e2e", "object": "model"}]}).encode()
            self.send_response(200 if self.path == "/v1/models" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - the e2e test's chat completion through the route
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            seen_models.append(request.get("model", ""))
            body = json.dumps({"object": "chat.completion", "model": request.get("model"), "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "OK."}, "finish_reason": "stop"}]}).encode()
            self.send_response(200 if self.path == "/v1/chat/completions" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    gateway = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Models)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    try:
        env = dict(os.environ, LLM_E2E="1", LLM_E2E_MODEL=MODEL, LLM_E2E_NAMESPACE=NS,
                   LLM_E2E_GATEWAY=f"http://127.0.0.1:{gateway.server_address[1]}",
                   LLM_E2E_ARGS="--gpu L40 --timeout 60s")
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               str(Path(__file__).parent / "e2e")], env=env, capture_output=True, text=True,
                              timeout=300, cwd=Path(__file__).parents[1])
    finally:
        gateway.shutdown()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    assert seen_headers == ["kubectl-llm-e2e"] and seen_models == ["kubectl-llm-e2e"]
    assert fake.objects("llm.nrp-nautilus.io/model=kubectl-llm-e2e") == []
    assert fake.requests(method="DELETE", resource="deployments")  # it really installed and removed


def _stored_release(secret: dict) -> dict:
    """Helm's release record: base64(gzip(JSON)) inside the Secret's (base64) data."""
    import base64
    import gzip

    return json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secret["data"]["release"]))))


def _store_release(release: dict, name: str, version: int, status: str) -> dict:
    import base64
    import gzip

    blob = base64.b64encode(base64.b64encode(gzip.compress(json.dumps(release).encode()))).decode()
    return {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": f"sh.helm.release.v1.{name}.v{version}", "namespace": NS,
                         "labels": {"name": name, "owner": "helm", "status": status, "version": str(version)}},
            "data": {"release": blob}}


def test_an_upgrade_killed_half_way_is_repaired_by_the_next_command(fake: FakeApiServer) -> None:
    """kill -9 (or a lost laptop) during an upgrade leaves Helm's record at pending-upgrade, and plain helm then
    refuses every operation ("another operation is in progress"). kubectl llm rolls the stuck revision back first
    (pyhelm3 get_proceedable_revision), then does what was asked."""
    as_json("add", MODEL, "--gpu", "L40")
    rev1 = _stored_release(fake.get_object("Secret", f"sh.helm.release.v1.{NAME}.v1", NS))
    stuck = dict(rev1, version=2, info=dict(rev1["info"], status="pending-upgrade", description="killed"))
    fake.create_object(_store_release(stuck, NAME, 2, "pending-upgrade"))
    plain = subprocess.run(["helm", "upgrade", NAME, str(Path(__file__).parents[1] / "charts" / "llm-model"),
                            "-n", NS, "--reuse-values"], capture_output=True, text=True)
    assert plain.returncode != 0 and "another operation" in plain.stderr

    up = as_json("upgrade", NAME, "--context-length", "16384")
    assert up["action"] == "upgraded" and up["revision"] == 4       # 3 = the repair's rollback to 1, 4 = the upgrade
    assert flag_value(container_args(fake), "--max-model-len") == "16384"
    statuses = {s["metadata"]["labels"]["version"]: s["metadata"]["labels"]["status"]
                for s in (fake.get_object("Secret", n, NS) for _, n in helm_release_secrets(fake))}
    assert max(statuses, key=int) == "4" and statuses["4"] == "deployed"   # the newest record decides; 2 is history
    assert as_json("add", MODEL, "--gpu", "L40", "--context-length", "16384")["action"] == "unchanged"


def test_an_install_killed_half_way_is_replaced_by_the_next_add(fake: FakeApiServer) -> None:
    as_json("add", MODEL, "--gpu", "L40")
    secret = fake.get_object("Secret", f"sh.helm.release.v1.{NAME}.v1", NS)
    record = _stored_release(secret)
    fake.delete_object("Secret", secret["metadata"]["name"], NS)
    fake.create_object(_store_release(dict(record, info=dict(record["info"], status="pending-install")),
                                      NAME, 1, "pending-install"))
    again = as_json("add", MODEL, "--gpu", "L40")
    assert (again["action"], again["revision"]) == ("installed", 1)   # the stuck install removed, then installed
    (secret_ref,) = helm_release_secrets(fake)
    assert fake.get_object("Secret", secret_ref[1], NS)["metadata"]["labels"]["status"] == "deployed"
    assert fake.get_object("Deployment", NAME, NS) is not None


def test_status_says_why_the_route_would_not_answer(fake: FakeApiServer) -> None:
    """The two usual reasons a model answers 404 through the gateway: no Gateway to attach to, or an
    AIGatewayRoute the AI Gateway controller did not accept."""
    as_json("add", MODEL, "--gpu", "L40")
    doc = as_json("status", NAME)
    assert doc["gateway"] == {"name": "envoy-ai-gateway-nrp", "namespace": NS, "found": False, "address": None}
    assert doc["route_status"] == {"found": True, "accepted": None, "message": ""}  # the fake runs no controller
    text = kllm("status", NAME).stdout
    assert "not reconciled yet (is the Envoy AI Gateway controller running?)" in text
    assert f"gateway   envoy-ai-gateway-nrp in namespace {NS} not found: install it with " \
           f"'kubectl llm gateway install -n {NS}'" in text

    route = fake.get_object("AIGatewayRoute", NAME, NS)
    fake.delete_object("AIGatewayRoute", NAME, NS)
    route["status"] = {"conditions": [{"type": "NotAccepted", "status": "True", "reason": "ReconcileError",
                                       "message": "backend qwen3-8b not found",
                                       "lastTransitionTime": "2026-11-27T10:00:00Z"}]}
    fake.create_object(route)
    as_json("gateway", "install")
    doc = as_json("status", NAME)
    assert doc["route_status"] == {"found": True, "accepted": False, "message": "backend qwen3-8b not found"}
    assert doc["gateway"]["found"] is True and doc["gateway"]["address"] is None
    text = kllm("status", NAME).stdout
    assert f'route     "model": "{NAME}" - NOT accepted: backend qwen3-8b not found' in text
    assert "address not assigned yet" in text


def test_add_of_a_gated_model_warns_when_the_token_secret_is_missing(fake: FakeApiServer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The Hub refuses an anonymous download (gated/private): without the Secret the pod would crash-loop on 401."""
    import dataclasses

    from kubectl_llm.cli import release_cmds
    from kubectl_llm.cli.planning import load_source

    asked: list[bool] = []

    def gated_source(model: str, revision: str | None, check_token: bool = False, model_id: str | None = None):
        asked.append(check_token)
        return dataclasses.replace(load_source(model, revision, model_id=model_id), requires_token=True)

    monkeypatch.setattr(release_cmds, "load_source", gated_source)
    added = kllm("add", MODEL, "--gpu", "L40")
    assert asked == [True]
    assert (f"warning: {MODEL} is gated or private on the Hugging Face Hub and Secret 'hf-token' does not exist "
            f"in namespace {NS}") in added.stderr
    assert f"kubectl create secret generic hf-token -n {NS} --from-literal=token=<your HF token>" in added.stderr

    fake.create_object({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hf-token", "namespace": NS},
                        "data": {"token": "aGZfeHl6"}})
    again = kllm("add", MODEL, "--gpu", "L40")
    assert "gated" not in again.stderr

    emptied = kllm("add", MODEL, "--gpu", "L40", "--set", "engine.hfTokenSecret.name=")
    assert "engine.hfTokenSecret.name is empty" in emptied.stderr

    kllm("add", MODEL, "--gpu", "L40", "--dry-run=client", "-o", "yaml")
    assert asked[-1] is False  # a client dry run never asks the Hub about tokens


def _examples(command: Any) -> list[str]:
    return [line.split("#")[0].split(">")[0].strip() for line in (command.epilog or "").splitlines()
            if line.strip().startswith("kubectl llm ")]


def test_every_example_in_the_help_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What users copy from --help works, in the order an admin would run it (against the fake API server)."""
    import shlex

    import click

    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-values.yaml").write_text("scheduling: {}\n")
    (tmp_path / "my-site.yaml").write_text("name: my-site\nstorageClass: ceph\n")
    (tmp_path / "my-model-dir").mkdir()
    (tmp_path / "my-model-dir" / "config.json").write_text(json.dumps(
        json.loads((Path(__file__).parents[1] / "kubectl_llm" / "catalog" / "models" / "Qwen__Qwen3-8B.json")
                   .read_text())["config"]))
    commands: dict[str, Any] = {}

    def walk(group: click.Group, prefix: str = "") -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):      # the lazy group imports each command here
            cmd = group.get_command(ctx, name)
            commands[prefix + name] = cmd
            if isinstance(cmd, click.Group):
                walk(cmd, prefix + name + " ")

    walk(cli)
    order = ["plan", "gpus", "site", "site show", "completion", "gateway", "add", "alias", "list", "chatbox", "export", "sync", "status", "logs", "upgrade", "rollback", "rm"]
    with cli_cluster(tmp_path, monkeypatch, namespace="nrp-llm", pod_log=VLLM_LOG) as api:
        ran = []
        for name in order:
            examples = _examples(commands[name])
            if name == "gateway":  # uninstall last, after the models are gone
                examples = [e for e in examples if "uninstall" not in e]
            if name == "rm":       # rm --keep-cache first, then add back, then the plain rm
                examples = examples[::-1]
            for example in examples:
                args = shlex.split(example)[2:]
                if "--wait" in args and "--timeout" not in args:
                    args += ["--timeout", "60s"]   # a regression fails in a minute, not helm's 30
                result = CliRunner().invoke(cli, args)
                assert result.exit_code == 0, f"{example}\n{result.stdout}\n{result.stderr}"
                ran.append(example)
                if "--keep-cache" in example:
                    kllm("add", MODEL, "-n", "nrp-llm")
        for example in _examples(commands["gateway"]):
            if "uninstall" in example:
                assert CliRunner().invoke(cli, shlex.split(example)[2:]).exit_code == 0
                ran.append(example)
        assert len(ran) == sum(len(_examples(commands[n])) for n in order)
        assert api.objects(LABEL) == [] and api.objects("llm.nrp-nautilus.io/gateway") == []


def test_changing_the_storage_class_of_a_deployed_model_says_what_to_do(fake: FakeApiServer) -> None:
    """Kubernetes rejects a changed claim spec with 'spec: Forbidden: ... immutable': a validation error, not a
    permission problem; the upgrade is rolled back and the hint says how to really move the weights."""
    as_json("add", MODEL, "--gpu", "L40")
    stderr = failed("add", MODEL, "--gpu", "L40", "--set", "storage.storageClass=linstor-unl",
                    starts="helm failed: UPGRADE FAILED: PersistentVolumeClaim \"qwen3-8b\" is invalid")
    assert "(rolled back to revision 1)" in stderr
    assert "hint: Kubernetes never changes a claim's storage class or access mode in place" in stderr
    assert "permission" not in stderr
    assert fake.get_object("PersistentVolumeClaim", NAME, NS)["spec"]["storageClassName"] != "linstor-unl"


@pytest.mark.parametrize("fake", [{"forbidden": lambda request: request["namespace"] is None
                                   and request["resource"] == "secrets"}], indirect=True)
def test_list_all_namespaces_without_cluster_wide_rights_says_to_drop_a(fake: FakeApiServer) -> None:
    """A namespace admin (the usual NRP user) may list Secrets in their namespace only."""
    as_json("add", MODEL, "--gpu", "L40")
    assert [r["name"] for r in as_json("list")] == [NAME]
    stderr = failed("list", "-A", starts="permission denied")
    assert 'cannot list resource "secrets" in API group "" at the cluster scope' in stderr
    assert "hint: listing every namespace needs cluster-wide read of Secrets (Helm's release store); drop -A" in stderr


def test_upgrade_wait_never_shows_the_old_pod_as_the_result(fake: FakeApiServer, fast_poll: None) -> None:
    """The pod from before the upgrade is ready; the line must follow its successor, not announce 'ready' early."""
    as_json("add", MODEL, "--gpu", "L40")
    fake.pod_ready_delay = 1.5
    result = kllm("upgrade", NAME, "--context-length", "16384", "--wait", "--timeout", "60s", "-o", "json")
    assert json.loads(result.stdout)["revision"] == 2
    stages = [line.split(f"{NAME}: ", 1)[1] for line in result.stderr.splitlines() if f"] {NAME}: " in line]
    assert stages[-1] == "ready - every object of the release is ready"
    # 'ready' may be said only of the new pod: after the line has seen it being created, never while only the old
    # (ready) pod exists. Under load the new pod can turn ready before helm returns, so 'ready - serving' may
    # precede the final line.
    first_new = next(i for i, s in enumerate(stages) if "ContainerCreating" in s)
    assert all(s.startswith("updating - pod ") for s in stages[:first_new]), stages
    assert not any(s.startswith("ready") for s in stages[:first_new]), stages

    unchanged = kllm("upgrade", NAME, "--context-length", "16384", "--wait", "--timeout", "60s")
    assert "unchanged" in unchanged.stdout
    stages = [line.split(f"{NAME}: ", 1)[1] for line in unchanged.stderr.splitlines() if f"] {NAME}: " in line]
    assert stages[-1] == "ready - every object of the release is ready"
    assert all(s.startswith("updating - pod ") and s.endswith("from before this change still runs; waiting for helm")
               for s in stages[:-1]), stages


def test_a_route_deleted_by_hand_is_named_and_the_suggested_command_brings_it_back(fake: FakeApiServer) -> None:
    as_json("add", MODEL, "--gpu", "L40")
    fake.delete_object("AIGatewayRoute", NAME, NS)
    doc = as_json("status", NAME)
    assert doc["route_status"]["found"] is False
    suggested = f"kubectl llm rollback {NAME} 1 -n {NS}"
    assert doc["route_status"]["message"] == f"AIGatewayRoute missing: re-apply the release with '{suggested}'"
    assert suggested in kllm("status", NAME).stdout
    kllm(*suggested.split()[2:])
    assert fake.get_object("AIGatewayRoute", NAME, NS) is not None
    assert as_json("status", NAME)["route_status"]["found"] is True
