"""New-user review of the day-2 and fleet commands (session 6), against the fake API server with the real helm.

Each test is a defect an admin met driving upgrade / rollback / rm / gateway / sync / status the way the README
and `--help` teach; the docstring says what they saw before the fix."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes.apiserver import FakeApiServer
from tests.test_cli_lifecycle import NS, as_json, failed, fake, kllm  # noqa: F401 - fixture used by name

MODEL = "Qwen/Qwen3-8B"
NAME = "qwen3-8b"
GATEWAY = "llm-gateway"


def helm_values(name: str) -> dict[str, Any]:
    """`helm get values NAME -o json`: what the release was installed with (the user-supplied values)."""
    done = subprocess.run(["helm", "get", "values", name, "-n", NS, "-o", "json"], check=True, capture_output=True,
                          text=True)
    return json.loads(done.stdout) or {}


def revisions(name: str) -> int:
    done = subprocess.run(["helm", "history", name, "-n", NS, "-o", "json"], check=True, capture_output=True,
                          text=True)
    return len(json.loads(done.stdout))


def error_lines(stderr: str) -> tuple[list[str], list[str]]:
    lines = stderr.splitlines()
    assert "Traceback" not in stderr
    return [x for x in lines if x.startswith("error: ")], [x for x in lines if x.startswith("hint: ")]


# --- gateway upgrade -----------------------------------------------------------------------------------------------
def test_gateway_upgrade_keeps_the_values_it_was_installed_with(fake: FakeApiServer) -> None:
    """Before: `gateway upgrade` (what an admin runs after updating kubectl llm, to get the new chart) re-installed
    the chart with this call's --set only: an internal gateway installed with envoyProxy.serviceType=ClusterIP and
    3 Envoy replicas silently became a public LoadBalancer with 2."""
    kllm("gateway", "install", "--set", "envoyProxy.replicas=3", "--set", "envoyProxy.serviceType=ClusterIP")
    proxy = fake.get_object("EnvoyProxy", GATEWAY, NS)
    deployment = proxy["spec"]["provider"]["kubernetes"]["envoyDeployment"]
    assert deployment["replicas"] == 3

    same = as_json("gateway", "upgrade")
    assert (same["action"], same["revision"]) == ("unchanged", 1)

    up = as_json("gateway", "upgrade", "--set", "clientTrafficPolicy.idleTimeout=600s")
    assert (up["action"], up["revision"]) == ("upgraded", 2)
    values = helm_values(GATEWAY)
    assert values["envoyProxy"] == {"replicas": 3, "serviceType": "ClusterIP"}
    assert values["clientTrafficPolicy"] == {"idleTimeout": "600s"}
    proxy = fake.get_object("EnvoyProxy", GATEWAY, NS)
    assert proxy["spec"]["provider"]["kubernetes"]["envoyDeployment"]["replicas"] == 3

    # `--set key=null` forgets one earlier value, --reset-values all of them (the site's gateway name stays).
    kllm("gateway", "upgrade", "--set", "envoyProxy.replicas=null")
    assert helm_values(GATEWAY)["envoyProxy"] == {"serviceType": "ClusterIP"}
    kllm("gateway", "upgrade", "--reset-values")
    assert helm_values(GATEWAY) == {"gateway": {"name": "envoy-ai-gateway-nrp"}}


def test_gateway_upgrade_dry_run_previews_the_kept_values(fake: FakeApiServer) -> None:
    """Before: `gateway upgrade --dry-run=client` rendered without the stored values, so the preview of an upgrade
    showed 2 Envoy replicas and a LoadBalancer where the real upgrade keeps 3 and ClusterIP."""
    kllm("gateway", "install", "--set", "envoyProxy.replicas=3", "--set", "envoyProxy.serviceType=ClusterIP")
    res = kllm("gateway", "upgrade", "--dry-run=client", "-o", "yaml", "--set", "clientTrafficPolicy.idleTimeout=600s")
    objs = {o["kind"]: o for o in yaml.safe_load_all(res.stdout) if o}
    deployment = objs["EnvoyProxy"]["spec"]["provider"]["kubernetes"]["envoyDeployment"]
    assert deployment["replicas"] == 3
    assert objs["EnvoyProxy"]["spec"]["provider"]["kubernetes"]["envoyService"]["type"] == "ClusterIP"
    assert helm_values(GATEWAY)["envoyProxy"] == {"replicas": 3, "serviceType": "ClusterIP"}   # nothing applied
    assert "clientTrafficPolicy" not in helm_values(GATEWAY)


def test_gateway_upgrade_keeps_the_site_it_was_installed_for(fake: FakeApiServer, tmp_path: Path) -> None:
    """Before: `gateway install --site my-site.yaml` named the Gateway after the site (ai-gw, the name every model's
    route attaches to); a later `gateway upgrade` without --site renamed it to NRP's envoy-ai-gateway-nrp, and
    every route of the namespace lost its Gateway."""
    site = tmp_path / "my-site.yaml"
    site.write_text("name: my-cluster\ngateway: {parentRefs: [{name: ai-gw}]}\n")
    kllm("gateway", "install", "--site", str(site))
    assert fake.get_object("Gateway", "ai-gw", NS) is not None
    kllm("gateway", "upgrade", "--set", "envoyProxy.replicas=3")
    assert fake.get_object("Gateway", "ai-gw", NS) is not None
    assert fake.get_object("Gateway", "envoy-ai-gateway-nrp", NS) is None


# --- sync: a record's flags are read like the command line's ------------------------------------------------------
@pytest.fixture
def exported(fake: FakeApiServer, tmp_path: Path) -> Path:
    """qwen3-8b added with --gpu L40 --context-length 16384, the namespace exported to a folder."""
    kllm("add", MODEL, "--gpu", "L40", "--context-length", "16384")
    folder = tmp_path / "models"
    kllm("export", str(folder))
    return folder


def edit_flags(folder: Path, **flags: Any) -> None:
    """The model's file with its context-length replaced by FLAGS."""
    path = folder / f"{NAME}.yaml"
    doc = yaml.safe_load(path.read_text())
    assert doc["flags"] == {"context-length": 16384, "gpu": "L40"}     # what add stored
    doc["flags"] = {"gpu": "L40", **flags}
    path.write_text(yaml.safe_dump(doc))


