"""values.schema.json of both charts: strict (draft-07, closed objects), satisfied by the defaults and every ci
scenario, enforced by both helm binaries, and every values.yaml key documented in the helm-docs `# --` style."""

from __future__ import annotations

import importlib.util
import json
import re

import jsonschema
import pytest
import yaml

from tests.conftest import HELM_BINARIES, REPO_ROOT, chart_scenarios
from tests.manifest_validation import HelmTemplateError, render_chart, validate_values

CHARTS = ("llm-model", "llm-gateway")


def load_schema(chart: str) -> dict:
    return json.loads((REPO_ROOT / "charts" / chart / "values.schema.json").read_text())


@pytest.mark.parametrize("chart", CHARTS)
def test_schema_is_draft7_and_closed_everywhere(chart) -> None:
    schema = load_schema(chart)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    open_nodes: list[str] = []

    def walk(node: dict, path: str) -> None:
        if node.get("type") == "object" and "properties" in node:
            if node.get("additionalProperties") is not False:
                open_nodes.append(path)
            for key, sub in node["properties"].items():
                walk(sub, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")

    walk(schema, "")
    assert open_nodes == []


@pytest.mark.parametrize(("chart", "scenario"), chart_scenarios())
def test_every_scenario_satisfies_the_schema(chart, scenario) -> None:
    validate_values(yaml.safe_load((REPO_ROOT / "charts" / chart / "ci" / scenario).read_text()) or {}, chart)


@pytest.mark.parametrize(
    ("chart", "values", "fragment"),
    [
        ("llm-model", {"engine": {"imagee": "x"}}, "'imagee' was unexpected"),  # unknown key
        ("llm-model", {"gpu": {"count": "four"}}, "'four' is not of type 'integer'"),  # wrong type
        ("llm-model", {"gateway": {"timeout": "20 minutes"}}, "does not match"),  # duration pattern
        ("llm-model", {"resources": {"memoryLimit": "20 GB"}}, "does not match"),  # quantity pattern
        ("llm-model", {"mode": "proxy"}, "'proxy' is not one of"),
        ("llm-model", {"gpu": {"count": 0}}, "0 is less than the minimum of 1"),
        ("llm-gateway", {"rateLimit": {"unit": "Week"}}, "'Week' is not one of"),
        ("llm-gateway", {"auth": {"apiKey": {"secret": "x"}}}, "'secret' was unexpected"),
    ],
)
def test_validate_values_rejects(chart, values, fragment) -> None:
    with pytest.raises(AssertionError, match=re.escape(fragment)):
        validate_values(values, chart)


@pytest.mark.parametrize("helm", HELM_BINARIES)
@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"storage": {"sizee": "10Gi"}}, "sizee"),  # unknown key
        ({"probes": {"loadSeconds": "slow"}}, "loadSeconds"),  # wrong type
    ],
)
def test_helm_enforces_the_schema(helm_bins, helm, values, fragment) -> None:
    with pytest.raises(HelmTemplateError) as err:
        render_chart(REPO_ROOT / "charts" / "llm-model", values, helm=helm_bins[helm])
    assert "schema" in err.value.stderr.lower() and fragment in err.value.stderr


def undocumented_keys(text: str) -> list[str]:
    """Keys of a values.yaml without a `# --` comment block right above them (helm-docs style), walked by the same
    code that writes the chart READMEs (scripts/chart-readme.py ``key_docs``)."""
    return [path for path, doc in _chart_readme().key_docs(text) if doc is None]


def _chart_readme():
    spec = importlib.util.spec_from_file_location("chart_readme", REPO_ROOT / "scripts" / "chart-readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("chart", CHARTS)
def test_every_values_key_is_documented(chart) -> None:
    assert undocumented_keys((REPO_ROOT / "charts" / chart / "values.yaml").read_text()) == []


@pytest.mark.parametrize("chart", CHARTS)
def test_every_values_key_is_in_the_schema(chart) -> None:
    """values.yaml and values.schema.json describe the same keys (no stale or missing entries)."""
    schema = load_schema(chart)
    values = yaml.safe_load((REPO_ROOT / "charts" / chart / "values.yaml").read_text())

    def keys(node: dict, prefix: str = "") -> set[str]:
        out: set[str] = set()
        for k, v in node.items():
            out.add(prefix + k)
            if isinstance(v, dict) and v:
                out |= keys(v, prefix + k + ".")
        return out

    def schema_keys(node: dict, prefix: str = "") -> set[str]:
        out: set[str] = set()
        for k, v in node.get("properties", {}).items():
            if k == "global":
                continue
            out.add(prefix + k)
            if v.get("type") == "object" and "properties" in v:
                out |= schema_keys(v, prefix + k + ".")
        return out

    free_maps = {"envoyProxy.serviceAnnotations", "engineConfig.env", "engineConfig.env.VLLM_CACHE_ROOT",
                 "engineConfig.env.HF_HUB_DISABLE_TELEMETRY", "envoyProxy.resources.requests.cpu",
                 "envoyProxy.resources.requests.memory", "envoyProxy.resources.limits.cpu",
                 "envoyProxy.resources.limits.memory", "envoyProxy.resources.requests", "envoyProxy.resources.limits"}
    # Kubernetes types the schema spells out in full while values.yaml shows only the defaults it sets.
    partial = ("podSecurityContext.", "securityContext.", "envoyProxy.podSecurityContext.", "envoyProxy.securityContext.")

    def typed(ks: set[str]) -> set[str]:
        return {k for k in ks if not k.startswith(partial)}

    assert typed(keys(values)) - schema_keys(schema) - free_maps == set()
    assert typed(schema_keys(schema)) - keys(values) - free_maps == set()
    assert {k for k in keys(values) if k.startswith(partial)} <= schema_keys(schema)  # the defaults are typed


def test_doc_checker_catches_a_missing_comment() -> None:
    text = "a:\n  # -- documented\n  b: 1\n  c: 2\n# -- list\nd:\n  - e: 1\n    f: 2\n# -- a free map\nm:\n  x: 1\n"
    assert undocumented_keys(text) == ["a.c"]
    assert undocumented_keys("g:\n  h:\n    # -- deep\n    i: 1\n  j: []\n") == ["g.j"]
