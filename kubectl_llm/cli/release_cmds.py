"""`add`, `upgrade`, `rm`, `rollback`: one Helm release per model, moved as a whole.

Why a release per model: the Deployment, PVC, Service and the gateway objects (Backend, AIServiceBackend,
AIGatewayRoute) of one model are installed, upgraded, rolled back and removed together; `helm list` is the
inventory. The release name is the route name, validated before anything runs.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from typing import Any, Callable

import click

from kubectl_llm.adapters.charts import MODEL_CHART, chart_path, schema_violations
from kubectl_llm.cli import fleet_cmds, options
from kubectl_llm.cli import output as out
from kubectl_llm.cli.overrides import get_path
from kubectl_llm.cli.planning import (build_request, deployable_model, load_source, make_plan, planned_values,
                                      validate_name, why_not)
from kubectl_llm.cli.session import Session
from kubectl_llm.cli.userlayer import UserLayer, given_flags, legacy_layer
from kubectl_llm.errors import (HelmError, InvalidValues, LlmError, ReleaseConflict, ReleaseNotFound, UnknownGpu,
                                UsageError)

ADD_EXAMPLES = """\b
Examples:
  kubectl llm add Qwen/Qwen3-8B -n nrp-llm                      # plan, install, return
  kubectl llm add Qwen/Qwen3-8B --dry-run=client -o yaml         # the manifests, no cluster needed
  kubectl llm add Qwen/Qwen3-8B --gpu L40 --wait                 # live progress until it serves
  kubectl llm add MiniMaxAI/MiniMax-M2.5 --gpu A100-80GB --context-length 262144 --name minimax
  kubectl llm add Qwen/Qwen3-8B --name qwen3-8b-east --set storage.storageClass=linstor-unl -f my-values.yaml
  kubectl llm add ./my-model-dir --model-id Qwen/Qwen3-8B --name qwen3-8b-local --revision main
  kubectl llm add --external https://llm.sdsc.example.org/v1 --served-name Qwen/Qwen3-8B --api-key-secret sdsc-apikey --name qwen3-nairr
  kubectl llm add meta-llama/Llama-3.1-405B --gpu H100-80GB --dry-run=client -o yaml   # a LeaderWorkerSet, 2 nodes

Running the same add twice changes nothing; different options upgrade the release. A failed add leaves nothing
behind; a release left pending by a killed helm is repaired first. For a gated/private model, add warns when the
token Secret (engine.hfTokenSecret, default hf-token) is missing in the namespace.
"""


def _object_ref(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind', '?')}/{(obj.get('metadata') or {}).get('name', '?')}"


def _mode_gateway(values: dict[str, Any]) -> bool:
    return get_path(values, "gateway.enabled") is not False


def check_schema(chart_name: str, chart: Any, values: dict[str, Any]) -> None:
    """InvalidValues naming every violation of the chart's values.schema.json (helm would only say "values don't
    meet the specifications of the schema(s)")."""
    violations = schema_violations(chart_name, values)
    if violations:
        raise InvalidValues(f"{len(violations)} {'values break' if len(violations) > 1 else 'value breaks'} the {chart_name} "
                            f"chart's values.schema.json: " + "; ".join(violations),
                            f"fix {'them' if len(violations) > 1 else 'it'} in your -f/--set; every key is "
                            f"documented in 'helm show values {chart}'")


def deploy(session: Session, name: str, chart_name: str, values: dict[str, Any], *, dry_run: str, wait: bool,
           timeout: str, output: str | None, description: str, needs_gateway: bool, needs_lws: bool = False,
           check_current: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None) -> None:
    """Render (client dry run), server-dry-run, or install/upgrade one release, then report on stdout."""
    from kubectl_llm.cli.waiting import run_with_progress

    from kubectl_llm.cli.overrides import refuse_plain_secrets

    refuse_plain_secrets(chart_name, values)   # before anything renders, stores or prints them
    chart = chart_path(chart_name)
    if dry_run != "client":
        check_schema(chart_name, chart, values)
    if dry_run in ("client", "server"):
        if dry_run == "client":
            # `helm template` checks values.schema.json itself and has no side effect: jsonschema (~0.1 s to import)
            # runs only when it fails, and its violations are the error, as if checked first.
            try:
                objs = session.helm.template(name, chart, values, session.namespace)
            except LlmError:
                check_schema(chart_name, chart, values)
                raise
        else:
            if needs_gateway:
                session.cluster.require_gateway_crds()
            if needs_lws:
                session.cluster.require_lws_crd()
            objs = session.helm.dry_run_server(name, chart, values, session.namespace)
        if output:
            out.manifests(objs, output)
        else:
            out.text("\n".join(f"{_object_ref(o)} would be applied (dry run: {dry_run})" for o in objs))
        return
    if needs_gateway:
        session.cluster.require_gateway_crds()
    if needs_lws:
        session.cluster.require_lws_crd()        # nothing is installed before the CRD is there
    ns = session.namespace

    def work() -> Any:
        started = time.monotonic()
        outcome = session.helm.install_or_upgrade(name, chart, values, ns, chart_name=chart_name, wait=wait,
                                                  timeout=timeout, description=description,
                                                  check_current=check_current)
        if wait and needs_lws and outcome.action != "unchanged":
            wait_for_groups(session, name, outcome.action, timeout, started)
        return outcome

    outcome = run_with_progress(work, session.cluster, name, ns) if wait else work()
    doc = {"name": name, "namespace": ns, "chart": chart_name, "action": outcome.action,
           "revision": outcome.revision, "objects": [_object_ref(o) for o in outcome.objects]}
    if output:
        out.data(doc, output)
        return
    if outcome.action == "unchanged":
        out.text(f"release {name} unchanged in namespace {ns} (revision {outcome.revision}): "
                 f"same chart version and values")
    else:
        out.text(f"release {name} {outcome.action} in namespace {ns} (revision {outcome.revision})")
    if chart_name == MODEL_CHART and not wait and values.get("mode", "model") == "model":
        out.info(f"follow it: kubectl llm status {name} -n {ns}")


