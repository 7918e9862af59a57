"""The OpenStack layer's mechanisms, each over several loads (issue: OpenStack)."""

from __future__ import annotations

import math
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mmc import erlang_c_wait
from scalelab.components.openstack.memcached import ITEM_SIZE_MAX, chunk_bytes
from scalelab.components.openstack.memcached import Memcached as MemcachedCache
from scalelab.metrics.recorder import Recorder
from scalelab.scenarios import load_scenario
from scalelab.simulation import Simulation
from scalelab.spec.model import Scenario
from scalelab.spec.openstack import Memcached


def scenario(tmp_path: Path, task: dict[str, Any] | None, openstack: dict[str, Any] | None = None,
             seed: int = 1) -> Scenario:
    doc: dict[str, Any] = {
        "name": "os-test", "seed": seed,
        "openstack": {"enabled": True, "computes": 10, "control_plane_nodes": 3, **(openstack or {})},
        "hosts": {"vm": {"threads": 48, "memory": "264Gi"}},
        "workload": [{"kind": "steady", "duration": "10s"}, *([{"kind": "rally", "task": task}] if task else [])],
    }
    path = tmp_path / "os.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_scenario(str(path))


def run(sc: Scenario) -> dict[str, Any]:
    results = Simulation(sc).run()
    m = results.measurements
    return {"counters": m.counters, "finals": m.finals, "dist": m.distributions}


#: A token issue of 25 ms of CPU in all (15 ms + 10000 hash rounds of 1 us): the tests' own
#: cost, whatever the profile's calibration says.
KEYSTONE_25MS = {"issue_cpu_seconds": 0.015, "crypt_strength": 10000, "hash_seconds_per_round": 1e-6}


