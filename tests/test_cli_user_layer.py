"""Day-2 operations keep what the admin asked for (issue 9, items 1 and 2), against the fake API server with the
real helm: the user layer (-f / --set / plan flags) is stored in the release and re-applied by `upgrade`, an
upgrade with nothing new is no revision at all, and planner-owned values cannot be changed behind the planner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubectl_llm.cli.userlayer import UserLayer, merge_values
from tests.fakes.apiserver import FakeApiServer
from tests.test_cli_lifecycle import (  # noqa: F401 - the fixture is used by name
    LABEL, MODEL, NAME, NS, as_json, container_args, failed, fake, flag_value, helm_release_secrets, kllm)


def pod_names(api: FakeApiServer) -> list[str]:
    return sorted(n for k, n in api.objects(LABEL, namespace=NS) if k == "Pod")


def affinity_keys(api: FakeApiServer) -> list[str]:
    spec = api.get_object("Deployment", NAME, NS)["spec"]["template"]["spec"]
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    return [e["key"] for t in terms for e in t["matchExpressions"]]


@pytest.fixture
def site_file(tmp_path: Path, fake: FakeApiServer) -> Path:
    """A values file of another site: its storage class (which the cluster has) and no priority class."""
    fake.create_object({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "rook-ceph"},
                        "provisioner": "rook-ceph.rbd.csi.ceph.com"})
    path = tmp_path / "site.yaml"
    path.write_text("storage:\n  storageClass: rook-ceph\nscheduling:\n  priorityClassName: \"\"\n")
    return path


def test_upgrade_keeps_the_values_file_and_the_claim(fake: FakeApiServer, site_file: Path) -> None:
    """Before: upgrade re-planned from the model id and this call's flags only, so the earlier -f (storage class
    rook-ceph) was forgotten and the claim's spec change failed ("PersistentVolumeClaim spec is immutable")."""
    assert as_json("add", MODEL, "--gpu", "L40", "-f", str(site_file))["revision"] == 1
    pvc = fake.get_object("PersistentVolumeClaim", NAME, NS)
    assert pvc["spec"]["storageClassName"] == "rook-ceph"

    up = as_json("upgrade", NAME, "--context-length", "16384")
    assert (up["action"], up["revision"]) == ("upgraded", 2)
    assert flag_value(container_args(fake), "--max-model-len") == "16384"
    after = fake.get_object("PersistentVolumeClaim", NAME, NS)
    assert after["metadata"]["uid"] == pvc["metadata"]["uid"] and after["spec"]["storageClassName"] == "rook-ceph"
    spec = fake.get_object("Deployment", NAME, NS)["spec"]["template"]["spec"]
    assert "priorityClassName" not in spec or spec["priorityClassName"] in ("", None)

    # The stored layer: the model, the flags as typed (both calls), the values file.
    layer = UserLayer.from_values(json.loads(
        __import__("subprocess").run(["helm", "get", "values", NAME, "-n", NS, "-o", "json"], check=True,
                                     capture_output=True, text=True).stdout))
    assert layer == UserLayer(model=MODEL, flags={"gpu": "L40", "context_length": 16384},
                              values={"storage": {"storageClass": "rook-ceph"}, "scheduling": {"priorityClassName": ""}})


def test_upgrade_with_nothing_new_is_no_revision_and_no_restart(fake: FakeApiServer, site_file: Path) -> None:
    """Before: every `upgrade NAME` made a new revision (and with -f on the add, failed on the claim)."""
    as_json("add", MODEL, "-f", str(site_file), "--context-length", "16384")
    pods = pod_names(fake)
    assert as_json("add", MODEL, "-f", str(site_file), "--context-length", "16384")["action"] == "unchanged"
    same = as_json("upgrade", NAME)
    assert (same["action"], same["revision"]) == ("unchanged", 1)
    assert len(helm_release_secrets(fake)) == 1 and pod_names(fake) == pods


def test_upgrade_without_gpu_adds_no_gpu_product_rule(fake: FakeApiServer) -> None:
    """Before: upgrade forced --gpu <deployed type>, which adds a gpu.product affinity rule the add never had."""
    as_json("add", MODEL)
    keys = affinity_keys(fake)
    assert "nvidia.com/gpu.product" not in keys
    assert as_json("upgrade", NAME)["action"] == "unchanged"
    up = as_json("upgrade", NAME, "--max-num-seqs", "8")
    assert up["action"] == "upgraded"
    assert affinity_keys(fake) == keys
    # The GPU a user did name stays named: --gpu L40 adds the product rule, and a later upgrade keeps it.
    as_json("upgrade", NAME, "--gpu", "L40")
    assert "nvidia.com/gpu.product" in affinity_keys(fake)
    assert as_json("upgrade", NAME)["action"] == "unchanged"


