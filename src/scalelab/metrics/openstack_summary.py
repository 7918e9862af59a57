"""Summary metrics of the OpenStack layer and of Rally phases (docs/metrics.md), from a run's
measurements alone."""

from __future__ import annotations

import re

import numpy as np

from scalelab.results import Distribution, Measurements

_LABEL = re.compile(r'(\w+)="([^"]*)"')


def _labels(name: str) -> dict[str, str]:
    return dict(_LABEL.findall(name[name.index("{"):])) if "{" in name else {}


def _family(values: dict[str, float], family: str) -> float:
    """The sum of a counter family over its label sets (the unlabelled total where recorded)."""
    prefix = family + "{"
    return float(sum(v for k, v in values.items() if k == family or k.startswith(prefix)))


def _merged(m: Measurements, family: str, **match: str) -> Distribution | None:
    """One distribution of every label set of ``family`` matching ``match``."""
    parts = [d for k, d in m.distributions.items()
             if k.startswith(family + "{") and all(_labels(k).get(a) == b for a, b in match.items())]
    if not parts:
        return None
    return Distribution(np.concatenate([d.values for d in parts]), np.concatenate([d.weights for d in parts]))


def _round(value: float | None, digits: int = 6) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return float(round(value, digits))


#: Fault kinds whose effect on a Rally task the fault metrics measure.
_FAULTS = ("kill_service_pod", "restart_node", "kill_node")
#: A recovered iteration takes at most this times the median before the fault.
RECOVERED_FACTOR = 1.5
#: ... and this many of them in a row, with no failure among them, make the recovery.
RECOVERED_RUN = 5


def _points(m: Measurements, family: str) -> list[tuple[float, float]]:
    return sorted((t, v) for t, name, v in m.samples if name.startswith(family + "{"))


def fault_metrics(m: Measurements) -> dict[str, float | None]:
    """What the first injected fault cost the Rally task: how long iterations failed after it
    (downtime), when ``RECOVERED_RUN`` iterations in a row, begun after the last failure, took
    at most ``RECOVERED_FACTOR`` times their median before it (recovery), and the named
    parts of that time from the layer's events (endpoint removal, restart, back in rotation,
    the warm-up left: caches refilling, queues draining)."""
    faults = [e.time for e in m.events if e.kind in _FAULTS]
    if not faults:
        return {}
    at = min(faults)
    ok = _points(m, "rally_iteration_ok_seconds")
    failed = [t for t, _v in _points(m, "rally_iteration_failed_seconds") if t >= at]
    before = [v for t, v in ok if t < at]
    out: dict[str, float | None] = {"rally_fault_failed_iterations": float(len(failed)),
                                    "rally_downtime_seconds": _round(max(failed) - at) if failed else 0.0}
    recovered = None
    if before:
        limit = RECOVERED_FACTOR * float(np.median(before))
        # iterations begun after the last failure (or the fault): one begun before it and
        # finished after says nothing about the cloud since
        since = max(failed, default=at)
        ends = sorted((t, v <= limit) for t, v in ok if t - v >= since)
        run = 0
        for t, good in ends:
            run = run + 1 if good else 0
            if run == RECOVERED_RUN:
                recovered = t - at
                break
    out["rally_recovery_seconds"] = _round(recovered) if recovered is not None else None

    def first(kind: str) -> float | None:
        times = [e.time for e in m.events if e.kind == kind and e.time >= at]
        return min(times) if times else None

    removed, serving, added = first("endpoint_removed"), first("pod_serving"), first("endpoint_added")
    out['openstack_fault_part_seconds{part="endpoint_removal"}'] = _round(removed - at) if removed else None
    out['openstack_fault_part_seconds{part="restart"}'] = _round(serving - at) if serving else None
    out['openstack_fault_part_seconds{part="back_in_rotation"}'] = (
        _round(added - serving) if added is not None and serving is not None else None)
    out['openstack_fault_part_seconds{part="warm_up"}'] = (
        _round(max(0.0, recovered - (added - at))) if recovered is not None and added is not None else None)
    return out