@pytest.mark.parametrize("arrival", [80.0, 140.0])
def test_keystone_pool_is_mmc(tmp_path: Path, arrival: float) -> None:
    """Token issues on keystone's mod_wsgi pool (1 pod x 4 processes x 1 thread, exponential
    CPU of 25 ms, no DB, no cache delay) queue as M/M/4: mean response within 10 %."""
    sc = scenario(tmp_path, None, {"computes": 1, "dns_lookups": False,
                                   "keystone": {"replicas": 1, "processes": 4, "threads": 1, "issue_db_queries": 0,
                                                **KEYSTONE_25MS},
                                   "memcached": {"op_seconds": 1e-9}})
    sim = Simulation(sc)
    engine, identity = sim.engine, sim.openstack.identity
    rng = np.random.default_rng(7)
    times: list[float] = []

    def client() -> Generator[Any, Any, None]:
        start = engine.now
        yield from identity.issue("u")
        times.append(engine.now - start)

    def arrivals() -> Generator[Any, Any, None]:
        while engine.now < 400.0:
            yield engine.timeout(float(rng.exponential(1.0 / arrival)))
            engine.process(client())

    engine.process(arrivals())
    engine.run(420.0)
    measured = float(np.mean(times[len(times) // 10:]))
    expected = erlang_c_wait(arrival, 1 / 0.025, 4) + 0.025
    assert measured == pytest.approx(expected, rel=0.10)


def boot_task(runner: dict[str, Any], tenants: int = 2, users: int = 2) -> dict[str, Any]:
    return {"NovaServers.boot_and_delete_server": [{"runner": runner,
                                                    "context": {"users": {"tenants": tenants,
                                                                          "users_per_tenant": users}}}]}


def keystone_task(runner: dict[str, Any]) -> dict[str, Any]:
    return {"Authenticate.keystone": [{"runner": runner, "context": {"users": {"tenants": 5, "users_per_tenant": 5}}}]}


def action(out: dict[str, Any], name: str) -> Any:
    return out["dist"][f'rally_action_seconds{{action="{name}",workload="0"}}']


KEYSTONE_SMALL = {"keystone": {"replicas": 1, "processes": 2, "threads": 1, **KEYSTONE_25MS}}


def test_constant_runner_saturates_throughput(tmp_path: Path) -> None:
    """Closed loop: past the pool's size more concurrency adds latency, not throughput."""
    rates = []
    for concurrency in (1, 2, 8, 16):
        out = run(scenario(tmp_path, keystone_task({"type": "constant", "times": 400, "concurrency": concurrency}),
                           KEYSTONE_SMALL))
        rates.append(400 / out["finals"]['rally_load_duration_seconds{workload="0"}'])
    assert rates[1] > 1.6 * rates[0]  # below the pool's 2 workers: throughput grows
    assert rates[3] < 1.1 * rates[2]  # beyond it: flat
    assert out["counters"].get('rally_iterations_failed_total{workload="0"}', 0.0) == 0


def test_rps_runner_is_open_loop(tmp_path: Path) -> None:
    """Open loop: past the knee latency grows with the rate, and the runner's timeout turns
    the backlog into failures."""
    latency = []
    failures = []
    for rps in (20.0, 60.0, 120.0):
        task = keystone_task({"type": "rps", "times": 1200, "rps": rps, "timeout": 5})
        out = run(scenario(tmp_path, task, KEYSTONE_SMALL))
        name = 'rally_action_seconds{action="authenticate.keystone",workload="0"}'
        latency.append(out["dist"][name].mean() if name in out["dist"] else math.inf)
        failures.append(out["counters"].get('rally_iterations_failed_total{workload="0"}', 0.0))
    assert latency[0] < latency[1] < latency[2]
    assert failures[0] == 0 and failures[2] > 0


def test_pool_timeouts_grow_with_concurrency_over_the_pool(tmp_path: Path) -> None:
    """One neutron-server process with a pool of 1 + 0: waits past pool_timeout become
    QueuePool timeouts, more of them as concurrency grows past the pool."""
    counts = []
    for concurrency in (1, 20, 60):
        task = {"NeutronNetworks.create_and_list_networks": [
            {"runner": {"type": "constant", "times": 300, "concurrency": concurrency},
             "context": {"users": {"tenants": 3, "users_per_tenant": 1}}}]}
        sc = scenario(tmp_path, task, {"neutron": {"replicas": 1, "api_workers": 1, "request_cpu_seconds": 0.02,
                                                   "db": {"max_pool_size": 1, "max_overflow": 0,
                                                          "pool_timeout": 0.5}}})
        out = run(sc)
        counts.append(out["counters"].get('db_pool_timeouts_total{service="neutron"}', 0.0))
    assert counts[0] == 0
    assert counts[1] < counts[2]


def test_deadlocks_grow_with_parallel_creates_and_mapping_retry_removes_most(tmp_path: Path) -> None:
    failed = []
    for concurrency in (1, 8, 32):
        out = run(scenario(tmp_path, boot_task({"type": "constant", "times": 64, "concurrency": concurrency}, 1, 4)))
        failed.append(out["counters"].get("db_deadlock_errors_total", 0.0))
    assert failed[0] == 0 and failed[1] < failed[2]
    task = boot_task({"type": "constant", "times": 64, "concurrency": 32}, 1, 4)
    mapped = run(scenario(tmp_path, task, {"galera": {"wsrep_deadlock_mapped": True}}))
    fixed = run(scenario(tmp_path, task, {"galera": {"wsrep_deadlock_mapped": True},
                                          "nova": {"retry_undecorated_paths": True}}))
    broken_fail = out["counters"].get('rally_iterations_failed_total{workload="0"}', 0.0)
    mapped_fail = mapped["counters"].get('rally_iterations_failed_total{workload="0"}', 0.0)
    fixed_fail = fixed["counters"].get('rally_iterations_failed_total{workload="0"}', 0.0)
    assert broken_fail > mapped_fail > 0  # mapping alone: the undecorated path still fails
    assert fixed_fail < mapped_fail
    assert mapped["counters"].get("db_deadlock_retries_total", 0.0) > 0


def test_rpc_timeouts_appear_when_queue_wait_passes_the_timeout(tmp_path: Path) -> None:
    """heat-api calls create_stack on one slow engine; the validation queue passes a short
    rpc_response_timeout and the calls time out; a long timeout has none."""
    task = {"HeatStacks.create_and_delete_stack": [
        {"args": {"servers": 2}, "runner": {"type": "constant", "times": 30, "concurrency": 15},
         "context": {"users": {"tenants": 3, "users_per_tenant": 1}}}]}
    heat = {"replicas": 1, "engine_workers": 1, "resource_cpu_seconds": 0.3}
    short = run(scenario(tmp_path, task, {"heat": {**heat, "rpc_response_timeout": 2}}))
    long = run(scenario(tmp_path, task, {"heat": {**heat, "rpc_response_timeout": 600}}))
    assert short["counters"].get('rpc_timeouts_total{topic="heat.engine.create_stack"}', 0.0) > 0
    assert long["counters"].get('rpc_timeouts_total{topic="heat.engine.create_stack"}', 0.0) == 0


def test_memcached_hit_ratio_falls_as_working_set_outgrows_it(tmp_path: Path) -> None:
    """Many users' tokens against a cache of a few entries: lower hits, more validations
    sent back to keystone (and its DB queries)."""
    task = {"NovaServers.boot_and_list_server": [
        {"runner": {"type": "constant", "times": 120, "concurrency": 20},
         "context": {"users": {"tenants": 20, "users_per_tenant": 3}}}]}
    ratios, validations, queries = [], [], []
    for memory in ("64Mi", "512Ki", "128Ki"):
        out = run(scenario(tmp_path, task, {"memcached": {"memory": memory}}))
        hits, misses = out["finals"]["memcached_hits_total"], out["finals"]["memcached_misses_total"]
        ratios.append(hits / (hits + misses))
        validations.append(out["counters"]["keystone_validations_total"])
        queries.append(out["counters"]["db_queries_total"])
    assert ratios[0] > ratios[1] > ratios[2]
    assert validations[0] < validations[1] < validations[2]
    assert queries[0] < queries[2]


def test_nova_list_grows_with_the_tenants_servers(tmp_path: Path) -> None:
    means = []
    for times in (10, 200):
        task = {"NovaServers.boot_and_list_server": [
            {"runner": {"type": "constant", "times": times, "concurrency": 10},
             "context": {"users": {"tenants": 1, "users_per_tenant": 1}}}]}
        out = run(scenario(tmp_path, task, {"computes": 40, "nova": {"list_per_server_cpu_seconds": 0.01}}))
        means.append(action(out, "nova.list_servers").mean())
    assert means[1] > 2 * means[0]


def test_boot_server_leaves_its_servers_active(tmp_path: Path) -> None:
    """NovaServers.boot_server (the Rally nova story's task): every boot polled to ACTIVE, and
    the servers stay (Rally's cleanup after the run is not simulated); boot_and_delete's
    servers go."""
    kept = run(scenario(tmp_path, {"NovaServers.boot_server": [
        {"runner": {"type": "constant", "times": 12, "concurrency": 4},
         "context": {"users": {"tenants": 2, "users_per_tenant": 1}}}]}))
    gone = run(scenario(tmp_path, boot_task({"type": "constant", "times": 12, "concurrency": 4})))
    assert kept["finals"]["openstack_servers_active"] == 12
    assert gone["finals"]["openstack_servers_active"] == 0
    assert len(action(kept, "nova.boot_server").values) == 12


def test_boot_time_grows_with_computes(tmp_path: Path) -> None:
    """Fixed concurrency, more computes: more heartbeats through the conductors and more host
    states per scheduling decision."""
    means = []
    for computes in (10, 400):
        task = boot_task({"type": "constant", "times": 40, "concurrency": 10}, 10, 1)
        sc = scenario(tmp_path, task, {"computes": computes,
                                       "nova": {"replicas": 1, "conductor_workers": 1, "api_workers": 2}})
        means.append(action(run(sc), "nova.boot_server").mean())
    assert means[1] > means[0]


def test_same_seed_same_figures(tmp_path: Path) -> None:
    task = boot_task({"type": "rps", "times": 30, "rps": 5})
    a = run(scenario(tmp_path, task, seed=3))
    b = run(scenario(tmp_path, task, seed=3))
    assert a["counters"] == b["counters"] and a["finals"] == b["finals"]


def test_rally_command_contract_and_sla_exit(tmp_path: Path, store_path: str) -> None:
    """``scalelab rally TASK``: CONTRACTS.md's JSON, exit 1 when an SLA fails, 0 when it holds."""
    import json

    from click.testing import CliRunner

    from scalelab.cli import main

    task = tmp_path / "task.yaml"
    small = ["--set", "openstack.computes=4", "--set", "openstack.control_plane_nodes=3"]

    def invoke(sla: dict[str, Any]) -> Any:
        task.write_text(yaml.safe_dump({"GlanceImages.create_and_delete_image": [
            {"runner": {"type": "constant", "times": 6, "concurrency": 2}, "sla": sla}]}), encoding="utf-8")
        return CliRunner().invoke(main, ["rally", str(task), *small, "--format", "json", "--store", store_path])

    ok = invoke({"failure_rate": {"max": 0}})
    assert ok.exit_code == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert set(doc) == {"task", "scenario", "workloads"}
    (w,) = doc["workloads"]
    assert w["name"] == "GlanceImages.create_and_delete_image" and w["iterations"] == 6
    assert set(w["actions"]) == {"glance.create_image", "glance.delete_image"}
    assert set(w["actions"]["glance.create_image"]) == {"min", "median", "p90", "p95", "max", "avg", "count",
                                                       "success_ratio"}
    assert w["sla"][0]["criterion"] == "failure_rate" and w["sla"][0]["success"]
    failed = invoke({"max_avg_duration": 0.001})
    assert failed.exit_code == 1


@pytest.mark.parametrize(("task", "expected"), [
    ({"Nova.nonsense": [{"runner": {"type": "constant"}}]}, "supported: Authenticate.keystone"),
    ({"Authenticate.keystone": [{"runner": {"type": "serial"}}]}, "supported: constant, constant_for_duration, rps"),
    ({"Authenticate.keystone": [{"runner": {"type": "rps", "times": 3}}]}, "Authenticate.keystone.0.runner.rps"),
    ({"version": 2, "subtasks": [{"scenario": {"Authenticate.keystone": {}},
                                  "runner": {"constant": {"times": -1}}}]}, "subtasks.0.runner.times"),
])
def test_rally_bad_task_is_exit_2_with_its_path(tmp_path: Path, store_path: str, task: dict[str, Any],
                                                expected: str) -> None:
    from click.testing import CliRunner

    from scalelab.cli import main

    path = tmp_path / "task.json"
    path.write_text(yaml.safe_dump(task), encoding="utf-8")
    result = CliRunner().invoke(main, ["rally", str(path), "--store", store_path])
    assert result.exit_code == 2
    assert expected in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_rally_phase_needs_the_cloud(tmp_path: Path) -> None:
    from scalelab.spec.loader import ScenarioError

    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "workload": [
        {"kind": "rally", "task": {"Authenticate.keystone": [{"runner": {"type": "constant"}}]}}]}), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"openstack\.enabled"):
        load_scenario(str(path))


