"""`--engine-arg`: the admin's own engine flags after the planned ones. Before it, an admin could add no engine flag
at all (`engine.args` is planner-owned, `--set engine.args` is refused): not the chat template vLLM's tool-calling
docs run the DeepSeek-V3 parser with, not a parser the plan got wrong, not --limit-mm-per-prompt. Each test here
fails before the flag existed (no such option: exit 2 'No such option')."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubectl_llm.errors import UsageError
from kubectl_llm.planner.engine_args import apply_engine_args, flag_key
from tests.cli_harness import cli_cluster, kllm
from tests.test_planner import plan

TEMPLATE = "--chat-template=/vllm-workspace/examples/tool_chat_template_deepseekv3.jinja"


@pytest.mark.parametrize(("token", "key"), [
    ("--max-model-len", "--max-model-len"), ("--max_model_len=4096", "--max-model-len"),
    ("-tp", "--tensor-parallel-size"), ("--tp-size", "--tensor-parallel-size"),       # vLLM / SGLang aliases
    ("--context-length", "--max-model-len"), ("--max-running-requests", "--max-num-seqs"),
    ("--no-enable-prefix-caching", "--enable-prefix-caching"), ("deepseek_v3", None), ("-1", None),
])
def test_flag_key_reads_flags_as_the_engines_parsers_do(token: str, key: str | None) -> None:
    assert flag_key(token) == key


def test_a_planned_flag_given_again_is_replaced_with_its_value() -> None:
    planned = ["--tensor-parallel-size", "1", "--enable-prefix-caching", "--enable-auto-tool-choice",
               "--tool-call-parser", "hermes", "--reasoning-parser", "qwen3"]
    args, reasons, warnings = apply_engine_args(planned, ["--tool-call-parser=qwen3_coder", "--no-enable-prefix-caching"])
    assert args == ["--tensor-parallel-size", "1", "--enable-auto-tool-choice", "--reasoning-parser", "qwen3",
                    "--tool-call-parser=qwen3_coder", "--no-enable-prefix-caching"]
    assert reasons == ["engine arguments added by --engine-arg: --tool-call-parser=qwen3_coder "
                       "--no-enable-prefix-caching (replacing the planned --enable-prefix-caching, --tool-call-parser)"]
    assert len(warnings) == 1 and "not what they cost in memory" in warnings[0]
    # nothing added: the planned args untouched, no reason, no warning
    assert apply_engine_args(planned, []) == (planned, [], [])


@pytest.mark.parametrize(("extra", "message", "hint"), [
    (["--max-model-len=1000"], "--engine-arg --max-model-len: the plan decides this flag",
     "set it with --context-length or --max-model-len"),
    (["-tp", "2"], "--engine-arg -tp: the plan decides --tensor-parallel-size", "set it with --tp"),
    (["--gpu_memory_utilization", "0.8"], "--engine-arg --gpu_memory_utilization: the plan decides "
     "--gpu-memory-utilization", "set it with --gpu-memory-utilization"),
    (["--port=8000"], "--engine-arg --port: the plan decides this flag",
     "it cannot be changed: the chart's Service and probes use the planned port"),
    (["deepseek_v3"], "--engine-arg 'deepseek_v3' is a value with no flag before it", "give the flag first"),
])
def test_a_flag_the_plan_sizes_is_refused_with_the_flag_that_sets_it(extra: list[str], message: str,
                                                                     hint: str) -> None:
    with pytest.raises(UsageError) as err:
        apply_engine_args(["--tensor-parallel-size", "1"], extra)
    assert err.value.message == message and err.value.hint.startswith(hint)


def test_the_plan_appends_them_for_leader_and_workers_and_says_so() -> None:
    p = plan("deepseek-ai/DeepSeek-V3", gpu_type="H200", engine_args=(TEMPLATE,))
    assert p.args[-1] == TEMPLATE and p.args.count(TEMPLATE) == 1
    assert "--tool-call-parser" in p.args            # the planned parser stays; the template is added
    assert f"engine arguments added by --engine-arg: {TEMPLATE}" in p.reasons
    # a model spanning nodes: every pod of the group runs with them (vLLM needs the same engine config everywhere)
    multi = plan("meta-llama/Llama-3.1-405B", gpu_type="H100-80GB", engine_args=("--enable-log-requests",))
    assert multi.to_dict()["gpu"]["nodes"] == 2
    assert "--enable-log-requests" in multi.args and "--enable-log-requests" in multi.worker_args
    # a forbidden one stops the plan before any sizing
    with pytest.raises(UsageError):
        plan("Qwen/Qwen3-8B", engine_args=("--max-num-seqs=1024",))


def test_cli_plan_refuses_a_sized_flag_with_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = kllm("plan", "Qwen/Qwen3-8B", "--engine-arg=--kv-cache-dtype=fp8", code=2)
    assert res.stderr == ("error: --engine-arg --kv-cache-dtype: the plan decides this flag\n"
                          "hint: set it with --kv-cache-dtype\n")


def _args(api, name: str = "deepseek-v3", ns: str = "llm") -> list[str]:
    return api.get_object("Deployment", name, ns)["spec"]["template"]["spec"]["containers"][0]["args"]


def test_add_stores_them_upgrade_keeps_them_forget_drops_them_and_sync_reads_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with cli_cluster(tmp_path, monkeypatch) as api:
        kllm("add", "deepseek-ai/DeepSeek-V3", "--gpu", "H200", "--engine-arg", TEMPLATE)
        assert _args(api)[-1] == TEMPLATE
        status = json.loads(kllm("status", "deepseek-v3", "-o", "json").stdout)
        assert status["user"]["flags"]["engine-arg"] == [TEMPLATE]
        # an upgrade for something else keeps them (the user layer), a new list replaces the stored one
        kllm("upgrade", "deepseek-v3", "--context-length", "32768")
        assert _args(api)[-1] == TEMPLATE
        kllm("upgrade", "deepseek-v3", "--engine-arg", "--tool-call-parser", "--engine-arg", "deepseek_v31")
        args = _args(api)
        assert args[-2:] == ["--tool-call-parser", "deepseek_v31"] and TEMPLATE not in args
        assert args.count("--tool-call-parser") == 1
        # export writes them, sync re-plans from the file
        folder = tmp_path / "models"
        kllm("export", str(folder))
        record = yaml.safe_load((folder / "deepseek-v3.yaml").read_text())
        assert record["flags"]["engine-arg"] == ["--tool-call-parser", "deepseek_v31"]
        record["flags"]["engine-arg"] = [TEMPLATE]
        (folder / "deepseek-v3.yaml").write_text(yaml.safe_dump(record))
        synced = kllm("sync", str(folder), code=8)    # 8: applied, with warnings (the --engine-arg one among them)
        assert "warning: --engine-arg --chat-template=" in synced.stderr
        assert _args(api)[-1] == TEMPLATE
        # --forget engine-arg: the plan's own arguments again
        kllm("upgrade", "deepseek-v3", "--forget", "engine-arg")
        assert not any(a.startswith("--chat-template") for a in _args(api))
        assert json.loads(kllm("status", "deepseek-v3", "-o", "json").stdout)["user"]["flags"].get("engine-arg") is None


def test_an_external_backend_refuses_them_by_their_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An external backend plans nothing: --engine-arg is a plan flag like the others (before the fix of the check
    an empty repeatable flag counted as given and every add --external was refused)."""
    with cli_cluster(tmp_path, monkeypatch) as api:
        kllm("add", "--external", "https://llm.example.org/v1", "--served-name", "org/m", "--name", "ext")
        res = kllm("add", "--external", "https://llm.example.org/v1", "--served-name", "org/m", "--name", "ext2",
                   "--engine-arg=--chat-template=/t.jinja", code=2)
        assert res.stderr.startswith("error: --engine-arg plans a model; --external serves none here\n")
        assert api.get_object("AIServiceBackend", "ext2", "llm") is None
