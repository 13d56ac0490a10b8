"""Where the weights of a plan live: which workload kind serves a one-node model, and its weights claims. Pure.

A volume of a ReadWriteOnce class attaches to one node. A Deployment's replicas all mount the Deployment's one
claim, so with such a class the replicas the scheduler puts on other nodes never start ("Multi-Attach error"). So:

* one node, one replica: a Deployment and one claim of the site's ``storageClass`` (what every release had);
* one node, N > 1 replicas, a ReadWriteMany claim (the admin's ``storage.accessMode``, or the site's
  ``sharedStorageClass``): a Deployment whose N pods share one claim (one download);
* one node, N > 1 replicas otherwise: a StatefulSet, one claim per replica from its ``volumeClaimTemplates``
  (N downloads, each pod free to run on any node);
* a model spanning nodes: a LeaderWorkerSet (per-pod claims), decided by the node count.

``storage.existingClaim`` (the admin's own claim) is mounted by every replica: a Deployment; the chart refuses it
for replicas > 1 unless ``storage.accessMode`` says it is ReadWriteMany (or ReadOnlyMany).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_llm.planner.site import Site

SHARED_MODES = ("ReadWriteMany", "ReadOnlyMany")    # access modes more than one node can mount


@dataclass(frozen=True)
class WeightsStorage:
    workload: str           # Deployment | StatefulSet | LeaderWorkerSet
    storage_class: str      # the class of the claim(s) the plan writes ("" = the cluster's default)
    access_mode: str        # the access mode the plan writes ("" = the chart's default, ReadWriteOnce)
    claims: int             # weights claims in all, i.e. downloads of the weights (0: the admin's existing claim)
    reason: str             # why, for plan.reasons ("" when there is nothing to explain: one replica)


def weights_storage(site: Site, *, replicas: int, nodes: int, size: str, weights: str,
                    access_mode: str | None = None, storage_class: str | None = None,
                    existing_claim: bool = False) -> WeightsStorage:
    """The workload and weights claims of a plan of ``replicas`` copies on ``nodes`` nodes each, claims of ``size``
    (e.g. "19Gi") for ``weights`` (e.g. "15.3 GiB", one download). ``access_mode`` / ``storage_class``: the admin's
    own ``storage.*`` overrides (None: not given); ``existing_claim``: the admin's ``storage.existingClaim``."""
    cls = site.storage_class if storage_class is None else storage_class
    if nodes > 1:
        return WeightsStorage("LeaderWorkerSet", cls, "", replicas * nodes, "")
    if replicas <= 1:
        return WeightsStorage("Deployment", cls, "", 0 if existing_claim else 1, "")
    if existing_claim:
        return WeightsStorage("Deployment", cls, "", 0,
                              f"{replicas} replicas share the existing claim (storage.existingClaim): it must be "
                              f"ReadWriteMany (say so with storage.accessMode), or the replicas on other nodes "
                              f"cannot mount it")
    if access_mode in SHARED_MODES:
        return WeightsStorage("Deployment", cls, "", 1,
                              f"{replicas} replicas share one {access_mode} weights claim ({size}, "
                              f"{_class_words(cls)}): one download of {weights} for all of them (Deployment)")
    if access_mode is None and storage_class is None and site.shared_storage_class:
        shared = site.shared_storage_class
        return WeightsStorage("Deployment", shared, "ReadWriteMany", 1,
                              f"{replicas} replicas share one ReadWriteMany weights claim ({size}) of the site's "
                              f"shared class {shared} (sharedStorageClass): one download of {weights} for all of "
                              f"them (Deployment)")
    mode = access_mode or "ReadWriteOnce"
    return WeightsStorage("StatefulSet", cls, "", replicas,
                          f"{replicas} replicas on {mode} storage ({_class_words(cls)}): one weights claim per "
                          f"replica (StatefulSet, {replicas} x {size}) so that each can run on any node, "
                          f"{replicas} downloads of {weights}"
                          + ("" if site.shared_storage_class or access_mode else
                             "; a site with a ReadWriteMany class names it as sharedStorageClass (one download)"))


def _class_words(cls: str) -> str:
    return f"class {cls}" if cls else "the cluster's default class"
