"""`kubectl llm plan`: size a model for the cluster and explain every decision (issue 2, item 10)."""

from __future__ import annotations

from typing import Any

import click

from kubectl_llm.cli import options
from kubectl_llm.cli import output as out
from kubectl_llm.cli.planning import build_request, load_source, make_plan, why_not

EXAMPLES = """\b
Examples:
  kubectl llm plan Qwen/Qwen3-8B                       # the embedded default, works offline
  kubectl llm plan Qwen/Qwen3-8B --gpu L40 -o json     # the JSON contract, for scripts
  kubectl llm plan MiniMaxAI/MiniMax-M2.5 --gpu A100-80GB --context-length 262144
  kubectl llm plan ./my-model-dir --gpu-memory 23.58GiB --max-model-len 32768
  kubectl llm plan meta-llama/Llama-3.1-405B --gpu H100-80GB     # 2 nodes x 8: TP 8 x PP 2
  kubectl llm plan Qwen/Qwen3-30B-A3B --gpu A100-80GB --data-parallel 2   # DP attention + EP vs TP 2
  kubectl llm plan deepseek-ai/DeepSeek-V3 --gpu H100-80GB --data-parallel 32   # 4 nodes: DP 32 x TP 1 + EP
  kubectl llm plan meta-llama/Llama-3.1-405B --gpu H100-80GB --launcher ray   # Ray head + workers, not --nnodes
  kubectl llm plan Qwen/Qwen3-8B --gpu auto            # among the GPU types the cluster has (reads nodes)
  kubectl llm plan Qwen/Qwen3-8B --gpu auto --kubeconfig ~/.kube/other --context east

Exit codes: 0 fits, 5 does not fit (the plan is still printed), 2 bad flags, 3 model not found or its
config.json unusable, 4 cannot plan.
"""


@click.command("plan", epilog=EXAMPLES)
@click.argument("model")
@options.plan_options(cluster=False)
@options.name
@options.plan_context
@click.option("--kubeconfig", default=None, metavar="PATH", type=click.Path(dir_okay=False),
              help="kubeconfig file whose cluster --gpu auto reads (default: $KUBECONFIG, then ~/.kube/config).")
@options.output("text", "yaml", "json", default="text")
def plan_command(model: str, name: str | None, output: str, hf_revision: str | None, plan_context: str | None,
                 kubeconfig: str | None, **plan_opts: Any) -> None:
    """Plan how to serve MODEL (a Hugging Face repo id or a local directory): GPUs, parallelism, KV cache,
    context, engine arguments and Kubernetes sizing, each with its reason. Touches no cluster."""
    if plan_context and plan_context.strip().isdigit():
        if plan_opts.get("context_length") is None:
            plan_opts["context_length"] = int(plan_context)   # the deprecated spelling (warned by the option)
    request = build_request(plan_opts, name, hf_revision)
    source = load_source(model, hf_revision)
    if request.gpu_type == "auto":   # the cluster's GPU types (kubeconfig as kubectl finds it, --context's cluster)
        from kubectl_llm.cli.gpu_cluster import resolve_auto
        from kubectl_llm.cli.session import Session

        kube_context = plan_context if plan_context and not plan_context.strip().isdigit() else None
        request = resolve_auto(source, request, Session(kube_context=kube_context, kubeconfig=kubeconfig))
    plan = make_plan(source, request)
    if output == "text":
        out.text(plan.to_text())
    else:
        out.data(plan.to_dict(), output)
    if not plan.fits:
        raise why_not(model, plan)

