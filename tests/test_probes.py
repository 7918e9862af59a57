"""Liveness probes, exechealthz and the kubelet's restart back-off (CrashLoopBackOff)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalelab.components.cluster_dns import ClusterDns
from scalelab.components.probes import ExecHealthz, LivenessProbe, ProbeTiming, RestartBackoff
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine
from scalelab.spec.model import Dns, Kubelet

#: The kube-dns manifest's probe (spec defaults) and the kubelet's restart back-off.
KUBE_DNS_PROBE = ProbeTiming(Dns().liveness_period_seconds, Dns().liveness_timeout_seconds,
                             Dns().liveness_failure_threshold, Dns().liveness_initial_delay_seconds)
BACKOFF = (Kubelet().restart_backoff_seconds, Kubelet().max_restart_backoff_seconds)


def test_liveness_probe_kills_after_five_failures_and_waits_for_the_restart() -> None:
    engine = Engine()
    kills: list[float] = []
    probe = LivenessProbe(engine, lambda done: None, lambda: kills.append(engine.now), first=0.0,
                          timing=KUBE_DNS_PROBE)  # never answers
    engine.run(200.0)
    # failures at 5, 15, 25, 35, 45 s (5 s timeouts of the probes at 0, 10, ... 40 s); then no
    # probing: the container is down until the kubelet starts it again
    assert kills == [pytest.approx(45.0)]
    probe.resume(started_at=210.0)
    engine.run(400.0)
    # the new container is probed from 210 + 60 s: failures at 275 ... 315 s
    assert kills == [pytest.approx(45.0), pytest.approx(315.0)]


def test_restart_backoff_doubles_to_the_cap_and_resets_after_a_stable_run() -> None:
    backoff = RestartBackoff(10.0, 300.0)
    now, waits = 0.0, []
    for _ in range(9):
        wait = backoff.wait(now)
        waits.append(wait)
        now += wait + 5.0  # the container dies 5 s after each start
    assert waits == [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0]
    assert backoff.wait(now + 601.0) == 0.0  # stayed up longer than twice the cap: start over
    assert backoff.wait(now + 602.0) == 10.0


@given(st.lists(st.floats(min_value=0.0, max_value=2000.0), min_size=1, max_size=40))
def test_restart_backoff_never_exceeds_its_cap(gaps: list[float]) -> None:
    backoff = RestartBackoff(10.0, 300.0)
    now = 0.0
    for gap in gaps:
        wait = backoff.wait(now)
        assert 0.0 <= wait <= 300.0
        if gap > 600.0:  # a run longer than twice the cap: the next restart is immediate
            assert backoff.wait(now + wait + gap) == 0.0
            now += wait + gap
        now += gap


def test_exechealthz_reports_the_last_run_of_its_command() -> None:
    engine = Engine()
    answers = {"ok": True}

    def step(done: object) -> None:
        if answers["ok"]:
            done(True)  # type: ignore[operator]
        # else: never answers, the step times out

    healthz = ExecHealthz(engine, [step], first=0.0, period=2.0, max_latency=30.0, step_timeout=10.0)
    seen: list[bool] = []
    engine.run(5.0)
    healthz.healthy(seen.append)
    answers["ok"] = False
    engine.run(30.0)  # the run at 6 s times out at 16 s; runs follow back to back
    healthz.healthy(seen.append)
    answers["ok"] = True
    engine.run(50.0)
    healthz.healthy(seen.append)
    assert seen == [True, False, True]


def _refusing_cluster(liveness: str) -> tuple[ClusterDns, Recorder, Engine]:
    """One replica whose dnsmasq refuses everything (its forward table is taken)."""
    engine, rec = Engine(), Recorder()
    spec = Dns(liveness=liveness)  # type: ignore[arg-type]
    dns = ClusterDns(engine, spec, services=4, recorder=rec, backoff=BACKOFF, rng=np.random.default_rng(2))
    dns.dnsmasq[0].forward_max = 0
    return dns, rec, engine


def test_combined_probe_kills_kubedns_when_dnsmasq_refuses() -> None:
    """Kargo's manifest: the one probe sits on kubedns and looks up through dnsmasq first, so a
    refusing dnsmasq restarts a healthy kubedns (the report: restarts with nothing in its logs)."""
    _, rec, engine = _refusing_cluster("combined")
    engine.run(400.0)
    assert rec.counters["kubedns_restarts_total"] >= 2
    assert rec.counters.get("dnsmasq_restarts_total", 0.0) == 0.0
    # CrashLoopBackOff: the second restart waited 10 s, the third 20 s ...
    assert rec.counters["kubedns_backoff_seconds_total"] >= 10.0


def test_split_probes_restart_the_container_that_fails() -> None:
    _, rec, engine = _refusing_cluster("split")
    engine.run(400.0)
    assert rec.counters["dnsmasq_restarts_total"] >= 2
    assert rec.counters.get("kubedns_restarts_total", 0.0) == 0.0


def test_idle_cluster_restarts_nothing() -> None:
    engine, rec = Engine(), Recorder()
    ClusterDns(engine, Dns(), services=4, recorder=rec, backoff=BACKOFF, rng=np.random.default_rng(3))
    engine.run(3600.0)
    assert rec.counters.get("kubedns_restarts_total", 0.0) == 0.0
    assert rec.counters.get("dnsmasq_restarts_total", 0.0) == 0.0


def test_dnsmasq_oom_that_outlasts_the_probe_budget_takes_kubedns_down_too() -> None:
    """A dnsmasq killed repeatedly backs off; once it is down longer than the probe's 5 x 10 s,
    the combined probe fails and kubedns is killed as well."""
    engine, rec = Engine(), Recorder()
    dns = ClusterDns(engine, Dns(), services=4, recorder=rec, backoff=BACKOFF, rng=np.random.default_rng(4))
    for t in (100.0, 110.0, 140.0, 190.0, 280.0):  # each right after the previous restart
        engine.at(t, dns.oom_kill_dnsmasq, 0)
    engine.run(600.0)
    assert rec.counters["dnsmasq_restarts_total"] == 5
    assert rec.counters["kubedns_restarts_total"] >= 1


def test_dnsmasq_oom_fault_from_a_scenario_restarts_that_replica_only() -> None:
    from conftest import small
    from scalelab.runner import execute

    faults = [{"kind": "dnsmasq_oom", "at": "10s"}, {"kind": "dnsmasq_oom", "at": "15s", "target": 5}]
    summary = execute(small(worker_hosts=10, deploy=True, steady="30s", extra={"faults": faults})).summary
    assert summary["dnsmasq_restarts_total"] == 1  # replica 5 does not exist with one replica
    quiet = execute(small(worker_hosts=10, deploy=True, steady="30s")).summary
    assert quiet["dnsmasq_restarts_total"] == 0


def test_endpoints_fanout_grows_with_the_records_during_a_deploy() -> None:
    """Each ready pod sends its Service's whole Endpoints record to every kube-proxy: the bytes
    the apiservers encode for it grow with pods x kube-proxies x record size, i.e. with the cube
    of the cluster at a fixed number of pods per node. (Its CPU is a small share next to the
    calibrated per-request costs at these sizes, so the test reads the bytes, not the CPU.)"""
    from conftest import small
    from scalelab.runner import execute

    def endpoints_bytes(hosts: int) -> float:
        run = execute(small(worker_hosts=hosts, deploy=True, steady="30s", base="campaign-900-fixed"))
        return run.measurements.counters['watch_bytes_delivered_total{resource="endpoints"}']

    small_cluster, big_cluster = endpoints_bytes(10), endpoints_bytes(20)
    assert big_cluster > 6.0 * small_cluster  # doubling: ~8x for the records' part, 4x for the rest


def test_kubedns_above_its_memory_limit_is_oom_killed_again_and_again() -> None:
    """What kubedns stores grows with Services and Endpoints addresses: past the 170Mi limit
    (~72 000 objects with the sizing in the spec) it is OOM-killed, re-lists, dies again."""
    engine, rec = Engine(), Recorder()
    dns = ClusterDns(engine, Dns(), services=4, recorder=rec, backoff=BACKOFF, rng=np.random.default_rng(5))
    stored = {"objects": 50_000.0}
    dns.watch_memory(lambda: stored["objects"])
    engine.run(600.0)
    assert rec.counters.get("kubedns_oom_kills_total", 0.0) == 0.0
    stored["objects"] = 150_000.0
    engine.run(1800.0)
    kills = rec.counters["kubedns_oom_kills_total"]
    assert kills >= 4
    assert rec.counters["kubedns_backoff_seconds_total"] >= 10.0 + 20.0 + 40.0
    assert dns.memory_peak == pytest.approx(75.6e6 + 1_400.0 * 150_000.0)


def test_a_crashlooping_healthz_sidecar_gets_an_idle_kubedns_killed() -> None:
    """Issue 29688's healthz OOMs, repeated: CrashLoopBackOff keeps the sidecar away longer each
    time; once it is gone for 5 probes kubedns is killed, on an idle cluster, with nothing in
    kubedns's logs. A single OOM (back in a second) kills nothing."""
    def run(kill_times: list[float]) -> Recorder:
        engine, rec = Engine(), Recorder()
        dns = ClusterDns(engine, Dns(), services=4, recorder=rec, backoff=BACKOFF, rng=np.random.default_rng(6))
        for t in kill_times:
            engine.at(t, dns.oom_kill_healthz, 0)
        engine.run(900.0)
        return rec

    once = run([100.0])
    assert once.counters["healthz_restarts_total"] == 1
    assert once.counters.get("kubedns_restarts_total", 0.0) == 0.0
    # each OOM shortly after the previous restart: waits 0, 10, 20, 40, 80 s
    looping = run([100.0, 102.0, 114.0, 136.0, 178.0])
    assert looping.counters["healthz_restarts_total"] == 5
    assert looping.counters["kubedns_restarts_total"] >= 1


