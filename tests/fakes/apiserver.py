"""A fake Kubernetes API server for offline lifecycle tests (stdlib + PyYAML only).

What it is
    An in-process HTTP server (``http.server.ThreadingHTTPServer`` in a background thread) that speaks enough
    of the Kubernetes REST API for the REAL ``helm`` binaries (Helm 4 and Helm 3, i.e. client-go) and the official
    ``kubernetes`` Python client to drive a whole release lifecycle against it: legacy discovery, a generic
    in-memory object store for the built-in kinds and for the custom kinds read from CRD YAML files, the verbs
    get/list/watch/create/update/patch (apply, merge, strategic-merge approximation, JSON patch)/delete/
    deletecollection, label and field selectors, ``dryRun``, ``Status`` error bodies, watch streams, and
    ``pods/log`` (tail, follow, container).

What it is NOT
    Not a conformant API server. There is no admission, no schema/CEL validation (``fieldValidation`` is accepted
    and ignored), no defaulting beyond a few fields (Service clusterIP/type, Deployment replicas), no version
    conversion (one stored object is served at every served version of its resource), no RBAC (see
    ``forbidden``), no real scheduling, and no controllers except the tiny simulated ones below. Deletes honour
    ``metadata.finalizers``: such an object only gets a ``deletionTimestamp`` (Terminating) and goes when its last
    finalizer is removed. Server-side apply is an approximation: field ownership is tracked per leaf path (lists are atomic),
    fields a manager stopped applying are removed, conflicts with other managers are reported unless ``force``.

Simulated controllers (``controllers=True``, the default)
    * Deployment -> one ReplicaSet per pod template (``<name>-<hash>``, owned by the Deployment) -> one Pod per
      replica (owned by the ReplicaSet, like a real cluster), Pods Running/Ready on ``node_name``, Deployment and
      ReplicaSet status filled so that kstatus (Helm 4 ``--wait``) and Helm 3's ready checker call them ready.
      ``pod_mode="unschedulable"`` keeps Pods Pending with a ``FailedScheduling`` Event instead
      (``Insufficient nvidia.com/gpu``); ``pod_ready_delay`` makes Pods go ContainerCreating -> Running later.
    * PersistentVolumeClaim -> ``status.phase: Bound`` when its storage class exists (``storage_classes``; no
      class named binds too); a claim of an unknown class stays ``Pending`` with a ``ProvisioningFailed`` Event
      and binds once the StorageClass is created. Pods that mount an unbound claim stay Pending
      (``FailedScheduling``: unbound PersistentVolumeClaims).
    * Admission of Pods: a ``priorityClassName`` without its PriorityClass (``priority_classes``) refuses the Pod;
      the ReplicaSet gets a ``ReplicaFailure`` condition and a ``FailedCreate`` Event, the Deployment the
      ``ReplicaFailure`` condition (as the real controllers do); creating the PriorityClass lets the Pod in.
    * LeaderWorkerSet -> groups of ``size`` Pods named like the real controller's (leader ``<lws>-<g>``, workers
      ``<lws>-<g>-<w>``) with its labels (``template-revision-hash`` included) and LWS_* env; status ``replicas``,
      ``readyReplicas`` (groups whose Pods are all Ready, updated or not), ``updatedReplicas`` (groups whose Pods all
      carry the current revision) and ``observedGeneration``. A changed template replaces the Pods, which keep their
      names; ``lws_rollout_delay`` keeps the old, Ready Pods that long first (as a rolling update does).
    * StatefulSet -> Pods ``<sts>-<i>`` (labels ``controller-revision-hash``, ``statefulset.kubernetes.io/pod-name``,
      ``apps.kubernetes.io/pod-index``), one PVC ``<claim>-<sts>-<i>`` per claim template and Pod, owned by the set
      when ``persistentVolumeClaimRetentionPolicy.whenDeleted`` is Delete (and let go of when it becomes Retain; a
      claim left by an earlier set is adopted), deleted with a Pod scaled away when ``whenScaled`` is Delete. A
      changed template replaces the Pods, which keep their names. Status ``replicas``, ``readyReplicas``,
      ``currentReplicas``, ``updatedReplicas``, ``currentRevision``/``updateRevision`` and ``observedGeneration``,
      as kstatus (Helm 4 ``--wait``) and Helm 3's ready checker read them. An update of any spec field but
      replicas, template, updateStrategy, persistentVolumeClaimRetentionPolicy, ordinals and minReadySeconds is
      refused (422), as the real API does (``volumeClaimTemplates``, ``selector`` are immutable).
    * ``set_pod_ready(pod, False)`` turns one Pod not Ready (readiness probe failing); owners' status follows.
    * PVC protection: every claim gets the ``kubernetes.io/pvc-protection`` finalizer; deleting a claim that a
      Pod still mounts leaves it Terminating until that Pod is gone.
    * Garbage collection: deleting an object deletes its dependents (``ownerReferences``) unless
      ``propagationPolicy=Orphan``; deleting a Namespace deletes everything in it.

Why it exists
    No real API server can run where these tests run, and the cluster path of ``kubectl llm`` (helm install/
    upgrade/rollback/uninstall/list, pods/events/logs) would otherwise never be exercised. The fake lets the real
    helm binary's and the kubernetes client's traffic happen: release storage Secrets, (server-side) apply,
    three-way strategic merge patches, deletes, watches, label selectors.

Usage::

    with FakeApiServer(namespaces=["llm"]) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm")
        env = client_env(tmp_path, kubeconfig)
        subprocess.run([helm, "upgrade", "--install", "m1", chart, "-n", "llm"], env=env, check=True)
        assert ("Deployment", "m1") in api.objects("llm.nrp-nautilus.io/model=m1")
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import json
import os
import random
import re
import select
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CRD_DIR = REPO_ROOT / "tests" / "data" / "crds"   # vendored copies of ../shared/crds (SOURCES.md)
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
DEFAULT_UNSCHEDULABLE_MESSAGE = (
    "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: "
    "3 No preemption victims found for incoming pod.")
DEFAULT_POD_LOG = """\
INFO 05-09 07:35:25 [__init__.py:239] Automatically detected platform cuda.
INFO 05-09 07:35:28 [api_server.py:1043] vLLM API server version 0.17.0
INFO 05-09 07:35:28 [api_server.py:1044] args: Namespace(model='Qwen/Qwen3-8B', served_model_name=['Qwen/Qwen3-8B'])
INFO 05-09 07:35:41 [config.py:717] This model supports multiple tasks: {'generate'}. Defaulting to 'generate'.
INFO 05-09 07:36:02 [weight_utils.py:265] Using model weights format ['*.safetensors']
INFO 05-09 07:36:55 [gpu_model_runner.py:1329] Model loading took 15.2683 GiB and 51.3 seconds
INFO 05-09 07:37:20 [kv_cache_utils.py:634] GPU KV cache size: 368,160 tokens
INFO 05-09 07:37:49 [api_server.py:1090] Starting vLLM API server on http://0.0.0.0:8000
INFO:     Application startup complete.
"""
# Strategic merge patch: list fields merged by key (the Kubernetes patchMergeKey of the common built-in types).
_SMP_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name",
    "conditions": "type", "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
    "ownerReferences": "uid", "ports": None,  # None: containerPort (containers) or port (Services)
}
_SMP_PRIMITIVE_MERGE = {"finalizers"}
_SERVER_META = {"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
                "deletionTimestamp", "deletionGracePeriodSeconds"}


# --------------------------------------------------------------------------------------------------------------
# small helpers
def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rand(n: int = 5) -> str:
    return "".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=n))


def _version_priority(version: str) -> tuple:
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first, non-kube-like last."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0, version)
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0), version)


def _template_hash(template: dict) -> str:
    """pod-template-hash of a Deployment's pod template (the ReplicaSet name suffix)."""
    digest = hashlib.sha256(_json_bytes(template)).hexdigest()
    return "".join("bcdfghjklmnpqrstvwxz2456789"[int(c, 16)] for c in digest[:10])