def _barging_pool(wake_delay: float, pause: float) -> float:
    """A pool of one connection: a holder runs transaction after transaction, ``pause`` s
    apart, while a second greenthread waits for the connection; its wake-up takes
    ``wake_delay`` (its process's runnable backlog). Returns the pool timeouts."""
    from scalelab.components.openstack.db import ConnectionPool
    from scalelab.components.openstack.errors import PoolTimeout
    from scalelab.metrics.recorder import Recorder
    from scalelab.sim import Engine
    from scalelab.spec.openstack import DbPool

    engine, recorder = Engine(), Recorder()
    pool = ConnectionPool(engine, DbPool(max_pool_size=1, max_overflow=0, pool_timeout=3.0), "neutron", None, recorder)
    pool.wake_delay = lambda: wake_delay

    def holder() -> Generator[Any, Any, None]:
        for _ in range(100):
            yield from pool.checkout()
            yield engine.timeout(0.2)
            pool.checkin()
            if pause:
                yield engine.timeout(pause)

    def waiter() -> Generator[Any, Any, None]:
        yield engine.timeout(0.1)
        try:
            yield from pool.checkout()
            pool.checkin()
        except PoolTimeout:
            pass

    engine.process(holder())
    engine.process(waiter())
    engine.run(60.0)
    return recorder.counters['db_pool_timeouts_total{service="neutron"}']


