"""How the pods of a LeaderWorkerSet group start (issue 11, second pass): DP + EP across any number of nodes (each
worker's --data-parallel-start-rank computed from LWS_WORKER_INDEX), the native vLLM launch and the Ray launch
(--launcher), the flags checked against vLLM's parser (tests/data/vllm_multinode_flags.yaml).

The rendered commands are run for real: the kubelet's $(VAR) expansion is applied (its documented rules) and the
result runs under /bin/sh with stand-ins for `vllm`, `ray` and `python3` that print what they were given."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kubectl_llm.cli.main import cli
from kubectl_llm.errors import UsageError
from kubectl_llm.planner import engine as eng
from kubectl_llm.planner.facts import checkpoint_shapes
from kubectl_llm.planner.memory import BLOCK_SIZE
from kubectl_llm.planner.weights import estimate_weights
from tests.cli_harness import offline_dry_run_env, render_dry_run as render
from tests.test_planner import plan, source

FLAGS = yaml.safe_load((Path(__file__).parent / "data" / "vllm_multinode_flags.yaml").read_text())
LEADER = "llm-deepseek-v3-0.llm-deepseek-v3.nrp-llm"


def kubelet_expand(text: str, env: dict[str, str]) -> str:
    """The kubelet's expansion of command/args: $(NAME) becomes the variable's value when NAME is defined (else it
    stays as written), $$ becomes $ (k8s third_party/forked/golang/expansion)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            if text[i + 1] == "$":
                out.append("$")
                i += 2
                continue
            if text[i + 1] == "(":
                j = text.find(")", i + 2)
                if j != -1:
                    name = text[i + 2:j]
                    out.append(env.get(name, text[i:j + 1]))
                    i = j + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


