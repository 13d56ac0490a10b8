"""`gpus`, `version`, `completion`: small commands that need no cluster."""

from __future__ import annotations

import click

from kubectl_llm import __version__
from kubectl_llm.cli import options
from kubectl_llm.cli import output as out


@click.command("gpus", epilog="""\b
Examples:
  kubectl llm gpus
  kubectl llm gpus -o yaml          # entries in the fields a site file's gpus: takes
  kubectl llm gpus -o json
  kubectl llm gpus --cluster           # the cluster's GPU nodes: type, memory, driver, taints, free GPUs
  kubectl llm gpus --cluster -o yaml

The types are the built-in catalog with the site profile's gpus: added (or only those, gpusMode: replace).
--cluster lists the nodes instead (cluster-wide read of nodes and pods); requested = GPUs of pods bound to the
node; a node's TYPE is the site catalog's name for its product label (the site's
nodeLabels.gpuProduct, NVIDIA's nvidia.com/gpu.product by default).
""")
@click.option("--cluster", "cluster", is_flag=True, help="List the cluster's GPU nodes instead of the catalog.")
@options.context
@options.kubeconfig
@options.output("yaml", "json")
@options.site
def gpus_command(cluster: bool, kube_context: str | None, kubeconfig: str | None, output: str | None,
                 site: str | None) -> None:
    """The GPU types the planner knows on this site (name for --gpu, memory, node label, Kubernetes resource), or
    with --cluster the cluster's GPU nodes with allocatable and requested GPUs."""
    from kubectl_llm.cli.planning import load_site

    if cluster:
        from kubectl_llm.cli.gpu_cluster import show_cluster
        from kubectl_llm.cli.session import Session

        show_cluster(Session(None, kube_context, kubeconfig), output, load_site(site).site)
        return

    catalog = load_site(site).site.gpu_catalog
    if output:
        out.data([g.to_entry() for g in catalog], output)
        return
    out.text(out.table(["name", "memory", "product", "resource"],
                       [[g.name, f"{g.memory_bytes / 2**30:.4g} GiB", g.product or "-", g.resource]
                        for g in catalog]))


SITE_ORDER = """A site profile is looked up in this order: --site FILE, $KUBECTL_LLM_SITE, ~/.config/kubectl-llm/site.yaml,
and NRP Nautilus's (shipped in the package). Its schema: kubectl_llm/sites/site.schema.json (unknown keys are
errors). plan, add, upgrade, gpus, gateway install, gateway upgrade, alias and chatbox take --site too."""


@click.group("site", epilog=f"""\b
Examples:
  kubectl llm site show

{SITE_ORDER}
""")
def site_group() -> None:
    """Site profiles: the cluster's storage and priority class, tolerations, GPU labels and types, gateway."""


@site_group.command("show", epilog=f"""\b
Examples:
  kubectl llm site show                         # the profile in effect and where it comes from
  kubectl llm site show -o yaml > my-site.yaml  # a complete site file to edit for another cluster
  kubectl llm site show --site my-site.yaml     # check a site file (unknown keys and bad values are errors)
  KUBECTL_LLM_SITE=my-site.yaml kubectl llm plan Qwen/Qwen3-8B

{SITE_ORDER}
""")
@options.output("yaml", "json")
@options.site
def site_show(output: str | None, site: str | None) -> None:
    """Print the site profile in effect and where it came from (-o yaml|json: the profile alone, a valid site
    file)."""
    from kubectl_llm.cli.planning import load_site

    loaded = load_site(site)
    doc = loaded.site.to_document()
    if output:
        out.data(doc, output)
        return
    s = loaded.site
    affinity = ", ".join(f"{k}={v}" for k, v in doc["nodeLabels"].items() if v) or "-"
    tol = "; ".join(_toleration(t) for t in s.tolerations) or "-"
    large = ("; ".join(_toleration(t) for t in s.large_gpu.tolerations) + " for " +
             " or ".join(str(n) for n in s.large_gpu.gpu_counts) + " GPUs") if s.large_gpu.gpu_counts else "-"
    refs = ", ".join(r["name"] + (f" (namespace {r['namespace']})" if r.get("namespace") else "")
                     for r in s.gateway_parent_refs)
    rows = [
        ("site", f"{s.name}" + (f": {s.description}" if s.description else "")),
        ("from", loaded.origin),
        ("storage class", s.storage_class or "(the cluster's default)"),
        ("priority class", s.priority_class_name or "(none)"),
        ("tolerations", tol),
        ("large GPUs", large),
        ("node labels", affinity),
        ("driver rule", {"image": "driver major above the engine image's minimum", "none": "(none)"}.get(
            str(s.driver_rule), f"driver major above {s.driver_rule}")),
        ("gpus", f"{s.gpus_mode}: " + (", ".join(f"{g.name} ({g.resource})" for g in s.gpus) or "-")
         + f" -> {len(s.gpu_catalog)} types (kubectl llm gpus)"),
        ("gateway", refs + (f", owned_by {s.models_owned_by}" if s.models_owned_by else "")),
        ("service labels", ", ".join(f"{k}={v}" for k, v in s.service_labels) or "(none)"),
        ("cluster domain", s.cluster_domain),
        ("image mirror", s.image_registry or "(none)"),
    ]
    out.text("\n".join(f"{k:<15} {v}" for k, v in rows))


