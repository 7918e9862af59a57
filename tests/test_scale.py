"""What the large built-ins rest on: watch bookmarks, work nobody waits for, the scale scenarios."""

from __future__ import annotations

import pytest

from conftest import small
from scalelab.runner import execute
from scalelab.scenarios import apply_patch, load_scenario
from scalelab.sim import Cores, Engine
from scalelab.sizing import estimate


def _watch_timeouts_after_a_deploy(bookmarks: bool) -> dict[str, object]:
    """20 nodes; 200 pods on 2 of them (density by node selector) through a 50-event watch
    cache, then 11 minutes: every watch reaches its server timeout (5-10 min) and re-watches,
    and the other 18 kubelets saw none of those pod events."""
    sc = small(worker_hosts=4, steady="10s", extra={
        "apiserver.watch_cache_size": 50, "apiserver.watch_bookmarks": bookmarks, "node_proxy.proxy_timeout": "10m"})
    workload = [*[p.model_dump() for p in sc.workload], {"kind": "density", "pods_per_node": 100, "nodes": 2},
                {"kind": "steady", "duration": "11m"}]
    return execute(apply_patch(sc, {"workload": workload})).summary


def test_without_bookmarks_a_rewatch_behind_the_watch_cache_relists_and_with_them_it_does_not() -> None:
    before = _watch_timeouts_after_a_deploy(bookmarks=False)
    after = _watch_timeouts_after_a_deploy(bookmarks=True)
    assert before["watch_relists_total"] > 0  # type: ignore[operator]
    assert after["watch_relists_total"] == 0


def test_burned_cpu_loads_the_cores_and_calls_nobody() -> None:
    engine = Engine()
    cores = Cores(engine, 2)
    done: list[float] = []
    cores.burn(3.0, weight=2.0, owner="watch")
    cores.submit(1.0, lambda: done.append(engine.now), owner="request")
    engine.run(100.0)
    # three unit jobs on two threads: the request runs at 2/3 speed until it is done
    assert done == [pytest.approx(1.5)]
    assert cores.owner_busy_seconds("watch") == pytest.approx(6.0)
    # one event, the request's completion (its continuation runs inside it); the burn calls
    # nobody, and once the request left the cores are not saturated: its end is no event
    assert engine.events_processed == 1


@pytest.mark.parametrize(("name", "nodes", "pods"), [("scale-5000", 5000, 150_000), ("scale-100k", 100_000, 1_000_000)])
def test_the_scale_builtins_are_the_sizes_they_promise(name: str, nodes: int, pods: int) -> None:
    sc = load_scenario(name)
    assert sc.nodes == nodes and sc.profile == "modern"
    assert estimate(sc).pods == pods
    assert sc.scheduler.percentage_of_nodes_to_score == 0 and sc.apiserver.watch_bookmarks


def test_with_node_leases_the_heartbeat_is_a_lease_and_the_node_status_is_rare() -> None:
    counters = execute(small(worker_hosts=4, steady="10m", extra={"kubelet.node_leases": True})).measurements.counters
    nodes, minutes = 20, 10
    # a lease every 10 s, the Node's status every 5 min (each node's first at a random phase)
    assert counters["kubelet_lease_renewals_total"] == pytest.approx(nodes * minutes * 6, rel=0.05)
    assert counters["kubelet_node_status_updates_total"] == pytest.approx(nodes * minutes / 5, rel=0.25)
    without = execute(small(worker_hosts=4, steady="10m")).measurements.counters
    assert "kubelet_lease_renewals_total" not in without
    assert without["kubelet_node_status_updates_total"] == pytest.approx(nodes * minutes * 6, rel=0.05)


def _binding_rate(generation: str) -> float:
    sc = small(worker_hosts=4, steady="10s", extra={
        "scheduler.generation": generation, "scheduler.qps": 5, "scheduler.burst": 1,
        "workload": [{"kind": "steady", "duration": "10s"},
                     {"kind": "density", "pods_per_node": 5, "creation_qps": 5}]})
    rate = execute(sc).summary["scheduling_pods_per_second"]
    assert isinstance(rate, float)
    return rate


def test_a_modern_scheduler_posts_its_events_through_a_client_of_its_own() -> None:
    # 100 pods created at 5/s, a scheduler client of QPS 5: the 1.5 scheduler spends a token on
    # each Scheduled event as well as on each bind, the modern one has a second client for them
    shared, own = _binding_rate("1.5"), _binding_rate("modern")
    assert own == pytest.approx(5.0, rel=0.1)  # the binds alone: the client's QPS
    assert shared < 0.75 * own  # tending to 2.5/s as the events' backlog builds


def _apiserver_cpu_during_density(triggers: bool) -> float:
    sc = small(worker_hosts=40, steady="10s", extra={
        "apiserver.watch_triggers": triggers,
        "workload": [{"kind": "steady", "duration": "10s"}, {"kind": "density", "pods_per_node": 10}]})
    cpu = execute(sc).summary["apiserver_cpu_percent_deploy_mean"]
    assert isinstance(cpu, float)
    return cpu


def test_with_watch_triggers_a_pod_event_is_filtered_for_its_nodes_watchers_only() -> None:
    # 200 nodes, 2000 pods: each pod's events filtered for 100 kubelet watches per apiserver,
    # or for the one of its node
    every, triggered = _apiserver_cpu_during_density(False), _apiserver_cpu_during_density(True)
    assert triggered < 0.95 * every
