"""`list`, `status`, `logs`: what is installed and how far each model got. Read-only.

`list` reads Helm (release rows + the values each was installed with) plus, in four list calls, the workloads'
ready/desired copies (Deployment or StatefulSet pods, LeaderWorkerSet groups). `status` adds every pod's phase and events and the
engine's own progress parsed from its log.
"""

from __future__ import annotations

import shlex
from typing import Any

import click

from kubectl_llm import fleet
from kubectl_llm.adapters.charts import MODEL_CHART
from kubectl_llm.adapters.cluster import ReplicaStatus, replica_status
from kubectl_llm.adapters.helm import age, rfc3339
from kubectl_llm.cli import options
from kubectl_llm.cli import output as out
from kubectl_llm.cli.overrides import get_path
from kubectl_llm.cli.progress import parse_engine_log, pod_stage
from kubectl_llm.cli.release_cmds import require_model_release
from kubectl_llm.cli.session import Session
from kubectl_llm.cli.userlayer import UserLayer, describe
from kubectl_llm.errors import LlmError, PermissionDenied, UsageError


def route_name(name: str, values: dict[str, Any]) -> str | None:
    """The x-ai-eg-model value clients send: gateway.routeName, else the release name; None without gateway."""
    if get_path(values, "gateway.enabled") is False:
        return None
    return str(get_path(values, "gateway.routeName") or name)


def release_row(r: Any) -> dict[str, Any]:
    v = r.values
    kind = fleet.release_kind(v)
    count, gtype = get_path(v, "gpu.count"), get_path(v, "gpu.type")
    nodes = int(get_path(v, "group.size") or 1) if kind == fleet.MODE_MODEL else None
    gpu: dict[str, Any] = {"type": gtype, "count": count * nodes if count and nodes else count, "nodes": nodes,
                           "per_node": count}     # the same keys for one node and many (scripts index them)
    # an alias serves no model of its own (its computed values hold only the chart's default model.id), as status
    model = get_path(v, "model.id") if kind != fleet.MODE_ALIAS else None
    return {"name": r.name, "namespace": r.namespace, "kind": kind, "model": model,
            "targets": fleet.alias_targets(v) if kind == fleet.MODE_ALIAS else None,
            "gpu": gpu, "replicas": None, "context": get_path(v, "engine.maxModelLen"),
            "route": route_name(r.name, v), "status": r.status, "revision": r.revision, "chart": r.chart,
            "chart_version": r.chart.rsplit("-", 1)[-1] if "-" in r.chart else None,
            "created": rfc3339(r.created), "updated": rfc3339(r.updated), "age": age(r.created or r.updated),
            "user": user_doc(v)}


def user_doc(values: dict[str, Any]) -> dict[str, Any] | None:
    """What the user set on the release (model, plan flags, -f/--set values); None for a release without it."""
    layer = UserLayer.from_values(values)
    return layer.to_values() if layer else None


@click.command("list", epilog="""\b
Examples:
  kubectl llm list                 # models in the context's namespace
  kubectl llm list -A -o json      # everywhere, for scripts
""")
@options.namespace
@options.all_namespaces
@options.context
@options.kubeconfig
@options.output("yaml", "json")
def list_command(namespace: str | None, all_namespaces: bool, kube_context: str | None, kubeconfig: str | None,
                 output: str | None) -> None:
    """List the releases of the llm-model chart (models, external backends, aliases; not the gateway), with READY
    copies out of the desired ones (pods, or groups of pods for a model spanning nodes)."""
    if namespace and all_namespaces:
        raise UsageError("-n/--namespace and -A/--all-namespaces are mutually exclusive",
                         "-A lists every namespace, -n NS one: drop one of them")
    session = Session(namespace, kube_context, kubeconfig)
    ns = None if all_namespaces else session.namespace
    try:
        releases = session.helm.list(MODEL_CHART, ns, all_namespaces)
    except PermissionDenied as exc:
        if all_namespaces:  # Helm keeps releases in Secrets: -A needs to list Secrets cluster-wide
            exc.hint = "listing every namespace needs cluster-wide read of Secrets (Helm's release store); drop -A " \
                       "to list one namespace (-n NS)"
        raise
    rows = [release_row(r) for r in releases]
    add_replicas(session, rows, releases, None if all_namespaces else ns)
    rows.sort(key=lambda r: (r["namespace"], r["name"]))
    if output:
        out.data(rows, output)
        return
    if not rows:
        out.info(f"no models in {'any namespace' if all_namespaces else f'namespace {ns}'}")
        return
    headers = (["namespace"] if all_namespaces else []) + ["name", "kind", "model", "gpus", "ready", "context",
                                                           "route", "status", "age"]
    body = [([r["namespace"]] if all_namespaces else [])
            + [r["name"], r["kind"],
               ("-> " + fleet.describe_targets({"gateway": {"alias": {"backends": r["targets"]}}})
                if r["kind"] == fleet.MODE_ALIAS else r["model"] or "-"),
               gpus_cell(r), ready_cell(r["replicas"]),
               r["context"] or "-", r["route"] or "-", r["status"], r["age"]] for r in rows]
    out.text(out.table(headers, body))


