"""The catalogue: the stable ids, rules and detectors that fire and stay silent."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import small
from scalelab.catalogue import apiserver_reconnect
from scalelab.catalogue.entry import RunView
from scalelab.catalogue.registry import ENTRIES, ORDER, all_fixes
from scalelab.reproduce import diff, scenarios_for
from scalelab.scenarios import apply_patch, load_scenario

#: The ids are a contract (CONTRACTS.md: other tools read them): this repository's own list.
CATALOGUE_IDS = Path(__file__).parent / "catalogue_ids.txt"


def test_the_catalogue_holds_exactly_the_stable_ids_in_order() -> None:
    ids = [line for line in CATALOGUE_IDS.read_text().splitlines() if line and not line.startswith("#")]
    assert list(ENTRIES) == list(ORDER) == ids


RULED = [e.id for e in ENTRIES.values() if e.rule is not None]


@pytest.mark.parametrize("entry_id", RULED)
def test_every_rule_fires_on_its_broken_setting_and_is_silent_on_the_fix(entry_id: str) -> None:
    entry = ENTRIES[entry_id]
    assert entry.rule is not None and entry.broken is not None
    baseline = entry.reproduction.baseline if entry.reproduction is not None else "campaign-900-fixed"
    fixed = load_scenario(baseline)
    assert entry.rule(fixed) is None
    broken = apply_patch(fixed, dict(entry.broken))
    finding = entry.rule(broken)
    assert finding is not None and finding.id == entry_id
    as_deployed = baseline.removesuffix("-fixed")  # the report's cluster as deployed
    assert entry.rule(load_scenario(as_deployed)) is not None


#: Per detector: a summary where the report's symptom shows, and one of a healthy run.
DETECTOR_CASES: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "apiserver-reconnect-storm": ({"nodes": 900.0, "node_proxy_reconnects_per_second": 270.0},
                                  {"nodes": 900.0, "node_proxy_reconnects_per_second": 0.0}),
    "apiserver-inflight-429": ({"api_429_share": 0.02}, {"api_429_share": 0.0}),
    "scheduler-antiaffinity-slow": ({"scheduler_seconds_per_pod_mean": 2.5}, {"scheduler_seconds_per_pod_mean": 0.3}),
    "scheduler-colocated-contention": ({"scheduler_cpu_slowdown_mean": 2.0}, {"scheduler_cpu_slowdown_mean": 1.0}),
    "scheduler-assume-expiry": ({"antiaffinity_violations": 3.0}, {"antiaffinity_violations": 0.0}),
    "kubedns-overload": ({"dns_refused_total": 12.0},
                         {"dns_refused_total": 0.0, "dns_dropped_total": 0.0, "dns_lookup_failures_total": 0.0,
                          "kubedns_restarts_total": 0.0}),
    "docker-hang": ({"pods_stuck_end": 4.0}, {"pods_stuck_end": 0.0}),
    "calico-full-mesh": ({"route_convergence_seconds": 300.0}, {"route_convergence_seconds": 5.0}),
    "monitoring-retention-loss": ({"monitoring_durable_share": 0.0, "prometheus_query_seconds_p99": 60.0},
                                  {"monitoring_durable_share": 1.0}),
    "pxc-deadlock-not-retried": ({"db_deadlock_failures_total": 28.0}, {"db_deadlock_failures_total": 0.0}),
    "neutron-db-pool": ({'db_pool_timeouts_total{service="neutron"}': 3.0},
                        {'db_pool_timeouts_total{service="neutron"}': 0.0}),
    "heat-rpc-timeout": ({'rpc_timeouts_total{topic="heat.engine.create_stack"}': 2.0},
                         {'rpc_timeouts_total{topic="heat.engine.create_stack"}': 0.0}),
    "memcached-undersized": ({"memcached_evictions_total": 5000.0, "memcached_hit_ratio": 0.4},
                             {"memcached_evictions_total": 0.0, "memcached_hit_ratio": 0.99}),
    "mysql-dns-loss": ({"db_connection_failures_total": 4.0}, {"db_connection_failures_total": 0.0}),
    "heat-api-slow-workers": ({"heat_api_slow_requests_total": 2.0}, {"heat_api_slow_requests_total": 0.0}),
    "heat-domain-missing": ({"heat_stack_user_failures_total": 40.0}, {"heat_stack_user_failures_total": 0.0}),
    "nova-client-https": ({"nova_client_link_failures_total": 40.0}, {"nova_client_link_failures_total": 0.0}),
    "live-migration-uri": ({"live_migrations_failed_total": 20.0}, {"live_migrations_failed_total": 0.0}),
    "service-roles-misconfigured": ({"keystone_service_auth_failures_total": 1.0},
                                    {"keystone_service_auth_failures_total": 0.0}),
    "heat-api-cfn-missing": ({'heat_callback_failures_total{hop="url"}': 30.0},
                             {'heat_callback_failures_total{hop="url"}': 0.0,
                              'heat_callback_failures_total{hop="dns"}': 12.0}),
    "heat-endpoint-unreachable": ({'heat_callback_failures_total{hop="dns"}': 12.0},
                                  {'heat_callback_failures_total{hop="url"}': 30.0}),
    "heat-convergence-race": ({"heat_metadata_lost_total": 2.0}, {"heat_metadata_lost_total": 0.0}),
    "neutron-agents-status": ({"neutron_agents_misreported_total": 600.0}, {"neutron_agents_misreported_total": 0.0}),
    "vm-tenant-unreachable": ({"traffic_vms_unreachable": 3.0}, {"traffic_vms_unreachable": 0.0}),
}


def test_every_detector_has_a_firing_and_a_silent_case() -> None:
    assert set(DETECTOR_CASES) == {e.id for e in ENTRIES.values() if e.detect is not None}


@pytest.mark.parametrize("entry_id", sorted(DETECTOR_CASES))
def test_every_detector_fires_on_the_symptom_and_is_silent_without(entry_id: str) -> None:
    detect = ENTRIES[entry_id].detect
    assert detect is not None
    firing, silent = DETECTOR_CASES[entry_id]
    finding = detect(RunView(firing, {}))
    assert finding is not None and finding.id == entry_id
    assert finding.evidence.metric is not None and finding.evidence.observed is not None
    assert detect(RunView(silent, {})) is None
    assert detect(RunView({}, {})) is None  # a run without the metric shows nothing


def test_storm_rule_fires_on_report_settings_and_not_on_fix() -> None:
    broken = load_scenario("campaign-900")
    finding = apiserver_reconnect.rule(broken)
    assert finding is not None and finding.severity == "error"
    assert apiserver_reconnect.rule(load_scenario("campaign-900-fixed")) is None
    middle = apply_patch(broken, {"node_proxy.proxy_timeout": "2m"})
    assert apiserver_reconnect.rule(middle).severity == "warning"  # type: ignore[union-attr]


def test_storm_detector() -> None:
    assert apiserver_reconnect.detect(RunView({"nodes": 900.0, "node_proxy_reconnects_per_second": 270.0}, {}))
    assert apiserver_reconnect.detect(RunView({"nodes": 900.0, "node_proxy_reconnects_per_second": 0.0}, {})) is None
    assert apiserver_reconnect.detect(RunView({"nodes": 900.0}, {})) is None


def test_reproduction_broken_differs_only_by_the_entry_setting() -> None:
    broken, fixed = scenarios_for(ENTRIES["apiserver-reconnect-storm"])
    assert diff(fixed, broken) == {"node_proxy.proxy_timeout": 3.0}
    assert [p.kind for p in fixed.workload] == ["steady"]


def test_fixes_do_not_contradict() -> None:
    fixes = all_fixes()
    assert fixes["node_proxy.proxy_timeout"] == "10m"
    for entry in ENTRIES.values():
        if entry.patch is not None:
            assert entry.broken is not None and set(entry.broken) == set(entry.patch), entry.id


def test_inflight_and_expiry_rules_and_detectors() -> None:
    from scalelab.catalogue import apiserver_inflight as ai

    broken, fixed = load_scenario("campaign-900"), load_scenario("campaign-900-fixed")
    assert ai.inflight_rule(broken) is not None and ai.inflight_rule(fixed) is None
    assert ai.expiry_rule(broken) is not None and ai.expiry_rule(fixed) is None
    assert ai.inflight_detect(RunView({"api_429_share": 0.02}, {})) is not None
    assert ai.inflight_detect(RunView({"api_429_share": 0.0}, {})) is None
    assert ai.expiry_detect(RunView({"antiaffinity_violations": 3.0}, {})) is not None
    assert ai.expiry_detect(RunView({"antiaffinity_violations": 0.0}, {})) is None


def test_every_modelled_reproduction_differs_only_by_its_setting() -> None:
    for entry in ENTRIES.values():
        if entry.modelled:
            broken, fixed = scenarios_for(entry)
            changed = diff(fixed, broken)
            settings = set(entry.broken or {})

            def under(path: str, setting: str) -> bool:  # a list setting differs item by item
                return path == setting or path.startswith(setting + ".")

            assert all(any(under(p, k) for k in settings) for p in changed), entry.id
            assert all(any(under(p, k) for p in changed) for k in settings), entry.id


def test_calico_sessions_and_rule() -> None:
    from scalelab.catalogue.calico_mesh import rule as calico_mesh_rule
    from scalelab.runner import execute

    assert calico_mesh_rule(load_scenario("campaign-900")) is not None
    assert calico_mesh_rule(load_scenario("campaign-900-fixed")) is None
    mesh = execute(small(steady="30s", worker_hosts=4)).summary
    assert mesh["bgp_sessions_total"] == 20 * 19 / 2 and mesh["bgp_sessions_per_node_max"] == 19
    rr = execute(small(steady="30s", worker_hosts=4,
                       extra={"calico.mode": "route_reflectors", "calico.route_reflectors": 2})).summary
    assert rr["bgp_sessions_total"] == 20 * 2 + 1 and rr["bgp_sessions_per_node_max"] == 2
    killed = execute(small(steady="30s", worker_hosts=4,
                           extra={"faults": [{"kind": "kill_node", "target": 0, "at": "5s"}]})).summary
    assert killed["bgp_sessions_total"] == 19 * 18 / 2


def test_kubedns_rule_and_detector() -> None:
    from scalelab.catalogue import kubedns

    finding = kubedns.rule(load_scenario("campaign-900"))
    assert finding is not None and finding.severity == "error"
    assert kubedns.rule(load_scenario("campaign-900-fixed")) is None
    assert kubedns.detect(RunView({"dns_refused_total": 12.0}, {})) is not None
    assert kubedns.detect(RunView({"dns_refused_total": 0.0}, {})) is None
