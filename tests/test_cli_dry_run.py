"""`add --dry-run=client` renders through the real helm binary, with no cluster and no kubeconfig, and the
manifests validate against the Kubernetes and CRD schemas (tests/manifest_validation.py, shared with the charts).
"""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from kubectl_llm.cli.main import cli
from tests.manifest_validation import validate_objects

NS = "nrp-llm"


@pytest.fixture(autouse=True)
def no_cluster(monkeypatch, tmp_path, helm_bin):
    """Offline Hub, a kubeconfig that does not exist: proof that client dry run never needs a cluster."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    monkeypatch.delenv("KUBECTL_LLM_HELM", raising=False)


@pytest.fixture(scope="module")
def rendered() -> dict[str, "object"]:
    """One yaml and one json render of the default add (helm template runs twice for the whole module)."""
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    runner = CliRunner()
    y = runner.invoke(cli, ["add", "Qwen/Qwen3-8B", "-n", NS, "--dry-run=client", "-o", "yaml"])
    j = runner.invoke(cli, ["add", "Qwen/Qwen3-8B", "-n", NS, "--dry-run=client", "-o", "json"])
    return {"yaml": y, "json": j}


def by_kind(objs: list[dict]) -> dict[str, dict]:
    return {o["kind"]: o for o in objs}


def test_yaml_is_multi_document_manifests_that_validate(rendered):
    result = rendered["yaml"]
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("---\n")
    objs = [d for d in yaml.safe_load_all(result.stdout) if d]
    kinds = sorted(o["kind"] for o in objs)
    assert kinds == ["AIGatewayRoute", "AIServiceBackend", "Backend", "Deployment", "PersistentVolumeClaim",
                     "Service"]
    validate_objects(objs)
    for o in objs:
        assert o["metadata"]["name"] == "qwen3-8b"                   # release name = route name
        assert o["metadata"]["namespace"] == NS
        assert o["metadata"]["labels"]["app.kubernetes.io/instance"] == "qwen3-8b"


def test_json_is_the_same_objects_as_a_list(rendered):
    assert rendered["json"].exit_code == 0, rendered["json"].stderr
    as_json = json.loads(rendered["json"].stdout)
    as_yaml = [d for d in yaml.safe_load_all(rendered["yaml"].stdout) if d]
    assert isinstance(as_json, list) and as_json == as_yaml


def test_the_plan_reaches_the_deployment(rendered):
    objs = by_kind([d for d in yaml.safe_load_all(rendered["yaml"].stdout) if d])
    container = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    args = " ".join(container.get("command", []) + container.get("args", []))
    assert "--model Qwen/Qwen3-8B" in args and "--max-model-len 40960" in args
    route = objs["AIGatewayRoute"]["spec"]["rules"][0]
    assert route["matches"][0]["headers"][0]["value"] == "qwen3-8b"


def test_overrides_win_over_the_plan_and_planned_keys_are_refused(tmp_path):
    values = tmp_path / "mine.yaml"
    values.write_text("engine:\n  image: vllm/vllm-openai:v0.18.0\n")
    result = CliRunner().invoke(cli, [
        "add", "Qwen/Qwen3-8B", "-n", NS, "--dry-run=client", "-o", "yaml", "-f", str(values),
        "--set", "storage.size=100Gi"])
    assert result.exit_code == 0, result.stderr
    objs = by_kind([d for d in yaml.safe_load_all(result.stdout) if d])
    container = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "vllm/vllm-openai:v0.18.0"
    assert objs["PersistentVolumeClaim"]["spec"]["resources"]["requests"]["storage"] == "100Gi"
    assert "warning" not in result.stdout
    refused = CliRunner().invoke(cli, ["add", "Qwen/Qwen3-8B", "-n", NS, "--dry-run=client",
                                       "--set", "engine.maxModelLen=131072,storage.size=100Gi"])
    assert refused.exit_code == 2
    assert "error: engine.maxModelLen is planned, not overridable" in refused.stderr
    assert "hint: for engine.maxModelLen use --context-length N" in refused.stderr


def test_default_output_lists_what_would_be_applied():
    result = CliRunner().invoke(cli, ["add", "Qwen/Qwen3-8B", "-n", NS, "--dry-run=client", "--name", "qwen-small"])
    assert result.exit_code == 0, result.stderr
    assert "Deployment/qwen-small would be applied (dry run: client)" in result.stdout.splitlines()


def test_a_bad_override_is_a_clean_error():
    result = CliRunner().invoke(cli, ["add", "Qwen/Qwen3-8B", "--dry-run=client", "--set", "novalue"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "error: cannot read --set 'novalue'"


def test_a_bad_name_fails_before_anything_runs(monkeypatch):
    import kubectl_llm.cli.release_cmds as release_cmds

    monkeypatch.setattr(release_cmds, "load_source", lambda *a, **k: pytest.fail("model looked up"))
    result = CliRunner().invoke(cli, ["add", "Qwen/Qwen3-8B", "--name", "-bad-", "--dry-run=client"])
    assert result.exit_code == 2 and "not a DNS-1123 label" in result.stderr


def test_every_add_example_in_the_help_works(helm_bin, monkeypatch, tmp_path):
    """The examples users copy from `kubectl llm add --help`, each rendered with --dry-run=client."""
    import shlex

    from kubectl_llm.cli.release_cmds import ADD_EXAMPLES

    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-values.yaml").write_text("scheduling: {}\n")
    examples = [line.split("#")[0].strip() for line in ADD_EXAMPLES.splitlines()
                if line.strip().startswith("kubectl llm add ")]
    assert len(examples) >= 4
    for example in examples:
        args = shlex.split(example)[2:]
        args = [a for a in args if a not in ("--wait",)]
        if "--dry-run=client" not in args:
            args += ["--dry-run=client", "-o", "yaml"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, f"{example}\n{result.stderr}"


@pytest.mark.parametrize("version, code, first_line", [
    ("printf v3.7.0", 7, "error: helm 3.7.0 is too old"),
    ("echo oops >&2; exit 3", 7, "error: cannot run {helm} version: "),
])
def test_helm_version_is_still_checked_while_helm_template_runs(tmp_path, monkeypatch, helm_bin, version, code,
                                                                first_line):
    """`helm version` runs beside `helm template` (not before it): a helm older than 3.8 or one whose version
    cannot be read still fails the dry run with that error, and nothing is printed."""
    helm = tmp_path / "old-helm"
    helm.write_text(f'#!/bin/sh\nif [ "$1" = version ]; then {version}; exit; fi\nexec {helm_bin} "$@"\n')
    helm.chmod(0o755)
    monkeypatch.setenv("KUBECTL_LLM_HELM", str(helm))
    result = CliRunner().invoke(cli, ["add", "Qwen/Qwen3-8B", "-n", NS, "--dry-run=client", "-o", "yaml"])
    assert result.exit_code == code, result.stderr
    assert result.stderr.startswith(first_line.format(helm=helm)) and result.stdout == ""
