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

from scalelab import facts
from scalelab.components.apiserver import ApiCall, ApiServer
from scalelab.components.events import post_events
from scalelab.components.ratelimit import TokenBucket
from scalelab.components.scheduler.cost import CycleCost, cycle_cost
from scalelab.components.scheduler.framework import Framework, NodeTable, PodInfo
from scalelab.components.scheduler.sampling import num_feasible_nodes_to_find
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine
from scalelab.spec.model import Scheduler as SchedulerSpec

#: A Binding object as JSON: ~300 bytes, POSTed to the pod's namespace (1.5 ``Bindings(ns).Create``).
BINDING_BYTES = 300.0
POST_BINDING = ApiCall("POST", "bindings", "namespace")
#: 1.5 scheduler cache: assumed pods are checked for expiry every second.
CACHE_CLEANUP_SECONDS = 1.0
#: 1.5 scheduler: an unschedulable pod is retried after a back-off starting at 1 s.
UNSCHEDULABLE_RETRY_SECONDS = 1.0


#: the scheduler's name on its host's cores (its CPU is sampled under it)
OWNER = "scheduler"


@dataclass(slots=True)
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
        self._event_limiter = self._events_client(spec, self._limiter, 0.0)
        #: events stored in an etcd of their own (``etcd.separate_events``)
        self.separate_events = False
        self.first_enqueued: float | None = None
        #: assumed pods not yet confirmed: name -> (node, pending, deadline or None)
        self.assumed: dict[str, tuple[int, PendingPod, float | None]] = {}
        self._cleanup_armed = False
        self._ideal = 0.0
        self._bind_started: dict[str, float] = {}
        #: placements as the informer confirmed them (deleted pods leave), by pod name
        self.placements: dict[str, tuple[PodInfo, int]] = {}
        self.last_bound: float | None = None
        #: feasible nodes after which a cycle stops filtering (all nodes: no sampling)
        self.to_find = num_feasible_nodes_to_find(len(nodes), spec.percentage_of_nodes_to_score)
        #: nodes the last cycle's filters walked: the estimate the next cycle's CPU is charged
        #: for (its decision is taken when that CPU is done)
        self.visited = self.to_find

    def reconfigure(self, spec: SchedulerSpec) -> None:
        """A scheduler restarted with new flags: its rate limiter starts full again."""
        if (spec.qps, spec.burst, spec.generation) != (self.spec.qps, self.spec.burst, self.spec.generation):
            self._limiter = TokenBucket(spec.qps, spec.burst, self.engine.now)
            self._event_limiter = self._events_client(spec, self._limiter, self.engine.now)
        self.spec = spec
        self.to_find = self.visited = num_feasible_nodes_to_find(len(self.nodes), spec.percentage_of_nodes_to_score)

    @staticmethod
    def _events_client(spec: SchedulerSpec, client: TokenBucket, now: float) -> TokenBucket:
        """The rate limiter the Scheduled events wait on: 1.5 posts them through its one client;
        a modern kube-scheduler builds a client of its own for events (``createClients``: same
        QPS and burst, another token bucket)."""
        return TokenBucket(spec.qps, spec.burst, now) if spec.generation == "modern" else client

    def cycle_cost(self, pod: PodInfo) -> CycleCost:
        """CPU of the next cycle for ``pod`` by the generation's algorithm (``cost``)."""
        return cycle_cost(self.spec, pod, self.nodes, self.visited)

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
        cost = self.cycle_cost(pending.pod)
        self._ideal = cost.cpu_seconds / min(cost.lanes, self.cores.threads)  # the cycle on an idle host
        self.cores.submit(cost.cpu_seconds / cost.lanes, self._decided, pending, self.engine.now,
                          weight=cost.lanes, owner=OWNER)

    def _decided(self, pending: PendingPod, started: float) -> None:
        took = self.engine.now - started
        self.recorder.observe("scheduler_cycle_seconds", took)
        if self._ideal > 0:
            self.recorder.observe("scheduler_cycle_slowdown", took / self._ideal)
        decision = self.framework.schedule(pending.pod, self.nodes, to_find=self.to_find)
        if self.to_find < len(self.nodes):
            self.visited = max(decision.evaluated_nodes, 1)
        if decision.node is None:
            self.recorder.inc("scheduler_unschedulable_total")
            self.engine.schedule(UNSCHEDULABLE_RETRY_SECONDS, self.enqueue, pending)
        else:
            self._assume(pending, decision.node)
            self._bind(pending, decision.node)
        self._next()

    # -- the scheduler cache: assume, confirm, expire ------------------------------------
    def _assume(self, pending: PendingPod, node: int) -> None:
        """The pod counts on its node at once, before the bind is stored. 1.5 sets the
        assumed pod's deadline now (TTL 30 s); with PR 38503 the TTL starts only when the
        bind has finished, by which time the pod is confirmed."""
        self.nodes.add_pod(node, pending.pod)
        deadline = None if self.spec.assume_ttl_after_bind else self.engine.now + self.spec.assume_ttl_seconds
        self.assumed[pending.pod.name] = (node, pending, deadline)
        if deadline is not None and not self._cleanup_armed:
            self._cleanup_armed = True
            self.engine.schedule(CACHE_CLEANUP_SECONDS, self._cleanup)

    def _cleanup(self) -> None:
        """1.5 ``cleanupAssumedPods`` every second: an assumed pod past its deadline and not
        yet confirmed by the informer leaves the cache (its node looks free again)."""
        now = self.engine.now
        for name, (node, pending, deadline) in list(self.assumed.items()):
            if deadline is not None and deadline <= now:
                del self.assumed[name]
                self.nodes.remove_pod(node, pending.pod)
                self.recorder.inc("scheduler_assumed_pods_expired_total")
        if any(d is not None for _n, _p, d in self.assumed.values()):
            self.engine.schedule(CACHE_CLEANUP_SECONDS, self._cleanup)
        else:
            self._cleanup_armed = False

    def _confirm(self, pending: PendingPod, node: int) -> None:
        """The informer sees the bound pod: an assumed pod is confirmed; an expired one is
        added back (and may now share its node with a pod placed meanwhile)."""
        if self.assumed.pop(pending.pod.name, None) is None:
            self.nodes.add_pod(node, pending.pod)
        self.placements[pending.pod.name] = (pending.pod, node)

    # -- binding ------------------------------------------------------------------------
    def _bind(self, pending: PendingPod, node: int) -> None:
        self._bind_started.setdefault(pending.pod.name, self.engine.now)
        delay = self._limiter.reserve(self.engine.now)
        self.engine.schedule(delay, self._post_binding, pending, node)

    def _post_binding(self, pending: PendingPod, node: int) -> None:
        def done(code: int, _n: float) -> None:
            if code == 429:
                # client-go retries a 429 after its Retry-After; the bind call keeps going
                self.recorder.inc("scheduler_bind_retries_total")
                self.engine.schedule(facts.RETRY_AFTER_SECONDS, self._bind, pending, node)
                return
            self.last_bound = self.engine.now
            started = self._bind_started.pop(pending.pod.name, self.engine.now)
            self.recorder.observe("scheduler_bind_seconds", self.engine.now - started)
            self._confirm(pending, node)
            # the Scheduled event (1.5: through the same client, a token taken from the binds)
            post_events(self.engine, self.apiserver, self._event_limiter, 1, self.separate_events, self.recorder)
            pending.on_bound(node)

        self.apiserver.request(POST_BINDING, BINDING_BYTES, done)

    def forget(self, pod: PodInfo, node: int) -> None:
        """The informer saw a bound pod deleted: its node's resources are free again."""
        self.nodes.remove_pod(node, pod)
        del self.placements[pod.name]

    def finish(self, recorder: Recorder) -> None:
        """End-of-run: when scheduling started and ended, and the placements' violations."""
        if self.first_enqueued is not None:
            recorder.final("scheduler_first_enqueued_seconds", self.first_enqueued)
        if self.last_bound is not None:
            recorder.final("scheduler_last_bound_seconds", self.last_bound)
        if self.placements:
            recorder.final("antiaffinity_violations", float(self.antiaffinity_violations()))
        recorder.final("scheduler_pods_bound", float(len(self.placements)))

    def antiaffinity_violations(self) -> int:
        """Unordered pairs of placed pods in one topology domain where either pod's required
        anti-affinity term selects the other (counted from the final placements)."""
        pairs: set[tuple[int, int]] = set()
        placed = list(self.placements.values())
        keys = {t.topology_key for pod, _n in placed for t in pod.required_anti_affinity}
        for key in keys:
            idx, _size = self.nodes.domains(key)
            groups: dict[int, list[int]] = {}
            for i, (_pod, node) in enumerate(placed):
                if idx[node] >= 0:
                    groups.setdefault(int(idx[node]), []).append(i)
            for members in groups.values():
                for a_pos, a in enumerate(members):
                    pod_a = placed[a][0]
                    for b in members[a_pos + 1:]:
                        pod_b = placed[b][0]
                        if any(t.topology_key == key and t.matches(pod_b) for t in pod_a.required_anti_affinity) or \
                                any(t.topology_key == key and t.matches(pod_a) for t in pod_b.required_anti_affinity):
                            pairs.add((a, b))
        return len(pairs)
