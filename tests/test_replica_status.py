"""Ready/desired of a release's workload (kubectl_llm.adapters.cluster.replica_status), pure: what `list`, `status`
and the --wait of a LeaderWorkerSet count. Objects are written as the API returns them."""

from __future__ import annotations

from typing import Any

from kubectl_llm.adapters.cluster import PodView, ReplicaStatus, replica_status


def deployment(replicas: int, ready: int, updated: int, generation: int = 2, observed: int = 2) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "replicas": replicas, "readyReplicas": ready,
                       "updatedReplicas": updated}}


def lws(replicas: int, size: int, status: dict[str, Any] | None = None, generation: int = 1) -> dict[str, Any]:
    return {"metadata": {"generation": generation},
            "spec": {"replicas": replicas, "leaderWorkerTemplate": {"size": size}}, "status": status or {}}


def group(g: int, size: int, ready: tuple[bool, ...] | None = None, revision: str = "r1") -> list[PodView]:
    ready = ready or (True,) * size
    return [PodView(name=f"m-{g}" + (f"-{w}" if w else ""), phase="Running", node="n", scheduled=True, ready=ready[w],
                    group_index=g, worker_index=w, uid=f"{g}-{w}-{revision}", revision=revision)
            for w in range(size)]


def test_a_deployment_is_ready_over_spec_replicas_from_its_status() -> None:
    # 2 desired, 1 pod Ready: 1/2, not rolled out
    state = replica_status("Deployment", deployment(replicas=2, ready=1, updated=2), [])
    assert (state.ready, state.desired, state.updated, state.rolled_out) == (1, 2, 2, False)
    assert state.to_dict() == {"ready": 1, "desired": 2, "updated": 2, "pods_per_replica": 1,
                               "workload": "Deployment"}
    assert replica_status("Deployment", deployment(replicas=2, ready=2, updated=2), []).rolled_out


def test_a_deployment_whose_controller_has_not_seen_the_new_spec_is_not_rolled_out() -> None:
    state = replica_status("Deployment", deployment(replicas=1, ready=1, updated=1, generation=3, observed=2), [])
    assert (state.ready, state.observed, state.rolled_out) == (1, False, False)


def test_a_group_with_one_worker_not_ready_does_not_count() -> None:
    # 2 groups x 2 pods; group 1's worker is not Ready: 1 of 2 groups
    pods = group(0, 2) + group(1, 2, ready=(True, False))
    state = replica_status("LeaderWorkerSet", lws(2, 2, {"observedGeneration": 1, "readyReplicas": 1,
                                                         "updatedReplicas": 2}), pods)
    assert (state.ready, state.desired, state.pods_per_replica, state.rolled_out) == (1, 2, 2, False)


def test_a_group_missing_a_pod_or_mixing_revisions_does_not_count() -> None:
    status = {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 2}
    assert replica_status("LeaderWorkerSet", lws(2, 2, status), group(0, 2) + group(1, 2)[:1]).ready == 1
    mixed = group(0, 2) + group(1, 2, revision="r2")[:1] + group(1, 2)[1:]
    assert replica_status("LeaderWorkerSet", lws(2, 2, status), mixed).ready == 1


def test_old_groups_still_ready_during_an_update_are_not_rolled_out() -> None:
    """LWS pods keep their names across an update: right after the template changed, both old groups are Ready
    (readyReplicas 2) but none is of the new revision (updatedReplicas 0)."""
    pods = group(0, 2) + group(1, 2)
    during = replica_status("LeaderWorkerSet", lws(2, 2, {"observedGeneration": 2, "readyReplicas": 2,
                                                          "updatedReplicas": 0}, generation=2), pods)
    assert (during.ready, during.updated, during.rolled_out) == (2, 0, False)
    # before the controller saw generation 2, its updatedReplicas (2, of the old template) means nothing
    unseen = replica_status("LeaderWorkerSet", lws(2, 2, {"observedGeneration": 1, "readyReplicas": 2,
                                                          "updatedReplicas": 2}, generation=2), pods)
    assert (unseen.observed, unseen.updated, unseen.rolled_out) == (False, 0, False)
    new = group(0, 2, revision="r2") + group(1, 2, revision="r2")
    done = replica_status("LeaderWorkerSet", lws(2, 2, {"observedGeneration": 2, "readyReplicas": 2,
                                                        "updatedReplicas": 2}, generation=2), new)
    assert (done.ready, done.updated, done.rolled_out) == (2, 2, True)


def test_status_ready_lagging_behind_the_pods_is_the_smaller_count() -> None:
    pods = group(0, 2) + group(1, 2)
    state = replica_status("LeaderWorkerSet", lws(2, 2, {"observedGeneration": 1, "readyReplicas": 1,
                                                         "updatedReplicas": 2}), pods)
    assert state.ready == 1


def test_an_lws_whose_controller_reports_no_observed_generation_trusts_its_counts() -> None:
    state = replica_status("LeaderWorkerSet", lws(1, 2, {"readyReplicas": 1, "updatedReplicas": 1}), group(0, 2))
    assert (state.observed, state.rolled_out) == (True, True)


def test_no_workload_is_zero_of_the_values_desired() -> None:
    state = replica_status(None, None, [], desired=3, size=2)
    assert state == ReplicaStatus(None, 3, 0, 0, 2)
    assert state.missing and not state.rolled_out
    assert state.to_dict()["workload"] == "missing"
