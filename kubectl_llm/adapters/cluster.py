"""The Kubernetes API, through the official ``kubernetes`` client (imported lazily: `plan` never pays for it).

Why here and not through kubectl: typed errors (401/403, connection refused) map to our own exceptions, and
pods/events/logs come back as data the status view can reason about. Connection flags follow kubectl:
``--kubeconfig`` (else $KUBECONFIG, else ~/.kube/config), ``--context`` (else the current context), and the
namespace defaults to the context's namespace, else ``default``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, TypeVar

from kubectl_llm.errors import ClusterError, ClusterUnreachable, LlmError, MissingCRDs, PermissionDenied, ReleaseNotFound

T = TypeVar("T")

# Labels every chart object carries (Helm's standard labels): how we find a release's pods. The component keeps the
# `helm test` Pod (same instance label) out of status, logs and the --wait line.
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
# API groups the llm-model chart's gateway objects need (AIGatewayRoute/AIServiceBackend, Backend).
GATEWAY_GROUPS = ("aigateway.envoyproxy.io", "gateway.envoyproxy.io")
LWS_GROUP = "leaderworkerset.x-k8s.io"
LWS_INSTALL_HINT = ("a cluster admin installs LeaderWorkerSet (controller + CRD, v0.10.0 or newer): kubectl apply "
                    "--server-side -f https://github.com/kubernetes-sigs/lws/releases/download/v0.10.0/manifests.yaml"
                    "; or plan fewer GPUs with --nodes 1")


def resolve_namespace(namespace: str | None, kubeconfig: str | None, context: str | None) -> str:
    """kubectl's rule: -n wins, else the (chosen or current) context's namespace, else 'default'. No network."""
    if namespace:
        return namespace
    try:
        from kubernetes import config

        # $KUBECONFIG read now, not when the kubernetes package was imported (its default is fixed at import).
        contexts, active = config.list_kube_config_contexts(
            config_file=kubeconfig or os.environ.get("KUBECONFIG") or None)
    except Exception:  # noqa: BLE001 - no/odd kubeconfig: kubectl falls back to 'default' too
        return "default"
    chosen = active
    if context:
        chosen = next((c for c in contexts or [] if c.get("name") == context), None)
        if chosen is None:
            raise ClusterUnreachable(f"context {context!r} not found in the kubeconfig",
                                     "'kubectl config get-contexts' lists them")
    return ((chosen or {}).get("context") or {}).get("namespace") or "default"


@dataclass(frozen=True)
class ContainerView:
    name: str
    ready: bool
    state: str            # running | waiting | terminated
    reason: str = ""      # ContainerCreating, ImagePullBackOff, CrashLoopBackOff, OOMKilled ...
    restarts: int = 0


@dataclass(frozen=True)
class PodView:
    """What `status` and the --wait line need from a pod, detached from the client's model classes."""

    name: str
    phase: str
    node: str | None
    scheduled: bool
    ready: bool
    containers: list[ContainerView] = field(default_factory=list)
    unschedulable_message: str = ""
    group_index: int | None = None         # LeaderWorkerSet pods: which copy (replica) and which rank;
    worker_index: int | None = None        # the leader is worker 0, the one that serves


@dataclass(frozen=True)
class EventView:
    type: str
    reason: str
    message: str
    count: int
    last: str


def _network_reason(exc: BaseException) -> str:
    """'Connection refused', 'Name or service not known', ... from a urllib3 MaxRetryError chain."""
    reason = getattr(exc, "reason", None) or exc
    text = next((a for a in reversed(getattr(reason, "args", ())) if isinstance(a, str)), str(reason))
    text = (text.splitlines() or [type(reason).__name__])[0]
    text = re.sub(r"^.*?\): (?=\w)", "", text)              # "HTTPConnection(host=..., port=...): " prefix
    text = text.removeprefix("Failed to establish a new connection: ")
    return re.sub(r"\[Errno -?\d+\] ", "", text)


def map_api_error(exc: BaseException, host: str | None = None) -> LlmError:
    """kubernetes/urllib3 exceptions -> our errors (401/403 -> PermissionDenied, network -> ClusterUnreachable)."""
    if isinstance(exc, LlmError):
        return exc
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", "") or ""
    if status in (401, 403):
        return PermissionDenied(f"permission denied by the API server ({status} {reason})".strip())
    if status == 404:
        return ReleaseNotFound(f"not found: {reason or exc}")
    if isinstance(status, int):
        return ClusterError(f"the API server answered {status} {reason}".strip())
    name = type(exc).__name__
    if name in ("ConfigException",):
        return ClusterUnreachable(f"no usable kubeconfig: {exc}",
                                  "pass --kubeconfig PATH or set KUBECONFIG; 'kubectl config view' shows it")
    if name in ("MaxRetryError", "NewConnectionError", "ConnectTimeoutError", "ProtocolError", "SSLError"):
        where = f" at {host}" if host else ""
        return ClusterUnreachable(f"cannot reach the cluster{where}: {_network_reason(exc)[:200]}")
    text = str(exc).splitlines()[0] if str(exc) else name
    return ClusterUnreachable(f"cannot reach the cluster: {text[:200]}")


