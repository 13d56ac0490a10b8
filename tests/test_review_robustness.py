"""Robustness review (session 8): bad input a hostile-but-realistic admin feeds every command, offline and against
the fake API server. Each test is a defect found by an exploratory sweep of bad-input combinations; its docstring
says what happened before the fix. The promises: one `error:` line with a hint and a documented exit code, never
exit 70 for a user mistake, never a half-applied change, and no secret in values, manifests, output or records."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from kubectl_llm.cli.main import cli
from tests.fakes.apiserver import FakeApiServer
from tests.test_cli_lifecycle import NS, fake, kllm  # noqa: F401 - fixture used by name

MODEL = "Qwen/Qwen3-8B"
NAME = "qwen3-8b"
TOKEN = "hf_PLANTEDtokenABCDEFGHIJ0123456789"     # a recognisable fake Hugging Face token
SECRET = "PLANTEDsecretVALUE4242"
QWEN3_8B = Path(__file__).resolve().parents[1] / "kubectl_llm" / "catalog" / "models" / "Qwen__Qwen3-8B.json"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def one_error(result: Result, code: int) -> tuple[str, str]:
    """Exactly one `error:` and one `hint:` line, exit ``code`` (never 70), no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
    lines = result.stderr.splitlines()
    errors = [x for x in lines if x.startswith("error: ")]
    hints = [x for x in lines if x.startswith("hint: ")]
    assert len(errors) == 1 and len(hints) == 1, result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in errors[0], result.stderr
    return errors[0], hints[0]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Hub, no cluster (a kubeconfig that does not exist): what --dry-run=client and plan run with."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    monkeypatch.delenv("KUBECTL_LLM_HELM", raising=False)


def helm_history(name: str) -> list[tuple[int, str]]:
    done = subprocess.run(["helm", "history", name, "-n", NS, "-o", "json"], check=True, capture_output=True,
                          text=True)
    return [(int(h["revision"]), h["status"]) for h in json.loads(done.stdout)]


