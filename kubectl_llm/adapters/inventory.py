"""Cluster reads of the fleet commands: Secret key names, GPU nodes and their load, pod restarts.

Why a module beside cluster.py: these are reads only the fleet commands need (`add --external`, `gpus --cluster`,
`test`); they go through the same `Cluster` connection and error mapping (401/403 -> PermissionDenied, network ->
ClusterUnreachable) and return plain data, never the client's model objects. Secret values are never kept: only the
key names of a Secret are returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubectl_llm.adapters.cluster import COMPONENT_LABEL, INSTANCE_LABEL, Cluster
from kubectl_llm.errors import LlmError, ReleaseNotFound


def secret_keys(cluster: Cluster, name: str, namespace: str) -> set[str] | bool | None:
    """The key names of a Secret (values dropped at once); False when it does not exist, None when unreadable."""
    try:
        secret = cluster._call(lambda: cluster.core.read_namespaced_secret(name, namespace, _request_timeout=10))
    except ReleaseNotFound:
        return False
    except LlmError:
        return None
    keys = set((secret.data or {}).keys()) | set((secret.string_data or {}).keys())
    del secret
    return keys


# --- GPU nodes -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeGpus:
    """One node's GPUs as its labels and status say (gpu-feature-discovery / NFD labels)."""

    name: str
    product: str | None              # nvidia.com/gpu.product, e.g. NVIDIA-A100-SXM4-80GB
    memory_mib: int | None           # nvidia.com/gpu.memory (MiB)
    count: int | None                # nvidia.com/gpu.count
    driver_major: int | None         # nvidia.com/cuda.driver.major (or .driver-version.major)
    resource: str                    # the extended resource that carries the GPUs (nvidia.com/gpu, nvidia.com/a100)
    allocatable: int
    requested: int
    taints: list[dict[str, str]] = field(default_factory=list)
    unschedulable: bool = False
    ready: bool = True
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def free(self) -> int:
        return max(0, self.allocatable - self.requested)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def is_gpu_resource(key: str, resources: Iterable[str] = ()) -> bool:
    """An extended resource that counts GPUs: nvidia.com/*, amd.com/gpu, or one the site's GPU catalog requests
    (``resources``: e.g. habana.ai/gaudi, gpu.intel.com/i915)."""
    return key.startswith("nvidia.com/") or key == "amd.com/gpu" or key in resources


def _gpu_resource(allocatable: dict[str, Any], resources: Iterable[str] = ()) -> tuple[str, int]:
    """The node's GPU extended resource: nvidia.com/gpu, else amd.com/gpu, else another GPU resource (a site
    catalog's, or nvidia.com/*) with a count."""
    for key in ("nvidia.com/gpu", "amd.com/gpu"):
        if _int(allocatable.get(key)):
            return key, int(allocatable[key])
    for key, value in sorted(allocatable.items()):
        if is_gpu_resource(key, resources) and _int(value):
            return key, int(value)
    return "nvidia.com/gpu", 0


PRODUCT, MEMORY, COUNT, DRIVER = ("nvidia.com/gpu.product", "nvidia.com/gpu.memory", "nvidia.com/gpu.count",
                                  "nvidia.com/cuda.driver.major")