def test_a_pool_waiter_starves_when_others_take_the_connection_before_it_runs() -> None:
    """SQLAlchemy's queue notifies, it does not hand over: a waiter woken 0.05 s after the
    connection came back gets it when nobody else checks out in between, and starves past
    pool_timeout when its wake-up takes longer than the holder's pause between transactions."""
    assert _barging_pool(wake_delay=0.05, pause=0.1) == 0
    assert _barging_pool(wake_delay=0.5, pause=0.1) == 1
    assert _barging_pool(wake_delay=0.0, pause=0.0) == 1  # no yield between transactions


def test_security_group_refreshes_grow_with_the_group(tmp_path: Path) -> None:
    """Every wired port changes its project's default group and each agent with a member asks
    for the rules in its next loop: one tenant's servers cost the RPC workers more member rows
    than the same servers spread over many tenants."""
    refreshes = []
    for tenants in (8, 1):
        task = {"NovaServers.boot_and_list_server": [
            {"runner": {"type": "constant", "times": 80, "concurrency": 16},
             "context": {"users": {"tenants": tenants, "users_per_tenant": 1}}}]}
        out = run(scenario(tmp_path, task))
        refreshes.append(out["counters"].get("neutron_sg_member_rows_total", 0.0))
    assert 0 < 2 * refreshes[0] < refreshes[1]  # member rows the RPC workers built


