"""The kube-scheduler process: one pod at a time through the framework, bind via the API.

Decisions are computed for real by the framework over the node table; the *time* of a cycle
comes from the generation's cost model (``cost_model``), charged to the scheduler host's
cores with the generation's parallelism, so a starved host stretches every cycle. After a
decision the pod is assumed (its resources count at once) and bound asynchronously through
the scheduler's client rate limiter; a 429 retries after Retry-After.
Model card: docs/models/scheduler.md.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from scalelab.components import reflector
from scalelab.components.apiserver import ApiServer
from scalelab.components.ratelimit import TokenBucket
from scalelab.components.scheduler.framework import Framework, NodeTable, PodInfo
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine
from scalelab.spec.model import Scheduler as SchedulerSpec

#: A Binding object as JSON: ~300 bytes.
BINDING_BYTES = 300.0
#: 1.5 scheduler: an unschedulable pod is retried after a back-off starting at 1 s.
UNSCHEDULABLE_RETRY_SECONDS = 1.0


@dataclass
class PendingPod:
    pod: PodInfo
    created_at: float
    on_bound: Callable[[int], None]


class SchedulerProcess:
    """The leading kube-scheduler replica."""

    def __init__(self, engine: Engine, spec: SchedulerSpec, cores: Cores, apiserver: ApiServer,
                 framework: Framework, nodes: NodeTable, recorder: Recorder) -> None:
        self.engine = engine
        self.spec = spec
        self.cores = cores
        self.apiserver = apiserver
        self.framework = framework
        self.nodes = nodes
        self.recorder = recorder
        self.queue: deque[PendingPod] = deque()
        self._busy = False
        self._limiter = TokenBucket(spec.qps, spec.burst)
        self.first_enqueued: float | None = None
        self.last_bound: float | None = None

    def cycle_cpu_seconds(self) -> float:
        """CPU of one cycle for the basic plugins: every node through the predicates and
        priorities (``per_node_cpu_seconds`` each)."""
        return self.spec.per_node_cpu_seconds * len(self.nodes)

    def enqueue(self, pending: PendingPod) -> None:
        if self.first_enqueued is None:
            self.first_enqueued = self.engine.now
        self.queue.append(pending)
        if not self._busy:
            self._next()

    def _next(self) -> None:
        if not self.queue:
            self._busy = False
            return
        self._busy = True
        pending = self.queue.popleft()
        lanes = min(self.spec.parallelism, len(self.nodes)) or 1
        work = self.cycle_cpu_seconds() / lanes
        self.cores.submit(work, self._decided, pending, self.engine.now, weight=lanes, owner="scheduler")

    def _decided(self, pending: PendingPod, started: float) -> None:
        self.recorder.observe("scheduler_cycle_seconds", self.engine.now - started)
        decision = self.framework.schedule(pending.pod, self.nodes)
        if decision.node is None:
            self.recorder.inc("scheduler_unschedulable_total")
            self.engine.schedule(UNSCHEDULABLE_RETRY_SECONDS, self.enqueue, pending)
        else:
            self.nodes.add_pod(decision.node, pending.pod)  # assume
            self._bind(pending, decision.node)
        self._next()

    def _bind(self, pending: PendingPod, node: int) -> None:
        delay = self._limiter.reserve(self.engine.now)
        self.engine.schedule(delay, self._post_binding, pending, node)

    def _post_binding(self, pending: PendingPod, node: int) -> None:
        def done(code: int, _n: float) -> None:
            if code == 429:
                self.recorder.inc("scheduler_bind_retries_total")
                self.engine.schedule(reflector.RETRY_AFTER_SECONDS, self._bind, pending, node)
                return
            self.last_bound = self.engine.now
            pending.on_bound(node)

        self.apiserver.request(True, BINDING_BYTES, done)