# --- secrets never land in values --------------------------------------------------------------------------------
def test_a_secret_named_env_variable_with_a_plain_value_is_refused_before_helm(offline: None) -> None:
    """Before: `--set engine.env[0].name=HF_TOKEN,engine.env[0].value=<token>` was installed: the token sat in the
    release's values (helm get values, helm history), the Deployment's manifest and `kubectl llm export`'s file
    (the llm-gateway chart refused the same for engineConfig.env, the llm-model chart did not)."""
    for setting in (f"engine.env[0].name=HF_TOKEN,engine.env[0].value={TOKEN}",
                    f"engine.env[0].name=OPENAI_API_KEY,engine.env[0].value={SECRET}",
                    f"engine.env[0].name=SAFE,engine.env[0].value=1,engine.env[1].name=db_password,"
                    f"engine.env[1].value={SECRET}"):
        result = run("add", MODEL, "--dry-run=client", "-o", "yaml", "--set-string", setting)
        error, hint = one_error(result, 2)
        assert "looks like a secret with a plain value" in error and "valueFrom.secretKeyRef" in hint
        assert TOKEN not in result.output and SECRET not in result.output and result.stdout == ""
    # a reference to a Secret is what to do, and names that only contain "token" are no secrets
    ok = run("add", MODEL, "--dry-run=client", "-o", "yaml", "--set-string",
             "engine.env[0].name=HF_TOKEN,engine.env[0].valueFrom.secretKeyRef.name=hf,"
             "engine.env[0].valueFrom.secretKeyRef.key=token,engine.env[1].name=TOKENIZERS_PARALLELISM,"
             "engine.env[1].value=false,engine.env[2].name=VLLM_MAX_TOKENS,engine.env[2].value=8")
    assert ok.exit_code == 0, ok.stderr
    deployment = next(o for o in yaml.safe_load_all(ok.stdout) if o and o["kind"] == "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "hf", "key": "token"}
    assert env["TOKENIZERS_PARALLELISM"]["value"] == "false"


@pytest.mark.parametrize("helm", ["helm", "helm3"])
def test_both_charts_refuse_a_secret_in_env_and_take_tokenizers_parallelism(helm: str, tools_on_path: None) -> None:
    """Before: `helm install` of charts/llm-model took engine.env HF_TOKEN=<token> (only the CLI path is checked
    above; the charts are also used directly), and llm-gateway refused engineConfig.env.TOKENIZERS_PARALLELISM (a
    common tokenizers switch) as 'looks like a secret' (its expression matched any name containing 'token')."""
    charts = Path(__file__).resolve().parents[1] / "charts"

    def template(chart: str, *sets: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([helm, "template", "x", str(charts / chart), *[a for s in sets for a in ("--set", s)]],
                              capture_output=True, text=True)

    refused = template("llm-model", "engine.env[0].name=HF_TOKEN", f"engine.env[0].value={TOKEN}")
    assert refused.returncode != 0 and "engine.env[0] HF_TOKEN has a plain value and looks like a secret" in \
        refused.stderr and TOKEN not in refused.stdout
    assert template("llm-model", "engine.env[0].name=HF_TOKEN",
                    "engine.env[0].valueFrom.secretKeyRef.name=hf").returncode == 0
    assert template("llm-gateway", "engineConfig.env.TOKENIZERS_PARALLELISM=off").returncode == 0
    assert "engineConfig.env.HF_TOKEN looks like a secret" in \
        template("llm-gateway", f"engineConfig.env.HF_TOKEN={TOKEN}").stderr


def test_errors_and_debug_output_never_quote_credentials(offline: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `add --external https://user:KEY@host/v1` said `error: --external 'https://user:KEY@host/v1' carries
    credentials` (the key in the terminal and the CI log), `?api_key=KEY` likewise; a token pasted as
    engine.hfTokenSecret.name (the Secret's name) came back in the schema error; --debug's traceback repeated them;
    and `chatbox --api-host https://user:KEY@host` printed the key into the config every user imports."""
    monkeypatch.setenv("HF_TOKEN", SECRET + "env")
    for url, what in ((f"https://me:{SECRET}@llm.example.org/v1", "credentials"),
                      (f"https://llm.example.org/v1?api_key={SECRET}", "a query")):
        result = run("add", "--external", url, "--served-name", "x/y", "--name", "ext")
        error, _ = one_error(result, 2)
        assert error == f"error: --external URL 'https://llm.example.org/v1' carries {what} (not shown)"
        assert SECRET not in result.output
        debug = run("--debug", "add", "--external", url, "--served-name", "x/y", "--name", "ext")
        assert debug.exit_code == 2 and "Traceback" in debug.stderr and SECRET not in debug.output
    pasted = run("add", MODEL, "--dry-run=client", "--set", f"engine.hfTokenSecret.name={TOKEN}")
    error, _ = one_error(pasted, 2)
    assert "engine.hfTokenSecret.name: 'hf_***' is not the pattern" in error and TOKEN not in pasted.output
    echoed = run("plan", SECRET + "env")          # the environment's token typed where the model goes
    one_error(echoed, 3)
    assert SECRET not in echoed.output and "*** is neither in the local" in echoed.stderr
    chatbox = run("chatbox", "--api-host", f"https://me:{SECRET}@gw.example.org")
    error, hint = one_error(chatbox, 2)
    assert "--api-host carries credentials" in error and SECRET not in chatbox.output


def test_an_api_key_pasted_after_the_secret_name_is_not_echoed(offline: None) -> None:
    """Before: `--api-key-secret sdsc:sk-proj-...` (NAME[:KEY] read as NAME:the API key) printed the key twice: in
    the error and inside the `kubectl get secret ... jsonpath='{.data.<the key>}'` hint. A key name is still quoted."""
    pasted = "sk-proj-" + SECRET + "0123456789"
    result = run("add", "--external", "https://llm.example.org/v1", "--served-name", "x/y", "--name", "ext",
                 "--api-key-secret", f"sdsc:{pasted}")
    error, hint = one_error(result, 2)
    assert SECRET not in result.output and "'sdsc:<not shown>'" in error and "{.data.KEY}" in hint
    error, hint = one_error(run("add", "--external", "https://llm.example.org/v1", "--served-name", "x/y", "--name",
                                "ext", "--api-key-secret", "sdsc:token"), 2)
    assert error.endswith("reads the key 'apiKey' of the Secret, not 'token'") and "{.data.token}" in hint


def test_a_kubectl_llm_helm_that_does_not_exist_is_named(offline: None) -> None:
    """Before: KUBECTL_LLM_HELM=/opt/helm-4/helm (a typo, or a removed install) said 'helm not found on PATH' and
    hinted install.sh --with-tools, although helm was on PATH: the variable that hid it was never named."""
    error, hint = one_error(run("add", MODEL, "--dry-run=client", env={"KUBECTL_LLM_HELM": "/opt/no-such/helm"}), 7)
    assert error == "error: $KUBECTL_LLM_HELM names '/opt/no-such/helm', which is not an executable file (nor a " \
                    "command on PATH)"
    assert "unset it" in hint


# --- sync: nothing applied from a folder that cannot be applied ----------------------------------------------------
def test_sync_refuses_a_file_that_turns_a_model_into_another_kind(fake: FakeApiServer, tmp_path: Path) -> None:
    """Before: the model's file edited into `kind: external` (same name) was 'upgrade model qwen3-8b' and sync
    upgraded the llm-model release to an external backend: its Deployment and weights PVC were deleted without a
    word. An external backend's file with `values: {mode: model}` installed a Deployment and a PVC nobody planned
    (chart defaults: no GPU sizing). `add` refuses both; sync now does too, before applying anything."""
    kllm("add", MODEL, "--gpu", "L40")
    kllm("add", "--external", "https://llm.example.org/v1", "--served-name", "x/y", "--name", "ext")
    folder = tmp_path / "models"
    kllm("export", str(folder))
    external = yaml.safe_load((folder / "ext.yaml").read_text())
    (folder / f"{NAME}.yaml").write_text(yaml.safe_dump({**external, "name": NAME}))
    for args in (["--dry-run"], []):
        error, hint = one_error(kllm("sync", str(folder), *args, code=2), 2)
        assert error == f"error: {NAME}.yaml: release {NAME} in namespace {NS} is a model, the file says an " \
                        f"external backend"
        assert f"kubectl llm rm {NAME} -n {NS}" in hint
    (folder / f"{NAME}.yaml").unlink()
    (folder / "ext.yaml").write_text(yaml.safe_dump({"kind": "external", "name": "ext", "values": {"mode": "model"}}))
    error, _ = one_error(kllm("sync", str(folder), code=2), 2)
    assert error == "error: ext.yaml: kind external but values.mode 'model'"
    assert fake.get_object("Deployment", NAME, NS) is not None and fake.get_object("PersistentVolumeClaim", NAME, NS)
    assert fake.get_object("Deployment", "ext", NS) is None and fake.get_object("PersistentVolumeClaim", "ext", NS) \
        is None
    assert helm_history(NAME) == [(1, "deployed")] and helm_history("ext") == [(1, "deployed")]


def test_sync_checks_a_model_files_values_against_the_schema_before_applying(offline: None, tmp_path: Path) -> None:
    """Before: a model file's values were checked for planner-owned keys only; `storage: {accessMode: Sometimes}`
    passed `sync --dry-run` (the merge request's check: exit 8) and the real sync applied the files before it, then
    stopped with a schema error naming no file. Files are read before the cluster is asked, so this runs offline."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "a.yaml").write_text("kind: model\nname: a\nmodel: Qwen/Qwen3-8B\nflags: {gpu: L40}\n")
    (folder / "b.yaml").write_text("kind: model\nname: b\nmodel: Qwen/Qwen3-8B\n"
                                   "values: {storage: {accessMode: Sometimes}}\n")
    error, _ = one_error(run("sync", str(folder), "--dry-run"), 2)
    assert error.startswith("error: b.yaml: values: storage.accessMode: 'Sometimes' is not one of ['ReadWriteOnce'")


def test_sync_plans_every_changed_model_before_applying_any(fake: FakeApiServer, tmp_path: Path) -> None:
    """Before: a model file with `flags: {gpu: NOPE}` (or a model id that does not exist) passed `sync --dry-run`
    (exit 8, 'would add'), and the real sync installed the files before it, then stopped at it: half a sync. Every
    model to add or upgrade is now planned first; the error names the file and keeps the planner's exit code."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "a.yaml").write_text("kind: model\nname: a\nmodel: Qwen/Qwen3-8B\nflags: {gpu: L40}\n")
    (folder / "b.yaml").write_text("kind: model\nname: b\nmodel: Qwen/Qwen3-8B\nflags: {gpu: NOPE}\n")
    for args in (["--dry-run"], []):
        error, _ = one_error(kllm("sync", str(folder), *args, code=4), 4)
        assert error.startswith("error: b.yaml: unknown GPU type 'NOPE'"), error
    (folder / "b.yaml").write_text("kind: model\nname: b\nmodel: no-such-org/no-such-model\n")
    error, _ = one_error(kllm("sync", str(folder), code=3), 3)
    assert error.startswith("error: b.yaml: no-such-org/no-such-model is neither in the local Hugging Face cache")
    assert fake.get_object("Deployment", "a", NS) is None and fake.objects("owner=helm", namespace=NS) == []


@pytest.mark.parametrize(("name", "body", "message"), [
    ("a.yaml", b"\xff\xfe kind: model", "a.yaml: not UTF-8 text"),
    ("a.yaml", None, "a.yaml: cannot read it: Is a directory"),
    ("a.yaml", b"kind: model\nname: a\nmodel: Qwen/Qwen3-8B\nflags: {gpus: [1, 2]}\n",
     "a.yaml: flags.gpus: [1, 2] is not a single value"),
    ("a.yaml", b"kind: model\nname: a\nmodel: Qwen/Qwen3-8B\nvalues: {podAnnotations: &x {a: *x}}\n",
     "a.yaml: values.podAnnotations.a contains itself (a YAML alias inside its own anchor)"),
    ("a.yaml", b"kind: model\nname: a\nmodel: Qwen/Qwen3-8B\nvalues: {a: " + b"[" * 2000 + b"]" * 2000 + b"}\n",
     "a.yaml: nested more than 64 levels deep"),
    ("a.yaml", b"kind: model\nname: a\nmodel: Qwen/Qwen3-8B\nsource: 5\n", "a.yaml: source must be a path"),
])
def test_sync_files_that_are_no_records_are_usage_errors(offline: None, tmp_path: Path, name: str,
                                                          body: bytes | None, message: str) -> None:
    """Before: each of these was exit 70 ('this is a bug in kubectl llm': UnicodeDecodeError, IsADirectoryError,
    TypeError from the flag's type, RecursionError), or (source: 5) accepted and crashed the re-plan."""
    folder = tmp_path / "models"
    folder.mkdir()
    if body is None:
        (folder / name).mkdir()
    else:
        (folder / name).write_bytes(body)
    error, _ = one_error(run("sync", str(folder), "--dry-run"), 2)
    assert error.startswith(f"error: {message}"), error


# --- values files, site files, model files: never exit 70 ---------------------------------------------------------
def test_a_values_file_is_read_as_helm_reads_it(offline: None, tmp_path: Path) -> None:
    """Before: an unquoted date (`podAnnotations: {deployed: 2024-05-01}`, as Helm reads it: the string
    "2024-05-01") was exit 70 'Object of type date is not JSON serializable'; an anchor that contains itself and a
    few thousand nested brackets were exit 70 too (ValueError: Circular reference, RecursionError); a file that is
    not UTF-8 text was exit 70 (UnicodeDecodeError)."""
    dated = tmp_path / "dated.yaml"
    dated.write_text("podAnnotations: {deployed: 2024-05-01}\n")
    ok = run("add", MODEL, "--dry-run=client", "-o", "yaml", "-f", str(dated))
    assert ok.exit_code == 0, ok.stderr
    deployment = next(o for o in yaml.safe_load_all(ok.stdout) if o and o["kind"] == "Deployment")
    assert deployment["spec"]["template"]["metadata"]["annotations"]["deployed"] == "2024-05-01"
    for body, message in ((b"podAnnotations: &x {a: *x}\n", "podAnnotations.a contains itself"),
                          (b"podAnnotations: {a: " + b"[" * 3000 + b"]" * 3000 + b"}\n", "nested more than 64"),
                          (b"podAnnotations: {a: !!binary aGk=}\n", "podAnnotations.a: a YAML bytes (!!binary value)"),
                          (b"\xff\xfe\x00", "is not UTF-8 text")):
        path = tmp_path / "bad.yaml"
        path.write_bytes(body)
        for args in (["add", MODEL, "--dry-run=client"], ["gateway", "install", "--dry-run=client"]):
            error, hint = one_error(run(*args, "-f", str(path)), 2)
            assert message in error and hint.startswith("hint: fix the file"), error


def test_a_set_index_above_helms_limit_is_refused_at_once(offline: None) -> None:
    """Before: `--set imagePullSecrets[99999999].name=x` (a typo) built a list of 100 million entries and checked
    each against the schema (more than 20 minutes on the dev machine); [70000] built 70000 entries, then the schema
    named entry 0, not the index. Helm itself refuses an index above 65536 (strvals.MaxIndex)."""
    error, hint = one_error(run("add", MODEL, "--dry-run=client", "--set", "imagePullSecrets[70000].name=x"), 2)
    assert error == "error: --set imagePullSecrets[70000].name: index 70000 is above the largest Helm takes " \
                    "(65536)"


def test_a_site_file_that_is_not_utf8_or_not_data_is_a_site_error(offline: None, tmp_path: Path) -> None:
    """Before: a site file saved in another encoding was exit 70 (UnicodeDecodeError) on plan, add, gpus, site
    show and gateway install; `name: 2024-01-01` was refused as 'datetime.date(2024, 1, 1) is not of type string'."""
    site = tmp_path / "site.yaml"
    site.write_bytes(b"\xff\xfename: x\n")
    for args in (["plan", MODEL], ["site", "show"], ["gpus"], ["gateway", "install", "--dry-run=client"]):
        error, _ = one_error(run(*args, "--site", str(site)), 2)
        assert error == f"error: site file {site} is not UTF-8 text"
    site.write_text("name: 2024-01-01\n")
    shown = run("site", "show", "--site", str(site), "-o", "json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["name"] == "2024-01-01"


def test_a_config_json_nested_thousands_deep_is_a_bad_config(offline: None, tmp_path: Path) -> None:
    """Before: config.json (or the safetensors index, or a shard's header) of a few thousand nested brackets was
    exit 70 (RecursionError from json) on plan and add: a corrupt file, the model source's error (exit 3)."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("[" * 5000 + "]" * 5000)
    for args in (["plan", str(model)], ["add", str(model), "--model-id", MODEL, "--dry-run=client"]):
        error, hint = one_error(run(*args), 3)
        assert "is not a model config (JSON nested thousands of levels deep)" in error
    (model / "config.json").write_text(json.dumps(json.loads(QWEN3_8B.read_text())["config"]))
    deep = b"[" * 5000 + b"]" * 5000
    (model / "model.safetensors").write_bytes(struct.pack("<Q", len(deep)) + deep)
    error, _ = one_error(run("plan", str(model)), 3)
    assert error == "error: model.safetensors has a malformed safetensors header"


@pytest.mark.parametrize("url", ["http://[::1", "http://10.0.0.1:99999", "https://[fe80::1"])
def test_a_url_python_cannot_split_is_a_usage_error(offline: None, url: str) -> None:
    """Before: `test NAME --url http://[::1` (an unclosed IPv6 bracket) was exit 70 'unexpected ValueError:
    Invalid IPv6 URL', and `add --external https://[fe80::1` likewise."""
    error, _ = one_error(run("test", NAME, "--url", url), 2)
    assert error == f"error: --url {url!r} is not an http(s) URL"
    error, _ = one_error(run("add", "--external", url.replace("http://", "https://"), "--served-name", "x/y",
                             "--name", "ext"), 2)
    assert "is not an http(s) URL" in error or "ports are" in error or "Port out of range" in error


# --- failed upgrades: the previous revision intact, no bogus revision -------------------------------------------
def test_values_the_chart_refuses_on_upgrade_add_no_revision_and_are_a_usage_error(fake: FakeApiServer) -> None:
    """Before: `upgrade NAME --set storage.existingClaim=c,storage.keep=true` (a combination the chart's own check
    refuses when it renders) was exit 6 'cluster/helm', and the undo rolled back a release helm had never changed:
    revision 2 'Rollback to 1', a revision for nothing (each such typo one more). Now exit 2 and no revision."""
    kllm("add", MODEL, "--gpu", "L40")
    result = kllm("upgrade", NAME, "--set", "storage.existingClaim=shared,storage.keep=true", code=2)
    error, hint = one_error(result, 2)
    assert error == "error: the chart did not render: llm-model: invalid values: storage.keep only applies to the " \
                    "PVC this chart creates; it has no effect with storage.existingClaim (nothing was applied)"
    assert helm_history(NAME) == [(1, "deployed")]
    kllm("gateway", "install")
    one_error(kllm("gateway", "upgrade", "--set", "auth.type=apiKey", code=2), 2)
    assert helm_history("llm-gateway") == [(1, "deployed")]


def test_an_upgrade_whose_undo_fails_points_at_rollback_not_rm(fake: FakeApiServer) -> None:
    """Before: an upgrade refused by the API server whose own undo (the rollback) was refused too ended with "run
    'kubectl llm rm qwen3-8b'": removing the model, its weights PVC with it, to repair an upgrade."""
    kllm("add", MODEL, "--gpu", "L40")
    fake.fail("apply", "Service")     # an admission rule refusing the Service, on the upgrade and on its undo
    result = kllm("upgrade", NAME, "--context-length", "16384", code=6)
    error, _ = one_error(result, 6)
    assert "undoing it failed too" in error and f"run 'kubectl llm rollback {NAME} 1 -n {NS}'" in error
    assert "kubectl llm rm" not in result.stderr


def test_a_timed_out_wait_does_not_claim_a_clean_rollback(fake: FakeApiServer) -> None:
    """Before: `upgrade --wait` timing out said 'UPGRADE FAILED: an error occurred while rolling back the release
    ... (helm rolled the release back)': Helm's rollback shares the timeout that ran out, re-applies the previous
    revision but cannot wait for it and records it as failed. The message said the opposite of helm's."""
    kllm("add", MODEL, "--gpu", "L40")
    fake.pod_mode = "unschedulable"   # the upgrade's pod, and the rolled-back one, never become ready
    result = kllm("upgrade", NAME, "--context-length", "16384", "--wait", "--timeout", "5s", code=6)
    error, _ = one_error(result, 6)
    assert "(helm rolled the release back)" not in error
    assert "re-applied the previous revision, but its rollback ran out of the same --timeout and is recorded as " \
           f"failed: 'kubectl llm status {NAME} -n {NS}' shows whether it serves again)" in error
    dep = fake.get_object("Deployment", NAME, NS)
    assert dep is not None and "16384" not in json.dumps(dep["spec"]["template"]["spec"]["containers"][0]["args"])
