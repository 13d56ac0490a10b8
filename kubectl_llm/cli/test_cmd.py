"""`kubectl llm test NAME`: the handbook's step 6, "test that the model works when a large part of the KV cache
has been filled through the prompts" (some models' memory use is volatile and they OOM only then).

Concurrent long streamed prompts go to the engine (a port-forward to the release's Service, or --url) until the
engine's own /metrics report the chosen share of the KV cache in use; the report has TTFT and tokens/s
percentiles, the peak KV usage, errors, and the pods' restarts / OOMKills during the run. Exit 1 on any error or
restart.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from typing import Any, Iterator

import click

from kubectl_llm import fleet, loadtest
from kubectl_llm.cli import options
from kubectl_llm.cli import output as out
from kubectl_llm.cli.session import Session
from kubectl_llm.errors import ClusterUnreachable, LlmError, ToolMissing, UsageError
from kubectl_llm.planner.rules import ENGINE_PORT


class TestFailed(LlmError):
    """The model answered with errors, or a pod restarted / was OOMKilled during the run."""

    exit_code = 1
    __test__ = False   # not a pytest test class


@contextlib.contextmanager
def port_forward(session: Session, service: str, port: int) -> Iterator[str]:
    """`kubectl port-forward svc/NAME :PORT` for the duration of the run; yields http://127.0.0.1:<local>."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise ToolMissing("kubectl not found on PATH (needed for the port-forward)",
                          "install kubectl, or pass --url with an address that reaches the engine")
    cmd = [kubectl, "port-forward", "-n", session.namespace, f"svc/{service}", f":{port}"]
    if session.kubeconfig:
        cmd += ["--kubeconfig", session.kubeconfig]
    if session.kube_context:
        cmd += ["--context", session.kube_context]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not m:
            err = (proc.stderr.read() if proc.stderr and proc.poll() is not None else "") or line
            raise UsageError(f"kubectl port-forward to svc/{service} failed: {err.strip() or 'no output'}",
                             "check 'kubectl llm status' (is the pod ready?), or pass --url")
        yield f"http://127.0.0.1:{m.group(1)}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def _bar(share: float | None, target: float, width: int = 24) -> str:
    if share is None:
        return "[" + "?" * width + "]"
    filled = min(width, int(round(share * width)))
    mark = min(width - 1, int(round(target * width)))
    cells = ["#" if i < filled else "-" for i in range(width)]
    cells[mark] = "|" if cells[mark] == "-" else cells[mark]
    return "[" + "".join(cells) + "]"


def _check_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An http(s) URL, checked before the run (every request would fail with the same error)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value) if value is not None else None
        bad = parts is not None and (parts.scheme not in ("http", "https") or not parts.hostname or
                                     parts.port is None and ":" in parts.netloc.rsplit("]", 1)[-1])
    except ValueError:   # 'http://[::1' (an unclosed IPv6 bracket), a port above 65535
        bad = True
    if bad:
        raise UsageError(f"--{param.name.replace('_', '-')} {value!r} is not an http(s) URL",  # type: ignore[union-attr]
                         "e.g. --url http://10.0.0.42:5000 (the engine) or the gateway's https URL with --model ROUTE")
    return value


@click.command("test", epilog="""\b
Examples:
  kubectl llm test qwen3-8b                       # fill 80% of the KV cache through a port-forward to the Service
  kubectl llm test qwen3-8b --fill 0.95 -o json   # closer to the limit, a report for scripts
  kubectl llm test qwen3-8b --url http://10.0.0.42 --model qwen3-8b --metrics-url http://127.0.0.1:5000/metrics

The KV cache size comes from the engine (vLLM's vllm:cache_config_info on /metrics, else the "GPU KV cache size"
line of its log), or --kv-tokens. Prompts are ~1 token per word, each one different from its first word so prefix
caching cannot share them; generation ignores EOS. KV usage is read from vllm:kv_cache_usage_perc
(vllm:gpu_cache_usage_perc on older vLLM) or SGLang's sglang:token_usage. Exit 1 when a request failed or a pod
restarted or was OOMKilled during the run; 6 when the engine answers neither /metrics nor /v1/models (before the
first request).
""")
@click.argument("name")
@click.option("--fill", type=click.FloatRange(0.05, 1.0), default=0.8, show_default=True,
              help="Share of the KV cache the prompts in flight should hold together.")
@click.option("--kv-tokens", type=click.IntRange(min=1), default=None, metavar="N",
              help="KV cache size in tokens (default: what the engine reports).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=256, show_default=True,
              help="Tokens generated per request.")
@click.option("--concurrency", type=click.IntRange(min=1), default=None, metavar="N",
              help="At most N requests in flight (default: what the engine runs at once: SGLang's "
                   "--max-running-requests, vLLM's --max-num-seqs x its DP ranks; else 256).")
