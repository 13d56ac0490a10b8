"""The cluster a plan is made for (a *site profile*): storage class, priority class, tolerations, GPU node labels,
GPU types, gateway, cluster domain and image mirror. Pure data; the planner receives it as an argument.

Why: the handbook's rules (CPU, RAM, PVC, GPU counts) hold on any cluster, but the names a cluster gives its
storage, its taints, its GPU resources and its gateway do not. They used to be constants of this package (NRP's);
now they are one YAML document, NRP's ships as the default (``kubectl_llm/sites/nrp.yaml``), and an admin of
another cluster writes their own (``kubectl llm site show -o yaml`` is a starting point). The CLI's site adapter
finds and validates the file (``kubectl_llm/adapters/site.py``, schema ``kubectl_llm/sites/site.schema.json``);
this module only turns the validated document into a frozen :class:`Site` and answers the planner's questions.

A key the document leaves out takes the cluster-neutral default of :class:`Site` (no storage class = the cluster's
default, no priority class, no tolerations, NVIDIA's GPU feature-discovery labels, the built-in GPU catalog), never
NRP's value.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from kubectl_llm.errors import UnknownGpu
from kubectl_llm.planner.gpus import GpuType, gpu_from_entry, load_gpu_catalog

PACKAGE = Path(__file__).resolve().parents[1]   # kubectl_llm/ (a plain path: importlib.resources costs ~25 ms to import)

DEFAULT_SITE_RESOURCE = "sites/nrp.yaml"        # inside the kubectl_llm package
NVIDIA_PREFIX = "nvidia.com/"                   # resources whose nodes carry NVIDIA's feature-discovery labels


@dataclass(frozen=True)
class LargeGpuRule:
    """Extra tolerations for pods that ask for one of ``gpu_counts`` GPUs (NRP: the large-gpu nodes for 4 or 8)."""

    gpu_counts: tuple[int, ...] = ()
    tolerations: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class NodeLabels:
    """Node-label keys of the GPU feature discovery; "" = do not select on that label."""

    gpu_product: str = "nvidia.com/gpu.product"
    gpu_memory: str = "nvidia.com/gpu.memory"
    cuda_driver_major: str = "nvidia.com/cuda.driver.major"


@dataclass(frozen=True)
class Site:
    name: str = "generic"
    description: str = ""
    storage_class: str = ""                              # "" = the cluster's default StorageClass
    shared_storage_class: str = ""                       # a ReadWriteMany class for replicas > 1; "" = none
    priority_class_name: str = ""                        # "" = none
    tolerations: tuple[dict[str, Any], ...] = ()
    large_gpu: LargeGpuRule = field(default_factory=LargeGpuRule)
    node_labels: NodeLabels = field(default_factory=NodeLabels)
    driver_rule: str | int = "image"                     # "image" | "none" | an integer N (driver major > N)
    product_affinity: str = "named"                      # "named" | "always" | "never"
    gpus_mode: str = "add"                               # "add" (merge by name) | "replace" (only the site's types)
    gpus: tuple[GpuType, ...] = ()
    gateway_parent_refs: tuple[dict[str, Any], ...] = ({"name": "envoy-ai-gateway"},)
    models_owned_by: str = ""                            # "" = the chart's default
    service_labels: tuple[tuple[str, str], ...] = ()     # extra labels of the model's Service (NRP: component=llm)
    cluster_domain: str = "cluster.local"
    image_registry: str = ""                             # "" = images as published; else a mirror prefix

    # -- questions the planner asks --------------------------------------------------------------------------
    @property
    def gpu_catalog(self) -> tuple[GpuType, ...]:
        """The GPU types this site offers: the built-in catalog with the site's types added (same name replaces),
        or only the site's types (``gpusMode: replace``). Names match as ``--gpu`` matches them (case, spaces,
        underscores and an 'nvidia-' prefix forgiven)."""
        if self.gpus_mode == "replace":
            return self.gpus
        # matched as --gpu matches them: a site's "h200" replaces the built-in H200 (else the built-in, first in
        # the catalog, would answer --gpu h200 and the site's entry could never be planned on)
        own = {_norm(g.name): g for g in self.gpus}
        base = [own.pop(_norm(g.name), g) for g in load_gpu_catalog()]
        return tuple(base + list(own.values()))

    def find_gpu(self, name: str) -> GpuType:
        """A type by name or product label (case, spaces, underscores and an 'nvidia-' prefix forgiven)."""
        want = _norm(name)
        catalog = self.gpu_catalog
        for g in catalog:
            if _norm(g.name) == want or any(_norm(p) == want for p in g.products):
                return g
        alias = ALIASES.get(want)
        if alias and any(g.name == alias for g in catalog):
            return self.find_gpu(alias)
        known = ", ".join(g.name for g in catalog)
        raise UnknownGpu(f"unknown GPU type {name!r} on site {self.name} (known: {known})",
                         "kubectl llm gpus lists them; a site file's gpus: adds others")

    def tolerations_for(self, gpus: int) -> list[dict[str, Any]]:
        out = [copy.deepcopy(t) for t in self.tolerations]
        if gpus in self.large_gpu.gpu_counts:
            out += [copy.deepcopy(t) for t in self.large_gpu.tolerations]
        return out

    def node_affinity(self, gpu: GpuType, named: bool, cuda_driver_gt: int) -> list[dict[str, Any]]:
        """matchExpressions selecting a node that has this GPU type.

        * product ``In`` the type's product labels: with ``productAffinity: always`` on every plan; with ``named``
          (the default) when the resource does not already select the type (another type of the site requests the
          same resource) and either the admin named the type or no memory label keeps a smaller card of that
          resource away (``nodeLabels.gpuMemory: ""``, or a resource outside ``nvidia.com/*``);
        * memory ``Gt`` one GB under the card's MiB (the handbook's "80000" for 80 GB cards) and the driver rule:
          only for ``nvidia.com/*`` resources, whose nodes carry the GPU feature-discovery labels.
        """
        labels = self.node_labels
        exprs: list[dict[str, Any]] = []
        nvidia = gpu.resource.startswith(NVIDIA_PREFIX)
        memory_selects = nvidia and bool(labels.gpu_memory)
        shared = sum(1 for g in self.gpu_catalog if g.resource == gpu.resource) > 1
        want_product = {"always": True, "never": False}.get(self.product_affinity,
                                                             shared and (named or not memory_selects))
        if want_product and gpu.products and labels.gpu_product:
            exprs.append({"key": labels.gpu_product, "operator": "In", "values": list(gpu.products)})
        if not nvidia:
            return exprs
        if memory_selects:
            exprs.append({"key": labels.gpu_memory, "operator": "Gt",
                          "values": [str(max(0, gpu.memory_mib // 1000 - 1) * 1000)]})
        gt = self.driver_gt(cuda_driver_gt)
        if gt is not None and labels.cuda_driver_major:
            exprs.append({"key": labels.cuda_driver_major, "operator": "Gt", "values": [str(gt)]})
        return exprs

    def driver_gt(self, image_minimum_gt: int) -> int | None:
        if self.driver_rule == "none":
            return None
        if self.driver_rule == "image":
            return image_minimum_gt
        return int(self.driver_rule)

    def image(self, image: str) -> str:
        """The image reference through the site's registry mirror: 'vllm/vllm-openai:v0.17.0' with mirror
        'registry.example.org/hub' -> 'registry.example.org/hub/vllm/vllm-openai:v0.17.0'. A reference that
        already names a registry (a first part with '.' or ':' or 'localhost') keeps it and only gets the prefix
        in place of that registry."""
        if not self.image_registry:
            return image
        first, _, rest = image.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            image = rest
        return f"{self.image_registry.rstrip('/')}/{image}"

    def to_document(self) -> dict[str, Any]:
        """The site as a site file (camelCase keys, every key written out): `kubectl llm site show -o yaml`."""
        return {
            "name": self.name,
            "description": self.description,
            "storageClass": self.storage_class,
            "sharedStorageClass": self.shared_storage_class,
            "priorityClassName": self.priority_class_name,
            "tolerations": [dict(t) for t in self.tolerations],
            "largeGpu": {"gpuCounts": list(self.large_gpu.gpu_counts),
                         "tolerations": [dict(t) for t in self.large_gpu.tolerations]},
            "nodeLabels": {"gpuProduct": self.node_labels.gpu_product, "gpuMemory": self.node_labels.gpu_memory,
                           "cudaDriverMajor": self.node_labels.cuda_driver_major},
            "driverRule": self.driver_rule,
            "productAffinity": self.product_affinity,
            "gpusMode": self.gpus_mode,
            "gpus": [g.to_entry() for g in self.gpus],
            "gateway": {"parentRefs": [dict(r) for r in self.gateway_parent_refs],
                        "modelsOwnedBy": self.models_owned_by},
            "serviceLabels": dict(self.service_labels),
            "clusterDomain": self.cluster_domain,
            "imageRegistry": self.image_registry,
        }


ALIASES = {"a100": "A100-80GB", "h100": "H100-80GB", "3090": "RTX-3090", "4090": "RTX-4090",
           "rtx-a6000": "A6000", "rtxa6000": "A6000", "a100-80g": "A100-80GB", "a100-40g": "A100-40GB"}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(" ", "-").replace("nvidia-", "")


def gpu_name_key(name: str) -> str:
    """The form GPU type names are compared in (--gpu, a site's types against the built-in ones)."""
    return _norm(name)


def site_from_document(doc: dict[str, Any]) -> Site:
    """A Site from a site document already validated against site.schema.json (unknown keys refused there)."""
    defaults = Site()
    large = doc.get("largeGpu") or {}
    labels = doc.get("nodeLabels") or {}
    gateway = doc.get("gateway") or {}
    nl = defaults.node_labels
    return Site(
        name=str(doc.get("name", defaults.name)),
        description=str(doc.get("description", "")),
        storage_class=str(doc.get("storageClass", defaults.storage_class)),
        shared_storage_class=str(doc.get("sharedStorageClass", defaults.shared_storage_class)),
        priority_class_name=str(doc.get("priorityClassName", defaults.priority_class_name)),
        tolerations=tuple(dict(t) for t in doc.get("tolerations") or ()),
        large_gpu=LargeGpuRule(gpu_counts=tuple(int(n) for n in large.get("gpuCounts") or ()),
                               tolerations=tuple(dict(t) for t in large.get("tolerations") or ())),
        node_labels=NodeLabels(gpu_product=str(labels.get("gpuProduct", nl.gpu_product)),
                               gpu_memory=str(labels.get("gpuMemory", nl.gpu_memory)),
                               cuda_driver_major=str(labels.get("cudaDriverMajor", nl.cuda_driver_major))),
        driver_rule=doc.get("driverRule", defaults.driver_rule),
        product_affinity=str(doc.get("productAffinity", defaults.product_affinity)),
        gpus_mode=str(doc.get("gpusMode", defaults.gpus_mode)),
        gpus=tuple(gpu_from_entry(g) for g in doc.get("gpus") or ()),
        gateway_parent_refs=tuple(dict(r) for r in gateway.get("parentRefs") or defaults.gateway_parent_refs),
        models_owned_by=str(gateway.get("modelsOwnedBy", defaults.models_owned_by)),
        service_labels=tuple((str(k), str(v)) for k, v in (doc.get("serviceLabels") or {}).items()),
        cluster_domain=str(doc.get("clusterDomain", defaults.cluster_domain)),
        image_registry=str(doc.get("imageRegistry", defaults.image_registry)),
    )


def default_site_text() -> str:
    return (PACKAGE / DEFAULT_SITE_RESOURCE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def default_site() -> Site:
    """NRP Nautilus, the profile shipped in the package (validated by the tests, so not again at run time), read
    from the generated JSON copy of nrp.yaml (scripts/recipes-json.py: no yaml import on a plan)."""
    doc = json.loads((PACKAGE / DEFAULT_SITE_RESOURCE).with_suffix(".json").read_text(encoding="utf-8"))
    return site_from_document(doc)