@pytest.fixture()
def stand_ins(tmp_path):
    """A bin directory with `vllm`, `ray` and `python3` that log their argv (one per line) and succeed."""
    if not shutil.which("sh"):
        pytest.skip("no /bin/sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name in ("vllm", "ray", "python3"):
        (bin_dir / name).write_text(f'#!/bin/sh\n{{ echo "== {name}"; printf "%s\\n" "$@"; }} >> "{log}"\n')
        (bin_dir / name).chmod(0o755)
    return bin_dir, log


def run_container(command: list[str], args: list[str], env: dict[str, str], stand_ins) -> list[list[str]]:
    """Expand like the kubelet, run like the container runtime (command + args, no shell of our own); the calls
    made to the stand-ins, each as [program, arg, ...]."""
    bin_dir, log = stand_ins
    argv = [kubelet_expand(a, env) for a in [*command, *args]]
    res = subprocess.run(argv, env={**env, "PATH": f"{bin_dir}:/usr/bin:/bin"}, capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0, res.stderr
    calls: list[list[str]] = []
    for line in log.read_text().splitlines():
        if line.startswith("== "):
            calls.append([line[3:]])
        else:
            calls[-1].append(line)
    log.unlink()
    return calls


def lws_env(index: int, size: int = 4) -> dict[str, str]:
    return {"LWS_LEADER_ADDRESS": LEADER, "LWS_GROUP_SIZE": str(size), "LWS_WORKER_INDEX": str(index)}


# --- DP + EP across 4 nodes ------------------------------------------------------------------------------------
def test_deepseek_v3_dp32_on_four_nodes_memory_hand_computed():
    """DeepSeek-V3, --data-parallel 32 on H100-80GB: 32 DP ranks of TP 1 = 4 nodes x 8. Every GPU holds the whole
    model except 31/32 of the routed experts (attention, dense layers, shared experts, embeddings and lm_head are
    replicated per DP rank; EP shards the routed experts over all 32 GPUs)."""
    p = plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=32)
    d = p.to_dict()
    assert p.fits
    assert (d["gpu"]["count"], d["gpu"]["nodes"], d["gpu"]["per_node"]) == (32, 4, 8)
    assert (d["parallelism"]["data"], d["parallelism"]["tensor"], d["parallelism"]["pipeline"],
            d["parallelism"]["expert"]) == (32, 1, 1, True)
    est = estimate_weights(checkpoint_shapes(source("deepseek-ai/DeepSeek-V3").config))
    assert p.weight_bytes == est.total_bytes            # no safetensors here: estimated from the config
    # the checkpoint's MTP layer (15.4 GB) is stored but not loaded (no speculative decoding)
    loaded, experts = est.loaded_bytes, est.bytes_by_part["experts"]
    assert loaded == est.total_bytes - est.bytes_by_part["mtp"]
    expected = loaded - experts + experts / 32
    assert abs(d["memory"]["weights_per_gpu_bytes"] - expected) <= 4
    assert 39.5e9 < expected < 39.6e9                    # 654.1 GB of routed experts / 32 + 19.1 GB replicated
    # MLA: each rank stores the 576-value latent of its own tokens once, in all 61 layers (no TP copy, no DCP)
    assert d["memory"]["kv_bytes_per_token"] == 61 * 576 * 2 == 70272
    # KV memory per GPU = 0.95 x 79.19 GiB - weights - overhead; blocks of 16 tokens x 70272 B; one full-length
    # request = 163840 / 16 blocks; vLLM keeps one block back
    m = d["memory"]
    avail = int(p.best.gpu.memory_bytes * 0.95 - p.best.weights_per_gpu - m["overhead_bytes_per_gpu"])
    assert m["kv_cache_bytes_per_gpu"] == avail
    blocks = avail // (70272 * BLOCK_SIZE)
    need = math.ceil(163840 / BLOCK_SIZE)
    per_rank = int((blocks - 1) / need * 163840)
    assert m["kv_cache_tokens_per_dp_rank"] == per_rank
    assert m["kv_cache_tokens"] == 32 * per_rank
    assert d["serving"]["launcher"] == "native"


def test_dp32_worker_ranks_8_16_24(stand_ins):
    """The leader runs DP ranks 0-7 and the API server; worker k runs ranks 8k..8k+7 headless: its shell computes
    --data-parallel-start-rank from LWS_WORKER_INDEX and hands the args to `vllm serve` unchanged."""
    d = plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=32).to_dict()["serving"]
    leader, worker = d["args"], d["worker_args"]
    assert d["command"] == ["vllm", "serve"] and "--headless" not in leader
    assert "--data-parallel-start-rank" not in leader       # rank 0; a start rank without --headless means hybrid LB
    for a in (leader, worker):
        assert a[a.index("--data-parallel-size") + 1] == "32"
        assert a[a.index("--data-parallel-size-local") + 1] == "8"
        assert a[a.index("--data-parallel-address") + 1] == "$(LWS_LEADER_ADDRESS)"
        assert a[a.index("--data-parallel-rpc-port") + 1] == str(eng.VLLM_DP_RPC_PORT)
        assert "--enable-expert-parallel" in a and "--nnodes" not in a
    for k, rank in ((1, 8), (2, 16), (3, 24)):
        (call,) = run_container(d["worker_command"], worker, lws_env(k), stand_ins)
        assert call[:2] == ["vllm", "serve"]
        got = call[2:]
        assert got[-3:] == ["--headless", "--data-parallel-start-rank", str(rank)]
        assert got[got.index("--data-parallel-address") + 1] == LEADER     # the kubelet expanded it
        assert got[:-2] == [eng_arg.replace("$(LWS_LEADER_ADDRESS)", LEADER) for eng_arg in worker]


def test_dp_across_more_nodes_than_two_is_planned_for_sglang_too():
    # forced: SGLang's own default fraction at --tp-size 32 --dp-size 32 with DP attention is below 0 on an H100
    d = plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=32, engine="sglang",
             gpu_memory_utilization=0.95).to_dict()
    assert (d["gpu"]["nodes"], d["parallelism"]["data"]) == (4, 32)
    s = d["serving"]
    for a in (s["args"], s["worker_args"]):
        assert a[a.index("--dp-size") + 1] == "32" and a[a.index("--ep-size") + 1] == "32"
        assert a[a.index("--tp-size") + 1] == "32" and "--enable-dp-attention" in a
        assert a[a.index("--nnodes") + 1] == "4"
        assert a[a.index("--dist-init-addr") + 1] == "$(LWS_LEADER_ADDRESS):20000"
    assert s["worker_args"][s["worker_args"].index("--node-rank") + 1] == "$(LWS_WORKER_INDEX)"
    assert s["worker_command"] == [] and s["launcher"] == "native"