def _fault_run(tmp_path: Path, fault: dict[str, Any], task: dict[str, Any] | None = None,
               lifecycle: dict[str, Any] | None = None, dns: dict[str, Any] | None = None) -> dict[str, Any]:
    from scalelab.runner import execute

    task = task or {"Authenticate.keystone": [
        {"runner": {"type": "constant_for_duration", "duration": 90, "concurrency": 6},
         "context": {"users": {"tenants": 3, "users_per_tenant": 2}}}]}
    doc: dict[str, Any] = {
        "name": "os-fault", "seed": 1,
        "openstack": {"enabled": True, "computes": 10, "control_plane_nodes": 3,  # deadlocks retried:
                      "galera": {"wsrep_deadlock_mapped": True}, "nova": {"retry_undecorated_paths": True},
                      "lifecycle": lifecycle or {}},
        "hosts": {"vm": {"threads": 48, "memory": "264Gi"}},
        "workload": [{"kind": "steady", "duration": "10s"}, {"kind": "rally", "task": task}],
        "faults": [fault] if fault else [],
        **({"dns": dns} if dns else {}),
    }
    path = tmp_path / "fault.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return execute(load_scenario(str(path))).summary


def test_a_killed_pod_fails_requests_until_the_endpoints_drop_it(tmp_path: Path) -> None:
    """Killing one of three keystone pods: connections still routed to it are refused until
    the endpoints drop it (2 s), the rest carry on; the restart and the return to rotation
    are the lifecycle's named parts."""
    out = _fault_run(tmp_path, {"kind": "kill_service_pod", "service": "keystone", "target": 0, "at": 50})
    assert out["rally_fault_failed_iterations"] > 0
    assert out["rally_downtime_seconds"] == pytest.approx(2.0, abs=0.5)
    assert out['openstack_fault_part_seconds{part="endpoint_removal"}'] == pytest.approx(2.0)
    assert out['openstack_fault_part_seconds{part="restart"}'] == pytest.approx(10.0)
    assert out['openstack_fault_part_seconds{part="back_in_rotation"}'] == pytest.approx(2.0)
    assert out["rally_recovery_seconds"] is not None and out["rally_recovery_seconds"] >= out["rally_downtime_seconds"]
    healthy = _fault_run(tmp_path, {})
    assert "rally_downtime_seconds" not in healthy and healthy["rally_success_ratio"] == 1.0


def test_a_rebooted_node_fails_requests_for_the_node_monitor_grace(tmp_path: Path) -> None:
    """A control-plane node's pods stay in the endpoints until the node controller marks the
    node NotReady (40 s): the failing window is the grace period, far longer than a pod kill."""
    out = _fault_run(tmp_path, {"kind": "restart_node", "target": 0, "at": 30, "duration": 40})
    assert out["rally_downtime_seconds"] == pytest.approx(40.0, abs=1.0)
    assert out['openstack_fault_part_seconds{part="restart"}'] == pytest.approx(50.0)


def test_a_killed_memcached_sends_every_validation_to_keystone(tmp_path: Path) -> None:
    """memcached loses its entries and its clients skip it for dead_retry after its restart:
    no request fails, but token checks miss and go to keystone until it is back."""
    boots = {"NovaServers.boot_and_delete_server": [
        {"runner": {"type": "constant_for_duration", "duration": 90, "concurrency": 8},
         "context": {"users": {"tenants": 2, "users_per_tenant": 2}}}]}
    healthy = _fault_run(tmp_path, {}, boots)
    out = _fault_run(tmp_path, {"kind": "kill_service_pod", "service": "memcached", "target": 0, "at": 40}, boots)
    assert out["rally_success_ratio"] == 1.0
    assert out["keystone_validations_total"] > 10 * max(1.0, healthy["keystone_validations_total"])
    assert out["memcached_hit_ratio"] < healthy["memcached_hit_ratio"]
    assert out['openstack_fault_part_seconds{part="back_in_rotation"}'] == pytest.approx(30.0)


