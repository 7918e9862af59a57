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
from scalelab.workload.pods import PodTable

#: Label that marks the nodes reserved for the OpenStack control plane.
CONTROL_PLANE_LABEL = ("openstack-control-plane", "enabled")


#: Pod start-up phases as ClusterLoader2's PodStartupLatency names them: created -> bound
#: (scheduled), bound -> container running on its node, running -> Running stored and seen on
#: the watch, and end to end.
PHASES = ("create_to_schedule", "schedule_to_run", "run_to_watch", "schedule_to_watch", "pod_startup")


class Deploy:
    """Drives a set of pods from creation to Running (a ``deploy`` phase, or a ``density``
    phase's pods); ``on_finished`` is called when every pod runs. A ``load`` phase launches
    and removes pods as it goes (``launch``, ``remove``) and passes no ``on_finished``."""

    def __init__(self, engine: Engine, pods: PodTable, services: int, pod_start_seconds: float,
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
    def _pods(phase: DeployPhase, nodes: int) -> PodTable:
        """The deployments' pods round-robin (pod ``i`` is replica ``i // deployments`` of
        deployment ``i % deployments``), then the control-plane pods; each deployment's pods
        share one labels mapping, node selector and anti-affinity terms (read-only)."""
        total = round(phase.pods_per_node * nodes)
        deployments = max(1, phase.deployments)
        labels = [{"app": f"app-{d}"} for d in range(deployments)]
        selects = ({"app": f"app-{d}"} if phase.anti_affinity_selects == "own" else {"app": "selected-by-none"}
                   for d in range(deployments))
        terms = [(AffinityTerm(LabelSelector(match_labels=selected), frozenset({"ccp"}), HOSTNAME_LABEL),)
                 if phase.anti_affinity else () for selected in selects]
        node_selector = dict(phase.node_selector)
        key, value = CONTROL_PLANE_LABEL
        control_labels, control_selector = {"app": "openstack-control"}, {key: value}

        def template(i: int) -> PodInfo:
            if i >= total:
                return PodInfo(name=f"openstack-control-{i - total}", namespace="ccp", labels=control_labels,
                               cpu=phase.cpu_request, memory=phase.memory_request, node_selector=control_selector)
            d = i % deployments
            return PodInfo(name=f"app-{d}-{i // deployments}", namespace="ccp", labels=labels[d],
                           cpu=phase.cpu_request, memory=phase.memory_request, node_selector=node_selector,
                           required_anti_affinity=terms[d])

        control = phase.control_plane_pods if phase.control_plane_nodes > 0 else 0
        return PodTable(total + control, template)

    def start(self) -> None:
        self.started_at = self.engine.now
        self.objects.add("services", self.services)
        self.objects.add("endpoints", self.services)
        self.recorder.event(self.engine.now, "deploy_started", f"{len(self.pods)} pods")
        if not self.pods and self.on_finished is not None:
            self.engine.schedule(0.0, self.on_finished)
        for i in range(len(self.pods)):
            self.cm.create_pod(partial(self._created, i))

    def launch(self, info: PodInfo, on_running: Callable[[], None] | None = None) -> int:
        """One more pod, created by the controller-manager (a controller scaled up); its number.
        ``on_running``: who else wants to know when it is Running (its controller)."""
        i = self.pods.add(info, on_running)
        self.cm.create_pod(partial(self._created, i))
        return i

    def remove(self, i: int, on_gone: Callable[[], None]) -> None:
        """Delete a Running pod as its controller does: graceful DELETE (rate-limited), the
        kubelet stops it and deletes it for good, the scheduler's cache and the Service's
        Endpoints let it go; ``on_gone`` when the object is gone."""
        self.cm.delete_pod(partial(self._deleting, i, on_gone))

    def _deleting(self, i: int, on_gone: Callable[[], None]) -> None:
        self.fanout.deliver("pods", 1, np.empty(0, dtype=np.int64))  # the deletion timestamp, seen by all
        self.kubelets.pod_deleting(self.pods.node[i], partial(self._gone, i, on_gone))

    def _gone(self, i: int, on_gone: Callable[[], None]) -> None:
        self.running -= 1
        self.objects.add("pods", -1)
        info = self.pods.info(i)
        self.scheduler.forget(info, self.pods.node[i])
        self.pods.release(i)
        self.fanout.deliver("pods", 1, np.empty(0, dtype=np.int64))
        app = info.labels.get("app")
        if self.services and app is not None and self.addresses.get(app, 0) > 0:
            self.addresses[app] -= 1
            self.objects.grow("endpoints", -ENDPOINTS_ADDRESS_BYTES)
            self.fanout.deliver("endpoints", 1, None, object_bytes=endpoints_bytes(self.addresses[app]))
        self.recorder.inc("pods_deleted_total")
        on_gone()

    def _created(self, i: int) -> None:
        now = self.pods.created[i] = self.engine.now
        self.objects.add("pods")
        self.fanout.deliver("pods", 1, np.empty(0, dtype=np.int64))  # no node watches it yet
        self.scheduler.enqueue(PendingPod(self.pods.info(i), now, partial(self._bound, i)))

    def _bound(self, i: int, node: int) -> None:
        self.pods.node[i] = node
        self.pods.bound[i] = self.engine.now
        self.kubelets.pod_bound(node, partial(self._running, i), partial(self._started, i), pull=self.pull)

    def _started(self, i: int) -> None:
        self.pods.started[i] = self.last_started = self.engine.now

    def _running(self, i: int) -> None:
        self.running += 1
        now = self.last_running = self.engine.now
        pods = self.pods
        created, bound, started = pods.created[i], pods.bound[i], pods.started[i]
        self.recorder.observe("pod_startup_seconds", now - created)
        for phase, seconds in zip(PHASES, (bound - created, started - bound, now - started,
                                           now - bound, now - created), strict=True):
            self.recorder.observe(f'pod_startup_seconds{{phase="{phase}"}}', seconds)
        app = pods.info(i).labels.get("app")
        if self.services and app is not None:
            self.addresses[app] = self.addresses.get(app, 0) + 1
            self.objects.grow("endpoints", ENDPOINTS_ADDRESS_BYTES)
            # the pod joins its Service's Endpoints: the whole record, grown by one address, goes
            # to every endpoints watcher
            self.fanout.deliver("endpoints", 1, None, object_bytes=endpoints_bytes(self.addresses[app]))
        on_running = pods.on_running.get(i)
        if on_running is not None:
            on_running()
        if self.on_finished is not None and self.running == len(self.pods):
            self.recorder.event(self.engine.now, "deploy_finished", f"{self.running} pods running")
            self.on_finished()
