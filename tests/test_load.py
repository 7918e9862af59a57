"""The load phase: Kubernetes' load test (load.go of 1.5), with expectations from its settings."""

from __future__ import annotations

from typing import Any

import pytest

from scalelab.runner import execute
from scalelab.scenarios import apply_patch, load_scenario
from scalelab.workload.load import controller_sizes


def _run(load: dict[str, Any], worker_hosts: int = 4) -> Any:
    sc = apply_patch(load_scenario("campaign-900-fixed"), {
        "topology.worker_hosts": worker_hosts,
        "workload": [{"kind": "steady", "duration": "10s"}, {"kind": "load", **load}]}, source="test")
    return execute(sc)


def test_controller_sizes_are_load_go_s() -> None:
    # load.go's own example: 3000 pods (100 nodes x 30) -> 300 small, 25 medium, 3 big
    sizes = controller_sizes(3000)
    assert (sizes.count(5), sizes.count(30), sizes.count(250)) == (300, 25, 3)
    assert sum(sizes) == 3000


def test_at_load_go_s_throughput_the_stages_set_the_pace() -> None:
    # 20 nodes x 30 pods at 10 pods/s: create spread over 60 s, two scalings over 20 s each,
    # delete over 60 s; each stage ends when its last controller (drawn uniformly over the
    # spread) has settled, a few seconds after it starts.
    r = _run({"pods_per_node": 30})
    s = r.summary
    stages = 600 / 10 + 2 * 600 / 30 + 600 / 10
    assert s["load_seconds"] is not None
    assert 0.95 * stages <= s["load_seconds"] <= stages + 30
    # everything created is deleted; the workload's pods are gone and the scheduler's cache empty
    assert s["load_pods_created_total"] == s["load_pods_deleted_total"]
    assert s["load_pods_created_total"] is not None and s["load_pods_created_total"] >= 600
    assert s["pods_running"] == 2 * 20  # the static pods only
    assert r.measurements.finals["scheduler_pods_bound"] == 0


def test_a_fast_client_is_held_to_the_controller_manager_s_rate() -> None:
    # With every action at once, each pod create and delete passes the controller-manager's
    # limiter (QPS 20, burst 30): the phase lasts at least (creates + deletes - burst) / 20 s.
    s = _run({"pods_per_node": 30, "actions_per_second": 100_000}).summary
    ops = s["load_pods_created_total"] + s["load_pods_deleted_total"]  # type: ignore[operator]
    floor = (ops - 30) / 20
    assert s["load_seconds"] is not None
    assert floor <= s["load_seconds"] <= floor + 20


def test_services_come_and_go_with_their_controllers() -> None:
    r = _run({"pods_per_node": 10, "services": True, "scalings": 1})
    s = r.summary
    assert s["load_pods_created_total"] == s["load_pods_deleted_total"]
    calls = r.measurements.distributions
    assert calls['api_request_seconds{resource="services",scope="namespace",verb="POST"}'].count == \
        calls['api_request_seconds{resource="services",scope="namespace",verb="DELETE"}'].count == \
        len(controller_sizes(20 * 10))
    assert calls['api_request_seconds{resource="pods",scope="namespace",verb="LIST"}'].count == \
        len(controller_sizes(20 * 10))


@pytest.mark.parametrize("pods_per_node", [0, 0.1])
def test_a_load_test_with_nothing_to_create_ends(pods_per_node: float) -> None:
    s = _run({"pods_per_node": pods_per_node}, worker_hosts=1).summary
    assert s["load_seconds"] is not None and s["load_seconds"] < 5


def test_a_duration_cuts_the_phase_off() -> None:
    s = _run({"pods_per_node": 30, "duration": "30s"}).summary
    assert s["load_seconds"] is None  # unfinished: no figure
    created, deleted = s["load_pods_created_total"], s["load_pods_deleted_total"]
    assert created is not None and 0 < created <= 600 and deleted is None  # cut during its create stage
