"""The monitoring layer: the Prometheus server scraping the cluster, on a host of its own.

Built only when ``monitoring.prometheus`` is set. It reads the Kubernetes layer's running pods
(each pod's containers are series cAdvisor exposes) and loads nothing of the cluster itself:
the lab's Prometheus scraped the kubelets directly (``role: node``), not through the
apiservers, so scrapes cost the cluster nothing the model would see.
"""

from __future__ import annotations

from collections.abc import Callable

from scalelab.cluster.assembly import Assembly
from scalelab.components.prometheus import OWNER, STEP_SECONDS, Prometheus
from scalelab.metrics.summary import STATIC_PODS_PER_NODE

#: Prometheus runs on a bare-metal host of the lab's kind (hosts.hardware), its own
HOST = "monitoring-host"


class MonitoringLayer:
    """The built monitoring components of one run (none unless Prometheus is modelled)."""

    def __init__(self, asm: Assembly, workload_pods: Callable[[], float]) -> None:
        sc = asm.scenario
        self.asm = asm
        self.prometheus: Prometheus | None = None
        if not sc.monitoring.prometheus:
            return
        machine = sc.hosts.hardware
        cores = asm.host(HOST, machine.threads)
        nodes = sc.nodes

        def pods() -> float:
            return STATIC_PODS_PER_NODE * nodes + workload_pods()

        self.prometheus = prom = Prometheus(asm.engine, sc.monitoring, cores, machine.disk.fsync_seconds, nodes,
                                            int(sc.hosts.vm.threads), sc.topology.control_plane_hosts, pods,
                                            asm.recorder)
        prom.settle()
        asm.engine.schedule(STEP_SECONDS, self._step)
        asm.engine.schedule(sc.monitoring.dashboard_refresh, self._refresh)
        asm.recorder.gauge("prometheus_cpu_percent", asm.cpu_gauge(cores, OWNER))
        asm.recorder.gauge("prometheus_memory_chunks", prom.memory_chunks)
        asm.recorder.gauge("prometheus_chunks_to_persist", lambda: prom.waiting)
        asm.recorder.gauge("prometheus_persistence_urgency_score", lambda: prom.urgency)
        asm.on_finish("prometheus", prom.finish)

    def _step(self) -> None:
        assert self.prometheus is not None
        self.prometheus.step(STEP_SECONDS)
        self.asm.engine.schedule(STEP_SECONDS, self._step)

    def _refresh(self) -> None:
        assert self.prometheus is not None
        self.prometheus.refresh_dashboard()
        self.asm.engine.schedule(self.asm.scenario.monitoring.dashboard_refresh, self._refresh)
