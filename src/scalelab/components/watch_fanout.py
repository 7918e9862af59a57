"""Watch events from the apiservers' watch caches to every watcher.

A change of a resource is one broadcast (DESIGN.md): the apiserver holding each matching
watch decodes, filters and encodes it (``ApiServer.fanout``), the reflectors of the node
clients that receive it move their resourceVersion and their connection moves bytes (which
resets the node proxy's idle timer). Cluster-wide watchers outside the nodes (kubedns) are
explicit subscribers. Model card: docs/models/apiserver.md (fan-out costs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from scalelab.components.apiserver import ApiServer
from scalelab.components.connections import UP, ConnectionTable
from scalelab.components.objects import ClusterObjects
from scalelab.components.reflectors import Reflectors
from scalelab.facts import RESOURCE_INDEX
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine

#: Resources the cacher dispatches by trigger (pods by spec.nodeName, nodes by name): their
#: node clients watch them with a field selector naming their own node.
TRIGGERED = frozenset({"pods", "nodes"})
#: A subscriber is told (resource, events, bytes of each event).
Subscriber = Callable[[str, int, float], None]


class WatchFanout:
    def __init__(self, engine: Engine, table: ConnectionTable, reflectors: Reflectors,
                 apiservers: Sequence[ApiServer], objects: ClusterObjects, recorder: Recorder,
                 triggers: bool = False) -> None:
        """``triggers``: pod and node events are filtered only for the watchers they name."""
        self.engine = engine
        self.triggers = triggers
        self.recorder = recorder
        self.table = table
        self.reflectors = reflectors
        self.apiservers = list(apiservers)
        self.objects = objects
        self._subscribers: list[Subscriber] = []
        #: counter names per resource, built once (deliver is on the hot path)
        self._bytes_counter = {r: f'watch_bytes_delivered_total{{resource="{r}"}}' for r in RESOURCE_INDEX}

    def subscribe(self, on_event: Subscriber) -> None:
        """A cluster-wide watcher outside the nodes (kubedns) gets every event."""
        self._subscribers.append(on_event)

    def deliver(self, resource: str, events: int, receivers: np.ndarray | None,
                object_bytes: float | None = None) -> None:
        """``events`` changes of ``resource`` (each ``object_bytes`` big, default the
        resource's typical size); ``receivers`` are the connections whose watch matches one of
        them (None: every watcher of the resource)."""
        t = self.table
        r = RESOURCE_INDEX[resource]
        size, position, col, watchers, triggered = self._changed(resource, r, events, object_bytes)
        watching_rows = t.watching(r)[2]
        if receivers is None:
            receivers = watching_rows
        if len(receivers) == 0:  # a change no node client watches (a pod not yet bound)
            self.recorder.inc(self._bytes_counter[resource], 0.0)
            for a, api in enumerate(self.apiservers):
                api.fanout(events, 0.0 if triggered else watchers[a], 0.0, size)
            return
        if len(receivers) == 1:  # one node's client (its pod bound, its pod's status)
            self._deliver_one(resource, events, int(receivers[0]), col, watchers, position, size, triggered)
            return
        receivers = receivers[t.state[receivers] == UP]
        rows, cols = np.nonzero(col[receivers])
        got = receivers[rows]
        is_open = self.reflectors.is_open(got, cols)
        got, cols = got[is_open], cols[is_open]
        self.reflectors.delivered(got, cols, position)
        delivered = np.bincount(t.upstream[got], minlength=len(self.apiservers))
        # what the apiservers encoded for watchers, per resource (1.5: once per delivery)
        self.recorder.inc(self._bytes_counter[resource], float(len(got)) * events * size)
        for a, api in enumerate(self.apiservers):
            api.fanout(events, float(delivered[a]) if triggered else watchers[a], float(delivered[a]), size)
        t.touch(got, self.engine.now)

    def deliver_one(self, resource: str, events: int, row: int) -> None:
        """``deliver`` to one connection (a node's own pod: bound, its status), in scalars."""
        size, position, col, watchers, triggered = self._changed(resource, RESOURCE_INDEX[resource], events, None)
        self._deliver_one(resource, events, row, col, watchers, position, size, triggered)

    def _changed(self, resource: str, r: int, events: int, object_bytes: float | None
                 ) -> tuple[float, int, np.ndarray, np.ndarray, bool]:
        """What every delivery does first: the subscribers are told, the object store moves;
        returns the event's size, its position, the watch column, the watchers per apiserver
        and whether the resource is dispatched by trigger."""
        size = float(self.objects.bytes[r]) if object_bytes is None else object_bytes
        for subscriber in self._subscribers:
            subscriber(resource, events, size)
        position = self.objects.changed(resource, events)
        col = self.table.watching(r)[0]
        watchers = self.reflectors.watchers_per_apiserver(resource)
        return size, position, col, watchers, self.triggers and resource in TRIGGERED

    def _deliver_one(self, resource: str, events: int, row: int, col: np.ndarray, watchers: np.ndarray,
                     position: int, size: float, triggered: bool) -> None:
        """``deliver`` to one connection, the same bookkeeping in scalars."""
        t = self.table
        got = 0
        if t.state[row] == UP:
            got = self.reflectors.delivered_one(row, np.flatnonzero(col[row]).tolist(), position)
        self.recorder.inc(self._bytes_counter[resource], float(got) * events * size)
        upstream = int(t.upstream[row])
        for a, api in enumerate(self.apiservers):
            mine = float(got) if a == upstream else 0.0
            api.fanout(events, mine if triggered else watchers[a], mine, size)
        if got:
            t.last_activity[row] = self.engine.now
