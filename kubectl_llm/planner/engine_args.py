"""Engine arguments the admin adds by hand (`--engine-arg`), checked against what the plan decides. Pure.

Why: the planner writes the whole engine command line (``engine.args`` is planner-owned: ``--set engine.args`` is
refused), but an admin sometimes needs a flag the plan does not know: the chat template a tool parser needs
(vLLM's tool-calling docs run ``deepseek_v3`` with ``--chat-template examples/tool_chat_template_deepseekv3.jinja``),
a speculative-decoding config, ``--limit-mm-per-prompt``, or a parser the plan got wrong. Each ``--engine-arg`` is
one argv token, passed verbatim after the planned arguments (``--engine-arg=--chat-template=/path``, or a flag and
its value as two ``--engine-arg``).

The rules:
- a flag that sizes the plan or wires the pod (parallelism, context, memory share, batch limits, KV dtype, model,
  port, the multi-node launch) is refused with the kubectl llm flag that sets it: the plan's numbers would be
  false otherwise;
- any other flag the plan also emits (a parser, ``--enable-prefix-caching`` / ``--no-enable-prefix-caching``, ...)
  replaces the planned one, and the reasons say so;
- the plan does not size what the added flags change in memory (a draft model, LoRA adapters, CUDA graph sizes):
  a warning says so on every plan that has them.

Flag spellings are compared the way the engines' argument parsers read them: ``--flag=value`` and ``--flag value``,
``_`` for ``-`` (vLLM's FlexibleArgumentParser), a ``--no-`` negation (argparse's BooleanOptionalAction), and the
engines' aliases (vLLM ``-tp``, SGLang ``--tp``).
"""

from __future__ import annotations

from collections.abc import Sequence

from kubectl_llm.errors import UsageError

# Flags the plan decides, by canonical name -> how to set it with kubectl llm instead. Aliases of both engines
# (vLLM: vllm/engine/arg_utils.py; SGLang: sglang/srt/server_args.py) map to one canonical name in ALIASES.
OWNED: dict[str, str] = {
    "--tensor-parallel-size": "--tp",
    "--pipeline-parallel-size": "--pp",
    "--decode-context-parallel-size": "--dcp",
    "--data-parallel-size": "--data-parallel",
    "--data-parallel-size-local": "--data-parallel / --nodes",
    "--data-parallel-address": "--nodes (the LeaderWorkerSet leader)",
    "--data-parallel-rpc-port": "--nodes (the LeaderWorkerSet leader)",
    "--data-parallel-start-rank": "--nodes (the LeaderWorkerSet leader)",
    "--data-parallel-backend": "--launcher",
    "--enable-dp-attention": "--data-parallel",
    "--enable-expert-parallel": "--data-parallel (the plan turns expert parallel on where it holds the experts)",
    "--ep-size": "--data-parallel (the plan sets the expert parallel size)",
    "--max-model-len": "--context-length or --max-model-len",
    "--hf-overrides": "--context-length (the plan writes the RoPE override)",
    "--json-model-override-args": "--context-length (the plan writes the RoPE override)",
    "--gpu-memory-utilization": "--gpu-memory-utilization",
    "--mem-fraction-static": "--mem-fraction-static",
    "--max-num-seqs": "--max-num-seqs",
    "--max-num-batched-tokens": "--max-num-batched-tokens",
    "--kv-cache-dtype": "--kv-cache-dtype",
    "--model": "the MODEL argument",
    "--served-model-name": "--name (the route) or the chart value servedName",
    "--revision": "--revision",
    "--tokenizer-revision": "--revision",
    "--code-revision": "--revision",
    "--port": "nothing: the chart's Service and probes use the planned port",
    "--host": "nothing: the engine must listen on every address of the pod",
    "--download-dir": "nothing: the weights are downloaded to the weights claim",
    "--nnodes": "--nodes",
    "--node-rank": "--nodes (the LeaderWorkerSet worker index)",
    "--master-addr": "--nodes (the LeaderWorkerSet leader)",
    "--dist-init-addr": "--nodes (the LeaderWorkerSet leader)",
    "--headless": "--nodes (the workers of a LeaderWorkerSet)",
    "--distributed-executor-backend": "--launcher",
}
ALIASES: dict[str, str] = {
    "--tp": "--tensor-parallel-size", "--tp-size": "--tensor-parallel-size",
    "--pp": "--pipeline-parallel-size", "--pp-size": "--pipeline-parallel-size",
    "--dcp": "--decode-context-parallel-size",
    "--dp": "--data-parallel-size", "--dp-size": "--data-parallel-size",
    "--dpl": "--data-parallel-size-local", "--dpa": "--data-parallel-address", "--dpp": "--data-parallel-rpc-port",
    "--dpb": "--data-parallel-backend",
    "--ep": "--ep-size", "--expert-parallel-size": "--ep-size",
    "--context-length": "--max-model-len",
    "--max-running-requests": "--max-num-seqs",
    "--chunked-prefill-size": "--max-num-batched-tokens",
    "--model-path": "--model",
}


def flag_key(token: str) -> str | None:
    """The canonical name of the flag a token sets (None: not a flag, e.g. a value)."""
    if not token.startswith("-") or token in ("-", "--") or token[1:2].isdigit():
        return None
    name = "--" + token.split("=", 1)[0].lstrip("-").replace("_", "-")
    if name.startswith("--no-"):
        name = "--" + name[len("--no-"):]
    return ALIASES.get(name, name)


def _drop(args: list[str], key: str) -> list[str]:
    """``args`` without the flag ``key`` (canonical) and its value, however often it occurs."""
    out: list[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        if flag_key(tok) == key:
            i += 1
            if "=" not in tok and i < len(args) and flag_key(args[i]) is None:
                i += 1                                   # its value
            continue
        out.append(tok)
        i += 1
    return out


def apply_engine_args(planned: Sequence[str], extra: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """(args, reasons, warnings): the planned arguments with the admin's ``extra`` tokens after them; a planned flag
    the admin gives again is replaced. Raises UsageError for a flag the plan decides (OWNED)."""
    if not extra:
        return list(planned), [], []
    if flag_key(extra[0]) is None:
        raise UsageError(f"--engine-arg {extra[0]!r} is a value with no flag before it",
                         "give the flag first: --engine-arg=--chat-template=/path/t.jinja, or --engine-arg "
                         "--chat-template --engine-arg /path/t.jinja")
    given = [k for k in (flag_key(t) for t in extra) if k]
    for tok in extra:
        key = flag_key(tok)
        if key in OWNED:
            typed = tok.split("=", 1)[0]
            raise UsageError(f"--engine-arg {typed}: the plan decides {key}" if typed != key else
                             f"--engine-arg {key}: the plan decides this flag",
                             f"set it with {OWNED[key]}" if OWNED[key].startswith(("--", "the ")) else
                             f"it cannot be changed: {OWNED[key].removeprefix('nothing: ')}")
    planned_keys = {k for k in (flag_key(t) for t in planned) if k}
    replaced = sorted(set(given) & planned_keys)
    args = list(planned)
    for key in replaced:
        args = _drop(args, key)
    args += list(extra)
    reasons = [f"engine arguments added by --engine-arg: {' '.join(extra)}"
               + (f" (replacing the planned {', '.join(replaced)})" if replaced else "")]
    warnings = [f"--engine-arg {' '.join(extra)}: passed to the engine as given; the plan checked that they change "
                f"no flag it sizes, not what they cost in memory (a draft model, LoRA adapters, CUDA graph sizes): "
                f"leave room with --gpu-memory-utilization where they need it"]
    return args, reasons, warnings
