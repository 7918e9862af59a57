"""kube-controller-manager (1.5): the ReplicaSet controller creating a deployment's pods (and
a replication controller's pods, created and deleted as it scales).

Creates and deletes go through the controller-manager's client rate limiter (QPS 20, burst 30, the 1.5
flag defaults), one POST per pod; the created pod is a Pod change every pod watcher sees
(the scheduler picks it up from its watch of unassigned pods). Its leader-election record
is written by ``leader_election``. Endpoints and node controllers are not modelled beyond
the Endpoints updates a running pod causes (see ``workload.deploy``).
Model card: docs/models/controller_manager.md.
"""

from __future__ import annotations

from collections.abc import Callable

from scalelab import facts
from scalelab.components.apiserver import ApiCall, ApiServer
from scalelab.components.objects import OBJECT_BYTES
from scalelab.components.ratelimit import TokenBucket
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine
from scalelab.sim.fifo import TimedFifo
from scalelab.spec.model import ControllerManager as ControllerManagerSpec

#: The replication controllers' create and (graceful) delete of a pod.
POST_POD = ApiCall("POST", "pods", "namespace")
DELETE_POD = ApiCall("DELETE", "pods", "namespace")


class ControllerManager:
    def __init__(self, engine: Engine, spec: ControllerManagerSpec, apiserver: ApiServer,
                 recorder: Recorder) -> None:
        self.engine = engine
        self.spec = spec
        self.apiserver = apiserver
        self.recorder = recorder
        self._limiter = TokenBucket(spec.qps, spec.burst)
        #: the limiter's due times never decrease: the waiting creates stay out of the heap
        self._sends = TimedFifo(engine)

    def create_pod(self, on_created: Callable[[], None]) -> None:
        """Queue one pod create behind the rate limiter; ``on_created`` when stored."""
        self._queue(POST_POD, "create", on_created)

    def delete_pod(self, on_deleted: Callable[[], None]) -> None:
        """Queue one pod delete (graceful: the pod gets its deletion timestamp, the kubelet
        does the rest) behind the same rate limiter; ``on_deleted`` when stored."""
        self._queue(DELETE_POD, "delete", on_deleted)

    def _queue(self, call: ApiCall, action: str, then: Callable[[], None]) -> None:
        now = self.engine.now
        self._sends.at(now + self._limiter.reserve(now), self._send, call, action, then)

    def _send(self, call: ApiCall, action: str, then: Callable[[], None]) -> None:
        def done(code: int, _n: float) -> None:
            if code == 429:  # client-go retries after Retry-After, through the limiter again
                self.recorder.inc(f"controller_manager_{action}_retries_total")
                self.engine.schedule(facts.RETRY_AFTER_SECONDS, self._queue, call, action, then)
                return
            then()

        self.apiserver.request(call, OBJECT_BYTES["pods"], done)