def _check_claim_spec(name: str, old: dict, new: dict) -> None:
    """The API server's rule for a PVC update: its spec is immutable but for resources.requests (the size) and
    volumeAttributesClassName; volumeName, set by the binder, is left alone by an apply that omits it."""
    mutable = ("resources", "volumeAttributesClassName", "volumeName")
    if {k: v for k, v in old.items() if k not in mutable} != {k: v for k, v in new.items() if k not in mutable}:
        raise ApiError(422, "Invalid", f'PersistentVolumeClaim "{name}" is invalid: spec: Forbidden: spec is '
                       "immutable after creation except resources.requests and volumeAttributesClassName for "
                       "bound claims", {"name": name, "kind": "persistentvolumeclaims"})


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class ApiError(Exception):
    """An error answered as a Kubernetes `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


@dataclass(frozen=True)
class Resource:
    """One served resource: (group, plural) with its served versions (preferred first)."""

    group: str
    versions: tuple[str, ...]
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def api_version(self, version: str | None = None) -> str:
        version = version or self.versions[0]
        return f"{self.group}/{version}" if self.group else version


_BUILTINS: tuple[tuple, ...] = (
    # group, version, kind, plural, namespaced, shortNames, subresources
    ("", "v1", "Namespace", "namespaces", False, ("ns",), ("status", "finalize")),
    ("", "v1", "Pod", "pods", True, ("po",), ("status", "log")),
    ("", "v1", "Service", "services", True, ("svc",), ("status",)),
    ("", "v1", "ConfigMap", "configmaps", True, ("cm",), ()),
    ("", "v1", "Secret", "secrets", True, (), ()),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), ("status",)),
    ("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), ("status",)),
    ("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), ()),
    ("", "v1", "Event", "events", True, ("ev",), ()),
    ("", "v1", "Endpoints", "endpoints", True, ("ep",), ()),
    ("", "v1", "Node", "nodes", False, ("no",), ("status",)),
    ("apps", "v1", "Deployment", "deployments", True, ("deploy",), ("status", "scale")),
    ("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), ("status", "scale")),
    ("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), ("status", "scale")),
    ("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), ("status",)),
    ("batch", "v1", "Job", "jobs", True, (), ("status",)),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",), ("status",)),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",), ("status",)),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",), ()),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", True, (), ()),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, (), ()),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, (), ()),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False, (), ()),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",), ()),
    ("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",), ()),
)


_CRD_CACHE: dict[tuple, list[Resource]] = {}


def load_crd_resources(crd_dir: Path) -> list[Resource]:
    """Resources of every CustomResourceDefinition in crd_dir (recursively, *.yaml / *.yml); cached per process
    (keyed by file names and mtimes: the CRD files are several MB of YAML)."""
    paths = sorted([*Path(crd_dir).rglob("*.yaml"), *Path(crd_dir).rglob("*.yml")])
    cache_key = tuple((str(p), p.stat().st_mtime_ns) for p in paths)
    if cache_key not in _CRD_CACHE:
        _CRD_CACHE[cache_key] = _load_crd_resources(paths)
    return list(_CRD_CACHE[cache_key])


def _load_crd_resources(paths: list[Path]) -> list[Resource]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    found: list[Resource] = []
    for path in paths:
        for doc in yaml.load_all(path.read_text(), Loader=loader):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec, names = doc["spec"], doc["spec"]["names"]
            served = [v for v in spec["versions"] if v.get("served", True)]
            if not served:
                continue
            versions = tuple(sorted((v["name"] for v in served), key=_version_priority))
            subs = sorted({s for v in served for s in (v.get("subresources") or {})})
            found.append(Resource(
                group=spec["group"], versions=versions, kind=names["kind"], plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(), namespaced=spec["scope"] == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ()),
                subresources=tuple(subs)))
    return found


# --------------------------------------------------------------------------------------------------------------
# selectors
_SEL_SPLIT = re.compile(r",(?![^()]*\))")


def parse_label_selector(selector: str | None) -> Callable[[dict], bool]:
    """Label selector -> predicate on a labels dict. Supports =, ==, !=, in, notin, exists, !exists."""
    terms: list[Callable[[dict], bool]] = []
    for raw in _SEL_SPLIT.split(selector or ""):
        term = raw.strip()
        if not term:
            continue
        m = re.fullmatch(r"([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)", term)
        if m:
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                terms.append(lambda l, k=key, vs=values: k in l and l[k] in vs)
            else:
                terms.append(lambda l, k=key, vs=values: k not in l or l[k] not in vs)
            continue
        m = re.fullmatch(r"([^\s!=]+)\s*(!=|==|=)\s*(\S*)", term)
        if m:
            key, op, value = m.groups()
            if op == "!=":
                terms.append(lambda l, k=key, v=value: l.get(k) != v)
            else:
                terms.append(lambda l, k=key, v=value: k in l and l[k] == v)
            continue
        m = re.fullmatch(r"(!?)\s*([^\s!=(),]+)", term)
        if m:
            neg, key = m.groups()
            terms.append((lambda l, k=key: k not in l) if neg else (lambda l, k=key: k in l))
            continue
        raise ApiError(400, "BadRequest", f"unable to parse requirement: invalid label selector: {term!r}")
    return lambda labels: all(t(labels or {}) for t in terms)


def _path_value(obj: dict, dotted: str) -> Any:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def parse_field_selector(selector: str | None) -> Callable[[dict], bool]:
    """Field selector -> predicate on an object (any dotted path; =, ==, !=)."""
    terms: list[Callable[[dict], bool]] = []
    for raw in (selector or "").split(","):
        term = raw.strip()
        if not term:
            continue
        m = re.fullmatch(r"([^\s!=]+)\s*(!=|==|=)\s*(.*)", term)
        if not m:
            raise ApiError(400, "BadRequest", f"invalid field selector: {term!r}")
        path, op, value = m.groups()

        def get(o: dict, p: str = path) -> str:
            v = _path_value(o, p)
            return "" if v is None else str(v)
        if op == "!=":
            terms.append(lambda o, g=get, v=value: g(o) != v)
        else:
            terms.append(lambda o, g=get, v=value: g(o) == v)
    return lambda obj: all(t(obj) for t in terms)


# --------------------------------------------------------------------------------------------------------------
# patches
_DELETE = object()


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(original: Any, patch: Any) -> Any:
    """An approximation of Kubernetes' strategic merge patch for the built-in types.

    Handles null deletion, `$patch: replace|delete`, `$retainKeys`, `$setElementOrder/<list>`,
    `$deleteFromPrimitiveList/<list>`, and lists merged by the patchMergeKey of _SMP_MERGE_KEYS (other lists
    are replaced).
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [x for x in result.get(field) or [] if x not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and key in _SMP_PRIMITIVE_MERGE:
            current = list(result.get(key) or [])
            result[key] = current + [v for v in value if v not in current]
        elif isinstance(value, list) and key in _SMP_MERGE_KEYS and all(isinstance(v, dict) for v in value):
            result[key] = _smp_merge_list(result.get(key) or [], value, _SMP_MERGE_KEYS[key])
        else:
            result[key] = copy.deepcopy(value)
    for key, order in patch.items():
        if key.startswith("$setElementOrder/") and isinstance(result.get(key.split("/", 1)[1]), list):
            field = key.split("/", 1)[1]
            items = result[field]
            mk = _merge_key(_SMP_MERGE_KEYS.get(field), order + items)
            if mk is None:
                continue
            rank = {o.get(mk) if isinstance(o, dict) else o: i for i, o in enumerate(order)}
            items.sort(key=lambda it: rank.get(it.get(mk) if isinstance(it, dict) else it, len(rank)))
    if "$retainKeys" in patch:
        keep = set(patch["$retainKeys"])
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _merge_key(declared: str | None, items: list) -> str | None:
    if declared:
        return declared
    for candidate in ("containerPort", "port"):
        if any(isinstance(i, dict) and candidate in i for i in items):
            return candidate
    return None


def _smp_merge_list(original: list, patch: list, declared_key: str | None) -> list:
    if any(p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if p.get("$patch") != "replace"]
    key = _merge_key(declared_key, original + patch)
    if key is None:
        return copy.deepcopy(patch)
    result = copy.deepcopy(original)
    for item in patch:
        idx = next((i for i, o in enumerate(result) if isinstance(o, dict) and o.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                result.pop(idx)
            continue
        if idx is None:
            result.append({k: v for k, v in copy.deepcopy(item).items() if v is not None and k != "$patch"})
        else:
            result[idx] = strategic_merge_patch(result[idx], item)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc: Any, ops: list) -> Any:
    """RFC 6902 (add, remove, replace, move, copy, test)."""
    doc = copy.deepcopy(doc)

    def parent(parts: list[str]) -> tuple[Any, str]:
        cur = doc
        for p in parts[:-1]:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur, parts[-1]

    def get(parts: list[str]) -> Any:
        cur = doc
        for p in parts:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur

    def add(parts: list[str], value: Any) -> None:
        nonlocal doc
        if not parts:
            doc = value
            return
        container, last = parent(parts)
        if isinstance(container, list):
            container.insert(len(container) if last == "-" else int(last), value)
        else:
            container[last] = value

    def remove(parts: list[str]) -> Any:
        container, last = parent(parts)
        return container.pop(int(last)) if isinstance(container, list) else container.pop(last)

    for op in ops:
        try:
            kind, path = op["op"], _pointer(op["path"])
            if kind == "add":
                add(path, copy.deepcopy(op["value"]))
            elif kind == "remove":
                remove(path)
            elif kind == "replace":
                remove(path)
                add(path, copy.deepcopy(op["value"]))
            elif kind == "move":
                add(path, remove(_pointer(op["from"])))
            elif kind == "copy":
                add(path, copy.deepcopy(get(_pointer(op["from"]))))
            elif kind == "test":
                if get(path) != op["value"]:
                    raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our "
                                   f"request: testing value {op['path']} failed")
            else:
                raise ApiError(422, "Invalid", f"unexpected JSON patch operation {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: "
                           f"{op}: {exc!r}") from exc
    return doc


# --------------------------------------------------------------------------------------------------------------
# protobuf request bodies: client-go's typed clients (helm's release storage driver) send
# application/vnd.kubernetes.protobuf; answers are always JSON (the clients accept it).
_K8S_PROTO_MAGIC = b"k8s\x00"
_PROTO_SCHEMAS: dict[str, dict[int, tuple[str, str]]] = {
    "Unknown": {1: ("typeMeta", "msg:TypeMeta"), 2: ("raw", "bytes"), 3: ("contentEncoding", "str"),
                4: ("contentType", "str")},
    "TypeMeta": {1: ("apiVersion", "str"), 2: ("kind", "str")},
    "ObjectMeta": {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"), 5: ("uid", "str"),
                   6: ("resourceVersion", "str"), 7: ("generation", "int"), 8: ("creationTimestamp", "time"),
                   11: ("labels", "map:str"), 12: ("annotations", "map:str"),
                   13: ("ownerReferences", "list:msg:OwnerReference"), 14: ("finalizers", "list:str")},
    "OwnerReference": {1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"), 5: ("apiVersion", "str"),
                       6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")},
    "Time": {1: ("seconds", "int"), 2: ("nanos", "int")},
    "Secret": {1: ("metadata", "msg:ObjectMeta"), 2: ("data", "map:bytes"), 3: ("type", "str"),
               4: ("stringData", "map:str"), 5: ("immutable", "bool")},
    "ConfigMap": {1: ("metadata", "msg:ObjectMeta"), 2: ("data", "map:str"), 3: ("binaryData", "map:bytes"),
                  4: ("immutable", "bool")},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int"), 2: ("preconditions", "msg:Preconditions"),
                      3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "str"), 5: ("dryRun", "list:str")},
    "Preconditions": {1: ("uid", "str"), 2: ("resourceVersion", "str")},
    "MapEntry": {1: ("key", "str"), 2: ("value", "bytes")},
}


def _proto_fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    i = 0

    def varint() -> int:
        nonlocal i
        shift = result = 0
        while True:
            b = data[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
    while i < len(data):
        tag = varint()
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            yield field, wire, varint()
        elif wire == 2:
            n = varint()
            yield field, wire, data[i:i + n]
            i += n
        elif wire == 1:
            yield field, wire, data[i:i + 8]
            i += 8
        elif wire == 5:
            yield field, wire, data[i:i + 4]
            i += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _proto_decode(data: bytes, schema: str) -> dict:
    import base64
    out: dict[str, Any] = {}
    fields = _PROTO_SCHEMAS[schema]
    for num, _wire, value in _proto_fields(data):
        if num not in fields:
            continue
        name, typ = fields[num]
        repeated = typ.startswith("list:")
        typ = typ.removeprefix("list:")
        if typ == "str":
            v: Any = value.decode()
        elif typ == "bytes" or typ == "int":
            v = value
        elif typ == "bool":
            v = bool(value)
        elif typ == "time":
            t = _proto_decode(value, "Time")
            v = datetime.fromtimestamp(t.get("seconds", 0), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif typ.startswith("msg:"):
            v = _proto_decode(value, typ[4:])
        elif typ.startswith("map:"):
            entry = _proto_decode(value, "MapEntry")
            raw = entry.get("value", b"")
            out.setdefault(name, {})[entry.get("key", "")] = (
                base64.b64encode(raw).decode() if typ == "map:bytes" else raw.decode())
            continue
        else:
            raise ValueError(typ)
        if repeated:
            out.setdefault(name, []).append(v)
        else:
            out[name] = v
    return out


def decode_k8s_protobuf(body: bytes) -> dict:
    """A `k8s\\0` protobuf envelope -> the JSON-shaped object (Secret, ConfigMap, DeleteOptions only)."""
    if not body.startswith(_K8S_PROTO_MAGIC):
        raise ApiError(400, "BadRequest", "protobuf body without the k8s envelope")
    unknown = _proto_decode(body[len(_K8S_PROTO_MAGIC):], "Unknown")
    type_meta = unknown.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    if kind not in _PROTO_SCHEMAS or kind in ("Unknown", "TypeMeta", "MapEntry", "Time"):
        raise ApiError(415, "UnsupportedMediaType", f"fake apiserver: protobuf bodies of kind {kind!r} are not "
                       "supported (only Secret, ConfigMap, DeleteOptions)")
    obj = _proto_decode(unknown.get("raw", b""), kind)
    if type_meta.get("apiVersion"):
        obj["apiVersion"] = type_meta["apiVersion"]
    obj["kind"] = kind
    return obj


# --------------------------------------------------------------------------------------------------------------
# server-side apply bookkeeping (per leaf path; lists atomic)
def _owned_view(obj: dict) -> dict:
    view = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "status")}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SERVER_META | {"name", "namespace"}}
    if meta:
        view["metadata"] = meta
    else:
        view.pop("metadata", None)
    return view


def _leaf_paths(d: dict, prefix: tuple = ()) -> set[tuple]:
    out: set[tuple] = set()
    for k, v in d.items():
        p = prefix + (k,)
        if isinstance(v, dict) and v:
            out |= _leaf_paths(v, p)
        else:
            out.add(p)
    return out


_MISSING = object()


def _get_path(obj: Any, path: tuple) -> Any:
    for p in path:
        if not isinstance(obj, dict) or p not in obj:
            return _MISSING
        obj = obj[p]
    return obj


def _del_path(obj: dict, path: tuple) -> None:
    chain = [obj]
    for p in path[:-1]:
        nxt = chain[-1].get(p)
        if not isinstance(nxt, dict):
            return
        chain.append(nxt)
    chain[-1].pop(path[-1], None)
    for i in range(len(chain) - 1, 0, -1):  # prune maps left empty by the removal
        if not chain[i]:
            chain[i - 1].pop(path[i - 1], None)


def _deep_merge(base: dict, overlay: dict) -> dict:
    for k, v in overlay.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict) and v:
            _deep_merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


def _fields_v1(paths: Iterable[tuple]) -> dict:
    root: dict = {}
    for path in sorted(paths):
        cur = root
        for p in path:
            cur = cur.setdefault(f"f:{p}", {})
    return root