@pytest.mark.parametrize(("fault", "message"), [
    ({"kind": "kill_service_pod", "service": "nova-compute", "target": 0, "at": 5},
     "faults.0: service: expected one of"),
    ({"kind": "restart_node", "service": "keystone", "target": 0, "at": 5}, "only kill_service_pod names a service"),
])
def test_a_fault_naming_no_pod_is_a_one_line_error(tmp_path: Path, fault: dict[str, Any], message: str) -> None:
    from scalelab.spec.loader import ScenarioError

    with pytest.raises(ScenarioError, match=message):
        _fault_run(tmp_path, fault)


_BOOTS = {"NovaServers.boot_and_delete_server": [
    {"runner": {"type": "constant_for_duration", "duration": 120, "concurrency": 8},
     "context": {"users": {"tenants": 2, "users_per_tenant": 2}}}]}


def test_a_killed_galera_node_loses_its_transactions_and_the_pools_reconnect(tmp_path: Path) -> None:
    healthy = _fault_run(tmp_path, {}, _BOOTS)
    out = _fault_run(tmp_path, {"kind": "kill_service_pod", "service": "mysql", "target": 1, "at": 40}, _BOOTS)
    assert out["rally_fault_failed_iterations"] > 0 and out["rally_downtime_seconds"] < 10
    assert out["rally_recovery_seconds"] is not None
    assert out['openstack_fault_part_seconds{part="endpoint_removal"}'] == pytest.approx(2.0)
    assert healthy["rally_success_ratio"] == 1.0


def test_rabbitmq_down_holds_messages_until_clients_reconnect(tmp_path: Path) -> None:
    """While the broker is down senders wait for a connection and reconnect on oslo.messaging's
    schedule (1 s, then 2 s more each time): a 10 s outage costs no iteration, one longer than
    rpc_response_timeout fails calls."""
    from scalelab.components.openstack.rpc import reconnect_delay

    assert [reconnect_delay(d) for d in (0.5, 1.0, 2.0, 10.0, 200.0)] == [1.0, 1.0, 4.0, 16.0, 225.0]
    out = _fault_run(tmp_path, {"kind": "kill_service_pod", "service": "rabbitmq", "target": 0, "at": 40}, _BOOTS)
    assert out["rally_success_ratio"] == 1.0
    assert out['openstack_fault_part_seconds{part="back_in_rotation"}'] == pytest.approx(6.0)
    assert out["rally_recovery_seconds"] is not None and out["rally_recovery_seconds"] >= 16.0
    long = _fault_run(tmp_path, {"kind": "kill_service_pod", "service": "rabbitmq", "target": 0, "at": 40}, _BOOTS,
                      {"start_seconds": 70})
    assert long["rpc_timeouts_total"] > 0


def test_a_heat_api_stall_needs_a_second_worker(tmp_path: Path) -> None:
    """The empirical fault of heat-api-slow-workers: a stalled worker's requests wait out the
    stall (over a minute here); with one worker per pod it never fires."""
    stacks = {"HeatStacks.create_and_delete_stack": [
        {"args": {"servers": 2}, "runner": {"type": "constant_for_duration", "duration": 150, "concurrency": 20},
         "context": {"users": {"tenants": 4, "users_per_tenant": 1}}}]}
    slow = []
    for workers in (2, 1):
        doc: dict[str, Any] = {
            "name": "os-heat-stall", "seed": 1,
            "openstack": {"enabled": True, "computes": 10, "control_plane_nodes": 3,
                          "heat": {"replicas": 1, "api_workers": workers}},
            "hosts": {"vm": {"threads": 48, "memory": "264Gi"}},
            "workload": [{"kind": "steady", "duration": "10s"}, {"kind": "rally", "task": stacks}],
            "faults": [{"kind": "heat_api_stall", "target": 0, "at": 40, "duration": "90s"}],
        }
        path = tmp_path / "stall.yaml"
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        out = run(load_scenario(str(path)))
        slow.append(out["counters"].get('openstack_slow_requests_total{service="heat-api"}', 0.0))
    assert slow[0] >= 1 and slow[1] == 0


