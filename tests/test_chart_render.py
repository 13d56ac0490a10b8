"""Rendering of both charts with the real Helm 4 and Helm 3 binaries, every object validated strictly offline.

Covers issue 3: every ci scenario renders with both helms into identical, schema-valid objects; the right kinds per
mode; the model label on every object; nothing outside the release but the test hook (clean uninstall); the PVC
kept only on request; startup probe arithmetic; aigateway API version selection; cross-field value checks.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from tests.conftest import HELM_BINARIES, REPO_ROOT, chart_scenarios, scenario_release
from tests.manifest_validation import HelmTemplateError, render_chart, run_helm, validate_objects

MODEL_CHART = REPO_ROOT / "charts" / "llm-model"
CHART_VERSION = yaml.safe_load((MODEL_CHART / "Chart.yaml").read_text())["version"]
GATEWAY_CHART = REPO_ROOT / "charts" / "llm-gateway"
SCENARIOS = chart_scenarios()
MODEL_SCENARIOS = [s for c, s in SCENARIOS if c == "llm-model"]
GATEWAY_SCENARIOS = [s for c, s in SCENARIOS if c == "llm-gateway"]

# the gateway's `helm test`: a Pod, and the ServiceAccount + Role + RoleBinding that let it read the Gateway's address
GATEWAY_TEST_KINDS = ["Pod", "Role", "RoleBinding", "ServiceAccount"]
MODEL_KINDS = ["AIGatewayRoute", "AIServiceBackend", "Backend", "Deployment", "PersistentVolumeClaim", "Pod", "Service"]
EXPECTED_KINDS = {
    ("llm-model", "01-default-values.yaml"): MODEL_KINDS,
    ("llm-model", "02-minimax-handbook-values.yaml"): MODEL_KINDS,
    ("llm-model", "03-qwen3-handbook-values.yaml"): sorted(MODEL_KINDS + ["BackendSecurityPolicy"]),
    ("llm-model", "04-external-apikey-values.yaml"): ["AIGatewayRoute", "AIServiceBackend", "Backend", "BackendSecurityPolicy"],
    ("llm-model", "05-alias-roundrobin-values.yaml"): ["AIGatewayRoute"],
    ("llm-model", "06-alias-priority-values.yaml"): ["AIGatewayRoute", "BackendTrafficPolicy"],
    ("llm-model", "07-v1beta1-values.yaml"): sorted(MODEL_KINDS + ["BackendSecurityPolicy"]),
    ("llm-model", "08-sglang-values.yaml"): MODEL_KINDS,
    ("llm-model", "09-multinode-lws-values.yaml"): ["AIGatewayRoute", "AIServiceBackend", "Backend", "LeaderWorkerSet",
                                                   "Pod", "Service"],
    ("llm-model", "10-replicas-statefulset-values.yaml"): ["AIGatewayRoute", "AIServiceBackend", "Backend", "Pod",
                                                          "Service", "StatefulSet"],
    ("llm-gateway", "01-default-values.yaml"): sorted(
        ["ClientTrafficPolicy", "ConfigMap", "EnvoyProxy", "Gateway", "GatewayClass"] + GATEWAY_TEST_KINDS),
    ("llm-gateway", "02-auth-ratelimit-values.yaml"): sorted([
        "BackendTrafficPolicy", "ClientTrafficPolicy", "ConfigMap", "EnvoyProxy", "Gateway", "GatewayClass", "SecurityPolicy",
    ] + GATEWAY_TEST_KINDS),
    ("llm-gateway", "03-jwt-existing-class-values.yaml"): sorted(
        ["ClientTrafficPolicy", "ConfigMap", "Gateway", "SecurityPolicy"] + GATEWAY_TEST_KINDS),
}


def by_kind(objs: list[dict], kind: str) -> dict:
    matches = [o for o in objs if o["kind"] == kind]
    assert len(matches) == 1, f"expected one {kind}, got {len(matches)}"
    return matches[0]


def engine_container(objs: list[dict]) -> dict:
    return by_kind(objs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


# --- every scenario, both helms ---------------------------------------------------------------------------------
def test_every_scenario_has_an_expectation() -> None:
    assert sorted(EXPECTED_KINDS) == sorted(SCENARIOS)


@pytest.mark.parametrize("helm", HELM_BINARIES)
@pytest.mark.parametrize(("chart", "scenario"), SCENARIOS)
def test_scenario_renders_strictly_valid_objects(rendered_scenarios, helm, chart, scenario) -> None:
    objs = rendered_scenarios[(helm, chart, scenario)]
    assert sorted(o["kind"] for o in objs) == EXPECTED_KINDS[(chart, scenario)]
    validate_objects(objs)


@pytest.mark.parametrize(("chart", "scenario"), SCENARIOS)
def test_helm3_and_helm4_render_the_same_objects(rendered_scenarios, chart, scenario) -> None:
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    helm4 = sorted(rendered_scenarios[("helm", chart, scenario)], key=key)
    helm3 = sorted(rendered_scenarios[("helm3", chart, scenario)], key=key)
    assert helm4 == helm3


@pytest.mark.parametrize("scenario", MODEL_SCENARIOS)
def test_every_model_object_carries_the_model_label(rendered_scenarios, scenario) -> None:
    release = scenario_release(scenario)
    for obj in rendered_scenarios[("helm", "llm-model", scenario)]:
        labels = obj["metadata"]["labels"]
        assert labels["llm.nrp-nautilus.io/model"] == release, obj["kind"]
        assert labels["app.kubernetes.io/instance"] == release
        assert labels["app.kubernetes.io/part-of"] == "kubectl-llm"
        assert labels["helm.sh/chart"] == f"llm-model-{CHART_VERSION}"
        assert obj["metadata"]["namespace"] == "nrp-llm"
        if obj["kind"] == "Deployment":  # the Pods too, so `kubectl get pods -l` finds them
            assert obj["spec"]["template"]["metadata"]["labels"]["llm.nrp-nautilus.io/model"] == release
        if obj["kind"] == "LeaderWorkerSet":  # leader, workers and their PVCs
            lwt = obj["spec"]["leaderWorkerTemplate"]
            for tmpl in (lwt["leaderTemplate"], lwt["workerTemplate"], *lwt["volumeClaimTemplates"]):
                assert tmpl["metadata"]["labels"]["llm.nrp-nautilus.io/model"] == release


@pytest.mark.parametrize("scenario", GATEWAY_SCENARIOS)
def test_every_gateway_object_carries_the_gateway_label_not_a_model_label(rendered_scenarios, scenario) -> None:
    for obj in rendered_scenarios[("helm", "llm-gateway", scenario)]:
        labels = obj["metadata"]["labels"]
        assert labels["llm.nrp-nautilus.io/gateway"] == "r"
        assert "llm.nrp-nautilus.io/model" not in labels  # model inventory must not list the shared objects


@pytest.mark.parametrize(("chart", "scenario"), SCENARIOS)
def test_uninstall_leaves_nothing(rendered_scenarios, chart, scenario) -> None:
    """Only the helm test objects are hooks (deleted on success / before re-creation): the model's test Pod, the
    gateway's test Pod with its ServiceAccount, Role and RoleBinding; nothing is kept but a PVC asked for with
    storage.keep (only the sglang scenario asks)."""
    hook_kinds = {"Pod"} if chart == "llm-model" else set(GATEWAY_TEST_KINDS)
    for obj in rendered_scenarios[("helm", chart, scenario)]:
        annotations = obj["metadata"].get("annotations", {})
        if "helm.sh/hook" in annotations:
            assert obj["kind"] in hook_kinds and annotations["helm.sh/hook"] == "test", obj["kind"]
            assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
        kept = annotations.get("helm.sh/resource-policy") == "keep"
        assert kept == (obj["kind"] == "PersistentVolumeClaim" and scenario == "08-sglang-values.yaml"), obj["kind"]


def test_selector_labels_are_minimal_and_exclude_the_test_pod(rendered_scenarios) -> None:
    objs = rendered_scenarios[("helm", "llm-model", "01-default-values.yaml")]
    selector = {"app.kubernetes.io/name": "llm-model", "app.kubernetes.io/instance": "r", "app.kubernetes.io/component": "inference"}
    assert by_kind(objs, "Deployment")["spec"]["selector"]["matchLabels"] == selector
    assert by_kind(objs, "Service")["spec"]["selector"] == selector
    test_pod_labels = by_kind(objs, "Pod")["metadata"]["labels"]
    assert test_pod_labels["app.kubernetes.io/component"] == "test"  # so the Service never routes to it


# --- inference objects ------------------------------------------------------------------------------------------
def test_default_deployment_wires_values_into_the_pod(rendered_scenarios) -> None:
    objs = rendered_scenarios[("helm", "llm-model", "01-default-values.yaml")]
    dep = by_kind(objs, "Deployment")
    assert dep["spec"]["strategy"] == {"type": "Recreate"}  # GPUs cannot be double-booked during a rollout
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert c["args"][:6] == ["--port", "5000", "--host", "0.0.0.0", "--model", "Qwen/Qwen3-8B"]
    # optional: a model installed without the llm-gateway chart (no shared ConfigMap) still starts
    assert c["envFrom"] == [{"configMapRef": {"name": "llm-engine-config", "optional": True}}]
    # the caches on the weights claim come from the chart itself (storage.cacheEnv), not from that ConfigMap, so a
    # model in a namespace without it (a Gateway installed elsewhere) still keeps them on its PVC
    assert c["env"] == [
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token", "optional": True}}},
        {"name": "HF_HOME", "value": "/workspace/.cache/huggingface"},
        {"name": "VLLM_CACHE_ROOT", "value": "/workspace/.cache/vllm"},
    ]
    assert c["resources"] == {
        "requests": {"cpu": "4", "memory": "12Gi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "4", "memory": "20Gi", "nvidia.com/gpu": "1"},
    }
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http": 5000}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert {m["name"]: (m["mountPath"], m.get("subPath")) for m in c["volumeMounts"]} == {
        "shm": ("/dev/shm", None),
        "cache": ("/workspace/.cache", "cache"),
    }
    assert {v["name"]: v for v in pod["volumes"]}["shm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "16Gi"}
    assert {v["name"]: v for v in pod["volumes"]}["cache"]["persistentVolumeClaim"] == {"claimName": "r"}
    # cluster-neutral defaults: no priority class, no tolerations, the cluster's default StorageClass (a site
    # profile fills NRP's through the planner, tests/test_site.py)
    assert "priorityClassName" not in pod and "tolerations" not in pod
    assert pod["securityContext"] == {"runAsUser": 0, "runAsGroup": 0, "runAsNonRoot": False}
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                    "runAsNonRoot": False}
    for key in ("imagePullSecrets", "nodeSelector", "serviceAccountName", "runtimeClassName"):
        assert key not in pod
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["80000"]}]}]
    svc = by_kind(objs, "Service")
    assert svc["spec"]["ports"] == [{"name": "http", "port": 5000, "targetPort": "http", "protocol": "TCP"}]
    pvc = by_kind(objs, "PersistentVolumeClaim")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert "storageClassName" not in pvc["spec"]


def test_gpu_resource_name_from_values_in_requests_and_limits(rendered_scenarios) -> None:
    resources = engine_container(rendered_scenarios[("helm", "llm-model", "02-minimax-handbook-values.yaml")])["resources"]
    assert resources["requests"]["nvidia.com/a100"] == resources["limits"]["nvidia.com/a100"] == "4"
    assert "nvidia.com/gpu" not in resources["requests"] and "nvidia.com/gpu" not in resources["limits"]


@pytest.mark.parametrize(
    ("scenario", "threshold"),
    [
        # ceil(16.4e9 B / 50e6 B/s) = 328 s, + 900 s load = 1228 s; ceil(1228 / 10) = 123
        ("01-default-values.yaml", 123),
        # 230e9 / 50e6 = 4600 s, + 1800 s = 6400 s; 6400 / 10 = 640
        ("02-minimax-handbook-values.yaml", 640),
        # 236e9 / 50e6 = 4720 s, + 1800 s = 6520 s; 6520 / 10 = 652
        ("03-qwen3-handbook-values.yaml", 652),
        # 65.5e9 / 50e6 = 1310 s, + 900 s = 2210 s; 2210 / 10 = 221
        ("08-sglang-values.yaml", 221),
    ],
)
def test_startup_probe_allows_download_plus_load(rendered_scenarios, scenario, threshold) -> None:
    probe = engine_container(rendered_scenarios[("helm", "llm-model", scenario)])["startupProbe"]
    assert (probe["periodSeconds"], probe["failureThreshold"]) == (10, threshold)


def test_startup_probe_rounds_both_divisions_up(helm_bin) -> None:
    # download: ceil(1_000_000_001 / 100_000_000) = ceil(10.00000001) = 11 s; load 3 s -> 14 s;
    # probes: ceil(14 / 4) = ceil(3.5) = 4
    probes = {"weightBytes": 1_000_000_001, "downloadBytesPerSecond": 100_000_000, "loadSeconds": 3, "periodSeconds": 4}
    objs = render_chart(MODEL_CHART, {"probes": probes}, helm=helm_bin)
    assert engine_container(objs)["startupProbe"]["failureThreshold"] == 4


def test_keep_and_existing_claim(helm_bin) -> None:
    kept = by_kind(render_chart(MODEL_CHART, {"storage": {"keep": True}}, helm=helm_bin), "PersistentVolumeClaim")
    assert kept["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    objs = render_chart(MODEL_CHART, {"storage": {"existingClaim": "shared-weights"}}, helm=helm_bin)
    assert "PersistentVolumeClaim" not in [o["kind"] for o in objs]
    volumes = {v["name"]: v for v in by_kind(objs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["cache"]["persistentVolumeClaim"] == {"claimName": "shared-weights"}
    validate_objects(objs)


def test_no_hf_token_and_no_configmap_when_unset(helm_bin) -> None:
    values = {"engine": {"hfTokenSecret": {"name": ""}, "configMapName": "", "env": []}, "storage": {"cacheEnv": False}}
    c = engine_container(render_chart(MODEL_CHART, values, helm=helm_bin))
    assert "env" not in c and "envFrom" not in c


@pytest.mark.parametrize(("values", "expected"), [
    # another mount path: the caches follow it (trailing slash trimmed)
    ({"storage": {"mountPath": "/models/"}, "engine": {"hfTokenSecret": {"name": ""}}},
     [{"name": "HF_HOME", "value": "/models/huggingface"}, {"name": "VLLM_CACHE_ROOT", "value": "/models/vllm"}]),
    # SGLang has no VLLM_* variable
    ({"engine": {"name": "sglang", "hfTokenSecret": {"name": ""}}},
     [{"name": "HF_HOME", "value": "/workspace/.cache/huggingface"}]),
    # a name engine.env sets wins, rendered once
    ({"engine": {"hfTokenSecret": {"name": ""}, "env": [{"name": "HF_HOME", "value": "/scratch/hf"}]}},
     [{"name": "VLLM_CACHE_ROOT", "value": "/workspace/.cache/vllm"}, {"name": "HF_HOME", "value": "/scratch/hf"}]),
])
def test_cache_env_points_at_the_claim(helm_bin, values, expected) -> None:
    objs = render_chart(MODEL_CHART, values, helm=helm_bin)
    assert engine_container(objs)["env"] == expected
    validate_objects(objs)


def test_long_name_override_is_truncated_for_every_object(helm_bin) -> None:
    # 63-character override: base cut to 63 - len("-test") = 58, so the test Pod name is exactly 63
    name = "m" * 63
    objs = render_chart(MODEL_CHART, {"nameOverride": name}, helm=helm_bin)
    names = {o["kind"]: o["metadata"]["name"] for o in objs}
    assert names["Deployment"] == names["Service"] == names["AIGatewayRoute"] == "m" * 58
    assert names["Pod"] == "m" * 58 + "-test"
    assert max(len(n) for n in names.values()) == 63
    validate_objects(objs)


# --- gateway objects ----------------------------------------------------------------------------------------------
def test_default_gateway_objects(rendered_scenarios) -> None:
    objs = rendered_scenarios[("helm", "llm-model", "01-default-values.yaml")]
    assert by_kind(objs, "Backend")["spec"] == {"endpoints": [{"fqdn": {"hostname": "r.nrp-llm.svc.cluster.local", "port": 5000}}]}
    asb = by_kind(objs, "AIServiceBackend")
    assert asb["apiVersion"] == "aigateway.envoyproxy.io/v1alpha1"
    assert asb["spec"] == {"schema": {"name": "OpenAI"}, "backendRef": {"name": "r", "kind": "Backend", "group": "gateway.envoyproxy.io"}}
    route = by_kind(objs, "AIGatewayRoute")["spec"]
    assert route["parentRefs"] == [{"name": "envoy-ai-gateway", "kind": "Gateway", "group": "gateway.networking.k8s.io"}]
    assert route["rules"] == [
        {
            "matches": [{"headers": [{"type": "Exact", "name": "x-ai-eg-model", "value": "r"}]}],
            "backendRefs": [{"name": "r", "modelNameOverride": "Qwen/Qwen3-8B"}],
            "timeouts": {"request": "1200s"},
            "modelsOwnedBy": "kubectl-llm",
        }
    ]
    assert [c["type"] for c in route["llmRequestCosts"]] == ["InputToken", "OutputToken", "TotalToken"]


def test_external_backend_points_outside_with_tls_and_api_key(rendered_scenarios) -> None:
    objs = rendered_scenarios[("helm", "llm-model", "04-external-apikey-values.yaml")]
    backend = by_kind(objs, "Backend")["spec"]
    assert backend["endpoints"] == [{"fqdn": {"hostname": "llm.sdsc.example.org", "port": 443}}]
    assert backend["tls"] == {"wellKnownCACertificates": "System", "sni": "llm.sdsc.example.org"}
    policy = by_kind(objs, "BackendSecurityPolicy")["spec"]
    assert policy == {
        "type": "APIKey",
        "apiKey": {"secretRef": {"name": "sdsc-nairr-apikey", "namespace": "nrp-llm"}},
        "targetRefs": [{"name": "qwen3-nairr", "kind": "AIServiceBackend", "group": "aigateway.envoyproxy.io"}],
    }
    rule = by_kind(objs, "AIGatewayRoute")["spec"]["rules"][0]
    assert rule["matches"][0]["headers"][0]["value"] == "qwen3-nairr"
    assert rule["modelsOwnedBy"] == "SDSC"


def test_external_backend_by_ip(helm_bin) -> None:
    values = {"mode": "external", "gateway": {"external": {"ip": "10.1.2.3", "port": 8000, "tls": False}}}
    objs = render_chart(MODEL_CHART, values, helm=helm_bin)
    assert by_kind(objs, "Backend")["spec"] == {"endpoints": [{"ip": {"address": "10.1.2.3", "port": 8000}}]}
    validate_objects(objs)


@pytest.mark.parametrize(
    ("scenario", "refs"),
    [
        ("05-alias-roundrobin-values.yaml", [("qwen", 1, None), ("qwen3-nairr", 1, None)]),
        ("06-alias-priority-values.yaml", [("qwen", None, 0), ("qwen3-nairr", None, 1)]),
    ],
)
def test_alias_routes_to_other_releases(rendered_scenarios, scenario, refs) -> None:
    rule = by_kind(rendered_scenarios[("helm", "llm-model", scenario)], "AIGatewayRoute")["spec"]["rules"][0]
    got = [(r["name"], r.get("weight"), r.get("priority")) for r in rule["backendRefs"]]
    assert got == refs
    assert {r["modelNameOverride"] for r in rule["backendRefs"]} == {"Qwen/Qwen3-235B-A22B-Thinking-2507-FP8"}
    # the alias names are the AIServiceBackends the referenced scenarios create
    qwen = by_kind(rendered_scenarios[("helm", "llm-model", "03-qwen3-handbook-values.yaml")], "AIServiceBackend")
    nairr = by_kind(rendered_scenarios[("helm", "llm-model", "04-external-apikey-values.yaml")], "AIServiceBackend")
    assert [r["name"] for r in rule["backendRefs"]] == [qwen["metadata"]["name"], nairr["metadata"]["name"]]


AIGATEWAY_KINDS = ("AIGatewayRoute", "AIServiceBackend", "BackendSecurityPolicy")


@pytest.mark.parametrize("helm", HELM_BINARIES)
@pytest.mark.parametrize(
    ("forced", "cluster_serves", "expected"),
    [
        ("", (), "v1alpha1"),  # today's NRP (AI Gateway v0.5): only v1alpha1
        ("", ("aigateway.envoyproxy.io/v1beta1/AIGatewayRoute",), "v1beta1"),  # auto-detected (v0.6+)
        ("v1alpha1", ("aigateway.envoyproxy.io/v1beta1/AIGatewayRoute",), "v1alpha1"),  # forced down
        ("v1beta1", (), "v1beta1"),  # forced up
    ],
)
def test_aigateway_api_version(helm_bins, helm, forced, cluster_serves, expected) -> None:
    values = {"gateway": {"apiVersion": forced, "apiKeySecret": {"name": "k"}}}
    objs = render_chart(MODEL_CHART, values, helm=helm_bins[helm], api_versions=cluster_serves)
    versions = {o["kind"]: o["apiVersion"] for o in objs}
    for kind in AIGATEWAY_KINDS:
        assert versions[kind] == f"aigateway.envoyproxy.io/{expected}"
    assert versions["Backend"] == "gateway.envoyproxy.io/v1alpha1"  # Envoy Gateway's, unaffected
    validate_objects(objs)


def test_gateway_disabled_renders_inference_only(helm_bin) -> None:
    objs = render_chart(MODEL_CHART, {"gateway": {"enabled": False}}, helm=helm_bin)
    assert sorted(o["kind"] for o in objs) == ["Deployment", "PersistentVolumeClaim", "Pod", "Service"]


# --- cross-field checks ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("helm", HELM_BINARIES)
def test_invalid_combinations_fail_once_with_every_message(helm_bins, helm) -> None:
    values = {
        "mode": "external",  # no hostname/ip
        "gateway": {"alias": {"backends": [{"name": "x"}]}},  # alias backends outside mode alias
        "storage": {"existingClaim": "pvc", "keep": True},
    }
    with pytest.raises(HelmTemplateError) as err:
        render_chart(MODEL_CHART, values, helm=helm_bins[helm])
    stderr = err.value.stderr
    assert "mode external needs gateway.external.hostname or gateway.external.ip" in stderr
    assert "gateway.alias.backends is only used with mode alias (mode is external)" in stderr
    assert "storage.keep only applies to the PVC this chart creates" in stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mode": "alias"}, "mode alias needs gateway.alias.backends"),
        ({"mode": "alias", "gateway": {"enabled": False, "alias": {"backends": [{"name": "a"}]}}}, "gateway.enabled must be true"),
        ({"mode": "external", "gateway": {"external": {"hostname": "a.example.org", "ip": "10.0.0.1"}}}, "set hostname or ip, not both"),
        ({"mode": "alias", "gateway": {"apiKeySecret": {"name": "k"}, "alias": {"backends": [{"name": "a"}]}}}, "gateway.apiKeySecret must be empty"),
        ({"engine": {"args": []}}, "mode model needs engine.args"),
    ],
)
def test_each_rule_of_validate_values(helm_bin, values, message) -> None:
    with pytest.raises(HelmTemplateError, match="llm-model: invalid values") as err:
        render_chart(MODEL_CHART, values, helm=helm_bin)
    assert message in err.value.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"auth": {"type": "apiKey"}}, "auth.type apiKey needs auth.apiKey.secretName"),
        ({"auth": {"type": "jwt"}}, "auth.type jwt needs auth.jwt.providers"),
        ({"gatewayClass": {"create": False, "name": ""}}, "gatewayClass.create false needs gatewayClass.name"),
        ({"engineConfig": {"env": {"HF_TOKEN": "hf_abc"}}}, "engineConfig.env.HF_TOKEN looks like a secret"),
    ],
)
def test_gateway_chart_rules(helm_bin, values, message) -> None:
    with pytest.raises(HelmTemplateError, match="llm-gateway: invalid values") as err:
        render_chart(GATEWAY_CHART, values, helm=helm_bin)
    assert message in err.value.stderr
    assert "hf_abc" not in err.value.stderr  # the refused value itself is never echoed


def test_gateway_chart_objects(rendered_scenarios) -> None:
    objs = rendered_scenarios[("helm", "llm-gateway", "02-auth-ratelimit-values.yaml")]
    gateway_ref = [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "envoy-ai-gateway"}]
    assert by_kind(objs, "GatewayClass")["spec"]["parametersRef"] == {
        "group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": "r", "namespace": "nrp-llm",
    }
    assert [l["port"] for l in by_kind(objs, "Gateway")["spec"]["listeners"]] == [80, 443]
    ctp = by_kind(objs, "ClientTrafficPolicy")["spec"]
    assert ctp["targetRefs"] == gateway_ref
    assert ctp["timeout"]["http"]["streamIdleTimeout"] == "1200s"
    sp = by_kind(objs, "SecurityPolicy")["spec"]
    assert sp["targetRefs"] == gateway_ref
    assert sp["apiKeyAuth"]["credentialRefs"] == [{"group": "", "kind": "Secret", "name": "llm-client-keys"}]
    assert sp["apiKeyAuth"]["sanitize"] is True
    rule = by_kind(objs, "BackendTrafficPolicy")["spec"]["rateLimit"]["global"]["rules"][0]
    assert rule["limit"] == {"requests": 2000000, "unit": "Day"}
    assert [h["name"] for h in rule["clientSelectors"][0]["headers"]] == ["x-llm-client-id", "x-ai-eg-model"]
    assert rule["cost"]["response"] == {"from": "Metadata", "metadata": {"namespace": "io.envoy.ai_gateway", "key": "llm_total_token"}}
    cm = by_kind(objs, "ConfigMap")
    assert cm["metadata"]["name"] == "llm-engine-config"  # llm-model's engine.configMapName default
    assert cm["data"]["HF_HOME"] == "/workspace/.cache/huggingface"


def test_model_and_gateway_defaults_fit_together(rendered_scenarios) -> None:
    gw = rendered_scenarios[("helm", "llm-gateway", "01-default-values.yaml")]
    model = rendered_scenarios[("helm", "llm-model", "01-default-values.yaml")]
    assert by_kind(model, "AIGatewayRoute")["spec"]["parentRefs"][0]["name"] == by_kind(gw, "Gateway")["metadata"]["name"]
    assert engine_container(model)["envFrom"][0]["configMapRef"]["name"] == by_kind(gw, "ConfigMap")["metadata"]["name"]
    # --download-dir of the planner's args sits in HF_HOME/hub on the mounted PVC
    args = engine_container(model)["args"]
    assert args[args.index("--download-dir") + 1] == by_kind(gw, "ConfigMap")["data"]["HF_HOME"] + "/hub"


# --- NOTES.txt (Helm 4 renders it fully offline with install --dry-run=client) -------------------------------------
def test_notes_show_served_name_route_and_curl(helm_bin) -> None:
    out = run_helm(
        ["install", "qwen", str(MODEL_CHART), "--namespace", "nrp-llm", "--dry-run=client", "-o", "json"],
        {"gateway": {"routeName": "qwen3", "url": "https://llm.example.org"}},
        helm=helm_bin,
    )
    notes = json.loads(out)["info"]["notes"]
    assert "Served name  Qwen/Qwen3-8B" in notes
    assert '"model": "qwen3"' in notes
    assert "curl -s https://llm.example.org/v1/chat/completions -H 'Content-Type: application/json'" in notes
    assert '"model":"qwen3"' in notes
    assert "helm test qwen -n nrp-llm" in notes
    # startup allowance = 123 probes x 10 s
    assert "the startup probe allows\n1230 s" in notes
    assert "rollout status deployment/qwen --timeout=1830s" in notes  # the allowance + 10 minutes


def test_helm_missing_fails_loudly() -> None:
    with pytest.raises(AssertionError, match="not found on PATH"):
        render_chart(MODEL_CHART, {}, helm="helm-does-not-exist")


def test_run_helm_reports_stderr(helm_bin) -> None:
    with pytest.raises(HelmTemplateError) as err:
        run_helm(["template", "r", str(REPO_ROOT / "charts" / "no-such-chart")], helm=helm_bin)
    assert "no-such-chart" in err.value.stderr
    assert subprocess.run([helm_bin, "version"], capture_output=True).returncode == 0


@pytest.mark.parametrize(("chart", "scenario"), SCENARIOS)
def test_notes_render_for_every_scenario(helm_bin, chart, scenario) -> None:
    """NOTES.txt is only rendered at install time (not by `helm template`): a bug there would break installs."""
    chart_dir = REPO_ROOT / "charts" / chart
    release = scenario_release(scenario)
    out = run_helm(
        ["install", release, str(chart_dir), "--namespace", "nrp-llm", "--dry-run=client", "-o", "json",
         "--values", str(chart_dir / "ci" / scenario)],
        helm=helm_bin,
    )
    notes = json.loads(out)["info"]["notes"]
    if chart == "llm-model":
        assert f"kubectl llm rm {release} -n nrp-llm" in notes
        assert "/v1/chat/completions" in notes and '"model":"' in notes
    else:
        assert "kubectl -n nrp-llm get gateway envoy-ai-gateway" in notes
