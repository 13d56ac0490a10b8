"""README's sample `list` / `status` / `rm` output, produced by a real run against the fake API server.

The README once showed `1 x L40` after the planner had moved on to another GPU type: a hand-copied sample goes
stale. This module runs the README's own commands (gateway install, add --wait, list, status, rm) with the real
helm and CLI against tests/fakes/apiserver.py and returns the text block; tests/test_readme_sample.py fails when
README.md differs, and

    python -m tests.readme_sample          # rewrites the block in README.md

Only what changes from run to run is normalised: the pod's generated name suffix and the AGE column.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
NS = "nrp-llm"
MODEL = "Qwen/Qwen3-8B"
NAME = "qwen3-8b"
COMMANDS = (("list", "-n", NS), ("status", NAME, "-n", NS), ("rm", NAME, "-n", NS))
START = "```text\n$ kubectl llm list -n nrp-llm\n"


def normalise(text: str) -> str:
    text = re.sub(rf"\b{NAME}-[a-z0-9]{{8,10}}-[a-z0-9]{{5}}\b", f"{NAME}-7d9f8c6b5d-x2x4q", text)
    return re.sub(r"(deployed\s+)\d+[smhd]\b", r"\g<1>2m", text)


def sample() -> str:
    """The README block: each command and its output, as a user sees them (stdout)."""
    from click.testing import CliRunner

    from kubectl_llm.cli import session as session_mod
    from kubectl_llm.cli.main import cli
    from tests.cli_harness import VLLM_LOG
    from tests.fakes.apiserver import FakeApiServer, client_env

    tools = REPO / ".tools" / "bin"
    with tempfile.TemporaryDirectory() as tmp, FakeApiServer(namespaces=[NS], pod_log=VLLM_LOG) as api:
        env = client_env(tmp, api.write_kubeconfig(Path(tmp) / "kubeconfig", namespace=NS))
        env.update(HF_HUB_OFFLINE="1", PATH=f"{tools}{os.pathsep}{env.get('PATH', '')}")
        for key in ("KUBECTL_LLM_HELM", "KUBECTL_LLM_SITE"):
            env.pop(key, None)
        with mock.patch.dict(os.environ, env, clear=True), mock.patch.object(session_mod, "helm_command_factory",
                                                                              None):
            def run(*args: str) -> str:
                result = CliRunner().invoke(cli, list(args))
                if result.exit_code:
                    raise RuntimeError(f"kubectl llm {' '.join(args)} -> {result.exit_code}: {result.stderr}")
                return result.stdout

            run("gateway", "install", "-n", NS)
            run("add", MODEL, "-n", NS, "--wait", "--timeout", "120s")
            blocks = [f"$ kubectl llm {' '.join(cmd)}\n{run(*cmd).rstrip()}" for cmd in COMMANDS]
    return "```text\n" + normalise("\n\n".join(blocks)) + "\n```\n"


def readme_block(text: str) -> str:
    start = text.index(START)
    end = text.index("```\n", start + len(START)) + 4
    return text[start:end]


def main() -> int:
    text = README.read_text()
    fresh = sample()
    README.write_text(text.replace(readme_block(text), fresh))
    print("README.md sample " + ("unchanged" if fresh == readme_block(text) else "rewritten"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
