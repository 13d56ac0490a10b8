"""Status that sees admission (issue 9, item 7): what keeps a model from running is reported by controllers, not
on a pod (there is none): a pod refused by admission (missing PriorityClass -> ReplicaSet FailedCreate), a claim
Pending on an unknown storage class, a claim still Terminating after `rm`. Against the fake API server, whose
controllers report these the way Kubernetes does (tests/test_fake_apiserver.py checks the fake itself)."""

from __future__ import annotations

import pytest

from tests.fakes.apiserver import FakeApiServer
from tests.test_cli_lifecycle import (  # noqa: F401 - the fixtures are used by name
    LABEL, MODEL, NAME, NS, as_json, failed, fake, fast_poll, helm_release_secrets, kllm)


def test_status_names_a_pod_refused_for_a_missing_priority_class(fake: FakeApiServer) -> None:
    """Before: `status` said 'pods none yet' and nothing else; --wait said 'no pod yet' until the timeout."""
    as_json("add", MODEL, "--gpu", "L40", "--set", "scheduling.priorityClassName=gold")
    doc = as_json("status", NAME)
    assert doc["pods"] == []
    (problem,) = doc["problems"]
    assert (problem["kind"], problem["reason"]) == ("ReplicaSet", "FailedCreate")
    assert problem["name"].startswith(f"{NAME}-")
    assert problem["message"] == (f'Error creating: pods "{problem["name"]}-" is forbidden: no PriorityClass with '
                                  f"name gold was found")
    text = kllm("status", NAME).stdout
    assert f"problem   ReplicaSet/{problem['name']} FailedCreate: Error creating: pods" in text
    # the admin creates the class; the controller retries and the pod runs: no problem left
    fake.create_object({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                        "metadata": {"name": "gold"}, "value": 10})
    doc = as_json("status", NAME)
    assert doc["problems"] == [] and doc["pods"][0]["ready"]


def test_wait_says_why_no_pod_appears(fake: FakeApiServer, fast_poll: None) -> None:
    stderr = failed("add", MODEL, "--gpu", "L40", "--set", "scheduling.priorityClassName=gold", "--wait",
                    "--timeout", "4s", starts="helm failed: ")
    (hint,) = [line for line in stderr.splitlines() if line.startswith("hint: ")]
    assert hint.startswith(f"hint: the pod was last seen blocked: ReplicaSet/{NAME}-")
    assert "FailedCreate: Error creating: pods" in hint and "no PriorityClass with name gold was found" in hint
    assert "blocked - ReplicaSet/" in stderr   # the live line said it too
    assert fake.objects(LABEL) == [] and helm_release_secrets(fake) == []


def test_status_names_a_claim_pending_on_an_unknown_storage_class(fake: FakeApiServer) -> None:
    as_json("add", MODEL, "--gpu", "L40", "--set", "storage.storageClass=no-such-class")
    doc = as_json("status", NAME)
    assert doc["pods"][0]["stage"] == "pending"
    assert "pod has unbound immediate PersistentVolumeClaims" in doc["pods"][0]["detail"]
    assert [(p["kind"], p["name"], p["reason"], p["message"]) for p in doc["problems"]] == [
        ("PersistentVolumeClaim", NAME, "ProvisioningFailed", 'storageclass.storage.k8s.io "no-such-class" not found')]
    assert (f'problem   PersistentVolumeClaim/{NAME} ProvisioningFailed: storageclass.storage.k8s.io '
            f'"no-such-class" not found') in kllm("status", NAME).stdout


def test_rm_says_when_the_claim_is_still_terminating(fake: FakeApiServer) -> None:
    """A pod outside the release (say a debug pod) still mounts the weights: the claim stays Terminating."""
    as_json("add", MODEL, "--gpu", "L40")
    fake.create_object({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": NS},
                        "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                 "volumes": [{"name": "w", "persistentVolumeClaim": {"claimName": NAME}}]},
                        "status": {"phase": "Running"}})
    result = kllm("rm", NAME, "-o", "json")
    warning = (f"warning: PersistentVolumeClaim/{NAME} Terminating: still terminating (finalizer "
               f"kubernetes.io/pvc-protection): pod debug still mounts it; it goes when that pod has stopped")
    assert warning in result.stderr
    assert yaml_doc(result.stdout)["terminating"] == [warning.removeprefix("warning: ")]
    assert fake.get_object("PersistentVolumeClaim", NAME, NS)["metadata"]["deletionTimestamp"]
    fake.delete_object("Pod", "debug", NS)
    assert fake.objects(LABEL) == []


def yaml_doc(text: str) -> dict:
    import json

    return json.loads(text)


@pytest.mark.parametrize("fake", [{"priority_classes": None, "storage_classes": None}], indirect=True)
def test_checks_can_be_switched_off_in_the_fake(fake: FakeApiServer) -> None:
    as_json("add", MODEL, "--gpu", "L40", "--set", "scheduling.priorityClassName=gold,storage.storageClass=x")
    assert as_json("status", NAME)["problems"] == [] and as_json("status", NAME)["pods"][0]["ready"]