@click.option("--requests", type=click.IntRange(min=1), default=None, metavar="N",
              help="At most N requests in all (default: two waves).")
@click.option("--url", default=None, metavar="URL", callback=_check_url,
              help="Send requests here (the engine, or the gateway with --model ROUTE) instead of a port-forward.")
@click.option("--metrics-url", default=None, metavar="URL", callback=_check_url,
              help="The engine's /metrics (default: <url>/metrics).")
@click.option("--model", "model_name", default=None, metavar="MODEL",
              help="Model name to send (default: the served name; through a gateway URL give the route name).")
@click.option("--request-timeout", type=click.FloatRange(min=1), default=600, show_default=True,
              help="Seconds one request may take.")
@click.option("--settle", type=click.FloatRange(min=0), default=20, show_default=True,
              help="After failed requests, seconds to watch the pods for the restart that explains them.")
@options.connection
@options.output("yaml", "json")
def test_command(name: str, fill: float, kv_tokens: int | None, max_tokens: int, concurrency: int | None,
                 requests: int | None, url: str | None, metrics_url: str | None, model_name: str | None,
                 request_timeout: float, settle: float, namespace: str | None, kube_context: str | None, kubeconfig: str | None,
                 output: str | None) -> None:
    """Fill a share of release NAME's KV cache with concurrent long prompts and report latency, throughput, peak
    KV usage, errors and pod restarts."""
    from kubectl_llm.adapters.inventory import release_pod_health
    from kubectl_llm.cli.release_cmds import require_model_release

    session = Session(namespace, kube_context, kubeconfig)
    ns = session.namespace
    require_model_release(session, name)
    values = session.helm.values(name, ns, computed=True)
    if fleet.release_kind(values) != fleet.MODE_MODEL:
        raise UsageError(f"release {name!r} is an {fleet.release_kind(values)}: it has no engine here to fill",
                         "test the releases it routes to")
    args = [str(a) for a in fleet.get_path(values, "engine.args") or []]
    max_model_len = fleet.context_window(values) or 4096
    cap = concurrency or fleet.engine_concurrency(args) or 256
    model = model_name or str(fleet.get_path(values, "model.servedName") or fleet.get_path(values, "model.id"))
    before = {p.uid: p for p in release_pod_health(session.cluster, name, ns)}

    with contextlib.ExitStack() as stack:
        base = url.rstrip("/") if url else stack.enter_context(
            port_forward(session, name, int(fleet.get_path(values, "service.port") or ENGINE_PORT)))
        murl = metrics_url or f"{base}/metrics"
        from kubectl_llm.adapters.loadgen import fetch_metrics, run, unreachable

        text = fetch_metrics(murl)
        why = unreachable(f"{base}/v1/models") if text is None else None
        if why:      # every request would fail the same way: say so once instead of running them
            raise ClusterUnreachable(f"cannot reach {base}/v1/models ({why})",
                                     f"is the engine up? 'kubectl llm status {name} -n {ns}'" +
                                     ("; check the --url address" if url else ""))
        kv_source = "--kv-tokens"
        if kv_tokens is None and text:
            kv_tokens, kv_source = loadtest.kv_usage(text)[2], "vllm:cache_config_info"
        if kv_tokens is None:
            kv_tokens, kv_source = _kv_from_log(session, name, ns), "engine log"
        if not kv_tokens:
            raise UsageError(f"the KV cache size of {name} is unknown (no vllm:cache_config_info on {murl}, no "
                             f"'GPU KV cache size' line in the engine log)", "pass --kv-tokens N")
        if text is None:
            out.warn(f"{murl} does not answer: the KV usage cannot be watched (the run still reports latency, "
                     f"errors and restarts)")
        sizing = loadtest.size(kv_tokens, fill, max_model_len, max_tokens, max_concurrency=cap, requests=requests)
        out.info(f"test {name}: {sizing.concurrency} concurrent requests of ~{sizing.prompt_words} prompt + "
                 f"{sizing.max_tokens} generated tokens to fill {fill:.0%} of {kv_tokens:,} KV tokens ({kv_source})")
        line = out.ProgressLine()
        started = time.monotonic()

        def progress(state: Any, total: int) -> None:
            done = len(state.results)
            errors = sum(not r.ok for r in state.results)
            peak = f"{state.peak:.0%}" if state.peak is not None else "?"
            line.update(f"KV {_bar(state.usage, fill)} {('%3.0f%%' % (state.usage * 100)) if state.usage is not None else '  ?'}"
                        f" (peak {peak}, target {fill:.0%}) | {done}/{total} requests | {errors} errors",
                        key=f"{done // max(1, sizing.concurrency)}-{errors}")

        state = run(base, murl if text is not None else None, model, sizing, request_timeout=request_timeout,
                    progress=progress)
        line.done()
    elapsed = time.monotonic() - started

    def health() -> tuple[int, list[str]]:
        after = release_pod_health(session.cluster, name, ns)
        restarts = sum(max(0, p.restarts - (before[p.uid].restarts if p.uid in before else 0)) for p in after) + \
            sum(1 for uid in before if uid not in {p.uid for p in after})
        return restarts, [p.name for p in after if p.oom_killed and (p.uid not in before
                                                                      or not before[p.uid].oom_killed)]

    restarts, oom = health()
    deadline = time.monotonic() + settle
    while not restarts and any(not r.ok for r in state.results) and time.monotonic() < deadline:
        time.sleep(0.5)   # requests failed: the kubelet reports a crashed engine's restart a few seconds later
        restarts, oom = health()
    results = state.results
    ok = [r for r in results if r.ok]
    passed, problems = loadtest.verdict(results, state.peak, fill, restarts, oom)
    total_tokens = sum(r.tokens for r in ok)
    doc = {
        "name": name, "namespace": ns, "model": model, "url": base, "passed": passed, "problems": problems,
        "sizing": sizing.to_dict(), "kv_tokens_source": kv_source,
        "kv_usage": {"metric": state.metric, "peak": round(state.peak, 4) if state.peak is not None else None,
                     "target": fill, "reached": state.peak is not None and state.peak >= fill * 0.95},
        "requests": {"sent": len(results), "ok": len(ok), "errors": len(results) - len(ok),
                     "first_errors": [r.error for r in results if not r.ok][:3]},
        "prompt_tokens": loadtest.percentiles([float(r.prompt_tokens) for r in ok if r.prompt_tokens]),
        "ttft_s": loadtest.percentiles([r.ttft for r in ok if r.ttft is not None]),
        "tokens_per_s": loadtest.percentiles([t for r in ok if (t := r.tokens_per_s) is not None]),
        "throughput_tokens_per_s": round(total_tokens / elapsed, 1) if elapsed > 0 else None,
        "seconds": round(elapsed, 2),
        "pods": {"restarts": restarts, "oom_killed": oom},
    }
    if output:
        out.data(doc, output)
    else:
        kv = doc["kv_usage"]
        peak_text = "-" if kv["peak"] is None else f"{kv['peak']:.1%}"
        pct = lambda d, k: "-" if d[k] is None else f"{d[k]:.3g}"  # noqa: E731
        out.text("\n".join([
            f"model      {name} ({model}) at {base}",
            f"load       {len(results)} requests, {sizing.concurrency} in flight, ~{sizing.prompt_words} prompt + "
            f"{sizing.max_tokens} generated tokens each, {elapsed:.1f}s",
            f"kv cache   peak {peak_text} of {kv_tokens:,} tokens (target {fill:.0%}"
            f"{', reached' if kv['reached'] else ', NOT reached'}){' from ' + kv['metric'] if kv['metric'] else ''}",
            f"ttft       p50 {pct(doc['ttft_s'], 'p50')}s  p90 {pct(doc['ttft_s'], 'p90')}s  "
            f"p99 {pct(doc['ttft_s'], 'p99')}s",
            f"tokens/s   p50 {pct(doc['tokens_per_s'], 'p50')}  p90 {pct(doc['tokens_per_s'], 'p90')}  "
            f"min {pct(doc['tokens_per_s'], 'min')} per request; {doc['throughput_tokens_per_s']} in all",
            f"errors     {doc['requests']['errors']}" + (f" (first: {doc['requests']['first_errors'][0]})"
                                                        if doc['requests']['errors'] else ""),
            f"pods       {restarts} restarts" + (f", OOMKilled: {', '.join(oom)}" if oom else ""),
            f"result     {'passed' if passed else 'FAILED'}"]))
    if not kv_reached_warning(doc):
        out.warn(f"the KV usage peaked at {doc['kv_usage']['peak']:.0%}, below the {fill:.0%} target: raise "
                 f"--requests/--concurrency or --kv-tokens")
    if not passed:
        raise TestFailed(f"{name} failed under load: " + "; ".join(problems),
                         f"kubectl llm status {name} -n {ns} (restarts, OOMKilled) and kubectl llm logs {name} -n {ns}")


def kv_reached_warning(doc: dict[str, Any]) -> bool:
    """True unless the usage was watched and stayed clearly below the target."""
    kv = doc["kv_usage"]
    return kv["peak"] is None or kv["reached"]


def _kv_from_log(session: Session, name: str, ns: str) -> int | None:
    from kubectl_llm.cli.progress import parse_engine_log

    pods = session.cluster.pods(name, ns)
    if not pods:
        return None
    progress = parse_engine_log(session.cluster.logs(pods[-1].name, ns, tail=2000))
    return getattr(progress, "kv_cache_tokens", None) if progress else None
