"""The ``deploy`` phase: deployments' pods created, scheduled, bound, started.

The campaign deploy is the report's OpenStack rollout: ``pods_per_node`` pods per node spread
over ``deployments`` deployments (each with a Service), plus ``control_plane_pods`` pods
pinned by a node selector to ``control_plane_nodes`` labelled nodes. Each pod's life:
ReplicaSet controller POST (rate-limited) -> scheduler cycle -> Binding POST -> kubelet
sees it on its pod watch -> starts it -> PUT status (running) -> the Service's Endpoints
change reaches every kube-proxy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from scalelab.components.controller_manager import ControllerManager
from scalelab.components.kubelet import Kubelets
from scalelab.components.objects import ENDPOINTS_ADDRESS_BYTES, ClusterObjects, endpoints_bytes
from scalelab.components.scheduler.framework import AffinityTerm, PodInfo
from scalelab.components.scheduler.scheduler import PendingPod, SchedulerProcess
from scalelab.components.scheduler.snapshot import HOSTNAME_LABEL
from scalelab.components.watch_fanout import WatchFanout
from scalelab.kube.objects import LabelSelector
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine
from scalelab.spec.model import DeployPhase

#: Label that marks the nodes reserved for the OpenStack control plane.
CONTROL_PLANE_LABEL = ("openstack-control-plane", "enabled")


@dataclass(slots=True)
class _Pod:
    info: PodInfo
    created: float = math.nan
    bound: float = math.nan
    started: float = math.nan
    bound_node: int = -1
    #: who else wants to know when this pod is Running (a load test's controller)
    on_running: Callable[[], None] | None = None


#: Pod start-up phases as ClusterLoader2's PodStartupLatency names them: created -> bound
#: (scheduled), bound -> container running on its node, running -> Running stored and seen on
#: the watch, and end to end.
PHASES = ("create_to_schedule", "schedule_to_run", "run_to_watch", "schedule_to_watch", "pod_startup")


class Deploy:
    """Drives a set of pods from creation to Running (a ``deploy`` phase, or a ``density``
    phase's pods); ``on_finished`` is called when every pod runs. A ``load`` phase launches
    and removes pods as it goes (``launch``, ``remove``) and passes no ``on_finished``."""

    def __init__(self, engine: Engine, pods: list[_Pod], services: int, pod_start_seconds: float,
                 cm: ControllerManager, scheduler: SchedulerProcess, kubelets: Kubelets, fanout: WatchFanout,
                 objects: ClusterObjects, recorder: Recorder, on_finished: Callable[[], None] | None,
                 pull: bool = True) -> None:
        """``services``: the Services (and Endpoints) the pods join, one per ``app`` label;
        ``pull``: whether each pod's image is pulled first."""
        self.engine = engine
        self.cm = cm
        self.scheduler = scheduler
        self.kubelets = kubelets
        self.fanout = fanout
        self.objects = objects
        self.recorder = recorder
        self.on_finished = on_finished
        self.pods = pods
        self.services = services
        self.pull = pull
        #: when the phase started, its last container ran, its last Running status was stored
        self.started_at = math.nan
        self.last_started = math.nan
        self.last_running = math.nan
        #: ready addresses per Service (one Service per deployment, keyed by the app label)
        self.addresses: dict[str, int] = {}
        self.running = 0
        kubelets.pod_start_seconds = pod_start_seconds

    @classmethod
    def of_phase(cls, engine: Engine, phase: DeployPhase, nodes: int, cm: ControllerManager,
                 scheduler: SchedulerProcess, kubelets: Kubelets, fanout: WatchFanout, objects: ClusterObjects,
                 recorder: Recorder, on_finished: Callable[[], None]) -> Deploy:
        """A deploy phase: its deployments' pods (and control-plane pods), a Service each."""
        return cls(engine, cls._pods(phase, nodes), phase.deployments + 1, phase.pod_start_seconds, cm, scheduler,
                   kubelets, fanout, objects, recorder, on_finished)

    @staticmethod
    def _pods(phase: DeployPhase, nodes: int) -> list[_Pod]:
        total = round(phase.pods_per_node * nodes)
        pods: list[_Pod] = []
        deployments = max(1, phase.deployments)
        selects = ({"app": f"app-{d}"} if phase.anti_affinity_selects == "own" else {"app": "selected-by-none"}
                   for d in range(deployments))
        terms = [(AffinityTerm(LabelSelector(match_labels=labels), frozenset({"ccp"}), HOSTNAME_LABEL),)
                 if phase.anti_affinity else () for labels in selects]
        for i in range(total):
            d = i % deployments
            pods.append(_Pod(PodInfo(name=f"app-{d}-{i // deployments}", namespace="ccp",
                                     labels={"app": f"app-{d}"}, cpu=phase.cpu_request,
                                     memory=phase.memory_request, node_selector=dict(phase.node_selector),
                                     required_anti_affinity=terms[d])))
        if phase.control_plane_nodes > 0:
            key, value = CONTROL_PLANE_LABEL
            for i in range(phase.control_plane_pods):
                pods.append(_Pod(PodInfo(name=f"openstack-control-{i}", namespace="ccp",
                                         labels={"app": "openstack-control"}, cpu=phase.cpu_request,
                                         memory=phase.memory_request, node_selector={key: value})))
        return pods

    def start(self) -> None:
        self.started_at = self.engine.now
        self.objects.add("services", self.services)
        self.objects.add("endpoints", self.services)
        self.recorder.event(self.engine.now, "deploy_started", f"{len(self.pods)} pods")
        if not self.pods and self.on_finished is not None:
            self.engine.schedule(0.0, self.on_finished)
        for pod in self.pods:
            self.cm.create_pod(partial(self._created, pod))

    def launch(self, pod: _Pod) -> None:
        """One more pod, created by the controller-manager (a controller scaled up)."""
        self.pods.append(pod)
        self.cm.create_pod(partial(self._created, pod))

    def remove(self, pod: _Pod, on_gone: Callable[[], None]) -> None:
        """Delete a Running pod as its controller does: graceful DELETE (rate-limited), the
        kubelet stops it and deletes it for good, the scheduler's cache and the Service's
        Endpoints let it go; ``on_gone`` when the object is gone."""
        self.cm.delete_pod(partial(self._deleting, pod, on_gone))

    def _deleting(self, pod: _Pod, on_gone: Callable[[], None]) -> None:
        self.fanout.deliver("pods", 1, np.empty(0, dtype=np.int64))  # the deletion timestamp, seen by all
        self.kubelets.pod_deleting(pod.bound_node, partial(self._gone, pod, on_gone))

    def _gone(self, pod: _Pod, on_gone: Callable[[], None]) -> None:
        self.running -= 1
        self.objects.add("pods", -1)
        self.scheduler.forget(pod.info, pod.bound_node)
        self.fanout.deliver("pods", 1, np.empty(0, dtype=np.int64))
        app = pod.info.labels.get("app")
        if self.services and app is not None and self.addresses.get(app, 0) > 0:
            self.addresses[app] -= 1
            self.objects.grow("endpoints", -ENDPOINTS_ADDRESS_BYTES)
            self.fanout.deliver("endpoints", 1, None, object_bytes=endpoints_bytes(self.addresses[app]))
        self.recorder.inc("pods_deleted_total")
        on_gone()

    def _created(self, pod: _Pod) -> None:
        pod.created = self.engine.now
        self.objects.add("pods")
        self.fanout.deliver("pods", 1, np.empty(0, dtype=np.int64))  # no node watches it yet
        self.scheduler.enqueue(PendingPod(pod.info, pod.created, partial(self._bound, pod)))

    def _bound(self, pod: _Pod, node: int) -> None:
        pod.bound_node = node
        pod.bound = self.engine.now
        self.kubelets.pod_bound(node, partial(self._running, pod), partial(self._started, pod), pull=self.pull)

    def _started(self, pod: _Pod) -> None:
        pod.started = self.last_started = self.engine.now

    def _running(self, pod: _Pod) -> None:
        self.running += 1
        now = self.last_running = self.engine.now
        self.recorder.observe("pod_startup_seconds", now - pod.created)
        for phase, seconds in zip(PHASES, (pod.bound - pod.created, pod.started - pod.bound, now - pod.started,
                                           now - pod.bound, now - pod.created), strict=True):
            self.recorder.observe(f'pod_startup_seconds{{phase="{phase}"}}', seconds)
        app = pod.info.labels.get("app")
        if self.services and app is not None:
            self.addresses[app] = self.addresses.get(app, 0) + 1
            self.objects.grow("endpoints", ENDPOINTS_ADDRESS_BYTES)
            # the pod joins its Service's Endpoints: the whole record, grown by one address, goes
            # to every endpoints watcher
            self.fanout.deliver("endpoints", 1, None, object_bytes=endpoints_bytes(self.addresses[app]))
        if pod.on_running is not None:
            pod.on_running()
        if self.on_finished is not None and self.running == len(self.pods):
            self.recorder.event(self.engine.now, "deploy_finished", f"{self.running} pods running")
            self.on_finished()