def test_after_a_rabbitmq_restart_every_process_resolves_it_again(tmp_path: Path) -> None:
    """A thousand processes reconnect on the same schedule, each resolving rabbitmq.ccp through
    the cluster DNS: kube-dns of the report's era (one replica, forward-max 150) refuses most of
    that burst and the processes that failed try again later; the DNS fix answers it."""
    from scalelab.catalogue.registry import get

    kill = {"kind": "kill_service_pod", "service": "rabbitmq", "target": 0, "at": 40}
    broken_dns = {k.removeprefix("dns."): v for k, v in (get("kubedns-overload").broken or {}).items()}
    fixed_dns = {k.removeprefix("dns."): v for k, v in (get("kubedns-overload").patch or {}).items()}
    broken = _fault_run(tmp_path, kill, _BOOTS, dns=broken_dns)
    fixed = _fault_run(tmp_path, kill, _BOOTS, dns=fixed_dns)
    assert broken["rpc_connection_failures_total"] > 100 and broken["dns_refused_total"] > 0
    assert fixed["rpc_connection_failures_total"] == 0


@settings(max_examples=60, deadline=None)
@given(pool_size=st.integers(1, 4), overflow=st.integers(0, 4), clients=st.integers(1, 12),
       hold=st.floats(0.01, 1.0), wake=st.floats(0.0, 0.5), seed=st.integers(0, 2**16))
def test_pool_invariants(pool_size: int, overflow: int, clients: int, hold: float, wake: float, seed: int) -> None:
    """Whatever the load: never more connections out than pool + overflow, never more idle
    than the pool keeps; every checkout either gets a connection or times out; at the end
    every connection is back (idle) or closed."""
    from scalelab.components.openstack.db import ConnectionPool
    from scalelab.components.openstack.errors import PoolTimeout
    from scalelab.metrics.recorder import Recorder
    from scalelab.sim import Engine
    from scalelab.spec.openstack import DbPool

    engine, recorder = Engine(), Recorder()
    pool = ConnectionPool(engine, DbPool(max_pool_size=pool_size, max_overflow=overflow, pool_timeout=2.0),
                          "nova", None, recorder)
    pool.wake_delay = lambda: wake
    rng = np.random.default_rng(seed)
    outcomes = {"got": 0, "timeout": 0}

    def client() -> Generator[Any, Any, None]:
        for _ in range(5):
            yield engine.timeout(float(rng.exponential(0.2)))
            try:
                yield from pool.checkout()
            except PoolTimeout:
                outcomes["timeout"] += 1
                continue
            assert pool.checked_out <= pool_size + overflow and pool.idle <= pool_size
            outcomes["got"] += 1
            yield engine.timeout(float(rng.exponential(hold)))
            pool.checkin()
            assert pool.idle <= pool_size

    for _ in range(clients):
        engine.process(client())
    engine.run(600.0)
    assert outcomes["got"] + outcomes["timeout"] == 5 * clients
    assert pool.checked_out == 0 and pool.idle <= pool_size
    assert recorder.counters['db_pool_timeouts_total{service="nova"}'] == outcomes["timeout"]
    if clients <= pool_size + overflow:  # never at the limit: nobody waits
        assert outcomes["timeout"] == 0


@given(st.integers(min_value=1, max_value=2**20), st.sampled_from([1.05, 1.25, 2.0]))
def test_an_item_takes_the_smallest_aligned_slab_chunk_that_holds_it(item: int, factor: float) -> None:
    """memcached 1.4's slab classes: a chunk holds the item, is 8-byte aligned, never shrinks
    as the item grows, and wastes at most the growth factor (besides the 96-byte floor and the
    1 MiB page)."""
    chunk = chunk_bytes(item, factor)
    assert item <= chunk <= ITEM_SIZE_MAX
    assert chunk % 8 == 0
    assert chunk_bytes(max(1, item - 1), factor) <= chunk
    if 96 < chunk < ITEM_SIZE_MAX:
        assert chunk <= item * factor + 8


def test_memcached_charges_chunks_and_evicts_least_recently_used_first() -> None:
    spec = Memcached.model_validate({"memory": 3 * 8880, "item_overhead_bytes": 128})
    cache = MemcachedCache(spec, Recorder())
    for key in ("a", "b", "c"):
        cache.set(key, 8192)
    assert cache.used == 3 * 8880 and cache.evictions == 0
    assert cache.get("a")  # a is now the most recently used
    cache.set("d", 8192)
    assert cache.evictions == 1 and not cache.get("b") and cache.get("a") and cache.get("d")
