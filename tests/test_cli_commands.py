"""Every command's help, completion, gpus, version, kubectl-style namespace resolution, small helpers."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from kubectl_llm.adapters.cluster import resolve_namespace
from kubectl_llm.adapters.helm import age
from kubectl_llm.cli.main import cli, prog_name
from kubectl_llm.cli.planning import validate_name


def all_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):           # the lazy group imports each command here
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        out.append(prefix + (name,))
        if isinstance(cmd, click.Group):
            out += all_commands(cmd, prefix + (name,))
    return out


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p))
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="kubectl llm")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: kubectl llm {' '.join(path)}")
    cmd = cli
    for part in path:
        cmd = cmd.get_command(click.Context(cmd), part)
    if path not in (("version",), ("gateway", "install"), ("gateway", "upgrade"), ("gateway", "uninstall")):
        assert "kubectl llm " in (cmd.epilog or ""), f"{path} has no example"


def test_prog_name_follows_the_plugin_binary():
    assert prog_name("/home/u/.local/bin/kubectl-llm") == "kubectl llm"
    assert prog_name("mytool") == "mytool"
    assert prog_name("/src/kubectl_llm/cli/main.py") == "kubectl llm"     # python -m kubectl_llm.cli.main


@pytest.mark.parametrize("shell,marker", [("bash", "complete -o nosort -F"), ("zsh", "#compdef kubectl-llm"),
                                          ("fish", "complete --no-files --command kubectl-llm")])
def test_completion_scripts(shell, marker):
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0 and marker in result.stdout and "_KUBECTL_LLM_COMPLETE" in result.stdout


def test_gpus_table_and_json_come_from_the_catalog():
    from kubectl_llm.planner.site import default_site

    catalog = default_site().gpu_catalog          # the built-in catalog with NRP's site types merged in
    result = CliRunner().invoke(cli, ["gpus", "-o", "json"])
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == [g.name for g in catalog]
    a100 = next(r for r in rows if r["name"] == "A100-80GB")
    assert a100["resource"] == "nvidia.com/a100"            # the handbook's special resource name
    table = CliRunner().invoke(cli, ["gpus"]).stdout.splitlines()
    assert table[0].split() == ["NAME", "MEMORY", "PRODUCT", "RESOURCE"] and len(table) == len(catalog) + 1


def test_version_reports_helm(helm_bin, monkeypatch):
    monkeypatch.delenv("KUBECTL_LLM_HELM", raising=False)
    doc = json.loads(CliRunner().invoke(cli, ["version", "-o", "json"]).stdout)
    assert doc["kubectl_llm"] == "0.1.0" and doc["helm"].startswith("v4.")


def test_list_refuses_n_with_A():
    result = CliRunner().invoke(cli, ["list", "-n", "x", "-A"])
    assert result.exit_code == 2 and "mutually exclusive" in result.stderr


KUBECONFIG = """apiVersion: v1
kind: Config
current-context: nrp
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts:
  - {name: nrp, context: {cluster: c, user: u, namespace: nrp-llm}}
  - {name: bare, context: {cluster: c, user: u}}
