"""`kubectl llm gateway install|upgrade|uninstall`: the shared llm-gateway chart (one Gateway for all models)."""

from __future__ import annotations

from typing import Any

import click

from kubectl_llm.adapters.charts import GATEWAY_CHART, chart_path
from kubectl_llm.cli import options
from kubectl_llm.cli import output as out
from kubectl_llm.cli.overrides import apply_overrides, deep_merge
from kubectl_llm.cli.planning import validate_name
from kubectl_llm.cli.release_cmds import deploy
from kubectl_llm.cli.session import Session
from kubectl_llm.errors import ReleaseConflict, ReleaseNotFound, UsageError

release_name = click.option("--name", default=GATEWAY_CHART, show_default=True, metavar="NAME",
                            help="Release name of the gateway.")


@click.group("gateway", epilog="""\b
Examples:
  kubectl llm gateway install -n nrp-llm
  kubectl llm gateway install --dry-run=client -o yaml
  kubectl llm gateway upgrade -n nrp-llm --set gateway.name=envoy-ai-gateway-nrp
  kubectl llm gateway uninstall -n nrp-llm
""")
def gateway_group() -> None:
    """Install, upgrade or remove the shared Envoy AI Gateway objects (chart llm-gateway)."""


def _install(name: str, namespace: str | None, kube_context: str | None, kubeconfig: str | None,
             values_files: tuple[str, ...], set_values: tuple[str, ...], set_string_values: tuple[str, ...],
             dry_run: str, wait: bool, timeout: str, output: str | None, verb: str, site: str | None = None,
             reset_values: bool = False) -> None:
    validate_name(name)
    from kubectl_llm.cli.planning import load_site

    in_effect = load_site(site).site
    refs = in_effect.gateway_parent_refs
    # The site's routes attach to the Gateway of its first parentRef: a ref naming a namespace says where it lives.
    session = Session(namespace or (refs[0].get("namespace") if refs else None) or None, kube_context, kubeconfig)
    base = site_values(site)
    if verb == "upgrade":
        # upgrade starts from what the release was installed with (its --set/-f values and the site's Gateway
        # name); an explicit --site is applied over them, this call's -f/--set last (null forgets a value). Also
        # under --dry-run=client, which previews this very upgrade (as a model's upgrade reads its release).
        stored = _stored_values(session, name)
        if stored is None:
            # no gateway here: installing one (a Gateway, its Envoy proxy and load balancer, a cluster-wide
            # GatewayClass) is what install does, named after the site in effect; an upgrade run in the wrong
            # namespace, or from a shell without the site, made one that no route attaches to
            raise ReleaseNotFound(f"no gateway release {name!r} in namespace {session.namespace!r}: upgrade "
                                  f"changes an installed gateway",
                                  f"-n the namespace it is installed in ('helm list -A' shows it), or install one "
                                  f"with 'kubectl llm gateway install -n {session.namespace}'"
                                  + (f" --site {site}" if site else ""))
        if not reset_values:
            base = deep_merge(stored, site_values(site)) if site else stored
    values, _ = apply_overrides(base, values_files, set_values, set_string_values)
    _check_namespace(in_effect, values, session.namespace, verb, site)
    deploy(session, name, GATEWAY_CHART, values, dry_run=dry_run, wait=wait, timeout=timeout, output=output,
           description=f"kubectl llm gateway {verb}", needs_gateway=False)


def _stored_values(session: Session, name: str) -> dict[str, Any] | None:
    """The values gateway release NAME was installed with; None when there is none (upgrade then refuses)."""
    found = session.helm.current_chart(name, session.namespace)
    if found is None:
        return None
    if found[0] != GATEWAY_CHART:
        raise ReleaseConflict(f"release {name!r} belongs to chart {found[0]!r}, not {GATEWAY_CHART!r}",
                              f"pass the gateway's release name with --name (helm -n {session.namespace} list)")
    return session.helm.values(name, session.namespace) or {}


def site_values(option: str | None) -> dict[str, Any]:
    """The gateway chart's values the site profile decides, so that the site's routes can attach: the Gateway is
    named after the site's first gateway parentRef (the one llm-model routes attach to); a ref's sectionName names
    the chart's first listener (unless a listener has that name); a ref naming a namespace (a Gateway shared by the
    models of other namespaces) lets routes of every namespace attach (Gateway API's default is the Gateway's own
    namespace only). The listeners are the chart's own otherwise (-f gateway.listeners replaces them, TLS too). The
    site's registry mirror is the chart's imageRegistry."""
    from kubectl_llm.cli.planning import load_site

    site = load_site(option).site
    mirror = {"imageRegistry": site.image_registry} if site.image_registry else {}
    refs = site.gateway_parent_refs
    if not refs:
        return mirror
    ref = refs[0]
    gateway: dict[str, Any] = {"name": ref["name"]}
    section, namespace = ref.get("sectionName"), ref.get("namespace")
    if section or namespace:
        listeners = _chart_listeners()
        if section and listeners and not any(lis.get("name") == section for lis in listeners):
            listeners[0]["name"] = section
        if namespace:
            for lis in listeners:
                lis.setdefault("allowedRoutes", {"namespaces": {"from": "All"}})
        gateway["listeners"] = listeners
    return {**mirror, "gateway": gateway}


