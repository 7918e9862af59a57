"""The ``load`` phase: Kubernetes' load test as the 1.5 release ran it (test/e2e/load.go).

Replication controllers of 5, 30 and 250 pods (load.go's ``computePodCounts``: a quarter of
the pods in big ones, a third of the rest in medium ones, the rest in small ones), each with a
Service when ``services`` is on. Every stage starts each controller's action at a moment drawn
uniformly over the stage's spread and waits for all of them:

1. create: POST the controller (and its Service); its pods are created by the
   controller-manager (rate-limited), scheduled, started; done when all run. Spread:
   pods / ``actions_per_second`` (load.go's "throughput").
2. ``scalings`` times: PUT the controller to a size drawn uniformly from [size/2, size/2 + size)
   of its *original* size; the controller-manager creates or deletes the difference; done when
   the new pods run and the removed ones are gone, then a LIST of the controller's pods from the
   watch cache (resourceVersion 0). Spread: a third of the create's.
3. delete: the controller is scaled to 0 and deleted (load.go's ``DeleteResourceAndPods``); done
   when its pods are gone; then the Services are deleted. Spread: as the create's.

The test's own clients (QPS 100 per 20 controllers) are not a limit at these rates and are not
modelled; the controller-manager's rate limiter is (it creates and deletes every pod).
Figures: ``load_seconds`` (phase start to its last Service deleted), ``load_pods_created_total``,
``load_pods_deleted_total``, with the API latencies and pod start-up of every other phase.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from scalelab import facts
from scalelab.components.apiserver import ApiCall, ApiServer
from scalelab.components.objects import OBJECT_BYTES
from scalelab.components.scheduler.framework import PodInfo
from scalelab.facts import RESOURCE_INDEX
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine
from scalelab.spec.model import LoadPhase
from scalelab.workload.deploy import Deploy

#: load.go's controller sizes, small to big.
GROUP_SIZES = (5, 30, 250)
#: A ReplicationController as JSON (its pod template inside): ~1.5 KB (estimate).
RC_BYTES = 1_500.0
POST_RC = ApiCall("POST", "replicationcontrollers", "namespace")
PUT_RC = ApiCall("PUT", "replicationcontrollers", "namespace")
DELETE_RC = ApiCall("DELETE", "replicationcontrollers", "namespace")
POST_SERVICE = ApiCall("POST", "services", "namespace")
DELETE_SERVICE = ApiCall("DELETE", "services", "namespace")
LIST_PODS = ApiCall("LIST", "pods", "namespace")


def controller_sizes(total_pods: int) -> list[int]:
    """The controllers' sizes for ``total_pods`` pods, as load.go's ``computePodCounts``."""
    small, medium, big = GROUP_SIZES
    bigs = total_pods // 4 // big
    rest = total_pods - bigs * big
    mediums = rest // 3 // medium
    rest -= mediums * medium
    return [small] * (rest // small) + [medium] * mediums + [big] * bigs


def longest_seconds(phase: LoadPhase, nodes: int) -> float:
    """How long a load phase may run: its ``duration`` when set, else its stages' spreads
    (create, the scalings, delete) and its ``timeout`` for the last controllers to settle."""
    if phase.duration is not None:
        return phase.duration
    total = round(phase.pods_per_node * nodes)
    return total / phase.actions_per_second * (2 + phase.scalings / 3) + phase.timeout


class _Controller:
    """One replication controller: its original size and the pods it has now."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        #: its pods, by their number in the phase's pod table
        self.pods: list[int] = []
        self.outstanding = 0
        self.done: Callable[[], None] | None = None


