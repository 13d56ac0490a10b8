"""A stand-in for a vLLM / SGLang OpenAI-compatible server (stdlib only), for `kubectl llm test`.

What it does: `/v1/models`, streamed `/v1/chat/completions` (SSE chunks, one word per token, a final usage chunk
when asked), and `/metrics` in Prometheus text with the KV usage an engine would report: every in-flight request
holds its prompt words plus the tokens generated so far, out of ``kv_tokens`` (vLLM: `vllm:kv_cache_usage_perc`
and `vllm:cache_config_info` with num_gpu_blocks x block_size; SGLang: `sglang:token_usage`). A request that would
not fit waits, as the engine's scheduler queues it. ``die_after`` requests, the server drops every connection and
stops answering (a crashed engine mid-run).

Not an engine: no tokenizer (a word is a token), no sampling, no preemption.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    @property
    def fake(self) -> OpenAIStandIn:
        return self.server.fake  # type: ignore[attr-defined]

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        if self.fake.dead:
            self.close_connection = True
            return
        if self.path == "/metrics":
            self._send(200, self.fake.metrics().encode(), "text/plain; version=0.0.4")
        elif self.path == "/v1/models":
            self._send(200, json.dumps({"object": "list", "data": [{"id": self.fake.model, "object": "model"}]})
                       .encode(), "application/json")
        else:
            self._send(404, b"{}", "application/json")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.fake.dead or self.path != "/v1/chat/completions":
            self.close_connection = True
            return
        self.fake.handle_chat(self, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass   # a client that hangs up (the load test ends, a keep-alive is dropped) is no failure here


class OpenAIStandIn:
    """Start with ``with OpenAIStandIn(kv_tokens=..., ...) as s:``; ``s.url`` is the base URL."""

    def __init__(self, *, model: str = "Qwen/Qwen3-8B", kv_tokens: int = 20000, engine: str = "vllm",
                 block_size: int = 16, token_delay: float = 0.002, ttft: float = 0.02, die_after: int | None = None,
                 max_model_len: int = 40960, on_die: Any = None) -> None:
        self.model = model
        self.kv_tokens = kv_tokens
        self.engine = engine
        self.block_size = block_size
        self.token_delay = token_delay
        self.ttft = ttft
        self.die_after = die_after
        self.max_model_len = max_model_len
        self.on_die = on_die   # called once when the engine dies (a test marks the pod restarted / OOMKilled)
        self.dead = False
        self.used = 0
        self.peak = 0.0
        self.started = 0
        self.completed = 0
        self.prompts: list[int] = []
        self._lock = threading.Condition()
        self._server: _Server | None = None

    # ---- lifecycle
    def __enter__(self) -> OpenAIStandIn:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.dead = True
            self._lock.notify_all()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ---- engine view
    def usage(self) -> float:
        return self.used / self.kv_tokens

    def metrics(self) -> str:
        with self._lock:
            u = self.usage()
        if self.engine == "sglang":
            return ("# HELP sglang:token_usage The token usage\n# TYPE sglang:token_usage gauge\n"
                    f'sglang:token_usage{{model_name="{self.model}"}} {u}\n')
        blocks = self.kv_tokens // self.block_size
        return ("# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n"
                "# TYPE vllm:kv_cache_usage_perc gauge\n"
                f'vllm:kv_cache_usage_perc{{engine="0",model_name="{self.model}"}} {u}\n'
                "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n"
                "# TYPE vllm:cache_config_info gauge\n"
                f'vllm:cache_config_info{{block_size="{self.block_size}",engine="0",'
                f'num_gpu_blocks="{blocks}"}} 1.0\n')

    def _hold(self, n: int) -> bool:
        with self._lock:
            self.used += n
            self.peak = max(self.peak, self.usage())
            return not self.dead

    def handle_chat(self, h: _Handler, body: dict[str, Any]) -> None:
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
        gen = int(body.get("max_tokens") or 16)
        if prompt + gen > self.max_model_len:
            h._send(400, json.dumps({"error": {"message": f"This model's maximum context length is "
                                                          f"{self.max_model_len} tokens"}}).encode(),
                    "application/json")
            return
        with self._lock:
            self.started += 1
            number = self.started
            self.prompts.append(prompt)
            while not self.dead and self.used + prompt + gen > self.kv_tokens and self.used > 0:
                self._lock.wait(0.05)   # the scheduler queues what does not fit
        if self.die_after is not None and number > self.die_after and not self.dead:
            if self.on_die:
                threading.Thread(target=self.on_die, daemon=True).start()   # the kubelet notices a bit later
            self.dead = True
        if self.dead:
            h.close_connection = True
            return
        held = prompt
        self._hold(prompt)
        try:
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()

            def chunk(data: str) -> None:
                raw = f"data: {data}\n\n".encode()
                h.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
                h.wfile.flush()

            time.sleep(self.ttft)
            for i in range(gen):
                if self.dead:
                    raise ConnectionResetError("engine died")
                if not self._hold(1):
                    raise ConnectionResetError("engine died")
                held += 1
                chunk(json.dumps({"id": "c", "object": "chat.completion.chunk", "model": self.model,
                                  "choices": [{"index": 0, "delta": {"content": f" w{i}"}, "finish_reason": None}]}))
                time.sleep(self.token_delay)
            chunk(json.dumps({"id": "c", "object": "chat.completion.chunk", "model": self.model,
                              "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}))
            if (body.get("stream_options") or {}).get("include_usage"):
                chunk(json.dumps({"id": "c", "object": "chat.completion.chunk", "model": self.model, "choices": [],
                                  "usage": {"prompt_tokens": prompt, "completion_tokens": gen,
                                            "total_tokens": prompt + gen}}))
            chunk("[DONE]")
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
            with self._lock:
                self.completed += 1
        except (ConnectionResetError, BrokenPipeError):
            h.close_connection = True
            try:
                h.connection.shutdown(2)
            except OSError:
                pass
        finally:
            with self._lock:
                self.used -= held
                self._lock.notify_all()
