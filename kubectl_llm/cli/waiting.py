"""The honest live progress line of `--wait`: Kubernetes state first, then the engine's own log.

Helm blocks until the release is ready (or rolls it back); meanwhile the main thread polls the release's pod and
its log and redraws one line on stderr: pending -> scheduled -> image pulled -> downloading weights (bytes) ->
loading -> KV cache allocated -> ready; "blocked" when a controller says why no pod can start (admission refused
it: FailedCreate; its claim is Pending on a storage class). Stdout is untouched, so `-o json` stays parseable.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, TypeVar

from kubectl_llm.adapters.cluster import Cluster, PodView
from kubectl_llm.cli.output import ProgressLine
from kubectl_llm.cli.progress import NO_POD, parse_engine_log, pod_stage
from kubectl_llm.errors import LlmError

T = TypeVar("T")
POLL_SECONDS = 3.0


def observe(cluster: Cluster, name: str, namespace: str, previous: frozenset[str] = frozenset()) -> tuple[str, str]:
    """(stage, detail) of the release's newest pod, reading its log only once a container runs.

    ``previous``: uids of the pods that existed before this helm call (an upgrade); they are not the progress being
    waited for, so an old, ready pod never makes an upgrade look done. By uid, not name: a LeaderWorkerSet's new pods
    take the old ones' names."""
    pods = cluster.pods(name, namespace)
    fresh = [p for p in pods if (p.uid or p.name) not in previous]
    leaders = [p for p in fresh if p.worker_index in (None, 0)]   # a group's leader runs the API server
    pod: PodView | None = (leaders or fresh)[-1] if fresh else None
    if pod is None or not pod.scheduled:
        # No pod, or one the scheduler cannot place: admission refusing pods (FailedCreate) or a claim that does
        # not bind is reported by the controllers, never on a pod.
        problems = cluster.workload_problems(name, namespace)
        if problems:
            return "blocked", "; ".join(p.text() for p in problems)
    if not fresh and pods:
        if pods[-1].group_index is not None:   # helm is done with a LeaderWorkerSet at once; its controller is not
            return "updating", (f"pod {pods[-1].name} from before this change still runs; waiting for the "
                                f"LeaderWorkerSet to replace it")
        return "updating", f"pod {pods[-1].name} from before this change still runs; waiting for helm"
    progress = None
    if pod is not None and any(c.state in ("running", "terminated") for c in pod.containers):
        progress = parse_engine_log(cluster.logs(pod.name, namespace, tail=300))
    return pod_stage(pod, progress)


def run_with_progress(work: Callable[[], T], cluster: Cluster, name: str, namespace: str,
                      poll: float | None = None) -> T:
    """Run ``work`` (the blocking helm call) in a thread while drawing the progress line; re-raise its error,
    with the last stage seen in its hint (why the wait timed out: e.g. no GPU node had room)."""
    poll = POLL_SECONDS if poll is None else poll
    result: dict[str, Any] = {}
    seen: tuple[str, str] | None = None  # the last observation of a pod (a failed wait's rollback deletes it)

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            result["error"] = exc

    try:
        previous = frozenset(p.uid or p.name for p in cluster.pods(name, namespace))
    except LlmError:
        previous = frozenset()
    thread = threading.Thread(target=target, name="helm", daemon=True)
    line = ProgressLine()
    started = time.monotonic()
    thread.start()

    def stamp() -> str:
        elapsed = int(time.monotonic() - started)
        return f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {name}"

    thread.join(min(poll, 1.0))  # a quick outcome (unchanged, or nothing to wait for) draws no intermediate line
    try:
        while thread.is_alive():
            try:
                stage, detail = observe(cluster, name, namespace, previous)
            except LlmError as exc:
                stage, detail = "waiting", exc.message
            if detail != NO_POD:
                seen = (stage, detail)
            line.update(f"{stamp()}: {stage} - {detail}", key=f"{stage}{detail}")
            thread.join(poll)
        if "error" not in result:  # helm waited for every object, the engine's readiness probe included
            line.update(f"{stamp()}: ready - every object of the release is ready", key="ready")
    finally:
        line.done()
    if "error" in result:
        error = result["error"]
        if isinstance(error, LlmError) and seen and seen[0] != "ready":  # only what was really observed
            error.hint = f"the pod was last seen {seen[0]}: {seen[1]}" + (f"; {error.hint}" if error.hint else "")
        raise error
    return result["value"]
