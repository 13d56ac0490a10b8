"""The charts reproduce the NRP handbook's hand-made objects (../shared/seed/000_fac1fc4630e002f9.txt).

The handbook's YAML is copied below (its web rendering lost the indentation; restored by hand, no value changed,
comments dropped). Each handbook object is compared field by field - every leaf the handbook sets - with what the
chart renders for the matching ci scenario. Every difference must be listed in ALLOWED with the reason it is an
improvement; a listed difference that no longer occurs fails too, so the list stays true.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from kubernetes.utils import parse_quantity

from tests.manifest_validation import validate_objects

HANDBOOK_MINIMAX = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: minimax-vllm-inference
  namespace: nrp-llm
spec:
  replicas: 1
  selector:
    matchLabels:
      app: minimax-vllm-inference
  template:
    metadata:
      labels:
        app: minimax-vllm-inference
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - key: nvidia.com/gpu.memory
                    operator: Gt
                    values:
                      - "80000"
                  - key: nvidia.com/cuda.driver.major
                    operator: Gt
                    values:
                      - "565"
      containers:
        - args:
            - |
              python3 -m vllm.entrypoints.openai.api_server --port 5000 --host 0.0.0.0 --download-dir /workspace/.cache/huggingface/hub --model MiniMaxAI/MiniMax-M2.5 --tensor-parallel-size 4 --trust-remote-code --enable-chunked-prefill --enable-prefix-caching --max-num-seqs 128 --gpu-memory-utilization 0.95 --max-model-len 262144 --hf-overrides '{"max_position_embeddings": 262144, "rope_scaling": {"type": "dynamic", "factor": 1.5, "original_max_position_embeddings": 196608}}' --enable-auto-tool-choice --tool-call-parser minimax_m2 --reasoning-parser minimax_m2
          command:
            - bash
            - -c
          env:
          envFrom:
            - configMapRef:
                name: qwen-vllm-inference-config
          image: vllm/vllm-openai:v0.17.0
          name: minimax-vllm-inference
          ports:
            - containerPort: 5000
              name: http
              protocol: TCP
          resources:
            limits:
              cpu: "10"
              memory: 360Gi
              nvidia.com/a100: "4"
            requests:
              cpu: "10"
              memory: 160Gi
              nvidia.com/a100: "4"
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop:
                - ALL
            runAsNonRoot: false
          volumeMounts:
            - mountPath: /dev/shm
              name: shm
            - mountPath: /workspace/.cache
              name: minimax-inference-volume
              subPath: cache
      priorityClassName: owner
      securityContext:
        runAsGroup: 0
        runAsNonRoot: false
        runAsUser: 0
      tolerations:
        - effect: NoSchedule
          key: nautilus.io/reservation
          value: nrp-llm
        - effect: PreferNoSchedule
          key: nvidia.com/gpu
          operator: Exists
      volumes:
        - name: minimax-inference-volume
          persistentVolumeClaim:
            claimName: minimax-inference-volume
        - emptyDir:
            medium: Memory
            sizeLimit: 10995116277760m
          name: shm
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: minimax-inference-volume
  namespace: nrp-llm
spec:
  accessModes:
    - ReadWriteOnce
  resources:
    requests:
      storage: 256Gi
  storageClassName: linstor-igrok
  volumeMode: Filesystem
---
apiVersion: v1
kind: Service
metadata:
  labels:
    component: llm
  name: minimax-vllm-inference
  namespace: nrp-llm
spec:
  ports:
    - name: http
      port: 5000
      protocol: TCP
      targetPort: 5000
  selector:
    app: minimax-vllm-inference
  type: ClusterIP
"""

