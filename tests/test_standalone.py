"""A fresh clone passes without ../shared, and with the pinned tools (issue 9, item 9).

* the CRDs the tests validate against are vendored in tests/data/crds, byte-identical to the pinned upstream files
  (sha256 in tests/data/crds/SOURCES.md, and equal to ../shared/crds when it is there);
* tests/manifest_validation.py and tests/fakes/apiserver.py default to that folder;
* `helm` / `helm3` are the pinned v4.1.4 / v3.17.2 that scripts/get-tools.sh installs (and checks).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.fakes import apiserver
from tests import manifest_validation

REPO = Path(__file__).resolve().parents[1]
VENDORED = REPO / "tests" / "data" / "crds"
SHARED = REPO.parent / "shared" / "crds"
ROW = re.compile(r"^\| (?P<file>[^ |]+\.yaml) \| (?P<repo>[^ |]+) \| (?P<tag>v[^ |]+) \| (?P<commit>[0-9a-f]{40}) "
                 r"\| (?P<path>[^ |]+) \| (?P<sha>[0-9a-f]{64}) \|$")


def _sources() -> dict[str, dict[str, str]]:
    rows = [ROW.match(line) for line in (VENDORED / "SOURCES.md").read_text().splitlines()]
    return {m["file"]: m.groupdict() for m in rows if m}


def test_every_vendored_crd_has_a_source_row_with_its_checksum() -> None:
    files = sorted(str(p.relative_to(VENDORED)) for p in VENDORED.rglob("*.yaml"))
    sources = _sources()
    assert files == sorted(sources), "tests/data/crds/SOURCES.md must list exactly the vendored files"
    for name, row in sources.items():
        assert hashlib.sha256((VENDORED / name).read_bytes()).hexdigest() == row["sha"], name


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/crds not beside the clone")
def test_vendored_crds_are_byte_copies_of_shared() -> None:
    for name in _sources():
        assert (VENDORED / name).read_bytes() == (SHARED / name).read_bytes(), name


def test_every_kind_the_charts_render_has_a_vendored_crd() -> None:
    kinds = set()
    for tpl in (REPO / "charts").rglob("templates/**/*.yaml"):
        kinds |= set(re.findall(r"^kind: (\w+)", tpl.read_text(), re.M))
    core = {"Deployment", "StatefulSet", "Service", "PersistentVolumeClaim", "ConfigMap", "Pod", "ServiceAccount",
            "Role", "RoleBinding"}
    vendored = {p.stem for p in VENDORED.rglob("*.yaml")}
    assert kinds - core <= vendored, kinds - core - vendored


def test_validation_and_fake_apiserver_default_to_the_vendored_crds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECTL_LLM_CRD_DIR", raising=False)
    assert manifest_validation.crd_dir() == VENDORED
    assert apiserver.DEFAULT_CRD_DIR == VENDORED
    served = {r.kind for r in apiserver.load_crd_resources(apiserver.DEFAULT_CRD_DIR)}
    assert {"AIGatewayRoute", "AIServiceBackend", "Backend", "Gateway", "GatewayClass", "LeaderWorkerSet"} <= served


def test_crd_loading_uses_libyaml() -> None:
    assert manifest_validation.LOADER is yaml.CSafeLoader   # pyyaml wheels ship libyaml; ~10x faster on the CRDs


@pytest.mark.parametrize(("name", "want"), [("helm", "v4.1.4"), ("helm3", "v3.17.2")])
def test_pinned_helm_versions(name: str, want: str, helm_bins: dict[str, str]) -> None:
    out = subprocess.run([helm_bins[name], "version", "--template", "{{ .Version }}"], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == want
    script = (REPO / "scripts" / "get-tools.sh").read_text()
    assert f'HELM{want[1]}_VERSION={want}' in script


def test_product_yaml_uses_libyaml() -> None:
    from kubectl_llm import yamlio
    from kubectl_llm.adapters.helm import parse_manifest

    assert yamlio.LOADER is yaml.CSafeLoader
    assert parse_manifest("---\n\n---\nkind: A\n---\n- x\n---\nkind: B\n") == [{"kind": "A"}, {"kind": "B"}]
    src = (REPO / "kubectl_llm").rglob("*.py")
    slow = [str(p.relative_to(REPO)) for p in src if "yaml.safe_load_all(" in p.read_text()]
    assert not slow, f"multi-document YAML parsed with the pure-Python loader in {slow}"