class LoadTest:
    """Runs one ``load`` phase; ``on_finished`` when its last Service is deleted."""

    def __init__(self, engine: Engine, phase: LoadPhase, nodes: int, deploy: Deploy, apiserver: ApiServer,
                 recorder: Recorder, rng: np.random.Generator, on_finished: Callable[[], None]) -> None:
        self.engine = engine
        self.phase = phase
        self.deploy = deploy
        self.apiserver = apiserver
        self.recorder = recorder
        self.rng = rng
        self.on_finished = on_finished
        total = round(phase.pods_per_node * nodes)
        self.total = total
        self.controllers = [_Controller(f"load-{size}-{i}", size) for i, size in enumerate(controller_sizes(total))]
        self.started_at = 0.0
        self._stages: list[tuple[str, float]] = [("create", total / phase.actions_per_second)]
        self._stages += [("scale", total / (3 * phase.actions_per_second))] * phase.scalings
        self._stages.append(("delete", total / phase.actions_per_second))
        self._pending = 0
        self._serial = 0

    def start(self) -> None:
        self.started_at = self.engine.now
        self.recorder.event(self.engine.now, "deploy_started", f"load: {len(self.controllers)} controllers")
        self._next_stage()

    # -- stages ---------------------------------------------------------------------------
    def _next_stage(self) -> None:
        if not self._stages:
            self._delete_services()
            return
        stage, spread = self._stages.pop(0)
        self._pending = len(self.controllers)
        if not self.controllers:
            self.engine.schedule(0.0, self._next_stage)
        action = {"create": self._create, "scale": self._scale, "delete": self._delete}[stage]
        for controller, at in zip(self.controllers, self.rng.uniform(0.0, spread, len(self.controllers)).tolist(),
                                  strict=True):
            self.engine.schedule(at, action, controller)

    def _controller_done(self, _controller: _Controller) -> None:
        self._pending -= 1
        if self._pending == 0:
            self._next_stage()

    def _request(self, call: ApiCall, size: float, then: Callable[[], None], extra_cpu: float = 0.0,
                 storage: bool = True) -> None:
        """One request of the test's client; a 429 is retried after Retry-After like client-go."""
        def done(code: int, _n: float) -> None:
            if code == 429:
                self.engine.schedule(facts.RETRY_AFTER_SECONDS, self._request, call, size, then, extra_cpu, storage)
                return
            then()

        self.apiserver.request(call, size, done, extra_cpu=extra_cpu, storage=storage)

    # -- create, scale, delete ------------------------------------------------------------
    def _create(self, controller: _Controller) -> None:
        def created() -> None:
            self._resize(controller, controller.size, partial(self._controller_done, controller))

        if self.phase.services:
            self.deploy.objects.add("services")
            self.deploy.objects.add("endpoints")
            self.deploy.services += 1
            self._request(POST_SERVICE, OBJECT_BYTES["services"], lambda: None)
        self._request(POST_RC, RC_BYTES, created)

    def _scale(self, controller: _Controller) -> None:
        size = controller.size
        target = int(self.rng.integers(size)) + size // 2

        def listed() -> None:
            self._controller_done(controller)

        def resized() -> None:
            pods = float(self.deploy.objects.count[RESOURCE_INDEX["pods"]])
            cost = self.apiserver.list_cost(pods, len(controller.pods), OBJECT_BYTES["pods"])
            self._request(LIST_PODS, 0.0, listed, extra_cpu=cost, storage=False)

        self._request(PUT_RC, RC_BYTES, partial(self._resize, controller, target, resized))

    def _delete(self, controller: _Controller) -> None:
        def emptied() -> None:
            self._request(DELETE_RC, RC_BYTES, partial(self._controller_done, controller))

        self._request(PUT_RC, RC_BYTES, partial(self._resize, controller, 0, emptied))

    def _resize(self, controller: _Controller, target: int, done: Callable[[], None]) -> None:
        """The controller-manager brings the controller to ``target`` pods: creates run to
        Running, deletes to gone; ``done`` when every one has."""
        change = target - len(controller.pods)
        if change == 0:
            done()
            return
        controller.outstanding = abs(change)
        controller.done = done
        if change > 0:
            for _ in range(change):
                self._serial += 1
                labels = {"app" if self.phase.services else "name": controller.name}
                info = PodInfo(name=f"{controller.name}-{self._serial}", namespace="load", labels=labels,
                               cpu=0.01, memory=25 * 2**20)
                self.recorder.inc("load_pods_created_total")
                controller.pods.append(self.deploy.launch(info, partial(self._settled, controller)))
        else:
            removed, controller.pods = controller.pods[target:], controller.pods[:target]
            for pod in removed:
                self.recorder.inc("load_pods_deleted_total")
                self.deploy.remove(pod, partial(self._settled, controller))

    def _settled(self, controller: _Controller) -> None:
        controller.outstanding -= 1
        if controller.outstanding == 0 and controller.done is not None:
            done, controller.done = controller.done, None
            done()

    def _delete_services(self) -> None:
        services = self.deploy.services

        def finished() -> None:
            self.recorder.observe("load_seconds", self.engine.now - self.started_at)
            self.recorder.event(self.engine.now, "deploy_finished", "load: every controller deleted")
            self.on_finished()

        if services == 0:
            finished()
            return
        left = [services]

        def deleted() -> None:
            left[0] -= 1
            self.deploy.objects.add("services", -1)
            self.deploy.objects.add("endpoints", -1)
            if left[0] == 0:
                self.deploy.services = 0
                finished()

        for _ in range(services):
            self._request(DELETE_SERVICE, OBJECT_BYTES["services"], deleted)
