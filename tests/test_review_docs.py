"""Docs review (session 8): README, ARCHITECTURE, the chart READMEs and every `--help` checked against the code.

Each test is either a falsehood an admin met reading the docs and running what they say (the docstring says what
they saw before the fix), or a guard that makes a class of drift between the docs and the code fail mechanically.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
import yaml

from kubectl_llm.cli.main import cli
from tests.cli_harness import cli_cluster, kllm

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
ARCHITECTURE = REPO / "ARCHITECTURE.md"


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    """Every command and group of `kubectl llm`, by its words: {(): cli, ('plan',): ..., ('gateway', 'install'): ...}."""
    found: dict[tuple[str, ...], click.Command] = {path: group}
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found.update(commands(command, (*path, name)))
        else:
            found[(*path, name)] = command
    return found


def option_names(command: click.Command) -> set[str]:
    return {o for p in command.get_params(click.Context(command)) for o in (*p.opts, *p.secondary_opts)}


def help_text(command: click.Command, path: tuple[str, ...]) -> str:
    parent = click.Context(cli, info_name="kubectl llm")
    for word in path[:-1]:
        parent = click.Context(commands()[path[:path.index(word) + 1]], info_name=word, parent=parent)
    return command.get_help(click.Context(command, info_name=path[-1] if path else "kubectl llm", parent=parent))


# --- list -o json of aliases and external backends ----------------------------------------------------------------
def test_list_json_gives_an_alias_no_model_and_a_release_without_pods_no_node_count(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """README: `list -o json` has `null` where a value does not apply. Before, an alias's row said
    `"model": "Qwen/Qwen3-8B"` whatever it routed to (the chart's default model.id, which its computed values hold;
    `status ALIAS -o json` already said null), and every alias / external row said `"gpu": {"nodes": 1, ...}`
    with no GPU at all. Now the alias's model and a podless release's node count are null, as the other GPU keys."""
    with cli_cluster(tmp_path, monkeypatch, namespace="nrp-llm"):
        kllm("add", "--external", "https://llm.example.org/v1", "--served-name", "meta-llama/Llama-3.3-70B-Instruct",
             "--name", "llama-far")
        kllm("add", "Qwen/Qwen3-8B", "--gpu", "L40")
        kllm("alias", "llama", "--to", "llama-far")
        rows = {r["name"]: r for r in json.loads(kllm("list", "-o", "json").stdout)}
        status = json.loads(kllm("status", "llama", "-o", "json").stdout)
    none = {"type": None, "count": None, "nodes": None, "per_node": None}
    assert (rows["llama"]["kind"], rows["llama"]["model"], rows["llama"]["gpu"]) == ("alias", None, none)
    assert rows["llama"]["model"] == status["model"]
    assert rows["llama-far"]["model"] == "meta-llama/Llama-3.3-70B-Instruct" and rows["llama-far"]["gpu"] == none
    # a model keeps its numbers: 1 x L40 on one node
    assert rows["qwen3-8b"]["gpu"] == {"type": "L40", "count": 1, "nodes": 1, "per_node": 1}