def test_set_null_forgets_an_override_and_reset_values_forgets_all(fake: FakeApiServer) -> None:
    as_json("add", MODEL, "--gpu", "L40", "--set", "storage.size=80Gi",
            "--set", "engine.env[0].name=A,engine.env[0].value=x")
    assert fake.get_object("PersistentVolumeClaim", NAME, NS)["spec"]["resources"]["requests"]["storage"] == "80Gi"
    as_json("upgrade", NAME, "--set", "engine.env=null")
    doc = as_json("status", NAME)["user"]
    assert doc["values"] == {"storage": {"size": "80Gi"}} and doc["flags"] == {"gpu": "L40"}
    as_json("upgrade", NAME, "--reset-values", "--gpu", "L40", "--set", "storage.size=80Gi")
    assert as_json("status", NAME)["user"]["values"] == {"storage": {"size": "80Gi"}}


def test_status_and_list_show_what_the_user_set(fake: FakeApiServer, site_file: Path) -> None:
    as_json("add", MODEL, "--gpu", "L40", "-f", str(site_file), "--context-length", "16384")
    (row,) = yaml.safe_load(kllm("list", "-o", "yaml").stdout)
    assert row["user"] == {"model": MODEL, "flags": {"context-length": 16384, "gpu": "L40"},
                           "values": {"storage": {"storageClass": "rook-ceph"},
                                      "scheduling": {"priorityClassName": ""}}}
    assert as_json("status", NAME)["user"] == row["user"]
    text = kllm("status", NAME).stdout
    assert ("user      --context-length 16384 --gpu L40; scheduling.priorityClassName=, "
            "storage.storageClass=rook-ceph\n") in text


@pytest.mark.parametrize(("override", "key", "flag"), [
    (["--set", "gpu.count=4"], "gpu.count", "--gpus N"),
    (["--set", "resources.cpu=-4"], "resources.cpu", "--gpus N"),
    (["--set", "engine.args[3]=--foo"], "engine.args", "the plan flags: --context-length"),
    (["--set", "engine.maxModelLen=131072"], "engine.maxModelLen", "--context-length N"),
    (["--set-string", "gpu.type=H100"], "gpu.type", "--gpu TYPE"),
])
def test_planner_owned_values_are_refused_with_the_plan_flag(override: list[str], key: str, flag: str) -> None:
    """Before: `--set gpu.count=4` rendered 4 GPUs with the CPU of one and no large-GPU toleration."""
    for verb in (["add", MODEL, "--dry-run=client"], ["upgrade", NAME]):
        stderr = failed(*verb, *override, code=2, starts=f"{key} is planned, not overridable with -f/--set")
        assert f"hint: for {key} use {flag}" in stderr


def test_planner_owned_values_in_a_values_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text("gpu:\n  count: 4\nstorage:\n  size: 90Gi\n")
    stderr = failed("add", MODEL, "--dry-run=client", "-f", str(path), code=2, starts="gpu.count is planned")
    assert "--gpus N" in stderr


def test_merge_values_forgets_nulls_for_stored_keys_only() -> None:
    stored = {"storage": {"storageClass": "x", "size": "9Gi"}, "engine": {"env": [{"name": "A"}]}}
    assert merge_values(stored, {"storage": {"storageClass": None}, "engine": {"env": [{"name": "B"}]}}) == \
        {"storage": {"size": "9Gi"}, "engine": {"env": [{"name": "B"}]}}
    assert merge_values(stored, {"engine": None, "storage": None}) == {}
    assert merge_values({}, {"test": {"enabled": None}}) == {"test": {"enabled": None}}  # Helm's delete, kept


def test_layer_updates_replace_exclusive_flags() -> None:
    layer = UserLayer(MODEL, {"gpu": "L40", "context_length": 65536})
    assert layer.updated({"gpu_memory": "48GiB", "max_model_len": 8192, "tp": None}, {}).flags == \
        {"gpu_memory": "48GiB", "max_model_len": 8192}
    assert layer.updated({"tp": 2}, {}, reset=True).flags == {"tp": 2}
    assert UserLayer.from_values({"userLayer": layer.to_values()}) == layer
    assert layer.to_values()["flags"] == {"context-length": 65536, "gpu": "L40"}