class Cluster:
    """A connection to one cluster (kubeconfig + context), created lazily on first API call."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self._api_client: Any = None

    def _client(self) -> Any:
        if self._api_client is None:
            from kubernetes import client, config

            configuration = client.Configuration()
            try:
                config.load_kube_config(config_file=self.kubeconfig or os.environ.get("KUBECONFIG") or None,
                                        context=self.context, client_configuration=configuration,
                                        persist_config=False)
            except Exception as exc:  # noqa: BLE001
                raise map_api_error(exc) from exc
            configuration.retries = 1  # fail fast on an unreachable server (read when the pool is built)
            self._api_client = client.ApiClient(configuration=configuration)
        return self._api_client

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except LlmError:
            raise
        except Exception as exc:  # noqa: BLE001 - ApiException, urllib3 errors, socket errors
            host = self._api_client.configuration.host if self._api_client is not None else None
            raise map_api_error(exc, host) from exc

    @property
    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self._client())

    # --- checks ----------------------------------------------------------------------------------------------
    def missing_gateway_groups(self) -> list[str]:
        """API groups of GATEWAY_GROUPS the server does not serve (discovery is readable by every user)."""
        from kubernetes import client

        groups = self._call(lambda: client.ApisApi(self._client()).get_api_versions(_request_timeout=10))
        served = {g.name for g in groups.groups or []}
        return [g for g in GATEWAY_GROUPS if g not in served]

    def require_lws_crd(self) -> None:
        """A model spanning nodes is a LeaderWorkerSet: refuse before Helm installs half of the release."""
        from kubernetes import client

        groups = self._call(lambda: client.ApisApi(self._client()).get_api_versions(_request_timeout=10))
        if LWS_GROUP not in {g.name for g in groups.groups or []}:
            raise MissingCRDs(f"the cluster does not serve {LWS_GROUP} (the LeaderWorkerSet CRD a model spanning "
                              f"nodes needs)", LWS_INSTALL_HINT)

    def require_gateway_crds(self) -> None:
        missing = self.missing_gateway_groups()
        if missing:
            raise MissingCRDs(f"the cluster does not serve {', '.join(missing)} (Envoy AI Gateway CRDs missing)")

    # --- reads -----------------------------------------------------------------------------------------------
    def pods(self, release: str, namespace: str) -> list[PodView]:
        """The release's inference pods, oldest first (the last one is the newest, e.g. after an upgrade)."""
        result = self._call(lambda: self.core.list_namespaced_pod(
            namespace, label_selector=f"{INSTANCE_LABEL}={release},{COMPONENT_LABEL}=inference",
            _request_timeout=15))
        oldest_first = sorted(result.items, key=lambda p: (str(p.metadata.creation_timestamp or ""), p.metadata.name))
        return [pod_view(p) for p in oldest_first]

    def events(self, pod: str, namespace: str, limit: int = 8) -> list[EventView]:
        result = self._call(lambda: self.core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={pod}", _request_timeout=15))
        views = [EventView(type=e.type or "", reason=e.reason or "", message=(e.message or "").strip(),
                           count=e.count or 1,
                           last=str(e.last_timestamp or e.event_time or e.first_timestamp or ""))
                 for e in result.items]
        return sorted(views, key=lambda e: e.last)[-limit:]

    def logs(self, pod: str, namespace: str, *, tail: int | None = 400, container: str | None = None) -> str:
        def read() -> str:
            return self.core.read_namespaced_pod_log(pod, namespace, container=container, tail_lines=tail,
                                                     _request_timeout=30)

        try:
            return read()
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "status", None) in (400, 404):  # 400: "container ... is waiting to start"
                return ""
            raise map_api_error(exc) from exc

    def follow_logs(self, pod: str, namespace: str, *, tail: int | None = None,
                    container: str | None = None) -> Iterator[str]:
        """Stream log lines as they come (logs -f); ends when the container stops."""
        resp = self._call(lambda: self.core.read_namespaced_pod_log(
            pod, namespace, container=container, follow=True, tail_lines=tail, _preload_content=False))
        try:
            for chunk in resp.stream():
                yield chunk.decode(errors="replace")
        finally:
            resp.release_conn()

    def secret_exists(self, name: str, namespace: str) -> bool | None:
        """Whether a Secret exists (its data is read by the API call but never kept); None when not readable."""
        try:
            self._call(lambda: self.core.read_namespaced_secret(name, namespace, _request_timeout=10))
        except ReleaseNotFound:  # 404
            return False
        except LlmError:
            return None
        return True

    def delete_pvc(self, name: str, namespace: str) -> None:
        """Delete a PVC Helm left behind on purpose (resource-policy keep); absent is fine."""
        try:
            self.core.delete_namespaced_persistent_volume_claim(name, namespace, _request_timeout=30)
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "status", None) != 404:
                raise map_api_error(exc) from exc

    def labelled_objects(self, label_selector: str, namespace: str) -> list[str]:
        """Every object in ``namespace`` still carrying a label, over all listable namespaced resources the server
        serves at their preferred version (discovery through the client's DynamicClient: core, apps, the gateway
        CRDs, anything else); the e2e 'nothing left behind' check. Kinds this user may not list are skipped."""
        import tempfile

        from kubernetes.dynamic import DynamicClient
        from kubernetes.dynamic.resource import ResourceList

        found: list[str] = []
        with tempfile.TemporaryDirectory() as tmp:  # a fresh discovery cache: never a stale list of kinds
            dyn = self._call(lambda: DynamicClient(self._client(), cache_file=f"{tmp}/discovery.json"))
            resources = self._call(lambda: dyn.resources.search(preferred=True, namespaced=True))
            for res in resources:
                if isinstance(res, ResourceList) or "/" in (res.name or "") or "list" not in (res.verbs or []):
                    continue
                try:
                    items = self._call(lambda res=res: res.get(namespace=namespace, label_selector=label_selector,
                                                               _request_timeout=30)).items
                except PermissionDenied:
                    continue
                found += [f"{res.kind}/{item.metadata.name}" for item in items]
        return sorted(found)

    def _custom(self, group: str, versions: tuple[str, ...], plural: str, name: str,
                namespace: str) -> dict[str, Any] | None:
        """One custom object at the first served version; None when absent. Other failures raise our errors."""
        from kubernetes import client

        api = client.CustomObjectsApi(self._client())
        for version in versions:
            try:
                return self._call(lambda v=version: api.get_namespaced_custom_object(
                    group, v, namespace, plural, name, _request_timeout=10))
            except ReleaseNotFound:  # 404: this version is not served, or the object does not exist
                continue
        return None

    def gateway(self, name: str, namespace: str) -> GatewayView:
        """The Gateway a release's route attaches to: does it exist, and its first address (what users call)."""
        try:
            gw = self._custom("gateway.networking.k8s.io", ("v1",), "gateways", name, namespace)
        except LlmError as exc:
            return GatewayView(name, namespace, found=None, address=None, problem=exc.message)
        if gw is None:
            return GatewayView(name, namespace, found=False, address=None)
        addresses = (gw.get("status") or {}).get("addresses") or []
        return GatewayView(name, namespace, found=True, address=addresses[0].get("value") if addresses else None)

    def route(self, name: str, namespace: str) -> RouteView:
        """The AIGatewayRoute's reconciliation condition, set by the AI Gateway controller (Accepted/NotAccepted)."""
        try:
            obj = self._custom("aigateway.envoyproxy.io", ("v1beta1", "v1alpha1"), "aigatewayroutes", name, namespace)
        except LlmError as exc:
            return RouteView(found=None, accepted=None, message=exc.message)
        if obj is None:
            return RouteView(found=False, accepted=None, message="")
        conditions = sorted((obj.get("status") or {}).get("conditions") or [],
                            key=lambda c: str(c.get("lastTransitionTime") or ""))
        if not conditions:
            return RouteView(found=True, accepted=None, message="")
        last = conditions[-1]
        accepted = last.get("type") == "Accepted" and str(last.get("status")) == "True"
        return RouteView(found=True, accepted=accepted, message=str(last.get("message") or last.get("reason") or ""))