def _chart_listeners() -> list[dict[str, Any]]:
    """The llm-gateway chart's default listeners (its values.yaml), a fresh copy."""
    from kubectl_llm import yamlio

    values = yamlio.load((chart_path(GATEWAY_CHART) / "values.yaml").read_text(encoding="utf-8")) or {}
    return [dict(lis) for lis in (values.get("gateway") or {}).get("listeners") or []]


def _check_namespace(site: Any, values: dict[str, Any], namespace: str, verb: str, option: str | None) -> None:
    """Refuse a Gateway the site's routes name, installed in another namespace than theirs name: none of them could
    attach to it."""
    name = (values.get("gateway") or {}).get("name")
    for ref in site.gateway_parent_refs:
        where = ref.get("namespace")
        if where and ref.get("name") == name and where != namespace:
            raise UsageError(f"the site {site.name}'s routes attach to Gateway {name} in namespace {where}, not "
                             f"{namespace}: installed here it would serve none of them",
                             f"kubectl llm gateway {verb} -n {where}" + (f" --site {option}" if option else "")
                             + " (or --set gateway.name=NAME for a Gateway of this namespace's own)")


def _install_options(fn: Any) -> Any:
    for dec in reversed([release_name, options.connection, options.site, options.overrides, options.dry_run,
                         options.wait,
                         options.timeout_option("5m", "Helm timeout."), options.output("yaml", "json")]):
        fn = dec(fn)
    return fn


@gateway_group.command("install", epilog="""\b
Examples:
  kubectl llm gateway install -n nrp-llm                         # once per namespace, before the first add
  kubectl llm gateway install -n nrp-llm --dry-run=client -o yaml    # the objects, no cluster needed
  kubectl llm gateway install --site my-site.yaml                # the Gateway the site's routes attach to

The Gateway is named after the site profile's first gateway.parentRefs entry (NRP: envoy-ai-gateway-nrp), and
installed in that entry's namespace when it names one; -n another namespace is then refused. The release also
brings the engine ConfigMap llm-engine-config (extra variables for every engine; each model's chart points its
Hugging Face and vLLM caches at its own weights PVC) to its namespace.
""")
@_install_options
def gateway_install(**kw: Any) -> None:
    """Install the gateway release (idempotent: unchanged when already installed with the same values)."""
    _install(**kw, verb="install")


@gateway_group.command("upgrade", epilog="""\b
Examples:
  kubectl llm gateway upgrade -n nrp-llm                                   # the bundled chart, same values
  kubectl llm gateway upgrade -n nrp-llm --set envoyProxy.replicas=3       # one value changed, the others kept
  kubectl llm gateway upgrade -n nrp-llm --set envoyProxy.replicas=null    # forget one earlier value

The values of earlier install/upgrade calls (-f, --set, the site's Gateway name) are kept; this call's are
applied on top; --reset-values forgets them all. A namespace with no gateway release is refused (gateway install
makes one).
""")
@_install_options
@click.option("--reset-values", is_flag=True,
              help="Forget the values of earlier install/upgrade calls; keep only the site's and this call's.")
def gateway_upgrade(**kw: Any) -> None:
    """Upgrade the gateway release to the bundled chart, keeping its earlier values (this call's on top)."""
    _install(**kw, verb="upgrade")


@gateway_group.command("uninstall", epilog="""\b
Examples:
  kubectl llm gateway uninstall -n nrp-llm
  kubectl llm gateway uninstall -n gateways        # a site's Gateway installed in a namespace of its own

The models' releases stay (uninstall warns naming them); their routes answer again once a gateway is installed.
""")
@release_name
@options.connection
@options.timeout_option("5m", "Helm timeout.")
def gateway_uninstall(name: str, namespace: str | None, kube_context: str | None, kubeconfig: str | None,
                      timeout: str) -> None:
    """Remove the gateway release (models stay installed but unreachable through it)."""
    session = Session(namespace, kube_context, kubeconfig)
    found = session.helm.current_chart(name, session.namespace)
    if found is None:    # 'kubectl llm list' shows models, not the gateway: name where the gateways are
        raise ReleaseNotFound(f"no release {name!r} in namespace {session.namespace!r}",
                              f"pass the gateway's release name with --name ('helm -n {session.namespace} list' "
                              f"shows the releases), or -n the namespace it is installed in")
    if found[0] != GATEWAY_CHART:
        raise ReleaseConflict(f"release {name!r} belongs to chart {found[0]!r}, not {GATEWAY_CHART!r}",
                              f"a model release is removed with 'kubectl llm rm {name} -n {session.namespace}'"
                              if found[0] == "llm-model" else
                              f"manage it with helm directly: helm -n {session.namespace} status {name}")
    chart_path(GATEWAY_CHART)
    session.helm.uninstall(name, session.namespace, timeout=timeout)
    out.text(f"release {name} removed from namespace {session.namespace}")
    from kubectl_llm.adapters.charts import MODEL_CHART

    routed = sorted(r.name for r in session.helm.list(MODEL_CHART, session.namespace, False))
    if routed:        # their routes stay, attached to a Gateway that is gone
        out.warn(f"{', '.join(routed)} still route{'s' if len(routed) == 1 else ''} through the removed Gateway: "
                 f"{'it answers' if len(routed) == 1 else 'they answer'} no request until 'kubectl llm gateway "
                 f"install -n {session.namespace}' (or remove {'it' if len(routed) == 1 else 'them'} with "
                 f"kubectl llm rm)")
