"""Per-generation cycle cost grows with nodes and placed pods as each algorithm says."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import small
from scalelab.catalogue import scheduler_antiaffinity
from scalelab.catalogue.entry import RunView
from scalelab.components.scheduler.cost import cycle_cost
from scalelab.components.scheduler.framework import AffinityTerm, NodeTable, PodInfo
from scalelab.kube.objects import LabelSelector
from scalelab.runner import execute
from scalelab.scenarios import load_scenario
from scalelab.spec.model import Scheduler as SchedulerSpec


def _cluster(nodes: int, placed_per_node: int) -> tuple[NodeTable, PodInfo]:
    table = NodeTable([f"n{i}" for i in range(nodes)], [{"kubernetes.io/hostname": f"n{i}"} for i in range(nodes)],
                      np.full(nodes, 64.0), np.full(nodes, 2.0**40))
    for d in range(placed_per_node):
        term = AffinityTerm(LabelSelector(match_labels={"app": f"d{d}"}), frozenset({"ns"}), "kubernetes.io/hostname")
        for i in range(nodes):
            table.add_pod(i, PodInfo(f"d{d}-{i}", "ns", {"app": f"d{d}"}, 0.1, 1.0, required_anti_affinity=(term,)))
    term = AffinityTerm(LabelSelector(match_labels={"app": "new"}), frozenset({"ns"}), "kubernetes.io/hostname")
    return table, PodInfo("new-0", "ns", {"app": "new"}, 0.1, 1.0, required_anti_affinity=(term,))


def _cost(generation: str, nodes: int, per_node: int) -> float:
    table, pod = _cluster(nodes, per_node)
    return cycle_cost(SchedulerSpec(generation=generation), pod, table).cpu_seconds


def test_1_5_grows_with_nodes_times_pods() -> None:
    # doubling nodes doubles both the nodes scanned and the pods placed on them: ~4x
    assert _cost("1.5", 200, 2) / _cost("1.5", 100, 2) == pytest.approx(4.0, rel=0.1)
    assert _cost("1.5", 100, 4) / _cost("1.5", 100, 2) == pytest.approx(2.0, rel=0.1)


def test_1_5_2_is_an_order_cheaper_with_the_same_loops() -> None:
    for nodes, per_node in ((100, 2), (300, 5)):
        ratio = _cost("1.5", nodes, per_node) / _cost("1.5.2", nodes, per_node)
        assert 6 < ratio < 15  # per pair: (3.3 + 0.2) us against 0.2 us plus the list copy


def test_modern_grows_linearly() -> None:
    assert _cost("modern", 200, 2) / _cost("modern", 100, 2) == pytest.approx(2.0, rel=0.2)
    assert _cost("modern", 300, 5) < _cost("1.5.2", 300, 5) / 5


def test_rule_and_detector() -> None:
    assert scheduler_antiaffinity.rule(load_scenario("campaign-900")) is not None
    assert scheduler_antiaffinity.rule(load_scenario("campaign-900-fixed")) is None
    assert scheduler_antiaffinity.detect(RunView({"scheduler_seconds_per_pod_mean": 2.5}, {})) is not None
    assert scheduler_antiaffinity.detect(RunView({"scheduler_seconds_per_pod_mean": 0.3}, {})) is None


def test_colocation_slows_scheduling_against_a_dedicated_host() -> None:
    base = {"hosts.hardware.threads": 1, "scheduler.generation": "1.5"}
    colocated = execute(small(worker_hosts=20, deploy=True, extra=base)).summary
    dedicated = execute(small(worker_hosts=20, deploy=True,
                              extra={**base, "placement.scheduler": "dedicated"})).summary
    # processor sharing: the scheduler's 16 lanes against the apiserver's few busy requests
    # keep most of the thread, so the slowdown is real but mild
    assert colocated["scheduler_cpu_slowdown_mean"] > 1.1  # type: ignore[operator]
    assert dedicated["scheduler_cpu_slowdown_mean"] == pytest.approx(1.0, abs=0.01)
    assert colocated["scheduler_seconds_per_pod_mean"] > dedicated["scheduler_seconds_per_pod_mean"]  # type: ignore[operator]
