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
import yaml
from click.testing import CliRunner, Result

from kubectl_llm.cli import session as session_mod
from kubectl_llm.cli.main import cli
from tests.fakes.apiserver import FakeApiServer, client_env


# A vLLM 0.17.0 start-up log the fake serves as the engine pod's log (status, --wait and logs read it; the README
# sample shows what they make of it).
VLLM_LOG = """\
INFO 05-09 07:35:28 [api_server.py:1043] vLLM API server version 0.17.0
INFO 05-09 07:36:02 [gpu_model_runner.py:1329] Model loading took 15.27 GiB and 30.115 seconds
INFO 05-09 07:36:20 [kv_cache_utils.py:634] GPU KV cache size: 180,224 tokens
INFO 05-09 07:36:20 [kv_cache_utils.py:637] Maximum concurrency for 40,960 tokens per request: 4.40x
INFO 05-09 07:36:41 [api_server.py:1090] Starting vLLM API server on http://0.0.0.0:8000
INFO:     Application startup complete.
"""


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


def offline_dry_run_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What `add --dry-run=client` runs with in the chart tests: no Hub, no cluster (a kubeconfig that does not
    exist), the helm on PATH."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    monkeypatch.delenv("KUBECTL_LLM_HELM", raising=False)


def render_dry_run(*args: str, namespace: str = "nrp-llm") -> dict[str, dict[str, Any]]:
    """`kubectl llm add ARGS --dry-run=client -o yaml`: every object validated strictly (core kinds with
    kubernetes-validate, custom kinds against their CRDs with unknown fields rejected), by kind."""
    from tests.manifest_validation import validate_objects

    res = CliRunner().invoke(cli, ["add", *args, "-n", namespace, "--dry-run=client", "-o", "yaml"])
    assert res.exit_code == 0, res.output
    objs = [o for o in yaml.safe_load_all(res.stdout) if o]
    validate_objects(objs)
    return {o["kind"]: o for o in objs}
