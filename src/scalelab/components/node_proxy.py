"""The nginx stream proxy on every node, and the client connections that pass through it.

Every node runs kubelet and kube-proxy; each process holds one HTTP/2 connection (all its
watches and requests multiplexed, as Go 1.7 clients did by default) through the node-local
nginx to one apiserver. nginx's ``proxy_timeout`` is an idle timer: when no byte has moved
in either direction for that long, nginx closes both sides. The cut ends every watch on the
connection; the reflectors re-watch at once (or re-list, see ``reflector``), which needs a
new TCP connection and a full TLS handshake at the apiserver nginx picks.

Fidelity (DESIGN.md): per-connection state lives in NumPy arrays (last activity, upstream,
per-watch start, deadline and last resourceVersion seen). In ``cohort`` mode a tick scans
the arrays for connections whose idle timer ran out and charges their reconnects as one
weighted job per apiserver; in ``event`` mode every activity arms a per-connection timer.
Cuts come from those timers and from event arrivals only, never from a drawn rate: a
connection whose watch sees an event every 2 s is never cut by a 3 s timeout.
Model card: docs/models/node_proxy.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Literal

import numpy as np

from scalelab import facts
from scalelab.components.apiserver import ApiServer, CohortReply
from scalelab.components.objects import ClusterObjects
from scalelab.facts import RESOURCE_INDEX
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine, Timer

DOWN, CONNECTING, UP = 0, 1, 2
#: Cohort mode finds a due cut within this much of its exact time (a bin = one event).
CUT_BIN_SECONDS = 0.05
Fidelity = Literal["cohort", "event"]


class ClientConnections:
    """All node-proxied client connections of the cluster, as arrays."""

    def __init__(self, engine: Engine, nodes: int, watch_sets: Sequence[Sequence[str]],
                 apiservers: Sequence[ApiServer], objects: ClusterObjects, recorder: Recorder,
                 rng: np.random.Generator, proxy_timeout: float,
                 balance: Literal["least_conn", "round_robin"] = "least_conn",
                 fidelity: Fidelity = "cohort", concurrent_dials: bool = True) -> None:
        self.engine = engine
        self.nodes = nodes
        #: cluster-wide watchers outside the nodes (kubedns): (resource, events, bytes each)
        self._subscribers: list[Callable[[str, int, float], None]] = []
        self.apiservers = list(apiservers)
        self.objects = objects
        self.recorder = recorder
        self.rng = rng
        self.timeout = proxy_timeout
        self.balance = balance
        self.fidelity = fidelity
        #: Go 1.7 clients dial once per concurrent request when no connection exists
        #: (x/net/http2 clientConnPool.addConnIfNeeded keeps one and closes the others).
        self.concurrent_dials = concurrent_dials
        clients = len(watch_sets)
        self.clients_per_node = clients
        size = nodes * clients
        self.node = np.repeat(np.arange(nodes), clients)
        self.client = np.tile(np.arange(clients), nodes)
        width = max(len(ws) for ws in watch_sets)
        table = np.full((clients, width), -1, dtype=np.int64)
        for k, ws in enumerate(watch_sets):
            table[k, : len(ws)] = [RESOURCE_INDEX[r] for r in ws]
        self.res = table[self.client]
        self.valid = self.res >= 0
        replicas = len(self.apiservers)
        self.state = np.full(size, UP, dtype=np.int8)
        # A cluster that has been up a while: a node's connections spread over the
        # apiservers (what least_conn does from an empty start); every connection moved
        # bytes within the last second (true of kube-proxy's, fed every ~1 s; the kubelets'
        # first cuts then fall at random phases set by their status timers).
        self.upstream = (self.node + self.client) % replicas
        self._rr = np.zeros(nodes, dtype=np.int64)
        self.last_activity = -rng.uniform(0.0, min(proxy_timeout, 1.0), size)
        self.watch_started = np.full((size, width), -facts.WATCH_TIMEOUT_MAX)
        self.watch_events = np.ones((size, width), dtype=np.int64)
        self.watch_seen = np.zeros((size, width), dtype=np.int64)
        self.watch_deadline = rng.uniform(0.0, facts.WATCH_TIMEOUT_MAX, (size, width))
        self.watch_deadline[~self.valid] = np.inf
        self.pending_relist = np.zeros((size, width), dtype=bool)
        self._cut_pending = np.zeros(size, dtype=bool)
        self._down_nodes: set[int] = set()
        self.reconnects = 0
        self.reconnects_by_client = np.zeros(clients, dtype=np.int64)
        #: event fidelity: each established connection's idle timer
        self._idle_timers: dict[int, Timer] = {}
        if fidelity == "event":
            self._arm(np.arange(size))

    def subscribe(self, on_event: Callable[[str, int, float], None]) -> None:
        """A cluster-wide watcher outside the nodes (kubedns) gets every event:
        ``on_event(resource, events, bytes each)``."""
        self._subscribers.append(on_event)

    # -- helpers --------------------------------------------------------------------
    def conn_of(self, nodes: np.ndarray, client: int) -> np.ndarray:
        return nodes * self.clients_per_node + client

    def watchers_per_apiserver(self, resource: str) -> np.ndarray:
        """Established watches of ``resource`` on each apiserver."""
        col = self.res == RESOURCE_INDEX[resource]
        has = col.any(axis=1) & (self.state == UP)
        counts: np.ndarray = np.bincount(self.upstream[has], minlength=len(self.apiservers)).astype(np.float64)
        return counts

    def touch(self, idx: np.ndarray) -> None:
        """Bytes moved on these connections now (only established ones have a timer)."""
        idx = idx[self.state[idx] == UP]
        self.last_activity[idx] = self.engine.now
        if self.fidelity == "event":
            self._arm(idx)

    def _arm(self, idx: np.ndarray) -> None:
        """(Re)start the idle timers of these connections from their last activity."""
        now = self.engine.now
        for c in idx.tolist():
            timer = self._idle_timers.get(c)
            if timer is not None:
                timer.cancel()
            due = max(0.0, float(self.last_activity[c]) + self.timeout - now)
            self._idle_timers[c] = self.engine.schedule(due, self._check, c)

    def _check(self, c: int) -> None:
        del self._idle_timers[c]
        if self.state[c] == UP:
            self._cut(np.array([c]))

    def reconfigure(self, proxy_timeout: float) -> None:
        """nginx reloaded with a new idle timeout (applies to every connection at once)."""
        self.timeout = proxy_timeout
        if self.fidelity == "event":
            self._arm(np.flatnonzero(self.state == UP))

    # -- node lifecycle -------------------------------------------------------------
    def node_down(self, node: int) -> None:
        """The node's processes are gone: its connections close without a reconnect."""
        self._down_nodes.add(node)
        idx = np.flatnonzero(self.node == node)
        self.state[idx] = DOWN
        self.watch_deadline[idx] = np.inf
        self.pending_relist[idx] |= self.valid[idx]

    def node_up(self, node: int) -> None:
        """Fresh kubelet and kube-proxy processes: dial, then LIST and WATCH everything."""
        self._down_nodes.discard(node)
        idx = np.flatnonzero(self.node == node)
        self.pending_relist[idx] |= self.valid[idx]
        self._dial(idx)

    # -- watch events ---------------------------------------------------------------
    def deliver(self, resource: str, events: int, receivers: np.ndarray | None,
                object_bytes: float | None = None) -> None:
        """``events`` changes of ``resource`` (each ``object_bytes`` big, default the
        resource's typical size); ``receivers`` are the connections whose watch matches one of
        them (None: every watcher of the resource). Charges the fan-out and tells the
        cluster-wide watchers outside the nodes (``listeners``)."""
        r = RESOURCE_INDEX[resource]
        size = float(self.objects.bytes[r]) if object_bytes is None else object_bytes
        for subscriber in self._subscribers:
            subscriber(resource, events, size)
        position = self.objects.changed(resource, events)
        col = self.res == r
        watchers = self.watchers_per_apiserver(resource)
        if receivers is None:
            receivers = np.flatnonzero(col.any(axis=1))
        receivers = receivers[self.state[receivers] == UP]
        rows, cols = np.nonzero(col[receivers])
        got = receivers[rows]
        is_open = np.isfinite(self.watch_deadline[got, cols])  # not waiting for a relist
        got, cols = got[is_open], cols[is_open]
        self.watch_events[got, cols] += 1
        self.watch_seen[got, cols] = position
        delivered = np.bincount(self.upstream[got], minlength=len(self.apiservers))
        for a, api in enumerate(self.apiservers):
            api.fanout(events, watchers[a], float(delivered[a]), size)
        self.touch(got)

    # -- timers ---------------------------------------------------------------------
    def tick(self, horizon: float) -> None:
        """Cohort step over the next ``horizon`` seconds: idle cuts falling in it are
        scheduled in bins of ``CUT_BIN_SECONDS`` (re-checked then: traffic meanwhile saves
        a connection), and watches whose server timeout ran out re-watch."""
        now = self.engine.now
        up = self.state == UP
        if self.fidelity == "cohort":
            due = np.flatnonzero(up & ~self._cut_pending & (self.last_activity + self.timeout <= now + horizon))
            if len(due):
                self._cut_pending[due] = True
                bins = np.ceil(np.maximum(self.last_activity[due] + self.timeout - now, 0.0) / CUT_BIN_SECONDS)
                for b in np.unique(bins).tolist():
                    self.engine.schedule(b * CUT_BIN_SECONDS, self._cut_if_idle, due[bins == b])
        due_watch = up[:, None] & (self.watch_deadline <= now)
        if due_watch.any():
            rows, cols = np.nonzero(due_watch)
            self._rewatch(rows, cols)
            self.touch(np.unique(rows))

    def _cut_if_idle(self, idx: np.ndarray) -> None:
        self._cut_pending[idx] = False
        idle = idx[(self.state[idx] == UP) & (self.last_activity[idx] + self.timeout <= self.engine.now + 1e-9)]
        if len(idle):
            self._cut(idle)

    def _cut(self, idx: np.ndarray) -> None:
        now = self.engine.now
        self.reconnects += len(idx)
        self.recorder.inc("node_proxy_reconnects_total", len(idx))
        self.reconnects_by_client += np.bincount(self.client[idx], minlength=self.clients_per_node)
        # A watch that lived under 1 s without an event is an error for the facts.
        short = (now - self.watch_started[idx] < facts.SHORT_WATCH_SECONDS) & (self.watch_events[idx] == 0)
        self.pending_relist[idx] |= short & self.valid[idx]
        self.watch_deadline[idx] = np.inf
        self._dial(idx)

    def _choose_upstreams(self, idx: np.ndarray) -> np.ndarray:
        replicas = len(self.apiservers)
        nodes = self.node[idx]
        rr = self._rr[nodes]
        self._rr[nodes] += 1
        if self.balance == "round_robin" or replicas == 1:
            rotated: np.ndarray = (rr % replicas).astype(np.int64)
            return rotated
        active = np.flatnonzero(self.state != DOWN)
        counts = np.zeros((self.nodes, replicas))
        np.add.at(counts, (self.node[active], self.upstream[active]), 1.0)
        # the dialing connections are not established: do not count them
        np.add.at(counts, (nodes, self.upstream[idx]), -(self.state[idx] != DOWN).astype(np.float64))
        tie = ((np.arange(replicas)[None, :] - rr[:, None]) % replicas) / (2.0 * replicas)
        chosen: np.ndarray = np.argmin(counts[nodes] + tie, axis=1).astype(np.int64)
        return chosen

    def _dial(self, idx: np.ndarray) -> None:
        if self._down_nodes:
            idx = idx[~np.isin(self.node[idx], list(self._down_nodes))]
        if len(idx) == 0:
            return
        self.upstream[idx] = self._choose_upstreams(idx)
        self.state[idx] = CONNECTING
        now = self.engine.now
        replicas = len(self.apiservers)
        for a, api in enumerate(self.apiservers):
            group = idx[self.upstream[idx] == a]
            if len(group):
                api.connect(len(group), 0, self._connected, group, now)
        if self.concurrent_dials:
            # Every reflector of the client re-issues its request at once and, finding no
            # connection, dials its own; each completes a full handshake (nginx spreads
            # them over the upstreams) and all but one are closed right after.
            extra = self.valid[idx].sum(axis=1) - 1
            wasted = np.zeros(replicas)
            for j in range(int(extra.max(initial=0))):
                has = extra > j
                np.add.at(wasted, (self.upstream[idx[has]] + 1 + j) % replicas, 1.0)
            for a, api in enumerate(self.apiservers):
                api.wasted_handshakes(float(wasted[a]))

    def _connected(self, idx: np.ndarray, started: float) -> None:
        now = self.engine.now
        if self._down_nodes:
            idx = idx[~np.isin(self.node[idx], list(self._down_nodes))]
        # The client's handshake timeout, or nginx cutting a handshake that went silent
        # for proxy_timeout while the server computed, whichever is shorter.
        if now - started > min(facts.TLS_HANDSHAKE_TIMEOUT, self.timeout):
            self.recorder.inc("tls_handshake_failures_total", len(idx))
            self.state[idx] = DOWN
            self.pending_relist[idx] |= self.valid[idx]
            self.engine.schedule(facts.RELIST_PERIOD, self._dial, idx)
            return
        self.state[idx] = UP
        self.last_activity[idx] = now
        if self.fidelity == "event":
            self._arm(idx)
        rows, cols = np.nonzero(self.valid[idx])
        self._rewatch(idx[rows], cols)

    def _rewatch(self, rows: np.ndarray, cols: np.ndarray) -> None:
        """Re-open watches from their resourceVersion; those flagged for a relist, or whose
        version fell out of the watch cache (410 Gone), list first."""
        now = self.engine.now
        res = self.res[rows, cols]
        stale = self.objects.events[res] - self.watch_seen[rows, cols] > self.objects.watch_cache_size
        relist = self.pending_relist[rows, cols] | stale
        self.recorder.inc("watch_gone_total", int(stale.sum()))
        ok_r, ok_c = rows[~relist], cols[~relist]
        behind = (self.objects.events[self.res[ok_r, ok_c]] - self.watch_seen[ok_r, ok_c]).astype(np.float64)
        self._watch_open(ok_r, ok_c, now)
        ups = self.upstream[ok_r]
        per_api = np.bincount(ups, minlength=len(self.apiservers))
        replayed = np.bincount(ups, weights=behind, minlength=len(self.apiservers))
        for a, api in enumerate(self.apiservers):
            api.register_watches(float(per_api[a]), float(replayed[a]))
        if relist.any():
            self.watch_deadline[rows[relist], cols[relist]] = np.inf
            self.engine.schedule(facts.RELIST_PERIOD, self._relist, rows[relist], cols[relist])

    def _watch_open(self, rows: np.ndarray, cols: np.ndarray, now: float) -> None:
        self.watch_started[rows, cols] = now
        self.watch_events[rows, cols] = 0
        # The resourceVersion a client holds moves only with events it receives (1.5 had no
        # bookmarks) or with a LIST, so re-watching does not refresh it.
        self.pending_relist[rows, cols] = False
        self.watch_deadline[rows, cols] = now + self.rng.uniform(
            facts.WATCH_TIMEOUT_MIN, facts.WATCH_TIMEOUT_MAX, len(rows))

    def _relist(self, rows: np.ndarray, cols: np.ndarray) -> None:
        """LIST from the watch cache, then WATCH; 429s retry after Retry-After."""
        keep = self.state[rows] == UP  # a connection cut meanwhile re-dials and re-lists later
        self.pending_relist[rows[~keep], cols[~keep]] = True
        rows, cols = rows[keep], cols[keep]
        res = self.res[rows, cols]
        for a, api in enumerate(self.apiservers):
            for r in np.unique(res[self.upstream[rows] == a]).tolist():
                sel = (self.upstream[rows] == a) & (res == r)
                reply = CohortReply(np.flatnonzero(sel), partial(self._listed, rows, cols),
                                    partial(self._list_rejected, rows, cols))
                scanned = float(self.objects.count[r])
                cost = api.list_cost(scanned, self._returned(r), float(self.objects.bytes[r]))
                self.recorder.inc("apiserver_list_requests_total", int(sel.sum()))
                api.request(False, 0.0, reply, weight=int(sel.sum()), storage=False, extra_cpu=cost)

    def _list_rejected(self, rows: np.ndarray, cols: np.ndarray, which: np.ndarray) -> None:
        self.engine.schedule(facts.RETRY_AFTER_SECONDS, self._relist, rows[which], cols[which])

    def _listed(self, rows: np.ndarray, cols: np.ndarray, which: np.ndarray) -> None:
        rows, cols = rows[which], cols[which]
        live = self.state[rows] == UP
        self.watch_seen[rows[live], cols[live]] = self.objects.events[self.res[rows[live], cols[live]]]
        self._watch_open(rows[live], cols[live], self.engine.now)
        self.pending_relist[rows[~live], cols[~live]] = True
        per_api = np.bincount(self.upstream[rows[live]], minlength=len(self.apiservers))
        for a, api in enumerate(self.apiservers):
            api.register_watches(float(per_api[a]))
        self.touch(np.unique(rows[live]))

    def _returned(self, r: int) -> float:
        """Objects one node's client gets back: its own pods, its own Node, all of the rest."""
        if r == RESOURCE_INDEX["pods"]:
            return float(self.objects.count[r]) / self.nodes
        if r == RESOURCE_INDEX["nodes"]:
            return 1.0
        return float(self.objects.count[r])