def test_healthz_oom_faults_in_a_scenario_restart_kubedns_on_an_idle_cluster() -> None:
    from conftest import small
    from scalelab.runner import execute

    faults = [{"kind": "healthz_oom", "at": f"{t}s", "target": 0} for t in (100, 102, 114, 136, 178)]
    summary = execute(small(worker_hosts=4, steady="10m", extra={"faults": faults})).summary
    assert summary["healthz_restarts_total"] == 5
    assert summary["kubedns_restarts_total"] >= 1  # type: ignore[operator]
    assert execute(small(worker_hosts=4, steady="10m")).summary["kubedns_restarts_total"] == 0


@given(st.lists(st.sampled_from(["ok", "fail", "silent"]), min_size=1, max_size=40))
def test_probe_kills_exactly_on_every_run_of_threshold_failures(outcomes: list[str]) -> None:
    """Failures (an explicit one or no answer within the timeout) count in a row; a success
    resets the count; the threshold-th failure kills and the count starts over."""
    engine = Engine()
    kills: list[float] = []
    answers = iter(outcomes)

    def check(done: object) -> None:
        outcome = next(answers, "ok")
        if outcome != "silent":
            done(outcome == "ok")  # type: ignore[operator]

    probe: LivenessProbe

    def kill() -> None:
        kills.append(engine.now)
        probe.resume(engine.now)  # restarted at once, probed again without delay

    probe = LivenessProbe(engine, check, kill, first=0.0, timing=replace(KUBE_DNS_PROBE, initial_delay=0.0))
    engine.run(10.0 * len(outcomes) - 1.0)
    expected, run = 0, 0
    for outcome in outcomes:
        run = 0 if outcome == "ok" else run + 1
        if run == 5:
            expected, run = expected + 1, 0
    assert len(kills) == expected