def test_sync_refuses_a_misspelt_flag_in_a_record(exported: Path) -> None:
    """Before: `context_length: 8192` (underscore) in a model file was dropped without a word: sync re-planned the
    model at its full 40960-token context, and every later sync (the CI job) showed 'upgrade' again, exit 8."""
    edit_flags(exported, context_length=8192)
    for args in (["--dry-run"], []):
        stderr = failed("sync", str(exported), *args, code=2,
                        starts=f"{NAME}.yaml: flags.context_length is not a plan flag")
        assert "hint: did you mean context-length?" in stderr
    assert revisions(NAME) == 1


def test_sync_reads_flag_values_with_the_command_lines_types(exported: Path) -> None:
    """Before: `gpus: two` in a model file crashed the planner (exit 70, 'this is a bug in kubectl llm'), and a
    quoted number (`context-length: "8192"`) was compared as a string, so it 'changed' on every sync."""
    edit_flags(exported, gpus="two")
    failed("sync", str(exported), code=2, starts=f"{NAME}.yaml: flags.gpus: 'two' is not a valid integer")
    kllm("export", str(exported))
    edit_flags(exported, **{"context-length": "8192"})
    kllm("sync", str(exported), code=8)
    assert as_json("list")[0]["context"] == 8192
    again = json.loads(kllm("sync", str(exported), "-o", "json").stdout)
    assert [c["action"] for c in again["changes"]] == ["unchanged"]


# --- rm --keep-cache of a model spanning nodes -------------------------------------------------------------------
LLAMA, LLAMA_NAME = "meta-llama/Llama-3.1-405B", "llama"


def claims(api: FakeApiServer) -> dict[str, str]:
    """PVC name -> uid of the release's claims (one per pod of the group: cache-<pod>)."""
    found = {}
    for kind, name in api.objects(f"llm.nrp-nautilus.io/model={LLAMA_NAME}", namespace=NS):
        if kind == "PersistentVolumeClaim":
            found[name] = api.get_object("PersistentVolumeClaim", name, NS)["metadata"]["uid"]
    return found


