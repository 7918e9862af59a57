"""End-of-run summary metrics (CONTRACTS.md names; unit in the name; None = undefined).

Computed from a run's measurements and window alone, never from live components: a stored
run is summarised again by the same function. The measurement window is the steady phases
before the first deploy or reconfigure; CPU and reconnect figures are taken there, latencies
and shares over the whole run.
"""

from __future__ import annotations

import numpy as np

from scalelab.metrics.monitoring_summary import summarise_monitoring
from scalelab.metrics.openstack_summary import summarise_openstack
from scalelab.results import Distribution, Measurements, Window
from scalelab.spec.model import Scenario

#: Mirror pods of the static pods Kargo runs on every node (kube-proxy, nginx-proxy).
STATIC_PODS_PER_NODE = 2


def _window_samples(m: Measurements, window: Window, metric: str) -> np.ndarray:
    times, values = m.series(metric)
    start, end = window.start, window.end
    if end is None or end <= start:
        return values  # no steady window: the whole run
    keep = (times > start) & (times <= end + 1e-9)
    return values[keep]


def _deploy_samples(m: Measurements, metric: str) -> np.ndarray:
    """Samples taken while a deploy phase ran (from its start to its last pod running)."""
    times, values = m.series(metric)
    keep = np.zeros(len(times), dtype=bool)
    start: float | None = None
    for event in m.events:
        if event.kind == "deploy_started":
            start = event.time
        elif event.kind == "deploy_finished" and start is not None:
            # a sample covers the interval before it: the one just after the end counts
            keep |= (times > start) & (times < event.time + m.sample_every)
            start = None
    if start is not None:  # the run ended mid-deploy
        keep |= times > start
    return values[keep]


def _round(value: float | None, digits: int = 6) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return float(round(value, digits))


def _mean(d: Distribution | None) -> float | None:
    return _round(d.mean()) if d else None


def _quantile(d: Distribution | None, q: float) -> float | None:
    return _round(d.quantile(q)) if d else None


def _max(d: Distribution | None, digits: int = 6) -> float | None:
    return _round(d.max(), digits) if d else None


def _labelled(finals: dict[str, float], family: str) -> list[float]:
    """End-of-run values of one family over its label sets, in label order."""
    prefix = family + "{"
    return [v for k, v in sorted(finals.items()) if k.startswith(prefix)]


