"""The cluster's GPUs: `gpus --cluster`, and `--gpu auto` for plan / add / upgrade.

Why: the catalog says what a card is; only the cluster says which cards exist and which are free. `--gpu auto`
plans the model on every GPU type the cluster's nodes carry (a type missing from the catalog is planned from its
`nvidia.com/gpu.memory` label), prefers a type with each pod's GPUs free on a node whose taints the plan
tolerates, and names those nodes. A namespace-scoped user cannot list nodes: then the catalog decides, with a
warning.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kubectl_llm import fleet
from kubectl_llm.cli import output as out
from kubectl_llm.errors import ClusterError, PlanError


def _catalog_by_product(catalog: Any = None) -> dict[str, Any]:
    """Product label -> GPU type of the site's catalog (the shipped site's when none is given)."""
    if catalog is None:
        from kubectl_llm.planner.site import default_site

        catalog = default_site().gpu_catalog
    return {p: g for g in catalog for p in g.products}


def _site_nodes(session: Any, site: Any) -> list[Any]:
    """The cluster's GPU nodes read with the site's node-label keys and its catalog's GPU resource names."""
    from kubectl_llm.adapters.inventory import cluster_gpu_nodes

    if site is None:
        return cluster_gpu_nodes(session.cluster)
    return cluster_gpu_nodes(session.cluster, site.node_labels, {g.resource for g in site.gpu_catalog})


def node_rows(nodes: list[Any], catalog: Any = None) -> list[dict[str, Any]]:
    by_product = _catalog_by_product(catalog)
    rows = []
    for n in nodes:
        g = by_product.get(n.product or "")
        rows.append({"name": n.name, "product": n.product, "type": g.name if g else None,
                     "memory_mib": n.memory_mib, "count": n.count, "driver_major": n.driver_major,
                     "resource": n.resource, "allocatable": n.allocatable, "requested": n.requested,
                     "free": n.free, "ready": n.ready, "unschedulable": n.unschedulable, "taints": n.taints})
    return rows


