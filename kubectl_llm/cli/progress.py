"""Read an inference server's progress from its own log lines, and say where a pod stands. Pure functions.

Why from logs: the weights download, the load and the KV-cache allocation happen inside one container that is
"Running" but not "Ready" for up to half an hour; only vLLM's (or SGLang's) log says what it is doing. The lines
matched here are the ones vLLM 0.6 - 0.33 and SGLang print (see ../shared/notes/vllm-memory-model.md section 9):

    model-00001-of-00004.safetensors:  45%|####5     | 2.24G/4.97G [00:10<00:12, 223MB/s]   (huggingface_hub tqdm)
    Fetching 10 files:  30%|###       | 3/10 [00:30<01:10, 10.0s/it]
    Loading safetensors checkpoint shards:  40% Completed | 2/5 [00:01<00:02,  1.38it/s]
    Model loading took 15.2683 GiB and 40.123 seconds
    Available KV cache memory: 54.36 GiB
    GPU KV cache size: 395,856 tokens
    Maximum concurrency for 40,960 tokens per request: 9.66x
    Application startup complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kubectl_llm.adapters.cluster import PodView

_SCALE = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}

_FILE_BAR = re.compile(
    r"(?P<file>[\w.\-/]+\.(?:safetensors|bin|pt|pth|gguf))\s*:\s*\d+%\|[^|]*\|\s*"
    r"(?P<done>[\d.]+)(?P<du>[kKMGT]?)B?/(?P<total>[\d.]+)(?P<tu>[kKMGT]?)B?")
_FETCH = re.compile(r"Fetching (?P<n>\d+) files:\s*\d+%\|[^|]*\|\s*(?P<done>\d+)/(?P<total>\d+)")
_SHARDS = re.compile(r"Loading (?:safetensors|pt) checkpoint shards:\s*\d+% Completed \|\s*(?P<done>\d+)/(?P<total>\d+)")
_LOAD_START = re.compile(r"Starting to load model|Loading model weights|Load weight begin")
_LOADED = re.compile(r"Model loading took (?P<gib>[\d.]+) ?GiB|Load weight end\..*?mem usage=(?P<sgl>[\d.]+) GB")
_KV_MEM = re.compile(r"Available KV cache memory: (?P<gib>[\d.]+) ?GiB")
_KV_TOKENS = re.compile(r"GPU KV cache size: (?P<tokens>[\d,]+) tokens|KV Cache is allocated\. #tokens: (?P<sgl>\d+)")
_V0_BLOCKS = re.compile(r"# GPU blocks: (?P<blocks>\d+)")
_CONCURRENCY = re.compile(r"Maximum concurrency for (?P<len>[\d,]+) tokens per request: (?P<x>[\d.]+)x")
_READY = re.compile(r"Application startup complete|The server is fired up and ready to roll")
_ERROR = re.compile(r"(CUDA out of memory|torch\.OutOfMemoryError|ValueError: .*|RuntimeError: .*|"
                    r"No available memory for the cache blocks|OSError: .*|"
                    r"huggingface_hub\.errors\.\w+: .*|GatedRepoError.*|RepositoryNotFoundError.*)")


@dataclass
class EngineProgress:
    """What the engine log says so far. Byte counts are decimal (tqdm prints G = 10^9), GiB values are 2^30."""

    stage: str = "starting"                       # starting | downloading | loading | allocating | ready
    files: dict[str, tuple[int, int]] = field(default_factory=dict)   # file -> (bytes done, bytes total)
    files_done: int | None = None
    files_total: int | None = None
    shards_done: int | None = None
    shards_total: int | None = None
    weights_gib: float | None = None              # "Model loading took X GiB" (per GPU)
    kv_cache_gib: float | None = None             # "Available KV cache memory"
    kv_cache_tokens: int | None = None            # "GPU KV cache size"
    max_concurrency: float | None = None
    concurrency_len: int | None = None
    error: str | None = None

    @property
    def downloaded_bytes(self) -> int:
        return sum(done for done, _ in self.files.values())

    @property
    def download_total_bytes(self) -> int:
        return sum(total for _, total in self.files.values())

    def summary(self) -> str:
        """One human line for the stage, with the numbers the log gave."""
        if self.stage == "downloading":
            text = f"downloading weights {self.downloaded_bytes / 1e9:.1f}/{self.download_total_bytes / 1e9:.1f} GB"
            if self.files_total:
                text += f" ({self.files_done or 0}/{self.files_total} files)"
            return text
        if self.stage == "loading":
            if self.weights_gib is not None:
                return f"weights loaded ({self.weights_gib:.2f} GiB per GPU), profiling memory"
            if self.shards_total:
                return f"loading weights ({self.shards_done}/{self.shards_total} shards)"
            return "loading weights"
        if self.stage == "allocating":
            parts = []
            if self.kv_cache_gib is not None:
                parts.append(f"{self.kv_cache_gib:.2f} GiB")
            if self.kv_cache_tokens is not None:
                parts.append(f"{self.kv_cache_tokens:,} tokens")
            return "KV cache allocated" + (f" ({', '.join(parts)})" if parts else "") + ", warming up"
        if self.stage == "ready":
            return "serving" + (f" ({self.kv_cache_tokens:,} tokens of KV cache)" if self.kv_cache_tokens else "")
        return "engine starting"


def _bytes(number: str, unit: str) -> int:
    return int(float(number) * _SCALE[unit])


def parse_engine_log(text: str) -> EngineProgress:
    """Fold a log (any prefix of it, tqdm carriage returns included) into an EngineProgress."""
    p = EngineProgress()
    for line in re.split(r"[\r\n]+", text):
        if not line.strip():
            continue
        if m := _FILE_BAR.search(line):
            p.files[m["file"]] = (_bytes(m["done"], m["du"]), _bytes(m["total"], m["tu"]))
            p.stage = "downloading"
        elif m := _FETCH.search(line):
            p.files_done, p.files_total = int(m["done"]), int(m["total"])
            if p.stage == "starting":
                p.stage = "downloading"
        elif m := _SHARDS.search(line):
            p.shards_done, p.shards_total = int(m["done"]), int(m["total"])
            p.stage = "loading"
        elif _LOAD_START.search(line):
            if p.stage in ("starting",):
                p.stage = "loading"
        elif m := _LOADED.search(line):
            p.weights_gib = float(m["gib"] or m["sgl"] or 0) or None
            p.stage = "loading"
        elif m := _KV_MEM.search(line):
            p.kv_cache_gib = float(m["gib"])
            p.stage = "allocating"
        if m := _KV_TOKENS.search(line):
            p.kv_cache_tokens = int((m["tokens"] or m["sgl"]).replace(",", ""))
            p.stage = "allocating"
        if m := _CONCURRENCY.search(line):
            p.max_concurrency = float(m["x"])
            p.concurrency_len = int(m["len"].replace(",", ""))
        if _V0_BLOCKS.search(line) and p.stage != "ready":
            p.stage = "allocating"
        if _READY.search(line):
            p.stage = "ready"
        if (m := _ERROR.search(line)) and p.stage != "ready":
            p.error = m.group(0).strip()[:200]
    return p


NO_POD = "no pod yet"
STAGES = ("pending", "scheduled", "image pulled", "downloading weights", "loading", "KV cache allocated", "ready")


def pod_stage(pod: PodView | None, progress: EngineProgress | None) -> tuple[str, str]:
    """(stage, detail) for the --wait line and `status`: Kubernetes first, then the engine's own words.

    Honest about failure modes that never turn Ready: unschedulable, image pull errors, crash loops.
    """
    if pod is None:
        return "pending", NO_POD
    if not pod.scheduled:
        return "pending", pod.unschedulable_message or "waiting for a node with the requested GPUs"
    waiting = [c for c in pod.containers if c.state == "waiting"]
    for c in pod.containers:
        if c.reason in ("ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "OOMKilled", "Error",
                        "CreateContainerConfigError", "InvalidImageName"):
            detail = f"{c.name}: {c.reason}"
            if progress and progress.error:
                detail += f" ({progress.error})"
            return "failing", detail + (f", {c.restarts} restarts" if c.restarts else "")
    if not pod.containers or (waiting and not any(c.state == "running" for c in pod.containers)):
        reason = waiting[0].reason if waiting else "ContainerCreating"
        return "scheduled", f"on {pod.node}: {reason or 'pulling image'}"
    if pod.ready:
        return "ready", progress.summary() if progress and progress.stage == "ready" else "pod ready (readiness probe passed)"
    if progress is None or progress.stage == "starting":
        return "image pulled", "container running, engine starting"
    if progress.stage == "ready":
        return "KV cache allocated", "engine up, waiting for the readiness probe"
    label = {"downloading": "downloading weights", "loading": "loading", "allocating": "KV cache allocated"}[
        progress.stage]
    return label, progress.summary()
