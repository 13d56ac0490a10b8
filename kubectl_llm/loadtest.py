"""`kubectl llm test`, pure: how many concurrent long prompts fill a share of the KV cache, the prompts, the
engine's KV usage read from its /metrics text, and the report's percentiles.

Why pure: the sizing (tokens per request, concurrency) and the verdict are the decisions; the HTTP client
(adapters/loadgen.py) and the CLI only carry them out.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

# Gauges with the KV cache usage as a fraction 0..1, in the order they are looked for: vLLM v1 (0.10+), vLLM v0,
# SGLang.
KV_USAGE_METRICS = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage")
# Short common words: about one token each for the usual BPE vocabularies (the report shows the engine's own
# prompt token count when it sends usage).
_WORDS = ("time year people way day man thing woman life child world school state family student group country "
          "problem hand part place case week company system program question work government number night point "
          "home water room mother area money story fact month lot right study book eye job word business issue "
          "side kind head house service friend father power hour game line end member law car city community name "
          "president team minute idea kid body information back parent face others level office door health person "
          "art war history party result change morning reason research girl guy moment air teacher force education").split()


@dataclass(frozen=True)
class Sizing:
    kv_tokens: int
    fill: float
    target_tokens: int       # fill x kv_tokens: what the requests in flight must hold together
    prompt_words: int        # words per prompt (about one token each)
    max_tokens: int          # tokens generated per request
    concurrency: int         # requests in flight
    requests: int            # requests sent at most

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def size(kv_tokens: int, fill: float, max_model_len: int, max_tokens: int, *, max_concurrency: int = 256,
         requests: int | None = None) -> Sizing:
    """Prompts as long as half the context allows (never more than the target), and enough of them in flight
    that together they hold ``fill`` of the KV cache: concurrency = ceil(target / (prompt + generated))."""
    target = max(1, int(kv_tokens * fill))
    max_tokens = max(1, min(max_tokens, max_model_len // 4))
    room = max(16, max_model_len // 2)
    prompt = max(16, min(room, target - max_tokens if target > max_tokens else 16))
    concurrency = max(1, math.ceil(target / (prompt + max_tokens)))
    if concurrency > max_concurrency:       # capped (e.g. by --max-num-seqs): longer prompts, up to the room left
        concurrency = max_concurrency
        prompt = max(prompt, min(max_model_len - max_tokens - 64, math.ceil(target / concurrency) - max_tokens))
    return Sizing(kv_tokens, fill, target, prompt, max_tokens, concurrency,
                  requests if requests is not None else 2 * concurrency)


def prompt(words: int, seed: int) -> str:
    """A prompt of ``words`` words, different for every seed from its first word (no shared prefix, so prefix
    caching cannot make the requests share KV blocks)."""
    rng = random.Random(seed)
    head = f"Request {seed}: repeat these words back, then keep writing."
    return head + " " + " ".join(rng.choice(_WORDS) for _ in range(max(0, words - len(head.split()))))


def kv_usage(metrics_text: str) -> tuple[float | None, str | None, int | None]:
    """(usage 0..1, the metric it came from, KV cache tokens from vllm:cache_config_info) from /metrics text."""
    from prometheus_client.parser import text_string_to_metric_families

    values: dict[str, float] = {}
    kv_tokens: int | None = None
    try:
        families = list(text_string_to_metric_families(metrics_text))
    except ValueError:
        return None, None, None
    for fam in families:
        for sample in fam.samples:
            if sample.name in KV_USAGE_METRICS:
                values[sample.name] = max(values.get(sample.name, 0.0), float(sample.value))
            elif sample.name in ("vllm:cache_config_info",):
                try:
                    kv_tokens = int(sample.labels["num_gpu_blocks"]) * int(sample.labels["block_size"])
                except (KeyError, ValueError):
                    pass
    for name in KV_USAGE_METRICS:
        if name in values:
            return values[name], name, kv_tokens
    return None, None, kv_tokens


def percentiles(samples: list[float], points: tuple[int, ...] = (50, 90, 99)) -> dict[str, float | None]:
    """Nearest-rank percentiles (p50/p90/p99), min and max; None for an empty list."""
    if not samples:
        return {**{f"p{p}": None for p in points}, "min": None, "max": None}
    s = sorted(samples)
    out: dict[str, float | None] = {f"p{p}": round(s[max(0, math.ceil(p / 100 * len(s)) - 1)], 4) for p in points}
    out["min"], out["max"] = round(s[0], 4), round(s[-1], 4)
    return out


@dataclass
class RequestResult:
    ok: bool
    ttft: float | None = None           # seconds to the first content token
    tokens: int = 0                     # completion tokens (usage, else content chunks)
    prompt_tokens: int | None = None    # the engine's count, when it sends usage
    decode_seconds: float = 0.0         # first to last token
    error: str | None = None

    @property
    def tokens_per_s(self) -> float | None:
        return self.tokens / self.decode_seconds if self.ok and self.tokens > 1 and self.decode_seconds > 0 else None


def verdict(results: list[RequestResult], peak: float | None, fill: float, restarts: int,
            oom: list[str]) -> tuple[bool, list[str]]:
    """Passed unless a request failed or a pod restarted / was OOMKilled; not reaching the fill is a warning."""
    problems = []
    errors = [r for r in results if not r.ok]
    if errors:
        problems.append(f"{len(errors)} of {len(results)} requests failed (first: {errors[0].error})")
    if restarts:
        problems.append(f"{restarts} pod restart{'s' if restarts > 1 else ''} during the run")
    if oom:
        problems.append(f"OOMKilled: {', '.join(oom)}")
    return not problems, problems
