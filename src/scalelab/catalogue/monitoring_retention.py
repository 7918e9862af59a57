"""``monitoring-retention-loss``: the 900-node run's monitoring data was deleted with old data
to make Prometheus' API fast again; it lived only in Prometheus 1.x' local storage.

Static side: a Prometheus configuration without remote storage. Dynamic side (the Prometheus
component, docs/models/prometheus.md): the dashboards over the week the server holds, at the
lab's size and storage flags, against Grafana's data-proxy timeout (the pressure that made the
team delete data), and the share of the run's samples that outlive the local storage.
"""

from __future__ import annotations

from scalelab.catalogue.entry import Band, Entry, Evidence, Finding, Reproduction, RunView
from scalelab.spec.model import ClusterSpec

ID = "monitoring-retention-loss"
#: Grafana's data-proxy timeout (``[dataproxy] timeout``, 30 s by default): a panel whose query
#: takes longer shows an error instead of the graph
DASHBOARD_TIMEOUT_SECONDS = 30.0
#: the run counts as kept when this share of its scraped samples is outside local storage
DURABLE_SHARE = 0.99

#: the lab's Prometheus as deployed (performance-docs docker_prometheus.yaml, v1.4.0 flags)
LAB_FLAGS = {"monitoring.prometheus": True, "monitoring.retention": "168h", "monitoring.history": "168h",
             "monitoring.memory_chunks": 50502740, "monitoring.max_chunks_to_persist": 3024288}


def rule(spec: ClusterSpec) -> Finding | None:
    """Prometheus keeping its data only locally: what made the report's team delete it."""
    if spec.monitoring.remote_storage:
        return None
    return ENTRY.finding(Evidence(value="no remote storage: data lives only in Prometheus' local retention",
                                  metric="monitoring.remote_storage"), severity="warning")


def detect(view: RunView) -> Finding | None:
    """The run's monitoring data is not kept outside Prometheus' local storage (no remote
    storage, or a remote queue that drops samples)."""
    durable = view.metric("monitoring_durable_share")
    if durable is None or durable >= DURABLE_SHARE:
        return None
    query = view.metric("prometheus_query_seconds_p99")
    slow = f"; dashboards over the held data take {query:.0f} s (p99)" if query is not None else ""
    return ENTRY.finding(Evidence(value=f"{durable:.0%} of the run's samples kept outside local storage{slow}",
                                  metric="monitoring_durable_share", observed=durable))


def harm(view: RunView) -> bool:
    """Harmful when the local store is under the pressure that led to the deletion (its
    dashboards beyond Grafana's timeout) or drops samples itself (throttled ingestion)."""
    query = view.metric("prometheus_query_seconds_p99") or 0.0
    skipped = view.metric("prometheus_skipped_share") or 0.0
    return query > DASHBOARD_TIMEOUT_SECONDS or skipped > 0.0


def explain(broken: RunView, fixed: RunView) -> str:
    spec = broken.spec.monitoring
    return (f"model (Prometheus v1.4.0 storage, lab flags: retention {spec.retention / 3600:g} h, memory-chunks "
            f"{spec.memory_chunks}): {broken.metric('prometheus_series_active'):.0f} active series, "
            f"{broken.metric('prometheus_samples_per_second'):.0f} samples/s; a panel over "
            f"{spec.dashboard_range / 3600:g} h takes {broken.metric('prometheus_query_seconds_p99')} s "
            f"(one seek per series file beyond the chunks kept in memory); durable share broken "
            f"{broken.metric('monitoring_durable_share')}, fixed {fixed.metric('monitoring_durable_share')} "
            f"(remote queue: {spec.remote_shards} shards x {spec.remote_samples_per_send} samples per write)")


ENTRY: Entry = Entry(
    id=ID,
    title="Monitoring data of the 900-node run was lost",
    layer="monitoring",
    symptoms="Old Prometheus data (the 900-node run included) was deleted to speed up its API.",
    cause="Prometheus 1.x kept data only locally; no remote storage.",
    fix_text="Send data to a durable time-series store through remote storage.",
    severity="warning",
    patch={"monitoring.remote_storage": True},
    broken={"monitoring.remote_storage": False},
    rule=rule,
    detect=detect,
    harm=harm,
    explain=explain,
    size_dependent=True,
    reproduction=Reproduction(context={**LAB_FLAGS, "monitoring.dashboard_range": "168h",
                                       "workload": [{"kind": "steady", "duration": "10m"}]}),
    bands=(
        Band("broken", "monitoring_durable_share", 0.0, 0.0, "derived",
             "local storage only: nothing of the run is kept outside Prometheus"),
        Band("broken", "prometheus_query_seconds_p99", DASHBOARD_TIMEOUT_SECONDS, None, "expected",
             'report (no figure): old data "deleted to improve Prometheus API speed"; read as dashboards '
             "over the held week beyond Grafana's 30 s data-proxy timeout"),
        Band("fixed", "monitoring_durable_share", DURABLE_SHARE, 1.0, "expected",
             "report: remote storage keeps the data for post-run analysis"),
    ),
)
