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

from kubectl_llm.adapters.kubeconfig import KubeconfigError, load_kubeconfig
from kubectl_llm.errors import ClusterError, ClusterUnreachable, LlmError, MissingCRDs, PermissionDenied, ReleaseNotFound

T = TypeVar("T")

# Labels every chart object carries (Helm's standard labels): how we find a release's pods. The component keeps the
# `helm test` Pod (same instance label) out of status, logs and the --wait line.
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
# API groups the llm-model chart's gateway objects need (AIGatewayRoute/AIServiceBackend, Backend).
GATEWAY_GROUPS = ("aigateway.envoyproxy.io", "gateway.envoyproxy.io")
LWS_GROUP = "leaderworkerset.x-k8s.io"
LWS_LABEL = "leaderworkerset.sigs.k8s.io"          # the labels the LWS controller puts on its pods
REVISION_LABEL = f"{LWS_LABEL}/template-revision-hash"   # the group's template revision (names survive updates)
LWS_INSTALL_HINT = ("a cluster admin installs LeaderWorkerSet (controller + CRD, v0.10.0 or newer): kubectl apply "
                    "--server-side -f https://github.com/kubernetes-sigs/lws/releases/download/v0.10.0/manifests.yaml"
                    "; or plan fewer GPUs with --nodes 1")


def resolve_namespace(namespace: str | None, kubeconfig: str | None, context: str | None) -> str:
    """kubectl's rule: -n wins, else the (chosen or current) context's namespace, else 'default'. No network, and
    no ``kubernetes`` import (adapters/kubeconfig.py reads the files as kubectl does)."""
    if namespace:
        return namespace
    try:
        config = load_kubeconfig(kubeconfig)
    except KubeconfigError:  # an unreadable kubeconfig: 'default', as before; a command that connects reports it
        return "default"
    if config is None:       # no kubeconfig at all: kubectl's 'default' too
        return "default"
    try:
        return config.namespace(context) or "default"
    except KeyError:
        raise _unknown_context(context) from None


def _unknown_context(context: str | None) -> ClusterUnreachable:
    return ClusterUnreachable(f"context {context!r} not found in the kubeconfig",
                              "'kubectl config get-contexts' lists them")


def connection_problem(kubeconfig: str | None, context: str | None) -> ClusterUnreachable | None:
    """What is wrong with the connection flags themselves, if anything: a --kubeconfig file that does not exist, a
    --context the kubeconfig does not define. Checked before (or after a failed) connection, so each mistake is
    one message whether helm or the kubernetes client met it first (they word both differently)."""
    if kubeconfig and not os.path.isfile(os.path.expanduser(kubeconfig)):
        return ClusterUnreachable(f"kubeconfig file {kubeconfig} does not exist (--kubeconfig)",
                                  "pass an existing file, or drop --kubeconfig to use $KUBECONFIG, then "
                                  "~/.kube/config")
    if context:
        try:
            config = load_kubeconfig(kubeconfig)
        except KubeconfigError:
            return None     # the client's own error on the file is the one to show
        if config is None or context not in config.contexts:
            return _unknown_context(context)
    return None


def current_context(kubeconfig: str | None, context: str | None) -> str | None:
    """The context a connection uses: --context, else the current context by kubectl's rules (None: let the
    client decide, e.g. when the kubeconfig cannot be read and its own error is the one to show)."""
    if context:
        return context
    try:
        config = load_kubeconfig(kubeconfig)
    except KubeconfigError:
        return None
    return config.current_context if config else None


_LIFECYCLE = {reason: i for i, reason in enumerate(
    ("Scheduled", "FailedScheduling", "Pulling", "Pulled", "Created", "Started", "Unhealthy", "Killing"))}

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
    uid: str = ""                          # a pod replaced under the same name (LWS) has a new uid
    revision: str | None = None            # LWS pods: the template revision they were made from


@dataclass(frozen=True)
class ReplicaStatus:
    """Ready / desired copies of a release's inference workload (Deployment pods, or LeaderWorkerSet groups).

    ``updated``: copies made from the workload's current template (None: not reported). ``observed``: the controller
    has seen the latest spec (status.observedGeneration); until then the counts describe the previous spec."""

    kind: str | None                       # Deployment | StatefulSet | LeaderWorkerSet | None (no workload found)
    desired: int
    ready: int
    updated: int | None = None
    pods_per_replica: int = 1
    observed: bool = True

    @property
    def missing(self) -> bool:
        return self.kind is None

    @property
    def rolled_out(self) -> bool:
        """Every desired copy runs the current template and is ready: what --wait waits for."""
        return (not self.missing and self.observed and self.ready >= self.desired
                and (self.updated is None or self.updated >= self.desired))

    def to_dict(self) -> dict[str, Any]:
        return {"ready": self.ready, "desired": self.desired, "updated": self.updated,
                "pods_per_replica": self.pods_per_replica, "workload": self.kind or "missing"}


