"""The Kubernetes layer: builds the control plane, the nodes' agents and the cluster add-ons
from the spec, wires who talks to whom, and registers them with the assembly.

This is the only module that knows which process runs where (``placement``) and who talks
to which apiserver. Components never read the scenario beyond their own section. Adding a
component is its module plus its lines here; what the run must call on it (ticks, node
lifecycle, reconfiguration, faults, finish) is registered, never hard-wired elsewhere.
"""

from __future__ import annotations

import numpy as np

from scalelab.cluster.assembly import Assembly
from scalelab.components import kube_proxy, kubelet
from scalelab.components.apiserver import ApiServer
from scalelab.components.calico import BgpSessions
from scalelab.components.cluster_dns import ClusterDns
from scalelab.components.connections import ConnectionTable
from scalelab.components.controller_manager import ControllerManager
from scalelab.components.etcd import OWNER as ETCD_OWNER
from scalelab.components.etcd import Etcd
from scalelab.components.kubelet import Kubelets
from scalelab.components.leader_election import LeaderElection
from scalelab.components.memory import ControlPlaneMemory
from scalelab.components.node_proxy import Fidelity, NodeProxies
from scalelab.components.objects import ClusterObjects, endpoints_bytes
from scalelab.components.reflectors import Reflectors
from scalelab.components.runtime import DockerDaemons
from scalelab.components.scheduler.framework import Framework, NodeTable
from scalelab.components.scheduler.plugins import DEFAULT_PROFILE, default_registry
from scalelab.components.scheduler.scheduler import OWNER as SCHEDULER_OWNER
from scalelab.components.scheduler.scheduler import SchedulerProcess
from scalelab.components.watch_fanout import WatchFanout
from scalelab.facts import RESOURCE_INDEX
from scalelab.metrics.recorder import Recorder
from scalelab.metrics.summary import STATIC_PODS_PER_NODE
from scalelab.spec.model import DensityPhase, DeployPhase, DnsLoadPhase, LoadPhase, Scenario
from scalelab.workload.density import DENSITY_LABEL, density_nodes, density_pods
from scalelab.workload.density import record as record_density
from scalelab.workload.deploy import CONTROL_PLANE_LABEL, Deploy
from scalelab.workload.dns_load import DnsLoad
from scalelab.workload.load import LoadTest, longest_seconds
from scalelab.workload.pods import PodTable

#: Services and Endpoints a bare cluster has (kubernetes, kube-dns) plus the two
#: leader-election Endpoints records (none of these with Lease locks).
SYSTEM_SERVICES = 2
SYSTEM_ENDPOINTS = 4

#: A leader-election lock is a kube-system Endpoints record without addresses.
LEADER_RECORD_BYTES = endpoints_bytes(0)

#: Services an OpenStack cloud adds to the cluster DNS (galera, rabbitmq, memcached, keystone,
#: nova, neutron-server, glance-api, heat-api, heat-api-cfn, horizon).
OPENSTACK_DNS_NAMES = 10

#: What this layer handles, declared for the loader (checked against the registrations).
FAULT_KINDS = ("docker_hang", "dnsmasq_oom", "healthz_oom")
RECONFIGURABLE = ("apiserver", "node_proxy", "kubelet", "scheduler", "runtime", "remediation")
PHASES = ("deploy", "density", "dns_load", "load")


def cohort_tick(proxy_timeout: float) -> float:
    """Cohort step for status timers and the idle-cut look-ahead: at most 1 s, at most a
    third of the idle timeout (cuts themselves land within 50 ms of their exact time)."""
    return float(min(1.0, max(0.05, proxy_timeout / 3.0)))


def node_table(scenario: Scenario) -> NodeTable:
    """The scheduler's view of the nodes: hostname labels, the OpenStack control-plane label
    on the first nodes a deploy reserves, the VM's CPU and memory."""
    nodes = scenario.nodes
    labels: list[dict[str, str]] = [{"kubernetes.io/hostname": f"node{i}"} for i in range(nodes)]
    cp_nodes = [p.control_plane_nodes for p in scenario.workload if isinstance(p, DeployPhase)]
    key, value = CONTROL_PLANE_LABEL
    for i in range(min(max(cp_nodes, default=0), nodes)):
        labels[i][key] = value
    density = [density_nodes(p, nodes) for p in scenario.workload if isinstance(p, DensityPhase) and p.nodes != "all"]
    key, value = DENSITY_LABEL
    for i in range(max(density, default=0)):
        labels[i][key] = value
    vm = scenario.hosts.vm
    return NodeTable([f"node{i}" for i in range(nodes)], labels,
                     np.full(nodes, float(vm.threads)), np.full(nodes, vm.memory))