def test_rm_keep_cache_keeps_the_claims_of_a_model_spanning_nodes(fake: FakeApiServer) -> None:
    """Before: `rm --keep-cache` of a LeaderWorkerSet model (README: one PVC per pod, 'deleted with the set unless
    storage.keep') deleted every weights PVC anyway (they are not in the manifest, so rm saw no PVC to protect),
    reported none kept, and the next add downloaded 800 GB again."""
    kllm("add", LLAMA, "--gpu", "H100-80GB", "--name", LLAMA_NAME)
    made = claims(fake)
    assert sorted(made) == [f"cache-{LLAMA_NAME}-0", f"cache-{LLAMA_NAME}-0-1"]

    gone = as_json("rm", LLAMA_NAME, "--keep-cache")
    assert sorted(gone["kept"]) == [f"PersistentVolumeClaim/{c}" for c in sorted(made)]
    assert f"LeaderWorkerSet/{LLAMA_NAME}" in gone["removed"]
    assert claims(fake) == made and fake.get_object("LeaderWorkerSet", LLAMA_NAME, NS) is None

    kllm("add", LLAMA, "--gpu", "H100-80GB", "--name", LLAMA_NAME)      # adopts the kept claims
    assert claims(fake) == made
    gone = as_json("rm", LLAMA_NAME)                                     # a plain rm leaves nothing
    assert gone["kept"] == [] and {f"PersistentVolumeClaim/{c}" for c in made} <= set(gone["removed"])
    assert fake.objects(f"llm.nrp-nautilus.io/model={LLAMA_NAME}", namespace=NS) == []


# --- hints that send the admin to the right command ---------------------------------------------------------------
def test_status_names_the_site_in_the_gateway_install_it_suggests(fake: FakeApiServer, tmp_path: Path) -> None:
    """Before: a model added with --site (Gateway ai-gw) and no Gateway yet: status said "install it with 'kubectl
    llm gateway install -n llm'"; run as told, that made NRP's envoy-ai-gateway-nrp and the route still had none."""
    site = tmp_path / "my-site.yaml"
    site.write_text("name: my-cluster\ngateway: {parentRefs: [{name: ai-gw}]}\n")
    kllm("add", MODEL, "--gpu", "L40", "--site", str(site))
    line = next(x for x in kllm("status", NAME).stdout.splitlines() if x.startswith("gateway"))
    command = f"kubectl llm gateway install -n {NS} --site {site}"
    assert line == f"gateway   ai-gw in namespace {NS} not found: install it with '{command}'"
    kllm(*command.split()[2:])                     # the suggested command, as typed
    assert as_json("status", NAME)["gateway"]["found"] is True


def test_model_and_gateway_commands_point_at_each_other(fake: FakeApiServer) -> None:
    """Before: `kubectl llm rm llm-gateway` said 'manage it with helm directly' (kubectl llm has gateway uninstall),
    and `gateway uninstall` of a missing release hinted 'kubectl llm list -A', which lists no gateway."""
    stderr = failed("gateway", "uninstall", code=6, starts=f"no release '{GATEWAY}' in namespace '{NS}'")
    assert "list -A" not in stderr and f"helm -n {NS} list" in stderr
    kllm("gateway", "install")
    for command in ("rm", "upgrade", "status"):
        stderr = failed(command, GATEWAY, starts=f"release '{GATEWAY}' belongs to chart 'llm-gateway'")
        assert f"hint: it is the namespace's gateway: kubectl llm gateway upgrade|uninstall --name {GATEWAY}" in stderr
    kllm("add", MODEL, "--gpu", "L40")
    stderr = failed("gateway", "uninstall", "--name", NAME, starts=f"release '{NAME}' belongs to chart 'llm-model'")
    assert f"hint: a model release is removed with 'kubectl llm rm {NAME} -n {NS}'" in stderr