# --------------------------------------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver/0.1"
    disable_nagle_algorithm = True  # headers and body are two writes: Nagle + delayed ACK would add 40 ms each

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        self.server.fake._handle(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class _Failure:
    verbs: frozenset[str]
    kind: str
    name: str | None
    namespace: str | None
    code: int
    reason: str
    message: str | None
    times: int | None


class FakeApiServer:
    """A fake kube-apiserver; see the module docstring. Use as a context manager (or call start()/stop()).

    Args:
        crd_dir: folder with CustomResourceDefinition YAMLs (default `<repo>/tests/data/crds`).
        served_groups: CRD API groups to serve; None = all found in crd_dir. Built-in groups are always served.
        namespaces: namespaces that exist at start, besides default/kube-system/kube-public/kube-node-lease.
        controllers: run the simulated Deployment/ReplicaSet/Pod/PVC controllers.
        pod_mode: "running" (Pods become Running and Ready) or "unschedulable" (Pending + FailedScheduling).
        pod_ready_delay: seconds a Pod stays ContainerCreating before it runs (0 = immediately).
        lws_rollout_delay: seconds a LeaderWorkerSet's old Pods stay (Ready) after its template changed, before they
            are replaced by Pods of the new revision with the same names (0 = at once).
        unschedulable_message: the FailedScheduling text.
        node_name: the node Pods are "scheduled" to.
        pod_log: default text of `pods/log` (see set_pod_log for per-pod text).
        log_follow_delay: seconds between lines of a followed log.
        forbidden: True, or a predicate on the request dict, answers 403 Forbidden for non-discovery requests.
        user: user name shown in Forbidden messages.
        kube_version: gitVersion of /version.
        storage_classes: StorageClasses that exist at start; None = every class binds (no StorageClass check).
        priority_classes: PriorityClasses that exist at start; None = no PriorityClass admission check.
    """

    def __init__(self, crd_dir: str | Path | None = None, *, served_groups: Iterable[str] | None = None,
                 namespaces: Iterable[str] = (), controllers: bool = True, pod_mode: str = "running",
                 pod_ready_delay: float = 0.0, unschedulable_message: str = DEFAULT_UNSCHEDULABLE_MESSAGE,
                 node_name: str = "gpu-node-1", pod_log: str = DEFAULT_POD_LOG, log_follow_delay: float = 0.01,
                 forbidden: bool | Callable[[dict], bool] = False, user: str = "fake-user",
                 kube_version: str = "v1.33.1",
                 storage_classes: Iterable[str] | None = ("standard", "linstor-igrok", "linstor-unl"),
                 priority_classes: Iterable[str] | None = ("owner",), lws_rollout_delay: float = 0.0) -> None:
        self.crd_dir = Path(crd_dir) if crd_dir else DEFAULT_CRD_DIR
        self.controllers = controllers
        self.pod_mode = pod_mode
        self.pod_ready_delay = pod_ready_delay
        self.lws_rollout_delay = lws_rollout_delay
        self._lws_revisions: dict[str, str] = {}          # LWS uid -> the template revision its controller saw
        self._lws_waiting: set[tuple[str, str]] = set()    # (uid, revision) whose old pods wait for lws_rollout_delay
        self.unschedulable_message = unschedulable_message
        self.node_name = node_name
        self.log_follow_delay = log_follow_delay
        self.forbidden = forbidden
        self.user = user
        self.kube_version = kube_version
        self.check_storage_classes = storage_classes is not None
        self.check_priority_classes = priority_classes is not None
        self._default_log = pod_log
        self._pod_logs: dict[str, str] = {}
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._store: dict[tuple[str, str, str, str], dict] = {}
        self._owners: dict[tuple[str, str, str, str], dict[str, dict]] = {}
        self._history: list[tuple[int, tuple[str, str], str, str, dict, dict | None]] = []
        self._history_rvs: list[int] = []
        self._rv = 1
        self._requests: list[dict] = []
        self._timers: list[threading.Timer] = []
        self._stopping = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ip_counter = 10

        resources = [Resource(g, (v,), k, p, k.lower(), ns, sn, (), subs) for g, v, k, p, ns, sn, subs in _BUILTINS]
        crds = load_crd_resources(self.crd_dir) if self.crd_dir.is_dir() else []
        if served_groups is not None:
            wanted = set(served_groups)
            crds = [r for r in crds if r.group in wanted]
        self.resources: list[Resource] = resources + crds
        self._by_plural = {(r.group, r.plural): r for r in self.resources}
        for ns in (*DEFAULT_NAMESPACES, *namespaces):
            self.create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for sc in storage_classes or ():
            self.create_object({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": sc},
                                "provisioner": "fake.csi.example"})
        for pc in priority_classes or ():
            self.create_object({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                "metadata": {"name": pc}, "value": 1000})

    # ---- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> FakeApiServer:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-apiserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            for t in self._timers:
                t.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: str | Path, namespace: str = "llm", context: str = "fake") -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "fake-cluster", "cluster": {"server": self.url}}],
            "users": [{"name": self.user, "user": {"token": "fake-token"}}],
            "contexts": [{"name": context, "context": {"cluster": "fake-cluster", "user": self.user,
                                                       "namespace": namespace}}],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)
        return path

    # ---- test-facing API ---------------------------------------------------------------------------------
    def objects(self, label_selector: str | None = None, namespace: str | None = None,
                kind: str | None = None) -> list[tuple[str, str]]:
        """(kind, name) of stored objects, sorted; filtered by label selector, namespace and kind/plural."""
        match = parse_label_selector(label_selector)
        with self._lock:
            out = []
            for (group, plural, ns, name), obj in self._store.items():
                res = self._by_plural.get((group, plural))
                kind_name = res.kind if res else obj.get("kind", plural)
                if namespace is not None and ns != namespace:
                    continue
                if kind is not None and kind.lower() not in (kind_name.lower(), plural):
                    continue
                if match((obj.get("metadata") or {}).get("labels") or {}):
                    out.append((kind_name, name))
            return sorted(out)

    def get_object(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        """A deep copy of one stored object (kind, plural or short name), or None."""
        res = self._resolve_kind(kind)
        with self._lock:
            obj = self._store.get((res.group, res.plural, namespace if res.namespaced else "", name))
            return self._present(res, obj) if obj else None

    def create_object(self, obj: dict) -> dict:
        """Store an object as if created through the API (controllers run); e.g. a Gateway with a status."""
        res = self._resolve_kind(obj["kind"], obj.get("apiVersion"))
        ns = (obj.get("metadata") or {}).get("namespace", "default") if res.namespaced else ""
        with self._lock:
            created = self._create(res, ns, copy.deepcopy(obj), manager="test", keep_status=True)
            return self._present(res, created)

    def delete_object(self, kind: str, name: str, namespace: str | None = None) -> None:
        res = self._resolve_kind(kind)
        with self._lock:
            self._delete(res, namespace if res.namespaced else "", name)

    def set_pod_log(self, text: str, pod: str | None = None) -> None:
        """Log text of Pods whose name starts with `pod` (longest prefix wins); pod=None sets the default."""
        with self._lock:
            if pod is None:
                self._default_log = text
            else:
                self._pod_logs[pod] = text

    def set_pod_ready(self, pod: str, ready: bool = True, namespace: str | None = None) -> None:
        """Make one running Pod (not) Ready, as a failing/passing readiness probe does; its owners' status
        (ReplicaSet, Deployment, LeaderWorkerSet) follows."""
        with self._lock:
            key = next(k for k in self._store if k[:2] == ("", "pods") and k[3] == pod
                       and (namespace is None or k[2] == namespace))
            status = copy.deepcopy(self._store[key].get("status") or {})
            flag = "True" if ready else "False"
            for c in status.get("conditions") or []:
                if c.get("type") in ("Ready", "ContainersReady"):
                    c.update(status=flag, lastTransitionTime=_now())
                    if not ready:
                        c.update(reason="ContainersNotReady", message="containers with unready status")
                    else:
                        c.pop("reason", None), c.pop("message", None)
            for cs in status.get("containerStatuses") or []:
                cs["ready"] = ready
            self._controller_write(self._by_plural[("", "pods")], key, status=status)
            self._pod_owners_changed(key)

    def set_pod_mode(self, mode: str) -> None:
        """Switch between "running" and "unschedulable"; existing Pods of Deployments follow."""
        assert mode in ("running", "unschedulable"), mode
        with self._lock:
            self.pod_mode = mode
            for (group, plural, ns, name) in list(self._store):
                if (group, plural) == ("apps", "deployments"):
                    self._reconcile_deployment(ns, name, restate=True)

    def fail(self, verb: str, kind: str, *, code: int = 422, reason: str = "Invalid", message: str | None = None,
             name: str | None = None, namespace: str | None = None, times: int | None = None) -> _Failure:
        """Answer `verb` on `kind` (Kind, plural or short name) with an error Status.

        verb: a Kubernetes verb (get list watch create update patch delete deletecollection), "apply" (a PATCH
        with application/apply-patch+yaml, i.e. Helm 4's server-side apply) or "write" (create|update|patch).
        times: fail only that many times (None = always). Returns the rule (pass it to clear_failures).
        """
        verbs = {"write": {"create", "update", "patch", "apply"}}.get(verb, {verb})
        rule = _Failure(frozenset(verbs), kind.lower(), name, namespace, code, reason, message, times)
        with self._lock:
            self._failures.append(rule)
        return rule

    def clear_failures(self, rule: _Failure | None = None) -> None:
        with self._lock:
            self._failures = [] if rule is None else [f for f in self._failures if f is not rule]

    def requests(self, **match: Any) -> list[dict]:
        """Logged requests (dicts: method, path, query, verb, group, version, resource, subresource, namespace,
        name, content_type, accept, user_agent, code), filtered by equality on the given keys."""
        with self._lock:
            return [dict(r) for r in self._requests if all(r.get(k) == v for k, v in match.items())]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # ---- resource lookup ---------------------------------------------------------------------------------
    def _resolve_kind(self, kind: str, api_version: str | None = None) -> Resource:
        group = api_version.rsplit("/", 1)[0] if api_version and "/" in api_version else (
            "" if api_version else None)
        k = kind.lower()
        for r in self.resources:
            if group is not None and r.group != group:
                continue
            if k in (r.kind.lower(), r.plural, r.singular, *r.short_names, r.group_resource):
                return r
        raise KeyError(f"no resource for kind {kind!r} ({api_version})")

    def _resource(self, group: str, version: str, plural: str) -> Resource:
        res = self._by_plural.get((group, plural))
        if res is None or version not in res.versions:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        return res

    def _present(self, res: Resource, obj: dict, version: str | None = None) -> dict:
        out = copy.deepcopy(obj)
        out["apiVersion"] = res.api_version(version)
        out["kind"] = res.kind
        return out

    # ---- HTTP ----------------------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        path = url.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = self._read_body(h)
        entry = {"method": h.command, "path": path, "query": query, "verb": None, "group": None,
                 "version": None, "resource": None, "subresource": None, "namespace": None, "name": None,
                 "content_type": h.headers.get("Content-Type"), "accept": h.headers.get("Accept"),
                 "user_agent": h.headers.get("User-Agent"), "code": None, "time": time.time()}
        with self._lock:
            self._requests.append(entry)
        try:
            self._route(h, path, query, body, entry)
        except ApiError as err:
            self._send_json(h, err.code, err.status(), entry)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
        except Exception as exc:  # noqa: BLE001 - report as a Status, keep serving
            msg = f"fake apiserver bug: {exc!r}\n{traceback.format_exc()}"
            self._send_json(h, 500, ApiError(500, "InternalError", msg).status(), entry)

    @staticmethod
    def _read_body(h: BaseHTTPRequestHandler) -> bytes:
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    h.rfile.readline()
                    break
                chunks.append(h.rfile.read(size))
                h.rfile.readline()
            return b"".join(chunks)
        length = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(length) if length else b""

    def _send_json(self, h: BaseHTTPRequestHandler, code: int, obj: Any, entry: dict) -> None:
        data = _json_bytes(obj)
        entry["code"] = code
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Cache-Control", "no-cache, private")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def _send_text(self, h: BaseHTTPRequestHandler, code: int, text: str, entry: dict) -> None:
        data = text.encode()
        entry["code"] = code
        h.send_response(code)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _start_stream(self, h: BaseHTTPRequestHandler, content_type: str, entry: dict) -> None:
        entry["code"] = 200
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Cache-Control", "no-cache, private")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

    @staticmethod
    def _chunk(h: BaseHTTPRequestHandler, data: bytes) -> None:
        if data:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            h.wfile.flush()

    @staticmethod
    def _end_stream(h: BaseHTTPRequestHandler) -> None:
        try:
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except OSError:
            h.close_connection = True

    @staticmethod
    def _client_gone(h: BaseHTTPRequestHandler) -> bool:
        sock = h.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # ---- routing -------------------------------------------------------------------------------------------
    def _route(self, h: BaseHTTPRequestHandler, path: str, query: dict, body: bytes, entry: dict) -> None:
        segs = [s for s in path.split("/") if s]
        if path in ("/healthz", "/livez", "/readyz"):
            return self._send_text(h, 200, "ok", entry)
        if path == "/version":
            m = re.match(r"v(\d+)\.(\d+)", self.kube_version)
            return self._send_json(h, 200, {
                "major": m.group(1) if m else "1", "minor": m.group(2) if m else "33",
                "gitVersion": self.kube_version, "gitCommit": "0" * 40, "gitTreeState": "clean",
                "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
                "platform": "linux/amd64"}, entry)
        if segs[:2] == ["openapi", "v3"]:
            return self._send_json(h, 200, self._openapi_v3("/".join(segs[2:])), entry)
        if segs == ["openapi", "v2"]:
            return self._send_openapi_v2(h, entry)
        if segs == ["api"]:
            cidrs = [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}]
            return self._send_json(h, 200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": cidrs}, entry)
        if segs == ["apis"]:
            return self._send_json(h, 200, {"kind": "APIGroupList", "apiVersion": "v1",
                                            "groups": [self._group_doc(g) for g in self._groups()]}, entry)
        if segs[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", segs[2:]
        elif len(segs) >= 3 and segs[0] == "apis":
            group, version, rest = segs[1], segs[2], segs[3:]
        elif len(segs) == 2 and segs[0] == "apis":
            if segs[1] not in self._groups():
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
            doc = self._group_doc(segs[1])
            return self._send_json(h, 200, {"kind": "APIGroup", "apiVersion": "v1", **doc}, entry)
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if not rest:
            if not any(r.group == group and version in r.versions for r in self.resources):
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
            return self._send_json(h, 200, self._resource_list_doc(group, version), entry)
        self._serve_resource(h, group, version, rest, query, body, entry)

    def _send_openapi_v2(self, h: BaseHTTPRequestHandler, entry: dict) -> None:
        """An empty OpenAPI v2 document, protobuf-encoded (client-go reads /openapi/v2 only as protobuf).

        The clients fall back to it only for kinds the v3 index does not know, i.e. kinds this server does not
        serve; with no schema for them client-side validation passes, and the REST mapping then fails with
        helm's "no matches for kind" like on a real cluster without the CRDs.
        """
        def field(num: int, payload: bytes) -> bytes:
            return bytes([num << 3 | 2, len(payload)]) + payload
        info = field(1, b"Kubernetes") + field(2, self.kube_version.encode())
        data = field(1, b"2.0") + field(2, info)
        entry["code"] = 200
        h.send_response(200)
        h.send_header("Content-Type", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _openapi_v3(self, gv_path: str) -> dict:
        """OpenAPI v3: the root index, or one group-version's document with only PATCH operations.

        kubectl's (and so helm's) validator asks it whether PATCH takes the `fieldValidation` query parameter;
        it does, so the clients leave validation to the server (which here accepts everything) and never
        download the protobuf-only /openapi/v2.
        """
        gvs = sorted({("api/v1" if not r.group else f"apis/{r.group}/{v}") for r in self.resources
                      for v in r.versions})
        if not gv_path:
            return {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash="
                                   + hashlib.sha256(gv.encode()).hexdigest()[:32].upper()} for gv in gvs}}
        if gv_path not in gvs:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        parts = gv_path.split("/")
        group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
        params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                  for n in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")]
        paths = {}
        for r in self.resources:
            if r.group != group or version not in r.versions:
                continue
            prefix = f"/{gv_path}/namespaces/{{namespace}}" if r.namespaced else f"/{gv_path}"
            paths[f"{prefix}/{r.plural}/{{name}}"] = {"patch": {
                "operationId": f"patch{r.kind}", "parameters": params,
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": r.group, "version": version, "kind": r.kind},
                "responses": {"200": {"description": "OK"}}}}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": self.kube_version},
                "paths": paths, "components": {"schemas": {}}}

    def _groups(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for r in self.resources:
            if r.group:
                vs = groups.setdefault(r.group, [])
                vs.extend(v for v in r.versions if v not in vs)
        return {g: sorted(vs, key=_version_priority) for g, vs in groups.items()}

    def _group_doc(self, group: str) -> dict:
        versions = self._groups()[group]
        return {"name": group, "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
                "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]}}

    def _resource_list_doc(self, group: str, version: str) -> dict:
        out = []
        for r in self.resources:
            if r.group != group or version not in r.versions:
                continue
            doc = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                   "verbs": ALL_VERBS}
            if r.short_names:
                doc["shortNames"] = list(r.short_names)
            if r.categories:
                doc["categories"] = list(r.categories)
            out.append(doc)
            for sub in r.subresources:
                sub_kind = {"log": "Pod", "scale": "Scale"}.get(sub, r.kind)
                verbs = {"log": ["get"], "finalize": ["update"]}.get(sub, ["get", "patch", "update"])
                sub_doc = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                           "kind": sub_kind, "verbs": verbs}
                if sub == "scale":
                    sub_doc.update(group="autoscaling", version="v1")
                out.append(sub_doc)
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}".lstrip("/"),
                "resources": out}

    def _serve_resource(self, h: BaseHTTPRequestHandler, group: str, version: str, segs: list[str], query: dict,
                        body: bytes, entry: dict) -> None:
        watch_path = False
        if segs and segs[0] == "watch":
            watch_path, segs = True, segs[1:]
        namespace: str | None = None
        if len(segs) >= 3 and segs[0] == "namespaces" and not (len(segs) == 3 and segs[2] in ("status", "finalize")):
            namespace, segs = segs[1], segs[2:]
        if not segs or len(segs) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        plural, name, sub = segs[0], (segs[1] if len(segs) > 1 else None), (segs[2] if len(segs) > 2 else None)
        res = self._resource(group, version, plural)
        if sub is not None and sub not in res.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if namespace is not None and not res.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        method = h.command
        is_watch = watch_path or query.get("watch") in ("true", "1")
        verb = {"GET": "watch" if is_watch else ("get" if name else "list"), "HEAD": "get", "POST": "create",
                "PUT": "update", "PATCH": "patch", "DELETE": "delete" if name else "deletecollection"}[method]
        ctype = (h.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        entry.update(verb=verb, group=group, version=version, resource=plural, subresource=sub,
                     namespace=namespace, name=name)
        self._check_forbidden(res, entry)
        self._check_failures(res, verb, ctype, namespace, name)
        ns = namespace if res.namespaced else ""
        dry_run = query.get("dryRun") == "All"
        manager = query.get("fieldManager") or (h.headers.get("User-Agent") or "unknown").split("/")[0][:128]
        lsel = parse_label_selector(query.get("labelSelector"))
        fsel = parse_field_selector(query.get("fieldSelector"))

        if sub == "log":
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                               "resource")
            return self._serve_log(h, ns, name, query, entry)
        if verb == "watch":
            if name:
                fsel = parse_field_selector(",".join(filter(None, [query.get("fieldSelector"),
                                                                     f"metadata.name={name}"])))
            return self._serve_watch(h, res, version, namespace, lsel, fsel, query, entry)
        with self._lock:
            if verb == "list":
                items = [self._present(res, o, version) for o in self._select(res, namespace, lsel, fsel)]
                return self._send_json(h, 200, {"kind": f"{res.kind}List", "apiVersion": res.api_version(version),
                                                "metadata": {"resourceVersion": str(self._rv)},
                                                "items": items}, entry)
            if verb == "get":
                return self._send_json(h, 200, self._present(res, self._get(res, ns, name), version), entry)
            if verb == "create":
                if sub:
                    raise ApiError(405, "MethodNotAllowed", "create is not supported on this subresource")
                obj = self._decode(body)
                if namespace is not None:
                    body_ns = (obj.get("metadata") or {}).get("namespace")
                    if body_ns and body_ns != namespace:
                        raise ApiError(400, "BadRequest", "the namespace of the provided object does not match "
                                       "the namespace sent on the request")
                created = self._create(res, ns, obj, manager=manager, dry_run=dry_run)
                return self._send_json(h, 201, self._present(res, created, version), entry)
            if verb == "update":
                obj = self._decode(body)
                updated = self._update(res, ns, name, obj, manager=manager, dry_run=dry_run, subresource=sub)
                return self._send_json(h, 200, self._present(res, updated, version), entry)
            if verb == "patch":
                force = query.get("force") in ("true", "1")
                patched, code = self._patch(res, ns, name, body, ctype, manager=query.get("fieldManager"),
                                            default_manager=manager, force=force, dry_run=dry_run,
                                            subresource=sub, api_version=res.api_version(version))
                return self._send_json(h, code, self._present(res, patched, version), entry)
            if verb == "delete":
                opts = self._decode(body) if body.strip() else {}
                policy = query.get("propagationPolicy") or opts.get("propagationPolicy") or "Background"
                if opts.get("orphanDependents") is True:
                    policy = "Orphan"
                dry_run = dry_run or "All" in (opts.get("dryRun") or [])
                deleted = self._delete(res, ns, name, propagation=policy, dry_run=dry_run)
                return self._send_json(h, 200, self._present(res, deleted, version), entry)
            if verb == "deletecollection":
                victims = self._select(res, namespace, lsel, fsel)
                policy = query.get("propagationPolicy") or "Background"
                gone = [self._present(res, self._delete(res, o["metadata"].get("namespace", ""),
                                                        o["metadata"]["name"], propagation=policy, dry_run=dry_run),
                                      version) for o in victims]
                return self._send_json(h, 200, {"kind": f"{res.kind}List", "apiVersion": res.api_version(version),
                                                "metadata": {"resourceVersion": str(self._rv)}, "items": gone},
                                       entry)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    @staticmethod
    def _decode(body: bytes) -> Any:
        if body.startswith(_K8S_PROTO_MAGIC):
            return decode_k8s_protobuf(body)
        try:
            return json.loads(body or b"{}")
        except ValueError:
            try:
                return yaml.safe_load(body)
            except yaml.YAMLError as exc:
                raise ApiError(400, "BadRequest", f"error decoding request body: {exc}") from exc

    def _check_forbidden(self, res: Resource, entry: dict) -> None:
        forbidden = self.forbidden(entry) if callable(self.forbidden) else self.forbidden
        if not forbidden:
            return
        verb, name, ns = entry["verb"], entry["name"], entry["namespace"]
        resource = res.plural + (f"/{entry['subresource']}" if entry["subresource"] else "")
        who = f"{res.group_resource} \"{name}\"" if name else res.group_resource
        where = f" in the namespace \"{ns}\"" if ns else " at the cluster scope"
        raise ApiError(403, "Forbidden", f"{who} is forbidden: User \"{self.user}\" cannot {verb} resource "
                       f"\"{resource}\" in API group \"{res.group}\"{where}",
                       {"name": name, "group": res.group, "kind": res.plural} if name else
                       {"group": res.group, "kind": res.plural})

    def _check_failures(self, res: Resource, verb: str, ctype: str, ns: str | None, name: str | None) -> None:
        verbs = {verb, "apply"} if verb == "patch" and ctype == "application/apply-patch+yaml" else {verb}
        with self._lock:
            for rule in self._failures:
                if not (rule.verbs & verbs) or rule.kind not in (res.kind.lower(), res.plural, res.singular,
                                                                 *res.short_names):
                    continue
                if (rule.name and rule.name != name) or (rule.namespace and rule.namespace != ns):
                    continue
                if rule.times is not None:
                    if rule.times <= 0:
                        continue
                    rule.times -= 1
                message = rule.message or (
                    f"{res.group_kind} \"{name or ''}\" is invalid: spec: Invalid value: \"injected\": "
                    f"fake apiserver failure injected for {verb}" if rule.reason == "Invalid" else
                    f"fake apiserver failure injected for {verb} {res.group_resource}")
                details = {"name": name or "", "group": res.group, "kind": res.kind if rule.code == 422 else res.plural}
                if rule.code == 422:
                    details["causes"] = [{"reason": "FieldValueInvalid", "message": "Invalid value: \"injected\"",
                                          "field": "spec"}]
                raise ApiError(rule.code, rule.reason, message, details)

    # ---- store primitives (call with the lock held) ---------------------------------------------------------
    def _key(self, res: Resource, ns: str, name: str) -> tuple[str, str, str, str]:
        return (res.group, res.plural, ns if res.namespaced else "", name)

    def _not_found(self, res: Resource, name: str) -> ApiError:
        return ApiError(404, "NotFound", f"{res.group_resource} \"{name}\" not found",
                        {"name": name, "group": res.group, "kind": res.plural})

    def _get(self, res: Resource, ns: str, name: str) -> dict:
        obj = self._store.get(self._key(res, ns, name))
        if obj is None:
            raise self._not_found(res, name)
        return obj

    def _select(self, res: Resource, namespace: str | None, lsel: Callable, fsel: Callable) -> list[dict]:
        out = []
        for (group, plural, ns, _name), obj in sorted(self._store.items()):
            if (group, plural) != (res.group, res.plural) or (namespace is not None and ns != namespace):
                continue
            if lsel((obj.get("metadata") or {}).get("labels") or {}) and fsel(obj):
                out.append(obj)
        return out

    def _emit(self, res: Resource, ns: str, etype: str, obj: dict, old: dict | None = None) -> None:
        self._history.append((self._rv, (res.group, res.plural), ns, etype, obj, old))
        self._history_rvs.append(self._rv)
        self._cond.notify_all()

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _render_managed_fields(self, key: tuple, obj: dict) -> None:
        owners = self._owners.get(key) or {}
        entries = []
        for (manager, _op), info in owners.items():
            if not info["fields"]:
                continue
            entry = {"manager": manager, "operation": info["operation"], "apiVersion": info["apiVersion"],
                     "time": info["time"], "fieldsType": "FieldsV1", "fieldsV1": _fields_v1(info["fields"])}
            if info.get("subresource"):
                entry["subresource"] = info["subresource"]
            entries.append(entry)
        if entries:
            obj["metadata"]["managedFields"] = entries
        else:
            obj["metadata"].pop("managedFields", None)

    def _record_update_owner(self, key: tuple, manager: str, old: dict | None, new: dict, api_version: str) -> None:
        """An Update operation takes ownership of the leaf fields it changed (no conflicts, like the real one)."""
        owners = self._owners.setdefault(key, {})
        new_view, old_view = _owned_view(new), _owned_view(old) if old else {}
        new_paths = _leaf_paths(new_view)
        changed = {p for p in new_paths if _get_path(old_view, p) != _get_path(new_view, p)}
        for info in owners.values():
            info["fields"] = {p for p in info["fields"] if p in new_paths and p not in changed}
        if changed:
            info = owners.setdefault((manager, "Update"), {"operation": "Update", "fields": set()})
            info.update(apiVersion=api_version, time=_now())
            info["fields"] |= changed

    def _require_namespace(self, res: Resource, ns: str) -> None:
        if res.namespaced and ("", "namespaces", "", ns) not in self._store:
            raise ApiError(404, "NotFound", f"namespaces \"{ns}\" not found",
                           {"name": ns, "kind": "namespaces"})

    def _create(self, res: Resource, ns: str, obj: dict, *, manager: str, dry_run: bool = False,
                keep_status: bool = False, owners: dict | None = None) -> dict:
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + _rand()
            else:
                raise ApiError(422, "Invalid", f"{res.group_kind} \"\" is invalid: metadata.name: Required value: "
                               "name or generateName is required",
                               {"group": res.group, "kind": res.kind,
                                "causes": [{"reason": "FieldValueRequired", "field": "metadata.name"}]})
        name = meta["name"]
        if res.namespaced:
            meta["namespace"] = ns
            self._require_namespace(res, ns)
        else:
            meta.pop("namespace", None)
        key = self._key(res, ns, name)
        if key in self._store:
            raise ApiError(409, "AlreadyExists", f"{res.group_resource} \"{name}\" already exists",
                           {"name": name, "group": res.group, "kind": res.plural})
        for k in ("managedFields", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(k, None)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
        obj["apiVersion"], obj["kind"] = obj.get("apiVersion") or res.api_version(), res.kind
        if "status" in res.subresources and not keep_status:
            obj.pop("status", None)
        self._default(res, obj)
        if dry_run:
            meta["resourceVersion"] = str(self._rv)
            return obj
        meta["resourceVersion"] = self._next_rv()
        if owners is not None:
            self._owners[key] = owners
        else:
            self._record_update_owner(key, manager, None, obj, obj["apiVersion"])
        self._render_managed_fields(key, obj)
        self._store[key] = obj
        self._emit(res, ns, "ADDED", copy.deepcopy(obj))
        self._after_write(res, key, None, obj)
        return obj

    def _default(self, res: Resource, obj: dict) -> None:
        """The few server-side defaults the clients here look at."""
        spec = obj.setdefault("spec", {}) if res.plural in ("services", "deployments", "namespaces",
                                                            "statefulsets") else None
        if res.plural == "services":
            spec.setdefault("type", "ClusterIP")
            if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
                self._ip_counter += 1
                spec["clusterIP"] = f"10.96.{self._ip_counter // 250}.{self._ip_counter % 250 + 1}"
                spec["clusterIPs"] = [spec["clusterIP"]]
            for port in spec.get("ports") or []:
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
        elif res.plural in ("deployments", "statefulsets"):
            if spec.get("replicas") is None:
                spec["replicas"] = 1
        elif res.plural == "namespaces":
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
            spec.setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        elif res.plural == "secrets" and obj.get("stringData"):
            import base64
            data = obj.setdefault("data", {})
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(str(v).encode()).decode()

    def _finish_update(self, res: Resource, key: tuple, old: dict, new: dict, *, subresource: str | None,
                       dry_run: bool) -> dict:
        """Common tail of update/patch/apply: keep server fields, bump generation, store, emit."""
        ns, name = key[2], key[3]
        meta = new.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise ApiError(400, "BadRequest", f"the name of the object ({meta.get('name')}) does not match the "
                           f"name on the URL ({name})")
        old_meta = old["metadata"]
        if subresource is None and res.kind == "PersistentVolumeClaim":
            _check_claim_spec(name, old.get("spec") or {}, new.get("spec") or {})
        meta["name"] = name
        if res.namespaced:
            meta["namespace"] = ns
        for k in ("uid", "creationTimestamp", "generation"):
            meta[k] = old_meta.get(k)
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            meta = new["metadata"]
        elif "status" in res.subresources:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        if res.plural == "services":
            for k in ("clusterIP", "clusterIPs"):
                if k in (old.get("spec") or {}) and k not in (new.get("spec") or {}):
                    new.setdefault("spec", {})[k] = old["spec"][k]
        self._default(res, new)
        if res.plural == "persistentvolumeclaims" and subresource is None:
            # The real validation: a claim's spec is immutable except resources.requests (and the attributes class).
            def frozen(spec: dict) -> dict:
                return {k: v for k, v in spec.items() if k not in ("resources", "volumeAttributesClassName")}
            if frozen(old.get("spec") or {}) != frozen(new.get("spec") or {}):
                raise ApiError(422, "Invalid", f'PersistentVolumeClaim "{name}" is invalid: spec: Forbidden: spec '
                               "is immutable after creation except resources.requests and volumeAttributesClassName "
                               "for bound claims")
        if res.plural == "statefulsets" and subresource is None:
            mutable = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                       "minReadySeconds")
            if {k: v for k, v in (old.get("spec") or {}).items() if k not in mutable} != \
                    {k: v for k, v in (new.get("spec") or {}).items() if k not in mutable}:
                raise ApiError(422, "Invalid", f'StatefulSet.apps "{name}" is invalid: spec: Forbidden: updates to '
                               "statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                               "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                               "forbidden")
        spec_old = {k: v for k, v in old.items() if k not in ("metadata", "status", "apiVersion", "kind")}
        spec_new = {k: v for k, v in new.items() if k not in ("metadata", "status", "apiVersion", "kind")}
        if spec_old != spec_new:
            meta["generation"] = (old_meta.get("generation") or 1) + 1
        new["kind"] = res.kind
        if dry_run:
            meta["resourceVersion"] = old_meta.get("resourceVersion")
            return new
        self._render_managed_fields(key, new)
        if {k: v for k, v in new.items() if k != "metadata"} == {k: v for k, v in old.items() if k != "metadata"} \
                and {k: v for k, v in meta.items() if k != "resourceVersion"} == \
                {k: v for k, v in old_meta.items() if k != "resourceVersion"}:
            meta["resourceVersion"] = old_meta["resourceVersion"]  # no-op write: no new resourceVersion/event
            self._store[key] = new
            return new
        meta["resourceVersion"] = self._next_rv()
        self._store[key] = new
        self._emit(res, ns, "MODIFIED", copy.deepcopy(new), copy.deepcopy(old))
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):  # the last finalizer went: delete now
            self._delete(res, ns, name)
            return new
        if subresource is None:
            self._after_write(res, key, old, new)
        return new

    def _update(self, res: Resource, ns: str, name: str, obj: dict, *, manager: str, dry_run: bool = False,
                subresource: str | None = None) -> dict:
        key = self._key(res, ns, name)
        old = self._store.get(key)
        if old is None:
            raise self._not_found(res, name)
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f"Operation cannot be fulfilled on {res.group_resource} \"{name}\": the "
                           "object has been modified; please apply your changes to the latest version and try again",
                           {"name": name, "group": res.group, "kind": res.plural})
        new = copy.deepcopy(obj)
        new.setdefault("metadata", {})
        for k in ("managedFields", "resourceVersion"):
            new["metadata"].pop(k, None)
        if not dry_run and subresource is None:
            self._record_update_owner(key, manager, old, new, new.get("apiVersion") or res.api_version())
        return self._finish_update(res, key, old, new, subresource=subresource, dry_run=dry_run)

    def _patch(self, res: Resource, ns: str, name: str, body: bytes, ctype: str, *, manager: str | None,
               default_manager: str, force: bool, dry_run: bool, subresource: str | None,
               api_version: str) -> tuple[dict, int]:
        key = self._key(res, ns, name)
        old = self._store.get(key)
        patch = self._decode(body)
        if ctype == "application/apply-patch+yaml":
            if not manager:
                raise ApiError(422, "Invalid", "PATCH request with apply patch requires fieldManager")
            return self._apply(res, ns, name, patch, manager=manager, force=force, dry_run=dry_run,
                               subresource=subresource, api_version=api_version)
        if old is None:
            raise self._not_found(res, name)
        if ctype == "application/merge-patch+json":
            new = json_merge_patch(old, patch)
        elif ctype == "application/strategic-merge-patch+json":
            if res.group not in ("", "apps", "batch", "policy", "networking.k8s.io", "rbac.authorization.k8s.io"):
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                               "accepted media types include: application/json-patch+json, "
                               "application/merge-patch+json, application/apply-patch+yaml")
            new = strategic_merge_patch(old, patch)
        elif ctype == "application/json-patch+json":
            new = json_patch(old, patch)
        else:
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                           f"accepted media types include: application/json-patch+json, "
                           f"application/merge-patch+json, application/apply-patch+yaml (got {ctype})")
        rv = ((patch if isinstance(patch, dict) else {}).get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f"Operation cannot be fulfilled on {res.group_resource} \"{name}\": the "
                           "object has been modified; please apply your changes to the latest version and try again")
        new.setdefault("metadata", {}).pop("managedFields", None)
        if not dry_run and subresource is None:
            self._record_update_owner(key, manager or default_manager, old, new, api_version)
        return self._finish_update(res, key, old, new, subresource=subresource, dry_run=dry_run), 200

    def _apply(self, res: Resource, ns: str, name: str, config: dict, *, manager: str, force: bool, dry_run: bool,
               subresource: str | None, api_version: str) -> tuple[dict, int]:
        if not isinstance(config, dict):
            raise ApiError(400, "BadRequest", "apply patch must be an object")
        cmeta = config.setdefault("metadata", {})
        if cmeta.get("name", name) != name:
            raise ApiError(400, "BadRequest", f"the name of the object ({cmeta.get('name')}) does not match the "
                           f"name on the URL ({name})")
        cmeta["name"] = name
        if res.namespaced and cmeta.get("namespace", ns) != ns:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the "
                               "namespace sent on the request")
        key = self._key(res, ns, name)
        old = self._store.get(key)
        view = _owned_view(config) if subresource is None else {"status": config.get("status") or {}}
        paths = _leaf_paths(view)
        field_info = {"operation": "Apply", "apiVersion": config.get("apiVersion") or api_version, "time": _now(),
                      "fields": paths}
        if subresource:
            field_info["subresource"] = subresource
        if old is None:
            if subresource:
                raise self._not_found(res, name)
            obj = copy.deepcopy(config)
            return self._create(res, ns, obj, manager=manager, dry_run=dry_run,
                                owners={(manager, "Apply"): field_info}), 201
        me = (manager, "Apply")
        owners = copy.deepcopy(self._owners.get(key) or {})
        old_view = _owned_view(old) if subresource is None else {"status": old.get("status") or {}}
        conflicts: list[tuple[str, str, tuple]] = []
        for p in sorted(paths):
            if _get_path(old_view, p) == _get_path(view, p):
                continue
            for other, info in owners.items():
                if other[0] != manager and p in info["fields"]:
                    conflicts.append((other, info.get("apiVersion", api_version), p))
        if conflicts and not force:
            fields = [".".join(("",) + c[2]) for c in conflicts]
            head = f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: "
            if len(conflicts) == 1:
                message = head + f"conflict with \"{conflicts[0][0][0]}\" using {conflicts[0][1]}: {fields[0]}"
            else:
                message = head + "".join(f"conflict with \"{o[0]}\" using {av}: {f}\n" for (o, av, _), f in
                                         zip(conflicts, fields)).rstrip()
            raise ApiError(409, "Conflict", message, {
                "name": name, "group": res.group, "kind": res.plural,
                "causes": [{"reason": "FieldManagerConflict", "message": f"conflict with \"{o[0]}\" using {av}",
                            "field": f} for (o, av, _), f in zip(conflicts, fields)]})
        for other, _av, p in conflicts:  # forced: the applier takes the fields over
            owners[other]["fields"].discard(p)
        stale = (owners.get(me) or {}).get("fields", set()) - paths
        new = copy.deepcopy(old)
        for p in sorted(stale, key=len, reverse=True):
            if not any(p in info["fields"] for other, info in owners.items() if other != me):
                _del_path(new, p)
        _deep_merge(new, {k: v for k, v in config.items() if k != "metadata"} if subresource is None
                    else {"status": config.get("status") or {}})
        if subresource is None:
            _deep_merge(new.setdefault("metadata", {}), _owned_view(config).get("metadata") or {})
        owners[me] = field_info
        if not dry_run:
            self._owners[key] = owners
        new["metadata"].pop("managedFields", None)
        return self._finish_update(res, key, old, new, subresource=subresource, dry_run=dry_run), 200

    def _delete(self, res: Resource, ns: str, name: str, *, propagation: str = "Background",
                dry_run: bool = False, force: bool = False) -> dict:
        key = self._key(res, ns, name)
        obj = self._store.get(key)
        if obj is None:
            raise self._not_found(res, name)
        if dry_run:
            return obj
        if obj["metadata"].get("finalizers") and not force:
            if not obj["metadata"].get("deletionTimestamp"):  # Terminating until the last finalizer is removed
                new = copy.deepcopy(obj)
                new["metadata"].update(deletionTimestamp=_now(), deletionGracePeriodSeconds=0)
                new["metadata"]["resourceVersion"] = self._next_rv()
                self._store[key] = new
                self._emit(res, ns, "MODIFIED", copy.deepcopy(new), copy.deepcopy(obj))
            if self.controllers and res.plural == "persistentvolumeclaims":
                self._pvc_protection(ns)
            return copy.deepcopy(self._store.get(key) or obj)
        del self._store[key]
        self._owners.pop(key, None)
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(res, ns, "DELETED", gone)
        if res.plural == "namespaces":  # namespace deletion: everything in it goes
            for k in [k for k in self._store if k[2] == name]:
                r = self._by_plural[(k[0], k[1])]
                if k in self._store:
                    self._delete(r, name, k[3], propagation="Orphan", force=True)
        if propagation != "Orphan":
            uid = obj["metadata"].get("uid")
            for k, dep in list(self._store.items()):
                if k in self._store and any(o.get("uid") == uid for o in dep["metadata"].get("ownerReferences") or []):
                    self._delete(self._by_plural[(k[0], k[1])], k[2], k[3], propagation=propagation)
        if self.controllers and res.plural == "pods" and self._controller_owner(obj, "LeaderWorkerSet"):
            self._reconcile_lws(ns, self._controller_owner(obj, "LeaderWorkerSet") or "")
        if self.controllers and res.plural == "pods" and self._controller_owner(obj, "StatefulSet"):
            self._reconcile_sts(ns, self._controller_owner(obj, "StatefulSet") or "")
        if self.controllers and res.plural == "pods":
            owner = self._controller_owner(obj, "ReplicaSet")
            rs = self._store.get(("apps", "replicasets", ns, owner)) if owner else None
            dep = self._controller_owner(rs, "Deployment") if rs else None
            if dep:
                self._reconcile_deployment(ns, dep)
        if self.controllers and res.plural == "pods":
            self._pvc_protection(ns)
        return gone

    # ---- watch ---------------------------------------------------------------------------------------------
    def _serve_watch(self, h: BaseHTTPRequestHandler, res: Resource, version: str, namespace: str | None,
                     lsel: Callable, fsel: Callable, query: dict, entry: dict) -> None:
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        rv = query.get("resourceVersion", "")
        send_initial = query.get("sendInitialEvents") == "true"
        group_res = (res.group, res.plural)

        def matches(obj: dict | None) -> bool:
            return obj is not None and lsel((obj.get("metadata") or {}).get("labels") or {}) and fsel(obj)

        with self._lock:
            if rv in ("", "0") or send_initial:
                initial = [self._present(res, o, version) for o in self._select(res, namespace, lsel, fsel)]
                index = len(self._history)
            else:
                try:
                    since = int(rv)
                except ValueError:
                    raise ApiError(400, "BadRequest", f"invalid resource version {rv!r}") from None
                initial = []
                index = bisect.bisect_right(self._history_rvs, since)
            current_rv = self._rv
        self._start_stream(h, "application/json", entry)
        try:
            for obj in initial:
                self._chunk(h, _json_bytes({"type": "ADDED", "object": obj}) + b"\n")
            if send_initial:
                self._chunk(h, _json_bytes({"type": "BOOKMARK", "object": {
                    "kind": res.kind, "apiVersion": res.api_version(version),
                    "metadata": {"resourceVersion": str(current_rv),
                                 "annotations": {"k8s.io/initial-events-end": "true"}}}}) + b"\n")
            while True:
                with self._cond:
                    while index >= len(self._history) and not self._stopping and time.monotonic() < deadline:
                        self._cond.wait(timeout=min(0.25, max(0.0, deadline - time.monotonic())))
                        if self._client_gone(h):
                            h.close_connection = True
                            return
                    batch = self._history[index:]
                    index = len(self._history)
                    stopping = self._stopping
                for _rv, gr, ns, etype, obj, old in batch:
                    if gr != group_res or (namespace is not None and ns != namespace):
                        continue
                    now, before = matches(obj), matches(old)
                    if etype == "MODIFIED" and now != before:
                        etype = "ADDED" if now else "DELETED"
                    elif not now:
                        continue
                    self._chunk(h, _json_bytes({"type": etype, "object": self._present(res, obj, version)}) + b"\n")
                if stopping or time.monotonic() >= deadline:
                    break
        except OSError:
            h.close_connection = True
            return
        self._end_stream(h)

    # ---- pods/log ------------------------------------------------------------------------------------------
    def _serve_log(self, h: BaseHTTPRequestHandler, ns: str, name: str, query: dict, entry: dict) -> None:
        pods = self._by_plural[("", "pods")]
        with self._lock:
            pod = copy.deepcopy(self._get(pods, ns, name))
            text = self._log_text(name)
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        init = [c["name"] for c in (pod.get("spec") or {}).get("initContainers") or []]
        container = query.get("container")
        if not container:
            if len(containers) != 1:
                raise ApiError(400, "BadRequest", f"a container name must be specified for pod {name}, choose one "
                               f"of: [{' '.join(containers)}]")
            container = containers[0]
        elif container not in containers + init:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        statuses = {s["name"]: s for s in ((pod.get("status") or {}).get("containerStatuses") or [])}
        state = (statuses.get(container) or {}).get("state") or {}
        if container in containers and "running" not in state and "terminated" not in state:
            reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
            raise ApiError(400, "BadRequest", f"container \"{container}\" in pod \"{name}\" is waiting to start: "
                           f"{reason}")
        if query.get("previous") in ("true", "1"):
            raise ApiError(400, "BadRequest", f"previous terminated container \"{container}\" in pod \"{name}\" "
                           "not found")
        lines = text.splitlines(keepends=True)
        if query.get("tailLines"):
            n = int(query["tailLines"])
            lines = lines[-n:] if n > 0 else []
        if query.get("timestamps") in ("true", "1"):
            lines = [f"{_now()} {ln}" for ln in lines]
        data = "".join(lines)
        if query.get("limitBytes"):
            data = data.encode()[: int(query["limitBytes"])].decode(errors="ignore")
        if query.get("follow") not in ("true", "1"):
            return self._send_text(h, 200, data, entry)
        self._start_stream(h, "text/plain", entry)
        try:
            for line in data.splitlines(keepends=True):
                self._chunk(h, line.encode())
                if self.log_follow_delay:
                    time.sleep(self.log_follow_delay)
        except OSError:
            h.close_connection = True
            return
        self._end_stream(h)

    def _log_text(self, pod: str) -> str:
        best = max((p for p in self._pod_logs if pod.startswith(p)), key=len, default=None)
        return self._pod_logs[best] if best is not None else self._default_log

    # ---- simulated controllers -----------------------------------------------------------------------------
    @staticmethod
    def _controller_owner(obj: dict | None, kind: str) -> str | None:
        for ref in ((obj or {}).get("metadata") or {}).get("ownerReferences") or []:
            if ref.get("kind") == kind and ref.get("controller"):
                return ref.get("name")
        return None

    @staticmethod
    def _owner_ref(obj: dict, api_version: str, kind: str) -> dict:
        return {"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"],
                "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}

    def _after_write(self, res: Resource, key: tuple, old: dict | None, new: dict) -> None:
        if not self.controllers:
            return
        if res.plural == "deployments":
            self._reconcile_deployment(key[2], key[3])
        elif res.plural == "leaderworkersets" and (old is None or old.get("spec") != new.get("spec")):
            self._reconcile_lws(key[2], key[3])
        elif res.plural == "statefulsets" and (old is None or old.get("spec") != new.get("spec")):
            self._reconcile_sts(key[2], key[3])
        elif res.plural == "persistentvolumeclaims":
            self._bind_claim(key)
        elif res.plural in ("storageclasses", "priorityclasses") and old is None:
            # the provisioner / ReplicaSet controller retry: claims of this class bind, refused Pods get in
            for k in [k for k in self._store if k[:2] == ("", "persistentvolumeclaims")]:
                self._bind_claim(k)
            for k in [k for k in self._store if k[:2] == ("apps", "deployments")]:
                self._reconcile_deployment(k[2], k[3])
            for k in [k for k in self._store if k[:2] == ("apps", "statefulsets")]:
                self._reconcile_sts(k[2], k[3])

    def _bind_claim(self, key: tuple) -> None:
        """PVC protection's finalizer, then Bound, or Pending + ProvisioningFailed for an unknown storage class."""
        res = self._by_plural[("", "persistentvolumeclaims")]
        pvc = self._store.get(key)
        if pvc is None or pvc["metadata"].get("deletionTimestamp"):
            return
        if "kubernetes.io/pvc-protection" not in (pvc["metadata"].get("finalizers") or []):
            self._controller_write(res, key, meta_patch={"finalizers": [
                *(pvc["metadata"].get("finalizers") or []), "kubernetes.io/pvc-protection"]})
            pvc = self._store[key]
        if (pvc.get("status") or {}).get("phase") == "Bound":
            return
        spec = pvc.get("spec") or {}
        sc = spec.get("storageClassName")
        if sc and self.check_storage_classes and ("storage.k8s.io", "storageclasses", "", sc) not in self._store:
            if (pvc.get("status") or {}).get("phase") != "Pending":
                self._controller_write(res, key, status={"phase": "Pending"})
            self._event(self._store[key], "Warning", "ProvisioningFailed",
                        f'storageclass.storage.k8s.io "{sc}" not found', "persistentvolume-controller")
            return
        status = {"phase": "Bound", "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                  "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get(
                      "storage", "1Gi")}}
        self._controller_write(res, key, status=status, spec_patch={"volumeName": f"pvc-{pvc['metadata']['uid']}"})
        for (group, plural, ns, name), pod in list(self._store.items()):  # Pods waiting for this claim schedule
            if (group, plural, ns) == ("", "pods", key[2]) and key[3] in self._claims(pod) \
                    and (pod.get("status") or {}).get("phase") == "Pending" and self._unbound_claims(pod) == []:
                self._set_pod_state(("", "pods", ns, name), self._initial_pod_state())

    @staticmethod
    def _claims(pod: dict) -> list[str]:
        return [(v.get("persistentVolumeClaim") or {}).get("claimName") for v in
                (pod.get("spec") or {}).get("volumes") or [] if v.get("persistentVolumeClaim")]

    def _unbound_claims(self, pod: dict) -> list[str]:
        ns = pod["metadata"]["namespace"]
        return [c for c in self._claims(pod) if ((self._store.get(("", "persistentvolumeclaims", ns, c)) or {})
                                                 .get("status") or {}).get("phase") != "Bound"]

    def _pvc_protection(self, ns: str) -> None:
        """kube-controller-manager's pvc-protection: a deleted claim that no Pod mounts loses its finalizer."""
        res = self._by_plural[("", "persistentvolumeclaims")]
        used = {c for k, p in self._store.items() if k[:3] == ("", "pods", ns)
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed") for c in self._claims(p)}
        for key, pvc in list(self._store.items()):
            meta = pvc["metadata"]
            if key[:3] != ("", "persistentvolumeclaims", ns) or not meta.get("deletionTimestamp") \
                    or key[3] in used or "kubernetes.io/pvc-protection" not in (meta.get("finalizers") or []):
                continue
            rest = [f for f in meta["finalizers"] if f != "kubernetes.io/pvc-protection"]
            self._controller_write(res, key, meta_patch={"finalizers": rest})
            if not rest:
                self._delete(res, ns, key[3])

    def _controller_write(self, res: Resource, key: tuple, *, status: dict | None = None,
                          spec_patch: dict | None = None, meta_patch: dict | None = None) -> None:
        """A controller's write: status (and optionally spec/metadata fields) without generation/ownership churn."""
        old = self._store.get(key)
        if old is None:
            return
        new = copy.deepcopy(old)
        if status is not None:
            new["status"] = status
        if spec_patch:
            new.setdefault("spec", {}).update(spec_patch)
        if meta_patch:
            new["metadata"].update(meta_patch)
            if not new["metadata"].get("finalizers"):
                new["metadata"].pop("finalizers", None)
        if new == old:
            return
        new["metadata"]["resourceVersion"] = self._next_rv()
        self._store[key] = new
        self._emit(res, key[2], "MODIFIED", copy.deepcopy(new), copy.deepcopy(old))

    def _reconcile_deployment(self, ns: str, name: str, restate: bool = False) -> None:
        self._by_plural[("apps", "deployments")]
        rsets = self._by_plural[("apps", "replicasets")]
        pods_res = self._by_plural[("", "pods")]
        dkey = ("apps", "deployments", ns, name)
        dep = self._store.get(dkey)
        if dep is None:
            return
        spec = dep.get("spec") or {}
        replicas = spec.get("replicas", 1) if spec.get("replicas") is not None else 1
        template = copy.deepcopy(spec.get("template") or {})
        tmpl_hash = _template_hash(template)
        rs_name = f"{name}-{tmpl_hash}"
        uid = dep["metadata"]["uid"]

        def owned_by(obj: dict, owner_uid: str) -> bool:
            return any(o.get("uid") == owner_uid and o.get("controller") for o in
                       obj["metadata"].get("ownerReferences") or [])

        def pods_of(rs: dict) -> list[tuple[tuple, dict]]:
            return [(k, p) for k, p in self._store.items()
                    if k[:3] == ("", "pods", ns) and owned_by(p, rs["metadata"]["uid"])]

        owned = [(k, rs) for k, rs in self._store.items() if k[:3] == ("apps", "replicasets", ns) and owned_by(rs, uid)]
        for k, rs in owned:  # old pod templates: scale to zero (Recreate and RollingUpdate alike, instantly)
            if k[3] == rs_name:
                continue
            for pk, _pod in pods_of(rs):
                if pk in self._store:
                    self._delete(pods_res, ns, pk[3])
            if (rs.get("spec") or {}).get("replicas") != 0 and k in self._store:
                self._controller_write(rsets, k, status={"replicas": 0, "observedGeneration":
                                                         rs["metadata"].get("generation", 1)},
                                       spec_patch={"replicas": 0})
        rs_key = ("apps", "replicasets", ns, rs_name)
        labels = {**((template.get("metadata") or {}).get("labels") or {}), "pod-template-hash": tmpl_hash}
        if rs_key not in self._store:
            template.setdefault("metadata", {})["labels"] = labels
            selector = copy.deepcopy(spec.get("selector") or {"matchLabels": {}})
            selector.setdefault("matchLabels", {})["pod-template-hash"] = tmpl_hash
            self._create(rsets, ns, {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs_name, "namespace": ns, "labels": labels,
                             "annotations": {"deployment.kubernetes.io/desired-replicas": str(replicas)},
                             "ownerReferences": [self._owner_ref(dep, "apps/v1", "Deployment")]},
                "spec": {"replicas": replicas, "selector": selector, "template": template}},
                manager="kube-controller-manager")
        elif (self._store[rs_key].get("spec") or {}).get("replicas") != replicas:
            self._controller_write(rsets, rs_key, spec_patch={"replicas": replicas})
        rs = self._store[rs_key]
        pods = sorted(pods_of(rs), key=lambda kp: kp[1]["metadata"]["creationTimestamp"])
        for pk, _pod in pods[replicas:]:
            if pk in self._store:       # deleting a pod reconciles again, which may have taken the others already
                self._delete(pods_res, ns, pk[3])
        refused = None
        for _ in range(replicas - len(pods)):
            refused = self._create_pod(rs, ns) or refused
        if restate:
            for pk, pod in pods_of(rs):
                self._set_pod_state(pk, self._pod_state(pod))
        # status of the ReplicaSet and the Deployment, from the Pods
        pods = [p for _k, p in pods_of(rs)]
        ready = sum(1 for p in pods if self._pod_ready(p))
        rs_status: dict[str, Any] = {
            k: v for k, v in {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
                              "availableReplicas": ready,
                              "observedGeneration": rs["metadata"].get("generation", 1)}.items() if v or k == "replicas"}
        if refused:
            rs_status["conditions"] = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                                        "message": refused, "lastTransitionTime": _now()}]
        self._controller_write(rsets, rs_key, status=rs_status)
        self._update_deployment_status(ns, name)

    # LeaderWorkerSet (leaderworkerset.x-k8s.io/v1), a tiny controller: groups of `size` pods named like the real one
    # (leader <lws>-<g>, workers <lws>-<g>-<w>), its labels and LWS_* env, one PVC per pod and claim template
    # (owned by the LWS when persistentVolumeClaimRetentionPolicy.whenDeleted is Delete). A changed template
    # replaces every group's pods at once, after lws_rollout_delay seconds (the old, Ready pods stay until then, as in
    # a rolling update; their successors keep the names). Status: readyReplicas counts groups whose pods are all
    # Ready (updated or not, like the real controller), updatedReplicas those whose pods carry the current revision.
    LWS = "leaderworkerset.sigs.k8s.io"

    def _reconcile_lws(self, ns: str, name: str) -> None:
        key = ("leaderworkerset.x-k8s.io", "leaderworkersets", ns, name)
        lws = self._store.get(key)
        if lws is None or getattr(self, "_in_lws", False):
            return
        self._in_lws = True
        try:
            self._reconcile_lws_locked(ns, name, lws)
        finally:
            self._in_lws = False
        self._update_lws_status(ns, name)

    def _lws_pods(self, ns: str, uid: str) -> dict[str, dict]:
        return {k[3]: p for k, p in self._store.items() if k[:3] == ("", "pods", ns) and any(
            o.get("uid") == uid and o.get("controller") for o in p["metadata"].get("ownerReferences") or [])}

    def _reconcile_lws_locked(self, ns: str, name: str, lws: dict) -> None:
        pods_res, pvc_res = self._by_plural[("", "pods")], self._by_plural[("", "persistentvolumeclaims")]
        spec = lws.get("spec") or {}
        lwt = spec.get("leaderWorkerTemplate") or {}
        size, replicas = int(lwt.get("size", 1)), int(spec.get("replicas", 1))
        revision = _template_hash(lwt)
        want = {(f"{name}-{g}" if w == 0 else f"{name}-{g}-{w}"): (g, w) for g in range(replicas) for w in range(size)}
        uid = lws["metadata"]["uid"]
        old_pods = {n: p for n, p in self._lws_pods(ns, uid).items()
                    if p["metadata"]["labels"].get(f"{self.LWS}/template-revision-hash") != revision}
        if self._lws_revisions.get(uid) != revision:   # a new template (or the first): a rollout starts
            self._lws_revisions[uid] = revision
            if old_pods and self.lws_rollout_delay > 0:   # the old pods stay (Ready) for a while, then go
                timer = threading.Timer(self.lws_rollout_delay, self._lws_rollout_due, args=(ns, name, uid, revision))
                timer.daemon = True
                self._timers.append(timer)
                timer.start()
                self._lws_waiting.add((uid, revision))
        waiting = (uid, revision) in self._lws_waiting
        for pname, pod in self._lws_pods(ns, uid).items():
            if pname not in want or (pname in old_pods and not waiting):
                self._delete(pods_res, ns, pname)
        existing = self._lws_pods(ns, lws["metadata"]["uid"])
        claims = lwt.get("volumeClaimTemplates") or []
        owned_claims = ((lwt.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted") == "Delete")
        for pname, (g, w) in want.items():
            if pname in existing:
                continue
            tmpl = copy.deepcopy((lwt.get("leaderTemplate") if w == 0 else None) or lwt.get("workerTemplate") or {})
            meta, pspec = tmpl.get("metadata") or {}, tmpl.get("spec") or {}
            labels = {**(meta.get("labels") or {}), f"{self.LWS}/name": name, f"{self.LWS}/group-index": str(g),
                      f"{self.LWS}/worker-index": str(w), f"{self.LWS}/template-revision-hash": revision}
            annotations = {**(meta.get("annotations") or {}), f"{self.LWS}/size": str(size),
                           f"{self.LWS}/leader-name": f"{name}-{g}"}
            env = [{"name": "LWS_LEADER_ADDRESS", "value": f"{name}-{g}.{name}.{ns}"},
                   {"name": "LWS_GROUP_SIZE", "value": str(size)}, {"name": "LWS_WORKER_INDEX", "value": str(w)}]
            for c in pspec.get("containers") or []:
                c["env"] = env + list(c.get("env") or [])
            for claim in claims:
                cname = claim["metadata"]["name"]
                pvc_name = f"{cname}-{pname}"
                pspec.setdefault("volumes", []).append({"name": cname, "persistentVolumeClaim": {"claimName": pvc_name}})
                if ("", "persistentvolumeclaims", ns, pvc_name) not in self._store:
                    pvc_meta = {"name": pvc_name, "namespace": ns,
                                "labels": {**(claim["metadata"].get("labels") or {}), f"{self.LWS}/name": name}}
                    if owned_claims:
                        pvc_meta["ownerReferences"] = [self._owner_ref(lws, "leaderworkerset.x-k8s.io/v1",
                                                                       "LeaderWorkerSet")]
                    self._create(pvc_res, ns, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                               "metadata": pvc_meta, "spec": copy.deepcopy(claim.get("spec") or {})},
                                 manager="lws-controller")
            pspec.setdefault("restartPolicy", "Always")
            pspec.setdefault("hostname", pname)
            pspec.setdefault("subdomain", name)
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": pname, "namespace": ns, "labels": labels, "annotations": annotations,
                                "ownerReferences": [self._owner_ref(lws, "leaderworkerset.x-k8s.io/v1",
                                                                   "LeaderWorkerSet")]},
                   "spec": pspec}
            created = self._create(pods_res, ns, pod, manager="lws-controller")
            self._set_pod_state(("", "pods", ns, created["metadata"]["name"]), self._initial_pod_state())
            if self._initial_pod_state() == "creating":
                timer = threading.Timer(self.pod_ready_delay, self._pod_timer,
                                        args=(ns, created["metadata"]["name"], created["metadata"]["uid"]))
                timer.daemon = True
                self._timers.append(timer)
                timer.start()

    # StatefulSet (apps/v1), a tiny controller: Pods <sts>-<i> and one claim <template>-<sts>-<i> per claim template;
    # a changed template replaces the Pods at once (the real one goes one Pod at a time; the names stay).
    STS_CLAIM_DELETE = "Delete"

    def _reconcile_sts(self, ns: str, name: str) -> None:
        key = ("apps", "statefulsets", ns, name)
        sts = self._store.get(key)
        if sts is None or getattr(self, "_in_sts", False):
            return
        self._in_sts = True
        try:
            self._reconcile_sts_locked(ns, name, sts)
        finally:
            self._in_sts = False
        self._update_sts_status(ns, name)

    def _sts_pods(self, ns: str, uid: str) -> dict[str, dict]:
        return {k[3]: p for k, p in self._store.items() if k[:3] == ("", "pods", ns) and any(
            o.get("uid") == uid and o.get("controller") for o in p["metadata"].get("ownerReferences") or [])}

    @staticmethod
    def _sts_revision(sts: dict) -> str:
        return f"{sts['metadata']['name']}-{_template_hash((sts.get('spec') or {}).get('template') or {})}"

    def _reconcile_sts_locked(self, ns: str, name: str, sts: dict) -> None:
        pods_res, pvc_res = self._by_plural[("", "pods")], self._by_plural[("", "persistentvolumeclaims")]
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        revision = self._sts_revision(sts)
        policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        owned_claims = policy.get("whenDeleted", "Retain") == self.STS_CLAIM_DELETE
        claims = spec.get("volumeClaimTemplates") or []
        uid = sts["metadata"]["uid"]
        for pname, pod in self._sts_pods(ns, uid).items():
            index = int(pod["metadata"]["labels"].get("apps.kubernetes.io/pod-index", "0"))
            if index >= replicas:                       # scaled away: the pod, and its claims when whenScaled Delete
                self._delete(pods_res, ns, pname)
                if policy.get("whenScaled", "Retain") == self.STS_CLAIM_DELETE:
                    for claim in claims:
                        ckey = ("", "persistentvolumeclaims", ns, f"{claim['metadata']['name']}-{pname}")
                        if ckey in self._store:
                            self._delete(pvc_res, ns, ckey[3])
            elif pod["metadata"]["labels"].get("controller-revision-hash") != revision:
                self._delete(pods_res, ns, pname)       # an old template: replaced under the same name
        existing = self._sts_pods(ns, uid)
        for i in range(replicas):
            pname = f"{name}-{i}"
            for claim in claims:                          # the claims match the retention policy (owner or not)
                ckey = ("", "persistentvolumeclaims", ns, f"{claim['metadata']['name']}-{pname}")
                pvc = self._store.get(ckey)
                if pvc is None:
                    meta = {"name": ckey[3], "namespace": ns,
                            "labels": {**(claim["metadata"].get("labels") or {})}}
                    if owned_claims:
                        meta["ownerReferences"] = [self._owner_ref(sts, "apps/v1", "StatefulSet")]
                    self._create(pvc_res, ns, {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
                                               "spec": copy.deepcopy(claim.get("spec") or {})},
                                 manager="kube-controller-manager")
                elif not pvc["metadata"].get("deletionTimestamp"):
                    refs = [r for r in pvc["metadata"].get("ownerReferences") or [] if r.get("kind") != "StatefulSet"]
                    if owned_claims:
                        refs.append(self._owner_ref(sts, "apps/v1", "StatefulSet"))
                    if refs != (pvc["metadata"].get("ownerReferences") or []):   # adopt, or let go (Retain)
                        new = copy.deepcopy(pvc)
                        new["metadata"]["ownerReferences"] = refs
                        if not refs:
                            del new["metadata"]["ownerReferences"]
                        new["metadata"]["resourceVersion"] = self._next_rv()
                        self._store[ckey] = new
                        self._emit(pvc_res, ns, "MODIFIED", copy.deepcopy(new), copy.deepcopy(pvc))
            if pname in existing or ("", "pods", ns, pname) in self._store:
                continue                                   # (a pod of that name still terminating: next round)
            tmpl = copy.deepcopy(spec.get("template") or {})
            meta, pspec = tmpl.get("metadata") or {}, tmpl.get("spec") or {}
            labels = {**(meta.get("labels") or {}), "controller-revision-hash": revision,
                      "statefulset.kubernetes.io/pod-name": pname, "apps.kubernetes.io/pod-index": str(i)}
            for claim in claims:
                cname = claim["metadata"]["name"]
                pspec.setdefault("volumes", []).append({"name": cname,
                                                        "persistentVolumeClaim": {"claimName": f"{cname}-{pname}"}})
            pclass = pspec.get("priorityClassName")
            if pclass and self.check_priority_classes and \
                    ("scheduling.k8s.io", "priorityclasses", "", pclass) not in self._store:
                self._event(sts, "Warning", "FailedCreate", f"create Pod {pname} in StatefulSet {name} failed error: "
                            f'pods "{pname}" is forbidden: no PriorityClass with name {pclass} was found',
                            "statefulset-controller")
                continue
            pspec.setdefault("restartPolicy", "Always")
            pspec.setdefault("hostname", pname)
            pspec.setdefault("subdomain", spec.get("serviceName") or name)
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": pname, "namespace": ns, "labels": labels,
                                **({"annotations": meta["annotations"]} if meta.get("annotations") else {}),
                                "ownerReferences": [self._owner_ref(sts, "apps/v1", "StatefulSet")]},
                   "spec": pspec}
            created = self._create(pods_res, ns, pod, manager="kube-controller-manager")
            state = self._pod_state(created)
            self._set_pod_state(("", "pods", ns, pname), state)
            if state == "creating":
                timer = threading.Timer(self.pod_ready_delay, self._pod_timer,
                                        args=(ns, pname, created["metadata"]["uid"]))
                timer.daemon = True
                self._timers.append(timer)
                timer.start()

    def _update_sts_status(self, ns: str, name: str) -> None:
        res = self._by_plural[("apps", "statefulsets")]
        key = ("apps", "statefulsets", ns, name)
        sts = self._store.get(key)
        if sts is None:
            return
        replicas = int((sts.get("spec") or {}).get("replicas", 1))
        revision = self._sts_revision(sts)
        pods = list(self._sts_pods(ns, sts["metadata"]["uid"]).values())
        updated = [p for p in pods if p["metadata"]["labels"].get("controller-revision-hash") == revision]
        ready = sum(1 for p in pods if self._pod_ready(p))
        old = sts.get("status") or {}
        done = len(updated) == replicas == len(pods)
        current_rev = revision if done else (old.get("currentRevision") or revision)
        status = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(pods),
                  "readyReplicas": ready, "availableReplicas": ready,
                  "currentReplicas": len(updated) if done else len(pods) - len(updated),
                  "updatedReplicas": len(updated), "currentRevision": current_rev, "updateRevision": revision,
                  "collisionCount": 0}
        status = {k: v for k, v in status.items() if v or k in ("observedGeneration", "replicas", "availableReplicas",
                                                                 "collisionCount")}
        if status != old:
            self._controller_write(res, key, status=status)

    def _lws_rollout_due(self, ns: str, name: str, uid: str, revision: str) -> None:
        with self._lock:
            self._lws_waiting.discard((uid, revision))
            if not self._stopping:
                self._reconcile_lws(ns, name)

    def _update_lws_status(self, ns: str, name: str) -> None:
        res = self._by_plural.get(("leaderworkerset.x-k8s.io", "leaderworkersets"))
        key = ("leaderworkerset.x-k8s.io", "leaderworkersets", ns, name)
        lws = self._store.get(key)
        if res is None or lws is None:
            return
        replicas = int((lws.get("spec") or {}).get("replicas", 1))
        groups: dict[str, list[dict]] = {}
        for p in self._lws_pods(ns, lws["metadata"]["uid"]).values():
            groups.setdefault(p["metadata"]["labels"].get(f"{self.LWS}/group-index", "0"), []).append(p)
        size = int(((lws.get("spec") or {}).get("leaderWorkerTemplate") or {}).get("size", 1))
        revision = _template_hash((lws.get("spec") or {}).get("leaderWorkerTemplate") or {})
        complete = [ps for ps in groups.values() if len(ps) == size]
        ready = sum(1 for ps in complete if all(self._pod_ready(p) for p in ps))
        updated = sum(1 for ps in complete if all(
            p["metadata"]["labels"].get(f"{self.LWS}/template-revision-hash") == revision for p in ps))
        now = _now()
        available = ready >= replicas and updated >= replicas
        status = {"observedGeneration": lws["metadata"].get("generation", 1), "replicas": len(groups),
                  "readyReplicas": ready, "updatedReplicas": updated,
                  "hpaPodSelector": f"{self.LWS}/name={name},{self.LWS}/worker-index=0",
                  "conditions": [{"type": "Available", "status": "True" if available else "False",
                                  "reason": "AllGroupsReady" if available else "GroupsNotReady",
                                  "message": f"{ready}/{replicas} groups ready", "lastTransitionTime": now},
                                 {"type": "Progressing", "status": "False" if available else "True",
                                  "reason": "GroupsProgressing", "message": "", "lastTransitionTime": now}]}
        old = lws.get("status") or {}
        if {k: v for k, v in old.items() if k != "conditions"} == {k: v for k, v in status.items() if k != "conditions"}:
            return
        self._controller_write(res, key, status=status)

    def _update_deployment_status(self, ns: str, name: str) -> None:
        deployments = self._by_plural[("apps", "deployments")]
        dkey = ("apps", "deployments", ns, name)
        dep = self._store.get(dkey)
        if dep is None:
            return
        replicas = (dep.get("spec") or {}).get("replicas", 1)
        uid = dep["metadata"]["uid"]
        rs_uids = {rs["metadata"]["uid"]: rs for k, rs in self._store.items()
                   if k[:3] == ("apps", "replicasets", ns) and any(
                       o.get("uid") == uid for o in rs["metadata"].get("ownerReferences") or [])}
        # The ReplicaSet of the Deployment's current pod template (a rollback re-uses an older one, as the real
        # controller does), not simply the newest created.
        wanted = f"{name}-{_template_hash((dep.get('spec') or {}).get('template') or {})}"
        current = next((rs for rs in rs_uids.values() if rs["metadata"]["name"] == wanted), None)
        all_pods = [p for k, p in self._store.items() if k[:3] == ("", "pods", ns) and any(
            o.get("uid") in rs_uids for o in p["metadata"].get("ownerReferences") or [])]
        new_pods = [p for p in all_pods if current and any(
            o.get("uid") == current["metadata"]["uid"] for o in p["metadata"].get("ownerReferences") or [])]
        ready = sum(1 for p in new_pods if self._pod_ready(p))
        old_status = dep.get("status") or {}
        old_conds = {c["type"]: c for c in old_status.get("conditions") or []}

        def cond(ctype: str, status: str, reason: str, message: str) -> dict:
            prev = old_conds.get(ctype)
            now = _now()
            same = prev and prev.get("status") == status
            return {"type": ctype, "status": status,
                    "lastUpdateTime": prev["lastUpdateTime"] if prev and same and prev.get("reason") == reason else now,
                    "lastTransitionTime": prev["lastTransitionTime"] if same else now,
                    "reason": reason, "message": message}
        rs_name = current["metadata"]["name"] if current else name
        available = ready >= replicas
        conditions = [
            cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
            if available else
            cond("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
            cond("Progressing", "True", "NewReplicaSetAvailable", f"ReplicaSet \"{rs_name}\" has successfully "
                 "progressed.") if available and len(new_pods) == replicas else
            cond("Progressing", "True", "ReplicaSetUpdated", f"ReplicaSet \"{rs_name}\" is progressing."),
        ]
        failure = next((c for c in ((current or {}).get("status") or {}).get("conditions") or []
                        if c.get("type") == "ReplicaFailure" and c.get("status") == "True"), None)
        if failure:
            conditions.append(cond("ReplicaFailure", "True", "FailedCreate", failure.get("message", "")))
        status = {"observedGeneration": dep["metadata"].get("generation", 1), "replicas": len(all_pods),
                  "updatedReplicas": len(new_pods), "readyReplicas": ready, "availableReplicas": ready,
                  "unavailableReplicas": max(0, replicas - ready), "conditions": conditions}
        status = {k: v for k, v in status.items() if v or k in ("observedGeneration", "conditions")}
        self._controller_write(deployments, dkey, status=status)

    @staticmethod
    def _pod_ready(pod: dict) -> bool:
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (pod.get("status") or {}).get("conditions") or [])

    def _initial_pod_state(self) -> str:
        if self.pod_mode == "unschedulable":
            return "unschedulable"
        return "creating" if self.pod_ready_delay > 0 else "running"

    def _create_pod(self, rs: dict, ns: str) -> str | None:
        """Create one Pod of the ReplicaSet; the admission error message (FailedCreate) when it is refused."""
        pods_res = self._by_plural[("", "pods")]
        template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
        tmeta = template.get("metadata") or {}
        rs_name = rs["metadata"]["name"]
        pclass = (template.get("spec") or {}).get("priorityClassName")
        if pclass and self.check_priority_classes and \
                ("scheduling.k8s.io", "priorityclasses", "", pclass) not in self._store:
            message = f'pods "{rs_name}-" is forbidden: no PriorityClass with name {pclass} was found'
            self._event(rs, "Warning", "FailedCreate", f"Error creating: {message}", "replicaset-controller")
            return message
        name = f"{rs_name}-{_rand()}"
        while ("", "pods", ns, name) in self._store:
            name = f"{rs_name}-{_rand()}"
        pod_spec = template.get("spec") or {}
        pod_spec.setdefault("schedulerName", "default-scheduler")
        pod_spec.setdefault("serviceAccountName", "default")
        pod_spec.setdefault("restartPolicy", "Always")
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "generateName": f"{rs_name}-", "namespace": ns,
                            "labels": tmeta.get("labels") or {}, "annotations": tmeta.get("annotations") or {},
                            "ownerReferences": [self._owner_ref(rs, "apps/v1", "ReplicaSet")]},
               "spec": pod_spec}
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        created = self._create(pods_res, ns, pod, manager="kube-controller-manager")
        state = self._pod_state(created)
        self._set_pod_state(("", "pods", ns, created["metadata"]["name"]), state)
        if state == "creating":
            timer = threading.Timer(self.pod_ready_delay, self._pod_timer, args=(ns, created["metadata"]["name"],
                                                                                  created["metadata"]["uid"]))
            timer.daemon = True
            self._timers.append(timer)
            timer.start()
        return None

    def _pod_state(self, pod: dict) -> str:
        """The initial state of this Pod: unschedulable while a claim it mounts is not Bound."""
        return "unbound" if self.controllers and self._unbound_claims(pod) else self._initial_pod_state()

    def _pod_timer(self, ns: str, name: str, uid: str) -> None:
        with self._lock:
            key = ("", "pods", ns, name)
            pod = self._store.get(key)
            if self._stopping or pod is None or pod["metadata"]["uid"] != uid or self.pod_mode != "running" \
                    or self._unbound_claims(pod):
                return
            self._set_pod_state(key, "running")

    def _set_pod_state(self, key: tuple, state: str) -> None:
        """state: running | creating | unschedulable; writes status + Events, then the owners' status."""
        pods_res = self._by_plural[("", "pods")]
        pod = self._store.get(key)
        if pod is None:
            return
        now = _now()
        spec = pod.get("spec") or {}
        containers = spec.get("containers") or []
        old_status = pod.get("status") or {}
        qos = "Guaranteed" if containers and all((c.get("resources") or {}).get("limits") for c in containers) \
            else "Burstable"
        if state in ("unschedulable", "unbound"):
            message = self.unschedulable_message if state == "unschedulable" else (
                "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes "
                "are available: 3 Preemption is not helpful for scheduling.")
            status = {"phase": "Pending", "qosClass": qos, "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": message, "lastProbeTime": None, "lastTransitionTime": now}]}
            if old_status.get("phase") != "Pending" or "containerStatuses" in old_status or not old_status \
                    or (old_status.get("conditions") or [{}])[0].get("message") != message:
                self._event(pod, "Warning", "FailedScheduling", message, "default-scheduler")
        else:
            running = state == "running"
            ip = f"10.244.0.{random.randint(2, 254)}"

            def cs(c: dict, init: bool = False) -> dict:
                if init:
                    st = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}
                elif running:
                    st = {"running": {"startedAt": now}}
                else:
                    st = {"waiting": {"reason": "ContainerCreating"}}
                return {"name": c["name"], "image": c.get("image", ""), "imageID": f"{c.get('image', '')}@sha256:"
                        + "0" * 64 if running or init else "", "ready": running and not init,
                        "started": running and not init, "restartCount": 0, "state": st}
            flag = "True" if running else "False"
            status = {
                "phase": "Running" if running else "Pending", "qosClass": qos, "hostIP": "192.168.1.10",
                "podIP": ip, "podIPs": [{"ip": ip}], "startTime": now,
                "conditions": [
                    {"type": "PodReadyToStartContainers", "status": flag, "lastTransitionTime": now},
                    {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                    {"type": "Ready", "status": flag, "lastTransitionTime": now,
                     **({} if running else {"reason": "ContainersNotReady",
                                            "message": "containers with unready status: [" +
                                            " ".join(c["name"] for c in containers) + "]"})},
                    {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}],
                "containerStatuses": [cs(c) for c in containers]}
            if spec.get("initContainers"):
                status["initContainerStatuses"] = [cs(c, init=True) for c in spec["initContainers"]]
            if not spec.get("nodeName"):
                self._controller_write(pods_res, key, spec_patch={"nodeName": self.node_name})
                self._event(pod, "Normal", "Scheduled", f"Successfully assigned {key[2]}/{key[3]} to "
                            f"{self.node_name}", "default-scheduler")
            if running:
                for c in containers:
                    self._event(pod, "Normal", "Pulled", f"Container image \"{c.get('image', '')}\" already present "
                                "on machine", "kubelet")
                    self._event(pod, "Normal", "Created", f"Created container: {c['name']}", "kubelet")
                    self._event(pod, "Normal", "Started", f"Started container {c['name']}", "kubelet")
        self._controller_write(pods_res, key, status=status)
        self._pod_owners_changed(key)

    def _pod_owners_changed(self, key: tuple) -> None:
        """A Pod's readiness changed: its LeaderWorkerSet's or ReplicaSet's and Deployment's status follow."""
        pod = self._store.get(key)
        if pod is None:
            return
        lws_name = self._controller_owner(pod, "LeaderWorkerSet")
        if lws_name:
            self._update_lws_status(key[2], lws_name)
        sts_name = self._controller_owner(pod, "StatefulSet")
        if sts_name:
            self._update_sts_status(key[2], sts_name)
        rs_name = self._controller_owner(pod, "ReplicaSet")
        rs = self._store.get(("apps", "replicasets", key[2], rs_name)) if rs_name else None
        dep = self._controller_owner(rs, "Deployment") if rs else None
        if rs is not None:
            pods = [p for k, p in self._store.items() if k[:3] == ("", "pods", key[2]) and any(
                o.get("uid") == rs["metadata"]["uid"] for o in p["metadata"].get("ownerReferences") or [])]
            ready = sum(1 for p in pods if self._pod_ready(p))
            self._controller_write(self._by_plural[("apps", "replicasets")], ("apps", "replicasets", key[2], rs_name),
                                   status={k: v for k, v in {
                                       "replicas": len(pods), "fullyLabeledReplicas": len(pods),
                                       "readyReplicas": ready, "availableReplicas": ready,
                                       "observedGeneration": rs["metadata"].get("generation", 1)}.items() if v or k == "replicas"})
        if dep:
            self._update_deployment_status(key[2], dep)

    def _event(self, obj: dict, etype: str, reason: str, message: str, component: str) -> None:
        events = self._by_plural[("", "events")]
        meta = obj["metadata"]
        now = _now()
        for key, ev in self._store.items():  # the same event again: counted, as the event recorder does
            if key[:3] == ("", "events", meta["namespace"]) and ev.get("reason") == reason \
                    and ev.get("message") == message and (ev.get("involvedObject") or {}).get("uid") == meta["uid"]:
                new = copy.deepcopy(ev)
                new.update(count=(ev.get("count") or 1) + 1, lastTimestamp=now)
                new["metadata"]["resourceVersion"] = self._next_rv()
                self._store[key] = new
                self._emit(events, key[2], "MODIFIED", copy.deepcopy(new), copy.deepcopy(ev))
                return
        self._create(events, meta["namespace"], {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": meta["namespace"]},
            "involvedObject": {"apiVersion": obj.get("apiVersion", "v1"), "kind": obj.get("kind", "Pod"),
                               "name": meta["name"],
                               "namespace": meta["namespace"], "uid": meta["uid"],
                               "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message, "type": etype, "count": 1, "firstTimestamp": now,
            "lastTimestamp": now, "source": {"component": component, **({"host": self.node_name}
                                                                          if component == "kubelet" else {})},
            "reportingComponent": component, "reportingInstance": ""}, manager=component)


def client_env(base_dir: str | Path, kubeconfig: str | Path | None = None) -> dict[str, str]:
    """A copy of os.environ whose HOME/XDG/HELM_* dirs live under base_dir (nothing touches ~/.kube or ~/.cache),
    with KUBECONFIG set when given."""
    base = Path(base_dir)
    env = dict(os.environ)
    dirs = {"HOME": base / "home", "XDG_CONFIG_HOME": base / "xdg-config", "XDG_CACHE_HOME": base / "xdg-cache",
            "XDG_DATA_HOME": base / "xdg-data", "HELM_CONFIG_HOME": base / "xdg-config" / "helm",
            "HELM_CACHE_HOME": base / "xdg-cache" / "helm", "HELM_DATA_HOME": base / "xdg-data" / "helm"}
    for var, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    for var in ("HELM_KUBECONTEXT", "HELM_NAMESPACE", "HELM_KUBEAPISERVER", "HELM_KUBETOKEN", "HELM_DRIVER"):
        env.pop(var, None)
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return env

