"""Replicas of a one-node model on ReadWriteOnce storage: one weights claim per replica (a StatefulSet).

Before: `add MODEL --replicas 3` rendered one Deployment of 3 pods sharing ONE weights PVC. NRP's class (Linstor) is
ReadWriteOnce: the volume attaches to one node, so the replicas scheduled elsewhere never started (Multi-Attach
error); add only warned. Now the planner (planner/storage.py) decides: a StatefulSet whose volumeClaimTemplates
give each replica its own claim, unless the claim is ReadWriteMany (the admin's storage.accessMode, or the site's
sharedStorageClass), where the Deployment and its one shared claim stay. Tested here: the plan's reason, the chart
(strict validation, helm lint of the ci values), the whole lifecycle against tests/fakes/apiserver.py (add, list,
status, upgrade 3 -> 1 -> 3, rollback, rm with and without --keep-cache)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_llm.catalog import load as load_catalog
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.site import Site, default_site, site_from_document
from kubectl_llm.planner.values import chart_values
from tests.cli_harness import offline_dry_run_env, render_dry_run
from tests.fakes.apiserver import FakeApiServer
from tests.test_cli_lifecycle import NS, as_json, fake, kllm  # noqa: F401

MODEL = "Qwen/Qwen3-8B"
NAME = "qwen3-8b"
LABEL = f"llm.nrp-nautilus.io/model={NAME}"
CHART = Path(__file__).resolve().parents[1] / "charts" / "llm-model"
CLAIMS = [f"cache-{NAME}-{i}" for i in range(3)]


def plan(replicas: int, site: Site | None = None, **storage: Any) -> Any:
    source = load_catalog(MODEL)
    assert source is not None
    return make_plan(source, PlanRequest(gpu_type="L40", replicas=replicas, **storage), site or default_site())


# --- the planner's decision --------------------------------------------------------------------------------------
def test_replicas_on_read_write_once_storage_get_a_claim_each_and_the_plan_says_why() -> None:
    """Qwen3-8B: 16,381,470,720 bytes of safetensors = 15.3 GiB (16381470720 / 2^30 = 15.26); the claim is the
    weights + 15 % = 17.55 GiB -> 18Gi (sizing.storage). Three replicas on NRP's linstor-igrok (ReadWriteOnce, no
    sharedStorageClass): a StatefulSet, 3 claims of 18Gi, 3 downloads."""
    p = plan(3)
    values = chart_values(p)
    assert (values["workload"], values["replicas"], values["storage"]) == (
        "StatefulSet", 3, {"size": "18Gi", "storageClass": "linstor-igrok"})
    assert ("3 replicas on ReadWriteOnce storage (class linstor-igrok): one weights claim per replica (StatefulSet, "
            "3 x 18Gi) so that each can run on any node, 3 downloads of 15.3 GiB; a site with a ReadWriteMany class "
            "names it as sharedStorageClass (one download)") in p.reasons
    assert not any("Multi-Attach" in w for w in p.warnings)
    # one replica: the Deployment and its one claim, no storage reason (the golden plans are unchanged)
    one = plan(1)
    # (the chart's default kind is not written: the values of a release made before `workload` existed are unchanged)
    assert "workload" not in chart_values(one) and not any("claim" in r for r in one.reasons)


def test_a_read_write_many_claim_keeps_one_deployment_and_one_download() -> None:
    """The admin's storage.accessMode=ReadWriteMany (with its class), or the site's sharedStorageClass: the 3
    replicas share one claim (a Deployment), one download of 15.3 GiB."""
    rwx = plan(3, storage_access_mode="ReadWriteMany", storage_class="rook-cephfs")
    assert "workload" not in chart_values(rwx)
    assert ("3 replicas share one ReadWriteMany weights claim (18Gi, class rook-cephfs): one download of 15.3 GiB "
            "for all of them (Deployment)") in rwx.reasons
    site = site_from_document({**default_site().to_document(), "sharedStorageClass": "cephfs-rwx"})
    shared = plan(3, site)
    values = chart_values(shared)
    assert (values.get("workload"), values["storage"]) == (
        None, {"size": "18Gi", "storageClass": "cephfs-rwx", "accessMode": "ReadWriteMany"})
    assert shared.to_dict()["resources"]["storage_class"] == "cephfs-rwx"
    # the shared class is for replicas only: one replica keeps the site's storageClass
    assert chart_values(plan(1, site))["storage"] == {"size": "18Gi", "storageClass": "linstor-igrok"}
    # an admin's own class (no access mode said) is taken as ReadWriteOnce: a claim each
    assert chart_values(plan(3, site, storage_class="other"))["workload"] == "StatefulSet"


def test_the_site_schema_takes_a_shared_storage_class_and_nrp_names_none() -> None:
    from kubectl_llm.adapters.site import load_site

    assert default_site().shared_storage_class == ""
    schema = json.loads((Path(__file__).resolve().parents[1] / "kubectl_llm" / "sites" / "site.schema.json")
                        .read_text())
    assert "sharedStorageClass" in schema["properties"]
    assert load_site(None).site.to_document()["sharedStorageClass"] == ""


# --- the chart ------------------------------------------------------------------------------------------------------
@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, helm_bin: str) -> None:
    offline_dry_run_env(monkeypatch, tmp_path)


@pytest.mark.usefixtures("offline")
def test_add_replicas_renders_a_statefulset_with_a_claim_template() -> None:
    """Strictly validated (kubernetes-validate for apps/v1 StatefulSet); the pod template is the Deployment's
    (_pod.tpl), but its claim comes from the template; claims and selector use only labels that never change."""
    kinds = render_dry_run(MODEL, "--gpu", "L40", "--replicas", "3")
    assert "Deployment" not in kinds and "PersistentVolumeClaim" not in kinds
    sts = kinds["StatefulSet"]["spec"]
    assert (sts["replicas"], sts["podManagementPolicy"], sts["serviceName"]) == (3, "Parallel", NAME)
    assert kinds["Service"]["metadata"]["name"] == NAME
    assert sts["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Delete", "whenScaled": "Delete"}
    (claim,) = sts["volumeClaimTemplates"]
    assert claim["metadata"] == {"name": "cache", "labels": {
        "app.kubernetes.io/name": "llm-model", "app.kubernetes.io/instance": NAME,
        "app.kubernetes.io/component": "inference", "llm.nrp-nautilus.io/model": NAME}}
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"] and claim["spec"]["storageClassName"] == "linstor-igrok"
    assert claim["spec"]["resources"]["requests"]["storage"] == "18Gi"
    pod = sts["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["shm"]                       # "cache" is the claim template's
    (c,) = pod["containers"]
    assert {"name": "cache", "mountPath": "/workspace/.cache", "subPath": "cache"} in c["volumeMounts"]
    assert {"startupProbe", "readinessProbe", "livenessProbe", "ports"} <= set(c)
    kept = render_dry_run(MODEL, "--gpu", "L40", "--replicas", "3", "--set", "storage.keep=true")["StatefulSet"]
    assert kept["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert kept["spec"]["volumeClaimTemplates"] == sts["volumeClaimTemplates"]   # keep never touches the template
    rwx = render_dry_run(MODEL, "--gpu", "L40", "--replicas", "3", "--set",
                         "storage.storageClass=rook-cephfs,storage.accessMode=ReadWriteMany")
    assert "StatefulSet" not in rwx and rwx["Deployment"]["spec"]["replicas"] == 3
    assert rwx["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]


@pytest.mark.usefixtures("offline")
def test_workload_is_planned_not_overridable() -> None:
    from click.testing import CliRunner

    from kubectl_llm.cli.main import cli

    res = CliRunner().invoke(cli, ["add", MODEL, "--replicas", "3", "--set", "workload=Deployment",
                                   "--dry-run=client"])
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("error: workload is planned, not overridable with -f/--set")


def _template(values: dict[str, Any], helm_bin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm_bin, "template", "m", str(CHART), "-f", "-"], input=yaml.safe_dump(values),
                          capture_output=True, text=True)


def test_the_chart_refuses_replicas_of_a_deployment_sharing_a_read_write_once_claim(helm_bin: str) -> None:
    """Helm used without kubectl llm: 3 replicas of the Deployment on the default ReadWriteOnce claim (the defect),
    a StatefulSet with storage.existingClaim, a StatefulSet for a group spanning nodes: refused with the fix."""
    base = yaml.safe_load((CHART / "ci" / "01-default-values.yaml").read_text())
    res = _template({**base, "replicas": 3}, helm_bin)
    assert res.returncode != 0 and ("3 replicas of a Deployment mount its one weights claim, which a ReadWriteOnce "
                                    "volume allows on one node only") in res.stderr
    assert _template({**base, "replicas": 3, "storage": {"accessMode": "ReadWriteMany"}}, helm_bin).returncode == 0
    res = _template({**base, "replicas": 3, "workload": "StatefulSet", "storage": {"existingClaim": "w"}}, helm_bin)
    assert res.returncode != 0 and "storage.existingClaim (one claim) needs workload Deployment" in res.stderr
    res = _template({**base, "workload": "StatefulSet", "group": {"size": 2, "workerArgs": ["x"]}}, helm_bin)
    assert res.returncode != 0 and "a group spanning nodes (group.size > 1) is a LeaderWorkerSet" in res.stderr


def test_helm_lint_of_the_statefulset_ci_values(helm_bin: str) -> None:
    values = CHART / "ci" / "10-replicas-statefulset-values.yaml"
    res = subprocess.run([helm_bin, "lint", "--strict", str(CHART), "-f", str(values)], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    out = subprocess.run([helm_bin, "template", "m", str(CHART), "-f", str(values)], capture_output=True, text=True,
                         check=True).stdout
    from tests.manifest_validation import validate_objects

    objs = [o for o in yaml.safe_load_all(out) if o]
    validate_objects(objs)
    assert "StatefulSet" in {o["kind"] for o in objs}


# --- day 2 against the fake API server ------------------------------------------------------------------------------
def claims(api: FakeApiServer) -> list[str]:
    return sorted(n for k, n in api.objects(namespace=NS, kind="PersistentVolumeClaim"))


def kinds_of(api: FakeApiServer) -> set[str]:
    return {k for k, _ in api.objects(LABEL, namespace=NS)}


def test_replicas_lifecycle_add_upgrade_3_1_3_rollback_rm(fake: FakeApiServer) -> None:
    added = as_json("add", MODEL, "--gpu", "L40", "--replicas", "3")
    assert added["objects"][:2] == ["Service/qwen3-8b", "StatefulSet/qwen3-8b"] or \
        "StatefulSet/qwen3-8b" in added["objects"]
    assert claims(fake) == CLAIMS
    pods = sorted(n for k, n in fake.objects(LABEL, namespace=NS, kind="Pod"))
    assert pods == [f"{NAME}-{i}" for i in range(3)]
    for i, pod in enumerate(pods):      # each pod mounts its own claim
        spec = fake.get_object("Pod", pod, NS)["spec"]
        assert {"name": "cache", "persistentVolumeClaim": {"claimName": CLAIMS[i]}} in spec["volumes"]
    listed = as_json("list")[0]
    assert listed["replicas"] == {"ready": 3, "desired": 3, "updated": 3, "pods_per_replica": 1,
                                  "workload": "StatefulSet"}
    status = as_json("status", NAME)
    assert status["replicas"]["workload"] == "StatefulSet" and len(status["pods"]) == 3
    assert "replicas  3/3 ready" in kllm("status", NAME).stdout

    # 3 -> 1: a Deployment with its one claim again; the StatefulSet and its claims are gone
    down = kllm("upgrade", NAME, "--replicas", "1", "-o", "json")
    assert json.loads(down.stdout)["action"] == "upgraded"
    assert "becomes a Deployment" in down.stderr
    assert "Deployment" in kinds_of(fake) and "StatefulSet" not in kinds_of(fake)
    assert claims(fake) == [NAME]
    assert as_json("list")[0]["replicas"]["workload"] == "Deployment"

    # 1 -> 3: the StatefulSet again (the Deployment's claim goes; each replica downloads into its own)
    up = kllm("upgrade", NAME, "--replicas", "3", "--wait", "--timeout", "2m", "-o", "json")
    assert "becomes a StatefulSet" in up.stderr
    assert claims(fake) == CLAIMS and "Deployment" not in kinds_of(fake)
    assert as_json("status", NAME)["replicas"]["ready"] == 3

    # rollback to revision 2 (the Deployment) and back to 3 (the StatefulSet)
    kllm("rollback", NAME, "2", "--wait", "--timeout", "2m")
    assert claims(fake) == [NAME] and "StatefulSet" not in kinds_of(fake)
    kllm("rollback", NAME, "3")
    assert claims(fake) == CLAIMS

    # rm: nothing left, the per-replica claims included
    removed = as_json("rm", NAME)
    assert set(CLAIMS) <= {r.split("/", 1)[1] for r in removed["removed"] if r.startswith("PersistentVolumeClaim/")}
    assert fake.objects(LABEL, namespace=NS) == [] and claims(fake) == []


def test_rm_keep_cache_keeps_every_replicas_claim_and_a_new_add_adopts_them(fake: FakeApiServer) -> None:
    as_json("add", MODEL, "--gpu", "L40", "--replicas", "3")
    uids = {c: fake.get_object("PersistentVolumeClaim", c, NS)["metadata"]["uid"] for c in CLAIMS}
    res = as_json("rm", NAME, "--keep-cache")
    assert sorted(res["kept"]) == [f"PersistentVolumeClaim/{c}" for c in CLAIMS]
    assert claims(fake) == CLAIMS and "StatefulSet" not in kinds_of(fake)
    for c in CLAIMS:
        assert not fake.get_object("PersistentVolumeClaim", c, NS)["metadata"].get("ownerReferences")
    as_json("add", MODEL, "--gpu", "L40", "--replicas", "3")      # the same claims: no new download
    assert {c: fake.get_object("PersistentVolumeClaim", c, NS)["metadata"]["uid"] for c in CLAIMS} == uids
    as_json("rm", NAME)
    assert claims(fake) == []


def test_a_statefulset_scaled_down_deletes_the_claims_of_the_replicas_it_drops(fake: FakeApiServer) -> None:
    """3 -> 2 stays a StatefulSet: replica 2 and its claim go (whenScaled Delete: a claim no pod mounts only holds
    storage); the claim template is unchanged, so the API accepts the update."""
    as_json("add", MODEL, "--gpu", "L40", "--replicas", "3")
    kllm("upgrade", NAME, "--replicas", "2")
    assert claims(fake) == CLAIMS[:2]
    assert as_json("status", NAME)["replicas"]["desired"] == 2


def test_switching_with_storage_keep_keeps_the_old_claim_and_rm_deletes_it(fake: FakeApiServer) -> None:
    """storage.keep (the admin asked for the weights to survive uninstall) on a 1 -> 3 switch: Helm leaves the
    Deployment's claim (resource-policy keep) although no pod mounts it any more: the upgrade says so, and a plain
    rm deletes it with the rest (rm --keep-cache would list it as kept)."""
    kllm("add", MODEL, "--gpu", "L40", "--set", "storage.keep=true")
    up = kllm("upgrade", NAME, "--replicas", "3")
    assert f"the claim {NAME} stays (storage.keep) but no pod mounts it" in up.stderr
    assert claims(fake) == sorted([NAME, *CLAIMS])
    removed = as_json("rm", NAME)
    assert f"PersistentVolumeClaim/{NAME}" in removed["removed"] and claims(fake) == []


def _shared_site(tmp_path: Path) -> str:
    site = tmp_path / "shared-site.yaml"
    site.write_text(yaml.safe_dump({**default_site().to_document(), "name": "shared",
                                    "sharedStorageClass": "cephfs-rwx"}))
    return str(site)


def test_a_sites_shared_class_serves_replicas_from_one_claim_and_day2_keeps_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A site with sharedStorageClass: add --replicas 3 is one Deployment sharing one ReadWriteMany claim of that
    class; down to 1 replica the claim stays what it is (a claim's class and access mode cannot change: the
    upgrade keeps them, says so, and is a no-op when repeated). A 1-replica release on a ReadWriteOnce claim cannot
    turn that claim into the shared one: the upgrade to 3 is refused before anything is applied, with both ways
    out, and the first of them (own claims) works."""
    from tests.cli_harness import cli_cluster

    site = _shared_site(tmp_path)
    with cli_cluster(tmp_path, monkeypatch, namespace=NS, storage_classes=None) as api:
        kllm("add", MODEL, "--gpu", "L40", "--replicas", "3", "--site", site)
        assert api.get_object("Deployment", NAME, NS)["spec"]["replicas"] == 3
        pvc = api.get_object("PersistentVolumeClaim", NAME, NS)["spec"]
        assert (pvc["storageClassName"], pvc["accessModes"]) == ("cephfs-rwx", ["ReadWriteMany"])
        down = kllm("upgrade", NAME, "--replicas", "1")
        assert "the weights claim keeps access mode ReadWriteMany and storage class cephfs-rwx" in down.stderr
        assert api.get_object("Deployment", NAME, NS)["spec"]["replicas"] == 1
        assert "unchanged" in kllm("upgrade", NAME).stdout
        kllm("rm", NAME)

        kllm("add", MODEL, "--gpu", "L40", "--site", site)            # one replica: the site's RWO class
        res = kllm("upgrade", NAME, "--replicas", "3", code=2)
        assert res.stderr.splitlines() == [
            "error: 3 replicas of qwen3-8b cannot share its weights claim qwen3-8b: it is ReadWriteOnce (class "
            "linstor-igrok), and a claim's access mode and class cannot change into the site's shared ReadWriteMany "
            "class cephfs-rwx",
            "hint: give each replica its own claim: --set storage.accessMode=ReadWriteOnce (a StatefulSet, 3 "
            "downloads); or share one claim: kubectl llm rm qwen3-8b, then add it again with --replicas 3"]
        assert api.get_object("Deployment", NAME, NS)["spec"]["replicas"] == 1
        kllm("upgrade", NAME, "--replicas", "3", "--set", "storage.accessMode=ReadWriteOnce")
        assert api.get_object("StatefulSet", NAME, NS)["spec"]["replicas"] == 3
        assert "unchanged" in kllm("upgrade", NAME).stdout                   # the layer keeps the choice


