"""The nginx stream proxy on every node: idle timers that cut connections, and the dials
(TCP + TLS at the apiserver nginx picks) that follow.

nginx's ``proxy_timeout`` is an idle timer: when no byte has moved in either direction for
that long, nginx closes both sides. The cut ends every watch on the connection; the
reflectors (``reflectors``) re-watch at once or re-list, over a new connection that needs a
full TLS handshake. Cuts come from the timers and from traffic only, never from a drawn
rate: a connection whose watch sees an event every 2 s is never cut by a 3 s timeout.

Fidelity (DESIGN.md): in ``cohort`` mode a tick scans the table for connections whose idle
timer runs out within the tick and schedules their cuts in 50 ms bins (re-checked when the
bin fires), each bin's reconnects one weighted job per apiserver; in ``event`` mode every
connection has its own timer, which on expiry re-arms itself when traffic moved meanwhile.
Model card: docs/models/node_proxy.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from scalelab import facts
from scalelab.components.apiserver import ApiServer
from scalelab.components.connections import CONNECTING, DOWN, UP, ConnectionTable
from scalelab.components.reflectors import Reflectors
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine, Timer

#: Cohort mode finds a due cut within this much of its exact time (a bin = one event).
CUT_BIN_SECONDS = 0.05
Fidelity = Literal["cohort", "event"]


class NodeProxies:
    """The node-local nginx of every node, over the connection table."""

    def __init__(self, engine: Engine, table: ConnectionTable, reflectors: Reflectors,
                 apiservers: Sequence[ApiServer], recorder: Recorder, proxy_timeout: float,
                 balance: Literal["least_conn", "round_robin"] = "least_conn",
                 fidelity: Fidelity = "cohort", concurrent_dials: bool = True) -> None:
        self.engine = engine
        self.table = table
        self.reflectors = reflectors
        self.apiservers = list(apiservers)
        self.recorder = recorder
        self.timeout = proxy_timeout
        self.balance = balance
        self.fidelity = fidelity
        #: Go 1.7 clients dial once per concurrent request when no connection exists
        #: (x/net/http2 clientConnPool.addConnIfNeeded keeps one and closes the others).
        self.concurrent_dials = concurrent_dials
        self._rr = np.zeros(table.nodes, dtype=np.int64)
        self._cut_pending = np.zeros(table.size, dtype=bool)
        self._down_nodes: set[int] = set()
        self.reconnects = 0
        self.reconnects_by_client = np.zeros(table.clients_per_node, dtype=np.int64)
        #: event fidelity: each connection's idle timer
        self._idle_timers: dict[int, Timer] = {}
        if fidelity == "event":
            self._arm(np.arange(table.size))

    # -- idle timers ----------------------------------------------------------------
    def _arm(self, idx: np.ndarray) -> None:
        """(Re)start the idle timers of these connections from their last activity."""
        now = self.engine.now
        for c in idx.tolist():
            timer = self._idle_timers.get(c)
            if timer is not None:
                timer.cancel()
            due = max(0.0, float(self.table.last_activity[c]) + self.timeout - now)
            self._idle_timers[c] = self.engine.schedule(due, self._check, c)

    def _check(self, c: int) -> None:
        """Event fidelity: a timer ran out; traffic since it was armed moves it on."""
        del self._idle_timers[c]
        if self.table.state[c] != UP:
            return
        if self.table.last_activity[c] + self.timeout > self.engine.now + 1e-9:
            self._arm(np.array([c]))
        else:
            self._cut(np.array([c]))

    def reconfigure(self, proxy_timeout: float) -> None:
        """nginx reloaded with a new idle timeout (applies to every connection at once)."""
        self.timeout = proxy_timeout
        if self.fidelity == "event":
            self._arm(np.flatnonzero(self.table.state == UP))

    def tick(self, horizon: float) -> None:
        """Cohort step over the next ``horizon`` seconds: idle cuts falling in it are
        scheduled in bins of ``CUT_BIN_SECONDS`` (re-checked then: traffic meanwhile saves
        a connection)."""
        if self.fidelity != "cohort":
            return
        now = self.engine.now
        t = self.table
        due = np.flatnonzero((t.state == UP) & ~self._cut_pending & (t.last_activity + self.timeout <= now + horizon))
        if len(due):
            self._cut_pending[due] = True
            bins = np.ceil(np.maximum(t.last_activity[due] + self.timeout - now, 0.0) / CUT_BIN_SECONDS)
            for b in np.unique(bins).tolist():
                self.engine.schedule(b * CUT_BIN_SECONDS, self._cut_if_idle, due[bins == b])

    def _cut_if_idle(self, idx: np.ndarray) -> None:
        self._cut_pending[idx] = False
        t = self.table
        idle = idx[(t.state[idx] == UP) & (t.last_activity[idx] + self.timeout <= self.engine.now + 1e-9)]
        if len(idle):
            self._cut(idle)

    def _cut(self, idx: np.ndarray) -> None:
        self.reconnects += len(idx)
        self.recorder.inc("node_proxy_reconnects_total", len(idx))
        if len(idx) == 1:
            self.reconnects_by_client[self.table.client[idx[0]]] += 1
        else:
            self.reconnects_by_client += np.bincount(self.table.client[idx], minlength=self.table.clients_per_node)
        self.reflectors.connection_cut(idx)
        self._dial(idx)

    # -- node lifecycle -------------------------------------------------------------
    def node_down(self, node: int) -> None:
        """The node's processes are gone: its connections close without a reconnect."""
        self._down_nodes.add(node)
        idx = np.flatnonzero(self.table.node == node)
        self.table.set_state(idx, DOWN)
        self.reflectors.connection_lost(idx)

    def node_up(self, node: int) -> None:
        """Fresh kubelet and kube-proxy processes: dial, then LIST and WATCH everything."""
        self._down_nodes.discard(node)
        idx = np.flatnonzero(self.table.node == node)
        self.reflectors.relist_all(idx)
        self._dial(idx)

    # -- dials ----------------------------------------------------------------------
    def _choose_upstreams(self, idx: np.ndarray) -> np.ndarray:
        t = self.table
        replicas = len(self.apiservers)
        nodes = t.node[idx]
        rr = self._rr[nodes]
        self._rr[nodes] += 1
        if self.balance == "round_robin" or replicas == 1:
            rotated: np.ndarray = (rr % replicas).astype(np.int64)
            return rotated
        # least_conn is per node (each node runs its own proxy): count, on the dialing nodes
        # only (rows node * clients + client), the connections up or connecting that are not
        # dialing now, per upstream
        per_node = t.clients_per_node
        if len(idx) == 1:  # one connection (most reconnects): the same sums, on scalars
            row, first = int(idx[0]), int(nodes[0]) * per_node
            count = [0] * replicas
            for other in range(first, first + per_node):
                if other != row and t.state[other] != DOWN:
                    count[int(t.upstream[other])] += 1
            turn = int(rr[0])
            score = [count[a] + ((a - turn) % replicas) / (2.0 * replicas) for a in range(replicas)]
            return np.array([score.index(min(score))], dtype=np.int64)
        # each dialing connection's node's rows; a row counts when up or connecting and not
        # among the rows dialing now
        rows = nodes[:, None] * per_node + np.arange(per_node)[None, :]
        dialing = np.zeros(t.size, dtype=bool)
        dialing[idx] = True
        counted = (t.state[rows] != DOWN) & ~dialing[rows]
        per_upstream = (t.upstream[rows][:, :, None] == np.arange(replicas)) & counted[:, :, None]
        counts = per_upstream.sum(axis=1)
        tie = ((np.arange(replicas)[None, :] - rr[:, None]) % replicas) / (2.0 * replicas)
        chosen: np.ndarray = np.argmin(counts + tie, axis=1).astype(np.int64)
        return chosen

    def _dial(self, idx: np.ndarray) -> None:
        t = self.table
        if self._down_nodes:
            idx = idx[~np.isin(t.node[idx], list(self._down_nodes))]
        if len(idx) == 0:
            return
        t.set_upstream(idx, self._choose_upstreams(idx))
        t.set_state(idx, CONNECTING)
        now = self.engine.now
        replicas = len(self.apiservers)
        for a, api in enumerate(self.apiservers):
            group = idx[t.upstream[idx] == a]
            if len(group):
                api.connect(len(group), 0, self._connected, group, now)
        if self.concurrent_dials:
            # Every reflector of the client re-issues its request at once and, finding no
            # connection, dials its own; each completes a full handshake (nginx spreads
            # them over the upstreams) and all but one are closed right after.
            # The j-th extra dial of a connection (j = 0, 1, ...) lands on the upstream after
            # its own + j (mod replicas): e extra dials give every upstream e // replicas and
            # the e % replicas upstreams after its own one more.
            extra = np.maximum(t.valid[idx].sum(axis=1) - 1, 0)
            laps, rest = np.divmod(extra, replicas)
            after_own = (np.arange(replicas)[None, :] - t.upstream[idx][:, None] - 1) % replicas
            wasted = (after_own < rest[:, None]).sum(axis=0) + laps.sum()
            for a, api in enumerate(self.apiservers):
                api.wasted_handshakes(float(wasted[a]))

    def _connected(self, idx: np.ndarray, started: float) -> None:
        t = self.table
        now = self.engine.now
        if self._down_nodes:
            idx = idx[~np.isin(t.node[idx], list(self._down_nodes))]
        # The client's handshake timeout, or nginx cutting a handshake that went silent
        # for proxy_timeout while the server computed, whichever is shorter.
        if now - started > min(facts.TLS_HANDSHAKE_TIMEOUT, self.timeout):
            self.recorder.inc("tls_handshake_failures_total", len(idx))
            t.set_state(idx, DOWN)
            self.reflectors.relist_all(idx)
            self.engine.schedule(facts.RELIST_PERIOD, self._dial, idx)
            return
        t.set_state(idx, UP)
        t.last_activity[idx] = now
        if self.fidelity == "event":
            self._arm(idx)
        self.reflectors.connected(idx)
