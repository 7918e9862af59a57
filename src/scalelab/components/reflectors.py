"""The client-go 1.5 reflectors riding on every node's connections: their watches, the
re-watch after a watch ends, and the LIST that precedes a watch when the client lost its
place.

Per connection and watch slot (arrays): when the watch opened, the events it delivered, its
server-side deadline and the last resourceVersion the client saw, and whether it must re-list.
The rules (``scalelab.facts``): a watch times out after [5, 10) min and re-watches from its
resourceVersion (brought up to date by a bookmark where the apiservers send them, 1.16+); a
watch under 1 s without an event, a 410 Gone (the version fell out of the
watch cache) or a failed dial re-lists after 1 s; a LIST answered 429 retries after
Retry-After. Model card: docs/models/node_proxy.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np

from scalelab import facts
from scalelab.components.apiserver import ApiCall, ApiServer, CohortReply
from scalelab.components.connections import UP, ConnectionTable
from scalelab.components.objects import ClusterObjects
from scalelab.facts import RESOURCE_INDEX
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine

#: A node client's LIST per resource index: across all namespaces (the kubelet's pods by field
#: selector, its own Node, every Service and Endpoints).
LISTS = {RESOURCE_INDEX[r]: ApiCall("LIST", r, "cluster") for r in RESOURCE_INDEX}


class Reflectors:
    """Every watch of every node's clients."""

    def __init__(self, engine: Engine, table: ConnectionTable, apiservers: Sequence[ApiServer],
                 objects: ClusterObjects, recorder: Recorder, rng: np.random.Generator,
                 bookmarks: bool = False) -> None:
        """``bookmarks``: the apiservers send a bookmark before a watch's deadline."""
        self.engine = engine
        self.bookmarks = bookmarks
        self.table = table
        self.apiservers = list(apiservers)
        self.objects = objects
        self.recorder = recorder
        self.rng = rng
        shape = table.res.shape
        self.watch_started = np.full(shape, -facts.WATCH_TIMEOUT_MAX)
        self.watch_events = np.ones(shape, dtype=np.int64)
        self.watch_seen = np.zeros(shape, dtype=np.int64)
        # A cluster that has been up a while: every watch somewhere in its server timeout.
        self.watch_deadline = rng.uniform(0.0, facts.WATCH_TIMEOUT_MAX, shape)
        self.watch_deadline[~table.valid] = np.inf
        self.pending_relist = np.zeros(shape, dtype=bool)
        #: the same four arrays seen flat (views: writes through them are writes to them)
        self._width = shape[1]
        self._flat_started = self.watch_started.reshape(-1)
        self._flat_events = self.watch_events.reshape(-1)
        self._flat_relist = self.pending_relist.reshape(-1)
        self._flat_deadline = self.watch_deadline.reshape(-1)
        self._watchers: dict[int, tuple[int, np.ndarray]] = {}

    def watchers_per_apiserver(self, resource: str) -> np.ndarray:
        """Established watches of ``resource`` on each apiserver (counted again only after a
        connection changed state or upstream: the fan-out asks on every event)."""
        t = self.table
        key = RESOURCE_INDEX[resource]
        cached = self._watchers.get(key)
        if cached is not None and cached[0] == t.version:
            return cached[1]
        _col, watching, _rows = t.watching(key)
        has = watching & (t.state == UP)
        counts: np.ndarray = np.bincount(t.upstream[has], minlength=len(self.apiservers)).astype(np.float64)
        self._watchers[key] = (t.version, counts)
        return counts

    def is_open(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Which of these watches are open (not waiting for a relist)."""
        open_: np.ndarray = np.isfinite(self.watch_deadline[rows, cols])
        return open_

    def delivered_one(self, row: int, cols: list[int], position: int) -> int:
        """``delivered`` for the open watches among ``cols`` of one connection (the common
        case of an event only one node watches, in scalars); returns how many got it."""
        got = 0
        deadline, events, seen = self.watch_deadline, self.watch_events, self.watch_seen
        for col in cols:
            if deadline[row, col] != np.inf:
                events[row, col] += 1
                seen[row, col] = position
                got += 1
        return got

    def delivered(self, rows: np.ndarray, cols: np.ndarray, position: int) -> None:
        """These watches received an event; the client's resourceVersion moves to it."""
        self.watch_events[rows, cols] += 1
        self.watch_seen[rows, cols] = position

    # -- what the connection does to its watches ----------------------------------------
    def connection_cut(self, idx: np.ndarray) -> None:
        """The proxy cut these connections: their watches end. A watch that lived under 1 s
        without an event is an error for the reflector (it will re-list)."""
        t = self.table
        short = ((self.engine.now - self.watch_started[idx] < facts.SHORT_WATCH_SECONDS)
                 & (self.watch_events[idx] == 0))
        self.pending_relist[idx] |= short & t.valid[idx]
        self.watch_deadline[idx] = np.inf

    def connection_lost(self, idx: np.ndarray) -> None:
        """The client processes are gone: their watches end and a new process lists first."""
        self.watch_deadline[idx] = np.inf
        self.relist_all(idx)

    def relist_all(self, idx: np.ndarray) -> None:
        """Every watch of these connections lists before it watches again."""
        self.pending_relist[idx] |= self.table.valid[idx]

    def connected(self, idx: np.ndarray) -> None:
        """A new connection is up: every reflector of the client re-opens its watch."""
        rows, cols = np.nonzero(self.table.valid[idx])
        self._rewatch(idx[rows], cols)

    # -- timers ---------------------------------------------------------------------
    def tick(self, _horizon: float) -> None:
        """Watches whose server timeout ran out re-watch."""
        t = self.table
        due_watch = (t.state == UP)[:, None] & (self.watch_deadline <= self.engine.now)
        if due_watch.any():
            rows, cols = np.nonzero(due_watch)
            if self.bookmarks:
                # the bookmark 2 s before the deadline moved the client's version to the cache's
                # head (the events of those 2 s are neglected)
                self.watch_seen[rows, cols] = self.objects.events[t.res[rows, cols]]
            self._rewatch(rows, cols)
            t.touch(np.unique(rows), self.engine.now)

    # -- watch and list ---------------------------------------------------------------
    def _rewatch(self, rows: np.ndarray, cols: np.ndarray) -> None:
        """Re-open watches from their resourceVersion; those flagged for a relist, or whose
        version fell out of the watch cache (410 Gone), list first."""
        t = self.table
        now = self.engine.now
        behind = self.objects.events[t.res[rows, cols]] - self.watch_seen[rows, cols]
        stale = behind > self.objects.watch_cache_size
        relist = self.pending_relist[rows, cols] | stale
        self.recorder.inc("watch_gone_total", int(np.count_nonzero(stale)))
        any_relist = bool(relist.any())
        if any_relist:
            keep = ~relist
            ok_r, ok_c, behind = rows[keep], cols[keep], behind[keep]
        else:  # the common case: every watch re-opens
            ok_r, ok_c = rows, cols
        self._watch_open(ok_r, ok_c, now)
        ups = t.upstream[ok_r]
        per_api = np.bincount(ups, minlength=len(self.apiservers))
        replayed = np.bincount(ups, weights=behind, minlength=len(self.apiservers))
        for a, api in enumerate(self.apiservers):
            api.register_watches(float(per_api[a]), float(replayed[a]))
        if any_relist:
            again_r, again_c = rows[relist], cols[relist]
            self.watch_deadline[again_r, again_c] = np.inf
            self.engine.schedule(facts.RELIST_PERIOD, self._relist, again_r, again_c)

    def _watch_open(self, rows: np.ndarray, cols: np.ndarray, now: float) -> None:
        # one flat index for the four columns written (2-D fancy indexing costs ~4x a flat one)
        flat = rows * self._width + cols
        self._flat_started[flat] = now
        self._flat_events[flat] = 0
        # The resourceVersion a client holds moves only with events it receives (1.5 had no
        # bookmarks) or with a LIST, so re-watching does not refresh it.
        self._flat_relist[flat] = False
        self._flat_deadline[flat] = now + self.rng.uniform(facts.WATCH_TIMEOUT_MIN, facts.WATCH_TIMEOUT_MAX,
                                                           len(rows))

    def _relist(self, rows: np.ndarray, cols: np.ndarray) -> None:
        """LIST from the watch cache, then WATCH; 429s retry after Retry-After."""
        t = self.table
        keep = t.state[rows] == UP  # a connection cut meanwhile re-dials and re-lists later
        self.pending_relist[rows[~keep], cols[~keep]] = True
        rows, cols = rows[keep], cols[keep]
        res = t.res[rows, cols]
        for a, api in enumerate(self.apiservers):
            for r in np.unique(res[t.upstream[rows] == a]).tolist():
                sel = (t.upstream[rows] == a) & (res == r)
                reply = CohortReply(np.flatnonzero(sel), partial(self._listed, rows, cols),
                                    partial(self._list_rejected, rows, cols))
                scanned = float(self.objects.count[r])
                cost = api.list_cost(scanned, self._returned(r), float(self.objects.bytes[r]))
                self.recorder.inc("apiserver_list_requests_total", int(sel.sum()))
                api.request(LISTS[r], 0.0, reply, weight=int(sel.sum()), storage=False, extra_cpu=cost)

    def _list_rejected(self, rows: np.ndarray, cols: np.ndarray, which: np.ndarray) -> None:
        self.engine.schedule(facts.RETRY_AFTER_SECONDS, self._relist, rows[which], cols[which])

    def _listed(self, rows: np.ndarray, cols: np.ndarray, which: np.ndarray) -> None:
        t = self.table
        rows, cols = rows[which], cols[which]
        live = t.state[rows] == UP
        self.watch_seen[rows[live], cols[live]] = self.objects.events[t.res[rows[live], cols[live]]]
        self._watch_open(rows[live], cols[live], self.engine.now)
        self.pending_relist[rows[~live], cols[~live]] = True
        per_api = np.bincount(t.upstream[rows[live]], minlength=len(self.apiservers))
        for a, api in enumerate(self.apiservers):
            api.register_watches(float(per_api[a]))
        t.touch(np.unique(rows[live]), self.engine.now)

    def _returned(self, r: int) -> float:
        """Objects one node's client gets back: its own pods, its own Node, all of the rest."""
        if r == RESOURCE_INDEX["pods"]:
            return float(self.objects.count[r]) / self.table.nodes
        if r == RESOURCE_INDEX["nodes"]:
            return 1.0
        return float(self.objects.count[r])
