"""Scoring a sample of the nodes (percentageOfNodesToScore) and the kubelet's pod limit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalelab.components.scheduler.cost import cycle_cost
from scalelab.components.scheduler.framework import Framework, NodeTable, PodInfo
from scalelab.components.scheduler.plugins import DEFAULT_PROFILE, TOO_MANY_PODS, default_registry
from scalelab.components.scheduler.sampling import num_feasible_nodes_to_find
from scalelab.spec.model import Scheduler as SchedulerSpec


def _nodes(cpus: list[float], max_pods: int = 110) -> NodeTable:
    n = len(cpus)
    return NodeTable([f"n{i}" for i in range(n)], [{"zone": f"z{i % 3}"} for i in range(n)], np.array(cpus),
                     np.full(n, 64.0 * 2**30), allowed_pods=np.full(n, max_pods))


def _framework() -> Framework:
    return Framework(default_registry(), *DEFAULT_PROFILE)


@pytest.mark.parametrize(("nodes", "percentage", "expected"), [
    (50, 0, 50),  # under 100 nodes: all of them
    (100, 0, 100),  # 50 % of 100 is under the 100-node floor
    (1000, 0, 420),  # 50 - 1000 // 125 = 42 %
    (5000, 0, 500),  # 10 %
    (100_000, 0, 5000),  # the 5 % floor
    (2000, 10, 200),  # a configured share
    (2000, 100, 2000),
    (5000, None, 5000),  # no sampling (a 1.5 scheduler)
])
def test_feasible_nodes_to_find_follows_upstream(nodes: int, percentage: int | None, expected: int) -> None:
    assert num_feasible_nodes_to_find(nodes, percentage) == expected


def test_a_sampled_cycle_stops_at_the_nth_feasible_node_and_the_next_starts_after_it() -> None:
    # every third node is full: the walk from node 0 passes 2 feasible per 3 nodes
    cpus = [0.5 if i % 3 == 2 else 8.0 for i in range(300)]
    nodes, fw = _nodes(cpus), _framework()
    pod = PodInfo("p", cpu=1.0)
    decision = fw.schedule(pod, nodes, to_find=100)
    # the 100th feasible node is node 148 (2 feasible per 3 nodes): 149 nodes walked
    assert decision.evaluated_nodes == 149
    assert decision.node is not None and decision.node < 149 and decision.node % 3 != 2
    assert decision.reasons["Insufficient cpu"] == 49
    assert fw.next_start == 149
    second = fw.schedule(pod, nodes, to_find=100)
    # from node 149 (full) the pattern is full, free, free: 150 nodes for 100 feasible
    assert second.node is not None and 149 <= second.node < 299 and second.evaluated_nodes == 150
    assert fw.next_start == 299


def test_a_sampled_cycle_wraps_around_and_takes_every_node_when_few_fit() -> None:
    cpus = [0.5] * 200
    cpus[5] = 8.0
    nodes, fw = _nodes(cpus), _framework()
    fw.next_start = 150
    decision = fw.schedule(PodInfo("p", cpu=1.0), nodes, to_find=100)
    assert decision.node == 5 and decision.evaluated_nodes == 200
    nothing = fw.schedule(PodInfo("q", cpu=16.0), nodes, to_find=100)
    assert nothing.node is None and nothing.reasons["Insufficient cpu"] == 200


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([0.5, 2.0, 8.0]), min_size=100, max_size=400), st.integers(1, 150),
       st.integers(0, 399))
def test_a_sampled_decision_is_always_a_node_that_fits(cpus: list[float], to_find: int, start: int) -> None:
    nodes, fw = _nodes(cpus), _framework()
    fw.next_start = start % len(cpus)
    decision = fw.schedule(PodInfo("p", cpu=1.0), nodes, to_find=to_find)
    fits = [i for i, c in enumerate(cpus) if c >= 1.0]
    if not fits:
        assert decision.node is None
    else:
        assert decision.node in fits
        assert 1 <= decision.evaluated_nodes <= len(cpus)


def test_the_kubelets_pod_limit_rejects_a_full_node() -> None:
    nodes, fw = _nodes([64.0, 64.0], max_pods=3), _framework()
    placed = []
    for i in range(6):
        decision = fw.schedule(PodInfo(f"p{i}"), nodes)
        assert decision.node is not None
        nodes.add_pod(decision.node, PodInfo(f"p{i}"))
        placed.append(decision.node)
    assert sorted(placed) == [0, 0, 0, 1, 1, 1]
    full = fw.schedule(PodInfo("p6"), nodes)
    assert full.node is None and full.reasons == {TOO_MANY_PODS: 2}


def test_a_sampling_schedulers_cycle_costs_the_nodes_it_walked() -> None:
    spec = SchedulerSpec(generation="modern", percentage_of_nodes_to_score=0)
    nodes = _nodes([8.0] * 5000)
    everything = cycle_cost(spec, PodInfo("p"), nodes)
    sampled = cycle_cost(spec, PodInfo("p"), nodes, visited=500)
    assert sampled.cpu_seconds == pytest.approx(everything.cpu_seconds / 10)
