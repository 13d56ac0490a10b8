"""The only module that writes data to stdout; messages and progress go to stderr.

Why one module: `-o yaml|json` output must stay machine-readable whatever else happens (warnings, progress,
errors), so nothing but this module touches stdout, and everything human goes to stderr.
"""

from __future__ import annotations

import json
import os
import re
import sys
from functools import lru_cache
from typing import Any, Iterable, Sequence

import click


@lru_cache(maxsize=1)
def _dumper() -> Any:
    """Block-style YAML that keeps key order and writes multi-line strings as literal blocks. Built on first use:
    importing yaml costs ~12 ms, which `-o json` and text output do not need."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, str_presenter)
    return Dumper


def to_yaml(data: Any) -> str:
    import yaml

    return yaml.dump(data, Dumper=_dumper(), sort_keys=False, default_flow_style=False, allow_unicode=True)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str)


def data(obj: Any, fmt: str) -> None:
    """Write a document to stdout as yaml or json."""
    click.echo(to_json(obj) if fmt == "json" else to_yaml(obj).rstrip("\n"))


def manifests(objs: Sequence[dict[str, Any]], fmt: str) -> None:
    """Kubernetes objects: multi-document YAML (like `helm template`) or one JSON list."""
    if fmt == "json":
        click.echo(to_json(list(objs)))
    else:
        click.echo("\n".join("---\n" + to_yaml(o).rstrip("\n") for o in objs))


def text(body: str) -> None:
    """Human-readable data (tables, plan text) to stdout."""
    click.echo(body.rstrip("\n"))


def raw(chunk: str) -> None:
    """Streamed data (logs -f) exactly as received."""
    click.echo(chunk, nl=False)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A kubectl-style table: upper-case headers, columns padded by three spaces."""
    cells = [[str(h).upper() for h in headers]] + [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


# Secrets a message may quote without meaning to (a URL typed with its credentials, a token pasted where a name
# belongs): never printed. The user-info part of any URL, Hugging Face tokens, and the token in the environment.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"]+@")
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{20,}\b")
TOKEN_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def redact(text: str) -> str:
    """``text`` with every secret it might quote replaced by ``***`` (see above)."""
    text = _HF_TOKEN.sub("hf_***", _URL_USERINFO.sub(r"\1***@", text))
    for var in TOKEN_VARS:
        token = os.environ.get(var, "")
        if len(token) >= 8:
            text = text.replace(token, "***")
    return text


def info(message: str) -> None:
    click.echo(redact(message), err=True)


def warn(message: str) -> None:
    click.echo(f"warning: {redact(message)}", err=True)


def error(message: str, hint: str | None = None) -> None:
    click.echo(f"error: {redact(message)}", err=True)
    if hint:
        click.echo(f"hint: {redact(hint)}", err=True)


class ProgressLine:
    """One live status line on stderr: redrawn in place on a terminal, one line per change otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = ""
        self.last_key = ""

    def update(self, line: str, key: str | None = None) -> None:
        """Show ``line``; off a terminal only when ``key`` (default: the line) changed, so logs stay short."""
        key = line if key is None else key
        if line == self.last or (not self.tty and key == self.last_key):
            return
        self.last, self.last_key = line, key
        if self.tty:
            click.echo("\r\033[K" + line, err=True, nl=False)
        else:
            click.echo(line, err=True)

    def done(self) -> None:
        if self.tty and self.last:
            click.echo("", err=True)