def add_replicas(session: Session, rows: list[dict[str, Any]], releases: list[Any], namespace: str | None) -> None:
    """Fill each model row's replicas (ready/desired, Cluster.inference_workloads + replica_status: four list calls
    in all); warn of a release whose workload is gone. Unreadable (rights, network): ready is null, with a warning."""
    models = [(row, r) for row, r in zip(rows, releases) if row["kind"] == fleet.MODE_MODEL]
    if not models:
        return
    try:
        found: dict[Any, Any] | None = session.cluster.inference_workloads(namespace)
    except LlmError as exc:
        out.warn(f"cannot read the models' workloads, ready counts unknown: {exc.message}")
        found = None
    for row, r in models:
        desired, size = int(get_path(r.values, "replicas") or 1), int(get_path(r.values, "group.size") or 1)
        if found is None:
            row["replicas"] = {"ready": None, "desired": desired, "updated": None, "pods_per_replica": size,
                               "workload": None}
            continue
        kind, obj, pods = found.get((r.namespace, r.name), (None, None, []))
        state = replica_status(kind, obj, pods, desired=desired, size=size)
        row["replicas"] = state.to_dict()
        if state.missing and r.status == "deployed":
            out.warn(f"release {r.name}: {missing_workload_hint(r.name, r.namespace, r.values, revision=r.revision)}")


def ready_cell(replicas: dict[str, Any] | None) -> str:
    """'1/2' ready/desired copies (pods, or groups of pods); '?/2' when unreadable; '-' for no workload."""
    if not replicas:
        return "-"
    return f"{'?' if replicas['ready'] is None else replicas['ready']}/{replicas['desired']}"


def gpus_cell(r: dict[str, Any]) -> str:
    """'1 x L40', '16 x H100-80GB (2 nodes)', '2 x (1 x L40)' for replicas."""
    g = r["gpu"]
    if not g["count"]:
        return "-"
    cell = f"{g['count']} x {g['type']}" + (f" ({g['nodes']} nodes)" if (g.get("nodes") or 1) > 1 else "")
    copies = (r.get("replicas") or {}).get("desired", 1)
    return f"{copies} x ({cell})" if copies > 1 else cell


def group_order(pods: list[Any]) -> list[Any]:
    """A LeaderWorkerSet's pods by copy, leader (worker 0) first; a Deployment's stay oldest first."""
    if not any(p.worker_index is not None for p in pods):
        return pods
    return sorted(pods, key=lambda p: (p.group_index or 0, p.worker_index or 0))


def curl_line(address: str | None, route: str) -> str:
    base = f"http://{address}" if address and "://" not in address else (address or "http://<gateway-address>")
    return (f"curl -s {base}/v1/chat/completions -H 'Content-Type: application/json' "
            f"-d '{{\"model\":\"{route}\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hello\"}}]}}'")


