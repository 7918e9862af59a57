"""kubelet (1.5): node status every 10 s, pods started on its node, its watches.

With node leases (1.14+, ``kubelet.node_leases``) the 10 s heartbeat is a PUT of a small Lease
and the Node's status is written every ``node_status_report_frequency`` (5 min).

Each kubelet holds one HTTP/2 connection through its node's proxy (``node_proxy``) carrying
its reflectors (its pods by ``spec.nodeName``, its own Node, all Services) and its requests.
Node status (1.5 ``tryUpdateNodeStatus``): GET the Node, then PUT its status; the PUT is a
Node change, which the kubelet's own Node watch then receives. Its pods: bound pod -> start
(``pod_start_seconds`` of kubelet work, then the runtime's pull and start) -> PUT pod status.
Requests pass the kubelet's client rate limiter (QPS 5, burst 10).
Node status updates are cohorts per tick (all nodes due in one tick, per apiserver).
Model card: docs/models/kubelet.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from scalelab import facts
from scalelab.components.apiserver import ApiCall, ApiServer, CohortReply
from scalelab.components.connections import ConnectionTable
from scalelab.components.events import KUBELET_START_EVENTS, KUBELET_STOP_EVENTS, post_events
from scalelab.components.objects import OBJECT_BYTES
from scalelab.components.ratelimit import TokenBucket
from scalelab.components.runtime import DockerDaemons
from scalelab.components.watch_fanout import WatchFanout
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine
from scalelab.spec.model import Kubelet as KubeletSpec

#: The kubelet's name among a node's client connections.
CLIENT = "kubelet"
#: Its API calls: the node status cycle (1.5 ``tryUpdateNodeStatus``: GET, then PUT), pod status.
GET_NODE = ApiCall("GET", "nodes", "cluster")
PUT_NODE_STATUS = ApiCall("PUT", "nodes", "cluster")
PUT_POD_STATUS = ApiCall("PUT", "pods", "namespace")
#: The node lease renewal (kubelet 1.14+ ``nodelease`` controller: an update of its Lease).
PUT_LEASE = ApiCall("PUT", "leases", "namespace")
#: The final delete of a pod whose containers are gone (1.5 status manager: grace period 0).
DELETE_POD = ApiCall("DELETE", "pods", "namespace")


class Kubelets:
    """The kubelets of all nodes."""

    def __init__(self, engine: Engine, spec: KubeletSpec, nodes: int, table: ConnectionTable,
                 fanout: WatchFanout, apiservers: Sequence[ApiServer], recorder: Recorder,
                 rng: np.random.Generator, runtime: DockerDaemons) -> None:
        self.runtime = runtime
        self.engine = engine
        self.spec = spec
        self.nodes = nodes
        self.table = table
        self.fanout = fanout
        self.apiservers = list(apiservers)
        self.recorder = recorder
        self.next_status = rng.uniform(0.0, self._status_period(spec), nodes)
        #: when each node renews its lease next (None: no leases, the status is the heartbeat)
        self.next_lease = rng.uniform(0.0, spec.node_status_update_frequency, nodes) if spec.node_leases else None
        self._limiters: dict[int, TokenBucket] = {}
        self.pod_start_seconds = 2.0
        #: events stored in an etcd of their own (``etcd.separate_events``)
        self.separate_events = False

    def reconfigure(self, spec: KubeletSpec) -> None:
        """New kubelet flags on every node: leases start (each node's first renewal now) or stop."""
        if spec.node_leases and self.next_lease is None:
            self.next_lease = np.full(self.nodes, self.engine.now)
        elif not spec.node_leases:
            self.next_lease = None
        self.spec = spec

    @staticmethod
    def _status_period(spec: KubeletSpec) -> float:
        """How often a node writes its status: every heartbeat, or with leases every report."""
        return spec.node_status_report_frequency if spec.node_leases else spec.node_status_update_frequency

    # -- node status ------------------------------------------------------------------
    def tick(self) -> None:
        now = self.engine.now
        if self.next_lease is not None:
            renew = np.flatnonzero(self.next_lease <= now)
            if len(renew):
                self.next_lease[renew] = np.maximum(self.next_lease[renew] + self.spec.node_status_update_frequency,
                                                    now)
                self._renew_leases(renew)
        due = np.flatnonzero(self.next_status <= now)
        if len(due) == 0:
            return
        self.next_status[due] = np.maximum(self.next_status[due] + self._status_period(self.spec), now)
        self._send_status(due)

    def _renew_leases(self, nodes: np.ndarray) -> None:
        conns = self.table.conn_of(nodes, CLIENT)
        self.table.touch(conns, self.engine.now)
        upstream = self.table.upstream[conns]
        for a, api in enumerate(self.apiservers):
            group = nodes[upstream == a]
            if len(group):
                reply = CohortReply(group, self._lease_renewed, self._retry_lease)
                api.request(PUT_LEASE, float(self.spec.lease_object_bytes), reply, weight=len(group))

    def _retry_lease(self, nodes: np.ndarray) -> None:
        self.engine.schedule(facts.RETRY_AFTER_SECONDS, self._renew_leases, nodes)

    def _lease_renewed(self, nodes: np.ndarray) -> None:
        """A Lease change reaches every apiserver's watch cache from etcd (each decodes it); the
        node lifecycle controller's informer, on the first apiserver, is its one watcher."""
        self.recorder.inc("kubelet_lease_renewals_total", len(nodes))
        size = float(self.spec.lease_object_bytes)
        for a, api in enumerate(self.apiservers):
            api.fanout(len(nodes), 1.0 if a == 0 else 0.0, float(len(nodes)) if a == 0 else 0.0, size)

    def _send_status(self, nodes: np.ndarray) -> None:
        conns = self.table.conn_of(nodes, CLIENT)
        self.table.touch(conns, self.engine.now)
        upstream = self.table.upstream[conns]
        size = self.spec.node_object_bytes
        for a, api in enumerate(self.apiservers):
            group = nodes[upstream == a]
            if len(group):
                reply = CohortReply(group, partial(self._got_node, a), self._retry_status)
                api.request(GET_NODE, size, reply, weight=len(group))

    def _retry_status(self, nodes: np.ndarray) -> None:
        self.recorder.inc("kubelet_status_retries_total", len(nodes))
        self.engine.schedule(facts.RETRY_AFTER_SECONDS, self._send_status, nodes)

    def _got_node(self, a: int, nodes: np.ndarray) -> None:
        reply = CohortReply(nodes, self._status_written, self._retry_status)
        self.apiservers[a].request(PUT_NODE_STATUS, self.spec.node_object_bytes, reply, weight=len(nodes))

    def _status_written(self, nodes: np.ndarray) -> None:
        self.recorder.inc("kubelet_node_status_updates_total", len(nodes))
        conns = self.table.conn_of(nodes, CLIENT)
        self.table.touch(conns, self.engine.now)
        self.fanout.deliver("nodes", len(nodes), conns)

    def node_down(self, node: int) -> None:
        self.next_status[node] = np.inf
        if self.next_lease is not None:
            self.next_lease[node] = np.inf

    def node_up(self, node: int) -> None:
        self.next_status[node] = self.engine.now
        if self.next_lease is not None:
            self.next_lease[node] = self.engine.now

    # -- pods -------------------------------------------------------------------------
    def pod_bound(self, node: int, on_running: Callable[[], None],
                  on_started: Callable[[], None] | None = None, pull: bool = True) -> None:
        """The pod watch told this node's kubelet about a pod bound to it; ``on_started`` when
        its container runs, ``on_running`` when its Running status is stored."""
        self.fanout.deliver_one("pods", 1, self.table.row_of(node, CLIENT))
        self.engine.schedule(self.pod_start_seconds, self.runtime.start_pod, node,
                             partial(self._report_running, node, on_running, pull, on_started), pull)

    def _limiter(self, node: int) -> TokenBucket:
        """The node's kubelet client rate limiter (QPS 5, burst 10 in 1.5), shared by its pod
        status updates, its final deletes and its events."""
        limiter = self._limiters.get(node)
        if limiter is None:
            limiter = self._limiters[node] = TokenBucket(self.spec.qps, self.spec.burst, self.engine.now)
        return limiter

    def _events(self, node: int, count: int) -> None:
        api = self.apiservers[int(self.table.upstream[self.table.row_of(node, CLIENT)])]
        post_events(self.engine, api, self._limiter(node), count, self.separate_events, self.recorder)

    def _report_running(self, node: int, on_running: Callable[[], None], pulled: bool,
                        on_started: Callable[[], None] | None = None) -> None:
        if on_started is not None:
            on_started()
        # the container's events (Pulling when it pulled, Pulled, Created, Started) go first
        self._events(node, KUBELET_START_EVENTS + int(pulled))
        limiter = self._limiter(node)
        delay = limiter.reserve(self.engine.now)
        self.engine.schedule(delay, self._put_pod_status, node, on_running)

    def _put_pod_status(self, node: int, on_running: Callable[[], None]) -> None:
        self._pod_request(node, PUT_POD_STATUS, partial(self._status_stored, node, on_running))

    def _status_stored(self, node: int, on_running: Callable[[], None]) -> None:
        """The Running status is stored: the kubelet's own pod watch brings it back."""
        self.fanout.deliver_one("pods", 1, self.table.row_of(node, CLIENT))
        on_running()

    def _pod_request(self, node: int, call: ApiCall, then: Callable[[], None]) -> None:
        """One request about a pod over the node's kubelet connection; a 429 is retried after
        Retry-After (the token was spent already)."""
        row = self.table.row_of(node, CLIENT)
        self.table.touch_one(row, self.engine.now)
        api = self.apiservers[int(self.table.upstream[row])]

        def done(code: int, _n: float) -> None:
            if code == 429:
                self.engine.schedule(facts.RETRY_AFTER_SECONDS, self._pod_request, node, call, then)
                return
            then()

        api.request(call, OBJECT_BYTES["pods"], done)

    def pod_deleting(self, node: int, on_gone: Callable[[], None]) -> None:
        """The pod watch told this node's kubelet that a pod of it is being deleted: its
        containers are stopped, then the kubelet deletes the object for good (through its
        rate limiter); ``on_gone`` when that delete is stored."""
        self.fanout.deliver_one("pods", 1, self.table.row_of(node, CLIENT))
        self._events(node, KUBELET_STOP_EVENTS)
        self.runtime.stop_pod(node, partial(self._final_delete, node, on_gone))

    def _final_delete(self, node: int, on_gone: Callable[[], None]) -> None:
        self.engine.schedule(self._limiter(node).reserve(self.engine.now), self._pod_request, node, DELETE_POD,
                             on_gone)
