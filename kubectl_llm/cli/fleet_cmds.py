"""The fleet from the CLI: `add --external`, `alias`, `chatbox`, and the alias warnings of `rm`.

Why here and not in release_cmds: an external backend and an alias are releases of the same llm-model chart (modes
`external` and `alias`), installed through the same `deploy` path, but they are not planned: their values come from
`kubectl_llm.fleet` (pure). This module only wires flags, Helm reads and that module.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from kubectl_llm import fleet
from kubectl_llm.adapters.charts import MODEL_CHART
from kubectl_llm.cli import options
from kubectl_llm.cli import output as out
from kubectl_llm.cli.session import Session
from kubectl_llm.errors import UsageError

EXTERNAL_KEYS = ("external", "served_name", "api_key_secret", "insecure", "owned_by")
PLAN_FLAG_DEFAULTS = {"kv_cache_dtype": "auto", "engine": "vllm"}


def external_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The `add --external` flags (they land in add's **plan_opts and are popped by pop_external)."""
    for opt in reversed((
        click.option("--external", default=None, metavar="URL",
                     help="Route to an OpenAI-compatible API elsewhere (https://host[:port][/v1]) instead of "
                          "planning a model: Backend + AIServiceBackend (+ BackendSecurityPolicy) + route, no "
                          "workload."),
        click.option("--served-name", default=None, metavar="MODEL",
                     help="With --external: the model name that backend serves (sent upstream)."),
        click.option("--api-key-secret", default=None, metavar="NAME",
                     help="With --external: existing Secret whose key apiKey (the only key the AI Gateway reads) "
                          "the gateway sends upstream as a Bearer token (the key never enters values or "
                          "manifests)."),
        click.option("--insecure", is_flag=True,
                     help="With --external: allow plain http:// to a public host."),
        click.option("--owned-by", default=None, metavar="ORG",
                     help="With --external: owned_by in the gateway's /v1/models (e.g. SDSC)."),
    )):
        fn = opt(fn)
    return fn


def pop_external(plan_opts: dict[str, Any]) -> dict[str, Any]:
    return {k: plan_opts.pop(k, None) for k in EXTERNAL_KEYS}


def namespace_releases(session: Session) -> dict[str, dict[str, Any]]:
    """The namespace's llm-model releases -> their user-supplied values (Helm is the inventory)."""
    return {r.name: r.values or {} for r in session.helm.list(MODEL_CHART, session.namespace, False)}


def add_external(model: str | None, name: str | None, ext: dict[str, Any], plan_opts: dict[str, Any],
                 session: Session, *, hf_revision: str | None, values_files: tuple[str, ...],
                 set_values: tuple[str, ...], set_string_values: tuple[str, ...], dry_run: str, wait: bool,
                 timeout: str, output: str | None) -> None:
    """`kubectl llm add --external URL --served-name MODEL --name ROUTE`: gateway objects only."""
    from kubectl_llm.cli.overrides import apply_overrides
    from kubectl_llm.cli.planning import validate_name
    from kubectl_llm.cli.release_cmds import deploy

    site_option = plan_opts.pop("site", None)
    from kubectl_llm.cli.userlayer import FLAG_NAMES

    given = sorted(k for k, v in plan_opts.items() if v not in (None, False, (), PLAN_FLAG_DEFAULTS.get(k)))
    if given or hf_revision:
        flags = ", ".join("--" + FLAG_NAMES.get(k, k.replace("_", "-"))
                          for k in given + (["hf_revision"] if hf_revision else []))
        raise UsageError(f"{flags} plan{'s' if len(given) == 1 else ''} a model; --external serves none here",
                         "drop the plan flags: the backend at the URL decides its own GPUs and context")
    served = ext["served_name"] or model
    if ext["served_name"] and model and model != ext["served_name"]:
        raise UsageError(f"MODEL {model!r} and --served-name {ext['served_name']!r} differ",
                         "with --external give the upstream model name once (--served-name)")
    if not served:
        raise UsageError("--external needs --served-name MODEL (the model name the backend serves)",
                         "e.g. kubectl llm add --external https://llm.example.org/v1 --served-name "
                         "Qwen/Qwen3-8B --name qwen3-remote")
    if not name:
        raise UsageError("--external needs --name ROUTE (the model name clients will send)",
                         "e.g. --name qwen3-nairr")
    validate_name(name)
    from kubectl_llm.cli.planning import load_site

    endpoint = fleet.parse_endpoint(ext["external"], insecure=bool(ext["insecure"]),
                                    cluster_domain=load_site(site_option).site.cluster_domain)
    secret = fleet.parse_secret_ref(ext["api_key_secret"])[0] if ext["api_key_secret"] else None
    if not endpoint.tls and endpoint.public:
        out.warn(f"plain http to the public host {endpoint.host} (--insecure)")
    if endpoint.public and not secret:
        out.warn(f"no --api-key-secret: requests to {endpoint.host} carry no API key")
    base = fleet.external_values(endpoint, served, secret, ext["owned_by"])
    values, _ = apply_overrides(site_gateway(base, site_option), values_files, set_values, set_string_values)
    if secret and dry_run != "client":
        _check_api_key_secret(session, secret)
    from kubectl_llm.cli.release_cmds import same_kind

    deploy(session, name, MODEL_CHART, values, dry_run=dry_run, wait=wait, timeout=timeout, output=output,
           description=f"kubectl llm add --external {ext['external']}", needs_gateway=True,
           check_current=same_kind(name, fleet.MODE_EXTERNAL, session))


