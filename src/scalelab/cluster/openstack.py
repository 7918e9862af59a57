"""The OpenStack layer: builds the services of the cloud on the cluster from ``openstack:`` and
registers the ``rally`` phase.

Control-plane pods run on the first ``control_plane_nodes`` Kubernetes nodes, nova-compute on
the ``computes`` others; every service resolves the names of Galera (and, through the same
resolver, of RabbitMQ and memcached: not yet per connection) through the cluster DNS model of
the Kubernetes layer when its oslo.db pool opens a connection. Services are built only when
``openstack.enabled``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from scalelab.cluster.assembly import Assembly
from scalelab.components.cluster_dns import ClusterDns
from scalelab.components.openstack.api import Api, Backends, pools
from scalelab.components.openstack.compute import Compute
from scalelab.components.openstack.db import GaleraCluster
from scalelab.components.openstack.identity import Identity
from scalelab.components.openstack.memcached import Memcached
from scalelab.components.openstack.network import Images, Network
from scalelab.components.openstack.orchestration import Orchestration
from scalelab.components.openstack.process import ServiceProcesses
from scalelab.components.openstack.rpc import Broker
from scalelab.components.resolver import lookup
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Event
from scalelab.spec.model import RallyPhase
from scalelab.spec.rally_task import parse
from scalelab.workload.rally.runner import RallyRun

FAULT_KINDS: tuple[str, ...] = ()
RECONFIGURABLE: tuple[str, ...] = ()
PHASES = ("rally",)

#: nova-scheduler worker processes per pod (Newton: one).
SCHEDULER_WORKERS = 1


class OpenStackLayer:
    """The built services of one run (nothing when ``openstack.enabled`` is false)."""

    def __init__(self, asm: Assembly, dns: ClusterDns, galera_name: int) -> None:
        self.asm = asm
        spec = asm.scenario.openstack
        asm.phase("rally", self._rally)
        self.enabled = spec.enabled
        if not spec.enabled:
            return
        engine, recorder, rng = asm.engine, asm.recorder, asm.rng
        self.engine = engine
        resolver_rng = rng.stream("openstack-dns")

        def resolve() -> Generator[Event, Any, bool]:
            return (yield from lookup(engine, dns, galera_name, resolver_rng))

        galera_resolve = resolve if spec.dns_lookups else None
        self.memcached = Memcached(spec.memcached, recorder)
        backends = Backends(engine, spec, GaleraCluster(engine, spec.galera, recorder), self.memcached,
                            Broker(engine, spec.rabbitmq, recorder), recorder)
        stream = rng.stream("openstack")
        rpc_threads = spec.rpc_executor_thread_pool_size

        def api(name: str, service: str, replicas: int, workers: int, slots: int, cpu: float,
                shared: bool = False) -> Api:
            procs = ServiceProcesses(engine, name, replicas, workers, slots,
                                     pools(backends, service, replicas * workers, galera_resolve), recorder, stream,
                                     shared_queue=shared)
            return Api(name, procs, backends, cpu, spec.rpc_timeout(service))

        ks, nova, neutron, glance, heat = spec.keystone, spec.nova, spec.neutron, spec.glance, spec.heat
        keystone_api = api("keystone", "keystone", ks.replicas, ks.processes, ks.threads, 0.0, shared=True)
        self.identity = Identity(keystone_api, ks, spec.memcached.token_entry_bytes)
        self.compute = Compute(engine, nova, self.identity,
                               api("nova-api", "nova", nova.replicas, nova.api_workers, nova.greenthreads,
                                   nova.request_cpu_seconds),
                               api("nova-conductor", "nova", nova.replicas, nova.conductor_workers, rpc_threads,
                                   nova.request_cpu_seconds),
                               api("nova-scheduler", "nova", nova.replicas, SCHEDULER_WORKERS, rpc_threads,
                                   nova.request_cpu_seconds),
                               spec.computes, stream)
        self.network = Network(engine, neutron, self.identity,
                               api("neutron-server", "neutron", neutron.replicas, neutron.api_workers,
                                   neutron.greenthreads, neutron.request_cpu_seconds),
                               api("neutron-rpc", "neutron", neutron.replicas, neutron.rpc_workers, rpc_threads,
                                   neutron.request_cpu_seconds),
                               spec.computes, stream)
        self.images = Images(engine, glance, self.identity,
                             api("glance-api", "glance", glance.replicas, glance.api_workers, glance.greenthreads,
                                 glance.request_cpu_seconds))
        self.compute.network, self.compute.images = self.network, self.images
        self.orchestration = Orchestration(engine, heat, self.identity,
                                           api("heat-api", "heat", heat.replicas, heat.api_workers, heat.greenthreads,
                                               heat.request_cpu_seconds),
                                           api("heat-engine", "heat", heat.replicas, heat.engine_workers,
                                               rpc_threads, heat.resource_cpu_seconds),
                                           self.compute, self.network, self.images)
        self.compute.start_background()
        self.network.start_background()
        asm.on_finish("memcached", self.memcached.finish)
        asm.on_finish("openstack", self._finish)

    def _finish(self, recorder: Recorder) -> None:
        recorder.final("openstack_servers_active", float(sum(1 for s in self.compute.status.values()
                                                             if s == "ACTIVE")))

    def _rally(self, phase: object) -> float:
        """Start a Rally task; the phase ends when its last workload has finished."""
        assert isinstance(phase, RallyPhase)
        assert self.enabled, "the loader rejects a rally phase without openstack.enabled"
        workloads = parse(phase.task)
        RallyRun(self, workloads, self.asm.recorder, self.engine.stop).start()
        return self.engine.now + phase.timeout
