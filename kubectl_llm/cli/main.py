"""The `kubectl-llm` console script: wires the command groups, nothing else.

kubectl runs any `kubectl-llm` on PATH as `kubectl llm`; usage text then says `kubectl llm ...`.
"""

from __future__ import annotations

import gc
import os
import sys

import click

from kubectl_llm import __version__
from kubectl_llm.cli.errors import LlmGroup

# command name -> "module:attribute". Modules are imported only when their command runs (or for --help /
# completion), so `kubectl llm plan` never loads the helm adapter, asyncio or the kubernetes client.
COMMANDS: dict[str, str] = {
    "plan": "kubectl_llm.cli.plan_cmd:plan_command",
    "add": "kubectl_llm.cli.release_cmds:add_command",
    "upgrade": "kubectl_llm.cli.release_cmds:upgrade_command",
    "rm": "kubectl_llm.cli.release_cmds:rm_command",
    "rollback": "kubectl_llm.cli.release_cmds:rollback_command",
    "list": "kubectl_llm.cli.inspect_cmds:list_command",
    "status": "kubectl_llm.cli.inspect_cmds:status_command",
    "logs": "kubectl_llm.cli.inspect_cmds:logs_command",
    "gateway": "kubectl_llm.cli.gateway_cmd:gateway_group",
    "gpus": "kubectl_llm.cli.misc_cmds:gpus_command",
    "site": "kubectl_llm.cli.misc_cmds:site_group",
    "version": "kubectl_llm.cli.misc_cmds:version_command",
    "completion": "kubectl_llm.cli.misc_cmds:completion_command",
    "alias": "kubectl_llm.cli.fleet_cmds:alias_command",
    "chatbox": "kubectl_llm.cli.fleet_cmds:chatbox_command",
    "test": "kubectl_llm.cli.test_cmd:test_command",
    "export": "kubectl_llm.cli.sync_cmd:export_command",
    "sync": "kubectl_llm.cli.sync_cmd:sync_command",
}

EPILOG = """\b
Examples:
  kubectl llm plan Qwen/Qwen3-8B                  # how it would run (offline, no cluster)
  kubectl llm gateway install -n nrp-llm          # once per namespace: the Gateway the models' routes attach to
  kubectl llm add Qwen/Qwen3-8B -n nrp-llm --wait # install it as one Helm release
  kubectl llm list                                # what is installed
  kubectl llm status qwen3-8b                     # how far it got
  kubectl llm rm qwen3-8b                         # remove all of it

Errors print one `error:` line and a `hint:`; --debug (or KUBECTL_LLM_DEBUG=1) adds the traceback.
"""


class LazyLlmGroup(LlmGroup):
    """LlmGroup whose subcommands are imported on first use (click's documented lazy-loading pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        import importlib

        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command) and command.name == cmd_name, target
        return command


@click.group(cls=LazyLlmGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"],
                                                           "max_content_width": 110})
@click.option("--debug", is_flag=True, help="Show tracebacks (same as KUBECTL_LLM_DEBUG=1).")
@click.version_option(__version__, "--version", prog_name="kubectl-llm")
def cli(debug: bool) -> None:
    """kubectl llm: plan, install and remove LLMs (vLLM/SGLang) behind the Envoy AI Gateway, one Helm release
    per model."""
    import logging

    # pyhelm3 logs "command failed: <helm argv>" on every failure; the error table already says what failed in
    # one line, so its logger speaks only under --debug.
    debug = debug or os.environ.get("KUBECTL_LLM_DEBUG", "") not in ("", "0", "false")
    logging.getLogger("pyhelm3").setLevel(logging.DEBUG if debug else logging.CRITICAL)
    # urllib3 warns "Retrying (...)" on each failed connection attempt before the one error line we print.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if debug else logging.CRITICAL)


def prog_name(argv0: str) -> str:
    """'kubectl llm' when run as the kubectl plugin binary, so usage lines match what the user typed."""
    base = os.path.basename(argv0)
    return "kubectl llm" if base.startswith("kubectl-") or base in ("__main__.py", "main.py") else base


def main() -> None:
    try:
        cli.main(prog_name=prog_name(sys.argv[0]))
    finally:
        # The process ends here. Objects still alive go to the collector's permanent generation, so the interpreter's
        # shutdown does not collect and tear them down one by one (~12 ms of every command, measured on `plan`).
        # Nothing is lost: stdout/stderr are still flushed, atexit handlers still run, and Python never promised
        # __del__ for objects alive at exit.
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    main()