HANDBOOK_QWEN = """
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata:
  name: envoy-ai-gateway-nrp-qwen
  namespace: nrp-llm
spec:
  llmRequestCosts:
    - metadataKey: llm_input_token
      type: InputToken
    - metadataKey: llm_output_token
      type: OutputToken
    - metadataKey: llm_total_token
      type: TotalToken
  parentRefs:
    - name: envoy-ai-gateway-nrp
      kind: Gateway
      group: gateway.networking.k8s.io
  rules:
    - matches:
        - headers:
            - type: Exact
              name: x-ai-eg-model
              value: qwen3
      backendRefs:
        - name: envoy-ai-gateway-nrp-qwen
          modelNameOverride: Qwen/Qwen3-235B-A22B-Thinking-2507-FP8
      timeouts:
        request: 1200s
      modelsOwnedBy: "NRP"
    - matches:
        - headers:
            - type: Exact
              name: x-ai-eg-model
              value: qwen3-nairr
      backendRefs:
        - name: envoy-ai-gateway-sdsc-nairr-qwen3
          modelNameOverride: Qwen/Qwen3-235B-A22B-Thinking-2507-FP8
      timeouts:
        request: 1200s
      modelsOwnedBy: "SDSC"
    - matches:
        - headers:
            - type: Exact
              name: x-ai-eg-model
              value: qwen3-combined
      backendRefs:
        - name: envoy-ai-gateway-nrp-qwen
          modelNameOverride: Qwen/Qwen3-235B-A22B-Thinking-2507-FP8
        - name: envoy-ai-gateway-sdsc-nairr-qwen3
          modelNameOverride: Qwen/Qwen3-235B-A22B-Thinking-2507-FP8
      timeouts:
        request: 1200s
      modelsOwnedBy: "NRP"
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata:
  name: envoy-ai-gateway-nrp-qwen
  namespace: nrp-llm
spec:
  schema:
    name: OpenAI
  backendRef:
    name: envoy-ai-gateway-nrp-qwen
    kind: Backend
    group: gateway.envoyproxy.io
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata:
  name: envoy-ai-gateway-nrp-qwen
  namespace: nrp-llm
spec:
  endpoints:
    - fqdn:
        hostname: qwen-vllm-inference.nrp-llm.svc.cluster.local
        port: 5000
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata:
  name: envoy-ai-gateway-nrp-apikey
  namespace: nrp-llm
spec:
  type: APIKey
  apiKey:
    secretRef:
      name: openai-apikey
      namespace: nrp-llm
  targetRefs:
    - name: envoy-ai-gateway-nrp-qwen
      kind: AIServiceBackend
      group: aigateway.envoyproxy.io
"""

NAMES = "names: one base name per release (the release name) for every object instead of hand-picked per-kind names"
SELECTOR = "labels: app.kubernetes.io/{name,instance,component} selector labels instead of `app` (immutable, standard)"
COMMAND = "command/args: the engine started directly with a list of arguments instead of a `bash -c` string"

# (handbook object, leaf path) -> why the chart differs on purpose.
ALLOWED: dict[tuple[str, str], str] = {
    ("Deployment", "metadata.name"): NAMES,
    ("Deployment", "spec.selector.matchLabels.app"): SELECTOR,
    ("Deployment", "spec.template.metadata.labels.app"): SELECTOR,
    ("Deployment", "spec.template.spec.containers.0.args"): COMMAND,
    ("Deployment", "spec.template.spec.containers.0.command"): COMMAND,
    ("Deployment", "spec.template.spec.containers.0.name"): "container name: the engine family (vllm/sglang)",
    ("Deployment", "spec.template.spec.containers.0.env"): "env: HF_TOKEN from an existing Secret (secretKeyRef)",
    ("Deployment", "spec.template.spec.containers.0.volumeMounts.1.name"): "volume name: `cache`, the same in every release",
    ("Deployment", "spec.template.spec.volumes.0.name"): "volume name: `cache`, the same in every release",
    ("Deployment", "spec.template.spec.volumes.0.persistentVolumeClaim.claimName"): NAMES,
    ("PersistentVolumeClaim", "metadata.name"): NAMES,
    ("Service", "metadata.name"): NAMES,
    ("Service", "spec.selector.app"): SELECTOR,
    ("Service", "spec.ports.0.targetPort"): "targetPort: the container port by name (http) so it follows engine.port",
    ("AIGatewayRoute", "metadata.name"): NAMES,
    ("AIGatewayRoute", "spec.rules.0.backendRefs.0.name"): NAMES,
    ("AIServiceBackend", "metadata.name"): NAMES,
    ("AIServiceBackend", "spec.backendRef.name"): NAMES,
    ("Backend", "metadata.name"): NAMES,
    ("Backend", "spec.endpoints.0.fqdn.hostname"): NAMES + " (the Service FQDN follows the release name)",
    ("BackendSecurityPolicy", "metadata.name"): NAMES + " (one policy per release instead of a shared list)",
    ("BackendSecurityPolicy", "spec.targetRefs.0.name"): NAMES,
}

