"""End-of-run summary metrics (CONTRACTS.md names; unit in the name; None = undefined).

The measurement window is the steady phases before the first deploy or reconfigure; CPU
and reconnect figures are taken there, latencies and shares over the whole run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scalelab.simulation import Results, Simulation


def _window_samples(results: Results, metric: str) -> np.ndarray:
    times, values = results.recorder.series(metric)
    start, end = results.window.start, results.window.end
    if end is None or end <= start:
        return values  # no steady window: the whole run
    keep = (times > start) & (times <= end + 1e-9)
    return values[keep]


def _deploy_samples(results: Results, metric: str) -> np.ndarray:
    """Samples taken while a deploy phase ran (from its start to its last pod running)."""
    times, values = results.recorder.series(metric)
    keep = np.zeros(len(times), dtype=bool)
    start: float | None = None
    for event in results.recorder.events:
        if event.kind == "deploy_started":
            start = event.time
        elif event.kind == "deploy_finished" and start is not None:
            # a sample covers the interval before it: the one just after the end counts
            keep |= (times > start) & (times < event.time + results.recorder.sample_every)
            start = None
    if start is not None:  # the run ended mid-deploy
        keep |= times > start
    return values[keep]


def _round(value: float | None, digits: int = 6) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return float(round(value, digits))


def summarise(sim: Simulation, results: Results) -> dict[str, float | None]:
    rec = results.recorder
    out: dict[str, float | None] = {}
    out["nodes"] = float(sim.scenario.nodes)
    deployed = sum(d.running for d in sim.deploys)
    from scalelab.simulation import STATIC_PODS_PER_NODE

    out["pods_running"] = float(deployed + STATIC_PODS_PER_NODE * sim.scenario.nodes)
    per_api = [_window_samples(results, f'apiserver_cpu_percent{{apiserver="{a.index}"}}') for a in sim.apiservers]
    means = [float(v.mean()) if len(v) else None for v in per_api]
    valid = [m for m in means if m is not None]
    if valid:
        busiest = int(np.argmax([m if m is not None else -1.0 for m in means]))
        out["apiserver_cpu_percent_mean"] = _round(means[busiest], 3)
        out["apiserver_cpu_percent_p95"] = _round(float(np.percentile(per_api[busiest], 95)), 3)
        out["apiserver_cpu_percent_total_mean"] = _round(sum(valid), 3)
        out["apiserver_cpu_percent_min_mean"] = _round(min(valid), 3)
    else:
        for key in ("apiserver_cpu_percent_mean", "apiserver_cpu_percent_p95",
                    "apiserver_cpu_percent_total_mean", "apiserver_cpu_percent_min_mean"):
            out[key] = None
    deploy_cpu = [_deploy_samples(results, f'apiserver_cpu_percent{{apiserver="{a.index}"}}') for a in sim.apiservers]
    deploy_means = [float(v.mean()) for v in deploy_cpu if len(v)]
    out["apiserver_cpu_percent_deploy_mean"] = _round(max(deploy_means), 3) if deploy_means else None
    out["apiserver_cpu_percent_deploy_max"] = (
        _round(max(float(v.max()) for v in deploy_cpu if len(v)), 3) if deploy_means else None)
    reconnects = _window_samples(results, "node_proxy_reconnects_total")
    handshakes = _window_samples(results, "apiserver_tls_handshakes_total")
    span = len(reconnects) * rec.sample_every
    if len(reconnects) >= 2:
        step = rec.sample_every
        out["node_proxy_reconnects_per_second"] = _round((reconnects[-1] - reconnects[0]) / (span - step), 3)
        out["apiserver_tls_handshakes_per_second"] = _round((handshakes[-1] - handshakes[0]) / (span - step), 3)
    else:
        out["node_proxy_reconnects_per_second"] = None
        out["apiserver_tls_handshakes_per_second"] = None
    req = rec.histograms.get("api_request_seconds")
    out["api_response_seconds_mean"] = _round(req.mean()) if req else None
    out["api_response_seconds_p99"] = _round(req.quantile(0.99)) if req else None
    mut = rec.histograms.get("api_mutating_request_seconds")
    out["api_mutating_response_seconds_p99"] = _round(mut.quantile(0.99)) if mut else None
    ok = rec.counters.get('apiserver_request_total{code="200"}', 0.0)
    rejected = rec.counters.get('apiserver_request_total{code="429"}', 0.0)
    out["api_429_share"] = _round(rejected / (ok + rejected)) if ok + rejected > 0 else None
    startup = rec.histograms.get("pod_startup_seconds")
    out["pod_startup_seconds_p99"] = _round(startup.quantile(0.99)) if startup else None
    slowdown = rec.histograms.get("scheduler_cycle_slowdown")
    out["scheduler_cpu_slowdown_mean"] = _round(slowdown.mean()) if slowdown else None
    cycles = rec.histograms.get("scheduler_cycle_seconds")
    out["scheduler_seconds_per_pod_mean"] = _round(cycles.mean()) if cycles else None
    s = sim.scheduler
    if s.first_enqueued is not None and s.last_bound is not None:
        out["scheduling_sim_seconds"] = _round(s.last_bound - s.first_enqueued, 3)
    else:
        out["scheduling_sim_seconds"] = None
    binds = rec.histograms.get("scheduler_bind_seconds")
    out["scheduler_bind_seconds_max"] = _round(float(max(binds.values))) if binds and binds.values else None
    out["apiserver_inflight_peak"] = float(max(a.inflight.peak for a in sim.apiservers))
    out["antiaffinity_violations"] = float(s.antiaffinity_violations()) if s.placements else None
    dns = sim.dns
    out["dns_queries_per_second"] = _round(dns.queries / results.sim_seconds, 3) if results.sim_seconds else None
    answered = sum(d.hits + d.misses for d in dns.dnsmasq)
    out["dns_cache_hit_ratio"] = _round(sum(d.hits for d in dns.dnsmasq) / answered) if answered else None
    out["dns_forward_peak"] = float(max(d.peak for d in dns.dnsmasq))
    busiest_thread = max(pod.cpu.busy_seconds for pod in dns.pods)
    out["dnsmasq_cpu_percent_mean"] = (
        _round(100.0 * busiest_thread / results.sim_seconds, 3) if results.sim_seconds > 0 else None)
    for name in ("dns_refused_total", "dns_timeouts_total", "dns_lookup_failures_total", "dnsmasq_restarts_total",
                 "kubedns_restarts_total", "kubedns_backoff_seconds_total", "dnsmasq_backoff_seconds_total",
                 "dns_dropped_total", "kubedns_oom_kills_total", "healthz_restarts_total"):
        out[name] = float(rec.counters.get(name, 0.0))
    out["kubedns_memory_mib_peak"] = _round(dns.memory_peak / 2**20, 3)
    out["runtime_timeouts_total"] = float(rec.counters.get("runtime_timeouts_total", 0.0))
    out["pods_stuck_max"] = float(sim.runtime.stuck_max)
    out["pods_stuck_end"] = float(sim.runtime.stuck)
    recovery = rec.histograms.get("runtime_recovery_seconds")
    out["runtime_recovery_seconds"] = _round(float(max(recovery.values)), 3) if recovery else None
    out["bgp_sessions_total"] = float(sim.bgp.established_total())
    out["bgp_sessions_per_node_max"] = float(sim.bgp.per_node_max())
    convergence = rec.histograms.get("route_convergence_seconds")
    out["route_convergence_seconds"] = _round(float(max(convergence.values)), 3) if convergence else None
    out["tls_handshake_failures_total"] = float(rec.counters.get("tls_handshake_failures_total", 0.0))
    out["watch_relists_total"] = float(rec.counters.get("apiserver_list_requests_total", 0.0))
    return out
