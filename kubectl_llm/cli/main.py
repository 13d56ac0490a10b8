"""The `kubectl-llm` console script: wires the command groups, nothing else.

kubectl runs any `kubectl-llm` on PATH as `kubectl llm`; usage text then says `kubectl llm ...`.
"""

from __future__ import annotations

import os
import sys

import click

from kubectl_llm import __version__
from kubectl_llm.cli.errors import LlmGroup
from kubectl_llm.cli.fleet_cmds import alias_command, chatbox_command
from kubectl_llm.cli.gateway_cmd import gateway_group
from kubectl_llm.cli.inspect_cmds import list_command, logs_command, status_command
from kubectl_llm.cli.misc_cmds import completion_command, gpus_command, version_command
from kubectl_llm.cli.plan_cmd import plan_command
from kubectl_llm.cli.release_cmds import add_command, rm_command, rollback_command, upgrade_command

EPILOG = """\b
Examples:
  kubectl llm plan Qwen/Qwen3-8B                  # how it would run (offline, no cluster)
  kubectl llm add Qwen/Qwen3-8B -n nrp-llm --wait # install it as one Helm release
  kubectl llm list                                # what is installed
  kubectl llm status qwen3-8b                     # how far it got
  kubectl llm rm qwen3-8b                         # remove all of it

Errors print one `error:` line and a `hint:`; --debug (or KUBECTL_LLM_DEBUG=1) adds the traceback.
"""


@click.group(cls=LlmGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"],
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


for command in (plan_command, add_command, upgrade_command, rm_command, rollback_command, list_command,
                status_command, logs_command, gateway_group, gpus_command, version_command, completion_command,
                alias_command, chatbox_command):
    cli.add_command(command)


def prog_name(argv0: str) -> str:
    """'kubectl llm' when run as the kubectl plugin binary, so usage lines match what the user typed."""
    base = os.path.basename(argv0)
    return "kubectl llm" if base.startswith("kubectl-") or base == "__main__.py" else base


def main() -> None:
    cli.main(prog_name=prog_name(sys.argv[0]))


if __name__ == "__main__":  # pragma: no cover
    main()
