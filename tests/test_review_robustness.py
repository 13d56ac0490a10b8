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
QWEN3_8B = Path(__file__).resolve().parents[2] / "shared" / "models" / "Qwen__Qwen3-8B" / "config.json"


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


# --- sync: nothing applied from a folder that cannot be applied ----------------------------------------------------


# --- values files, site files, model files: never exit 70 ---------------------------------------------------------


# --- failed upgrades: the previous revision intact, no bogus revision -------------------------------------------
