"""`kubectl llm test NAME` against a stand-in OpenAI-compatible engine (tests/fakes/openai_server.py) and the fake
API server: the KV cache filled to the chosen share (read from the engine's /metrics), the report's numbers, and a
run where the engine dies mid-way and its pod restarts OOMKilled (exit 1)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from kubectl_llm import loadtest
from kubectl_llm.cli.main import cli
from tests.cli_harness import cli_cluster, kllm
from tests.fakes.apiserver import FakeApiServer
from tests.fakes.openai_server import OpenAIStandIn

NS = "llm"
VLLM_LOG = "INFO 05-09 07:36:20 [kv_cache_utils.py:634] GPU KV cache size: 100,000 tokens\n"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with cli_cluster(tmp_path, monkeypatch, namespaces=[NS], pod_log=VLLM_LOG) as api:
        result = CliRunner().invoke(cli, ["add", "Qwen/Qwen3-8B", "--gpu", "L40"])   # max-model-len 40960
        assert result.exit_code == 0, result.stderr
        yield api


def test_sizing_by_hand() -> None:
    # 100,000 KV tokens, fill 0.8 -> 80,000 tokens; context 40,960 -> prompts of half of it, 20,480 words;
    # each request holds 20,480 + 256 = 20,736 tokens -> ceil(80,000 / 20,736) = 4 in flight.
    s = loadtest.size(100_000, 0.8, 40_960, 256)
    assert (s.target_tokens, s.prompt_words, s.concurrency, s.requests) == (80_000, 20_480, 4, 8)
    assert math.ceil(80_000 / (20_480 + 256)) == 4
    # A small cache: one prompt of target - generated tokens.
    s = loadtest.size(10_000, 0.5, 40_960, 256)
    assert (s.target_tokens, s.prompt_words, s.concurrency) == (5_000, 4_744, 1)
    # Capped by the engine's max-num-seqs (2): longer prompts instead, ceil(80,000 / 2) - 256 = 39,744.
    s = loadtest.size(100_000, 0.8, 40_960, 256, max_concurrency=2)
    assert (s.concurrency, s.prompt_words) == (2, 39_744)
    assert len(loadtest.prompt(300, 7).split()) == 300 and loadtest.prompt(300, 7) != loadtest.prompt(300, 8)


def test_kv_usage_from_vllm_and_sglang_metrics() -> None:
    vllm = ('# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.42\n'
            '# TYPE vllm:cache_config_info gauge\nvllm:cache_config_info{block_size="16",num_gpu_blocks="11264"} 1.0\n')
    assert loadtest.kv_usage(vllm) == (0.42, "vllm:kv_cache_usage_perc", 11264 * 16)
    old = '# TYPE vllm:gpu_cache_usage_perc gauge\nvllm:gpu_cache_usage_perc{model_name="m"} 0.3\n'
    assert loadtest.kv_usage(old) == (0.3, "vllm:gpu_cache_usage_perc", None)
    sglang = '# TYPE sglang:token_usage gauge\nsglang:token_usage{model_name="m"} 0.77\n'
    assert loadtest.kv_usage(sglang) == (0.77, "sglang:token_usage", None)
    assert loadtest.percentiles([3.0, 1.0, 2.0, 4.0]) == {"p50": 2.0, "p90": 4.0, "p99": 4.0, "min": 1.0, "max": 4.0}


def test_fills_the_kv_cache_and_reports(fake: FakeApiServer) -> None:
    with OpenAIStandIn(kv_tokens=100_000, token_delay=0.005) as engine:
        result = kllm("test", "qwen3-8b", "--url", engine.url, "-o", "json")
    doc = json.loads(result.stdout)
    # 4 requests of 20,480 prompt words + 256 tokens in flight: all 4 prompts held (81,920) plus what they have
    # generated, at most 4 x 20,736 = 82,944 of 100,000 KV tokens (less when one finishes before the others).
    assert 4 * 20_480 / 100_000 <= engine.peak <= 4 * 20_736 / 100_000
    assert engine.prompts == [20_480] * 4
    assert (doc["sizing"]["concurrency"], doc["sizing"]["kv_tokens"], doc["kv_tokens_source"]) == \
        (4, 100_000, "vllm:cache_config_info")
    assert doc["requests"] == {"sent": 4, "ok": 4, "errors": 0, "first_errors": []}   # filled: no second wave
    assert doc["kv_usage"]["metric"] == "vllm:kv_cache_usage_perc"
    assert 0.8 <= doc["kv_usage"]["peak"] <= 4 * 20_736 / 100_000 and doc["kv_usage"]["reached"]
    assert doc["prompt_tokens"]["p50"] == 20_480           # the engine's own usage count
    assert doc["ttft_s"]["p50"] >= 0.02                     # the stand-in waits 20 ms before the first token
    # 256 tokens with 5 ms between them: at most ~200 tokens/s per request.
    assert 0 < doc["tokens_per_s"]["p50"] <= 256 / (255 * 0.005)
    assert doc["pods"] == {"restarts": 0, "oom_killed": []} and doc["passed"] is True
    assert "KV [" in result.stderr and "4/8 requests" in result.stderr      # the progress bar


def test_an_engine_dying_mid_run_fails_with_the_restart(fake: FakeApiServer) -> None:
    """The third request kills the engine (the two streams in flight die with it, the fourth finds no engine); its
    pod is seen restarted, OOMKilled: exit 1, all of it reported."""
    from kubernetes import client, config

    import os

    (pod,) = [n for k, n in fake.objects(namespace=NS, kind="Pod")]
    kubeconfig = os.environ["KUBECONFIG"]   # read now: the client's default was fixed when it was imported

    def oom() -> None:
        api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
        api.patch_namespaced_pod_status(pod, NS, {"status": {"containerStatuses": [{
            "name": "vllm", "restartCount": 1, "ready": False, "image": "x", "imageID": "", "started": False,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}})

    with OpenAIStandIn(kv_tokens=100_000, die_after=2, on_die=oom) as engine:
        result = kllm("test", "qwen3-8b", "--url", engine.url, "--metrics-url", f"{engine.url}/metrics", "-o",
                      "json", code=1)
    doc = json.loads(result.stdout)
    assert doc["passed"] is False and doc["requests"]["sent"] == 4 and doc["requests"]["errors"] == 4
    assert doc["pods"] == {"restarts": 1, "oom_killed": [pod]}
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: qwen3-8b failed under load: 4 of 4 requests failed (first: "
                      f"{doc['requests']['first_errors'][0]}); 1 pod restart during the run; OOMKilled: {pod}"]
    assert "hint: kubectl llm status qwen3-8b -n llm" in result.stderr


def test_kv_size_from_the_engine_log_and_sglang(fake: FakeApiServer) -> None:
    """SGLang publishes no cache config: the size comes from the engine's log line (100,000 tokens)."""
    with OpenAIStandIn(kv_tokens=100_000, engine="sglang", token_delay=0.001) as engine:
        doc = json.loads(kllm("test", "qwen3-8b", "--url", engine.url, "--fill", "0.5", "-o", "json").stdout)
    # 50,000 tokens: ceil(50,000 / 20,736) = 3 requests of 20,480 words.
    assert (doc["kv_tokens_source"], doc["sizing"]["concurrency"], doc["kv_usage"]["metric"]) == \
        ("engine log", 3, "sglang:token_usage")
    assert 3 * 20_480 / 100_000 <= engine.peak <= 3 * 20_736 / 100_000
