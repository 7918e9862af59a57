"""Injected faults, one schema for every kind (``faults: [{kind, target, at | rate, duration}]``).

``kill_node``: the node's kubelet and kube-proxy stop for good (its connections close, its
status stops). ``restart_node``: the same, then after ``duration`` fresh processes dial the
apiservers and LIST + WATCH everything. ``docker_hang``: the node's container runtime stops
answering (see ``components.runtime``); ``duration`` does not apply (only a docker restart
ends it). ``dnsmasq_oom``: a kube-dns replica's dnsmasq container is killed on its memory limit
and restarted by the kubelet (an empirical fault: the report saw it, no mechanism in the model
produces it; ``target`` is then a replica index). ``healthz_oom``: the same for the kube-dns
pod's exechealthz sidecar (kubernetes issue 29688 saw it OOM on unexplained memory spikes), whose
/healthz is kubedns's liveness probe. A fault fires at ``at`` (simulated seconds),
or as a Poisson process at ``rate`` per node (per replica) per hour; ``target`` is a node
index or ``random``. The engine is not touched: a
fault is a scheduled callback on the components.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine
from scalelab.spec.model import Fault

NodeAction = Callable[[int], None]
#: Fault kinds whose target is a kube-dns replica, not a node.
REPLICA_FAULTS = ("dnsmasq_oom", "healthz_oom")


class FaultInjector:
    def __init__(self, engine: Engine, faults: Sequence[Fault], nodes: int, node_down: NodeAction,
                 node_up: NodeAction, recorder: Recorder, rng: np.random.Generator,
                 runtime_hang: NodeAction | None = None, dnsmasq_oom: NodeAction | None = None,
                 healthz_oom: NodeAction | None = None, replicas: int = 1) -> None:
        self.healthz_oom = healthz_oom
        self.runtime_hang = runtime_hang
        self.dnsmasq_oom = dnsmasq_oom
        self.replicas = replicas
        self.engine = engine
        self.nodes = nodes
        self.node_down = node_down
        self.node_up = node_up
        self.recorder = recorder
        self.rng = rng
        for fault in faults:
            if fault.at is not None:
                engine.at(fault.at, self._fire, fault)
            if fault.rate is not None:
                self._next_poisson(fault)

    def _next_poisson(self, fault: Fault) -> None:
        assert fault.rate is not None
        per_second = fault.rate * self._targets(fault) / 3600.0
        self.engine.schedule(float(self.rng.exponential(1.0 / per_second)), self._fire_poisson, fault)

    def _fire_poisson(self, fault: Fault) -> None:
        self._fire(fault)
        self._next_poisson(fault)

    def _targets(self, fault: Fault) -> int:
        return self.replicas if fault.kind in REPLICA_FAULTS else self.nodes

    def _fire(self, fault: Fault) -> None:
        count = self._targets(fault)
        target = int(self.rng.integers(count)) if fault.target == "random" else int(fault.target)
        if target >= count:
            return  # a target beyond a scaled-down cluster: nothing to break
        self.recorder.inc(f'faults_total{{kind="{fault.kind}"}}')
        if fault.kind in REPLICA_FAULTS:
            self.recorder.event(self.engine.now, fault.kind, f"kube-dns-{target}")
            action = self.dnsmasq_oom if fault.kind == "dnsmasq_oom" else self.healthz_oom
            if action is not None:
                action(target)
            return
        node = target
        self.recorder.event(self.engine.now, fault.kind, f"node{node}")
        if fault.kind == "docker_hang":
            if self.runtime_hang is not None:
                self.runtime_hang(node)
            return
        self.node_down(node)
        if fault.kind == "restart_node":
            self.engine.schedule(fault.duration, self._restart, node)

    def _restart(self, node: int) -> None:
        self.recorder.event(self.engine.now, "node_restarted", f"node{node}")
        self.node_up(node)