def test_sync_dry_run_refuses_what_sync_would_refuse_before_applying_anything(fake: FakeApiServer,
                                                                              tmp_path: Path) -> None:
    """Before: a folder with a good new model and one whose values set gpu.count: `sync --dry-run` (the merge
    request's check) said 'would add 2', then `sync` installed the first, stopped at the second with an error
    naming no file (exit 2), and left the namespace half-synced."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name, values in (("a-model", {}), ("b-model", {"gpu": {"count": 4}})):
        (folder / f"{name}.yaml").write_text(yaml.safe_dump({"kind": "model", "name": name, "model": MODEL,
                                                             "flags": {"gpu": "L40"}, "values": values}))
    for args in (["--dry-run"], []):
        stderr = failed("sync", str(folder), *args, code=2, starts="b-model.yaml: values: gpu.count is planned")
        assert "hint: for gpu.count use --gpus N" in stderr
    assert as_json("list") == []
    (folder / "b-model.yaml").unlink()
    (folder / "c-alias.yaml").write_text(yaml.safe_dump({"kind": "alias", "name": "c-alias",
                                                         "values": {"mode": "alias", "replicas": "two"}}))
    failed("sync", str(folder), "--dry-run", code=2, starts="c-alias.yaml: values: replicas: 'two' is not of type")


# --- add never changes what kind of release a name holds --------------------------------------------------------
def test_add_does_not_turn_an_alias_or_a_model_into_another_kind(fake: FakeApiServer) -> None:
    """Before: `add Qwen/Qwen3-8B --name qwen3` over the alias qwen3 turned the alias into a model (its routing to
    the other targets gone), and `add --external URL --name qwen3-8b` over a model replaced it by an external
    backend, deleting its Deployment and weights PVC; only `alias` checked the kind of the release it replaces."""
    kllm("add", MODEL, "--gpu", "L40")
    kllm("add", "--external", "https://llm.example.org/v1", "--served-name", "Qwen/Qwen3-235B", "--name", "remote")
    kllm("alias", "qwen3", "--to", f"{NAME},remote")
    failed("add", MODEL, "--gpu", "L40", "--name", "qwen3",
           starts=f"release 'qwen3' in namespace '{NS}' is an alias, not a model")
    failed("add", MODEL, "--gpu", "L40", "--name", "remote",
           starts=f"release 'remote' in namespace '{NS}' is an external backend, not a model")
    stderr = failed("add", "--external", "https://llm.example.org/v1", "--served-name", "x/y", "--name", NAME,
                    starts=f"release '{NAME}' in namespace '{NS}' is a model, not an external backend")
    assert f"hint: pick another --name, or remove it first (kubectl llm rm {NAME} -n {NS})" in stderr
    assert {r["name"]: r["kind"] for r in as_json("list")} == {NAME: "model", "remote": "external",
                                                               "qwen3": "alias"}
    assert fake.get_object("PersistentVolumeClaim", NAME, NS) is not None
    # the same kind is still an upgrade: an external backend re-pointed, a model re-added
    again = as_json("add", "--external", "https://llm2.example.org/v1", "--served-name", "Qwen/Qwen3-235B",
                    "--name", "remote")
    assert (again["action"], again["revision"]) == ("upgraded", 2)


def test_upgrade_and_sync_say_where_a_missing_site_file_came_from(fake: FakeApiServer, tmp_path: Path) -> None:
    """Before: a model added with --site /path/site.yaml, the file since moved: a colleague's `upgrade NAME
    --max-num-seqs 8` (no --site typed) failed with 'site file ... not found (--site ...)' and the hint to unset
    $KUBECTL_LLM_SITE; the same file path in an exported record failed on the CI runner in the middle of a sync."""
    site = tmp_path / "site.yaml"
    site.write_text("name: my-cluster\n")
    kllm("add", MODEL, "--gpu", "L40", "--site", str(site))
    folder = tmp_path / "models"
    kllm("export", str(folder))
    moved = site.rename(tmp_path / "moved.yaml")
    stderr = failed("upgrade", NAME, "--max-num-seqs", "8", code=2,
                    starts=f"release '{NAME}' was added with --site {site}, which no longer exists")
    assert "hint: give this upgrade --site FILE" in stderr
    failed("sync", str(folder), "--dry-run", code=2,
           starts=f"{NAME}.yaml: flags.site: {site} does not exist on this machine")
    assert as_json("upgrade", NAME, "--max-num-seqs", "8", "--site", str(moved))["action"] == "upgraded"


def test_a_relative_site_in_a_synced_record_is_stored_absolute(fake: FakeApiServer, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a record written by hand in the repo (flags.site: sites/acme.yaml, relative to where sync runs) was
    stored as written: an `upgrade NAME` from another directory then failed ('was added with --site
    sites/acme.yaml, which no longer exists'). Now sync stores the absolute path, as add does for --site (and a
    second sync from the repo still sees no change)."""
    repo = tmp_path / "repo"
    (repo / "sites").mkdir(parents=True)
    (repo / "sites" / "acme.yaml").write_text("name: acme\n")
    (repo / "models").mkdir()
    (repo / "models" / f"{NAME}.yaml").write_text(
        f"kind: model\nname: {NAME}\nmodel: {MODEL}\nflags:\n  gpu: L40\n  site: sites/acme.yaml\n")
    monkeypatch.chdir(repo)
    kllm("sync", "models", code=8)
    assert as_json("list")[0]["user"]["flags"]["site"] == str(repo / "sites" / "acme.yaml")
    kllm("sync", "models")                       # unchanged: exit 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert as_json("upgrade", NAME, "--max-num-seqs", "8")["action"] == "upgraded"


def test_sync_refuses_a_record_whose_model_name_starts_with_a_digit_with_a_hint_for_the_record(
        fake: FakeApiServer, tmp_path: Path) -> None:
    """add refuses a model release named '8b' (its Service must start with a letter). Before: sync refused it with
    add's hint 'try --name llm-8b', a flag sync has not. Now the hint says what to change in the record (checked
    in the preflight, before anything is applied)."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "8b.yaml").write_text(f"kind: model\nname: 8b\nmodel: {MODEL}\nflags:\n  gpu: L40\n")
    stderr = failed("sync", str(folder), code=2, starts="8b.yaml: name '8b' starts with a digit")
    assert "hint: rename the release in the record: name: llm-8b in a file llm-8b.yaml" in stderr
    assert as_json("list") == []


def test_status_of_an_alias_names_a_target_that_is_gone(fake: FakeApiServer) -> None:
    """Before: after `rm` of one of its targets (rm warned once), `status ALIAS` showed the alias as fine: no word
    that half of its requests now fail."""
    kllm("add", MODEL, "--gpu", "L40")
    kllm("add", "--external", "https://llm.example.org/v1", "--served-name", "Qwen/Qwen3-235B", "--name", "remote")
    kllm("alias", "qwen3", "--to", f"{NAME},remote")
    assert as_json("status", "qwen3")["problems"] == []
    kllm("rm", NAME)
    (problem,) = as_json("status", "qwen3")["problems"]
    assert (problem["kind"], problem["name"], problem["reason"]) == ("Release", NAME, "AliasTargetMissing")
    assert (f"problem   Release/{NAME} AliasTargetMissing: no release {NAME} in namespace {NS}: requests the alias "
            f"sends there fail; re-point it (kubectl llm alias qwen3 --to ...) or add {NAME} again"
            in kllm("status", "qwen3").stdout)


def test_logs_of_an_alias_or_external_backend_says_there_is_no_pod_here(fake: FakeApiServer) -> None:
    """Before: `logs` of an external backend or an alias said 'has no pod yet' (hint: status), as if one would come."""
    kllm("add", "--external", "https://llm.example.org/v1", "--served-name", "Qwen/Qwen3-235B", "--name", "remote")
    kllm("alias", "qwen3", "--to", "remote")
    stderr = failed("logs", "remote", code=2, starts="release 'remote' is an external backend: no pod of it runs in")
    assert "the engine's log is at the site serving it" in stderr
    failed("logs", "qwen3", code=2, starts="release 'qwen3' is an alias: no pod of it runs in namespace")


def test_a_site_from_the_environment_is_kept_like_site(fake: FakeApiServer, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: an admin with $KUBECTL_LLM_SITE=my-site.yaml (no priority class, its own toleration) added a model;
    a colleague's `upgrade NAME --max-num-seqs 8` from a shell without the variable re-planned it for NRP's site:
    PriorityClass owner and the nautilus.io tolerations, pods refused or unschedulable on that cluster."""
    site = tmp_path / "my-site.yaml"
    site.write_text("name: my-cluster\ntolerations: [{key: example.org/gpu, operator: Exists, effect: NoSchedule}]\n")
    monkeypatch.setenv("KUBECTL_LLM_SITE", str(site))
    kllm("add", MODEL, "--gpu", "L40")
    assert as_json("list")[0]["user"]["flags"] == {"gpu": "L40", "site": str(site)}
    monkeypatch.delenv("KUBECTL_LLM_SITE")
    kllm("upgrade", NAME, "--max-num-seqs", "8")
    spec = fake.get_object("Deployment", NAME, NS)["spec"]["template"]["spec"]
    assert not spec.get("priorityClassName")
    assert spec["tolerations"] == [{"key": "example.org/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_export_into_a_path_it_cannot_write_is_a_usage_error(fake: FakeApiServer, tmp_path: Path) -> None:
    """Before: `export models/sub` where models is a file crashed: exit 70, 'unexpected NotADirectoryError ... this is
    a bug in kubectl llm'."""
    kllm("add", MODEL, "--gpu", "L40")
    (tmp_path / "models").write_text("not a folder\n")
    stderr = failed("export", str(tmp_path / "models" / "sub"), code=2,
                    starts=f"cannot write the records to {tmp_path / 'models' / 'sub'}: Not a directory")
    assert "hint: give export a directory you can write to" in stderr


def test_export_and_sync_refuse_an_empty_directory(fake: FakeApiServer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `kubectl llm export $DIR` with DIR unset (an empty argument) wrote qwen3-8b.yaml into the directory
    the command ran in (and removed records of ours it found there); `sync "" --prune` read that folder. Now one
    usage error, nothing written; `.` still names the current directory on purpose."""
    kllm("add", MODEL, "--gpu", "L40")
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for verb in ("export", "sync"):
        stderr = failed(verb, "", code=2, starts="DIRECTORY is empty (an unset shell variable?)")
        assert f"hint: name the folder, e.g. kubectl llm {verb} models/ (use . for this directory)" in stderr
    assert list(here.iterdir()) == []
    kllm("export", ".")
    assert [p.name for p in here.iterdir()] == [f"{NAME}.yaml"]


def test_sync_warns_of_an_alias_whose_target_is_nowhere(fake: FakeApiServer, tmp_path: Path) -> None:
    """Before: a folder synced into another namespace, its alias's target left out: sync (and --dry-run) installed
    the alias without a word, though `kubectl llm alias` refuses a missing target unless --allow-missing."""
    kllm("add", MODEL, "--gpu", "L40")
    kllm("add", "--external", "https://llm.example.org/v1", "--served-name", "Qwen/Qwen3-235B", "--name", "remote")
    kllm("alias", "qwen3", "--to", f"{NAME},remote")
    folder = tmp_path / "models"
    kllm("export", str(folder))
    assert "warning" not in kllm("sync", str(folder), "--dry-run").stderr       # every target is there
    (folder / "remote.yaml").unlink()
    warning = (f"warning: alias qwen3 routes to remote, which is neither in the folder nor a release in namespace "
               f"{NS}: the requests it sends there fail until remote is added")
    assert warning not in kllm("sync", str(folder), "--dry-run").stderr         # still a release here
    assert warning in kllm("sync", str(folder), "--dry-run", "--prune", code=8).stderr


def test_rollback_without_a_revision_says_which_one_it_went_to(fake: FakeApiServer) -> None:
    """Before: `rollback NAME -o json` gave `rolled_back_to: null` (text: 'the previous revision'): a script, or
    an admin after a rollback of a rollback, could not tell which revision now serves. A rollback of a rollback
    goes back to what the first one undid (revision 2: it did not fail and differs from what runs now)."""
    kllm("add", MODEL, "--gpu", "L40")                                   # 1: 40960 tokens
    kllm("upgrade", NAME, "--context-length", "16384")                   # 2: 16384
    assert as_json("rollback", NAME) == {"name": NAME, "namespace": NS, "rolled_back_to": 1, "revision": 3,
                                         "passed_over": []}
    assert as_json("list")[0]["context"] == 40960
    assert kllm("rollback", NAME).stdout.strip() == f"release {NAME} rolled back to revision 2 (now revision 4)"
    assert as_json("list")[0]["context"] == 16384                        # revision 2's, as reported
    assert as_json("status", NAME)["user"]["flags"] == {"context-length": 16384, "gpu": "L40"}


def test_rm_of_a_model_spanning_nodes_leaves_a_claim_it_was_given(fake: FakeApiServer) -> None:
    """The group's claims go with rm, but not a PVC the user named with storage.existingClaim (even one that an
    earlier rm --keep-cache of the same name kept, so it carries the release's labels)."""
    kllm("add", MODEL, "--gpu", "L40", "--set", "storage.accessMode=ReadWriteMany")
    kllm("rm", NAME, "--keep-cache")
    kllm("add", MODEL, "--gpu", "L40", "--nodes", "2", "--set", f"storage.existingClaim={NAME}",
         "--set", "storage.accessMode=ReadWriteMany")
    gone = as_json("rm", NAME)
    assert f"PersistentVolumeClaim/{NAME}" not in gone["removed"]
    assert fake.get_object("PersistentVolumeClaim", NAME, NS) is not None


def test_a_chart_check_that_fails_is_named_in_the_error(fake: FakeApiServer) -> None:
    """Before: the chart's own cross-field checks (templates/validate.yaml) reached the admin as 'error: the chart
    did not render: execution error at (llm-model/templates/validate.yaml:2:4):', the reason itself cut off. (Exit 2
    since session 8: values the chart refuses are the user's to fix, like a schema violation.)"""
    failed("add", MODEL, "--gpu", "L40", "--nodes", "2", "--set", "storage.existingClaim=shared", code=2,
           starts="the chart did not render: llm-model: invalid values: storage.existingClaim is mounted by every pod "
                  "of a multi-node group: it must be ReadWriteMany (set storage.accessMode to say so)")


def test_sync_prune_leaves_nothing_of_a_model_spanning_nodes(fake: FakeApiServer, tmp_path: Path) -> None:
    """Before: sync --prune removed a model like `helm uninstall` plus the PVC the chart had marked keep, so the
    per-pod claims of a LeaderWorkerSet model an earlier rm --keep-cache had kept (and the re-add had adopted)
    stayed behind; it now removes a release exactly as `rm` does."""
    kllm("add", LLAMA, "--gpu", "H100-80GB", "--name", LLAMA_NAME)
    kllm("rm", LLAMA_NAME, "--keep-cache")
    kllm("add", LLAMA, "--gpu", "H100-80GB", "--name", LLAMA_NAME)
    assert len(claims(fake)) == 2
    folder = tmp_path / "models"
    kllm("export", str(folder))
    (folder / f"{LLAMA_NAME}.yaml").unlink()
    # the folder now holds no record: pruning it all is refused (nothing removed) unless said on purpose; before,
    # an empty folder (a wrong path or checkout) removed every release of the namespace without a question
    stderr = kllm("sync", str(folder), "--prune", code=2).stderr
    assert stderr.startswith(f"error: {folder} holds no record, and --prune would remove every release of kubectl "
                             f"llm in namespace {NS} (1: {LLAMA_NAME})\n"), stderr
    assert "hint: check the folder (a wrong path or checkout?); --allow-empty removes them all on purpose" in stderr
    assert len(claims(fake)) == 2 and kllm("sync", str(folder), "--prune", "--dry-run", code=2)
    kllm("sync", str(folder), "--prune", "--allow-empty", code=8)
    assert fake.objects(f"llm.nrp-nautilus.io/model={LLAMA_NAME}", namespace=NS) == []


def test_rollback_target_passes_over_failed_pending_and_identical_revisions() -> None:
    """The pure choice behind `rollback NAME`: revisions newest first, failed / pending ones and those with what runs
    now (here 5 = 2, as after "Rollback to 2") passed over; None when nothing is left."""
    from kubectl_llm.cli.release_cmds import rollback_target

    rows = [{"revision": 1, "status": "superseded"}, {"revision": 2, "status": "superseded"},
            {"revision": 3, "status": "pending-upgrade"}, {"revision": 4, "status": "failed"},
            {"revision": 5, "status": "deployed"}]
    assert rollback_target(rows, lambda rev: rev == 2) == (1, [
        {"revision": 4, "why": "it failed"}, {"revision": 3, "why": "it was left pending-upgrade"},
        {"revision": 2, "why": "the same chart and values as what runs now"}])
    assert rollback_target(rows, lambda rev: False) == (2, [{"revision": 4, "why": "it failed"},
                                                            {"revision": 3, "why": "it was left pending-upgrade"}])
    assert rollback_target(rows, lambda rev: rev in (1, 2))[0] is None
    # 1 ok, 2 failed (its --wait timed out), 3 = helm's "Rollback to 1", recorded failed (it ran out of the same
    # timeout): retrying the rollback to 1 is the undo, though 3 holds 1's values
    timed_out = [{"revision": 1, "status": "superseded"}, {"revision": 2, "status": "failed"},
                 {"revision": 3, "status": "failed"}]
    assert rollback_target(timed_out, lambda rev: rev == 1) == (1, [{"revision": 2, "why": "it failed"}])