class KubernetesLayer:
    """The built Kubernetes components of one run."""

    def __init__(self, asm: Assembly, fidelity: Fidelity = "cohort") -> None:
        sc = asm.scenario
        engine, recorder, rng = asm.engine, asm.recorder, asm.rng
        self.asm = asm
        nodes = sc.nodes
        machine = sc.hosts.hardware if sc.placement.control_plane == "hardware" else sc.hosts.vm
        cp_cores = [asm.host(f"control-plane-{i}", machine.threads) for i in range(sc.topology.control_plane_hosts)]
        self.etcd = Etcd(engine, cp_cores[0], machine.disk.fsync_seconds, sc.etcd.network_rtt_seconds, recorder,
                         sc.etcd.apply_cpu_seconds)
        self.apiservers = [ApiServer(engine, i, cp_cores[i % len(cp_cores)], sc.apiserver, self.etcd, recorder,
                                     sc.etcd.quorum_reads) for i in range(sc.apiserver.replicas)]
        self.objects = objects = ClusterObjects(nodes, sc.kubelet.node_object_bytes, sc.apiserver.watch_cache_size)
        objects.add("pods", STATIC_PODS_PER_NODE * nodes)
        objects.add("services", SYSTEM_SERVICES)
        endpoints_locks = [sc.scheduler.leader_elect_resource_lock, sc.controller_manager.leader_elect_resource_lock]
        objects.add("endpoints", SYSTEM_ENDPOINTS - endpoints_locks.count("leases"))
        clients = {kubelet.CLIENT: sc.kubelet.watches, kube_proxy.CLIENT: kube_proxy.watch_set(sc.kube_proxy)}
        proxy_rng = rng.stream("node_proxy")
        self.table = ConnectionTable(nodes, clients, len(self.apiservers), proxy_rng,
                                     min(sc.node_proxy.proxy_timeout, 1.0))
        self.reflectors = Reflectors(engine, self.table, self.apiservers, objects, recorder, proxy_rng,
                                     bookmarks=sc.apiserver.watch_bookmarks)
        self.proxies = NodeProxies(engine, self.table, self.reflectors, self.apiservers, recorder,
                                   sc.node_proxy.proxy_timeout, sc.node_proxy.balance, fidelity)
        self.fanout = WatchFanout(engine, self.table, self.reflectors, self.apiservers, objects, recorder,
                                  triggers=sc.apiserver.watch_triggers)
        self.runtime = DockerDaemons(engine, sc.runtime, sc.remediation, recorder)
        self.kubelets = Kubelets(engine, sc.kubelet, nodes, self.table, self.fanout, self.apiservers, recorder,
                                 rng.stream("kubelet"), self.runtime)
        self.kubelets.separate_events = sc.etcd.separate_events
        # Scheduler and controller-manager talk to the apiserver on their own host.
        scheduler_cores = (asm.host("scheduler-host", sc.hosts.hardware.threads)
                           if sc.placement.scheduler == "dedicated" else cp_cores[0])
        local_api = self.apiservers[0]
        # the modern selectHost breaks ties at random (its own stream: no other draw moves)
        ties = rng.stream("scheduler-ties") if sc.scheduler.generation == "modern" else None
        self.scheduler = SchedulerProcess(engine, sc.scheduler, scheduler_cores, local_api,
                                          Framework(default_registry(), *DEFAULT_PROFILE, ties=ties), node_table(sc),
                                          recorder)
        self.scheduler.separate_events = sc.etcd.separate_events
        self.controller_manager = ControllerManager(engine, sc.controller_manager, local_api, recorder)
        self.elections = [
            self._election("kube-scheduler", sc.scheduler.replicas, sc.scheduler.leader_elect_retry_period,
                           sc.scheduler.leader_elect_resource_lock, local_api, rng.stream("election-scheduler")),
            self._election("kube-controller-manager", sc.topology.control_plane_hosts,
                           sc.controller_manager.leader_elect_retry_period,
                           sc.controller_manager.leader_elect_resource_lock, local_api, rng.stream("election-cm")),
        ]
        self._gauges(recorder)
        self.deploys: list[Deploy] = []
        services = SYSTEM_SERVICES + sum(p.deployments + 1 for p in sc.workload if isinstance(p, DeployPhase))
        loads = [p for p in sc.workload if isinstance(p, DnsLoadPhase)]
        # a DNS load test's names must exist; its form is the run's (the name table has one form)
        services = max([services, *(p.services for p in loads)])
        #: the cloud's Services (galera first) follow the cluster's own in the DNS name table
        self.openstack_dns_name = services
        if sc.openstack.enabled:
            services += OPENSTACK_DNS_NAMES
        dns_spec = sc.dns.model_copy(update={"lookup_form": loads[0].form}) if loads else sc.dns
        self.dns = ClusterDns(engine, dns_spec, services, recorder, rng.stream("dns"),
                              (sc.kubelet.restart_backoff_seconds, sc.kubelet.max_restart_backoff_seconds))
        self.fanout.subscribe(self.dns.watch_event)
        self.dns.watch_memory(self._dns_stored_objects)
        self.bgp = BgpSessions(engine, sc.calico, nodes, recorder, rng.stream("calico"))
        self._register(asm)

    def _register(self, asm: Assembly) -> None:
        asm.every_tick("node_proxy", self.proxies.tick)
        asm.every_tick("reflectors", self.reflectors.tick)
        asm.every_tick("kubelet", lambda _horizon: self.kubelets.tick())
        asm.every_tick("dns", self._dns_tick)
        asm.on_node("node_proxy", self.proxies.node_down, self.proxies.node_up)
        asm.on_node("kubelet", self.kubelets.node_down, self.kubelets.node_up)
        asm.on_node("calico", self.bgp.node_down, self.bgp.node_up)
        asm.reconfigurable("apiserver", self._reconfigure_apiservers)
        asm.reconfigurable("node_proxy", self._reconfigure_node_proxy)
        asm.reconfigurable("kubelet", lambda sc: self.kubelets.reconfigure(sc.kubelet))
        asm.reconfigurable("scheduler", lambda sc: self.scheduler.reconfigure(sc.scheduler))
        asm.reconfigurable("runtime", lambda sc: self.runtime.reconfigure(sc.runtime, sc.remediation))
        asm.reconfigurable("remediation", lambda sc: self.runtime.reconfigure(sc.runtime, sc.remediation))
        nodes = asm.scenario.nodes
        asm.fault("docker_hang", lambda: nodes, lambda n: f"node{n}", lambda n, _f: self.runtime.hang(n))
        replicas, replica = (lambda: len(self.dns.pods)), (lambda r: f"kube-dns-{r}")
        asm.fault("dnsmasq_oom", replicas, replica, lambda r, _f: self.dns.oom_kill_dnsmasq(r))
        asm.fault("healthz_oom", replicas, replica, lambda r, _f: self.dns.oom_kill_healthz(r))
        asm.phase("deploy", self._deploy)
        asm.phase("density", self._density)
        asm.phase("dns_load", self._dns_load)
        asm.phase("load", self._load)
        for api in self.apiservers:
            asm.on_finish(f"apiserver{api.index}", api.finish)
        asm.on_finish("workload", self._finish_workload)
        asm.on_finish("scheduler", self.scheduler.finish)
        asm.on_finish("dns", self.dns.finish)
        asm.on_finish("runtime", self.runtime.finish)
        asm.on_finish("calico", self.bgp.finish)

    def _gauges(self, recorder: Recorder) -> None:
        for api in self.apiservers:
            recorder.gauge(f'apiserver_cpu_percent{{apiserver="{api.index}"}}',
                           self.asm.cpu_gauge(api.cores, api.owner))
        recorder.gauge("etcd_cpu_percent", self.asm.cpu_gauge(self.etcd.cores, ETCD_OWNER))
        sc, engine = self.asm.scenario, self.asm.engine
        memory = ControlPlaneMemory(self.objects, recorder, sc.etcd, sc.apiserver)
        recorder.gauge("etcd_memory_bytes",
                       lambda: memory.etcd_bytes(engine.now, recorder.counters.get("etcd_operations_total", 0.0)))
        recorder.gauge("apiserver_memory_bytes", memory.apiserver_bytes)
        recorder.gauge("scheduler_cpu_percent", self.asm.cpu_gauge(self.scheduler.cores, SCHEDULER_OWNER))
        recorder.gauge("apiserver_inflight_max", lambda: float(max(a.inflight.in_use for a in self.apiservers)))
        recorder.gauge("node_proxy_reconnects_total", lambda: float(self.proxies.reconnects))
        handshakes = [f'apiserver_tls_handshakes_total{{apiserver="{a.index}"}}' for a in self.apiservers]
        recorder.gauge("apiserver_tls_handshakes_total",
                       lambda: sum(recorder.counters.get(name, 0.0) for name in handshakes))

    def _reconfigure_apiservers(self, sc: Scenario) -> None:
        for api in self.apiservers:
            api.reconfigure(sc.apiserver)
        self.fanout.triggers = sc.apiserver.watch_triggers

    def _reconfigure_node_proxy(self, sc: Scenario) -> None:
        """nginx reloaded: a new idle timeout, and the cohort step that follows it."""
        self.proxies.reconfigure(sc.node_proxy.proxy_timeout)
        self.asm.tick_seconds = cohort_tick(sc.node_proxy.proxy_timeout)

    def _dns_tick(self, horizon: float) -> None:
        workload_pods = sum(d.running for d in self.deploys)
        if workload_pods:
            self.dns.tick(workload_pods, horizon)

    def _dns_stored_objects(self) -> float:
        """What kubedns holds: every Service and every ready Endpoints address."""
        services = float(self.objects.count[RESOURCE_INDEX["services"]])
        return services + sum(sum(d.addresses.values()) for d in self.deploys)

    def _election(self, name: str, candidates: int, retry_period: float, lock: str, api: ApiServer,
                  stream: np.random.Generator) -> LeaderElection:
        """A leader election on its lock: an Endpoints record every kube-proxy receives, or a
        Lease that reaches only the apiservers' watch caches."""
        if lock == "endpoints":
            return LeaderElection(self.asm.engine, name, candidates, retry_period, LEADER_RECORD_BYTES, api,
                                  self._endpoints_changed, stream)
        return LeaderElection(self.asm.engine, name, candidates, retry_period,
                              float(self.asm.scenario.kubelet.lease_object_bytes), api, self._lease_changed, stream,
                              lock=lock)

    def _endpoints_changed(self) -> None:
        """A leader-election record (a small kube-system Endpoints) was written."""
        self.fanout.deliver("endpoints", 1, None, object_bytes=LEADER_RECORD_BYTES)

    def _lease_changed(self) -> None:
        """A leader-election Lease was written: every apiserver decodes it from etcd's watch;
        no client watches it."""
        size = float(self.asm.scenario.kubelet.lease_object_bytes)
        for api in self.apiservers:
            api.fanout(1, 0.0, 0.0, size)

    def _deploy(self, phase: object) -> float:
        """Start a deploy phase; it ends when every pod runs, at the latest ``timeout`` after
        the controller-manager's rate limit let the last create through."""
        assert isinstance(phase, DeployPhase)
        engine = self.asm.engine
        deploy = Deploy.of_phase(engine, phase, self.asm.scenario.nodes, self.controller_manager, self.scheduler,
                                 self.kubelets, self.fanout, self.objects, self.asm.recorder, engine.stop)
        self.deploys.append(deploy)
        deploy.start()
        creation = len(deploy.pods) / self.asm.scenario.controller_manager.qps
        return engine.now + creation + phase.timeout

    def _density(self, phase: object) -> float:
        """Start a density phase at its creation rate; it ends when every pod is reported Running."""
        assert isinstance(phase, DensityPhase)
        asm, sc = self.asm, self.asm.scenario
        qps = phase.creation_qps or sc.controller_manager.qps
        creator = ControllerManager(asm.engine, sc.controller_manager.model_copy(update={"qps": qps}),
                                    self.apiservers[0], asm.recorder)
        pods = density_pods(phase, sc.nodes)
        deploy: Deploy

        def finished() -> None:
            record_density(deploy, asm.recorder)
            asm.engine.stop()

        deploy = Deploy(asm.engine, pods, 0, phase.pod_start_seconds, creator, self.scheduler, self.kubelets,
                        self.fanout, self.objects, asm.recorder, finished, pull=phase.images == "pull")
        self.deploys.append(deploy)
        deploy.start()
        return asm.engine.now + len(pods) / qps + phase.timeout

    def _load(self, phase: object) -> float:
        """Start a load test; it ends when its controllers and Services are deleted."""
        assert isinstance(phase, LoadPhase)
        asm = self.asm
        deploy = Deploy(asm.engine, PodTable(), 0, phase.pod_start_seconds, self.controller_manager, self.scheduler,
                        self.kubelets, self.fanout, self.objects, asm.recorder, None, pull=phase.images == "pull")
        self.deploys.append(deploy)
        test = LoadTest(asm.engine, phase, asm.scenario.nodes, deploy, self.apiservers[0], asm.recorder,
                        asm.rng.stream("load"), asm.engine.stop)
        test.start()
        return asm.engine.now + longest_seconds(phase, asm.scenario.nodes)

    def _dns_load(self, phase: object) -> float:
        """Start a DNS load test; it ends when its last lookup has ended."""
        assert isinstance(phase, DnsLoadPhase)
        return DnsLoad(self.asm.engine, phase, self.dns, self.asm.recorder, self.asm.rng.stream("dns_load")).start()

    def workload_pods(self) -> float:
        """Pods of the workload phases running now."""
        return float(sum(d.running for d in self.deploys))

    def _finish_workload(self, recorder: Recorder) -> None:
        recorder.final("pods_running_workload", float(sum(d.running for d in self.deploys)))