# --- the chart: both launchers render a valid LeaderWorkerSet --------------------------------------------------
@pytest.fixture()
def offline(monkeypatch, tmp_path, helm_bin):
    offline_dry_run_env(monkeypatch, tmp_path)


def _containers(lws: dict) -> tuple[dict, dict]:
    t = lws["spec"]["leaderWorkerTemplate"]
    return t["leaderTemplate"]["spec"]["containers"][0], t["workerTemplate"]["spec"]["containers"][0]


def test_kimi_k2_dp32_renders_a_valid_lws_whose_workers_start_at_8_16_24(offline, stand_ins):
    kinds = render("moonshotai/Kimi-K2-Instruct", "--gpu", "H100-80GB", "--data-parallel", "32")
    lws = kinds["LeaderWorkerSet"]
    assert lws["spec"]["leaderWorkerTemplate"]["size"] == 4
    leader, worker = _containers(lws)
    assert leader["command"] == ["vllm", "serve"] and worker["command"][:2] == ["/bin/sh", "-c"]
    assert leader["resources"]["limits"]["nvidia.com/gpu"] == "8"
    for k, rank in ((1, 8), (2, 16), (3, 24)):
        (call,) = run_container(worker["command"], worker["args"], lws_env(k), stand_ins)
        assert call[-3:] == ["--headless", "--data-parallel-start-rank", str(rank)]
        assert call[call.index("--data-parallel-size") + 1] == "32"
    (call,) = run_container(leader["command"], leader["args"], lws_env(0), stand_ins)
    assert "--headless" not in call and "--data-parallel-start-rank" not in call


@pytest.mark.parametrize("launcher", ["native", "ray"])
def test_both_launchers_render_valid_leaderworkersets(offline, stand_ins, launcher):
    kinds = render("meta-llama/Llama-3.1-405B", "--gpu", "H100-80GB", "--launcher", launcher)
    leader, worker = _containers(kinds["LeaderWorkerSet"])
    assert "ports" in leader and "ports" not in worker
    lead_calls = run_container(leader["command"], leader["args"], lws_env(0, 2), stand_ins)
    work_calls = run_container(worker["command"], worker["args"], lws_env(1, 2), stand_ins)
    serve = lead_calls[-1]
    assert serve[:2] == ["vllm", "serve"]
    assert serve[serve.index("--tensor-parallel-size") + 1] == "8"
    assert serve[serve.index("--pipeline-parallel-size") + 1] == "2"
    if launcher == "native":
        assert len(lead_calls) == 1 and work_calls[0][:2] == ["vllm", "serve"]
        assert serve[serve.index("--master-addr") + 1] == LEADER and serve[serve.index("--node-rank") + 1] == "0"
        assert work_calls[0][-3:] == ["--node-rank", "1", "--headless"]
    else:
        # the leader: the Ray head, the wait for LWS_GROUP_SIZE alive nodes, then vLLM on the Ray backend
        assert lead_calls[0] == ["ray", "start", "--head", f"--port={eng.RAY_PORT}", "--disable-usage-stats"]
        assert lead_calls[1][0] == "python3" and "LWS_GROUP_SIZE" in lead_calls[1][2]
        assert serve[serve.index("--distributed-executor-backend") + 1] == "ray"
        assert "--nnodes" not in serve and "--headless" not in serve
        # a worker joins the head at the leader's address and blocks; it runs no vLLM of its own
        assert work_calls == [["ray", "start", f"--address={LEADER}:{eng.RAY_PORT}", "--block"]]
        assert worker["args"] == []


