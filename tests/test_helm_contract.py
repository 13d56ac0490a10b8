"""Contract tests at the pyhelm3 boundary: the exact helm argv and values the CLI makes pyhelm3 send.

No cluster exists here, so a fake `helm` (tests/fakes/helm) records each argv + stdin and keeps a tiny release
store; pyhelm3 itself runs for real (flag choice by Helm version, JSON values on stdin, kube flags). Narrow on
purpose: these tests prove what we ask helm to do, not that a cluster does it (that is tests/e2e).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from kubectl_llm.adapters.charts import MODEL_CHART, chart_path
from kubectl_llm.cli import session as session_mod
from kubectl_llm.cli.main import cli

pytestmark = pytest.mark.contract
REPO = Path(__file__).resolve().parent.parent
FAKE_HELM = REPO / "tests" / "fakes" / "helm"
NS = "nrp-llm"


@pytest.fixture
def fake_helm(tmp_path, monkeypatch):
    state = tmp_path / "helm-state"
    state.mkdir()
    monkeypatch.setenv("FAKE_HELM_STATE", str(state))
    monkeypatch.setenv("KUBECTL_LLM_HELM", str(FAKE_HELM))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("FAKE_HELM_FAIL", raising=False)
    monkeypatch.setattr(session_mod, "helm_command_factory", None)
    # The gateway CRD check talks to the API server; here the cluster "serves" every group.
    from kubectl_llm.adapters import cluster

    monkeypatch.setattr(cluster.Cluster, "missing_gateway_groups", lambda self: [])
    monkeypatch.setattr(cluster.Cluster, "pods", lambda self, name, ns: [])

    class Recorder:
        def calls(self) -> list[dict]:
            path = state / "calls.jsonl"
            return [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []

        def verbs(self) -> list[str]:
            return [" ".join(c["argv"][:2]) if c["argv"][0] in ("get", "show") else c["argv"][0]
                    for c in self.calls() if c["argv"][0] != "version"]

        def last(self, verb: str) -> dict:
            return [c for c in self.calls() if c["argv"][0] == verb][-1]

        def reset(self) -> None:
            (state / "calls.jsonl").unlink(missing_ok=True)

    return Recorder()


def run(*args: str) -> "object":
    return CliRunner().invoke(cli, list(args))


def planned_values() -> dict:
    """What chart_values() gives for the embedded Qwen/Qwen3-8B with default options (the add under test), plus
    the user layer that records that nothing was set by the user."""
    from kubectl_llm.adapters.hub import load_model
    from kubectl_llm.planner.plan import make_plan
    from kubectl_llm.planner.request import PlanRequest
    from kubectl_llm.planner.values import chart_values

    values = chart_values(make_plan(load_model("Qwen/Qwen3-8B"), PlanRequest()))
    values["userLayer"] = {"model": "Qwen/Qwen3-8B", "flags": {}, "values": {}}
    return json.loads(json.dumps(values))


def test_fresh_add_sends_one_upgrade_install_with_the_planned_values(fake_helm):
    result = run("add", "Qwen/Qwen3-8B", "-n", NS, "--kubeconfig", "/tmp/kc.yaml", "--context", "nrp")
    assert result.exit_code == 0, result.stderr
    assert "release qwen3-8b installed in namespace nrp-llm (revision 1)" in result.stdout
    assert fake_helm.verbs() == ["status", "show chart", "upgrade"]
    up = fake_helm.last("upgrade")
    chart = str(chart_path(MODEL_CHART))
    # pyhelm3's fixed part, then our namespace + chart version, then the kube flags pyhelm3 appends.
    assert up["argv"] == ["upgrade", "qwen3-8b", chart, "--history-max", "10", "--install", "--output", "json",
                          "--timeout", "30m", "--values", "-", "--description", "kubectl llm add Qwen/Qwen3-8B",
                          "--force-conflicts", "--namespace", NS, "--version", "0.1.0",
                          "--kubeconfig", "/tmp/kc.yaml", "--kube-context", "nrp"]
    assert json.loads(up["stdin"]) == planned_values()
    # the status probe (is NAME taken, by which chart?) is made in the same namespace with the same kube flags
    assert fake_helm.last("status")["argv"][:3] == ["status", "qwen3-8b", "--output"]
    assert NS in fake_helm.last("status")["argv"]


@pytest.mark.parametrize("helm_version,flag", [("v4.1.4", "--rollback-on-failure"), ("v3.17.2", "--atomic")])
def test_add_wait_asks_helm_to_roll_back_on_failure(fake_helm, monkeypatch, helm_version, flag):
    monkeypatch.setenv("FAKE_HELM_VERSION", helm_version)
    result = run("add", "Qwen/Qwen3-8B", "-n", NS, "--wait", "--timeout", "45m")
    assert result.exit_code == 0, result.stderr
    argv = fake_helm.last("upgrade")["argv"]
    assert flag in argv and argv[argv.index("--timeout") + 1] == "45m"
    assert argv[-2:] == ["--wait", "--wait-for-jobs"]
    other = "--atomic" if flag == "--rollback-on-failure" else "--rollback-on-failure"
    for banned in ("--disable-openapi-validation", "--dry-run", "--recreate-pods", "--create-namespace", other):
        assert banned not in argv


def test_same_add_twice_makes_no_new_revision_and_other_options_upgrade(fake_helm):
    assert run("add", "Qwen/Qwen3-8B", "-n", NS).exit_code == 0
    fake_helm.reset()
    again = run("add", "Qwen/Qwen3-8B", "-n", NS, "-o", "json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["action"] == "unchanged"
    assert json.loads(again.stdout)["revision"] == 1
    assert "upgrade" not in fake_helm.verbs()
    changed = run("add", "Qwen/Qwen3-8B", "-n", NS, "--max-num-seqs", "32", "-o", "json")
    assert changed.exit_code == 0, changed.stderr
    doc = json.loads(changed.stdout)
    assert (doc["action"], doc["revision"]) == ("upgraded", 2)
    sent = json.loads(fake_helm.last("upgrade")["stdin"])
    args = sent["engine"]["args"]
    assert args[args.index("--max-num-seqs") + 1] == "32"


def test_failed_install_without_wait_is_removed_by_our_rollback_path(fake_helm, monkeypatch):
    monkeypatch.setenv("FAKE_HELM_FAIL", "1")
    result = run("add", "Qwen/Qwen3-8B", "-n", NS)
    assert result.exit_code == 6
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: helm failed: UPGRADE FAILED")
    assert "(the partial install was removed)" in result.stderr
    assert fake_helm.verbs()[-3:] == ["upgrade", "status", "uninstall"]  # uninstall only what helm stored
    assert fake_helm.last("uninstall")["argv"][:2] == ["uninstall", "qwen3-8b"]
    assert NS in fake_helm.last("uninstall")["argv"]
    assert not (Path(os.environ["FAKE_HELM_STATE"]) / "releases.json").read_text().count("qwen3-8b")


def test_failed_upgrade_rolls_back_to_the_deployed_revision(fake_helm, monkeypatch):
    assert run("add", "Qwen/Qwen3-8B", "-n", NS).exit_code == 0
    monkeypatch.setenv("FAKE_HELM_FAIL", "1")
    # 12: never the planner's own choice (a power of two), so this is an upgrade whatever GPU the plan picks
    result = run("add", "Qwen/Qwen3-8B", "-n", NS, "--max-num-seqs", "12")
    assert result.exit_code == 6
    assert "(rolled back to revision 1)" in result.stderr
    argv = fake_helm.last("rollback")["argv"]
    assert argv[:3] == ["rollback", "qwen3-8b", "1"]
    assert "--cleanup-on-fail" in argv and "--recreate-pods" not in argv and NS in argv


def test_failed_install_with_wait_leaves_the_rollback_to_helm(fake_helm, monkeypatch):
    monkeypatch.setenv("FAKE_HELM_FAIL", "1")
    result = run("add", "Qwen/Qwen3-8B", "-n", NS, "--wait")
    assert result.exit_code == 6
    assert "(helm rolled the release back)" in result.stderr
    assert "--rollback-on-failure" in fake_helm.last("upgrade")["argv"]
    assert "uninstall" not in fake_helm.verbs()


def test_name_held_by_another_chart_is_a_conflict_and_nothing_is_installed(fake_helm):
    state = Path(os.environ["FAKE_HELM_STATE"]) / "releases.json"
    state.write_text(json.dumps({f"{NS}/qwen3-8b": {"name": "qwen3-8b", "namespace": NS, "chart": "postgresql",
                                                    "revisions": [{"revision": 1, "status": "deployed",
                                                                   "values": {}, "chart_version": "12.1.0",
                                                                   "updated": "x"}]}}))
    result = run("add", "Qwen/Qwen3-8B", "-n", NS)
    assert result.exit_code == 6
    assert "error: release 'qwen3-8b' in namespace 'nrp-llm' belongs to chart 'postgresql'" in result.stderr
    assert "upgrade" not in fake_helm.verbs()


def test_missing_gateway_crds_stop_the_add_before_helm_runs(fake_helm, monkeypatch):
    from kubectl_llm.adapters import cluster

    monkeypatch.setattr(cluster.Cluster, "missing_gateway_groups", lambda self: ["aigateway.envoyproxy.io"])
    result = run("add", "Qwen/Qwen3-8B", "-n", NS)
    assert result.exit_code == 6
    assert "aigateway.envoyproxy.io" in result.stderr and "hint: install the Envoy AI Gateway" in result.stderr
    assert fake_helm.verbs() == []


def test_rm_uninstalls_and_reports_the_objects(fake_helm):
    assert run("add", "Qwen/Qwen3-8B", "-n", NS).exit_code == 0
    fake_helm.reset()
    result = run("rm", "qwen3-8b", "-n", NS, "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "name": "qwen3-8b", "namespace": NS, "kept": [], "terminating": [],
        "removed": ["PersistentVolumeClaim/qwen3-8b", "Deployment/qwen3-8b", "AIGatewayRoute/qwen3-8b"]}
    assert fake_helm.last("uninstall")["argv"] == ["uninstall", "qwen3-8b", "--timeout", "5m", "--namespace", NS]
    assert "upgrade" not in fake_helm.verbs()


def test_rm_keep_cache_marks_the_pvc_keep_before_uninstalling(fake_helm):
    assert run("add", "Qwen/Qwen3-8B", "-n", NS).exit_code == 0
    fake_helm.reset()
    result = run("rm", "qwen3-8b", "-n", NS, "--keep-cache")
    assert result.exit_code == 0, result.stderr
    assert fake_helm.verbs()[-2:] == ["upgrade", "uninstall"]
    sent = json.loads(fake_helm.last("upgrade")["stdin"])
    assert sent["storage"]["keep"] is True
    assert sent["model"]["id"] == "Qwen/Qwen3-8B"      # the release's own values, only storage.keep added
    assert "PersistentVolumeClaim/qwen3-8b kept (--keep-cache)" in result.stdout
    assert "Deployment/qwen3-8b deleted" in result.stdout


def test_rollback_passes_revision_namespace_and_no_recreate_pods(fake_helm):
    assert run("add", "Qwen/Qwen3-8B", "-n", NS).exit_code == 0
    assert run("add", "Qwen/Qwen3-8B", "-n", NS, "--max-num-seqs", "32").exit_code == 0
    result = run("rollback", "qwen3-8b", "1", "-n", NS)
    assert result.exit_code == 0, result.stderr
    assert "rolled back to revision 1 (now revision 3)" in result.stdout
    assert fake_helm.last("rollback")["argv"] == ["rollback", "qwen3-8b", "1", "--history-max", "10", "--timeout",
                                                  "30m", "--cleanup-on-fail", "--namespace", NS, "--force-conflicts"]


@pytest.mark.parametrize("helm_version,forced", [("v4.1.4", True), ("v3.17.2", False)])
def test_server_side_conflicts_are_forced_on_helm4_only(fake_helm, monkeypatch, helm_version, forced):
    """Helm 4 applies server-side: a field changed by hand (kubectl scale) conflicts unless forced; Helm 3 has no
    such flag (it would fail with 'unknown flag')."""
    monkeypatch.setenv("FAKE_HELM_VERSION", helm_version)
    assert run("add", "Qwen/Qwen3-8B", "-n", NS).exit_code == 0
    assert run("upgrade", "qwen3-8b", "-n", NS, "--max-num-seqs", "32").exit_code == 0
    assert run("rollback", "qwen3-8b", "-n", NS).exit_code == 0
    for verb in ("upgrade", "rollback"):
        assert ("--force-conflicts" in fake_helm.last(verb)["argv"]) is forced, verb


def test_upgrade_replans_the_deployed_model_with_new_options(fake_helm):
    assert run("add", "Qwen/Qwen3-8B", "-n", NS).exit_code == 0
    result = run("upgrade", "qwen3-8b", "-n", NS, "--max-model-len", "16384", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["action"] == "upgraded"
    sent = json.loads(fake_helm.last("upgrade")["stdin"])
    assert sent["model"]["id"] == "Qwen/Qwen3-8B" and sent["engine"]["maxModelLen"] == 16384
    # The same plan a fresh `add --max-model-len 16384` makes: the GPU type was never named, so it is re-planned
    # (no gpu.product rule appears), and the user layer records the flag.
    from kubectl_llm.adapters.hub import load_model
    from kubectl_llm.planner.plan import make_plan
    from kubectl_llm.planner.request import PlanRequest

    fresh = make_plan(load_model("Qwen/Qwen3-8B"), PlanRequest(max_model_len=16384)).to_dict()
    assert sent["gpu"]["type"] == fresh["gpu"]["type"]
    assert "nvidia.com/gpu.product" not in [e["key"] for e in sent["scheduling"]["nodeAffinity"]]
    assert sent["userLayer"] == {"model": "Qwen/Qwen3-8B", "flags": {"max-model-len": 16384}, "values": {}}


def test_list_reads_helm_rows_and_values(fake_helm):
    assert run("add", "Qwen/Qwen3-8B", "-n", NS).exit_code == 0
    result = run("list", "-n", NS, "-o", "json")
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    expected = planned_values()
    assert row["model"] == "Qwen/Qwen3-8B" and row["route"] == expected["gateway"]["routeName"]
    assert row["gpu"] == {"type": expected["gpu"]["type"], "count": expected["gpu"]["count"], "nodes": 1,
                          "per_node": expected["gpu"]["count"]}
    assert row["context"] == expected["engine"]["maxModelLen"] and row["status"] == "deployed"
    argv = fake_helm.last("list")["argv"]
    assert "--deployed" in argv and "--failed" in argv and "--pending" in argv and NS in argv
    # no cluster behind this recorded helm: ready is unknown (null, '?'), said once on stderr; the rest still lists
    assert row["replicas"] == {"ready": None, "desired": 1, "updated": None, "pods_per_replica": 1, "workload": None}
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("warning: cannot read the models' workloads, ready counts unknown: no usable kubeconfig")
    table = run("list", "-n", NS)
    assert table.stdout.splitlines()[0].split() == ["NAME", "KIND", "MODEL", "GPUS", "READY", "CONTEXT", "ROUTE",
                                                    "STATUS", "AGE"]
    assert table.stdout.splitlines()[1].split()[6] == "?/1"


def test_rm_of_an_unknown_release_says_so(fake_helm):
    result = run("rm", "nope", "-n", NS)
    assert result.exit_code == 6
    assert result.stderr.splitlines()[0] == "error: no release 'nope' in namespace 'nrp-llm'"
    assert "uninstall" not in fake_helm.verbs()


def test_server_dry_run_uses_helms_server_side_dry_run_and_persists_nothing(fake_helm):
    result = run("add", "Qwen/Qwen3-8B", "-n", NS, "--dry-run=server", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert [o["kind"] for o in json.loads(result.stdout)] == ["PersistentVolumeClaim", "Deployment",
                                                              "AIGatewayRoute"]
    up = fake_helm.last("upgrade")
    assert up["argv"] == ["upgrade", "qwen3-8b", str(chart_path(MODEL_CHART)), "--install", "--dry-run=server",
                          "--namespace", NS, "--output", "json", "--values", "-"]
    assert json.loads(up["stdin"]) == planned_values()
    assert run("list", "-n", NS, "-o", "json").stdout.strip() == "[]"
