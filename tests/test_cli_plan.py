"""`kubectl llm plan` through click's runner: formats, the issue-2 JSON contract, exit codes, error lines."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from kubectl_llm.cli.main import cli

from test_planner import CONTRACT  # the issue-2 JSON contract, written once


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("KUBECTL_LLM_DEBUG", raising=False)


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_plan_json_has_every_key_of_the_issue_2_contract():
    result = run("plan", "Qwen/Qwen3-8B", "--gpu", "L40", "-o", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["fits"] is True and isinstance(doc["reasons"], list) and isinstance(doc["warnings"], list)
    for section, keys in CONTRACT.items():
        assert keys <= set(doc[section]), f"{section} lacks {keys - set(doc[section])}"
    assert isinstance(doc["parallelism"]["expert"], bool)
    # Qwen3-8B config: 36 layers, 8 KV heads, head_dim 128, bf16 KV on one GPU (TP 1):
    # 36 x 2 (K and V) x 8 x 128 x 2 bytes = 147456 bytes per token.
    assert doc["gpu"]["type"] == "L40" and doc["gpu"]["count"] == 1
    assert doc["memory"]["kv_bytes_per_token"] == 36 * 2 * 8 * 128 * 2 == 147456
    assert doc["serving"]["max_model_len"] == 40960          # config.json max_position_embeddings
    assert doc["route"]["name"] == "qwen3-8b"
    assert doc["serving"]["args"][doc["serving"]["args"].index("--max-model-len") + 1] == "40960"


def test_plan_states_its_margin_and_passes_max_num_batched_tokens():
    """-o json carries memory.margin_bytes (0.5 GiB for a small dense model) and the overhead parts; the text output
    prints the overhead line; --max-num-batched-tokens sizes the profile and reaches vLLM's command line."""
    doc = json.loads(run("plan", "Qwen/Qwen3-8B", "--gpu", "L40", "--max-num-batched-tokens", "4096",
                         "-o", "json").stdout)
    assert doc["memory"]["margin_bytes"] == 2 ** 29
    assert doc["memory"]["overhead"]["max_num_batched_tokens"] == 4096
    args = doc["serving"]["args"]
    assert args[args.index("--max-num-batched-tokens") + 1] == "4096"
    text = run("plan", "Qwen/Qwen3-8B", "--gpu", "L40").stdout
    assert "safety margin 512 MiB" in text and "CUDA graphs" in text


def test_plan_yaml_is_the_same_document_as_json():
    as_json = json.loads(run("plan", "Qwen/Qwen3-8B", "--gpu", "L40", "-o", "json").stdout)
    result = run("plan", "Qwen/Qwen3-8B", "--gpu", "L40", "-o", "yaml")
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout) == as_json


def test_plan_text_is_a_table_with_reasons():
    result = run("plan", "Qwen/Qwen3-8B", "--gpu", "L40")
    assert result.exit_code == 0, result.stderr
    assert "fits" in result.stdout and "yes" in result.stdout
    assert "147456 B/token/GPU" in result.stdout          # same number as the JSON test, in the table
    assert "L40" in result.stdout


def test_plan_that_does_not_fit_prints_its_document_and_exits_5():
    # 15.3 GiB of bf16 weights cannot sit on one 8 GiB card.
    result = run("plan", "Qwen/Qwen3-8B", "--gpu-memory", "8GiB", "--gpus", "1", "-o", "json")
    assert result.exit_code == 5
    doc = json.loads(result.stdout)                         # stdout is still the whole document
    assert doc["fits"] is False and doc["gpu"]["memory_bytes"] == 8 * 2**30
    assert result.stderr.startswith("error: Qwen/Qwen3-8B does not fit (")
    assert "hint: " in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args,code,message", [
    (["--name", "Qwen3_8B"], 2, "error: name 'Qwen3_8B' is not a DNS-1123 label"),
    (["--name", "a" * 54], 2, "is 54 characters long; Helm allows at most 53"),
    (["--gpu-memory", "80XB"], 2, "error: unknown size unit in '80XB'"),
    (["--gpu-memory", "lots"], 2, "error: cannot read size 'lots'"),
    (["--gpu", "L40", "--gpu-memory", "48GiB"], 2, "error: --gpu and --gpu-memory are mutually exclusive"),
    (["--context", "65536", "--max-model-len", "8192"], 2, "are mutually exclusive"),
    (["--gpu", "XYZ"], 4, "error: unknown GPU type 'XYZ'"),
])
def test_bad_plan_inputs_give_one_error_line_a_hint_and_their_exit_code(args, code, message):
    result = run("plan", "Qwen/Qwen3-8B", *args)
    assert result.exit_code == code, result.stderr
    assert message in result.stderr.splitlines()[0]
    assert result.stderr.splitlines()[1].startswith("hint: ")
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_unknown_model_offline_is_model_not_found():
    result = run("plan", "no-org/no-such-model")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: no-org/no-such-model")
    assert "hint: " in result.stderr and "Traceback" not in result.stderr


def test_unreachable_hub_is_its_own_error(monkeypatch, tmp_path):
    # A closed local port stands for the Hub: connection refused at once, no network needed.
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    result = run("plan", "no-org/no-such-model")
    assert result.exit_code == 3
    assert "cannot reach the Hugging Face Hub" in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr


def test_click_usage_errors_keep_exit_2():
    result = run("plan")
    assert result.exit_code == 2 and "Missing argument 'MODEL'" in result.stderr
    result = run("plan", "Qwen/Qwen3-8B", "-o", "xml")
    assert result.exit_code == 2


def test_debug_shows_the_traceback_only_when_asked(monkeypatch):
    plain = run("plan", "Qwen/Qwen3-8B", "--gpu", "XYZ")
    assert "Traceback" not in plain.stderr
    debug = run("--debug", "plan", "Qwen/Qwen3-8B", "--gpu", "XYZ")
    assert debug.exit_code == 4 and "Traceback (most recent call last)" in debug.stderr
    monkeypatch.setenv("KUBECTL_LLM_DEBUG", "1")
    assert "Traceback" in run("plan", "Qwen/Qwen3-8B", "--gpu", "XYZ").stderr


def test_an_unexpected_exception_is_one_line_not_a_traceback(monkeypatch):
    import kubectl_llm.cli.plan_cmd as plan_cmd

    def boom(*_a, **_k):
        raise KeyError("surprise")

    monkeypatch.setattr(plan_cmd, "make_plan", boom)
    result = run("plan", "Qwen/Qwen3-8B")
    assert result.exit_code == 70
    assert result.stderr.splitlines()[0] == "error: unexpected KeyError: 'surprise'"
    assert "Traceback" not in result.stderr
