"""`gpus`, `version`, `completion`: small commands that need no cluster."""

from __future__ import annotations

import os

import click

from kubectl_llm import __version__
from kubectl_llm.cli import options
from kubectl_llm.cli import output as out


@click.command("gpus", epilog="""\b
Examples:
  kubectl llm gpus
  kubectl llm gpus -o json
  kubectl llm gpus --cluster           # the cluster's GPU nodes: type, memory, driver, taints, free GPUs
  kubectl llm gpus --cluster -o yaml

--cluster lists nodes (cluster-wide read of nodes and pods); requested = GPUs of pods bound to the node.
""")
@click.option("--cluster", "cluster", is_flag=True, help="List the cluster's GPU nodes instead of the catalog.")
@options.context
@options.kubeconfig
@options.output("yaml", "json")
def gpus_command(cluster: bool, kube_context: str | None, kubeconfig: str | None, output: str | None) -> None:
    """The GPU types the planner knows (name for --gpu, memory, node label, Kubernetes resource), or with
    --cluster the cluster's GPU nodes with allocatable and requested GPUs."""
    if cluster:
        from kubectl_llm.cli.gpu_cluster import show_cluster
        from kubectl_llm.cli.session import Session

        show_cluster(Session(None, kube_context, kubeconfig), output)
        return
    from kubectl_llm.planner.gpus import load_gpu_catalog

    rows = [{"name": g.name, "memory_bytes": g.memory_bytes, "memory_gib": round(g.memory_bytes / 2**30, 2),
             "product": g.product, "resource": g.resource} for g in load_gpu_catalog()]
    if output:
        out.data(rows, output)
        return
    out.text(out.table(["name", "memory", "product", "resource"],
                       [[r["name"], f"{r['memory_gib']:g} GiB", r["product"] or "-", r["resource"]] for r in rows]))


@click.command("version")
@options.output("yaml", "json")
def version_command(output: str | None) -> None:
    """Print the version of kubectl llm and of the helm it drives."""
    import shutil
    import subprocess

    helm = shutil.which(os.environ.get("KUBECTL_LLM_HELM", "helm"))
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

The script completes the `kubectl-llm` command (kubectl >= 1.26 also completes `kubectl llm` through it).
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
