"""Driving the real CLI against the fake API server: one place for what every CLI test file needs.

    with cli_cluster(tmp_path, monkeypatch, namespaces=["llm"], pod_log=LOG) as api:
        kllm("add", "Qwen/Qwen3-8B")

``cli_cluster`` starts a ``FakeApiServer`` (its keyword arguments pass through), points KUBECONFIG and helm's own
dirs at it (``client_env``, also kept as ``api.env`` for subprocesses), turns the Hub off and makes the CLI build a
fresh helm client per call. ``kllm`` invokes the click CLI in-process and asserts its exit code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from kubectl_llm.cli import session as session_mod
from kubectl_llm.cli.main import cli
from tests.fakes.apiserver import FakeApiServer, client_env


@contextmanager
def cli_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, namespace: str = "llm",
                **server: Any) -> Iterator[FakeApiServer]:
    """A started fake API server, with KUBECONFIG (context namespace ``namespace``) pointing at it."""
    server.setdefault("namespaces", [namespace])
    with FakeApiServer(**server) as api:
        env = client_env(tmp_path, api.write_kubeconfig(tmp_path / "kubeconfig", namespace=namespace))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        monkeypatch.setattr(session_mod, "helm_command_factory", None)
        api.env = env  # type: ignore[attr-defined]
        yield api


def kllm(*args: str, code: int = 0) -> Result:
    """`kubectl llm ARGS` in-process; fails the test (with stdout, stderr and the exception) on another exit code."""
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, (f"kubectl llm {' '.join(args)} -> {result.exit_code}\n"
                                      f"stdout: {result.stdout}\nstderr: {result.stderr}\n{result.exception!r}")
    return result
