"""Local directories and revisions (issue 9, item 5): what the pod is told to load is a repo id and revision it
can download, never a path on the admin's machine; `--revision` reaches the engine. Offline (`helm template`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from kubectl_llm.cli.main import cli

REPO = Path(__file__).parents[1]
QWEN = json.loads((REPO / "kubectl_llm" / "catalog" / "models" / "Qwen__Qwen3-8B.json").read_text())["config"]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


def model_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(QWEN))
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def rendered(*args: str) -> tuple[dict[str, dict], str]:
    result = run("add", *args, "-n", "llm", "--dry-run=client", "-o", "yaml")
    assert result.exit_code == 0, result.stderr
    objs = {o["kind"]: o for o in yaml.safe_load_all(result.stdout) if o}
    return objs, result.stdout


def engine_args(objs: dict[str, dict]) -> list[str]:
    return [str(a) for a in objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]]


def after(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


def test_a_local_directory_needs_the_repo_id_the_pod_loads(tmp_path: Path) -> None:
    """Before: `add ./dir` rendered this machine's path into --model, --served-model-name and the route."""
    model_dir(tmp_path / "qwen-local")
    result = run("add", "./qwen-local", "-n", "llm", "--dry-run=client")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ./qwen-local is a directory on this machine: the pod cannot load it")
    assert "hint: name the Hugging Face repo id the pod should download: --model-id ORG/NAME" in result.stderr

    objs, text = rendered("./qwen-local", "--model-id", "Qwen/Qwen3-8B")
    args = engine_args(objs)
    assert after(args, "--model") == "Qwen/Qwen3-8B" and after(args, "--served-model-name") == "Qwen/Qwen3-8B"
    assert objs["AIGatewayRoute"]["spec"]["rules"][0]["matches"][0]["headers"][0]["value"] == "qwen3-8b"
    assert str(tmp_path) not in text   # no path of this machine anywhere in the manifests


def test_a_repo_id_that_is_also_a_folder_here_stays_the_repo_id(tmp_path: Path) -> None:
    model_dir(tmp_path / "Qwen" / "Qwen3-8B")
    objs, text = rendered("Qwen/Qwen3-8B")
    assert after(engine_args(objs), "--model") == "Qwen/Qwen3-8B" and str(tmp_path) not in text


def test_model_id_is_checked() -> None:
    result = run("add", "Qwen/Qwen3-8B", "--model-id", "Other/Model", "--dry-run=client")
    assert result.exit_code == 2 and "--model-id is for a local directory" in result.stderr
    result = run("add", "./x", "--model-id", "not a repo", "--dry-run=client")
    assert result.exit_code == 2 and "is not a Hugging Face repo id" in result.stderr


@pytest.mark.parametrize(("engine", "expected"), [
    ("vllm", [("--revision", "0123abc"), ("--tokenizer-revision", "0123abc")]),
    ("sglang", [("--revision", "0123abc")]),
])
def test_revision_is_pinned_in_the_engine_args(engine: str, expected: list[tuple[str, str]]) -> None:
    """Before: --revision shaped the plan but the pod served the default branch."""
    objs, _ = rendered("Qwen/Qwen3-8B", "--revision", "0123abc", "--engine", engine)
    args = engine_args(objs)
    for flag, value in expected:
        assert after(args, flag) == value
    plain = engine_args(rendered("Qwen/Qwen3-8B", "--engine", engine)[0])
    assert "--revision" not in plain


def test_remote_code_also_pins_the_code_revision() -> None:
    """A model whose recipe trusts remote code loads that code from the same revision (vLLM --code-revision)."""
    import dataclasses

    from kubectl_llm.adapters.hub import load_model
    from kubectl_llm.planner import engine as eng
    from kubectl_llm.planner.plan import make_plan
    from kubectl_llm.planner.request import PlanRequest

    plan = make_plan(load_model("Qwen/Qwen3-8B"), PlanRequest(gpu_type="L40", revision="v1"))
    assert after(plan.args, "--revision") == "v1" and "--code-revision" not in plan.args  # no remote code
    settings = eng.EngineSettings(
        engine="vllm", model_id="org/m", served_name="org/m", tp=1, pp=1, dcp=1, dp=1, ep=False, max_model_len=4096,
        max_num_seqs=4, gpu_memory_utilization=0.9, hf_overrides=None, kv_cache_dtype="auto",
        recipe=dataclasses.replace(plan.recipe, trust_remote_code=True), revision="v1")
    assert after(eng.vllm_args(settings), "--code-revision") == "v1"
