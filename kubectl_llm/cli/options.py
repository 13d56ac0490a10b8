"""Shared click options, written once and spelled like kubectl (-n, -A, --context, --kubeconfig, -o, --dry-run).

Why decorators: every command that talks to a cluster takes the same connection flags, and every command that
plans takes the same plan flags; one definition keeps spelling, help text and defaults identical everywhere.
"""

from __future__ import annotations

from typing import Any, Callable

import re

import click

from kubectl_llm.planner.rules import KV_DTYPES

F = Callable[..., Any]

ENGINES = ("vllm", "sglang")


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(fn: F) -> F:
        for dec in reversed(decorators):
            fn = dec(fn)
        return fn

    return apply


_NS_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _check_namespace(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A namespace is a DNS-1123 label of at most 63 characters (kubectl would only fail at the API server)."""
    from kubectl_llm.errors import UsageError

    if value is not None and (len(value) > 63 or not _NS_RE.match(value)):
        fixed = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")[:63].strip("-")
        raise UsageError(f"namespace {value!r} is not a DNS-1123 label (lower-case letters, digits and '-', "
                         f"starting and ending with a letter or digit, at most 63 characters)",
                         f"try -n {fixed}" if fixed else "'kubectl get namespaces' lists them")
    return value


def _check_context(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--context is the kubeconfig context on every command; a number was meant as the token count."""
    from kubectl_llm.errors import UsageError

    if value is not None and value.strip().isdigit():
        raise UsageError(f"--context {value} names a kubeconfig context, and {value} looks like a token count",
                         f"use --context-length {value} (or --max-model-len {value}) for the context in tokens")
    return value


namespace = click.option("-n", "--namespace", default=None, metavar="NS", callback=_check_namespace,
                         help="Namespace (default: the kubeconfig context's namespace, like kubectl).")
all_namespaces = click.option("-A", "--all-namespaces", is_flag=True, help="Across all namespaces.")
context = click.option("--context", "kube_context", default=None, metavar="CTX", callback=_check_context,
                       help="kubeconfig context to use (default: the current context).")
kubeconfig = click.option("--kubeconfig", default=None, metavar="PATH", type=click.Path(dir_okay=False),
                          help="Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")
connection = _stack(namespace, context, kubeconfig)


def output(*choices: str, default: str | None = None) -> Callable[[F], F]:
    return click.option("-o", "--output", "output", type=click.Choice(choices), default=default,
                        help=f"Output format: {' | '.join(choices)}" + (f" (default {default})." if default else
                                                                          " (default: human-readable)."))


dry_run = click.option(
    "--dry-run", type=click.Choice(["none", "client", "server"]), default="none", show_default=True,
    help="client: render with `helm template` (a model is planned first), no cluster needed; server: Helm's "
         "server-side dry run (the API server validates, nothing is persisted).")
wait = click.option("--wait/--no-wait", default=False, show_default=True,
                    help="Wait until the release is ready (a model: until it serves, live progress on stderr); on "
                         "timeout or failure the release is rolled back.")
_DURATION_RE = re.compile(r"^(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+)$")


def _check_duration(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--timeout is handed to helm as a Go duration: check it here (helm would fail only after the plan, and the
    --wait deadline would silently fall back to 30 minutes)."""
    from kubectl_llm.errors import UsageError

    if value is not None and not _DURATION_RE.match(value.strip()):
        raise UsageError(f"--timeout {value!r} is not a duration", "write it like 90s, 30m, 1h or 1h30m")
    return value.strip() if value is not None else None


def timeout_option(default: str, help: str = "Helm timeout.") -> Callable[[F], F]:
    return click.option("--timeout", default=default, show_default=True, metavar="DURATION", help=help,
                        callback=_check_duration)


timeout = timeout_option("30m", "How long Helm may take (Go duration: 90s, 30m, 1h). Weights can take long to "
                                "download.")
values_files = click.option("-f", "--values", "values_files", multiple=True, metavar="FILE",
                            type=click.Path(exists=True, dir_okay=False),
                            help="YAML file with chart values (over the plan's, for a model; repeatable; later "
                                 "wins).")
set_values = click.option("--set", "set_values", multiple=True, metavar="KEY=VAL",
                          help="Override one chart value, Helm syntax: a.b=1,c[0]=x (repeatable; after -f).")
set_string_values = click.option("--set-string", "set_string_values", multiple=True, metavar="KEY=VAL",
                                 help="Like --set but the value always stays a string.")
overrides = _stack(values_files, set_values, set_string_values)

name = click.option("--name", default=None, metavar="NAME",
                    help="Release and route name (DNS-1123 label, at most 53 characters; default derived from "
                         "the model id).")
revision = click.option("--revision", "hf_revision", default=None, metavar="REV",
                        help="Hugging Face branch, tag or commit of the model.")
site = click.option("--site", "site", default=None, metavar="FILE", type=click.Path(dir_okay=False),
                    help="Site profile (YAML) of the cluster: storage/priority class, tolerations, GPU types, "
                         "gateway (default: $KUBECTL_LLM_SITE, ~/.config/kubectl-llm/site.yaml, else NRP's; "
                         "'kubectl llm site show').")



def plan_options(*, cluster: bool) -> Callable[[F], F]:
    """The plan flags of issue 2, spelled the same on plan, add and upgrade: the token context is
    ``--context-length`` (``--context`` is kubectl's context on every command; `plan` still reads a numeric
    ``--context N`` as the token count, with a deprecation warning, see ``plan_context``)."""
    ctx_names = ("--context-length", "--ctx")
    return _stack(
        click.option("--gpu", "gpu", default=None, metavar="TYPE",
                     help="GPU type from 'kubectl llm gpus' (default: try the catalog's types); auto: among the types "
                          "the cluster's nodes have, preferring one with the GPUs free on one node."),
        click.option("--gpu-memory", default=None, metavar="SIZE",
                     help="Memory of a GPU not in the catalog as CUDA reports it (nvidia-smi's total less ~0.6 GiB; "
                          "an A100-80GB's is 79.25GiB, 'kubectl llm gpus' lists the catalog's): 79.25GiB, 80Gi or "
                          "85GB."),
        click.option("--gpus", type=click.IntRange(min=1), default=None, metavar="N", help="Force the GPU count."),
        click.option("--tp", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Force tensor parallel size."),
        click.option("--pp", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Force pipeline parallel size."),
        click.option("--dcp", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Force decode-context-parallel size."),
        click.option(*ctx_names, "context_length", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Target context in tokens; above the model's native context it adds the RoPE override."),
        click.option("--max-model-len", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Cap the context without RoPE scaling (<= native)."),
        click.option("--max-num-seqs", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Concurrent sequences per engine, per DP rank with --data-parallel (vLLM --max-num-seqs; "
                          "SGLang --max-running-requests, which is N x the DP ranks)."),
        click.option("--max-num-batched-tokens", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Tokens per engine step (vLLM --max-num-batched-tokens, SGLang --chunked-prefill-size; "
                          "default: vLLM's for the card; sizes the profile run)."),
        click.option("--gpu-memory-utilization", type=click.FloatRange(0.1, 0.99), default=None, metavar="F",
                     help="Fraction of each GPU the engine may use, 0.1-0.99 (vLLM --gpu-memory-utilization; SGLang "
                          "--mem-fraction-static is F less the planned activation overhead; without F it never exceeds "
                          "SGLang's own default for the card)."),
        click.option("--mem-fraction-static", type=click.FloatRange(0.1, 0.99), default=None, metavar="F",
                     help="SGLang only: its --mem-fraction-static as given (weights + KV pool share of each GPU); the "
                          "plan sizes the pool SGLang will make of it (instead of --gpu-memory-utilization)."),
        click.option("--kv-cache-dtype", type=click.Choice(KV_DTYPES), default=None,
                     help="KV cache dtype (default auto)."),
        click.option("--engine", type=click.Choice(ENGINES), default=None,
                     help="Inference engine (default vllm)."),
        click.option("--nodes", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Force the node count (default: one node when the model fits, else the fewest whole "
                          "nodes: TP within a node, PP across nodes, one LeaderWorkerSet pod per node)."),
        click.option("--replicas", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Copies behind the same Service and route, each planned alike (default 1). On "
                          "ReadWriteOnce storage each copy gets its own weights claim (a StatefulSet); on a "
                          "ReadWriteMany class (storage.accessMode, or the site's sharedStorageClass) the copies "
                          "share one (a Deployment)."),
        click.option("--data-parallel", "data_parallel", type=click.IntRange(min=1), default=None, metavar="N",
                     help="MoE: N DP attention ranks + expert parallel (vLLM --data-parallel-size with "
                          "--enable-expert-parallel; SGLang --enable-dp-attention)."),
        click.option("--engine-arg", "engine_args", multiple=True, metavar="ARG",
                     help="One more engine argument, one argv token, after the planned ones (repeatable; stored "
                          "like every plan flag): --engine-arg=--chat-template=/path/t.jinja. A flag the plan also "
                          "sets is replaced (e.g. --tool-call-parser); one it sizes (--max-model-len, TP, memory "
                          "share, ...) is refused with the flag that sets it."),
        click.option("--launcher", type=click.Choice(("native", "ray")), default=None,
                     help="How a vLLM model spanning nodes starts: native (vllm serve --nnodes/--headless, the "
                          "default where the pinned vLLM has it) or ray (Ray head on the leader, workers join it)."),
        revision,
        site,
    )


def _plan_context(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from kubectl_llm.cli import output

    if value is not None and value.strip().isdigit():
        output.warn(f"--context {value} as the token count is deprecated: use --context-length {value} "
                    f"(--context is the kubeconfig context on every command)")
    return value


# `plan` touches no cluster, except `--gpu auto`, which reads the nodes of --context's cluster; a number is the old
# spelling of --context-length (kept working, with a warning).
plan_context = click.option("--context", "plan_context", default=None, metavar="CTX", callback=_plan_context,
                            help="kubeconfig context whose nodes --gpu auto reads (otherwise plan needs no "
                                 "cluster); a number is read as --context-length (deprecated).")
