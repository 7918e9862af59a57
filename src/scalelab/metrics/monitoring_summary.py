"""Summary metrics of the monitoring layer (docs/metrics.md, "Monitoring"), from a run's
measurements alone; ``None`` where Prometheus was not modelled."""

from __future__ import annotations

from scalelab.results import Measurements

#: end-of-run values the summary carries as they were recorded
_FINALS = ("prometheus_series_active", "prometheus_series_archived", "prometheus_samples_per_second",
           "prometheus_memory_chunks_peak", "prometheus_chunks_to_persist_peak",
           "prometheus_persistence_urgency_peak", "prometheus_rushed_seconds", "prometheus_throttled_seconds",
           "prometheus_local_storage_bytes")


def _round(value: float, digits: int = 6) -> float:
    return float(round(value, digits))


def summarise_monitoring(m: Measurements, enabled: bool) -> dict[str, float | None]:
    """Scrape load, storage pressure, dashboard latency and how much of the run is kept
    durably (outside Prometheus' local storage)."""
    keys = [*_FINALS, "prometheus_skipped_share", "prometheus_query_seconds_p50", "prometheus_query_seconds_p99",
            "prometheus_query_timeouts_total", "prometheus_cpu_percent_mean", "monitoring_durable_share"]
    if not enabled:
        return dict.fromkeys(keys)
    finals = m.finals
    out: dict[str, float | None] = {name: _round(finals[name], 3) for name in _FINALS}
    ingested, skipped = finals["prometheus_samples_ingested_total"], finals["prometheus_samples_skipped_total"]
    scraped = ingested + skipped
    out["prometheus_skipped_share"] = _round(skipped / scraped) if scraped else None
    queries = m.distributions.get("prometheus_query_seconds")
    for name, q in (("prometheus_query_seconds_p50", 0.5), ("prometheus_query_seconds_p99", 0.99)):
        value = queries.quantile(q) if queries is not None else None
        out[name] = _round(value) if value is not None else None
    out["prometheus_query_timeouts_total"] = m.counters.get("prometheus_query_timeouts_total", 0.0)
    cpu = [v for _t, name, v in m.samples if name == "prometheus_cpu_percent"]
    out["prometheus_cpu_percent_mean"] = _round(sum(cpu) / len(cpu), 3) if cpu else None
    # what survives the local storage: the samples the remote queue sent, of all scraped
    out["monitoring_durable_share"] = (_round(finals["prometheus_remote_samples_sent_total"] / scraped)
                                       if scraped else None)
    return out
