"""The ``monitoring`` section: the Prometheus 1.x server the report's lab ran, as a component.

Defaults are Prometheus v1.4.0's flags (``cmd/prometheus/config.go`` at tag v1.4.0) and the
lab's scrape configuration (performance-docs ``prometheus-kuber.yml.j2``, 2017-01-11: every
Kubernetes node's kubelet every 30 s, etcd every 5 s). The lab's own storage flags
(``docker_prometheus.yaml``: retention 168h, memory-chunks 50502740, max-chunks-to-persist
3024288) are what ``scalelab check`` reads from its files; a scenario sets them explicitly.
Model card: docs/models/prometheus.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from scalelab.spec.base import PositiveDuration, Section

DAY = 86400.0


class Monitoring(Section):
    #: the report's fix: samples also go to a durable time-series store (1.x: the
    #: ``-storage.remote.*`` flags, InfluxDB/OpenTSDB/Graphite)
    remote_storage: bool = False
    #: model the Prometheus server itself (scrapes, local storage, dashboard queries)
    prometheus: bool = False
    # -- scrapes (the lab's prometheus.yml) --
    node_scrape_interval: PositiveDuration = 30.0  # lab: job k8-env-N, role node (the kubelets)
    etcd_scrape_interval: PositiveDuration = 5.0  # lab: job etcd-env-N
    #: the kubelet's own metrics (Go runtime, process, kubelet_* summaries with quantiles);
    #: assumption of the order of a 1.5 kubelet's /metrics without cAdvisor, not counted
    kubelet_series: PositiveInt = 250
    #: cgroups cAdvisor reports on a node besides the pods' containers (root, systemd
    #: services of an Ubuntu 16.04 host, docker's parent): an assumption, not counted
    node_cgroups: PositiveInt = 30
    #: containers per pod cAdvisor sees: the application and the pod's infra (pause) container
    containers_per_pod: PositiveInt = 2
    #: series an etcd member exposes (etcd 3.0 /metrics: histograms with buckets): assumption
    etcd_series: PositiveInt = 400
    # -- local storage (Prometheus v1.4.0 flag defaults) --
    retention: PositiveDuration = 15 * DAY  # -storage.local.retention 15d
    memory_chunks: PositiveInt = 1024 * 1024  # -storage.local.memory-chunks
    max_chunks_to_persist: PositiveInt = 512 * 1024  # -storage.local.max-chunks-to-persist
    #: -storage.local.chunk-encoding-version: 1 (double-delta, default) or 2 (varbit)
    chunk_encoding: Literal[1, 2] = 1
    #: how much data the server holds when the run starts (a server running for at least its
    #: retention holds all of it); capped at ``retention``
    history: PositiveDuration = 15 * DAY
    # -- dashboards (Grafana against the Prometheus API) --
    #: time range of the dashboards' panels: Grafana's default "Last 6 hours"
    dashboard_range: PositiveDuration = 6 * 3600.0
    dashboard_panels: PositiveInt = 6  # assumption: one dashboard of six panels
    dashboard_refresh: PositiveDuration = 60.0  # assumption: refreshed every minute
    #: series a panel reads per node (e.g. a per-CPU usage series of every node's root cgroup)
    panel_series_per_node: PositiveInt = 8
    #: -query.timeout (v1.4.0: 2m): a query running longer is aborted
    query_timeout: PositiveDuration = 120.0
    # -- remote storage queue (storage/remote/queue_manager.go at v1.4.0) --
    remote_shards: PositiveInt = 10
    remote_queue_capacity: PositiveInt = 100 * 1024 // 10  # per shard; dropped when full
    remote_samples_per_send: PositiveInt = 100
    #: one write of a batch to the remote store; None: the store's disk ``fsync`` plus a
    #: LAN round trip (InfluxDB 1.x syncs its WAL on every write by default)
    remote_send_seconds: PositiveDuration | None = None
    #: CPU cost per ingested sample (scrape, parse, append): a prior, see the model card
    ingest_cpu_seconds_per_sample: PositiveDuration = Field(default=5e-6)
    #: CPU cost per sample a query decodes and evaluates: a prior, see the model card
    query_cpu_seconds_per_sample: PositiveDuration = Field(default=5e-8)
