"""The day-2 defects the model-based sequences of tests/test_day2_sequences.py found, each minimised to the plain
sequence of commands that shows it (against the fake API server with the real helm). No hypothesis needed here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kubectl_llm.cli.main import cli
from tests.cli_harness import VLLM_LOG, cli_cluster
from tests.fakes.apiserver import FakeApiServer

MODEL = "Qwen/Qwen3-8B"
NAMES = ("qwen3-8b",)


@pytest.fixture
def seq_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("KUBECTL_LLM_SITE", raising=False)
    with cli_cluster(tmp_path, monkeypatch, pod_log=VLLM_LOG) as api:
        yield api


def _run(*args: str, env: dict[str, str | None] | None = None) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env or {})
    assert "Traceback" not in result.stderr and result.exit_code != 70, result.stderr
    return result


def test_an_add_adopting_a_kept_claim_keeps_its_class_when_the_site_names_another(seq_fake: FakeApiServer,
                                                                                  tmp_path: Path) -> None:
    """Sequence: add (built-in site: linstor-igrok) -> rm --keep-cache -> the site in effect now names linstor-unl
    -> add. Before: the add rendered the claim with linstor-unl, the API refused the kept claim's spec change
    (exit 6), and undoing the failed install deleted the kept weights claim that --keep-cache promised to keep.
    Now the kept claim is adopted with its class (a warning says so); a --set naming another class is refused
    before helm runs, and the claim stays."""
    site = tmp_path / "site-a.yaml"
    site.write_text("name: site-a\nstorageClass: linstor-unl\npriorityClassName: ''\n")
    assert _run("add", MODEL, "-n", "llm").exit_code == 0
    uid = seq_fake.get_object("PersistentVolumeClaim", NAMES[0], "llm")["metadata"]["uid"]
    assert _run("rm", NAMES[0], "--keep-cache", "-n", "llm").exit_code == 0

    refused = _run("add", MODEL, "-n", "llm", "--site", str(site), "--set", "storage.storageClass=linstor-unl")
    assert refused.exit_code == 2, refused.stderr
    assert "kept by 'rm --keep-cache' has storage class linstor-igrok" in refused.stderr
    pvc = seq_fake.get_object("PersistentVolumeClaim", NAMES[0], "llm")
    assert pvc is not None and pvc["metadata"]["uid"] == uid

    added = _run("add", MODEL, "-n", "llm", "--site", str(site))
    assert added.exit_code == 0, added.stderr
    assert "keeps storage class linstor-igrok" in added.stderr
    pvc = seq_fake.get_object("PersistentVolumeClaim", NAMES[0], "llm")
    assert (pvc["metadata"]["uid"], pvc["spec"]["storageClassName"]) == (uid, "linstor-igrok")
    # the same through $KUBECTL_LLM_SITE after another rm --keep-cache
    assert _run("rm", NAMES[0], "--keep-cache", "-n", "llm").exit_code == 0
    again = _run("add", MODEL, "-n", "llm", env={"KUBECTL_LLM_SITE": str(site)})
    assert again.exit_code == 0, again.stderr
    pvc = seq_fake.get_object("PersistentVolumeClaim", NAMES[0], "llm")
    assert (pvc["metadata"]["uid"], pvc["spec"]["storageClassName"]) == (uid, "linstor-igrok")


def test_an_upgrade_from_a_shell_with_another_site_keeps_the_site_the_model_was_added_for(
        seq_fake: FakeApiServer, tmp_path: Path) -> None:
    """Sequence: add (no $KUBECTL_LLM_SITE: the built-in profile, NRP's) -> export KUBECTL_LLM_SITE=site-a.yaml ->
    upgrade --context-length 8192. Before: the upgrade re-planned for site-a without recording it: the route moved
    from Gateway envoy-ai-gateway-nrp to envoy-ai-gateway (the model left the gateway its clients use), the priority
    class owner was dropped, and the next upgrade from a shell without the variable moved it back. Now a layer
    naming no site is planned for the built-in profile (add, sync and --reset-values record any other site in
    effect), with a warning that the variable is not applied; --reset-values in that shell moves it."""
    site = tmp_path / "site-a.yaml"
    site.write_text("name: site-a\nstorageClass: linstor-unl\npriorityClassName: ''\n")
    env = {"KUBECTL_LLM_SITE": str(site)}
    assert _run("add", MODEL, "-n", "llm").exit_code == 0

    def rendered() -> tuple[str, list[str]]:
        spec = seq_fake.get_object("Deployment", NAMES[0], "llm")["spec"]["template"]["spec"]
        route = seq_fake.get_object("AIGatewayRoute", NAMES[0], "llm")
        return spec.get("priorityClassName") or "", [p["name"] for p in route["spec"]["parentRefs"]]

    assert rendered() == ("owner", ["envoy-ai-gateway-nrp"])
    up = _run("upgrade", NAMES[0], "-n", "llm", "--context-length", "8192", "-o", "json", env=env)
    assert up.exit_code == 0, up.stderr
    assert json.loads(up.stdout)["revision"] == 2
    assert f"$KUBECTL_LLM_SITE ({site}) is not applied" in up.stderr
    assert rendered() == ("owner", ["envoy-ai-gateway-nrp"])
    layer = json.loads(_run("status", NAMES[0], "-n", "llm", "-o", "json").stdout)["user"]
    assert layer["flags"] == {"context-length": 8192}
    # nothing new asked: no revision, whichever shell runs it
    assert json.loads(_run("upgrade", NAMES[0], "-n", "llm", "-o", "json", env=env).stdout)["action"] == "unchanged"
    assert json.loads(_run("upgrade", NAMES[0], "-n", "llm", "-o", "json").stdout)["action"] == "unchanged"
    # --reset-values in that shell re-plans for its site, and records it
    moved = _run("upgrade", NAMES[0], "-n", "llm", "--reset-values", "-o", "json", env=env)
    assert moved.exit_code == 0, moved.stderr
    assert rendered() == ("", ["envoy-ai-gateway"])
    assert json.loads(_run("status", NAMES[0], "-n", "llm", "-o", "json").stdout)["user"]["flags"] == \
        {"site": str(site)}


def test_sync_records_the_site_in_effect_for_a_file_naming_none(seq_fake: FakeApiServer, tmp_path: Path) -> None:
    """A record naming no site, synced from a shell with $KUBECTL_LLM_SITE, is planned for that site and now
    records it (as add does), so a later upgrade plans for the same site; a second sync is no change (exit 0)."""
    site = tmp_path / "site-a.yaml"
    site.write_text("name: site-a\nstorageClass: linstor-unl\npriorityClassName: ''\n")
    env = {"KUBECTL_LLM_SITE": str(site)}
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "qwen3-8b.yaml").write_text(f"kind: model\nname: {NAMES[0]}\nmodel: {MODEL}\nflags: {{}}\n"
                                          f"values: {{}}\n")
    assert _run("sync", str(folder), "-n", "llm", env=env).exit_code == 8
    assert _run("sync", str(folder), "-n", "llm", env=env).exit_code == 0
    assert json.loads(_run("status", NAMES[0], "-n", "llm", "-o", "json").stdout)["user"]["flags"] == \
        {"site": str(site)}
    assert json.loads(_run("upgrade", NAMES[0], "-n", "llm", "-o", "json").stdout)["action"] == "unchanged"
    route = seq_fake.get_object("AIGatewayRoute", NAMES[0], "llm")
    assert [p["name"] for p in route["spec"]["parentRefs"]] == ["envoy-ai-gateway"]