def _seconds(duration: str) -> float:
    """Go duration (90s, 30m, 1h30m) -> seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    return sum(float(n) * units[u] for n, u in parts) if parts else 1800.0


GROUP_POLL_SECONDS = 3.0


def wait_for_groups(session: Session, name: str, action: str, timeout: str, started: float, *,
                    undo: bool = True) -> None:
    """Helm's --wait counts a LeaderWorkerSet ready as soon as it exists (no readiness rule for custom kinds), and
    an updated group keeps its pods' names, so the old pods look ready until they are replaced: wait until every
    desired group runs the LWS's current template and all its pods are Ready (Cluster.replicas), within the same
    --timeout. On timeout undo like Helm would (``undo``: add/upgrade; a rollback is left as it is)."""
    deadline = started + _seconds(timeout)
    while True:
        state = session.cluster.replicas(name, session.namespace)
        if state.kind != "LeaderWorkerSet" or state.rolled_out:  # a Deployment: helm's own wait saw to it
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(GROUP_POLL_SECONDS)
    undone = ""
    if undo and action == "installed":
        session.helm.uninstall(name, session.namespace)
        undone = " (the install was removed)"
    elif undo:
        session.helm.rollback(name, session.namespace, None, wait=False, timeout=timeout)
        undone = " (rolled back to the previous revision)"
    ns = session.namespace
    if state.updated is not None and state.updated < state.desired and state.ready >= state.desired:
        raise HelmError(f"release {name}: {state.ready}/{state.desired} groups of {state.pods_per_replica} pods "
                        f"ready, {state.updated}/{state.desired} on the new template after {timeout}{undone}",
                        f"the LeaderWorkerSet controller did not replace the old groups in time: 'kubectl get "
                        f"leaderworkerset {name} -n {ns} -o yaml' shows its rollout (status, rolloutStrategy)")
    updated = "" if state.updated is None or state.updated >= state.desired else \
        f", {state.updated}/{state.desired} on the new template"
    raise HelmError(f"release {name}: {state.ready}/{state.desired} groups of {state.pods_per_replica} pods ready"
                    f"{updated} after {timeout}{undone}",
                    f"kubectl llm status {name} -n {ns} shows the pod that is not ready")


def user_overrides(values_files: tuple[str, ...], set_values: tuple[str, ...],
                   set_string_values: tuple[str, ...]) -> dict[str, Any]:
    """This call's -f/--set/--set-string merged in Helm's order; planner-owned keys refused before any lookup."""
    from kubectl_llm.cli.overrides import apply_overrides, refuse_plan_owned

    user = apply_overrides({}, values_files, set_values, set_string_values)[1]
    refuse_plan_owned(user)
    return user


def keep_claim_class(values: dict[str, Any], deployed: dict[str, Any] | None, user: dict[str, Any],
                     name: str = "NAME") -> str | None:
    """A claim's storage class and access mode cannot change (the API refuses any change of a PVC's spec but its
    size): when the site profile now names another class than the release's weights claim was made with, the
    upgrade keeps the claim's, unless the user's own override names one; a Deployment's claim keeps its access mode
    too (the site's sharedStorageClass of earlier replicas stays when they go down to one). An upgrade that turns
    the release into another kind makes new claims: nothing to keep. Returns the warning to print (None: nothing
    kept); refuses (UsageError) replicas that would have to share a ReadWriteOnce claim."""
    if deployed is None or get_path(values, "storage.existingClaim") or workload_of(deployed) != workload_of(values):
        return None
    said: list[str] = []
    if workload_of(values) == "Deployment" and get_path(user, "storage.accessMode") is None:
        from kubectl_llm.planner.storage import SHARED_MODES

        old_mode = get_path(deployed, "storage.accessMode") or "ReadWriteOnce"
        new_mode = get_path(values, "storage.accessMode") or "ReadWriteOnce"
        replicas = int(get_path(values, "replicas") or 1)
        if old_mode != new_mode and new_mode in SHARED_MODES and old_mode not in SHARED_MODES and replicas > 1:
            cls = get_path(deployed, "storage.storageClass") or "the cluster default"
            raise UsageError(f"{replicas} replicas of {name} cannot share its weights claim {name}: it is {old_mode} "
                             f"(class {cls}), and a claim's access mode and class cannot change into the site's "
                             f"shared {new_mode} class {get_path(values, 'storage.storageClass')}",
                             f"give each replica its own claim: --set storage.accessMode={old_mode} (a StatefulSet, "
                             f"{replicas} downloads); or share one claim: kubectl llm rm {name}, then add it again "
                             f"with --replicas {replicas}")
        if old_mode != new_mode:
            values["storage"]["accessMode"] = old_mode
            said.append(f"access mode {old_mode}")
    if get_path(user, "storage.storageClass") is None:
        old, new = get_path(deployed, "storage.storageClass"), get_path(values, "storage.storageClass")
        if old is not None and old != new:
            values["storage"]["storageClass"] = old
            said.append(f"storage class {old or '(the cluster default)'}")
            return (f"the weights claim keeps {' and '.join(said)}: a claim's class cannot change, and the site "
                    f"profile now names {new or 'the cluster default'}; to move the weights, rm the model and add it "
                    f"again (or --set storage.storageClass=CLASS once it is gone)")
    if said:
        return (f"the weights claim keeps {said[0]}: a claim's access mode cannot change; to change it, rm the model "
                f"and add it again")
    return None


def workload_of(values: dict[str, Any]) -> str:
    """The kind serving a model release: LeaderWorkerSet (group.size > 1), else the values' workload (Deployment for
    releases made before it existed)."""
    if int(get_path(values, "group.size") or 1) > 1:
        return "LeaderWorkerSet"
    return str(get_path(values, "workload") or "Deployment")


def workload_change(values: dict[str, Any], deployed: dict[str, Any] | None, name: str, ns: str) -> str | None:
    """What an upgrade that turns the release into another kind does to its pods and weights claims (Helm deletes
    the objects the new revision no longer renders), as a warning; a StatefulSet that stays one keeps its claim
    template, which the API refuses to change (size and access mode as deployed; the class: keep_claim_class)."""
    if deployed is None or get_path(deployed, "mode") not in (None, "model"):
        return None
    old, new = workload_of(deployed), workload_of(values)
    keep = bool(get_path(deployed, "storage.keep"))
    n = int(get_path(values, "replicas") or 1)
    if old == new == "StatefulSet":
        changed = [k for k in ("size", "accessMode") if get_path(deployed, f"storage.{k}") is not None
                   and get_path(values, f"storage.{k}") != get_path(deployed, f"storage.{k}")]
        for k in changed:
            values["storage"][k] = get_path(deployed, f"storage.{k}")
        held = " and ".join(f"{k} {get_path(deployed, 'storage.' + k)}" for k in changed)
        return (f"the per-replica claims keep {held}: a StatefulSet's claim template cannot change; to change "
                f"them, rm the model and add it again" if changed else None)
    if old == "Deployment" and new == "StatefulSet" and not get_path(deployed, "storage.existingClaim"):
        return (f"release {name} becomes a StatefulSet ({n} replicas, one weights claim each, "
                f"cache-{name}-0..{n - 1}): its pod stops and every replica downloads the weights into its own claim; "
                + (f"the claim {name} stays (storage.keep) but no pod mounts it: kubectl llm rm deletes it "
                   f"(--keep-cache keeps it), or kubectl delete pvc {name} -n {ns}" if keep else
                   f"the Deployment's claim {name} is deleted"))
    if old == "StatefulSet" and new == "Deployment":
        return (f"release {name} becomes a Deployment ({n} {'replica' if n == 1 else 'replicas sharing one claim'}): "
                f"the StatefulSet's pods stop and the new pod downloads the weights into the claim "
                f"{get_path(values, 'storage.existingClaim') or name}; "
                + (f"the per-replica claims cache-{name}-<i> stay (storage.keep) but no pod mounts them: kubectl llm "
                   f"rm deletes them (--keep-cache keeps them)" if keep else
                   f"the per-replica claims cache-{name}-<i> are deleted with the StatefulSet"))
    return None


def _plan_and_deploy(layer: UserLayer, name: str | None, session: Session, *, dry_run: str, wait: bool,
                     timeout: str, output: str | None, verb: str, deployed: dict[str, Any] | None = None) -> None:
    """Plan from the user layer (model, flags, overrides), render, deploy; the layer is stored in the release.
    ``deployed``: the values of the release this call upgrades (its weights claim keeps its storage class)."""
    import os

    flags = dict(layer.flags)
    hf_revision = flags.pop("hf_revision", None)
    request = build_request(flags, name, hf_revision, layer.values, recorded=True)
    # Plan from the local directory while it exists here; elsewhere from the repo id the pod loads.
    model = layer.source if layer.source and os.path.isdir(layer.source) else layer.model
    source = load_source(model, hf_revision, check_token=dry_run != "client", model_id=layer.model)
    if request.gpu_type == "auto":
        import dataclasses

        from kubectl_llm.cli.gpu_cluster import resolve_auto

        request = resolve_auto(source, request, session)
        # the layer keeps the type the cluster could take now: a later upgrade with nothing new stays a no-op. With
        # no catalog type to name (no GPU nodes, nodes not readable, a card planned from its memory label) it keeps
        # `auto`: the chart's schema refuses a null flag, and the next upgrade asks the cluster again.
        if request.gpu_type:
            layer = dataclasses.replace(layer, flags={**layer.flags, "gpu": request.gpu_type})
    plan = make_plan(source, request)
    if not plan.fits:
        out.info(plan.to_text())
        raise why_not(model, plan)
    planned = planned_values(plan, layer.values, layer)
    kept = keep_claim_class(planned.values, deployed, layer.values, planned.name)
    if kept is None and deployed is None and dry_run != "client":
        kept = _adopt_kept_claim(planned.name, planned.values, layer.values, session)
    change = workload_change(planned.values, deployed, planned.name, session.namespace)
    for warning in [*planned.warnings, *([kept] if kept else []), *([change] if change else [])]:
        out.warn(warning)
    if source.requires_token and dry_run != "client":
        warn_missing_token_secret(session, model, planned.values)
    deploy(session, planned.name, MODEL_CHART, planned.values, dry_run=dry_run, wait=wait, timeout=timeout,
           output=output, description=f"kubectl llm {verb} {layer.model}",
           needs_gateway=_mode_gateway(planned.values),
           needs_lws=int(get_path(planned.values, "group.size") or 1) > 1,
           check_current=_add_check(planned.name, layer, session, planned.values) if verb == "add" else None)


def _adopt_kept_claim(name: str, values: dict[str, Any], user: dict[str, Any], session: Session) -> str | None:
    """A weights PVC of this name already there (an earlier rm --keep-cache kept it) is adopted by the install as it
    is: it keeps its storage class even when the site profile names another now, since the API refuses the change
    (before, the add failed and was rolled back). A --set storage.storageClass naming another class is refused
    before helm runs when no release holds the claim (else the failed install's undo deleted the kept weights).
    Returns the warning to print (None: no such claim, same class)."""
    if get_path(values, "storage.existingClaim") or int(get_path(values, "group.size") or 1) > 1 or \
            get_path(values, "mode") not in (None, "model"):
        return None   # no claim of the release's own name (a LeaderWorkerSet's pods each adopt theirs as they are)
    claim = str(get_path(values, "nameOverride") or name)[:58].rstrip("-")   # llm-model.fullname
    cls = session.cluster.kept_claim_class(claim, session.namespace)
    if cls is None:
        return None
    wanted = get_path(user, "storage.storageClass")
    if wanted is not None and wanted != cls and session.helm.current_chart(name, session.namespace) is None:
        # the API would refuse the kept claim's change, and undoing the failed install deleted the kept weights
        ns = session.namespace
        raise InvalidValues(f"storage.storageClass={wanted}: the weights claim {claim} kept by 'rm --keep-cache' has "
                            f"storage class {cls or '(the cluster default)'}, and a claim's class cannot change",
                            f"drop --set storage.storageClass to adopt the kept weights, or delete the claim first "
                            f"(kubectl delete pvc {claim} -n {ns}; the weights download again)")
    # (its access mode is not read: the claim is adopted as the values say, as before)
    return keep_claim_class(values, {"storage": {"storageClass": cls,
                                                 "accessMode": get_path(values, "storage.accessMode")}}, user, name)


def _add_check(name: str, layer: UserLayer, session: Session, values: dict[str, Any]
               ) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """add over an existing release: the same model only, and its weights claim keeps its storage class (the same
    add after the site profile moved to another class is no change, not a refused PVC update)."""

    def check(deployed: dict[str, Any]) -> dict[str, Any] | None:
        same_model(name, layer.model, session)(deployed)
        kept = keep_claim_class(values, deployed, layer.values, name)
        change = workload_change(values, deployed, name, session.namespace)
        for warning in (kept, change):
            if warning:
                out.warn(warning)
        return values if kept or change else None

    return check


KIND_WORDS = {"model": "a model", "external": "an external backend", "alias": "an alias"}


def same_kind(name: str, kind: str, session: Session) -> Callable[[dict[str, Any]], None]:
    """add (or add --external) must not turn an alias or an external backend into a model, or a model into an
    external backend (its Deployment and weights PVC would go): a release of another kind needs its own name."""

    def check(deployed: dict[str, Any]) -> None:
        from kubectl_llm import fleet

        held = fleet.release_kind(deployed)
        if held != kind:
            ns = session.namespace
            raise ReleaseConflict(f"release {name!r} in namespace {ns!r} is {KIND_WORDS.get(held, held)}, not "
                                  f"{KIND_WORDS.get(kind, kind)}",
                                  f"pick another --name, or remove it first (kubectl llm rm {name} -n {ns})")

    return check


def same_model(name: str, model: str, session: Session) -> Callable[[dict[str, Any]], None]:
    """add must not turn release NAME into another model: that is a second model, which needs its own name."""

    def check(deployed: dict[str, Any]) -> None:
        same_kind(name, "model", session)(deployed)
        held = (UserLayer.from_values(deployed) or legacy_layer(deployed)).model
        if held and held != model:
            ns = session.namespace
            raise ReleaseConflict(f"release {name!r} in namespace {ns!r} already serves {held}, not {model}",
                                  f"add {model} under another --name, or remove {held} first "
                                  f"(kubectl llm rm {name} -n {ns}); 'kubectl llm upgrade {name}' changes its options")

    return check


def warn_missing_token_secret(session: Session, model: str, values: dict[str, Any]) -> None:
    """The Hub refuses MODEL without a token: say so now if the pod will have none, not after a crash loop."""
    from kubectl_llm import yamlio

    defaults = yamlio.load((chart_path(MODEL_CHART) / "values.yaml").read_text())
    name, key = (get_path(values, f"engine.hfTokenSecret.{k}") for k in ("name", "key"))
    name = get_path(defaults, "engine.hfTokenSecret.name") if name is None else name   # the chart's default
    key = key or get_path(defaults, "engine.hfTokenSecret.key") or "token"
    ns = session.namespace
    create = (f"kubectl create secret generic {name or 'hf-token'} -n {ns} --from-literal={key}=<your HF token>")
    if not name:
        out.warn(f"{model} is gated or private on the Hugging Face Hub and engine.hfTokenSecret.name is empty: the "
                 f"engine cannot download it; create a Secret ({create}) and set engine.hfTokenSecret.name")
    elif session.cluster.secret_exists(name, ns) is False:
        out.warn(f"{model} is gated or private on the Hugging Face Hub and Secret {name!r} does not exist in "
                 f"namespace {ns}: the engine's download will fail (401/403) until it does: {create}")


@click.command("add", epilog=ADD_EXAMPLES)
@click.argument("model", required=False)
@click.option("--model-id", default=None, metavar="ORG/NAME",
              help="For MODEL a local directory: the Hugging Face repo id the pod downloads and serves (the plan "
                   "reads config.json and weight sizes from the directory).")
@options.plan_options(cluster=True)
@fleet_cmds.external_options
@options.name
@options.connection
@options.overrides
@options.dry_run
@options.wait
@options.timeout
@options.output("yaml", "json")
def add_command(model: str | None, model_id: str | None, name: str | None, namespace: str | None,
                kube_context: str | None, kubeconfig: str | None, values_files: tuple[str, ...],
                set_values: tuple[str, ...],
                set_string_values: tuple[str, ...], dry_run: str, wait: bool, timeout: str, output: str | None,
                hf_revision: str | None, **plan_opts: Any) -> None:
    """Plan MODEL and install it as one Helm release (inference + gateway objects), rolled back on failure.
    With --external URL: route to a model served elsewhere instead (gateway objects only)."""
    session = Session(namespace, kube_context, kubeconfig)
    external = fleet_cmds.pop_external(plan_opts)
    if any(external.values()):
        if not external["external"]:
            raise UsageError("--served-name, --api-key-secret, --insecure and --owned-by only go with --external URL",
                             "add --external https://host/v1 --served-name MODEL --name ROUTE")
        if model_id:
            raise UsageError("--model-id is for a local MODEL directory; --external serves none here",
                             "drop --model-id")
        return fleet_cmds.add_external(model, name, external, plan_opts, session, hf_revision=hf_revision,
                                       values_files=values_files, set_values=set_values,
                                       set_string_values=set_string_values, dry_run=dry_run, wait=wait,
                                       timeout=timeout, output=output)
    if not model:
        raise UsageError("missing MODEL (a Hugging Face repo id or a local directory)",
                         "kubectl llm add Qwen/Qwen3-8B, or add --external URL --served-name MODEL --name ROUTE")
    # Read the override files before the (possibly slow) model lookup: a typo fails in milliseconds.
    model_id, local = deployable_model(model, model_id)
    user = user_overrides(values_files, set_values, set_string_values)
    flags = with_site_in_effect(given_flags({**plan_opts, "hf_revision": hf_revision}))
    layer = UserLayer(model=model_id, flags=flags, values=user, source=local)
    _plan_and_deploy(layer, name, session, dry_run=dry_run, wait=wait, timeout=timeout, output=output, verb="add")


def with_site_in_effect(flags: dict[str, Any]) -> dict[str, Any]:
    """``flags`` with the site in effect recorded when no --site was given: a site from $KUBECTL_LLM_SITE or
    ~/.config/kubectl-llm/site.yaml is what the user set too, recorded like --site, so an upgrade from another shell
    (or by a colleague) re-plans for the same site, not NRP's. The built-in site is not recorded."""
    if flags.get("site"):
        return flags
    from kubectl_llm.cli.planning import load_site

    in_effect = load_site(None).path
    return {**flags, "site": os.path.abspath(in_effect)} if in_effect else flags


def flags_to_forget(name: str, stored: UserLayer, forget: tuple[str, ...], this_call: dict[str, Any], *,
                    reset: bool) -> tuple[str, ...]:
    """The stored plan flags ``upgrade --forget FLAG`` names, as parameter names; a flag no plan knows, one the
    release does not store, or one this call also sets is a usage error (it would be silently nothing)."""
    from kubectl_llm.cli.userlayer import FLAG_NAMES, PARAMS

    stored_now = " ".join(stored.args()) or "none"
    params: list[str] = []
    for raw in forget:
        flag = raw.strip().lstrip("-")
        if flag == "ctx":
            flag = "context-length"
        param = PARAMS.get(flag)
        if param is None:
            raise UsageError(f"--forget {raw}: not a stored plan flag",
                             "one of: " + ", ".join(sorted(FLAG_NAMES.values())))
        if this_call.get(param) not in (None, ()):     # () = a repeatable flag not given
            raise UsageError(f"--forget {flag} and --{flag} in one call: give one",
                             f"--{flag} VALUE replaces the stored value; --forget {flag} lets the plan decide")
        if param not in stored.flags and not reset:
            raise UsageError(f"--forget {flag}: release {name!r} stores no --{flag} (stored flags: {stored_now})",
                             f"see them with: kubectl llm status {name}")
        params.append(param)
    return tuple(params)


def require_model_release(session: Session, name: str) -> tuple[str, str, str]:
    """The release must exist and belong to the llm-model chart (never touch another chart's release)."""
    from kubectl_llm.errors import InvalidName

    try:
        validate_name(name, flag="")
    except InvalidName as exc:   # NAME is positional: no --name to suggest; a model id is the usual slip
        ns = session.namespace_flag
        listing = "kubectl llm list" + (f" -n {ns}" if ns else "")
        if "/" in name:
            from kubectl_llm.planner.sizing import default_name

            raise InvalidName(f"{name!r} is a model id; NAME is the release name",
                              f"add installs {name} as {default_name(name)} unless given --name; '{listing}' shows "
                              f"the release names") from None
        raise InvalidName(exc.message, f"{exc.hint}; '{listing}' shows the release names") from None
    found = session.helm.current_chart(name, session.namespace)
    if found is None:
        raise ReleaseNotFound(f"no release {name!r} in namespace {session.namespace!r}")
    if found[0] != MODEL_CHART:
        from kubectl_llm.adapters.charts import GATEWAY_CHART

        raise ReleaseConflict(f"release {name!r} belongs to chart {found[0]!r}, not {MODEL_CHART!r}",
                              f"it is the namespace's gateway: kubectl llm gateway upgrade|uninstall --name {name} "
                              f"-n {session.namespace} (helm -n {session.namespace} rollback {name} rolls it back)"
                              if found[0] == GATEWAY_CHART else
                              f"manage it with helm directly: helm -n {session.namespace} status {name}")
    return found


@click.command("upgrade", epilog="""\b
Examples:
  kubectl llm upgrade qwen3-8b --context-length 65536     # re-plan the deployed model with a new context
  kubectl llm upgrade qwen3-8b --gpus 2 --wait
  kubectl llm upgrade qwen3-8b                             # nothing new: no new revision, no restart
  kubectl llm upgrade qwen3-8b --forget context-length     # drop a stored flag: the plan decides it again

The model id, the plan flags and the -f/--set overrides of earlier add/upgrade calls come from the release (its
user layer, shown by 'kubectl llm status'); this call's options are applied on top. `--set key=null` forgets an
earlier override of key, `--forget FLAG` an earlier plan flag (`--forget context-length`: the largest context that
fits again); --reset-values forgets them all.
""")
@click.argument("name")
@options.plan_options(cluster=True)
@options.connection
@options.overrides
@click.option("--reset-values", is_flag=True,
              help="Forget the flags and -f/--set overrides stored by earlier add/upgrade calls; keep only this "
                   "call's.")
@click.option("--forget", "forget", multiple=True, metavar="FLAG",
              help="Forget one plan flag stored by earlier add/upgrade calls, e.g. --forget context-length: the "
                   "plan decides it again (repeatable; 'kubectl llm status NAME' shows the stored flags).")
@options.dry_run
@options.wait
@options.timeout
@options.output("yaml", "json")
def upgrade_command(name: str, namespace: str | None, kube_context: str | None, kubeconfig: str | None,
                    values_files: tuple[str, ...], set_values: tuple[str, ...], set_string_values: tuple[str, ...],
                    reset_values: bool, forget: tuple[str, ...], dry_run: str, wait: bool, timeout: str,
                    output: str | None, hf_revision: str | None, **plan_opts: Any) -> None:
    """Re-plan the model of release NAME with what the user set before plus this call's options, and upgrade it
    (nothing new: no new revision)."""
    session = Session(namespace, kube_context, kubeconfig)
    user = user_overrides(values_files, set_values, set_string_values)
    require_model_release(session, name)
    deployed = session.helm.values(name, session.namespace)
    if get_path(deployed, "mode") in ("external", "alias"):
        raise UsageError(f"release {name!r} is an {get_path(deployed, 'mode')}: there is no model to re-plan",
                         "change it with the command that made it (add --external ... / alias NAME --to ...)")
    stored = UserLayer.from_values(deployed) or legacy_layer(deployed)
    if not stored.model:
        raise ReleaseConflict(f"release {name!r} has no model.id value", "it was not installed by kubectl llm add")
    this_call = {**plan_opts, "hf_revision": hf_revision}
    forgotten = flags_to_forget(name, stored, forget, this_call, reset=reset_values)
    layer = stored.updated(this_call, user, reset=reset_values, forget=forgotten)
    if reset_values or "site" in forgotten:   # the stored site is forgotten: the site in effect now is recorded
        layer = dataclasses.replace(layer, flags=with_site_in_effect(layer.flags))
    site = layer.flags.get("site")
    if not site:
        from kubectl_llm.cli.planning import load_site

        try:
            in_effect = load_site(None)
        except LlmError:   # a broken $KUBECTL_LLM_SITE is no concern of a release that does not use it
            in_effect = None
        if in_effect is not None and in_effect.path:
            out.warn(f"release {name} is planned for the built-in site profile, as it was added: {in_effect.origin} "
                     f"is not applied (upgrade --site FILE, or --reset-values in this shell, re-plans it for that "
                     f"site)")
    if site and not plan_opts.get("site") and not os.path.isfile(site):
        from kubectl_llm.errors import SiteError

        raise SiteError(f"release {name!r} was added with --site {site}, which no longer exists",
                        f"give this upgrade --site FILE (the same site profile, wherever it is now), or "
                        f"--reset-values to re-plan for the site in effect")
    try:
        _plan_and_deploy(layer, name, session, dry_run=dry_run, wait=wait, timeout=timeout, output=output,
                         verb="upgrade", deployed=deployed)
    except UnknownGpu as exc:
        kept_gpu = stored.flags.get("gpu")
        if not kept_gpu or plan_opts.get("gpu") or layer.flags.get("gpu") != kept_gpu:
            raise
        # the type came from the release, not from this call: the site profile no longer names it (renamed or
        # removed there); 'kubectl llm gpus' alone does not say how to move the release to another type
        raise UnknownGpu(exc.message, f"release {name} was added with --gpu {kept_gpu}, which the site no longer "
                                      f"names: kubectl llm upgrade {name} -n {session.namespace} --gpu TYPE (one "
                                      f"of the known), or --forget gpu to let the plan choose") from None


def uninstall_model(session: Session, name: str, *, keep_cache: bool, timeout: str, wait: bool = False
                    ) -> tuple[list[str], list[dict[str, Any]], list[Any]]:
    """Uninstall llm-model release NAME leaving nothing of it (rm, sync --prune): its PVC unless ``keep_cache``
    (and one an earlier --keep-cache kept, when not), a LeaderWorkerSet's per-pod claims alike. Returns (objects
    removed as Kind/name, claims kept, claims still Terminating)."""
    ns = session.namespace
    objs = session.helm.manifest(name, ns)
    pvcs = [o for o in objs if o.get("kind") == "PersistentVolumeClaim"]
    protected = [o for o in pvcs if ((o.get("metadata") or {}).get("annotations") or {})
                 .get("helm.sh/resource-policy") == "keep"]
    # Replicas with a claim each: the volumeClaimTemplates of a LeaderWorkerSet (a model spanning nodes) or a
    # StatefulSet (replicas on ReadWriteOnce storage) made one claim per pod, outside the manifest, owned by the set
    # (persistentVolumeClaimRetentionPolicy Delete) unless storage.keep. Claims an earlier revision left (kept by
    # storage.keep when the release changed kind) carry the release's label too: rm treats them alike.
    group = next((o for o in objs if o.get("kind") in ("LeaderWorkerSet", "StatefulSet")), None)
    lws = (group or {}).get("kind") == "LeaderWorkerSet"
    templates = ([f"spec.leaderWorkerTemplate.{role}.spec.volumes" for role in ("leaderTemplate", "workerTemplate")]
                 if lws else ["spec.template.spec.volumes"])
    # (a claim the pods mount by name is the user's storage.existingClaim: never ours to delete or let go of)
    existing = {v["persistentVolumeClaim"].get("claimName") for path in templates
                for v in get_path(group or {}, path) or []
                if isinstance(v, dict) and v.get("persistentVolumeClaim")}
    existing |= {v["persistentVolumeClaim"].get("claimName") for o in objs if o.get("kind") == "Deployment"
                 for v in get_path(o, "spec.template.spec.volumes") or []
                 if isinstance(v, dict) and v.get("persistentVolumeClaim")}
    own = {(o.get("metadata") or {}).get("name") for o in pvcs}
    # (claims of an earlier kind survive only by storage.keep, whose PVC annotation says so: only then, or with a
    # set, is the cluster asked)
    group_claims = [{"kind": "PersistentVolumeClaim", "metadata": {"name": c}}
                    for c in session.cluster.group_claims(name, ns) if c not in existing and c not in own
                    ] if group or protected else []
    retained = get_path(group or {}, ("spec.leaderWorkerTemplate." if lws else "spec.")
                        + "persistentVolumeClaimRetentionPolicy.whenDeleted")
    if keep_cache and ((pvcs and len(protected) < len(pvcs)) or (group and group_claims and retained != "Retain")):
        session.helm.set_values(name, chart_path(MODEL_CHART), ns, {"storage": {"keep": True}}, timeout=timeout)
    if keep_cache and group_claims:   # the claims already made keep their owner otherwise: let go of them
        session.cluster.orphan_claims([c["metadata"]["name"] for c in group_claims], ns)
    session.helm.uninstall(name, ns, timeout=timeout, wait=wait)
    kept = pvcs + group_claims if keep_cache else []
    if not keep_cache:
        # kept by an earlier --keep-cache (or let go of by the set): the user now asked for everything to go
        for pvc in protected + group_claims:
            session.cluster.delete_pvc(pvc["metadata"]["name"], ns)
        objs = objs + group_claims
    removed = [_object_ref(o) for o in objs if o not in kept]
    # A claim a pod still mounts stays Terminating (pvc-protection): say so, or a quick re-add fails oddly.
    try:
        terminating = session.cluster.terminating_claims([o["metadata"]["name"] for o in pvcs + group_claims
                                                          if o not in kept], ns)
    except LlmError:  # the release is gone already; not being able to look is no failure of rm
        terminating = []
    return removed, kept, terminating


@click.command("rm", epilog="""\b
Examples:
  kubectl llm rm qwen3-8b -n nrp-llm
  kubectl llm rm qwen3-8b --keep-cache      # keep the downloaded weights for a later add

--keep-cache first upgrades the release with storage.keep=true (helm.sh/resource-policy: keep on the PVC), so
`helm uninstall` leaves the PVC; a later add of the same name adopts it (replicas with a claim each, a StatefulSet
or a model spanning nodes: their claims cache-<pod>). Without it, a PVC an earlier --keep-cache protected is deleted
too.
""")
@click.argument("name")
@click.option("--keep-cache", is_flag=True, help="Keep the weights PVC (no re-download on the next add).")
@options.connection
@options.timeout_option("5m", "Helm timeout.")
@click.option("--wait/--no-wait", default=False, help="Wait until the objects are gone.")
@options.output("yaml", "json")
def rm_command(name: str, keep_cache: bool, namespace: str | None, kube_context: str | None,
               kubeconfig: str | None, timeout: str, wait: bool, output: str | None) -> None:
    """Remove the release NAME: its workload, its PVC (unless --keep-cache) and its gateway objects."""
    session = Session(namespace, kube_context, kubeconfig)
    ns = session.namespace
    require_model_release(session, name)
    fleet_cmds.warn_aliases(session, name)
    if wait:   # helm prints nothing while it waits (a pod's grace period, a claim's protection): say what it does
        out.info(f"removing release {name} from namespace {ns}; waiting up to {timeout} until its objects are gone ...")
    removed, kept, terminating = uninstall_model(session, name, keep_cache=keep_cache, timeout=timeout, wait=wait)
    doc = {"name": name, "namespace": ns, "removed": removed, "kept": [_object_ref(o) for o in kept],
           "terminating": [p.text() for p in terminating]}
    for p in terminating:
        out.warn(p.text())
    if output:
        out.data(doc, output)
        return
    lines = [f"{ref} deleted" for ref in removed] + [f"{_object_ref(o)} kept (--keep-cache)" for o in kept]
    out.text("\n".join(lines + [f"release {name} removed from namespace {ns}"]))


def rollback_target(history: list[dict[str, Any]], same_as_current: Callable[[int], bool]
                    ) -> tuple[int | None, list[dict[str, Any]]]:
    """The revision a rollback without REVISION goes to, and the newer ones it passes over (with why).

    Helm's own default is the revision before the current one, whatever it was. After a failed upgrade that was
    rolled back (revisions: 1 deployed, 2 failed, 3 "Rollback to 1") that is the failed revision 2: "undo" would
    re-apply the change that just failed. Undo means: the newest earlier revision that did not fail and differs
    from what runs now (``same_as_current(rev)``: same chart and values as the current revision). None when there
    is none. When the current revision itself failed (a rollback that ran out of its --timeout is recorded failed),
    what runs is uncertain: the newest revision that did not fail is the target even with the same values.
    """
    skipped: list[dict[str, Any]] = []
    current_failed = str(history[-1].get("status", "")) == "failed"
    for row in reversed(history[:-1]):
        rev, status = int(row["revision"]), str(row.get("status", ""))
        if status == "failed" or status.startswith("pending"):
            skipped.append({"revision": rev, "why": "it failed" if status == "failed"
                            else f"it was left {status}"})
        elif not current_failed and same_as_current(rev):
            skipped.append({"revision": rev, "why": "the same chart and values as what runs now"})
        else:
            return rev, skipped
    return None, skipped


@click.command("rollback", epilog="""\b
Examples:
  kubectl llm rollback qwen3-8b          # undo the last change that took effect
  kubectl llm rollback qwen3-8b 3 --wait # to revision 3 (helm history qwen3-8b lists them)

Without REVISION it goes to the newest earlier revision that did not fail and differs from what runs now: after
an upgrade that failed and was rolled back, that is the revision before the failed change, not the failed one
(helm rollback's own default). The revisions passed over are named; with REVISION it goes exactly there.
""")
@click.argument("name")
@click.argument("revision", type=click.IntRange(min=1), required=False)
@options.connection
@click.option("--wait/--no-wait", default=False, show_default=True,
              help="Wait until the rolled-back revision serves: every pod ready (for a model spanning nodes, every "
                   "group of the LeaderWorkerSet's template); a timeout fails but keeps the rollback.")
@options.timeout_option("30m", "Helm timeout.")
@options.output("yaml", "json")
def rollback_command(name: str, revision: int | None, namespace: str | None, kube_context: str | None,
                     kubeconfig: str | None, wait: bool, timeout: str, output: str | None) -> None:
    """Roll release NAME back to REVISION (default: undo the last change); inference and routing move together."""
    session = Session(namespace, kube_context, kubeconfig)
    require_model_release(session, name)
    history = session.helm.history(name, session.namespace)
    revisions = [int(h["revision"]) for h in history]
    if revision is not None and revision not in revisions:    # helm would only say "release has no 7 version"
        raise UsageError(f"release {name!r} has no revision {revision} (its revisions: "
                         f"{', '.join(map(str, revisions))})", f"kubectl llm rollback {name} {revisions[-1] - 1}"
                         if len(revisions) > 1 else "it has nothing to roll back to")
    if revision is None and len(revisions) < 2:
        raise UsageError(f"release {name!r} has only revision {revisions[0]}: there is nothing to roll back to",
                         f"kubectl llm upgrade {name} [flags] changes it; kubectl llm rm {name} removes it")
    skipped: list[dict[str, Any]] = []
    if revision is None:
        revision, skipped = _default_rollback_target(session, name, history)
        for s in skipped:
            out.info(f"passing over revision {s['revision']}: {s['why']}")
    from kubectl_llm.cli.waiting import run_with_progress

    def work() -> int:
        started = time.monotonic()
        rev = session.helm.rollback(name, session.namespace, revision, wait=wait, timeout=timeout)
        if wait:  # a LeaderWorkerSet: helm's wait does not see its groups (see wait_for_groups)
            wait_for_groups(session, name, "rolled back", timeout, started, undo=False)
        return rev

    # --wait draws the same live line as add/upgrade (pods of the rolled-back revision, engine progress)
    new = run_with_progress(work, session.cluster, name, session.namespace) if wait else work()
    target = revision
    doc = {"name": name, "namespace": session.namespace, "rolled_back_to": target, "revision": new,
           "passed_over": skipped}
    if output:
        out.data(doc, output)
    else:
        out.text(f"release {name} rolled back to revision {target} (now revision {new})")


def _default_rollback_target(session: Session, name: str, history: list[dict[str, Any]]
                             ) -> tuple[int, list[dict[str, Any]]]:
    ns = session.namespace
    current = history[-1]
    now = session.helm.values(name, ns)

    def same_as_current(rev: int) -> bool:
        row = next(h for h in history if int(h["revision"]) == rev)
        return row.get("chart") == current.get("chart") and (session.helm.values(name, ns, rev) or {}) == (now or {})

    target, skipped = rollback_target(history, same_as_current)
    if target is None:
        said = "; ".join(f"revision {s['revision']}: {s['why']}" for s in skipped)
        raise UsageError(f"release {name!r} has no earlier revision to undo to ({said})",
                         f"'kubectl llm rollback {name} REVISION' goes to a revision on purpose, even a failed one; "
                         f"helm history {name} -n {ns} lists them")
    return target, skipped
