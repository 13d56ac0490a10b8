"""Review leftovers: SGLang plans speak SGLang (no vLLM flag, env or engine claim), SGLang's
--max-running-requests is global under DP attention, the "one node is not enough" reason quotes no utilisation
the plan does not use, and the `-o json` keys README lists are the keys the commands emit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kubectl_llm.cli.main import cli
from kubectl_llm.planner.gpus import find_gpu
from kubectl_llm.planner.rules import DEFAULT_UTILIZATION
from kubectl_llm.planner.quantity import human
from tests.test_cli_status import NS, starting_pod  # noqa: F401 - fixture
from tests.test_helm_contract import fake_helm  # noqa: F401 - fixture
from tests.test_planner import plan

README = Path(__file__).resolve().parent.parent / "README.md"

# vLLM's own flags and environment (the SGLang command has other names for each: --mem-fraction-static,
# --max-running-requests, --chunked-prefill-size, --disable-cuda-graph, --tp-size, --dp-size, ...)
VLLM_ONLY = ("--gpu-memory-utilization", "gpu-memory-utilization", "--max-num-seqs", "max-num-seqs",
             "--max-num-batched-tokens", "max-num-batched-tokens", "--enforce-eager", "VLLM_",
             "--tensor-parallel-size", "--pipeline-parallel-size", "--data-parallel-size",
             "--enable-expert-parallel", "--hf-overrides", "--max-model-len ", "(1 - utilisation)")
# where an SGLang plan may still say "vLLM": the evidence the memory model is calibrated on, the sources a
# family's parsers were read from, and the pointer to the other engine
VLLM_WORD_ALLOWED = ("calibrated on vLLM start-up logs", "vLLM's tool-calling docs", "--engine vllm")

SGLANG_CASES = [
    ("openai/gpt-oss-20b", "A10"),            # MXFP4 experts padded below Blackwell
    ("openai/gpt-oss-20b", "L40"),
    ("moonshotai/Kimi-K2-Instruct", "H100-80GB"),     # 2 nodes
    ("moonshotai/Kimi-K2-Instruct", "A100-80GB"),     # FP8 on a card without native FP8
    ("Qwen/Qwen3-32B", "L40"),                # dense
    ("Qwen/Qwen3-32B-FP8", "A6000"),          # FP8 weights through Marlin
    ("deepseek-ai/DeepSeek-V3", "H100-80GB"),
]


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def _vllm_words(text: str) -> list[str]:
    """Mentions of vLLM flags / env, and of "vLLM" outside the allowed phrases, in one line of an SGLang plan."""
    found = [flag for flag in VLLM_ONLY if flag in text]
    rest = text
    for ok in VLLM_WORD_ALLOWED:
        rest = rest.replace(ok, "")
    if "vLLM" in rest:
        found.append("vLLM")
    return found


@pytest.mark.parametrize("model,gpu", SGLANG_CASES)
def test_sglang_plan_names_no_vllm_flag_env_or_engine(model, gpu):
    res = _invoke("plan", model, "--gpu", gpu, "--engine", "sglang", "-o", "json")
    assert res.exit_code in (0, 5), res.output
    d = json.loads(res.stdout)
    s = d["serving"]
    lines = (d["reasons"] + d["warnings"] + s["args"] + s["worker_args"] + s["worker_command"]
             + [f"{e['name']}={e['value']}" for e in s["env"]] + res.stderr.splitlines())
    bad = {line: _vllm_words(line) for line in lines if _vllm_words(line)}
    assert not bad, bad
    text = _invoke("plan", model, "--gpu", gpu, "--engine", "sglang")
    bad = {line: _vllm_words(line) for line in text.stdout.splitlines() + text.stderr.splitlines()
           if _vllm_words(line)}
    assert not bad, bad
    assert "--mem-fraction-static" in s["args"] and "--max-running-requests" in s["args"]


def test_sglang_mxfp4_and_fp8_lines_name_sglang_and_vllm_keeps_its_own():
    sg = plan("openai/gpt-oss-20b", gpu_type="A10", engine="sglang")
    mx = [r for r in sg.reasons if r.startswith("MXFP4 experts held")]
    assert mx and "Marlin" not in mx[0] and "SGLang's experts at that padded size" in mx[0]
    vl = plan("openai/gpt-oss-20b", gpu_type="A10")
    assert any("below Blackwell vLLM runs them through Marlin" in r for r in vl.reasons)
    fp8 = plan("Qwen/Qwen3-32B-FP8", gpu_type="A6000", engine="sglang")
    assert ("A6000 (compute 8.6) has no native FP8: SGLang runs the FP8 weights through Marlin weight-only kernels "
            "(works, slower prefill)") in fp8.warnings
    # one parser line with the names SGLang is given (gpt-oss / gpt-oss), not vLLM's (openai / -) beside it
    assert [r for r in sg.reasons if "parsers" in r or "names for" in r] == [
        "SGLang names for the gpt_oss family: tool-call gpt-oss, reasoning gpt-oss"]


def test_sglang_text_overhead_line_speaks_mem_fraction_static():
    res = _invoke("plan", "openai/gpt-oss-20b", "--gpu", "L40", "--engine", "sglang")
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("overhead "))
    assert line.endswith("outside --mem-fraction-static too") and "utilisation" not in line


def test_sglang_dcp_is_one_usage_error():
    res = _invoke("plan", "deepseek-ai/DeepSeek-V3", "--gpu", "H100-80GB", "--engine", "sglang", "--dcp", "8")
    assert res.exit_code == 2
    assert res.stderr.splitlines() == ["error: --dcp 8: SGLang has no decode-context-parallel",
                                       "hint: drop --dcp, or plan with --engine vllm"]


def test_sglang_max_running_requests_is_global_under_dp_attention():
    """SGLang divides --max-running-requests by dp_size when --enable-dp-attention is on (TpModelWorker), so a DP
    plan passes per-rank sequences x DP ranks; vLLM's --max-num-seqs is per DP rank."""
    sg = plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=16, engine="sglang")
    d = sg.to_dict()
    dp, per_rank_tokens = d["parallelism"]["data"], d["memory"]["kv_cache_tokens_per_dp_rank"]
    assert dp == 16
    per_rank = max(8, min(256, 1 << ((per_rank_tokens // 2048).bit_length() - 1)))   # the 2K-a-sequence rule
    assert d["serving"]["max_num_seqs"] == per_rank
    args = d["serving"]["args"]
    assert "--enable-dp-attention" in args and args[args.index("--dp-size") + 1] == "16"
    assert int(args[args.index("--max-running-requests") + 1]) == per_rank * 16 == d["serving"]["max_running_requests"]
    for worker in (d["serving"]["worker_args"],):
        if "--max-running-requests" in worker:
            assert int(worker[worker.index("--max-running-requests") + 1]) == per_rank * 16
    assert any(r.startswith(f"max-running-requests {per_rank * 16} = {per_rank} per DP rank x 16") for r in sg.reasons)
    text = _invoke("plan", "deepseek-ai/DeepSeek-V3", "--gpu", "H100-80GB", "--data-parallel", "16",
                   "--engine", "sglang").stdout
    assert f"max-running-requests {per_rank * 16}, mem-fraction-static" in text
    # without DP the flag is the plan's count; vLLM's is per rank, and vLLM plans have no SGLang keys
    one = plan("Qwen/Qwen3-8B", gpu_type="L40", engine="sglang").to_dict()["serving"]
    assert one["max_running_requests"] == one["max_num_seqs"] == int(one["args"][one["args"].index(
        "--max-running-requests") + 1])
    vl = plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=16).to_dict()["serving"]
    assert int(vl["args"][vl["args"].index("--max-num-seqs") + 1]) == vl["max_num_seqs"]
    assert vl["max_running_requests"] is None and vl["mem_fraction_static"] is None


@pytest.mark.parametrize("model,gpu", [("moonshotai/Kimi-K2-Instruct", "H100-80GB"),
                                       ("deepseek-ai/DeepSeek-V3", "A100-80GB"),
                                       ("meta-llama/Llama-3.1-405B", "H100-80GB")])
def test_one_node_reason_quotes_no_other_utilisation_than_the_plans(model, gpu):
    p = plan(model, gpu_type=gpu)
    d = p.to_dict()
    util = d["serving"]["gpu_memory_utilization"]
    (line,) = [r for r in p.reasons if r.startswith(f"one node (8 x {gpu}) is not enough: ")]
    quoted = [float(x) for x in re.findall(r"\b(0\.\d\d) x ", line)]
    for u in quoted:      # a layout whose utilisation was lowered says so, from the default the plan starts at
        assert u == util or f"the utilisation lowered from {DEFAULT_UTILIZATION}" in line, line
    memory = human(find_gpu(gpu).memory_bytes)
    if not quoted:        # the weights alone exceed the card: no utilisation to quote
        assert line.endswith(f"per GPU exceed the {memory} of one {gpu}"), line


# --- the -o json keys README documents ------------------------------------------------------------------------
def _parse_keys(spec: str) -> dict[str, object]:
    """'a, b: {c, d}, e: [{f, g: [{h}]}]' -> {'a': None, 'b': {'c': None, 'd': None}, 'e': {'f': None, 'g': {...}}}
    (a list of objects is described by its items' keys)."""
    pos = 0

    def parse() -> dict[str, object]:
        nonlocal pos
        out: dict[str, object] = {}
        while pos < len(spec):
            m = re.compile(r"\s*([a-z_]+)\s*").match(spec, pos)
            assert m, spec[pos:]
            key, pos = m.group(1), m.end()
            sub = None
            if spec.startswith(":", pos):
                m2 = re.compile(r":\s*(\[?)\{").match(spec, pos)
                assert m2, spec[pos:]
                listed, pos = bool(m2.group(1)), m2.end()
                sub = parse()
                assert spec.startswith("}", pos), spec[pos:]
                pos += 1 + listed
            out[key] = sub
            m3 = re.compile(r"\s*,").match(spec, pos)
            if not m3:
                break
            pos = m3.end()
        return out
    return parse()


def _documented(section: str) -> dict[str, object]:
    """The keys README's '-o json|yaml for scripts' bullet gives after ``section`` (up to the next command)."""
    text = README.read_text()
    bullet = text[text.index("- **-o json|yaml for scripts**"):]
    bullet = bullet[:bullet.index("\n- **")]
    start = bullet.index(section)
    marks = ("`list -o json`", "`status NAME -o json`", "`plan -o json`", "`add`, `upgrade`, `alias`")
    nxt = [bullet.index(s, start + 1) for s in marks if s in bullet[start + 1:]]
    body = re.sub(r"\s*\n\s*", " ", bullet[start:min(nxt) if nxt else len(bullet)])
    body = body[body.index(":") + 1:]
    body = body.split(". ")[0]               # the keys; what follows explains some of them
    keys = [k for k in re.findall(r"`([^`]+)`", body) if not k.startswith("-") and "." not in k]
    return _parse_keys(", ".join(keys))


def _same_keys(doc: object, spec: dict[str, object], where: str = "") -> None:
    if isinstance(doc, list):
        for item in doc:
            _same_keys(item, spec, where + "[]")
        return
    assert isinstance(doc, dict), where
    assert set(doc) == set(spec), (where, sorted(set(doc) ^ set(spec)))
    for key, sub in spec.items():
        if sub is not None and doc[key] not in (None, []):
            _same_keys(doc[key], sub, f"{where}.{key}")


def test_readme_lists_the_keys_status_and_list_emit(fake_helm, starting_pod):  # noqa: F811
    assert _invoke("add", "Qwen/Qwen3-8B", "-n", NS).exit_code == 0
    status = _invoke("status", "qwen3-8b", "-n", NS, "-o", "json")
    assert status.exit_code == 0, status.stderr
    doc = json.loads(status.stdout)
    assert doc["pods"][0]["events"] and doc["engine"] and doc["failing"]     # every nested object is there
    _same_keys(doc, _documented("`status NAME -o json`"))
    rows = json.loads(_invoke("list", "-n", NS, "-o", "json").stdout)
    assert rows and rows[0]["replicas"] and rows[0]["gpu"]
    _same_keys(rows, _documented("`list -o json`"))
    # list and status spell the chart alike: Helm's NAME-VERSION and the version
    assert rows[0]["chart"] == doc["release"]["chart"] == f"llm-model-{doc['release']['chart_version']}"
    assert rows[0]["chart_version"] == doc["release"]["chart_version"]
    added = json.loads(_invoke("add", "Qwen/Qwen3-8B", "-n", NS, "-o", "json").stdout)
    assert added["action"] == "unchanged"
    _same_keys(added, _documented("`add`, `upgrade`, `alias`"))


def test_readme_lists_the_plan_top_level_keys():
    doc = plan("Qwen/Qwen3-8B", gpu_type="L40").to_dict()
    assert set(_documented("`plan -o json`")) == set(doc)