def _toleration(t: dict) -> str:
    value = f"={t['value']}" if t.get("value") else ""
    return f"{t.get('key', '*')}{value}:{t.get('effect', '*')}" + (" (exists)" if t.get("operator") == "Exists" else "")


@click.command("version", epilog="""\b
Examples:
  kubectl llm version
  kubectl llm version -o json     # {"kubectl_llm": "0.1.0", "helm": "v4.1.4"}; helm null when none is found

The helm is $KUBECTL_LLM_HELM, else the one install.sh --with-tools installed, else helm on PATH.
""")
@options.output("yaml", "json")
def version_command(output: str | None) -> None:
    """Print the version of kubectl llm and of the helm it drives."""
    import subprocess

    from kubectl_llm.adapters.helm import helm_path

    helm = helm_path()
    helm_version = None
    if helm:
        proc = subprocess.run([helm, "version", "--template", "{{ .Version }}"], capture_output=True, text=True,
                              timeout=20, check=False)
        helm_version = proc.stdout.strip() or None
    doc = {"kubectl_llm": __version__, "helm": helm_version}
    if output:
        out.data(doc, output)
    else:
        out.text(f"kubectl-llm {__version__}\nhelm {helm_version or 'not found'}")


@click.command("completion", epilog="""\b
Examples:
  source <(kubectl llm completion bash)
  kubectl llm completion zsh > "${fpath[1]}/_kubectl-llm"
  kubectl llm completion fish > ~/.config/fish/completions/kubectl-llm.fish

The script completes the `kubectl-llm` command. `kubectl llm <TAB>` is completed by kubectl itself (>= 1.26),
which runs the `kubectl_complete-llm` executable that install.sh links beside kubectl-llm.
""")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion_command(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL (click's own completion)."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None
    root = ctx.find_root().command
    comp = cls(root, {}, "kubectl-llm", "_KUBECTL_LLM_COMPLETE")
    out.text(comp.source())


# cobra's ShellCompDirective values (kubectl reads them from the last line of the answer)
_NO_FILE_COMP, _FILTER_DIRS = 4, 16


def kubectl_complete() -> None:
    """The `kubectl_complete-llm` console script: kubectl (>= 1.26) completes `kubectl llm ...` by running it from
    PATH as `kubectl_complete-llm __complete ARG... INCOMPLETE` and reading cobra's answer: one candidate a line (a
    tab, then its help unless `__completeNoDesc`), then `:DIRECTIVE`. click's own completion finds the candidates."""
    import sys

    from click.shell_completion import ShellComplete

    from kubectl_llm.cli.main import cli

    args = sys.argv[1:]
    describe = True
    if args[:1] in (["__complete"], ["__completeNoDesc"]):
        describe = args[0] == "__complete"
        args = args[1:]
    incomplete = args[-1] if args else ""
    items = ShellComplete(cli, {}, "kubectl llm", "_KUBECTL_LLM_COMPLETE").get_completions(args[:-1], incomplete)
    directive = _NO_FILE_COMP
    for item in items:
        if item.type in ("file", "dir"):   # the shell completes paths itself
            directive = 0 if item.type == "file" else _FILTER_DIRS
            continue
        help_text = (item.help or "").splitlines()[0] if describe and item.help else ""
        click.echo(f"{item.value}\t{help_text}" if help_text else item.value)
    click.echo(f":{directive}")