def test_ray_leader_exits_at_once_when_the_head_does_not_start(offline, stand_ins):
    """A Ray head that fails to start fails the pod (the group restarts) instead of 300 s of waiting for nodes."""
    kinds = render("meta-llama/Llama-3.1-405B", "--gpu", "H100-80GB", "--launcher", "ray")
    leader, _ = _containers(kinds["LeaderWorkerSet"])
    bin_dir, log = stand_ins
    (bin_dir / "ray").write_text(f'#!/bin/sh\necho "== ray" >> "{log}"\nexit 1\n')
    argv = [kubelet_expand(a, lws_env(0, 2)) for a in [*leader["command"], *leader["args"]]]
    res = subprocess.run(argv, env={**lws_env(0, 2), "PATH": f"{bin_dir}:/usr/bin:/bin"}, capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 1
    assert log.read_text().split() == ["==", "ray"]            # no node wait (python3), no vLLM


def test_ray_with_data_parallel_uses_the_ray_dp_backend():
    d = plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=32, launcher="ray").to_dict()
    a = d["serving"]["args"]
    assert a[a.index("--data-parallel-backend") + 1] == "ray"
    assert "--data-parallel-address" not in a and "--distributed-executor-backend" not in a
    assert d["serving"]["worker_args"] == [] and d["serving"]["launcher"] == "ray"


def test_launcher_choice_and_errors():
    assert eng.default_launcher("vllm", (0, 17, 0)) == "native"
    assert eng.default_launcher("vllm", (0, 11, 0)) == "ray"        # before PR #23691's release
    assert eng.default_launcher("sglang", (0, 5, 9)) == "native"
    p = plan("meta-llama/Llama-3.1-405B", gpu_type="H100-80GB")
    assert p.launcher == "native" and any(r.startswith("launcher native (vLLM 0.17.0 >= 0.11.1)") for r in p.reasons)
    ray = plan("meta-llama/Llama-3.1-405B", gpu_type="H100-80GB", launcher="ray")
    assert any(r.startswith("launcher ray (the official LeaderWorkerSet vLLM example)") for r in ray.reasons)
    assert not any("no longer depends on Ray" in w for w in ray.warnings)      # 0.17.0 still ships Ray
    one = plan("Qwen/Qwen3-8B", gpu_type="A100-80GB", launcher="ray").to_dict()["serving"]
    assert one["launcher"] is None and one["worker_command"] == []        # one node: nothing to launch
    with pytest.raises(UsageError) as e:
        plan("meta-llama/Llama-3.1-405B", gpu_type="H100-80GB", engine="sglang", launcher="ray")
    assert e.value.message == "--launcher ray is for vLLM"
    with pytest.raises(UsageError):
        plan("meta-llama/Llama-3.1-405B", gpu_type="H100-80GB", launcher="slurm")


def test_cli_rejects_an_unknown_launcher(offline):
    res = CliRunner().invoke(cli, ["plan", "meta-llama/Llama-3.1-405B", "--launcher", "slurm"])
    assert res.exit_code == 2 and "--launcher" in res.output and "Traceback" not in res.output


# --- the flags, checked against vLLM's parser ------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(), dict(data_parallel=32), dict(launcher="ray"),
                                dict(data_parallel=32, launcher="ray")])
def test_every_multi_node_flag_emitted_was_checked_against_vllm(kw):
    model = "deepseek-ai/DeepSeek-V3" if kw.get("data_parallel") else "meta-llama/Llama-3.1-405B"
    p = plan(model, gpu_type="H100-80GB", **kw)
    single = set(plan(model, gpu_type="H100-80GB", nodes=None, gpus=8, **({"data_parallel": 8}
                                                                          if kw.get("data_parallel") else {})).args)
    emitted = {a for a in p.args + p.worker_args if a.startswith("--")}
    for script in p.command + p.worker_command:          # the flags a shell adds to `vllm serve` ("$@" = the args)
        emitted |= {f for tail in re.findall(r"vllm serve (.*)", script) for f in re.findall(r"--[a-z-]+", tail)}
    group_flags = emitted - single
    assert group_flags, "a multi-node plan adds flags"
    unchecked = group_flags - set(FLAGS["flags"])
    assert not unchecked, f"emitted but not checked against vLLM's parser: {sorted(unchecked)}"
    assert eng.version_text(eng.VLLM_NATIVE_MULTINODE) == FLAGS["verified_against"]["native_since"]
    assert eng.engine_defaults("vllm")["version"] == FLAGS["verified_against"]["pinned_vllm"]