def test_upgrade_re_plans_for_the_site_given_at_add(fake: FakeApiServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """--site is a plan flag too: an upgrade (from another directory) re-plans for the same site, so the claim's
    storage class does not fall back to the default site's."""
    fake.create_object({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "rook-ceph"},
                        "provisioner": "rook-ceph.rbd.csi.ceph.com"})
    (tmp_path / "site.yaml").write_text("name: other\nstorageClass: rook-ceph\npriorityClassName: \"\"\n")
    monkeypatch.chdir(tmp_path)
    as_json("add", MODEL, "--gpu", "L40", "--site", "site.yaml")
    uid = fake.get_object("PersistentVolumeClaim", NAME, NS)["metadata"]["uid"]
    monkeypatch.chdir(tmp_path.parent)
    assert as_json("upgrade", NAME)["action"] == "unchanged"
    assert as_json("upgrade", NAME, "--context-length", "16384")["action"] == "upgraded"
    pvc = fake.get_object("PersistentVolumeClaim", NAME, NS)
    assert pvc["metadata"]["uid"] == uid and pvc["spec"]["storageClassName"] == "rook-ceph"
    assert as_json("status", NAME)["user"]["flags"]["site"] == str(tmp_path / "site.yaml")


def test_forget_drops_one_stored_flag_and_the_plan_decides_it_again(fake: FakeApiServer) -> None:
    """Before: a stored --context-length could only go with --reset-values, which forgot --gpu and every -f/--set
    too; `--context-length` with no value is no option. `upgrade --forget FLAG` drops that one flag."""
    planned = json.loads(kllm("plan", MODEL, "--gpu", "L40", "-o", "json").stdout)["serving"]["max_model_len"]
    assert planned > 16384   # the largest context that fits on an L40 is more than what the user forced
    as_json("add", MODEL, "--gpu", "L40", "--context-length", "16384", "--set", "storage.size=80Gi")
    assert flag_value(container_args(fake), "--max-model-len") == "16384"

    up = as_json("upgrade", NAME, "--forget", "context-length")
    assert (up["action"], up["revision"]) == ("upgraded", 2)
    assert flag_value(container_args(fake), "--max-model-len") == str(planned)
    user = as_json("status", NAME)["user"]
    assert user["flags"] == {"gpu": "L40"} and user["values"] == {"storage": {"size": "80Gi"}}


@pytest.mark.parametrize(("args", "starts", "hint"), [
    (["--forget", "colour"], "--forget colour: not a stored plan flag", "one of: context-length, data-parallel"),
    (["--forget", "tp"], "--forget tp: release 'qwen3-8b' stores no --tp (stored flags: --gpu L40)",
     "see them with: kubectl llm status qwen3-8b"),
    (["--forget", "gpu", "--gpu", "L4"], "--forget gpu and --gpu in one call: give one",
     "--gpu VALUE replaces the stored value"),
])
def test_forget_refuses_what_would_silently_do_nothing(fake: FakeApiServer, args: list[str], starts: str,
                                                       hint: str) -> None:
    as_json("add", MODEL, "--gpu", "L40")
    stderr = failed("upgrade", NAME, *args, code=2, starts=starts)
    assert f"hint: {hint}" in stderr
    assert len(helm_release_secrets(fake)) == 1   # no new revision


def test_reset_values_records_the_site_in_effect(fake: FakeApiServer, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `upgrade --reset-values` from a shell with $KUBECTL_LLM_SITE planned for that site but stored no
    site flag, so the next upgrade from a shell without the variable re-planned for NRP's (add records it)."""
    site = tmp_path / "my-site.yaml"   # NRP's storage class (a claim's class never changes in place)
    site.write_text("name: my-cluster\nstorageClass: linstor-igrok\n"
                    "tolerations: [{key: example.org/gpu, operator: Exists, effect: NoSchedule}]\n")
    kllm("add", MODEL, "--gpu", "L40")
    monkeypatch.setenv("KUBECTL_LLM_SITE", str(site))
    kllm("upgrade", NAME, "--reset-values", "--gpu", "L40")
    assert as_json("status", NAME)["user"]["flags"] == {"gpu": "L40", "site": str(site)}
    monkeypatch.delenv("KUBECTL_LLM_SITE")
    kllm("upgrade", NAME, "--max-num-seqs", "8")
    spec = fake.get_object("Deployment", NAME, NS)["spec"]["template"]["spec"]
    assert spec["tolerations"] == [{"key": "example.org/gpu", "operator": "Exists", "effect": "NoSchedule"}]