def site_gateway(values: dict[str, Any], site_option: str | None) -> dict[str, Any]:
    """The site profile's gateway (parentRefs, owned_by) in a release's values, as the planner writes it for models:
    an external backend or an alias attaches to the same Gateway as the site's models."""
    from kubectl_llm.cli.planning import load_site

    site = load_site(site_option).site
    gateway = dict(values.get("gateway") or {})
    gateway.setdefault("parentRefs", [dict(r) for r in site.gateway_parent_refs])
    if site.models_owned_by:
        gateway.setdefault("modelsOwnedBy", site.models_owned_by)
    return {**values, "gateway": gateway}


def _check_api_key_secret(session: Session, secret: str) -> None:
    from kubectl_llm.adapters.inventory import secret_keys

    keys = secret_keys(session.cluster, secret, session.namespace)
    ns = session.namespace
    create = f"kubectl create secret generic {secret} -n {ns} --from-literal={fleet.APIKEY_SECRET_KEY}=<API key>"
    if keys is None:
        return  # not readable with these rights: the gateway controller will say
    if keys is False:
        out.warn(f"Secret {secret!r} does not exist in namespace {ns}: the gateway sends no key (401 upstream) "
                 f"until it does: {create}")
    elif fleet.APIKEY_SECRET_KEY not in keys:
        out.warn(f"Secret {secret!r} has no key {fleet.APIKEY_SECRET_KEY!r} (it has: {', '.join(sorted(keys)) or '-'})"
                 f": the AI Gateway reads only that key: {create}")