# Improvements the handbook does not set at all (so not "differences"): asserted present below.
ADDITIONS = {
    "strategy Recreate": lambda dep: dep["spec"]["strategy"] == {"type": "Recreate"},
    "startup probe sized from weights and download rate": lambda dep: _c(dep)["startupProbe"]["failureThreshold"] == 640,
    "readiness and liveness on /health": lambda dep: _c(dep)["readinessProbe"]["httpGet"]["path"]
    == _c(dep)["livenessProbe"]["httpGet"]["path"]
    == "/health",
    "standard + llm.nrp-nautilus.io/model labels": lambda dep: dep["metadata"]["labels"]["llm.nrp-nautilus.io/model"] == "minimax",
}
QUANTITY_KEYS = {"cpu", "memory", "storage", "sizeLimit", "nvidia.com/a100", "nvidia.com/gpu"}
MISSING = object()


def _c(dep: dict) -> dict:
    return dep["spec"]["template"]["spec"]["containers"][0]


def apply_api_defaults(obj: dict) -> dict:
    """The API server's defaults the handbook relies on: a toleration with a value has operator Equal."""
    if obj["kind"] == "Deployment":
        for tol in obj["spec"]["template"]["spec"].get("tolerations", []):
            if "value" in tol:
                tol.setdefault("operator", "Equal")
    return obj


def same_leaf(key: str, ours: Any, theirs: Any) -> bool:
    if ours == theirs:
        return True
    if key in QUANTITY_KEYS and ours is not MISSING:
        return parse_quantity(str(ours)) == parse_quantity(str(theirs))  # "10.24Gi" == "10995116277760m"
    return False


