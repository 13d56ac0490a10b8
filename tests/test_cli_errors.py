"""Errors that say why (issue 9, item 6): schema violations named before helm runs, namespace names checked, one
meaning of --context on every command, and click's own usage errors in the same `error:` + `hint:` form. Offline:
nothing here needs a cluster."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from kubectl_llm.adapters.charts import schema_violations
from kubectl_llm.cli.main import cli

MODEL = "Qwen/Qwen3-8B"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def one_error(result: Result, code: int = 2) -> tuple[str, str]:
    """Exactly one `error:` and one `hint:` line, the given exit code, no traceback and no click 'Usage:' block."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    hints = [line for line in lines if line.startswith("hint: ")]
    assert len(errors) == 1 and len(hints) == 1, result.stderr
    assert "Traceback" not in result.stderr and "Usage:" not in result.stderr and "Error:" not in result.stderr
    return errors[0], hints[0]


def test_every_schema_violation_is_named_with_its_path_before_helm_runs() -> None:
    """Before: helm's "values don't meet the specifications of the schema(s)" and nothing else, exit 6."""
    error, hint = one_error(run("add", MODEL, "--dry-run=client", "--set", "resources.memoryLimit=20 GB",
                                "--set", "gateway.timeout=soon,storage.accessMode=Sometimes", "--set", "engine.imagee=x"))
    assert error.startswith("error: 4 values break the llm-model chart's values.schema.json: ")
    assert "engine: Additional properties are not allowed ('imagee' is not a chart value)" in error
    assert "gateway.timeout: 'soon' is not a duration such as 90s, 20m or 1h" in error
    assert "resources.memoryLimit: '20 GB' is not a Kubernetes quantity such as 4, 500m or 16Gi" in error
    assert "storage.accessMode: 'Sometimes' is not one of ['ReadWriteOnce'" in error
    assert hint.startswith("hint: fix them in your -f/--set")


@pytest.mark.parametrize("helm", ["helm", "helm3"])
def test_client_dry_run_names_violations_with_helm_4_and_3(helm, monkeypatch) -> None:
    """--dry-run=client lets `helm template` check the schema and runs jsonschema only when it fails (its import
    costs ~0.1 s): both Helm 4 and Helm 3 refuse each of these, so the named violations are still the error. A
    helm that cannot run does not hide them either (they came first before)."""
    monkeypatch.setenv("KUBECTL_LLM_HELM", helm)
    for setting, named in [("resources.memoryLimit=20 GB", "resources.memoryLimit: '20 GB' is not a Kubernetes"),
                           ("engine.imagee=x", "('imagee' is not a chart value)"),
                           ("storage.accessMode=Sometimes", "storage.accessMode: 'Sometimes' is not one of"),
                           ("engine.port=70000", "engine.port: 70000 is greater than the maximum of 65535"),
                           ("storage.existingClaim=" + "c" * 64, "storage.existingClaim: 'cccc"),
                           ("probes.periodSeconds=0", "probes.periodSeconds: 0 is less than the minimum of 1")]:
        error, _ = one_error(run("add", MODEL, "--dry-run=client", "--set", setting))
        assert error.startswith("error: 1 value breaks the llm-model chart's values.schema.json: ") and named in error
    monkeypatch.setenv("KUBECTL_LLM_HELM", "no-such-helm-binary")
    error, _ = one_error(run("add", MODEL, "--dry-run=client", "--set", "engine.imagee=x"))
    assert "('imagee' is not a chart value)" in error


def test_negative_quantities_are_refused() -> None:
    assert schema_violations("llm-model", {"resources": {"memoryLimit": "-4Gi"}}) == [
        "resources.memoryLimit: '-4Gi' is not a Kubernetes quantity such as 4, 500m or 16Gi"]
    assert schema_violations("llm-model", {"storage": {"size": "1e-3"}}) == []   # an exponent may be negative
    error, hint = one_error(run("add", MODEL, "--dry-run=client", "--set", "resources.cpu=-4"))
    assert error.startswith("error: resources.cpu is planned") and "--gpus N" in hint
    error, _ = one_error(run("add", MODEL, "--dry-run=client", "--set", "storage.size=-100Gi"))
    assert "storage.size: '-100Gi' is not a Kubernetes quantity" in error