@click.command("alias", epilog="""\b
Examples:
  kubectl llm alias qwen3 --to qwen3-8b,qwen3-nairr                   # round-robin, equal weights
  kubectl llm alias qwen3-mostly-here --to qwen3-8b,qwen3-nairr --weights 3,1   # 3 of 4 requests to qwen3-8b
  kubectl llm alias qwen3-failover --to qwen3-8b,qwen3-nairr --fallback
  kubectl llm alias qwen3-next --to qwen3-8b --dry-run=client -o yaml

An alias is a release with only an AIGatewayRoute: clients send "model": NAME and the gateway picks one of the
targets (releases added with `add` or `add --external` in the same namespace) and rewrites the model name to what
that target serves. --fallback sets priorities in the given order: the next target only gets traffic when the
one before fails (the chart adds the retry BackendTrafficPolicy that makes Envoy fail over).
""")
@click.argument("name")
@click.option("--to", "targets", required=True, metavar="A,B[,C]", help="Releases to route to (comma-separated).")
@click.option("--weights", default=None, metavar="W1,W2", help="Round-robin weights, one per target (default 1).")
@click.option("--fallback", is_flag=True, help="Priority order instead of round-robin: first target, then next.")
@click.option("--allow-missing", is_flag=True, help="Accept targets that do not exist (yet).")
@options.connection
@options.overrides
@options.site
@options.dry_run
@options.timeout_option("5m", "Helm timeout.")
@options.output("yaml", "json")
def alias_command(name: str, targets: str, weights: str | None, fallback: bool, allow_missing: bool,
                  namespace: str | None, kube_context: str | None, kubeconfig: str | None,
                  values_files: tuple[str, ...], set_values: tuple[str, ...], set_string_values: tuple[str, ...],
                  site: str | None, dry_run: str, timeout: str, output: str | None) -> None:
    """Route the model name NAME to other releases: round-robin by weight, or priority fallback."""
    from kubectl_llm.cli.overrides import apply_overrides
    from kubectl_llm.cli.planning import validate_name
    from kubectl_llm.cli.release_cmds import deploy

    validate_name(name, flag="")
    to = [t.strip() for t in targets.split(",")]
    for t in to:
        if t:
            validate_name(t, flag="")
    weight_list = fleet.parse_int_list(weights, "--weights") if weights is not None else None
    session = Session(namespace, kube_context, kubeconfig)
    if dry_run == "client":
        releases: dict[str, dict[str, Any]] = {}
        allow_missing = True
        out.warn("--dry-run=client: the targets are not checked against the cluster")
    else:
        releases = namespace_releases(session)
        if name in releases and fleet.release_kind(releases[name]) != fleet.MODE_ALIAS:
            raise UsageError(f"{name!r} is a {fleet.release_kind(releases[name])} release, not an alias",
                             "pick another alias name, or 'kubectl llm rm' that release first")
    base, warnings = fleet.alias_values(name, to, releases, weights=weight_list, fallback=fallback,
                                        allow_missing=allow_missing)
    for w in warnings if dry_run != "client" else []:
        out.warn(w)
    values, _ = apply_overrides(site_gateway(base, site), values_files, set_values, set_string_values)
    deploy(session, name, MODEL_CHART, values, dry_run=dry_run, wait=False, timeout=timeout, output=output,
           description=f"kubectl llm alias {name} --to {','.join(to)}", needs_gateway=True)


def warn_aliases(session: Session, name: str) -> list[str]:
    """Before `rm NAME`: the aliases that route to NAME (warned by name; they answer errors once it is gone)."""
    aliases = fleet.aliases_pointing_at(name, namespace_releases(session))
    if aliases:
        out.warn(f"alias{'es' if len(aliases) > 1 else ''} {', '.join(aliases)} route{'' if len(aliases) > 1 else 's'}"
                 f" to {name}: requests sent to {'them' if len(aliases) > 1 else 'it'} that pick {name} fail until "
                 f"you re-point {'them' if len(aliases) > 1 else 'it'} (kubectl llm alias {aliases[0]} --to ...) "
                 f"or remove {'them' if len(aliases) > 1 else 'it'}")
    return aliases


def _multimodal(model_id: str) -> bool | None:
    """Whether the model takes images, from its config.json (embedded catalog, HF cache or Hub); None if unknown."""
    from kubectl_llm.adapters.hub import load_model
    from kubectl_llm.errors import LlmError
    from kubectl_llm.planner.facts import from_config

    try:
        source = load_model(model_id, warn=lambda _msg: None)
        return from_config(source.config, model_id).multimodal
    except (LlmError, OSError, ValueError):
        return None


