"""Docker hangs: stuck pods, kubelet timeouts, remediation by restart."""

from __future__ import annotations

import pytest

from conftest import small
from scalelab.catalogue import docker_hang
from scalelab.components.runtime import DockerDaemons
from scalelab.metrics.recorder import Recorder
from scalelab.runner import execute
from scalelab.scenarios import load_scenario
from scalelab.sim import Engine
from scalelab.spec.model import Remediation, Runtime


def _daemons(remediate: bool) -> tuple[Engine, DockerDaemons, Recorder, list[float]]:
    engine, recorder = Engine(), Recorder()
    daemons = DockerDaemons(engine, Runtime(), Remediation(docker_restart=remediate), recorder)
    started: list[float] = []
    return engine, daemons, recorder, started


def test_healthy_start_takes_pull_plus_start() -> None:
    engine, daemons, _rec, started = _daemons(False)
    daemons.start_pod(0, lambda: started.append(engine.now))
    engine.run(100.0)
    assert started == [pytest.approx(11.0)]


def test_hang_blocks_until_restart_and_times_out_meanwhile() -> None:
    for remediate, expect_started in ((False, 0), (True, 3)):
        engine, daemons, rec, started = _daemons(remediate)
        daemons.hang(0)
        for _ in range(3):
            daemons.start_pod(0, lambda engine=engine, started=started: started.append(engine.now))
        engine.run(1000.0)
        assert daemons.stuck_max == 3
        assert len(started) == expect_started
        if remediate:
            # first timeout at 120 s, restart 30 s, then pull + start 11 s
            assert started[0] == pytest.approx(161.0)
            assert rec.histograms["runtime_recovery_seconds"].values[0] == pytest.approx(150.0)
        else:
            assert rec.counters["runtime_timeouts_total"] >= 3 * 7  # every 130 s, 3 pods


def test_hung_nodes_stay_ready_and_keep_receiving_pods() -> None:
    faults = [{"kind": "docker_hang", "target": 0, "at": "10s"}]
    run = execute(small(deploy=True, steady="30s", extra={"faults": faults})).summary
    assert run["pods_stuck_end"] >= 5  # type: ignore[operator]  # the hung node got its share
    assert run["runtime_timeouts_total"] > 0  # type: ignore[operator]
    fixed = execute(small(deploy=True, steady="30s",
                          extra={"faults": faults, "remediation.docker_restart": True})).summary
    assert fixed["pods_stuck_end"] == 0 and fixed["runtime_recovery_seconds"] is not None


def test_rule() -> None:
    assert docker_hang.rule(load_scenario("campaign-900")) is not None
    assert docker_hang.rule(load_scenario("campaign-900-fixed")) is None


def test_stuck_pods_grow_with_the_hang_rate() -> None:
    stuck = []
    for rate in (0.0, 2.0, 20.0):  # hangs per node per hour
        faults = [{"kind": "docker_hang", "rate": rate}] if rate else []
        run = execute(small(worker_hosts=10, deploy=True, steady="1m", extra={"faults": faults})).summary
        stuck.append(run["pods_stuck_end"])
    assert stuck[0] == 0 and stuck[0] <= stuck[1] < stuck[2]
