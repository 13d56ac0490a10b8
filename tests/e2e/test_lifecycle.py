"""The whole lifecycle against a real cluster: add -> ready -> /v1/models through the gateway -> rm -> nothing left.

Runs only with LLM_E2E=1 and a reachable $KUBECONFIG (skipped otherwise, with the reason). Knobs:
  LLM_E2E_MODEL      model to add (default Qwen/Qwen3-0.6B, small enough for any GPU)
  LLM_E2E_NAMESPACE  namespace (default: the context's namespace)
  LLM_E2E_GATEWAY    base URL of the gateway (default: read from the release's Gateway status)
  LLM_E2E_ARGS       extra add flags, e.g. "--gpu L40 --timeout 45m"
"""

from __future__ import annotations

import json
import os
import shlex
import urllib.request

import pytest
from click.testing import CliRunner

from kubectl_llm.cli.main import cli

pytestmark = pytest.mark.e2e
MODEL = os.environ.get("LLM_E2E_MODEL", "Qwen/Qwen3-0.6B")
NAME = "kubectl-llm-e2e"


def _reachable() -> str | None:
    if os.environ.get("LLM_E2E") != "1":
        return "set LLM_E2E=1 (and KUBECONFIG) to run the end-to-end lifecycle test"
    try:
        from kubectl_llm.adapters.cluster import Cluster

        Cluster().missing_gateway_groups()
    except Exception as exc:  # noqa: BLE001 - any failure means: no cluster for this run
        return f"no reachable cluster in $KUBECONFIG: {exc}"
    return None


@pytest.fixture(scope="module")
def cluster_ns():
    reason = _reachable()
    if reason:
        pytest.skip(reason)
    from kubectl_llm.adapters.cluster import resolve_namespace

    return os.environ.get("LLM_E2E_NAMESPACE") or resolve_namespace(None, None, None)


def run(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, f"kubectl llm {' '.join(args)}\n{result.stderr}"
    return result


def test_add_serve_remove(cluster_ns):
    extra = shlex.split(os.environ.get("LLM_E2E_ARGS", "--timeout 45m"))
    try:
        added = json.loads(run("add", MODEL, "--name", NAME, "-n", cluster_ns, "--wait", "-o", "json",
                               *extra).stdout)
        assert added["action"] in ("installed", "upgraded", "unchanged")
        status = json.loads(run("status", NAME, "-n", cluster_ns, "-o", "json").stdout)
        assert any(p["ready"] for p in status["pods"])
        listed = json.loads(run("list", "-n", cluster_ns, "-o", "json").stdout)
        assert any(r["name"] == NAME and r["model"] == MODEL for r in listed)

        base = os.environ.get("LLM_E2E_GATEWAY") or status["curl"].split()[2].rsplit("/v1/", 1)[0]
        req = urllib.request.Request(f"{base}/v1/models", headers={"x-ai-eg-model": status["route"]})
        with urllib.request.urlopen(req, timeout=60) as resp:
            models = json.load(resp)
        assert status["route"] in [m["id"] for m in models["data"]] or \
            status["served_name"] in [m["id"] for m in models["data"]]
        # the route answers a real completion (the gateway picks the backend by the body's model)
        body = json.dumps({"model": status["route"], "max_tokens": 8,
                           "messages": [{"role": "user", "content": "Say OK."}]}).encode()
        req = urllib.request.Request(f"{base}/v1/chat/completions", data=body, method="POST",
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as resp:
            answer = json.load(resp)
        assert answer["choices"][0]["message"]["content"] or answer["choices"][0]["message"].get("reasoning_content")
    finally:
        CliRunner().invoke(cli, ["rm", NAME, "-n", cluster_ns, "--wait"])

    from kubectl_llm.adapters.cluster import Cluster

    left = Cluster().labelled_objects(f"llm.nrp-nautilus.io/model={NAME}", cluster_ns)
    assert left == [], f"objects left behind: {left}"