def test_gateway_chart_values_are_checked_too() -> None:
    error, _ = one_error(run("gateway", "install", "--dry-run=client", "--set", "rateLimit.unit=Week"))
    assert error.startswith("error: 1 value breaks the llm-gateway chart's values.schema.json: rateLimit.unit: 'Week'")


@pytest.mark.parametrize("args", [["add", MODEL, "--dry-run=client"], ["list"], ["status", "qwen3-8b"],
                                  ["gateway", "install", "--dry-run=client"]])
def test_namespace_names_are_checked(args: list[str]) -> None:
    """Before: `-n Bad_NS` was rendered without complaint."""
    error, hint = one_error(run(*args, "-n", "Bad_NS"))
    assert error.startswith("error: namespace 'Bad_NS' is not a DNS-1123 label")
    assert hint == "hint: try -n bad-ns"
    error, _ = one_error(run(*args, "-n", "x" * 64))
    assert "at most 63 characters" in error


@pytest.mark.parametrize("args", [["add", MODEL, "--dry-run=client"], ["upgrade", "qwen3-8b"], ["list"]])
def test_a_numeric_context_on_a_cluster_command_points_at_context_length(args: list[str]) -> None:
    error, hint = one_error(run(*args, "--context", "16384"))
    assert error == "error: --context 16384 names a kubeconfig context, and 16384 looks like a token count"
    assert hint.startswith("hint: use --context-length 16384")


def test_plan_speaks_context_length_and_keeps_the_old_spelling_with_a_warning() -> None:
    new = run("plan", MODEL, "--gpu", "L40", "--context-length", "16384", "-o", "json")
    assert new.exit_code == 0 and "warning" not in new.stderr
    old = run("plan", MODEL, "--gpu", "L40", "--context", "16384", "-o", "json")
    assert old.exit_code == 0, old.stderr
    assert "warning: --context 16384 as the token count is deprecated: use --context-length 16384" in old.stderr
    assert json.loads(old.stdout) == json.loads(new.stdout)
    assert json.loads(new.stdout)["serving"]["max_model_len"] == 16384
    # a kubeconfig context name copied from add is accepted and ignored (plan touches no cluster)
    named = run("plan", MODEL, "--gpu", "L40", "--context", "nrp", "--context-length", "16384", "-o", "json")
    assert named.exit_code == 0 and json.loads(named.stdout) == json.loads(new.stdout)


@pytest.mark.parametrize(("args", "starts", "hint"), [
    (["add", MODEL, "--gpus", "x"], "error: Invalid value for '--gpus': 'x' is not a valid integer",
     "hint: see 'kubectl llm add --help'"),
    (["frobnicate"], "error: No such command 'frobnicate'", "hint: see 'kubectl llm --help'"),
    (["--bogus"], "error: No such option", "hint: see 'kubectl llm --help'"),
    (["gateway", "install", "--bogus"], "error: No such option",
     "hint: see 'kubectl llm gateway install --help'"),
    (["status"], "error: Missing argument 'NAME'", "hint: see 'kubectl llm status --help'"),
])
def test_click_usage_errors_take_the_same_form(args: list[str], starts: str, hint: str) -> None:
    """Before: click's own 'Usage: ... Try ... Error: ...' block."""
    error, got_hint = one_error(CliRunner().invoke(cli, args, prog_name="kubectl llm"))
    assert error.startswith(starts) and got_hint == hint


def test_help_still_shows_usage() -> None:
    assert run("--help").stdout.startswith("Usage: ")
    bare = run("gateway")   # a group without its subcommand shows its help, as before
    assert "Commands:" in bare.output and "error:" not in bare.output
