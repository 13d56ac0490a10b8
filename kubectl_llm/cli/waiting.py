"""The honest live progress line of `--wait`: Kubernetes state first, then the engine's own log.

Helm blocks until the release is ready (or rolls it back); meanwhile the main thread polls the release's pod and
its log and redraws one line on stderr: pending -> scheduled -> image pulled -> downloading weights (bytes) ->
loading -> KV cache allocated -> ready. Stdout is untouched, so `-o json` stays parseable.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, TypeVar

from kubectl_llm.adapters.cluster import Cluster, PodView
from kubectl_llm.cli.output import ProgressLine
from kubectl_llm.cli.progress import parse_engine_log, pod_stage
from kubectl_llm.errors import LlmError

T = TypeVar("T")
POLL_SECONDS = 3.0


def observe(cluster: Cluster, name: str, namespace: str) -> tuple[str, str]:
    """(stage, detail) of the release's newest pod, reading its log only once a container runs."""
    pods = cluster.pods(name, namespace)
    pod: PodView | None = pods[-1] if pods else None
    progress = None
    if pod is not None and any(c.state in ("running", "terminated") for c in pod.containers):
        progress = parse_engine_log(cluster.logs(pod.name, namespace, tail=300))
    return pod_stage(pod, progress)


def run_with_progress(work: Callable[[], T], cluster: Cluster, name: str, namespace: str,
                      poll: float = POLL_SECONDS) -> T:
    """Run ``work`` (the blocking helm call) in a thread while drawing the progress line; re-raise its error."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, name="helm", daemon=True)
    line = ProgressLine()
    started = time.monotonic()
    thread.start()
    try:
        while thread.is_alive():
            try:
                stage, detail = observe(cluster, name, namespace)
            except LlmError as exc:
                stage, detail = "waiting", exc.message
            elapsed = int(time.monotonic() - started)
            line.update(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {name}: {stage} - {detail}", key=f"{stage}{detail}")
            thread.join(poll)
    finally:
        line.done()
    if "error" in result:
        raise result["error"]
    return result["value"]
