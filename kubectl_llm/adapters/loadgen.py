"""The HTTP side of `kubectl llm test`: concurrent streamed chat completions and a /metrics poller, with httpx
(httpx2, the async client huggingface_hub already depends on).

Why async: dozens of long streams in flight plus a poller every quarter second are one event loop, not a thread
per request. Each request records its time to first token, its completion tokens (the engine's usage chunk when it
sends one, else content chunks) and its decode time; a dropped connection is an error of that request, not a crash.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from kubectl_llm.loadtest import RequestResult, Sizing, kv_usage, prompt


@dataclass
class RunState:
    results: list[RequestResult] = field(default_factory=list)
    in_flight: int = 0
    usage: float | None = None
    peak: float | None = None
    metric: str | None = None
    metrics_errors: int = 0


async def _one(client: Any, url: str, model: str, words: int, max_tokens: int, seed: int,
               headers: dict[str, str]) -> RequestResult:
    import httpx2 as httpx

    body = {"model": model, "stream": True, "max_tokens": max_tokens, "temperature": 0,
            "ignore_eos": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": prompt(words, seed)}]}
    start = time.monotonic()
    first = last = None
    chunks = 0
    usage: dict[str, Any] = {}
    try:
        async with client.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers) as resp:
            if resp.status_code != 200:
                text = (await resp.aread()).decode(errors="replace")[:200]
                return RequestResult(False, error=f"HTTP {resp.status_code}: {text}")
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                doc = json.loads(data)
                if doc.get("usage"):
                    usage = doc["usage"]
                for choice in doc.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning"):
                        now = time.monotonic()
                        first = first or now
                        last = now
                        chunks += 1
    except (httpx.HTTPError, json.JSONDecodeError, OSError) as exc:
        return RequestResult(False, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if first is None:
        return RequestResult(False, error="the stream ended without a token")
    tokens = int(usage.get("completion_tokens") or chunks)
    return RequestResult(True, ttft=first - start, tokens=tokens, prompt_tokens=usage.get("prompt_tokens"),
                         decode_seconds=(last or first) - first)


async def _poll(client: Any, metrics_url: str, state: RunState, stop: asyncio.Event, period: float) -> None:
    while not stop.is_set():
        try:
            resp = await client.get(metrics_url, timeout=5)
            if resp.status_code == 200:
                usage, metric, _ = kv_usage(resp.text)
                if usage is not None:
                    state.usage, state.metric = usage, metric
                    state.peak = usage if state.peak is None else max(state.peak, usage)
            else:
                state.metrics_errors += 1
        except Exception:  # noqa: BLE001 - the engine may be gone; the requests report that
            state.metrics_errors += 1
        try:
            await asyncio.wait_for(stop.wait(), timeout=period)
        except asyncio.TimeoutError:
            pass


def fetch_metrics(url: str, timeout: float = 10) -> str | None:
    """/metrics once (for the engine's KV size before the run); None when it does not answer."""
    import httpx2 as httpx

    try:
        resp = httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return None
    return resp.text if resp.status_code == 200 else None


def unreachable(url: str, timeout: float = 10) -> str | None:
    """Why ``url`` cannot be reached at all (a connection that fails, not an HTTP error status), else None."""
    import httpx2 as httpx

    try:
        httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}".rstrip(": ")
    return None


def run(url: str, metrics_url: str | None, model: str, sizing: Sizing, *, headers: dict[str, str] | None = None,
        request_timeout: float = 600, poll_period: float = 0.25,
        progress: Callable[[RunState, int], None] | None = None) -> RunState:
    """Send ``sizing.requests`` requests, ``sizing.concurrency`` at a time, until the KV usage reached the fill
    (after at least one full wave) or the requests are used up; poll /metrics meanwhile."""
    import httpx2 as httpx

    state = RunState()

    async def main() -> None:
        limits = httpx.Limits(max_connections=sizing.concurrency + 4, max_keepalive_connections=sizing.concurrency)
        timeout = httpx.Timeout(request_timeout, connect=15)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            stop = asyncio.Event()
            poller = asyncio.create_task(_poll(client, metrics_url, state, stop, poll_period)) if metrics_url \
                else None
            sem = asyncio.Semaphore(sizing.concurrency)
            sent = 0

            async def worker(seed: int) -> None:
                async with sem:
                    state.in_flight += 1
                    try:
                        result = await _one(client, url, model, sizing.prompt_words, sizing.max_tokens, seed,
                                            headers or {})
                    finally:
                        state.in_flight -= 1
                    state.results.append(result)
                    if progress:
                        progress(state, sizing.requests)

            tasks: list[asyncio.Task[None]] = []
            while sent < sizing.requests:
                wave = [asyncio.create_task(worker(sent + i)) for i in range(min(sizing.concurrency,
                                                                                 sizing.requests - sent))]
                sent += len(wave)
                tasks += wave
                await asyncio.gather(*wave)
                filled = state.peak is not None and state.peak >= sizing.fill
                if filled or any(not r.ok for r in state.results):
                    break
            await asyncio.gather(*tasks)
            stop.set()
            if poller:
                await poller

    asyncio.run(main())
    return state