def _gateway_host(session: Session, releases: dict[str, dict[str, Any]], site: str | None = None) -> str | None:
    """The gateway's base URL: a release's gateway.url, else the address of the Gateway the routes attach to (with
    no route in the namespace: the Gateways of the site profile in effect, --site FILE first)."""
    for values in releases.values():
        url = fleet.get_path(values, "gateway.url")
        if url:
            return str(url)
    def key(r: dict[str, Any]) -> tuple[str, str, str]:
        return str(r.get("name")), str(r.get("namespace") or session.namespace), str(r.get("sectionName") or "")

    refs = {key(r) for v in releases.values() for r in (fleet.get_path(v, "gateway.parentRefs") or [])}
    if not refs:
        from kubectl_llm.cli.planning import load_site

        refs = {key(r) for r in load_site(site).site.gateway_parent_refs}
    for name, ns, section in sorted(refs):
        url = session.cluster.gateway(name, ns, section or None).url
        if url:
            return url
    return None


@click.command("chatbox", epilog="""\b
Examples:
  kubectl llm chatbox -n nrp-llm --api-host https://ellm.nrp-nautilus.io    # the provider JSON to import
  kubectl llm chatbox -n nrp-llm --api-host https://ellm.nrp-nautilus.io -o link   # chatbox://provider/import?...
  kubectl llm chatbox -n nrp-llm --api-host https://ellm.nrp-nautilus.io --id nrp-llm --name NRP

Chatbox (>= 1.15.1): Settings -> Model Provider -> Import from clipboard, or open the link. One model per route in
the namespace (models, external backends, aliases): modelId = the route name, contextWindow = the served
max-model-len, capabilities from the plan (tool_use: a tool-call parser, reasoning: a reasoning parser, vision: a
multimodal model). The API key is left empty: each user pastes their own. Re-importing with the same --id replaces
the provider and its model list.
""")
@click.option("--api-host", default=None, metavar="URL",
              help="Base URL users reach the gateway at (default: gateway.url of a release, else the Gateway's "
                   "address).")
@click.option("--id", "provider_id", default=None, metavar="ID",
              help="Provider id; the same id re-imports over the old one (default: kubectl-llm-<namespace>).")
@click.option("--name", "provider_name", default=None, metavar="NAME",
              help="Provider name shown in Chatbox (default: the namespace).")
@options.connection
@options.site
@options.output("json", "yaml", "link", default="json")
def chatbox_command(api_host: str | None, provider_id: str | None, provider_name: str | None,
                    namespace: str | None, kube_context: str | None, kubeconfig: str | None, site: str | None,
                    output: str) -> None:
    """Print the Chatbox provider config of the namespace's models, generated from the releases."""
    if api_host is not None and not api_host.startswith(("http://", "https://")):
        raise UsageError(f"--api-host {api_host!r} is not an http(s) URL",
                         "the URL users reach the gateway at, with its scheme: e.g. --api-host https://llm.example.org")
    if api_host is not None and ("@" in api_host.split("/")[2] or "?" in api_host or "#" in api_host):
        # the config is handed to every user (and its link is a URL of its own): no credentials ride in it
        raise UsageError("--api-host carries credentials, a query or a fragment (not shown): the config is shared "
                         "with every user", "give the bare base URL (https://host[:port]); each user pastes their "
                         "own API key into Chatbox")
    if site:    # checked even when the namespace's routes name the Gateway: a file given is a file read
        from kubectl_llm.cli.planning import load_site

        load_site(site)
    session = Session(namespace, kube_context, kubeconfig)
    ns = session.namespace
    releases = namespace_releases(session)
    host = api_host or _gateway_host(session, releases, site)
    if not host:
        raise UsageError(f"no gateway address known for namespace {ns}",
                         "pass --api-host https://<the URL users reach the gateway at>")
    if not releases:
        out.warn(f"no models in namespace {ns}: the provider has an empty model list")
    multimodal = {name: mm for name, values in releases.items()
                  if fleet.release_kind(values) == fleet.MODE_MODEL and fleet.get_path(values, "model.id")
                  for mm in [_multimodal(str(fleet.get_path(values, "model.id")))] if mm is not None}
    config = fleet.chatbox_config(releases, api_host=host.rstrip("/"), provider_id=provider_id or f"kubectl-llm-{ns}",
                                  provider_name=provider_name or ns, multimodal=multimodal)
    if output == "link":
        out.text(fleet.chatbox_link(config))
    else:
        out.data(config, output)