@click.command("status", epilog="""\b
Examples:
  kubectl llm status qwen3-8b
  kubectl llm status qwen3-8b -o json
""")
@click.argument("name")
@options.connection
@options.output("yaml", "json")
def status_command(name: str, namespace: str | None, kube_context: str | None, kubeconfig: str | None,
                   output: str | None) -> None:
    """Show where release NAME stands: pod phase and events, the engine's progress from its log, whether the AI
    Gateway accepted its route and its Gateway exists, and a curl line to try it."""
    session = Session(namespace, kube_context, kubeconfig)
    ns = session.namespace
    _, version, helm_status = require_model_release(session, name)
    values = session.helm.values(name, ns, computed=True)   # chart defaults too: gateway.parentRefs
    kind, workload, found_pods = session.cluster.inference_workloads(ns, name).get((ns, name), (None, None, []))
    pods = group_order(found_pods)
    pod_docs = []
    engine: dict[str, Any] = {}
    for pod in pods:
        log = session.cluster.logs(pod.name, ns, tail=400) if pod.containers else ""
        progress = parse_engine_log(log) if log else None
        stage, detail = pod_stage(pod, progress)
        events = session.cluster.events(pod.name, ns)
        pod_docs.append({"name": pod.name, "phase": pod.phase, "node": pod.node, "ready": pod.ready,
                         "stage": stage, "detail": detail, "group": pod.group_index,
                         "role": None if pod.worker_index is None else (
                             "leader" if pod.worker_index == 0 else f"worker {pod.worker_index}"),
                         "restarts": sum(c.restarts for c in pod.containers),
                         "events": [{"type": e.type, "reason": e.reason, "message": e.message, "count": e.count}
                                    for e in events]})
        if progress is not None and (pod.worker_index in (None, 0) or not engine):   # a group: the leader's
            engine = {"stage": progress.stage, "downloaded_bytes": progress.downloaded_bytes,
                      "download_total_bytes": progress.download_total_bytes,
                      "weights_gib": progress.weights_gib, "kv_cache_gib": progress.kv_cache_gib,
                      "kv_cache_tokens": progress.kv_cache_tokens, "max_concurrency": progress.max_concurrency,
                      "error": progress.error, "summary": progress.summary()}
    # What no pod shows: admission refusing it (FailedCreate), its claim Pending or Terminating.
    try:
        found = session.cluster.workload_problems(name, ns)
    except LlmError as exc:  # e.g. no right to list ReplicaSets: the rest of the status still helps
        out.warn(f"cannot read the controllers' view of {name} ({exc.message})")
        found = []
    problems = [{"kind": p.kind, "name": p.name, "reason": p.reason, "message": p.message, "count": p.count}
                for p in found]
    if fleet.release_kind(values) == fleet.MODE_ALIAS:   # a target removed since: the gateway fails its share
        from kubectl_llm.cli.fleet_cmds import namespace_releases

        releases = namespace_releases(session)
        problems += [{"kind": "Release", "name": t["name"], "reason": "AliasTargetMissing", "count": 1,
                      "message": f"no release {t['name']} in namespace {ns}: requests the alias sends there fail; "
                                 f"re-point it (kubectl llm alias {name} --to ...) or add {t['name']} again"}
                     for t in fleet.alias_targets(values) if t.get("name") not in releases]
    route = route_name(name, values)
    address = get_path(values, "gateway.url")
    route_doc: dict[str, Any] | None = None
    gateway_doc: dict[str, Any] | None = None
    if route:
        # Why a model answers 404 through the gateway: the route not accepted, or no Gateway to attach to.
        rv = session.cluster.route(name, ns)
        route_doc = {"found": rv.found, "accepted": rv.accepted, "message": rv.message}
        if rv.found is False:  # deleted by hand: rolling back to the current revision re-applies every object
            revision = int(session.helm.history(name, ns)[-1]["revision"])
            route_doc["message"] = (f"AIGatewayRoute missing: re-apply the release with "
                                    f"'kubectl llm rollback {name} {revision} -n {ns}'")
        ref = (get_path(values, "gateway.parentRefs") or [{}])[0] or {}
        if ref.get("name"):
            gv = session.cluster.gateway(ref["name"], ref.get("namespace") or ns, ref.get("sectionName") or None)
            gateway_doc = {"name": gv.name, "namespace": gv.namespace, "found": gv.found, "address": gv.address}
            address = address or gv.url
    kind_of = fleet.release_kind(values)
    serves = kind_of == fleet.MODE_MODEL
    replicas = replica_status(kind, workload, found_pods, desired=int(get_path(values, "replicas") or 1),
                              size=int(get_path(values, "group.size") or 1)) if serves else None
    failing = next((p for p in pod_docs if not p["ready"]), None)
    doc = {"name": name, "namespace": ns, "kind": kind_of, "release": {"status": helm_status, "chart": f"{MODEL_CHART}-{version}",
                                                             "chart_version": version},
           "replicas": replicas.to_dict() if replicas else None,
           "failing": {"pod": failing["name"], "stage": failing["stage"], "detail": failing["detail"]}
           if failing else None,
           # an alias serves no model of its own (its computed values hold only the chart's default model.id)
           "model": get_path(values, "model.id") if kind_of != fleet.MODE_ALIAS else None,
           "targets": fleet.alias_targets(values) if kind_of == fleet.MODE_ALIAS else None,
           "served_name": get_path(values, "model.servedName") if kind_of != fleet.MODE_ALIAS else None,
           "pods": pod_docs, "problems": problems, "engine": engine or None, "route": route, "route_status": route_doc,
           "gateway": gateway_doc, "curl": curl_line(address, route) if route else None,
           "user": user_doc(values)}
    if output:
        out.data(doc, output)
        return
    lines = [f"release   {name} ({helm_status}, chart {MODEL_CHART}-{version}) in namespace {ns}"
             + ("" if serves else f", {kind_of}"),
             f"model     {doc['model']}" + (" (served elsewhere, no pod here)" if kind_of == fleet.MODE_EXTERNAL
                                             else "") if kind_of != fleet.MODE_ALIAS else
             f"alias     -> {fleet.describe_targets(values)} (a route only, no pod)"]
    if replicas:
        lines.append(f"replicas  {replicas_text(replicas)}"
                     + (f" - {missing_workload_hint(name, ns, values, session)}" if replicas.missing else ""))
    if failing and len(pod_docs) > 1:
        lines.append(f"first not ready  {failing['name']}: {failing['stage']} - {failing['detail']}")
    if doc["user"]:
        lines.append(f"user      {describe(UserLayer.from_values(values))}")  # type: ignore[arg-type]
    if not pod_docs and serves:
        lines.append("pods      none yet")
    for p in pod_docs:
        lines.append(f"pod       {p['name']}{' (' + p['role'] + ')' if p['role'] else ''}: "
                     f"{p['phase']}{' ready' if p['ready'] else ''}"
                     f" on {p['node'] or '-'}, restarts {p['restarts']}")
        lines.append(f"stage     {p['stage']}: {p['detail']}")
        for e in p["events"]:
            lines.append(f"  event   {e['type']} {e['reason']}: {e['message']}" + (f" (x{e['count']})"
                                                                                   if e["count"] > 1 else ""))
    for pr in problems:
        lines.append(f"problem   {pr['kind']}/{pr['name']} {pr['reason']}: {pr['message']}"
                     + (f" (x{pr['count']})" if pr["count"] > 1 else ""))
    if engine:
        lines.append(f"engine    {engine['summary']}")
        if engine.get("kv_cache_tokens"):
            lines.append(f"kv cache  {engine['kv_cache_tokens']:,} tokens"
                         + (f", {engine['kv_cache_gib']:.2f} GiB" if engine.get("kv_cache_gib") else "")
                         + (f", max concurrency {engine['max_concurrency']}x" if engine.get("max_concurrency")
                            else ""))
        if engine.get("error"):
            lines.append(f"error     {engine['error']}")
    if route:
        lines.append(f"route     \"model\": \"{route}\"{route_verdict(route_doc)}")
        if gateway_doc:
            layer = UserLayer.from_values(values)
            lines.append(f"gateway   {gateway_verdict(gateway_doc, layer.flags.get('site') if layer else None)}")
        lines.append(f"try       {doc['curl']}")
    out.text("\n".join(lines))


