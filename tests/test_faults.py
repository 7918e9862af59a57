"""Faults and live reconfiguration."""

from __future__ import annotations

from conftest import small
from scalelab.simulation import Simulation


def test_restart_node_relists_and_reconnects() -> None:
    sc = small(extra={"node_proxy.proxy_timeout": "10m",
                      "faults": [{"kind": "restart_node", "target": 3, "at": "30s", "duration": "20s"}]})
    sim = Simulation(sc)
    sim.run()
    c = sim.recorder.counters
    assert c['faults_total{kind="restart_node"}'] == 1
    # the restarted node's two fresh processes LIST every watch (3 + 2) and dial again
    assert c["apiserver_list_requests_total"] == 5
    assert sim.kubernetes.table.state[sim.kubernetes.table.node == 3].tolist() == [2, 2]
    assert [e.kind for e in sim.recorder.events if e.kind in {"restart_node", "node_restarted"}] == [
        "restart_node", "node_restarted"]


def test_killed_node_stays_down_and_stops_status() -> None:
    sc = small(extra={"faults": [{"kind": "kill_node", "target": 0, "at": "10s"}]})
    sim = Simulation(sc)
    sim.run()
    assert sim.kubernetes.table.state[sim.kubernetes.table.node == 0].tolist() == [0, 0]
    assert sim.kubernetes.kubelets.next_status[0] == float("inf")


def test_poisson_faults_follow_their_rate() -> None:
    sc = small(worker_hosts=20, steady="1h",
               extra={"node_proxy.proxy_timeout": "10m",
                      "faults": [{"kind": "restart_node", "rate": 0.1, "duration": "30s"}]})
    sim = Simulation(sc)
    sim.run()
    count = sim.recorder.counters['faults_total{kind="restart_node"}']
    assert 4 <= count <= 18  # expected 100 nodes x 0.1 / h x 1 h = 10


def test_reconfigure_mid_run_ends_the_storm() -> None:
    sc = small(steady="1m", extra={})
    from scalelab.spec.loader import apply_patch

    sc = apply_patch(sc, {"workload": [
        {"kind": "steady", "duration": "1m"},
        {"kind": "reconfigure", "set": {"node_proxy.proxy_timeout": "10m"}, "duration": "2m"}]})
    sim = Simulation(sc)
    results = sim.run()
    times, values = results.measurements.series("node_proxy_reconnects_total")
    before = values[times <= 60][-1]
    settle = values[(times > 70) & (times <= 80)][-1]
    assert before > 0
    assert values[-1] == settle  # no reconnect once the new timeout is in force
    assert sim.scenario.node_proxy.proxy_timeout == 600.0