def node_gpus(node: dict[str, Any], requested: dict[str, dict[str, int]], keys: Any = None,
              resources: Iterable[str] = ()) -> NodeGpus | None:
    """A node (as a dict) -> NodeGpus, or None when it has no GPU label and no GPU resource. ``keys``: the site's
    node-label keys (gpu_product, gpu_memory, cuda_driver_major); NVIDIA's GPU feature discovery names by default.
    ``resources``: the site catalog's GPU resources besides nvidia.com/* and amd.com/gpu."""
    product_key = getattr(keys, "gpu_product", "") or PRODUCT
    memory_key = getattr(keys, "gpu_memory", "") or MEMORY
    driver_key = getattr(keys, "cuda_driver_major", "") or DRIVER
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    status = node.get("status") or {}
    allocatable = status.get("allocatable") or {}
    resource, alloc = _gpu_resource(allocatable, resources)
    product = labels.get(product_key)
    if not product and not alloc:
        return None
    driver = labels.get(driver_key) or labels.get("nvidia.com/cuda.driver-version.major")
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    taints = [{k: str(t[k]) for k in ("key", "value", "effect") if t.get(k) is not None}
              for t in (node.get("spec") or {}).get("taints") or []]
    name = meta.get("name", "?")
    return NodeGpus(name=name, product=product, memory_mib=_int(labels.get(memory_key)),
                    count=_int(labels.get(COUNT)), driver_major=_int(driver), resource=resource,
                    allocatable=alloc, requested=requested.get(name, {}).get(resource, 0), taints=taints,
                    unschedulable=bool((node.get("spec") or {}).get("unschedulable")), ready=ready,
                    labels={str(k): str(v) for k, v in labels.items()})


def requested_gpus(pods: list[dict[str, Any]], resources: Iterable[str] = ()) -> dict[str, dict[str, int]]:
    """node -> resource -> GPUs requested by the pods bound there that still hold them (not Succeeded/Failed)."""
    out: dict[str, dict[str, int]] = {}
    for pod in pods:
        spec = pod.get("spec") or {}
        node = spec.get("nodeName")
        if not node or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        for c in spec.get("containers") or []:
            res = c.get("resources") or {}
            for key, value in {**(res.get("limits") or {}), **(res.get("requests") or {})}.items():
                if is_gpu_resource(key, resources) and _int(value):
                    per = out.setdefault(node, {})
                    per[key] = per.get(key, 0) + int(value)
    return out


def cluster_gpu_nodes(cluster: Cluster, keys: Any = None, resources: Iterable[str] = ()) -> list[NodeGpus]:
    """Every GPU node with allocatable and requested GPUs. Needs cluster-wide list of nodes and pods: a
    namespace-scoped user gets PermissionDenied (the caller falls back to the catalog). ``keys`` / ``resources``:
    the site's node-label keys and its catalog's GPU resources."""
    resources = frozenset(resources)
    api = cluster._client()
    nodes = cluster._call(lambda: cluster.core.list_node(_request_timeout=30))
    pods = cluster._call(lambda: cluster.core.list_pod_for_all_namespaces(
        field_selector="status.phase!=Succeeded,status.phase!=Failed", _request_timeout=60))
    node_dicts = [api.sanitize_for_serialization(n) for n in nodes.items]
    pod_dicts = [api.sanitize_for_serialization(p) for p in pods.items]
    req = requested_gpus(pod_dicts, resources)
    found = [node_gpus(n, req, keys, resources) for n in node_dicts]
    return sorted((n for n in found if n is not None), key=lambda n: n.name)


# --- pods of a release (for `kubectl llm test`) ----------------------------------------------------------------------
@dataclass(frozen=True)
class PodHealth:
    name: str
    uid: str
    restarts: int
    oom_killed: bool
    last_reason: str


def release_pod_health(cluster: Cluster, release: str, namespace: str) -> list[PodHealth]:
    """Restart counts and OOMKilled of the release's inference pods (current or last terminated state)."""
    result = cluster._call(lambda: cluster.core.list_namespaced_pod(
        namespace, label_selector=f"{INSTANCE_LABEL}={release},{COMPONENT_LABEL}=inference", _request_timeout=15))
    out = []
    for pod in result.items:
        restarts, oom, reason = 0, False, ""
        for cs in pod.status.container_statuses or []:
            restarts += cs.restart_count or 0
            for state in (cs.state, cs.last_state):
                term = getattr(state, "terminated", None) if state else None
                if term is not None:
                    reason = term.reason or reason
                    oom = oom or term.reason == "OOMKilled"
        out.append(PodHealth(pod.metadata.name, pod.metadata.uid or "", restarts, oom, reason))
    return sorted(out, key=lambda p: p.name)