@dataclass(frozen=True)
class GatewayView:
    name: str
    namespace: str
    found: bool | None          # None: could not be read (permissions, network)
    address: str | None
    problem: str = ""


@dataclass(frozen=True)
class RouteView:
    found: bool | None          # None: could not be read
    accepted: bool | None       # None: no condition yet (controller has not reconciled it)
    message: str


def pod_view(pod: Any) -> PodView:
    """Flatten a V1Pod into a PodView (pure; tests can pass the client's model objects or fakes)."""
    status = pod.status
    conditions = {c.type: c for c in (status.conditions or [])}
    sched = conditions.get("PodScheduled")
    containers = []
    for cs in status.container_statuses or []:
        state, reason = "waiting", ""
        if cs.state and cs.state.running:
            state = "running"
        elif cs.state and cs.state.terminated:
            state, reason = "terminated", cs.state.terminated.reason or ""
        elif cs.state and cs.state.waiting:
            reason = cs.state.waiting.reason or ""
        containers.append(ContainerView(cs.name, bool(cs.ready), state, reason, cs.restart_count or 0))
    ready = conditions.get("Ready")
    labels = pod.metadata.labels or {}

    def index(key: str) -> int | None:
        value = labels.get(f"leaderworkerset.sigs.k8s.io/{key}")
        return int(value) if value is not None and str(value).isdigit() else None

    return PodView(
        name=pod.metadata.name, phase=status.phase or "Unknown", node=pod.spec.node_name,
        scheduled=bool(sched and sched.status == "True"), ready=bool(ready and ready.status == "True"),
        containers=containers,
        unschedulable_message=(sched.message or "") if sched and sched.status != "True" else "",
        group_index=index("group-index"), worker_index=index("worker-index"))