def _observed(obj: dict[str, Any]) -> bool:
    """status.observedGeneration caught up with metadata.generation; True when the controller reports none."""
    seen = (obj.get("status") or {}).get("observedGeneration")
    return seen is None or int(seen) >= int((obj.get("metadata") or {}).get("generation") or 0)


def replica_status(kind: str | None, workload: dict[str, Any] | None, pods: list[PodView], *, desired: int = 1,
                   size: int = 1) -> ReplicaStatus:
    """Ready/desired of one release, pure. ``workload``: the Deployment or LeaderWorkerSet as the API returns it
    (None: not found, then 0/``desired``); ``pods``: the release's inference pods.

    Deployment: status.readyReplicas / spec.replicas, updatedReplicas of the current ReplicaSet; StatefulSet: the
    same fields (updatedReplicas = pods of the update revision).
    LeaderWorkerSet: a group is ready when all its ``size`` pods exist and are Ready, all of one template revision
    (pods keep their names across an update: an old group is still Ready while the new one is on its way); ready is
    the smaller of that count and status.readyReplicas, updated is status.updatedReplicas (groups of the current
    revision), and until status.observedGeneration reaches the spec's generation no group counts as updated."""
    if workload is None or kind is None:
        return ReplicaStatus(None, desired, 0, 0, size)
    spec, status = workload.get("spec") or {}, workload.get("status") or {}
    desired = int(spec["replicas"]) if spec.get("replicas") is not None else 1
    observed = _observed(workload)
    if kind in ("Deployment", "StatefulSet"):
        # a StatefulSet's updatedReplicas counts the pods of its update revision, like a Deployment's current
        # ReplicaSet; its pods keep their names across an update, so readiness is the controller's count too
        return ReplicaStatus(kind, desired, int(status.get("readyReplicas") or 0),
                             int(status.get("updatedReplicas") or 0) if observed else 0, 1, observed)
    size = int((spec.get("leaderWorkerTemplate") or {}).get("size") or 1)
    groups: dict[int, list[PodView]] = {}
    for p in pods:
        if p.group_index is not None:
            groups.setdefault(p.group_index, []).append(p)
    ready = sum(1 for g in groups.values()
                if len(g) == size and all(p.ready for p in g) and len({p.revision for p in g}) == 1)
    if status.get("readyReplicas") is not None:
        ready = min(ready, int(status["readyReplicas"]))
    updated = int(status.get("updatedReplicas") or 0) if observed else 0
    return ReplicaStatus(kind, desired, ready, updated, size, observed)


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
            problem = connection_problem(self.kubeconfig, self.context)
            if problem is not None:
                raise problem
            try:
                # never None: the client's own default is $KUBECONFIG as it was when `kubernetes` was first
                # imported (KUBE_CONFIG_DEFAULT_LOCATION), not as it is now
                config.load_kube_config(config_file=self.kubeconfig or os.environ.get("KUBECONFIG")
                                        or os.path.expanduser("~/.kube/config"),
                                        context=current_context(self.kubeconfig, self.context),
                                        client_configuration=configuration,
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

    def inference_workloads(self, namespace: str | None, release: str | None = None
                            ) -> dict[tuple[str, str], tuple[str | None, dict[str, Any] | None, list[PodView]]]:
        """(namespace, release) -> (kind, workload as the API returns it, its inference pods), for every release
        with a Deployment, StatefulSet or LeaderWorkerSet in ``namespace`` (None: every namespace). A cluster
        without the LeaderWorkerSet CRD simply has none. Four list calls, however many releases. A release caught
        between two kinds (an upgrade that turns its Deployment into a StatefulSet) is reported by the newer one
        that is not being deleted."""
        from kubernetes import client

        selector = f"{COMPONENT_LABEL}=inference" + (f",{INSTANCE_LABEL}={release}" if release else "")
        apps, custom = client.AppsV1Api(self._client()), client.CustomObjectsApi(self._client())
        sanitize = self._client().sanitize_for_serialization
        if namespace:
            deps = self._call(lambda: apps.list_namespaced_deployment(namespace, label_selector=selector,
                                                                      _request_timeout=15)).items
            sets = self._call(lambda: apps.list_namespaced_stateful_set(namespace, label_selector=selector,
                                                                        _request_timeout=15)).items
            pods = self._call(lambda: self.core.list_namespaced_pod(namespace, label_selector=selector,
                                                                    _request_timeout=15)).items
        else:
            deps = self._call(lambda: apps.list_deployment_for_all_namespaces(label_selector=selector,
                                                                              _request_timeout=15)).items
            sets = self._call(lambda: apps.list_stateful_set_for_all_namespaces(label_selector=selector,
                                                                                _request_timeout=15)).items
            pods = self._call(lambda: self.core.list_pod_for_all_namespaces(label_selector=selector,
                                                                            _request_timeout=15)).items
        try:
            lwss = self._call(lambda: (custom.list_namespaced_custom_object(
                LWS_GROUP, "v1", namespace, "leaderworkersets", label_selector=selector, _request_timeout=15)
                if namespace else custom.list_cluster_custom_object(
                LWS_GROUP, "v1", "leaderworkersets", label_selector=selector, _request_timeout=15)))["items"]
        except ReleaseNotFound:  # 404: the CRD is not served
            lwss = []
        out: dict[tuple[str, str], tuple[str | None, dict[str, Any] | None, list[PodView]]] = {}
        found = [("Deployment", sanitize(d)) for d in deps] + [("StatefulSet", sanitize(d)) for d in sets] + \
            [("LeaderWorkerSet", o) for o in lwss]
        # the one not being deleted, then the newest: an upgrade between kinds briefly has both
        for kind, obj in sorted(found, key=lambda ko: (not (ko[1].get("metadata") or {}).get("deletionTimestamp"),
                                                       str((ko[1].get("metadata") or {}).get("creationTimestamp")))):
            meta = obj.get("metadata") or {}
            out[(meta.get("namespace") or "", (meta.get("labels") or {}).get(INSTANCE_LABEL, ""))] = (kind, obj, [])
        for pod in sorted(pods, key=lambda p: (str(p.metadata.creation_timestamp or ""), p.metadata.name)):
            key = (pod.metadata.namespace or "", (pod.metadata.labels or {}).get(INSTANCE_LABEL, ""))
            out.setdefault(key, (None, None, []))[2].append(pod_view(pod))
        return out

    def replicas(self, release: str, namespace: str, *, desired: int = 1, size: int = 1) -> ReplicaStatus:
        """Ready/desired copies of one release (see replica_status); ``desired``/``size`` count when it has no
        workload (the values' replicas and group.size)."""
        kind, obj, pods = self.inference_workloads(namespace, release).get((namespace, release), (None, None, []))
        return replica_status(kind, obj, pods, desired=desired, size=size)

    def events(self, pod: str, namespace: str, limit: int = 8, kind: str = "Pod") -> list[EventView]:
        """Events of one object (a Pod unless ``kind`` says otherwise: a Deployment and its PVC share a name)."""
        result = self._call(lambda: self.core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={pod},involvedObject.kind={kind}", _request_timeout=15))
        views = [EventView(type=e.type or "", reason=e.reason or "", message=(e.message or "").strip(),
                           count=e.count or 1,
                           last=str(e.last_timestamp or e.event_time or e.first_timestamp or ""))
                 for e in result.items]
        # Events of one second have equal timestamps and come back in no particular order: within a second, the
        # order a pod lives them in (scheduled, pulled, created, started), then by reason and text.
        return sorted(views, key=lambda e: (e.last, _LIFECYCLE.get(e.reason, len(_LIFECYCLE)), e.reason,
                                            e.message))[-limit:]

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

    def workload_problems(self, release: str, namespace: str) -> list[Problem]:
        """Why the release's pod does not exist or cannot start, as the controllers report it: a ReplicaSet or
        StatefulSet whose pods admission refuses (FailedCreate: missing PriorityClass, quota, Pod Security), a claim
        Pending on its storage class (ProvisioningFailed), a claim still Terminating. Kubernetes shows none of these
        on a pod."""
        from kubernetes import client

        apps = client.AppsV1Api(self._client())
        selector = f"{INSTANCE_LABEL}={release}"
        problems: list[Problem] = []
        sets = self._call(lambda: apps.list_namespaced_replica_set(
            namespace, label_selector=f"{selector},{COMPONENT_LABEL}=inference", _request_timeout=15)).items
        for rs in sets:
            if not (rs.spec and rs.spec.replicas):
                continue  # an old pod template, scaled to zero
            failed = [c for c in (rs.status.conditions or []) if c.type == "ReplicaFailure" and c.status == "True"]
            created = [e for e in self.events(rs.metadata.name, namespace, kind="ReplicaSet")
                       if e.reason == "FailedCreate"]
            missing = (rs.status.replicas or 0) < rs.spec.replicas   # events outlive the failure: only when short
            if failed or (created and missing):
                message = created[-1].message if created else failed[0].message or ""
                problems.append(Problem("ReplicaSet", rs.metadata.name, "FailedCreate", message,
                                        created[-1].count if created else 1))
        # A StatefulSet creates its pods itself: admission's refusal is an event on the set while it is short of pods
        for sts in self._call(lambda: apps.list_namespaced_stateful_set(
                namespace, label_selector=f"{selector},{COMPONENT_LABEL}=inference", _request_timeout=15)).items:
            short = (sts.status.replicas if sts.status else 0) or 0
            if sts.spec and (sts.spec.replicas or 0) > short:
                created = [e for e in self.events(sts.metadata.name, namespace, kind="StatefulSet")
                           if e.reason == "FailedCreate"]
                if created:
                    problems.append(Problem("StatefulSet", sts.metadata.name, "FailedCreate", created[-1].message,
                                            created[-1].count))
        if not problems:  # the Deployment repeats its ReplicaSet's failure; read it when the ReplicaSet said none
            deps = self._call(lambda: apps.list_namespaced_deployment(
                namespace, label_selector=f"{selector},{COMPONENT_LABEL}=inference", _request_timeout=15)).items
            for dep in deps:
                for c in (dep.status.conditions if dep.status else None) or []:
                    if c.type == "ReplicaFailure" and c.status == "True":
                        problems.append(Problem("Deployment", dep.metadata.name, c.reason or "ReplicaFailure",
                                                c.message or ""))
        for pvc in self._call(lambda: self.core.list_namespaced_persistent_volume_claim(
                namespace, label_selector=selector, _request_timeout=15)).items:
            name = pvc.metadata.name
            if pvc.metadata.deletion_timestamp:
                users = self.claim_users(name, namespace)
                problems.append(Problem("PersistentVolumeClaim", name, "Terminating",
                                        "still terminating (finalizer kubernetes.io/pvc-protection)"
                                        + (f": pod {', '.join(users)} still mounts it" if users else "")))
            elif (pvc.status.phase if pvc.status else None) == "Pending":
                warnings = [e for e in self.events(name, namespace, kind="PersistentVolumeClaim")
                            if e.type == "Warning"]
                problems.append(Problem("PersistentVolumeClaim", name, warnings[-1].reason if warnings else "Pending",
                                        warnings[-1].message if warnings else
                                        f"Pending (storage class {pvc.spec.storage_class_name or 'default'})",
                                        warnings[-1].count if warnings else 1))
        return problems

    def claim_users(self, claim: str, namespace: str) -> list[str]:
        """Pods (not finished) that mount the claim: what keeps a deleted PVC Terminating."""
        pods = self._call(lambda: self.core.list_namespaced_pod(namespace, _request_timeout=15)).items
        return sorted(p.metadata.name for p in pods if (p.status and p.status.phase) not in ("Succeeded", "Failed")
                      and any(v.persistent_volume_claim and v.persistent_volume_claim.claim_name == claim
                              for v in (p.spec.volumes or [])))

    def terminating_claims(self, names: list[str], namespace: str) -> list[Problem]:
        """Of the named PVCs, those still Terminating (after `rm`), with the pods that hold them."""
        out: list[Problem] = []
        for name in names:
            try:
                pvc = self._call(lambda n=name: self.core.read_namespaced_persistent_volume_claim(
                    n, namespace, _request_timeout=10))
            except ReleaseNotFound:
                continue  # gone
            if pvc.metadata.deletion_timestamp:
                users = self.claim_users(name, namespace)
                out.append(Problem("PersistentVolumeClaim", name, "Terminating",
                                   "still terminating (finalizer kubernetes.io/pvc-protection)"
                                   + (f": pod {', '.join(users)} still mounts it; it goes when that pod has stopped"
                                      if users else "")))
        return out

    def kept_claim_class(self, name: str, namespace: str) -> str | None:
        """The storage class of PVC ``name`` when it exists and is not being deleted ("" = made with the cluster's
        default class), None otherwise: a claim an earlier rm --keep-cache left for the next add to adopt."""
        try:
            pvc = self._call(lambda: self.core.read_namespaced_persistent_volume_claim(
                name, namespace, _request_timeout=10))
        except LlmError:  # 404: no such claim; not readable: best effort, the install itself reports the cluster
            return None
        if pvc.metadata.deletion_timestamp:
            return None
        return (pvc.spec.storage_class_name if pvc.spec else None) or ""

    def secret_exists(self, name: str, namespace: str) -> bool | None:
        """Whether a Secret exists (its data is read by the API call but never kept); None when not readable."""
        try:
            self._call(lambda: self.core.read_namespaced_secret(name, namespace, _request_timeout=10))
        except ReleaseNotFound:  # 404
            return False
        except LlmError:
            return None
        return True

    def group_claims(self, release: str, namespace: str) -> list[str]:
        """The weights PVCs labelled with the release's instance: those a LeaderWorkerSet's or StatefulSet's
        volumeClaimTemplates made for its pods (cache-<pod>: not in the release's manifest), and the release's own
        PVC (the caller tells them apart), by the chart's instance label every claim carries."""
        items = self._call(lambda: self.core.list_namespaced_persistent_volume_claim(
            namespace, label_selector=f"{INSTANCE_LABEL}={release}", _request_timeout=15)).items
        return sorted(c.metadata.name for c in items if not c.metadata.deletion_timestamp)

    def orphan_claims(self, names: list[str], namespace: str) -> None:
        """Drop the owner references of the named PVCs, so deleting their LeaderWorkerSet or StatefulSet does not
        garbage-collect them: rm --keep-cache of replicas with a claim each."""
        for name in names:
            pvc = self._call(lambda n=name: self.core.read_namespaced_persistent_volume_claim(
                n, namespace, _request_timeout=10))
            if pvc.metadata.owner_references:
                self._call(lambda n=name: self.core.patch_namespaced_persistent_volume_claim(
                    n, namespace, [{"op": "remove", "path": "/metadata/ownerReferences"}], _request_timeout=10))

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

    def gateway(self, name: str, namespace: str, section: str | None = None) -> GatewayView:
        """The Gateway a release's route attaches to: does it exist, its first address (what users call), and the
        protocol and port of the listener the route names (``section``: its parentRef's sectionName; else the
        Gateway's first listener)."""
        try:
            gw = self._custom("gateway.networking.k8s.io", ("v1",), "gateways", name, namespace)
        except LlmError as exc:
            return GatewayView(name, namespace, found=None, address=None, problem=exc.message)
        if gw is None:
            return GatewayView(name, namespace, found=False, address=None)
        addresses = (gw.get("status") or {}).get("addresses") or []
        listeners = [lis for lis in (gw.get("spec") or {}).get("listeners") or [] if isinstance(lis, dict)]
        listener = next((lis for lis in listeners if section and lis.get("name") == section),
                        listeners[0] if listeners else {})
        port = listener.get("port")
        return GatewayView(name, namespace, found=True, address=addresses[0].get("value") if addresses else None,
                           protocol=str(listener.get("protocol") or ""),
                           port=int(port) if isinstance(port, int) else None,
                           hostname=str(listener.get("hostname") or ""))

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
class Problem:
    """Something a controller reported that keeps the release from running (see Cluster.workload_problems)."""

    kind: str
    name: str
    reason: str
    message: str
    count: int = 1

    def text(self) -> str:
        return f"{self.kind}/{self.name} {self.reason}: {self.message}" + (f" (x{self.count})" if self.count > 1
                                                                            else "")


@dataclass(frozen=True)
class GatewayView:
    name: str
    namespace: str
    found: bool | None          # None: could not be read (permissions, network)
    address: str | None
    problem: str = ""
    protocol: str = ""          # of the listener the route attaches to: HTTP, HTTPS, ...
    port: int | None = None
    hostname: str = ""          # that listener's hostname, when it names one

    @property
    def url(self) -> str | None:
        """The base URL users call: https for an HTTPS (or TLS) listener, its port unless the scheme's default
        (a Gateway's address is a bare IP or host name); None without an address. A listener that names a
        hostname (not a wildcard) is called by it: it routes only requests for that host (Gateway API), and its
        certificate is for that name, so the address would get a 404 or a TLS error."""
        if not self.address:
            return None
        if "://" in self.address:
            return self.address
        scheme = "https" if self.protocol.upper() in ("HTTPS", "TLS") else "http"
        default = 443 if scheme == "https" else 80
        # an IPv6 address (an IPAddress of an IPv6 or dual-stack cluster) goes in brackets (RFC 3986), else its
        # colons read as a port: http://fd00::10:8080
        host = f"[{self.address}]" if ":" in self.address and not self.address.startswith("[") else self.address
        if self.hostname and "*" not in self.hostname:
            host = self.hostname
        return f"{scheme}://{host}" + (f":{self.port}" if self.port and self.port != default else "")


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
        group_index=index("group-index"), worker_index=index("worker-index"), uid=str(pod.metadata.uid or ""),
        revision=labels.get(REVISION_LABEL))
