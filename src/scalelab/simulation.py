"""Build a cluster from a scenario, run its workload phases, return the results.

This is the only place that knows how components are wired: hosts and their cores, which
process runs where (``placement``), who talks to which apiserver. Components never read
the scenario beyond their own section.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scalelab.components.apiserver import ApiServer
from scalelab.components.calico import BgpSessions
from scalelab.components.controller_manager import ControllerManager
from scalelab.components.dns import ClusterDns
from scalelab.components.etcd import Etcd
from scalelab.components.kube_proxy import watch_set as kube_proxy_watches
from scalelab.components.kubelet import Kubelets
from scalelab.components.leader_election import LeaderElection
from scalelab.components.node_proxy import ClientConnections, Fidelity
from scalelab.components.objects import OBJECT_BYTES, ClusterObjects
from scalelab.components.runtime import DockerDaemons
from scalelab.components.scheduler.framework import Framework, NodeTable
from scalelab.components.scheduler.plugins import DEFAULT_PROFILE, default_registry
from scalelab.components.scheduler.scheduler import SchedulerProcess
from scalelab.facts import RESOURCE_INDEX
from scalelab.metrics.recorder import Recorder
from scalelab.metrics.summary import STATIC_PODS_PER_NODE
from scalelab.results import Results, Window
from scalelab.sim import Cores, Engine, RngTree
from scalelab.spec.loader import apply_patch
from scalelab.spec.model import DeployPhase, ReconfigurePhase, Scenario, SteadyPhase
from scalelab.workload.deploy import CONTROL_PLANE_LABEL, Deploy
from scalelab.workload.faults import FaultInjector

#: Services and Endpoints a bare cluster has (kubernetes, kube-dns) plus the two
#: leader-election Endpoints records.
SYSTEM_SERVICES = 2
SYSTEM_ENDPOINTS = 4
#: Gauges are sampled every 10 s (CONTRACTS.md: p95 of 10 s samples).
SAMPLE_SECONDS = 10.0


def cohort_tick(proxy_timeout: float) -> float:
    """Cohort step for status timers and the idle-cut look-ahead: at most 1 s, at most a
    third of the idle timeout (cuts themselves land within 50 ms of their exact time)."""
    return float(min(1.0, max(0.05, proxy_timeout / 3.0)))


class Simulation:
    def __init__(self, scenario: Scenario, fidelity: Fidelity = "cohort") -> None:
        self.scenario = scenario
        self.engine = engine = Engine()
        self.rng = RngTree(scenario.seed)
        self.recorder = recorder = Recorder(SAMPLE_SECONDS)
        nodes = scenario.nodes
        machine = scenario.hosts.hardware if scenario.placement.control_plane == "hardware" else scenario.hosts.vm
        self.cp_cores = [Cores(engine, machine.threads, f"control-plane-{i}")
                         for i in range(scenario.topology.control_plane_hosts)]
        cp = len(self.cp_cores)
        self.etcd = Etcd(engine, self.cp_cores[0], machine.disk.fsync_seconds,
                         scenario.etcd.network_rtt_seconds, recorder)
        self.apiservers = [ApiServer(engine, i, self.cp_cores[i % cp], scenario.apiserver, self.etcd,
                                     recorder, scenario.etcd.quorum_reads)
                           for i in range(scenario.apiserver.replicas)]
        self.objects = ClusterObjects(nodes, scenario.kubelet.node_object_bytes, scenario.apiserver.watch_cache_size)
        self.objects.add("pods", STATIC_PODS_PER_NODE * nodes)
        self.objects.add("services", SYSTEM_SERVICES)
        self.objects.add("endpoints", SYSTEM_ENDPOINTS)
        self.conns = ClientConnections(
            engine, nodes, [scenario.kubelet.watches, kube_proxy_watches(scenario.kube_proxy)],
            self.apiservers, self.objects, recorder, self.rng.stream("node_proxy"),
            scenario.node_proxy.proxy_timeout, scenario.node_proxy.balance, fidelity)
        self.runtime = DockerDaemons(engine, scenario.runtime, scenario.remediation, recorder)
        self.kubelets = Kubelets(engine, scenario.kubelet, nodes, self.conns, self.apiservers, recorder,
                                 self.rng.stream("kubelet"), self.runtime)
        # Scheduler and controller-manager talk to the apiserver on their own host.
        if scenario.placement.scheduler == "dedicated":
            self.scheduler_cores = Cores(engine, scenario.hosts.hardware.threads, "scheduler-host")
        else:
            self.scheduler_cores = self.cp_cores[0]
        local_api = self.apiservers[0]
        self.node_table = self._node_table(scenario)
        plugins = DEFAULT_PROFILE
        self.scheduler = SchedulerProcess(engine, scenario.scheduler, self.scheduler_cores, local_api,
                                          Framework(default_registry(), *plugins), self.node_table, recorder)
        self.controller_manager = ControllerManager(engine, scenario.controller_manager, local_api, recorder)
        self.elections = [
            LeaderElection(engine, "kube-scheduler", scenario.scheduler.replicas,
                           scenario.scheduler.leader_elect_retry_period, local_api, self._endpoints_changed,
                           self.rng.stream("election-scheduler")),
            LeaderElection(engine, "kube-controller-manager", scenario.topology.control_plane_hosts,
                           scenario.controller_manager.leader_elect_retry_period, local_api,
                           self._endpoints_changed, self.rng.stream("election-cm")),
        ]
        self._tick_seconds = cohort_tick(scenario.node_proxy.proxy_timeout)
        self._last_cpu: dict[str, float] = {}
        for api in self.apiservers:
            recorder.gauge(f'apiserver_cpu_percent{{apiserver="{api.index}"}}', self._cpu_gauge(api))
        recorder.gauge("apiserver_inflight_max", lambda: float(max(a.inflight.in_use for a in self.apiservers)))
        recorder.gauge("node_proxy_reconnects_total", lambda: float(self.conns.reconnects))
        handshake_counters = [f'apiserver_tls_handshakes_total{{apiserver="{a.index}"}}' for a in self.apiservers]
        recorder.gauge("apiserver_tls_handshakes_total",
                       lambda: sum(recorder.counters.get(name, 0.0) for name in handshake_counters))
        engine.schedule(self._tick_seconds, self._tick)
        engine.schedule(SAMPLE_SECONDS, self._sample)
        self.deploys: list[Deploy] = []
        services = SYSTEM_SERVICES + sum(p.deployments + 1 for p in scenario.workload if isinstance(p, DeployPhase))
        kubelet = scenario.kubelet
        self.dns = ClusterDns(engine, scenario.dns, services, recorder, self.rng.stream("dns"),
                              (kubelet.restart_backoff_seconds, kubelet.max_restart_backoff_seconds))
        self.conns.listeners.append(self.dns.watch_event)
        self.dns.watch_memory(self._dns_stored_objects)
        self.bgp = BgpSessions(engine, scenario.calico, nodes, recorder, self.rng.stream("calico"))
        self.faults = FaultInjector(engine, scenario.faults, nodes, self.node_down, self.node_up, recorder,
                                    self.rng.stream("faults"), runtime_hang=self.runtime.hang,
                                    dnsmasq_oom=self.dns.oom_kill_dnsmasq, healthz_oom=self.dns.oom_kill_healthz,
                                    replicas=scenario.dns.replicas)

    def node_down(self, node: int) -> None:
        self.conns.node_down(node)
        self.kubelets.node_down(node)
        self.bgp.node_down(node)

    def node_up(self, node: int) -> None:
        self.conns.node_up(node)
        self.kubelets.node_up(node)
        self.bgp.node_up(node)

    @staticmethod
    def _node_table(scenario: Scenario) -> NodeTable:
        nodes = scenario.nodes
        labels: list[dict[str, str]] = [{"kubernetes.io/hostname": f"node{i}"} for i in range(nodes)]
        cp_nodes = [p.control_plane_nodes for p in scenario.workload if isinstance(p, DeployPhase)]
        key, value = CONTROL_PLANE_LABEL
        for i in range(min(max(cp_nodes, default=0), nodes)):
            labels[i][key] = value
        vm = scenario.hosts.vm
        return NodeTable([f"node{i}" for i in range(nodes)], labels,
                         np.full(nodes, float(vm.threads)), np.full(nodes, vm.memory))

    def _cpu_gauge(self, api: ApiServer) -> Callable[[], float]:
        def read() -> float:
            busy = api.cores.owner_busy_seconds(api.owner)
            prev = self._last_cpu.get(api.owner, 0.0)
            self._last_cpu[api.owner] = busy
            return 100.0 * (busy - prev) / SAMPLE_SECONDS

        return read

    def _dns_stored_objects(self) -> float:
        """What kubedns holds: every Service and every ready Endpoints address."""
        services = float(self.objects.count[RESOURCE_INDEX["services"]])
        return services + sum(sum(d.addresses.values()) for d in self.deploys)

    def _endpoints_changed(self) -> None:
        """A leader-election record (a small kube-system Endpoints) was written."""
        self.conns.deliver("endpoints", 1, None, object_bytes=OBJECT_BYTES["endpoints"])

    def _tick(self) -> None:
        self.conns.tick(self._tick_seconds)
        self.kubelets.tick()
        workload_pods = sum(d.running for d in self.deploys)
        if workload_pods:
            self.dns.tick(workload_pods, self._tick_seconds)
        self.engine.schedule(self._tick_seconds, self._tick)

    def _sample(self) -> None:
        self.recorder.sample(self.engine.now)
        self.engine.schedule(SAMPLE_SECONDS, self._sample)

    # -- phases -----------------------------------------------------------------------
    def reconfigure(self, patch: dict[str, object]) -> None:
        """Apply a patch to the live cluster: components take their new sections."""
        new = apply_patch(self.scenario, patch, source="reconfigure")
        self.scenario = new
        for api in self.apiservers:
            api.reconfigure(new.apiserver)
        self.conns.reconfigure(new.node_proxy.proxy_timeout)
        self._tick_seconds = cohort_tick(new.node_proxy.proxy_timeout)
        self.kubelets.reconfigure(new.kubelet)
        self.scheduler.reconfigure(new.scheduler)
        self.runtime.spec = new.runtime
        self.runtime.remediation = new.remediation
        self.recorder.event(self.engine.now, "reconfigure", ", ".join(f"{k}={v}" for k, v in patch.items()))

    def run(self, progress: Callable[[float], None] | None = None) -> Results:
        engine = self.engine
        window_open = True
        window_end: float | None = None
        for index, phase in enumerate(self.scenario.workload):
            start = engine.now
            self.recorder.event(start, "phase", f"{index}:{phase.kind}")
            if isinstance(phase, SteadyPhase):
                engine.run(start + phase.duration, progress)
            elif isinstance(phase, ReconfigurePhase):
                window_open = False
                self.reconfigure(dict(phase.set))
                engine.run(start + phase.duration, progress)
            elif isinstance(phase, DeployPhase):
                window_open = False
                deploy = Deploy(engine, phase, self.scenario.nodes, self.controller_manager, self.scheduler,
                                self.kubelets, self.conns, self.objects, self.recorder, engine.stop)
                self.deploys.append(deploy)
                deploy.start()
                creation = len(deploy.pods) / self.scenario.controller_manager.qps
                engine.run(start + creation + phase.timeout, progress)
            if window_open:
                window_end = engine.now
        self._finish()
        window = Window(0.0, window_end, engine.now)
        return Results(engine.now, engine.events_processed, self.recorder.measurements(), window)

    def _finish(self) -> None:
        """End-of-run values only the components know, recorded for the summaries."""
        rec = self.recorder
        rec.final("pods_running_workload", float(sum(d.running for d in self.deploys)))
        for api in self.apiservers:
            rec.final(f'apiserver_inflight_peak{{apiserver="{api.index}"}}', float(api.inflight.peak))
        s = self.scheduler
        if s.first_enqueued is not None:
            rec.final("scheduler_first_enqueued_seconds", s.first_enqueued)
        if s.last_bound is not None:
            rec.final("scheduler_last_bound_seconds", s.last_bound)
        if s.placements:
            rec.final("antiaffinity_violations", float(s.antiaffinity_violations()))
        dns = self.dns
        rec.final("dns_queries_total", float(dns.queries))
        rec.final("dns_cache_hits_total", float(sum(d.hits for d in dns.dnsmasq)))
        rec.final("dns_cache_misses_total", float(sum(d.misses for d in dns.dnsmasq)))
        rec.final("dns_forward_peak", float(max(d.peak for d in dns.dnsmasq)))
        for i, pod in enumerate(dns.pods):
            rec.final(f'dnsmasq_cpu_seconds{{replica="{i}"}}', pod.cpu.busy_seconds)
        rec.final("kubedns_memory_bytes_peak", dns.memory_peak)
        rec.final("pods_stuck_max", float(self.runtime.stuck_max))
        rec.final("pods_stuck", float(self.runtime.stuck))
        rec.final("bgp_sessions_established", float(self.bgp.established_total()))
        rec.final("bgp_sessions_per_node_max", float(self.bgp.per_node_max()))