def summarise(m: Measurements, window: Window, scenario: Scenario) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    finals = m.finals
    counters = m.counters
    out["nodes"] = float(scenario.nodes)
    out["pods_running"] = float(finals.get("pods_running_workload", 0.0) + STATIC_PODS_PER_NODE * scenario.nodes)
    apis = range(scenario.apiserver.replicas)
    per_api = [_window_samples(m, window, f'apiserver_cpu_percent{{apiserver="{a}"}}') for a in apis]
    means = [float(v.mean()) if len(v) else None for v in per_api]
    valid = [x for x in means if x is not None]
    if valid:
        busiest = int(np.argmax([x if x is not None else -1.0 for x in means]))
        out["apiserver_cpu_percent_mean"] = _round(means[busiest], 3)
        out["apiserver_cpu_percent_p95"] = _round(float(np.percentile(per_api[busiest], 95)), 3)
        out["apiserver_cpu_percent_total_mean"] = _round(sum(valid), 3)
        out["apiserver_cpu_percent_min_mean"] = _round(min(valid), 3)
    else:
        for key in ("apiserver_cpu_percent_mean", "apiserver_cpu_percent_p95",
                    "apiserver_cpu_percent_total_mean", "apiserver_cpu_percent_min_mean"):
            out[key] = None
    deploy_cpu = [_deploy_samples(m, f'apiserver_cpu_percent{{apiserver="{a}"}}') for a in apis]
    deploy_means = [float(v.mean()) for v in deploy_cpu if len(v)]
    out["apiserver_cpu_percent_deploy_mean"] = _round(max(deploy_means), 3) if deploy_means else None
    out["apiserver_cpu_percent_deploy_max"] = (
        _round(max(float(v.max()) for v in deploy_cpu if len(v)), 3) if deploy_means else None)
    for process in ("etcd", "apiserver"):  # each apiserver holds the whole cache: one figure
        _t, memory = m.series(f"{process}_memory_bytes")
        out[f"{process}_memory_bytes_max"] = _round(float(memory.max()), 0) if len(memory) else None
    for process in ("etcd", "scheduler"):
        samples = _window_samples(m, window, f"{process}_cpu_percent")
        out[f"{process}_cpu_percent_mean"] = _round(float(samples.mean()), 3) if len(samples) else None
        during = _deploy_samples(m, f"{process}_cpu_percent")
        out[f"{process}_cpu_percent_deploy_max"] = _round(float(during.max()), 3) if len(during) else None
    reconnects = _window_samples(m, window, "node_proxy_reconnects_total")
    handshakes = _window_samples(m, window, "apiserver_tls_handshakes_total")
    span = len(reconnects) * m.sample_every
    if len(reconnects) >= 2:
        step = m.sample_every
        out["node_proxy_reconnects_per_second"] = _round((reconnects[-1] - reconnects[0]) / (span - step), 3)
        out["apiserver_tls_handshakes_per_second"] = _round((handshakes[-1] - handshakes[0]) / (span - step), 3)
    else:
        out["node_proxy_reconnects_per_second"] = None
        out["apiserver_tls_handshakes_per_second"] = None
    dist = m.distributions.get
    out["api_response_seconds_mean"] = _mean(dist("api_request_seconds"))
    out["api_response_seconds_p99"] = _quantile(dist("api_request_seconds"), 0.99)
    out["api_mutating_response_seconds_p99"] = _quantile(dist("api_mutating_request_seconds"), 0.99)
    ok = counters.get('apiserver_request_total{code="200"}', 0.0)
    rejected = counters.get('apiserver_request_total{code="429"}', 0.0)
    out["api_429_share"] = _round(rejected / (ok + rejected)) if ok + rejected > 0 else None
    out["pod_startup_seconds_p99"] = _quantile(dist("pod_startup_seconds"), 0.99)
    out["scheduler_cpu_slowdown_mean"] = _mean(dist("scheduler_cycle_slowdown"))
    out["scheduler_seconds_per_pod_mean"] = _mean(dist("scheduler_cycle_seconds"))
    out["scheduler_seconds_per_pod_p99"] = _quantile(dist("scheduler_cycle_seconds"), 0.99)
    first, last = finals.get("scheduler_first_enqueued_seconds"), finals.get("scheduler_last_bound_seconds")
    out["scheduling_sim_seconds"] = _round(last - first, 3) if first is not None and last is not None else None
    out["scheduler_bind_seconds_max"] = _max(dist("scheduler_bind_seconds"))
    out["apiserver_inflight_peak"] = max(_labelled(finals, "apiserver_inflight_peak"), default=0.0)
    out["antiaffinity_violations"] = finals.get("antiaffinity_violations")
    run_seconds = window.run_end
    queries = finals.get("dns_queries_total", 0.0)
    out["dns_queries_per_second"] = _round(queries / run_seconds, 3) if run_seconds else None
    hits, misses = finals.get("dns_cache_hits_total", 0.0), finals.get("dns_cache_misses_total", 0.0)
    out["dns_cache_hit_ratio"] = _round(hits / (hits + misses)) if hits + misses else None
    out["dns_forward_peak"] = finals.get("dns_forward_peak", 0.0)
    busiest_thread = max(_labelled(finals, "dnsmasq_cpu_seconds"), default=0.0)
    out["dnsmasq_cpu_percent_mean"] = _round(100.0 * busiest_thread / run_seconds, 3) if run_seconds > 0 else None
    for name in ("dns_refused_total", "dns_timeouts_total", "dns_lookup_failures_total", "dnsmasq_restarts_total",
                 "kubedns_restarts_total", "kubedns_backoff_seconds_total", "dnsmasq_backoff_seconds_total",
                 "dns_dropped_total", "kubedns_oom_kills_total", "healthz_restarts_total"):
        out[name] = float(counters.get(name, 0.0))
    out["kubedns_memory_mib_peak"] = _round(finals.get("kubedns_memory_bytes_peak", 0.0) / 2**20, 3)
    out["runtime_timeouts_total"] = float(counters.get("runtime_timeouts_total", 0.0))
    out["pods_stuck_max"] = finals.get("pods_stuck_max", 0.0)
    out["pods_stuck_end"] = finals.get("pods_stuck", 0.0)
    out["runtime_recovery_seconds"] = _max(dist("runtime_recovery_seconds"), 3)
    out["bgp_sessions_total"] = finals.get("bgp_sessions_established", 0.0)
    out["bgp_sessions_per_node_max"] = finals.get("bgp_sessions_per_node_max", 0.0)
    out["route_convergence_seconds"] = _max(dist("route_convergence_seconds"), 3)
    out["tls_handshake_failures_total"] = float(counters.get("tls_handshake_failures_total", 0.0))
    out["watch_relists_total"] = float(counters.get("apiserver_list_requests_total", 0.0))
    bound = finals.get("scheduler_pods_bound", 0.0)
    window_s = last - first if first is not None and last is not None else None
    out["scheduling_pods_per_second"] = _round(bound / window_s, 3) if window_s and bound else None
    out["pod_startup_seconds_p50"] = _quantile(dist("pod_startup_seconds"), 0.5)
    for name in ("density_all_running_seconds", "density_all_reported_seconds", "density_pods_per_second"):
        d = dist(name)
        out[name] = _round(float(d.values[-1]), 3) if d else None  # the last density phase
    load = dist("load_seconds")
    out["load_seconds"] = _round(float(load.values[-1]), 3) if load else None  # the last load phase
    for name in ("load_pods_created_total", "load_pods_deleted_total"):
        out[name] = counters.get(name)  # None when no load phase created anything
    lookups = counters.get("dns_load_lookups_total")
    out["dns_load_lookups_total"] = lookups
    out["dns_load_failed_lookups_total"] = counters.get("dns_load_failed_lookups_total", 0.0) if lookups else None
    out["dns_load_failed_share"] = (
        _round(counters.get("dns_load_failed_lookups_total", 0.0) / lookups, 6) if lookups else None)
    out["dns_load_latency_seconds_p50"] = _quantile(dist("dns_load_latency_seconds"), 0.5)
    out["dns_load_latency_seconds_p99"] = _quantile(dist("dns_load_latency_seconds"), 0.99)
    out.update(_labelled_quantiles(m, "api_request_seconds", (0.5, 0.9, 0.99)))
    out.update(_labelled_quantiles(m, "pod_startup_seconds", (0.5, 0.9, 0.99)))
    out.update(summarise_openstack(m, scenario.openstack.enabled))
    out.update(summarise_monitoring(m, scenario.monitoring.prometheus))
    return out


def _labelled_quantiles(m: Measurements, family: str, qs: tuple[float, ...]) -> dict[str, float | None]:
    """``family_pNN{labels}`` for every label set the run recorded (ClusterLoader2's
    APIResponsiveness and PodStartupLatency report these percentiles)."""
    out: dict[str, float | None] = {}
    prefix = family + "{"
    for name in sorted(k for k in m.distributions if k.startswith(prefix)):
        labels = name[len(family):]
        for q in qs:
            out[f"{family}_p{round(q * 100)}{labels}"] = _quantile(m.distributions[name], q)
    return out