def replicas_text(r: ReplicaStatus) -> str:
    """'1/2 ready (groups of 2 pods, one per node), 0/2 on the new template' for status."""
    text = f"{r.ready}/{r.desired} ready" + (f" (groups of {r.pods_per_replica} pods, one per node)"
                                             if r.pods_per_replica > 1 else "")
    if not r.observed:
        text += ", the controller has not seen the latest change yet"
    elif r.updated is not None and r.updated < r.desired and not r.missing:
        text += f", {r.updated}/{r.desired} on the new template (rolling out)"
    return text


def missing_workload_hint(name: str, ns: str, values: dict[str, Any], session: Session | None = None,
                          revision: int | None = None) -> str:
    """What to say of a model release whose Deployment/StatefulSet/LeaderWorkerSet is gone (deleted by hand)."""
    kind = "LeaderWorkerSet" if int(get_path(values, "group.size") or 1) > 1 else \
        str(get_path(values, "workload") or "Deployment")
    if revision is None and session is not None:
        revision = int(session.helm.history(name, ns)[-1]["revision"])
    return (f"its {kind} is missing: re-apply the release with 'kubectl llm rollback {name} {revision or ''} "
            f"-n {ns}'").replace("  ", " ")


def route_verdict(r: dict[str, Any] | None) -> str:
    if not r or r["found"] is None:
        return ""
    if r["found"] is False:
        return f" - {r['message']}"
    if r["accepted"] is None:
        return " - not reconciled yet (is the Envoy AI Gateway controller running?)"
    return " - accepted by the AI Gateway" if r["accepted"] else f" - NOT accepted: {r['message']}"


