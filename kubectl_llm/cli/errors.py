"""Exceptions -> one `error: ...` line, a `hint: ...` line and an exit code. Tracebacks only when debugging.

Why a click.Group subclass: the same handling then applies under click's CliRunner in tests and in the real
console script, and click keeps its own usage errors (exit 2) untouched.
"""

from __future__ import annotations

import os
from typing import Any

import click

from kubectl_llm.cli import output
from kubectl_llm.errors import LlmError

INTERNAL_EXIT = 70  # sysexits EX_SOFTWARE: a bug of ours, not a user error


def debug_enabled(ctx: click.Context | None = None) -> bool:
    if os.environ.get("KUBECTL_LLM_DEBUG", "") not in ("", "0", "false"):
        return True
    root = ctx.find_root() if ctx else None
    return bool(root and root.params.get("debug"))


def report(exc: BaseException, debug: bool) -> int:
    """Print the error the user sees; return the exit code."""
    if debug:
        import traceback

        click.echo(output.redact("".join(traceback.format_exception(exc)).rstrip()), err=True)
    if isinstance(exc, LlmError):
        output.error(exc.message.splitlines()[0] if exc.message else type(exc).__name__, exc.hint or None)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        output.error("interrupted", "a helm operation may have been cut short: 'kubectl llm list' shows the "
                     "release's state, and the next add/upgrade/rm repairs a release left pending")
        return 130
    first = str(exc).splitlines()[0] if str(exc) else ""
    output.error(f"unexpected {type(exc).__name__}: {first}".rstrip(": "),
                 "this is a bug in kubectl llm; re-run with --debug and report the traceback")
    return INTERNAL_EXIT


def report_usage(exc: click.UsageError) -> int:
    """click's usage errors in our form: `error: <what>` + `hint: <the command's --help>`, exit 2."""
    path = exc.ctx.command_path if exc.ctx else "kubectl llm"
    output.error(exc.format_message().rstrip("."), f"see '{path} --help'")
    return exc.exit_code


def _shows_help(exc: click.UsageError) -> bool:
    """A group called with no subcommand prints its help (click's NoArgsIsHelpError): not an error to reword."""
    return type(exc).__name__ == "NoArgsIsHelpError"


class LlmGroup(click.Group):
    """click.Group that turns our errors (and unexpected ones) and click's usage errors into error/hint lines
    and exit codes."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        if parent is None:        # `kubectl llm plan X --debug` as well as `kubectl llm --debug plan X`
            cut = args.index("--") if "--" in args else len(args)
            if "--debug" in args[1:cut]:
                args = ["--debug"] + [a for i, a in enumerate(args) if a != "--debug" or i >= cut]
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            if _shows_help(exc):
                raise
            raise click.exceptions.Exit(report_usage(exc)) from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if _shows_help(exc):
                raise
            ctx.exit(report_usage(exc))
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except (LlmError, KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 - the one place that catches all
            ctx.exit(report(exc, debug_enabled(ctx)))