def type_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per GPU type: nodes, GPUs allocatable / requested / free, and the largest free count on one node."""
    out_rows: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = r["type"] or r["product"] or "unknown"
        t = out_rows.setdefault(key, {"type": key, "in_catalog": r["type"] is not None, "product": r["product"],
                                      "memory_mib": r["memory_mib"], "resource": r["resource"], "nodes": 0,
                                      "allocatable": 0, "requested": 0, "free": 0, "max_free_on_one_node": 0})
        t["nodes"] += 1
        for k in ("allocatable", "requested", "free"):
            t[k] += r[k]
        if r["ready"] and not r["unschedulable"]:
            t["max_free_on_one_node"] = max(t["max_free_on_one_node"], r["free"])
    return [out_rows[k] for k in sorted(out_rows)]


def show_cluster(session: Any, output: str | None, site: Any = None) -> None:
    """`kubectl llm gpus --cluster` (node labels and type names of the site profile)."""
    rows = node_rows(_site_nodes(session, site), site.gpu_catalog if site is not None else None)
    doc = {"nodes": rows, "types": type_rows(rows)}
    if output:
        out.data(doc, output)
        return
    if not rows:
        label = getattr(getattr(site, "node_labels", None), "gpu_product", "") or "nvidia.com/gpu.product"
        out.info(f"no GPU nodes (no node has the label {label} or a GPU resource)")
        return

    def taints(r: dict[str, Any]) -> str:
        return ",".join(f"{t['key']}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect', '')}"
                        for t in r["taints"]) or "-"

    out.text(out.table(
        ["node", "type", "product", "memory", "gpus", "requested", "free", "driver", "taints"],
        [[r["name"] + ("" if r["ready"] and not r["unschedulable"] else " (not schedulable)"),
          r["type"] or "(not in catalog)", r["product"] or "-",
          f"{r['memory_mib']} MiB" if r["memory_mib"] else "-", f"{r['allocatable']} {r['resource']}",
          r["requested"], r["free"], r["driver_major"] or "-", taints(r)] for r in rows]))
    out.text("")
    out.text(out.table(["type", "nodes", "gpus", "requested", "free", "max free on one node"],
                       [[t["type"], t["nodes"], t["allocatable"], t["requested"], t["free"],
                         t["max_free_on_one_node"]] for t in type_rows(rows)]))


def resolve_auto(source: Any, request: Any, session: Any) -> Any:
    """`--gpu auto`: the request with the GPU type the cluster can take (or the catalog's choice, with a
    warning, when nodes cannot be listed). Says on stderr what it chose and which nodes could take it."""
    from kubectl_llm.cli.planning import make_plan

    if getattr(request, "gpu_type", None) != "auto":
        return request
    base = dataclasses.replace(request, gpu_type=None)
    site = getattr(request, "site", None)
    try:
        nodes = _site_nodes(session, site)
    except ClusterError as exc:
        out.warn(f"--gpu auto: cannot read the cluster's GPU nodes ({exc.message}); planning with the catalog's types "
                 f"instead")
        return base
    usable = [n for n in nodes if n.allocatable > 0]
    if not usable:
        out.warn("--gpu auto: the cluster has no node with allocatable GPUs; planning with the catalog's types")
        return base
    by_product = _catalog_by_product(site.gpu_catalog if site is not None else None)
    groups: dict[str, list[Any]] = {}
    for n in usable:
        g = by_product.get(n.product or "")
        groups.setdefault(g.name if g else (n.product or f"{n.memory_mib}MiB"), []).append(n)
    candidates: list[fleet.GpuCandidate] = []
    requests: dict[str, Any] = {}
    per_pod_of: dict[str, tuple[int, int]] = {}      # type -> (pods of one copy, GPUs each)
    for gpu, members in sorted(groups.items()):
        in_catalog = any(by_product.get(n.product or "") for n in members)
        if in_catalog:
            req = dataclasses.replace(base, gpu_type=gpu)
        else:
            mib = min(n.memory_mib or 0 for n in members)
            if not mib:
                continue   # no memory label: nothing to plan with
            req = dataclasses.replace(base, gpu_type=None, gpu_memory_bytes=fleet.usable_bytes(mib))
        try:
            plan = make_plan(source, req)
        except PlanError as exc:
            candidates.append(fleet.GpuCandidate(gpu, in_catalog, False, 0, 0, (), exc.message))
            continue
        doc = plan.to_dict()
        if not plan.fits:
            candidates.append(fleet.GpuCandidate(gpu, in_catalog, False, 0, 0, (), "does not fit"))
            continue
        count = int(doc["gpu"]["count"])
        # a plan spanning nodes puts `per_node` GPUs on each of `nodes` pods: that is what one node must hold
        pods, per_pod = int(doc["gpu"].get("nodes") or 1), int(doc["gpu"].get("per_node") or count)
        largest = max(n.allocatable for n in members)
        if largest < per_pod:      # planned with the catalog's node size; these nodes can never take a pod
            candidates.append(fleet.GpuCandidate(gpu, in_catalog, False, 0, 0, (), f"the plan needs {per_pod} GPUs on "
                                                 f"each of {pods} node(s), the cluster's have at most {largest}"))
            continue
        tolerations, affinity = doc["scheduling"]["tolerations"], doc["scheduling"]["node_affinity"]
        now = tuple(n.name for n in members
                    if n.ready and not n.unschedulable and n.free >= per_pod and n.resource == doc["gpu"]["resource"]
                    and all(fleet.tolerates(tolerations, t) for t in n.taints)
                    and fleet.matches_affinity(affinity, n.labels))
        now = now if len(now) >= pods else ()
        per_gpu = int(doc["gpu"].get("memory_bytes") or 0) or (req.gpu_memory_bytes or 0)
        candidates.append(fleet.GpuCandidate(gpu, in_catalog, True, count, count * per_gpu, now))
        requests[gpu] = req
        per_pod_of[gpu] = (pods, per_pod)
    chosen = fleet.choose_gpu(candidates)
    if chosen is None:
        why = "; ".join(f"{c.gpu}: {c.reason}" for c in candidates if c.reason.startswith("the plan needs"))
        out.warn(f"--gpu auto: the model fits none of the cluster's GPU types ({', '.join(sorted(groups))})"
                 f"{'; ' + why if why else ''}; planning with the catalog's types")
        return base
    pods, per_pod = per_pod_of[chosen.gpu]
    where = (f"nodes that could take it now: {', '.join(chosen.nodes_now)}" if chosen.nodes_now else
             f"no node has {per_pod} free {chosen.gpu} GPU{'s' if per_pod > 1 else ''} right now: the pod "
             f"waits for one" if pods == 1 else
             f"fewer than {pods} nodes have {per_pod} free {chosen.gpu} GPUs right now: the pods wait for them")
    label = chosen.gpu if chosen.in_catalog else f"{chosen.gpu} (not in the catalog: planned from its memory label)"
    out.info(f"--gpu auto: {chosen.count} x {label}; {where}")
    return requests[chosen.gpu]
