"""`kubectl llm gateway install|upgrade|uninstall`: the shared llm-gateway chart (one Gateway for all models)."""

from __future__ import annotations

from typing import Any

import click

from kubectl_llm.adapters.charts import GATEWAY_CHART, chart_path
from kubectl_llm.cli import options
from kubectl_llm.cli import output as out
from kubectl_llm.cli.overrides import apply_overrides
from kubectl_llm.cli.planning import validate_name
from kubectl_llm.cli.release_cmds import deploy
from kubectl_llm.cli.session import Session
from kubectl_llm.errors import ReleaseConflict, ReleaseNotFound

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
             dry_run: str, wait: bool, timeout: str, output: str | None, verb: str, site: str | None = None) -> None:
    validate_name(name)
    values, _ = apply_overrides(site_values(site), values_files, set_values, set_string_values)
    session = Session(namespace, kube_context, kubeconfig)
    deploy(session, name, GATEWAY_CHART, values, dry_run=dry_run, wait=wait, timeout=timeout, output=output,
           description=f"kubectl llm gateway {verb}", needs_gateway=False)


def site_values(option: str | None) -> dict[str, Any]:
    """The gateway chart's values the site profile decides: the Gateway is named after the site's first gateway
    parentRef, the one llm-model routes attach to (install it in that ref's namespace when it names one)."""
    from kubectl_llm.cli.planning import load_site

    refs = load_site(option).site.gateway_parent_refs
    return {"gateway": {"name": refs[0]["name"]}} if refs else {}


def _install_options(fn: Any) -> Any:
    for dec in reversed([release_name, options.connection, options.site, options.overrides, options.dry_run,
                         options.wait,
                         options.timeout_option("5m", "Helm timeout."), options.output("yaml", "json")]):
        fn = dec(fn)
    return fn


@gateway_group.command("install")
@_install_options
def gateway_install(**kw: Any) -> None:
    """Install the gateway release (idempotent: unchanged when already installed with the same values)."""
    _install(**kw, verb="install")


@gateway_group.command("upgrade")
@_install_options
def gateway_upgrade(**kw: Any) -> None:
    """Upgrade the gateway release to the bundled chart and the given values."""
    _install(**kw, verb="upgrade")


@gateway_group.command("uninstall")
@release_name
@options.connection
@options.timeout_option("5m", "Helm timeout.")
def gateway_uninstall(name: str, namespace: str | None, kube_context: str | None, kubeconfig: str | None,
                      timeout: str) -> None:
    """Remove the gateway release (models stay installed but unreachable through it)."""
    session = Session(namespace, kube_context, kubeconfig)
    found = session.helm.current_chart(name, session.namespace)
    if found is None:
        raise ReleaseNotFound(f"no release {name!r} in namespace {session.namespace!r}")
    if found[0] != GATEWAY_CHART:
        raise ReleaseConflict(f"release {name!r} belongs to chart {found[0]!r}, not {GATEWAY_CHART!r}")
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