"""


def test_namespace_resolution_like_kubectl(tmp_path):
    kc = tmp_path / "config"
    kc.write_text(KUBECONFIG)
    assert resolve_namespace("explicit", str(kc), None) == "explicit"
    assert resolve_namespace(None, str(kc), None) == "nrp-llm"          # current context's namespace
    assert resolve_namespace(None, str(kc), "bare") == "default"        # context without one
    assert resolve_namespace(None, str(tmp_path / "missing"), None) == "default"
    from kubectl_llm.errors import ClusterUnreachable

    with pytest.raises(ClusterUnreachable, match="context 'nope' not found"):
        resolve_namespace(None, str(kc), "nope")


def test_unreachable_cluster_is_one_clean_error(tmp_path, monkeypatch):
    kc = tmp_path / "config"
    kc.write_text(KUBECONFIG)                                   # points at a closed local port
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(cli, ["add", "Qwen/Qwen3-8B", "--kubeconfig", str(kc)])
    assert result.exit_code == 6
    assert result.stderr.splitlines()[0].startswith("error: cannot reach the cluster")
    assert "Traceback" not in result.stderr


def test_names_and_ages():
    assert validate_name("qwen3-8b") == "qwen3-8b"
    assert validate_name("a" * 53) == "a" * 53
    now = dt.datetime(2025, 3, 1, 13, 0, tzinfo=dt.timezone.utc)
    assert age("2025-03-01 10:00:00.123456789 +0000 UTC", now) == "3h"
    assert age("2025-03-01T12:59:15Z", now) == "45s"
    assert age("2025-02-26T13:00:00+01:00", now) == "3d"
    assert age(None, now) == "<unknown>"


def test_ctrl_c_is_one_error_line_with_what_to_do_next(monkeypatch):
    import kubectl_llm.cli.release_cmds as release_cmds

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(release_cmds, "load_source", interrupted)
    result = CliRunner().invoke(cli, ["add", "Qwen/Qwen3-8B"])
    assert result.exit_code == 130
    assert result.stderr.splitlines()[0] == "error: interrupted"
    assert "'kubectl llm list' shows the release's state" in result.stderr
    assert "Traceback" not in result.stderr


# Modules a plan of a local directory must not load: the adapters and clients of other commands, the network and
# async stacks they pull in, the slow entry-point lookup, and yaml (its import cost ~12 ms; the planner's package
# data is read from generated JSON copies and `-o json` needs no YAML emitter). The benchmark's plan-vs-template goal.
NOT_ON_PLAN_PATH = ("kubectl_llm.adapters.helm", "kubectl_llm.adapters.cluster", "pyhelm3", "kubernetes",
                    "huggingface_hub", "jsonschema", "asyncio", "ssl", "socket", "email", "http", "importlib.metadata",
                    "yaml")


def test_plan_imports_neither_helm_nor_the_kubernetes_client() -> None:
    """`plan` loads only what planning needs (lazy command group)."""
    code = ("import sys; from kubectl_llm.cli.main import cli; cli.get_command(None, 'plan'); "
            f"bad = [m for m in {NOT_ON_PLAN_PATH!r} if m in sys.modules]; print(bad)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def run_console_script(argv: list[str], tmp_path) -> tuple[subprocess.CompletedProcess[str], int, list[str]]:
    """``main()`` as the console script calls it, in a fresh interpreter: (process, exit code, NOT_ON_PLAN_PATH
    modules loaded by then)."""
    code = ("import sys\n"
            "from kubectl_llm.cli.main import main\n"
            f"sys.argv = {['kubectl-llm', *argv]!r}\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
            f"print('loaded:', [m for m in {NOT_ON_PLAN_PATH!r} if m in sys.modules], code, file=sys.stderr)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBECTL_LLM", "HF_"))}
    env.update(HF_HUB_OFFLINE="1", XDG_CONFIG_HOME=str(tmp_path))        # no user site file: the built-in profile
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("loaded: ["), proc.stderr
    loaded, code_text = last[len("loaded: "):].rsplit(" ", 1)
    return proc, int(code_text), eval(loaded)  # noqa: S307 - our own repr of a list of module names


@pytest.fixture
def local_qwen35(tmp_path):
    from kubectl_llm import catalog

    model = tmp_path / "Qwen3.5-397B-A17B"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(catalog.load("Qwen/Qwen3.5-397B-A17B").config))
    return model


@pytest.mark.parametrize("output", ["json", "text"])
def test_plan_of_a_local_directory_loads_no_client_and_no_yaml(tmp_path, local_qwen35, output) -> None:
    """The whole `kubectl llm plan DIR -o json|text` as the console script runs it: after the plan is printed
    (exit 0), none of NOT_ON_PLAN_PATH is in sys.modules."""
    proc, code, loaded = run_console_script(["plan", str(local_qwen35), "-o", output], tmp_path)
    assert (code, loaded) == (0, []), proc.stderr
    if output == "json":
        assert json.loads(proc.stdout)["gpu"]["count"] >= 4          # a real plan was printed, not an error
    else:
        assert "Qwen3.5-397B-A17B" in proc.stdout


def test_add_dry_run_client_reads_the_kubeconfig_without_the_kubernetes_client(tmp_path, local_qwen35,
                                                                              monkeypatch) -> None:
    """`add DIR --dry-run=client` needs the kubeconfig only for its namespace: adapters/kubeconfig.py reads it, so
    neither the kubernetes client (~0.3 s to import) nor the Hub client is loaded; jsonschema (~0.1 s) only when
    `helm template` refuses the values. The helm adapter (pyhelm3, asyncio) and yaml may be. The namespace comes
    from the second file of $KUBECONFIG (the first sets no context)."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    second.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first), str(second)]))
    proc, code, loaded = run_console_script(["add", str(local_qwen35), "--model-id", "Qwen/Qwen3.5-397B-A17B",
                                             "--dry-run=client", "-o", "json"], tmp_path)
    assert code == 0, proc.stderr
    assert not {"kubernetes", "huggingface_hub", "http", "jsonschema"} & set(loaded), loaded
    objects = json.loads(proc.stdout)
    objects = objects.get("items", objects) if isinstance(objects, dict) else objects
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"nrp-llm"}


def test_console_script_keeps_exit_code_and_output_of_a_plan_that_does_not_fit(tmp_path, local_qwen35) -> None:
    """main() ends with gc.freeze() (a faster interpreter shutdown): the exit code, the whole JSON document on stdout
    and the error/hint lines on stderr are still there. 397B parameters on one 24 GiB A10 cannot fit: exit 5."""
    proc, code, loaded = run_console_script(["plan", str(local_qwen35), "--gpu", "A10", "--gpus", "1", "-o", "json"],
                                            tmp_path)
    assert code == 5 and loaded == [], proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["fits"] is False and doc["gpu"]["type"] == "A10"
    error, hint = proc.stderr.splitlines()[:2]
    assert error.startswith(f"error: {local_qwen35} does not fit (A10: 1 GPUs: weights ")
    assert hint.startswith("hint: ")


def test_missing_helm_names_install_with_tools(monkeypatch, tmp_path):
    """add without helm used to say "run ./install.sh, which checks it" while install.sh only warned: a loop.
    Both now name the command that installs it (tests/test_packaging.py checks install.sh's side). (No helm on
    PATH and none named: a $KUBECTL_LLM_HELM that names a missing one is its own error, test_review_robustness.)"""
    monkeypatch.delenv("KUBECTL_LLM_HELM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(cli, ["add", "Qwen/Qwen3-8B", "--dry-run=client"])
    assert result.exit_code == 7
    assert result.stderr.splitlines() == [
        "error: helm not found on PATH",
        "hint: run ./install.sh --with-tools (puts a pinned helm and kubectl into kubectl llm's own directory), "
        "or install helm >= 3.8 on PATH: https://helm.sh/docs/intro/install/"]
