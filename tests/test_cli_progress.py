"""The engine-log parser and the pod stage (pure functions) on real vLLM / SGLang log lines."""

from __future__ import annotations

from kubectl_llm.adapters.cluster import ContainerView, PodView
from kubectl_llm.cli.progress import parse_engine_log, pod_stage

# Lines as vLLM 0.8 - 0.11 prints them (tqdm bars of huggingface_hub end in \r, not \n, in the container log).
DOWNLOADING = (
    "INFO 05-12 10:01:05 [api_server.py:1043] vLLM API server version 0.8.5.post1\n"
    "(VllmWorker rank=0 pid=123) INFO 05-12 10:01:30 [gpu_model_runner.py:1329] Starting to load model "
    "Qwen/Qwen3-8B...\n"
    "INFO 05-12 10:01:31 [weight_utils.py:265] Using model weights format ['*.safetensors']\n"
    "model-00001-of-00005.safetensors:  10%|#         | 396M/3.96G [00:02<00:18, 198MB/s]\r"
    "model-00001-of-00005.safetensors: 100%|##########| 3.96G/3.96G [00:18<00:00, 220MB/s]\n"
    "model-00002-of-00005.safetensors:  45%|####5     | 1.79G/3.99G [00:08<00:09, 223MB/s]\r"
)
LOADED = DOWNLOADING + (
    "Loading safetensors checkpoint shards:   0% Completed | 0/5 [00:00<?, ?it/s]\n"
    "Loading safetensors checkpoint shards:  40% Completed | 2/5 [00:01<00:02,  1.38it/s]\n"
    "INFO 05-12 10:02:10 [default_loader.py:278] Loading weights took 3.52 seconds\n"
    "INFO 05-12 10:02:10 [gpu_model_runner.py:1347] Model loading took 15.2683 GiB and 40.123 seconds\n"
)
ALLOCATED = LOADED + (
    "(EngineCore_0 pid=200) INFO 05-12 10:02:45 [gpu_worker.py:276] Available KV cache memory: 20.21 GiB\n"
    "INFO 05-12 10:02:45 [kv_cache_utils.py:634] GPU KV cache size: 147,056 tokens\n"
    "INFO 05-12 10:02:45 [kv_cache_utils.py:637] Maximum concurrency for 40,960 tokens per request: 3.59x\n"
)
READY = ALLOCATED + (
    "INFO 05-12 10:03:11 [api_server.py:1090] Starting vLLM API server on http://0.0.0.0:5000\n"
    "INFO:     Started server process [1]\nINFO:     Waiting for application startup.\n"
    "INFO:     Application startup complete.\n"
)


def test_download_progress_sums_the_latest_bar_of_each_file():
    p = parse_engine_log(DOWNLOADING)
    assert p.stage == "downloading"
    # file 1 done (3.96 GB), file 2 at 1.79 of 3.99 GB: 5.75 / 7.95 GB (tqdm G = 10^9)
    assert p.downloaded_bytes == 3_960_000_000 + 1_790_000_000
    assert p.download_total_bytes == 3_960_000_000 + 3_990_000_000
    assert p.summary() == "downloading weights 5.8/8.0 GB"


def test_loading_then_model_loading_took():
    p = parse_engine_log(DOWNLOADING + "Loading safetensors checkpoint shards:  40% Completed | 2/5 [00:01<00:02]\n")
    assert (p.stage, p.shards_done, p.shards_total) == ("loading", 2, 5)
    assert p.summary() == "loading weights (2/5 shards)"
    p = parse_engine_log(LOADED)
    assert p.weights_gib == 15.2683
    assert p.summary() == "weights loaded (15.27 GiB per GPU), profiling memory"


def test_kv_cache_lines_and_ready():
    p = parse_engine_log(ALLOCATED)
    assert p.stage == "allocating"
    assert (p.kv_cache_gib, p.kv_cache_tokens) == (20.21, 147056)
    assert (p.max_concurrency, p.concurrency_len) == (3.59, 40960)
    assert p.summary() == "KV cache allocated (20.21 GiB, 147,056 tokens), warming up"
    assert parse_engine_log(READY).stage == "ready"


def test_vllm_033_single_line_and_sglang_lines():
    line = ("INFO 01-02 03:04:05 [kv_cache_utils.py:1100] GPU KV cache size: 1,210,000 tokens, "
            "Maximum concurrency for 262,144 tokens per request: 4.62x\n")
    p = parse_engine_log(line)
    assert (p.kv_cache_tokens, p.max_concurrency, p.concurrency_len) == (1_210_000, 4.62, 262_144)
    sgl = ("[2025-05-01 10:00:00 TP0] Load weight end. type=Qwen3ForCausalLM, dtype=torch.bfloat16, "
           "avail mem=60.12 GB, mem usage=15.27 GB.\n"
           "[2025-05-01 10:00:05 TP0] KV Cache is allocated. #tokens: 395856, K size: 27.18 GB, V size: 27.18 GB\n"
           "[2025-05-01 10:00:30] The server is fired up and ready to roll!\n")
    p = parse_engine_log(sgl)
    assert (p.weights_gib, p.kv_cache_tokens, p.stage) == (15.27, 395856, "ready")


def test_errors_are_surfaced():
    p = parse_engine_log(LOADED + "ValueError: To serve at least one request with the models's max seq len "
                                  "(262144), (30.00 GiB KV cache is needed, which is larger than the available "
                                  "KV cache memory (12.00 GiB).\n")
    assert p.error is not None and p.error.startswith("ValueError: To serve at least one request")


def pod(**kw) -> PodView:
    base = dict(name="qwen3-8b-abc", phase="Running", node="gpu-node-1", scheduled=True, ready=False,
                containers=[ContainerView("engine", False, "running")])
    base.update(kw)
    return PodView(**base)


def test_pod_stages_in_order():
    assert pod_stage(None, None) == ("pending", "no pod yet")
    unsched = pod(phase="Pending", scheduled=False, node=None, containers=[],
                  unschedulable_message="0/120 nodes are available: 120 Insufficient nvidia.com/gpu.")
    assert pod_stage(unsched, None) == ("pending", "0/120 nodes are available: 120 Insufficient nvidia.com/gpu.")
    pulling = pod(phase="Pending", containers=[ContainerView("engine", False, "waiting", "ContainerCreating")])
    assert pod_stage(pulling, None) == ("scheduled", "on gpu-node-1: ContainerCreating")
    assert pod_stage(pod(), None) == ("image pulled", "container running, engine starting")
    assert pod_stage(pod(), parse_engine_log(DOWNLOADING)) == ("downloading weights",
                                                                "downloading weights 5.8/8.0 GB")
    assert pod_stage(pod(), parse_engine_log(LOADED))[0] == "loading"
    assert pod_stage(pod(), parse_engine_log(ALLOCATED))[0] == "KV cache allocated"
    assert pod_stage(pod(ready=True, containers=[ContainerView("engine", True, "running")]),
                     parse_engine_log(READY)) == ("ready", "serving (147,056 tokens of KV cache)")


def test_crash_loop_is_reported_with_the_engine_error():
    crashing = pod(containers=[ContainerView("engine", False, "waiting", "CrashLoopBackOff", restarts=4)])
    stage, detail = pod_stage(crashing, parse_engine_log("torch.OutOfMemoryError: CUDA out of memory.\n"))
    assert stage == "failing"
    assert detail == "engine: CrashLoopBackOff (torch.OutOfMemoryError), 4 restarts"
