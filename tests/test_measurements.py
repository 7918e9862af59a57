"""Measurements as ClusterLoader2 names them: API latency by verb/resource/scope, pod start-up
phases, scheduling throughput, and the PerfData shape."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import small
from scalelab.cli import main
from scalelab.perfdata import perfdata
from scalelab.runner import execute

RUN = execute(small(deploy=True, steady="30s"))
S = RUN.summary


def test_api_latency_per_verb_resource_and_scope() -> None:
    families = {k.split("{")[1] for k in S if k.startswith("api_request_seconds_p99{")}
    assert 'resource="pods",scope="namespace",verb="POST"}' in families  # the ReplicaSet controller
    assert 'resource="bindings",scope="namespace",verb="POST"}' in families  # the scheduler
    assert 'resource="nodes",scope="cluster",verb="PUT"}' in families  # kubelet status
    p99s = []
    for labels in families:
        p50, p90, p99 = (S[f"api_request_seconds_p{q}{{{labels}"] for q in (50, 90, 99))
        assert p50 is not None and p90 is not None and p99 is not None
        assert 0 < p50 <= p90 <= p99
        p99s.append(p99)
    # the aggregate is their mixture: its quantile lies between the families' quantiles
    assert min(p99s) <= S["api_response_seconds_p99"] <= max(p99s)


def test_pod_start_up_phases_follow_the_spec() -> None:
    sc = small(deploy=True, steady="30s")
    deploy = sc.workload[1]
    # bound -> running on the node: the kubelet's own work, the image pull, the container start
    expected = deploy.pod_start_seconds + sc.runtime.image_pull_seconds + sc.runtime.container_start_seconds
    assert S['pod_startup_seconds_p50{phase="schedule_to_run"}'] == pytest.approx(expected)
    assert S['pod_startup_seconds_p99{phase="pod_startup"}'] == S["pod_startup_seconds_p99"]
    for q in (50, 90, 99):
        parts = S[f'pod_startup_seconds_p{q}{{phase="create_to_schedule"}}'], \
            S[f'pod_startup_seconds_p{q}{{phase="schedule_to_watch"}}']
        assert all(p is not None and p >= 0 for p in parts)


def test_scheduling_throughput_is_bounded_by_the_controllers_creation_rate() -> None:
    sc = small(deploy=True, steady="30s")
    window = S["scheduling_sim_seconds"]
    assert window is not None and S["scheduling_pods_per_second"] is not None
    qps, burst = sc.controller_manager.qps, sc.controller_manager.burst
    assert S["scheduling_pods_per_second"] <= qps + burst / window + 1e-9
    pods = S["pods_running"] - 2 * S["nodes"]
    assert S["scheduling_pods_per_second"] == pytest.approx(pods / window, rel=1e-3)


def test_perfdata_shape(store_path: str) -> None:
    doc = perfdata(S)
    assert doc["version"] == "v1"
    api = [i for i in doc["dataItems"] if "Verb" in i["labels"]]
    phases = {i["labels"]["Metric"]: i for i in doc["dataItems"] if "Metric" in i["labels"]}
    assert {i["unit"] for i in doc["dataItems"]} == {"ms"}
    assert set(phases) == {"create_to_schedule", "schedule_to_run", "run_to_watch", "schedule_to_watch",
                           "pod_startup"}
    post = next(i for i in api if i["labels"] == {"Verb": "POST", "Resource": "pods", "Scope": "namespace"})
    assert post["data"]["Perc99"] == pytest.approx(
        1000 * S['api_request_seconds_p99{resource="pods",scope="namespace",verb="POST"}'])
    result = CliRunner().invoke(main, ["run", "--set", "topology.worker_hosts=1", "--set", "workload.0.duration=20s",
                                       "--set", "workload.1.pods_per_node=1", "-o", "perfdata", "--store", store_path])
    assert result.exit_code == 0 and set(json.loads(result.stdout)) == {"version", "dataItems"}
    bad = CliRunner().invoke(main, ["catalogue", "-o", "perfdata"])
    assert bad.exit_code == 2 and "perfdata is for runs" in bad.stderr
