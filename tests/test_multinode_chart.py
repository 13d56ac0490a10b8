"""`add --dry-run=client` of models that span nodes renders a LeaderWorkerSet (real helm, offline), valid against
the LWS CRD made strict (unknown fields rejected, tests/manifest_validation.py); one node stays a Deployment."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.cli_harness import offline_dry_run_env, render_dry_run as render
from tests.manifest_validation import validate_objects

GLM5 = Path(__file__).parent / "fixtures" / "multinode" / "zai-org__GLM-5.json"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path, helm_bin):
    offline_dry_run_env(monkeypatch, tmp_path)


def glm5_dir(tmp_path: Path) -> str:
    d = tmp_path / "zai-org" / "GLM-5"
    d.mkdir(parents=True)
    cfg = json.loads(GLM5.read_text())
    cfg.pop("_source")
    (d / "config.json").write_text(json.dumps(cfg))
    return str(d)


def _container(tpl: dict) -> dict:
    (c,) = tpl["spec"]["containers"]
    return c


@pytest.mark.parametrize("model,gpu,size,tp,pp", [
    ("meta-llama/Llama-3.1-405B", "H100-80GB", 2, "8", "2"),
    ("deepseek-ai/DeepSeek-V3", "A100-80GB", 2, "8", "2"),
    ("moonshotai/Kimi-K2-Instruct", "A100-80GB", 2, "8", "2"),
    ("GLM5", "H100-80GB", 3, "8", "3"),
])
def test_multi_node_models_render_a_leaderworkerset(model, gpu, size, tp, pp, tmp_path):
    # a local directory needs the repo id the pod loads (issue 9: no path of this machine reaches the pod)
    ref = [glm5_dir(tmp_path), "--model-id", "zai-org/GLM-5"] if model == "GLM5" else [model]
    kinds = render(*ref, "--gpu", gpu)
    assert "Deployment" not in kinds and "PersistentVolumeClaim" not in kinds
    lws = kinds["LeaderWorkerSet"]
    spec = lws["spec"]
    tmpl = spec["leaderWorkerTemplate"]
    assert spec["replicas"] == 1 and spec["startupPolicy"] == "LeaderCreated"
    assert tmpl["size"] == size and tmpl["restartPolicy"] == "RecreateGroupOnPodRestart"
    leader, worker = _container(tmpl["leaderTemplate"]), _container(tmpl["workerTemplate"])
    # probes and the port on the leader only; the Service selects only the leader (worker-index 0)
    assert {"startupProbe", "readinessProbe", "livenessProbe", "ports"} <= set(leader)
    assert not {"startupProbe", "readinessProbe", "livenessProbe", "ports"} & set(worker)
    assert kinds["Service"]["spec"]["selector"]["leaderworkerset.sigs.k8s.io/worker-index"] == "0"
    for c in (leader, worker):
        a = c["args"]
        assert a[a.index("--tensor-parallel-size") + 1] == tp and a[a.index("--pipeline-parallel-size") + 1] == pp
        assert a[a.index("--nnodes") + 1] == str(size) and c["command"] == ["vllm", "serve"]
        assert c["resources"]["limits"] == {"cpu": "18", "memory": c["resources"]["limits"]["memory"],
                                            "nvidia.com/a100" if gpu.startswith("A100") else "nvidia.com/gpu": "8"}
        assert {"name": "shm", "mountPath": "/dev/shm"} in c["volumeMounts"]
    assert a[-1] == "--headless" and a[a.index("--node-rank") + 1] == "$(LWS_WORKER_INDEX)"
    # per-pod weights PVC from the group's claim template, deleted with the set
    (claim,) = tmpl["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "cache"
    assert tmpl["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
    for t in (tmpl["leaderTemplate"], tmpl["workerTemplate"]):
        assert {"key": "nautilus.io/hardware", "operator": "Equal", "value": "large-gpu", "effect": "NoSchedule"} \
            in t["spec"]["tolerations"]
        assert "nodeAffinity" in t["spec"]["affinity"]
        assert t["spec"]["volumes"][0]["name"] == "shm"
    assert lws["metadata"]["annotations"]["llm.nrp-nautilus.io/nodes"] == str(size)
    # an unknown field in the LWS is rejected by the strict CRD schema: the validation above really checks it
    bad = copy.deepcopy(lws)
    bad["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]["gpuCount"] = 8
    with pytest.raises(Exception):
        validate_objects([bad])


def test_one_node_with_replicas_is_a_statefulset_behind_one_service():
    """NRP's storage is ReadWriteOnce: each replica gets its own claim (tests/test_replica_claims.py)."""
    kinds = render("Qwen/Qwen3-8B", "--gpu", "A100-80GB", "--replicas", "3")
    assert "LeaderWorkerSet" not in kinds and kinds["StatefulSet"]["spec"]["replicas"] == 3
    assert "leaderworkerset.sigs.k8s.io/worker-index" not in kinds["Service"]["spec"]["selector"]
    assert kinds["StatefulSet"]["metadata"]["annotations"]["llm.nrp-nautilus.io/replicas"] == "3"


def test_leaderworkerset_replicas(tmp_path):
    lws = render("meta-llama/Llama-3.1-405B", "--gpu", "H100-80GB", "--replicas", "2")["LeaderWorkerSet"]
    assert lws["spec"]["replicas"] == 2 and lws["spec"]["leaderWorkerTemplate"]["size"] == 2