def slices_metrics(m: Measurements) -> dict[str, float | None]:
    """Heat stacks, their guests' callbacks and the traffic through the slices."""
    counters, finals = m.counters, m.finals
    out: dict[str, float | None] = {
        "stacks_complete": counters.get("heat_stacks_complete_total", 0.0),
        "stacks_failed": counters.get("heat_stacks_failed_total", 0.0)}
    create = m.distributions.get("stack_create_seconds")
    out["stack_create_seconds_p50"] = _round(create.quantile(0.5)) if create else None
    out["stack_create_seconds_p99"] = _round(create.quantile(0.99)) if create else None
    out["vms_without_metadata"] = counters.get("heat_vms_without_metadata_total", 0.0)
    out["live_migrations_failed"] = _family(counters, "live_migrations_failed_total")
    out["heat_metadata_lost_total"] = counters.get("heat_metadata_lost_total", 0.0)
    out["heat_metadata_push_conflicts_total"] = counters.get("heat_metadata_push_conflicts_total", 0.0)
    out["heat_metadata_push_failures_total"] = counters.get("heat_metadata_push_failures_total", 0.0)
    out["heat_metadata_polls_total"] = counters.get("heat_metadata_polls_total", 0.0)
    out["heat_callback_failures_total"] = _family(counters, "heat_callback_failures_total")
    out["heat_callback_errors_total"] = _family(counters, "heat_callback_errors_total")
    failures = {k: v for k, v in counters.items() if k.startswith("heat_callback_failures_total{")}
    for callback in ("metadata", "cfn_signal", "heat_signal"):
        out[f'heat_callback_failures_total{{callback="{callback}"}}'] = float(
            sum(v for k, v in failures.items() if _labels(k)["callback"] == callback))
    for hop in ("url", "service", "dns", "port", "address"):
        out[f'heat_callback_failures_total{{hop="{hop}"}}'] = float(
            sum(v for k, v in failures.items() if _labels(k)["hop"] == hop))
    down, shown = counters.get("neutron_agents_down_total"), counters.get("neutron_agents_shown_down_total")
    out["neutron_agents_down_total"] = down
    out["neutron_agents_shown_down_total"] = shown
    out["neutron_agents_misreported_total"] = shown - down if shown is not None and down is not None else None
    out["vms_unreachable"] = finals.get("vms_unreachable")
    out["traffic_vms_served"] = finals.get("traffic_vms_served")
    out["traffic_vms_unreachable"] = finals.get("traffic_vms_unreachable")
    out["traffic_requests_total"] = _family(counters, "traffic_requests_total") if "traffic_vms_served" in finals \
        else None
    hosts = [v for k, v in counters.items() if k.startswith("traffic_host_cpu_seconds_total{")]
    duration = finals.get("traffic_duration_seconds")
    out["traffic_host_cpu_cores_max"] = _round(max(hosts) / duration, 4) if hosts and duration else None
    for role in ("wordpress", "magento", "cassandra"):
        d = m.distributions.get(f'traffic_response_seconds{{role="{role}"}}')
        out[f'traffic_response_seconds_p50{{role="{role}"}}'] = _round(d.quantile(0.5)) if d else None
        out[f'traffic_response_seconds_p99{{role="{role}"}}'] = _round(d.quantile(0.99)) if d else None
    return out


def summarise_openstack(m: Measurements, enabled: bool) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    counters, finals = m.counters, m.finals
    iterations = _family(counters, "rally_iterations_total")
    failed = _family(counters, "rally_iterations_failed_total")
    out["rally_iterations_total"] = iterations if iterations else None
    out["rally_success_ratio"] = _round((iterations - failed) / iterations) if iterations else None
    total = _merged(m, "rally_iteration_seconds")  # Rally's "total" row: successful iterations
    out["rally_iteration_seconds_mean"] = _round(total.mean()) if total is not None else None
    out["rally_iteration_seconds_p95"] = _round(total.quantile(0.95)) if total is not None else None
    actions = sorted({_labels(k)["action"] for k in m.distributions if k.startswith("rally_action_seconds{")})
    for action in actions:
        d = _merged(m, "rally_action_seconds", action=action)
        assert d is not None
        out[f'rally_action_seconds_p50{{action="{action}"}}'] = _round(d.quantile(0.5))
        out[f'rally_action_seconds_p95{{action="{action}"}}'] = _round(d.quantile(0.95))
    if not enabled:
        return out
    out.update(fault_metrics(m))
    out.update(slices_metrics(m))
    heat = m.distributions.get('openstack_request_seconds{service="heat-api"}')
    out["heat_api_seconds_p99"] = _round(heat.quantile(0.99)) if heat else None
    out["heat_api_slow_requests_total"] = counters.get('openstack_slow_requests_total{service="heat-api"}', 0.0)
    for name in ("db_pool_timeouts_total", "db_deadlock_errors_total", "db_connection_failures_total",
                 "rpc_timeouts_total", "db_deadlock_retries_total", "db_deadlock_failures_total",
                 "neutron_agent_resyncs_total", "db_disconnects_total", "rpc_connection_failures_total",
                 "keystone_service_auth_failures_total", "heat_stack_user_failures_total",
                 "nova_client_link_failures_total", "live_migrations_failed_total"):
        out[name] = _family(counters, name)
    out['db_pool_timeouts_total{service="neutron"}'] = counters.get('db_pool_timeouts_total{service="neutron"}', 0.0)
    out['rpc_timeouts_total{topic="heat.engine.create_stack"}'] = counters.get(
        'rpc_timeouts_total{topic="heat.engine.create_stack"}', 0.0)
    hits, misses = finals.get("memcached_hits_total", 0.0), finals.get("memcached_misses_total", 0.0)
    out["memcached_hit_ratio"] = _round(hits / (hits + misses)) if hits + misses else None
    out["memcached_evictions_total"] = finals.get("memcached_evictions_total")
    for name in ("memcached_connections_peak", "memcached_syn_retransmits_total", "memcached_connect_timeouts_total",
                 "openstack_http_connections_peak"):
        out[name] = finals.get(name)
    out["keystone_validations_total"] = counters.get("keystone_validations_total", 0.0)
    _t, busy = m.series('openstack_busy_ratio{service="keystone"}')
    out["keystone_workers_busy_ratio"] = _round(float(busy.mean())) if len(busy) else None
    services = sorted({_labels(name)["service"] for _t, name, _v in m.samples
                       if name.startswith("openstack_cpu_cores{")})
    for service in services:
        _t, cores = m.series(f'openstack_cpu_cores{{service="{service}"}}')
        out[f'openstack_cpu_cores_mean{{service="{service}"}}'] = _round(float(cores.mean()), 4)
        out[f'openstack_cpu_cores_max{{service="{service}"}}'] = _round(float(cores.max()), 4)
    return out
