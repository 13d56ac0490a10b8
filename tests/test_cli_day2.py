"""Issue 9's "Done when": the second day of a model, as an admin lives it, against the fake API server with the
real helm. add with a values file -> identical add (same revision) -> upgrade without changes (same revision) ->
upgrade --context-length (values file still applied, PVC untouched) -> the gateway in two namespaces -> add of
another model under the same name refused -> rm leaves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.apiserver import FakeApiServer
from tests.test_cli_lifecycle import (  # noqa: F401 - the fixture is used by name
    LABEL, MODEL, NAME, NS, as_json, container_args, failed, fake, flag_value, helm_release_secrets, kllm)

OTHER_NS = "team-b"
SITE = """\
storage:
  storageClass: rook-ceph
scheduling:
  priorityClassName: ""
  tolerations:
    - key: example.org/gpu-pool
      operator: Exists
      effect: NoSchedule
"""


def pod_spec(api: FakeApiServer) -> dict:
    return api.get_object("Deployment", NAME, NS)["spec"]["template"]["spec"]


@pytest.mark.parametrize("fake", [{"namespaces": [OTHER_NS]}], indirect=True)
def test_day_two(fake: FakeApiServer, tmp_path: Path) -> None:
    fake.create_object({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "rook-ceph"},
                        "provisioner": "rook-ceph.rbd.csi.ceph.com"})
    site = tmp_path / "site.yaml"
    site.write_text(SITE)
    site_toleration = {"key": "example.org/gpu-pool", "operator": "Exists", "effect": "NoSchedule"}

    # 1. add with a values file: the site's storage class, no priority class, its own tolerations
    added = as_json("add", MODEL, "--gpu", "L40", "-f", str(site))
    assert (added["action"], added["revision"]) == ("installed", 1)
    pvc = fake.get_object("PersistentVolumeClaim", NAME, NS)
    assert pvc["spec"]["storageClassName"] == "rook-ceph" and pvc["status"]["phase"] == "Bound"
    assert pod_spec(fake)["tolerations"] == [site_toleration] and not pod_spec(fake).get("priorityClassName")
    (pod,) = [n for k, n in fake.objects(LABEL, namespace=NS) if k == "Pod"]
    planned_len = flag_value(container_args(fake), "--max-model-len")

    # 2. the identical add: no new revision
    assert as_json("add", MODEL, "--gpu", "L40", "-f", str(site))["revision"] == 1
    # 3. upgrade with nothing new: no new revision, the pod untouched
    same = as_json("upgrade", NAME)
    assert (same["action"], same["revision"]) == ("unchanged", 1)
    assert len(helm_release_secrets(fake)) == 1
    assert [n for k, n in fake.objects(LABEL, namespace=NS) if k == "Pod"] == [pod]

    # 4. upgrade --context-length: the values file still applies, the claim is the same object
    up = as_json("upgrade", NAME, "--context-length", "16384")
    assert (up["action"], up["revision"]) == ("upgraded", 2)
    assert flag_value(container_args(fake), "--max-model-len") == "16384" != planned_len
    after = fake.get_object("PersistentVolumeClaim", NAME, NS)
    assert after["metadata"]["uid"] == pvc["metadata"]["uid"]
    assert after["spec"] == pvc["spec"] and after["status"]["phase"] == "Bound"
    assert pod_spec(fake)["tolerations"] == [site_toleration] and not pod_spec(fake).get("priorityClassName")
    user = as_json("status", NAME)["user"]
    assert user["flags"] == {"context-length": 16384, "gpu": "L40"}
    assert user["values"]["storage"] == {"storageClass": "rook-ceph"}

    # 5. the gateway in two namespaces
    assert as_json("gateway", "install", "-n", NS)["action"] == "installed"
    assert as_json("gateway", "install", "-n", OTHER_NS)["action"] == "installed"
    assert {n for k, n in fake.objects("llm.nrp-nautilus.io/gateway") if k == "GatewayClass"} == \
        {f"llm-gateway-{NS}", f"llm-gateway-{OTHER_NS}"}
    assert as_json("status", NAME)["gateway"]["found"] is True

    # 6. another model under the same name is refused, the release untouched
    stderr = failed("add", "meta-llama/Llama-3.1-8B-Instruct", "--name", NAME, "--gpu", "L40",
                    starts=f"release '{NAME}' in namespace '{NS}' already serves {MODEL}, not "
                           "meta-llama/Llama-3.1-8B-Instruct")
    assert f"hint: add meta-llama/Llama-3.1-8B-Instruct under another --name, or remove {MODEL} first" in stderr
    assert len(helm_release_secrets(fake)) == 2
    assert as_json("list")[0]["model"] == MODEL

    # 7. rm (and the gateways) leave nothing
    removed = as_json("rm", NAME)
    assert removed["terminating"] == [] and f"PersistentVolumeClaim/{NAME}" in removed["removed"]
    for ns in (NS, OTHER_NS):
        kllm("gateway", "uninstall", "-n", ns)
    assert fake.objects(LABEL) == [] and helm_release_secrets(fake) == []
    assert fake.objects("llm.nrp-nautilus.io/gateway") == []
    assert as_json("list", "-A") == []
