"""The fleet commands end to end against the fake API server with the real helm: `add --external`, `alias`,
`list` kinds, `rm` warning about aliases. Every manifest they render is validated against the real CRDs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kubectl_llm import fleet
from kubectl_llm.cli.main import cli
from kubectl_llm.errors import UsageError
from tests.cli_harness import cli_cluster, kllm
from tests.fakes.apiserver import FakeApiServer
from tests.manifest_validation import validate_objects

NS = "llm"
EXTERNAL = ["add", "--external", "https://llm.sdsc.example.org/v1", "--served-name",
            "Qwen/Qwen3-235B-A22B-Thinking-2507-FP8", "--api-key-secret", "sdsc-apikey", "--name", "qwen3-nairr",
            "--owned-by", "SDSC"]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with cli_cluster(tmp_path, monkeypatch, namespaces=[NS]) as api:
        yield api


def failed(*args: str, code: int = 2) -> str:
    result = kllm(*args, code=code)
    lines = result.stderr.splitlines()
    assert sum(line.startswith("error: ") for line in lines) == 1, result.stderr
    assert sum(line.startswith("hint: ") for line in lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def manifests(*args: str) -> list[dict[str, Any]]:
    objs = json.loads(kllm(*args, "--dry-run=client", "-o", "json").stdout)
    validate_objects(objs)
    return objs


def by_kind(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objs}


def api_key_secret(api: FakeApiServer, name: str = "sdsc-apikey", key: str = "apiKey") -> None:
    api.create_object({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS},
                       "type": "Opaque", "data": {key: "c2VjcmV0"}})


# --- pure rules ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, expected", [
    ("https://llm.sdsc.example.org/v1", ("llm.sdsc.example.org", None, 443, True, True)),
    ("https://llm.sdsc.example.org:8443", ("llm.sdsc.example.org", None, 8443, True, True)),
    ("http://vllm.other.svc.cluster.local:8000/v1/", ("vllm.other.svc.cluster.local", None, 8000, False, False)),
    ("http://10.1.2.3/v1", (None, "10.1.2.3", 80, False, False)),
])
def test_endpoint_from_the_url(url: str, expected: tuple) -> None:
    e = fleet.parse_endpoint(url)
    assert (e.hostname, e.ip, e.port, e.tls, e.public) == expected


@pytest.mark.parametrize("url, insecure, fails", [
    ("http://llm.example.org/v1", False, "refusing plain http to the public host llm.example.org"),
    ("http://8.8.8.8/v1", False, "refusing plain http to the public host 8.8.8.8"),
    ("https://llm.example.org/openai/v1", False, "base path '/openai/v1' is not /v1"),
    ("ftp://llm.example.org", False, "is not an http(s) URL"),
    ("https://user:pw@llm.example.org", False, "carries credentials"),
])
def test_endpoint_refusals(url: str, insecure: bool, fails: str) -> None:
    with pytest.raises(UsageError, match=fails.replace("(", r"\(").replace(")", r"\)")):
        fleet.parse_endpoint(url, insecure=insecure)
    assert fleet.parse_endpoint("http://llm.example.org/v1", insecure=True).tls is False


def test_alias_values_weights_and_fallback() -> None:
    releases = {"a": {"model": {"id": "org/A", "servedName": "org/A"}},
                "b": {"mode": "external", "model": {"id": "up/B", "servedName": "up/B"}},
                "c": {"mode": "alias", "gateway": {"alias": {"backends": [{"name": "a"}]}}}}
    values, warnings = fleet.alias_values("x", ["a", "b"], releases, weights=[2, 1])
    assert values["gateway"]["alias"]["backends"] == [{"name": "a", "modelNameOverride": "org/A", "weight": 2},
                                                      {"name": "b", "modelNameOverride": "up/B", "weight": 1}]
    assert (values["mode"], values["model"], warnings) == ("alias", {"id": "org/A", "servedName": "org/A"}, [])
    values, _ = fleet.alias_values("x", ["b", "a"], releases, fallback=True)
    assert [(b["name"], b["priority"]) for b in values["gateway"]["alias"]["backends"]] == [("b", 0), ("a", 1)]
    with pytest.raises(UsageError, match="c is an alias"):
        fleet.alias_values("x", ["a", "c"], releases)
    with pytest.raises(UsageError, match="alias target zz does not exist"):
        fleet.alias_values("x", ["a", "zz"], releases)
    _, warnings = fleet.alias_values("x", ["a", "zz"], releases, allow_missing=True)
    assert warnings == ["alias target 'zz' does not exist yet: requests routed to it fail until it is added"]
    with pytest.raises(UsageError, match="--weights has 1 entries for 2 targets"):
        fleet.alias_values("x", ["a", "b"], releases, weights=[1])
    assert fleet.aliases_pointing_at("a", releases) == ["c"]


# --- against the fake API server -------------------------------------------------------------------------------------
def test_external_backend_is_four_gateway_objects_and_no_workload(fake: FakeApiServer) -> None:
    objs = by_kind(manifests(*EXTERNAL))
    assert set(objs) == {"Backend", "AIServiceBackend", "BackendSecurityPolicy", "AIGatewayRoute"}
    assert objs["Backend"]["spec"]["endpoints"] == [{"fqdn": {"hostname": "llm.sdsc.example.org", "port": 443}}]
    assert objs["Backend"]["spec"]["tls"] == {"wellKnownCACertificates": "System", "sni": "llm.sdsc.example.org"}
    assert objs["BackendSecurityPolicy"]["spec"]["apiKey"]["secretRef"] == {"name": "sdsc-apikey", "namespace": NS}
    (rule,) = objs["AIGatewayRoute"]["spec"]["rules"]
    assert rule["matches"][0]["headers"][0]["value"] == "qwen3-nairr"
    assert rule["backendRefs"] == [{"name": "qwen3-nairr",
                                    "modelNameOverride": "Qwen/Qwen3-235B-A22B-Thinking-2507-FP8"}]
    assert rule["modelsOwnedBy"] == "SDSC"
    # the site profile's Gateway, like the site's models (NRP's shipped profile: envoy-ai-gateway-nrp)
    assert [r["name"] for r in objs["AIGatewayRoute"]["spec"]["parentRefs"]] == ["envoy-ai-gateway-nrp"]

    # For real: a missing Secret is a warning that gives the create command; with the Secret, no warning.
    result = kllm(*EXTERNAL, "-o", "json")
    assert ("warning: Secret 'sdsc-apikey' does not exist in namespace llm" in result.stderr
            and "--from-literal=apiKey=<API key>" in result.stderr)
    assert json.loads(result.stdout)["action"] == "installed"
    assert fake.objects("llm.nrp-nautilus.io/model=qwen3-nairr", namespace=NS) == [
        ("AIGatewayRoute", "qwen3-nairr"), ("AIServiceBackend", "qwen3-nairr"), ("Backend", "qwen3-nairr"),
        ("BackendSecurityPolicy", "qwen3-nairr")]
    api_key_secret(fake)
    again = kllm(*EXTERNAL, "-o", "json")
    assert json.loads(again.stdout)["action"] == "unchanged" and "warning" not in again.stderr

    # A Secret without the key the gateway reads.
    api_key_secret(fake, "other-key", key="token")
    warned = kllm(*EXTERNAL[:-4], "--api-key-secret", "other-key", "--name", "qwen3-other").stderr
    assert "warning: Secret 'other-key' has no key 'apiKey' (it has: token)" in warned

    # list says what each release is; upgrade refuses to re-plan an external.
    rows = {r["name"]: r for r in json.loads(kllm("list", "-o", "json").stdout)}
    assert (rows["qwen3-nairr"]["kind"], rows["qwen3-nairr"]["gpu"]["count"]) == ("external", None)
    assert "external" in kllm("list").stdout
    assert "is an external: there is no model to re-plan" in failed("upgrade", "qwen3-nairr", "--gpus", "2")


def test_external_refusals(fake: FakeApiServer) -> None:
    assert "refusing plain http to the public host llm.example.org" in failed(
        "add", "--external", "http://llm.example.org/v1", "--served-name", "m", "--name", "r")
    assert "--gpus plans a model; --external serves none here" in failed(
        "add", "--external", "https://llm.example.org/v1", "--served-name", "m", "--name", "r", "--gpus", "2")
    assert "--external needs --name ROUTE" in failed("add", "--external", "https://llm.example.org/v1",
                                                     "--served-name", "m")
    assert "only go with --external URL" in failed("add", "Qwen/Qwen3-8B", "--served-name", "m")
    assert "missing MODEL" in failed("add")
    # http inside the cluster needs no --insecure; --insecure lets plain http to a public host through.
    objs = by_kind(manifests("add", "--external", "http://vllm.other.svc.cluster.local:8000/v1", "--served-name",
                             "m", "--name", "r"))
    assert objs["Backend"]["spec"] == {"endpoints": [{"fqdn": {"hostname": "vllm.other.svc.cluster.local",
                                                               "port": 8000}}]}
    assert "BackendSecurityPolicy" not in objs
    insecure = CliRunner().invoke(cli, ["add", "--external", "http://llm.example.org", "--served-name", "m",
                                        "--name", "r", "--insecure", "--dry-run=client"])
    assert insecure.exit_code == 0 and "warning: plain http to the public host llm.example.org" in insecure.stderr


def test_alias_round_robin_fallback_missing_targets_and_rm_warning(fake: FakeApiServer) -> None:
    kllm("add", "Qwen/Qwen3-8B", "--gpu", "L40")          # release qwen3-8b, served name Qwen/Qwen3-8B
    api_key_secret(fake)
    kllm(*EXTERNAL)

    # Round-robin by weight: one route, two backends, each target's own served name sent upstream.
    assert json.loads(kllm("alias", "qwen3", "--to", "qwen3-8b,qwen3-nairr", "--weights", "3,1", "-o",
                           "json").stdout)["action"] == "installed"
    route = fake.get_object("AIGatewayRoute", "qwen3", NS)
    (rule,) = route["spec"]["rules"]
    assert rule["matches"][0]["headers"][0]["value"] == "qwen3"
    assert rule["backendRefs"] == [
        {"name": "qwen3-8b", "modelNameOverride": "Qwen/Qwen3-8B", "weight": 3},
        {"name": "qwen3-nairr", "modelNameOverride": "Qwen/Qwen3-235B-A22B-Thinking-2507-FP8", "weight": 1}]
    assert fake.objects("llm.nrp-nautilus.io/model=qwen3", namespace=NS) == [("AIGatewayRoute", "qwen3")]

    # Priority fallback: priorities in --to order plus the retry policy on the generated HTTPRoute.
    objs = by_kind(manifests("alias", "qwen3-failover", "--to", "qwen3-8b,qwen3-nairr", "--fallback"))
    assert [r["name"] for r in objs["AIGatewayRoute"]["spec"]["parentRefs"]] == ["envoy-ai-gateway-nrp"]
    assert set(objs) == {"AIGatewayRoute", "BackendTrafficPolicy"}
    assert [(b["name"], b["priority"]) for b in objs["AIGatewayRoute"]["spec"]["rules"][0]["backendRefs"]] == \
        [("qwen3-8b", 0), ("qwen3-nairr", 1)]
    btp = objs["BackendTrafficPolicy"]["spec"]
    assert btp["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "qwen3-failover"}]
    assert (btp["retry"]["numAttemptsPerPriority"], btp["retry"]["numRetries"]) == (1, 2)
    kllm("alias", "qwen3-failover", "--to", "qwen3-8b,qwen3-nairr", "--fallback")

    # Targets must exist (or --allow-missing), must not be aliases, weights and fallback exclude each other.
    assert "alias target qwen3-east does not exist in the namespace" in failed(
        "alias", "qwen3-more", "--to", "qwen3-8b,qwen3-east")
    warned = kllm("alias", "qwen3-more", "--to", "qwen3-8b,qwen3-east", "--allow-missing").stderr
    assert "warning: alias target 'qwen3-east' does not exist yet" in warned
    assert "qwen3 is an alias" in failed("alias", "qwen3-again", "--to", "qwen3,qwen3-8b")
    assert "mutually exclusive" in failed("alias", "x", "--to", "qwen3-8b,qwen3-nairr", "--weights", "1,1",
                                          "--fallback")
    assert "'qwen3-8b' is a model release, not an alias" in failed("alias", "qwen3-8b", "--to", "qwen3-nairr")

    # list: the kind of each release and an alias's targets.
    rows = {r["name"]: r for r in json.loads(kllm("list", "-o", "json").stdout)}
    assert {n: r["kind"] for n, r in rows.items()} == {"qwen3": "alias", "qwen3-8b": "model",
                                                       "qwen3-failover": "alias", "qwen3-more": "alias",
                                                       "qwen3-nairr": "external"}
    assert [t["name"] for t in rows["qwen3"]["targets"]] == ["qwen3-8b", "qwen3-nairr"]
    table = {line.split()[0]: line for line in kllm("list").stdout.splitlines()[1:]}
    assert "-> qwen3-8b (3), qwen3-nairr (1)" in table["qwen3"]
    assert "-> qwen3-8b > qwen3-nairr" in table["qwen3-failover"]

    # rm of a model an alias points to: removed, with a warning naming every alias that routes to it.
    result = kllm("rm", "qwen3-8b")
    assert ("warning: aliases qwen3, qwen3-failover, qwen3-more route to qwen3-8b" in result.stderr), result.stderr
    assert fake.get_object("AIGatewayRoute", "qwen3", NS) is not None   # the alias itself stays
    assert "warning" not in kllm("rm", "qwen3").stderr


def test_fleet_module_is_pure() -> None:
    """kubectl_llm/fleet.py decides; it imports no I/O library (like the planner)."""
    import ast

    tree = ast.parse(Path(fleet.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"kubernetes", "pyhelm3", "huggingface_hub", "subprocess", "socket", "httpx2", "asyncio",
                           "requests", "urllib3"}, imported


# --- Chatbox ---------------------------------------------------------------------------------------------------------
CHATBOX_SCHEMA = Path(__file__).parent / "data" / "chatbox-provider.schema.json"


def chatbox_valid(doc: dict[str, Any]) -> dict[str, Any]:
    import jsonschema

    jsonschema.Draft7Validator(json.loads(CHATBOX_SCHEMA.read_text())).validate(doc)
    return doc


def test_chatbox_schema_rejects_what_chatbox_rejects() -> None:
    import jsonschema

    good = {"id": "minimal-provider", "name": "Minimal Provider", "type": "openai",
            "settings": {"apiHost": "https://api.minimal.com"}}   # the note's minimal valid example
    chatbox_valid(good)
    for bad in ({**good, "type": "gemini"}, {k: v for k, v in good.items() if k != "name"},
                {**good, "settings": {"apiHost": "h", "models": [{"modelId": "m", "capabilities": ["web_search"]}]}}):
        with pytest.raises(jsonschema.ValidationError):
            chatbox_valid(bad)


def test_chatbox_config_from_the_namespace(fake: FakeApiServer) -> None:
    """Three models (reasoning + tools, multimodal + tools, tools only), an external and an alias: the generated
    provider config lists each route with the plan's context and capabilities, and passes Chatbox's schema."""
    import base64
    from urllib.parse import unquote

    plans = {}
    for model, gpu, name in (("Qwen/Qwen3-8B", "L40", "qwen3-8b"), ("google/gemma-3-27b-it", "H100-80GB", "gemma"),
                             ("meta-llama/Llama-3.1-8B-Instruct", "A100-40GB", "llama")):
        plans[name] = json.loads(kllm("plan", model, "--gpu", gpu, "-o", "json").stdout)
        kllm("add", model, "--gpu", gpu, "--name", name)
    api_key_secret(fake)
    kllm(*EXTERNAL)
    kllm("alias", "chat", "--to", "qwen3-8b,llama")

    doc = chatbox_valid(json.loads(kllm("chatbox", "--api-host", "https://ellm.example.org").stdout))
    assert (doc["id"], doc["name"], doc["type"]) == ("kubectl-llm-llm", "llm", "openai")
    assert doc["settings"]["apiHost"] == "https://ellm.example.org" and doc["settings"]["apiKey"] == ""
    models = {m["modelId"]: m for m in doc["settings"]["models"]}
    ctx = {n: p["serving"]["max_model_len"] for n, p in plans.items()}
    assert (ctx["qwen3-8b"], ctx["gemma"], ctx["llama"]) == (40960, 131072, 131072)
    assert models == {
        "qwen3-8b": {"modelId": "qwen3-8b", "capabilities": ["reasoning", "tool_use"], "contextWindow": 40960},
        # gemma-3: its recipes name no tool-call parser, so no tool_use
        "gemma": {"modelId": "gemma", "capabilities": ["vision"], "contextWindow": 131072},
        "llama": {"modelId": "llama", "capabilities": ["tool_use"], "contextWindow": 131072},
        # an external's engine is elsewhere: its name only; an alias: what every target offers, the smallest window
        "qwen3-nairr": {"modelId": "qwen3-nairr"},
        "chat": {"modelId": "chat", "capabilities": ["tool_use"], "contextWindow": 40960},
    }
    assert list(models) == sorted(models)   # deterministic order: a re-generated template diffs cleanly

    # The deep link carries the same document, base64 of the JSON, URL-encoded.
    link = kllm("chatbox", "--api-host", "https://ellm.example.org", "--id", "nrp", "--name", "NRP", "-o",
                "link").stdout.strip()
    assert link.startswith("chatbox://provider/import?config=")
    decoded = json.loads(base64.b64decode(unquote(link.split("config=", 1)[1])))
    assert decoded == {**doc, "id": "nrp", "name": "NRP"}
    assert yaml.safe_load(kllm("chatbox", "--api-host", "https://ellm.example.org", "-o", "yaml").stdout) == doc

    # Without --api-host: the address of the Gateway the routes attach to; with none known, one error and a hint.
    assert "no gateway address known for namespace llm" in failed("chatbox")
    fake.create_object({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                        "metadata": {"name": "envoy-ai-gateway-nrp", "namespace": NS},
                        "spec": {"gatewayClassName": "llm", "listeners": [{"name": "http", "port": 80,
                                                                           "protocol": "HTTP"}]},
                        "status": {"addresses": [{"type": "IPAddress", "value": "10.0.0.42"}]}})
    assert json.loads(kllm("chatbox").stdout)["settings"]["apiHost"] == "http://10.0.0.42"


def test_chatbox_without_routes_finds_the_gateway_of_the_site_in_effect(fake: FakeApiServer, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: with no route in the namespace the address was looked up on a Gateway named envoy-ai-gateway-nrp
    (NRP's name, in code), whatever the site: another site's admin got 'no gateway address known'."""
    site = tmp_path / "site.yaml"
    site.write_text("name: my-cluster\ngateway:\n  parentRefs: [{name: ai-gw}]\n")
    monkeypatch.setenv("KUBECTL_LLM_SITE", str(site))
    fake.create_object({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                        "metadata": {"name": "ai-gw", "namespace": NS},
                        "spec": {"gatewayClassName": "llm", "listeners": [{"name": "http", "port": 80,
                                                                           "protocol": "HTTP"}]},
                        "status": {"addresses": [{"type": "IPAddress", "value": "10.0.0.7"}]}})
    result = kllm("chatbox")
    assert json.loads(result.stdout)["settings"]["apiHost"] == "http://10.0.0.7"
    assert "no models in namespace llm" in result.stderr