def gateway_verdict(g: dict[str, Any], site: str | None = None) -> str:
    """``site``: the --site the model was added with; the Gateway is named after that site's, so the install
    command must name it too (without it the Gateway would get the default site's name)."""
    where = f"{g['name']} in namespace {g['namespace']}"
    if g["found"] is False:
        return (f"{where} not found: install it with 'kubectl llm gateway install -n {g['namespace']}"
                + (f" --site {shlex.quote(site)}'" if site else "'"))
    if g["found"] is None:
        return f"{where} (not readable)"
    return f"{where}, address {g['address'] or 'not assigned yet'}"


@click.command("logs", epilog="""\b
Examples:
  kubectl llm logs qwen3-8b --tail 100
  kubectl llm logs qwen3-8b -f
  kubectl llm logs qwen3-8b --worker 0                # a group spanning nodes: 0 = the leader, 1.. the workers
""")
@click.argument("name")
@click.option("-f", "--follow", is_flag=True, help="Stream the log.")
@click.option("--tail", type=click.IntRange(min=-1), default=-1, show_default=True, help="Lines from the end (-1: all).")
@click.option("--worker", type=click.IntRange(min=0), default=None, metavar="N",
              help="A model spanning nodes: the log of worker N of the group (0 = the leader, the default).")
@options.connection
def logs_command(name: str, follow: bool, tail: int, worker: int | None, namespace: str | None,
                 kube_context: str | None, kubeconfig: str | None) -> None:
    """Print the inference server's log of release NAME (newest pod; a group's leader unless --worker)."""
    session = Session(namespace, kube_context, kubeconfig)
    ns = session.namespace
    require_model_release(session, name)
    pods = session.cluster.pods(name, ns)
    if not pods:
        kind_of = fleet.release_kind(session.helm.values(name, ns))
        if kind_of != fleet.MODE_MODEL:     # it never has one here
            raise UsageError(f"release {name!r} is {'an alias' if kind_of == fleet.MODE_ALIAS else 'an external backend'}"
                             f": no pod of it runs in namespace {ns}, so there is no log",
                             f"'kubectl llm status {name} -n {ns}' shows its route" + (
                                 "; its targets' logs: kubectl llm logs TARGET" if kind_of == fleet.MODE_ALIAS
                                 else "; the engine's log is at the site serving it"))
        raise UsageError(f"release {name!r} has no pod yet", f"kubectl llm status {name} -n {ns}")
    if any(p.worker_index is not None for p in pods) or worker:
        ranks = sorted({p.worker_index for p in pods if p.worker_index is not None})
        chosen = [p for p in pods if p.worker_index == (worker or 0)]
        if not chosen:
            raise UsageError(f"release {name!r} has no worker {worker}" + (
                f" (its group has workers {', '.join(map(str, ranks))}; 0 is the leader)" if ranks else
                " (it runs on one node: no workers)"), f"kubectl llm status {name} -n {ns}")
        pods = chosen
    pod = pods[-1].name
    tail_lines = None if tail < 0 else tail
    if not any(c.state in ("running", "terminated") for c in pods[-1].containers):
        stage, detail = pod_stage(pods[-1], None)
        out.info(f"no log yet: pod {pod} is {stage} ({detail}); 'kubectl llm status {name} -n {ns}' shows why")
        return
    if follow:
        for chunk in session.cluster.follow_logs(pod, ns, tail=tail_lines):
            out.raw(chunk)
    else:
        out.text(session.cluster.logs(pod, ns, tail=tail_lines))
