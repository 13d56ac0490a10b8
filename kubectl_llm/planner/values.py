"""Plan -> values of charts/llm-model. The chart renders exactly what is decided here (thin templates). Pure.

Only planned facts and the site profile's names (storage and priority class, tolerations, node labels, gateway
parentRefs, Service labels, cluster domain, image mirror) are written; other chart defaults (costs, test pod, ...) stay in the
chart's values.yaml, whose defaults are cluster-neutral. An admin's ``-f``/``--set`` still wins over both. ``values.schema.json`` of the chart must accept every
document this function returns (tests/test_planner_values.py checks it for every model in the catalog).
"""

from __future__ import annotations

from typing import Any

from kubectl_llm.planner.plan import Plan
from kubectl_llm.planner.rules import DOWNLOAD_BYTES_PER_SECOND, MIN_LOAD_SECONDS



def load_seconds(weight_bytes_per_gpu: int, gpus: int) -> int:
    """Startup margin after the download: reading weights from the PVC (~1 GB/s), torch.compile and CUDA graph
    capture (~3-5 min), plus a minute per extra GPU for NCCL/worker start. At least 15 minutes."""
    return max(MIN_LOAD_SECONDS, 300 + weight_bytes_per_gpu // 1_000_000_000 + 60 * gpus)


def chart_values(plan: Plan) -> dict[str, Any]:
    d = plan.to_dict()
    b = plan.best
    if b is None:
        raise ValueError("a plan without a layout has no chart values")
    gpus = d["gpu"]["per_node"]                    # per pod: a multi-node group has one pod per node
    values: dict[str, Any] = {
        "mode": "model",
        "model": {"id": d["model"]["id"], "servedName": d["route"]["served_model_name"]},
        "engine": {
            "name": d["serving"]["engine"],
            "image": plan.engine_image,   # the chart applies imageRegistry (the plan's serving.image shows both)
            "command": d["serving"]["command"],
            "args": d["serving"]["args"],
            "env": d["serving"]["env"],
            "maxModelLen": d["serving"]["max_model_len"],
        },
        "gpu": {"type": d["gpu"]["type"], "count": gpus, "resource": d["gpu"]["resource"]},
        "replicas": d["gpu"]["replicas"],
        "group": {"size": d["gpu"]["nodes"], "workerCommand": d["serving"]["worker_command"],
                  "workerArgs": d["serving"]["worker_args"]},
        "resources": {"cpu": d["resources"]["cpu"], "memoryRequest": d["resources"]["memory_request"],
                      "memoryLimit": d["resources"]["memory_limit"]},
        "shm": {"sizeLimit": d["resources"]["shm"]},
        "storage": _storage(plan, d),
        "scheduling": {"nodeAffinity": d["scheduling"]["node_affinity"],
                       "tolerations": d["scheduling"]["tolerations"],
                       "priorityClassName": d["scheduling"]["priority_class"]},
        "probes": {"weightBytes": plan.weight_bytes, "downloadBytesPerSecond": DOWNLOAD_BYTES_PER_SECOND,
                   "loadSeconds": load_seconds(b.weights_per_gpu, gpus)},
        "gateway": _gateway(plan, d),
        "clusterDomain": plan.site.cluster_domain,
        "imageRegistry": plan.site.image_registry,
    }
    if plan.storage is not None and plan.storage.workload == "StatefulSet":
        # a model on one node whose replicas get a claim each; the chart's default (Deployment) is not written, so
        # the values of a release made before `workload` existed stay the same (an upgrade stays a no-op)
        values["workload"] = plan.storage.workload
    if plan.site.service_labels:      # the site's own Service labels (NRP: the handbook's component=llm)
        values["service"] = {"labels": dict(plan.site.service_labels)}
    return values


def _storage(plan: Plan, d: dict[str, Any]) -> dict[str, Any]:
    """The weights claim(s): the planned size, and the class (and access mode) planner/storage.py chose."""
    out: dict[str, Any] = {"size": d["resources"]["storage"], "storageClass": d["resources"]["storage_class"]}
    if plan.storage is not None and plan.storage.access_mode:
        out["accessMode"] = plan.storage.access_mode
    return out


def _gateway(plan: Plan, d: dict[str, Any]) -> dict[str, Any]:
    """The route name and timeout the plan chose, and the site's gateway (parentRefs, owned_by)."""
    gw: dict[str, Any] = {"routeName": d["route"]["name"], "timeout": d["route"]["timeout"],
                          "parentRefs": [dict(r) for r in plan.site.gateway_parent_refs]}
    if plan.site.models_owned_by:
        gw["modelsOwnedBy"] = plan.site.models_owned_by
    return gw