def test_status_names_the_statefulsets_pods_refused_by_admission(fake: FakeApiServer) -> None:
    """A StatefulSet creates its pods itself (no ReplicaSet): a missing PriorityClass is its FailedCreate event,
    which status reports (before: 'pods none yet' and no problem); once the class exists the pods run."""
    as_json("add", MODEL, "--gpu", "L40", "--replicas", "3", "--set", "scheduling.priorityClassName=gold")
    doc = as_json("status", NAME)
    assert doc["pods"] == [] and doc["replicas"]["ready"] == 0
    assert [(p["kind"], p["name"], p["reason"]) for p in doc["problems"]] == [("StatefulSet", NAME, "FailedCreate")]
    assert "no PriorityClass with name gold was found" in doc["problems"][0]["message"]
    fake.create_object({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                        "metadata": {"name": "gold"}, "value": 10})
    doc = as_json("status", NAME)
    assert doc["problems"] == [] and doc["replicas"]["ready"] == 3


def test_helm3_switches_kinds_and_waits_for_the_statefulset(fake: FakeApiServer, helm3_bin: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Helm 3 (create and three-way patch, --atomic with --wait; its own ready checker reads the StatefulSet's
    observedGeneration, updatedReplicas, readyReplicas and currentRevision = updateRevision)."""
    monkeypatch.setenv("KUBECTL_LLM_HELM", helm3_bin)
    kllm("add", MODEL, "--gpu", "L40", "--replicas", "3", "--wait", "--timeout", "2m")
    assert claims(fake) == CLAIMS
    kllm("upgrade", NAME, "--replicas", "1", "--wait", "--timeout", "2m")
    assert claims(fake) == [NAME] and "StatefulSet" not in kinds_of(fake)
    kllm("upgrade", NAME, "--replicas", "3", "--context-length", "8192", "--wait", "--timeout", "2m")
    assert claims(fake) == CLAIMS and as_json("status", NAME)["replicas"]["ready"] == 3
    kllm("upgrade", NAME, "--context-length", "4096", "--wait", "--timeout", "2m")   # a new template, same claims
    pod = fake.get_object("Pod", f"{NAME}-2", NS)
    assert "4096" in pod["spec"]["containers"][0]["args"]
    assert fake.get_object("StatefulSet", NAME, NS)["status"]["currentRevision"] == \
        fake.get_object("StatefulSet", NAME, NS)["status"]["updateRevision"]
    kllm("rm", NAME)
    assert claims(fake) == []


def test_a_statefulset_keeps_its_claim_template_on_upgrade(fake: FakeApiServer) -> None:
    """A StatefulSet's volumeClaimTemplates cannot change (the API, and the fake, refuse the update with 422: helm
    would fail and roll back): an upgrade that asks for another claim size keeps the deployed 18Gi and says why."""
    as_json("add", MODEL, "--gpu", "L40", "--replicas", "3")
    res = kllm("upgrade", NAME, "--set", "storage.size=40Gi")
    assert ("warning: the per-replica claims keep size 18Gi: a StatefulSet's claim template cannot change; to change "
            "them, rm the model and add it again") in res.stderr
    sts = fake.get_object("StatefulSet", NAME, NS)
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "18Gi"