def leaf_diffs(theirs: Any, ours: Any, path: str = "") -> list[str]:
    """Paths of every leaf the handbook sets where the rendered object differs (lists compared by index)."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        return [d for k, v in theirs.items() for d in leaf_diffs(v, ours.get(k, MISSING), f"{path}.{k}".lstrip("."))]
    if isinstance(theirs, list) and isinstance(ours, list) and len(theirs) == len(ours):
        if all(isinstance(x, (dict, list)) for x in theirs):
            return [d for i, (t, o) in enumerate(zip(theirs, ours)) for d in leaf_diffs(t, o, f"{path}.{i}")]
    return [] if same_leaf(path.rsplit(".", 1)[-1], ours, theirs) else [path]


def objects(text: str) -> list[dict]:
    return [apply_api_defaults(d) for d in yaml.safe_load_all(text) if d]


def compare(handbook: list[dict], rendered: list[dict]) -> set[tuple[str, str]]:
    ours = {o["kind"]: o for o in rendered}
    return {(hb["kind"], path) for hb in handbook for path in leaf_diffs(hb, ours[hb["kind"]])}


def test_handbook_objects_are_valid_themselves() -> None:
    # the restored handbook YAML passes the same validator (so the comparison starts from real objects)
    validate_objects(objects(HANDBOOK_MINIMAX) + objects(HANDBOOK_QWEN))


def test_minimax_deployment_pvc_service(rendered_scenarios) -> None:
    rendered = rendered_scenarios[("helm", "llm-model", "02-minimax-handbook-values.yaml")]
    diffs = compare(objects(HANDBOOK_MINIMAX), rendered)
    expected = {k for k in ALLOWED if k[0] in ("Deployment", "PersistentVolumeClaim", "Service")}
    assert diffs == expected
    dep = next(o for o in rendered if o["kind"] == "Deployment")
    for name, check in ADDITIONS.items():
        assert check(dep), name


def test_minimax_args_are_the_handbook_command_line(rendered_scenarios) -> None:
    """The one allowed command difference is only a different spelling of the same process arguments."""
    import shlex

    dep = next(o for o in rendered_scenarios[("helm", "llm-model", "02-minimax-handbook-values.yaml")] if o["kind"] == "Deployment")
    handbook_dep = objects(HANDBOOK_MINIMAX)[0]
    argv = shlex.split(_c(handbook_dep)["args"][0])  # what bash -c would exec
    assert _c(dep)["command"] + _c(dep)["args"] == argv


def test_qwen3_backend_service_backend_route_rule_and_policy(rendered_scenarios) -> None:
    handbook = objects(HANDBOOK_QWEN)
    route = handbook[0]
    own_rule_only = {**route, "spec": {**route["spec"], "rules": route["spec"]["rules"][:1]}}
    rendered = rendered_scenarios[("helm", "llm-model", "03-qwen3-handbook-values.yaml")]
    diffs = compare([own_rule_only, *handbook[1:]], rendered)
    assert diffs == {k for k in ALLOWED if k[0] in ("AIGatewayRoute", "AIServiceBackend", "Backend", "BackendSecurityPolicy")}


@pytest.mark.parametrize(
    ("rule", "scenario", "renamed"),
    [
        # the handbook's second rule = the external release qwen3-nairr (another site, SDSC-owned)
        (1, "04-external-apikey-values.yaml", {"envoy-ai-gateway-sdsc-nairr-qwen3": "qwen3-nairr"}),
        # the third = the alias release qwen3-combined, round-robin over both
        (2, "05-alias-roundrobin-values.yaml", {"envoy-ai-gateway-nrp-qwen": "qwen", "envoy-ai-gateway-sdsc-nairr-qwen3": "qwen3-nairr"}),
    ],
)
def test_other_handbook_rules_are_their_own_releases(rendered_scenarios, rule, scenario, renamed) -> None:
    """One AIGatewayRoute per release: the handbook's multi-rule object becomes one release per rule."""
    theirs = objects(HANDBOOK_QWEN)[0]["spec"]["rules"][rule]
    for ref in theirs["backendRefs"]:
        ref["name"] = renamed[ref["name"]]  # NAMES: the backends are named after their releases
    route = next(o for o in rendered_scenarios[("helm", "llm-model", scenario)] if o["kind"] == "AIGatewayRoute")
    assert leaf_diffs(theirs, route["spec"]["rules"][0]) == []
    assert route["spec"]["llmRequestCosts"] == objects(HANDBOOK_QWEN)[0]["spec"]["llmRequestCosts"]


def test_the_comparison_would_notice_a_change(rendered_scenarios) -> None:
    rendered = [dict(o) for o in rendered_scenarios[("helm", "llm-model", "02-minimax-handbook-values.yaml")]]
    pvc = next(o for o in rendered if o["kind"] == "PersistentVolumeClaim")
    pvc_copy = yaml.safe_load(yaml.safe_dump(pvc))
    pvc_copy["spec"]["resources"]["requests"]["storage"] = "255Gi"
    rendered[rendered.index(pvc)] = pvc_copy
    assert ("PersistentVolumeClaim", "spec.resources.requests.storage") in compare(objects(HANDBOOK_MINIMAX), rendered)
