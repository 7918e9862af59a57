"""Memory of etcd and kube-apiserver, from what they hold: the objects stored (with the Events
of the last hour: kube-apiserver's ``--event-ttl`` 1 h), as bytes of their JSON.

etcd2 (the 1.5 default) keeps every key's value in its in-memory store tree and the raft log
since its last snapshot (``--snapshot-count`` 10 000 entries in etcd 2.x) in memory too:
``etcd.memory_base_bytes + etcd.memory_per_stored_byte x (stored JSON + the raft log's
entries)``. kube-apiserver keeps a watch cache of every cached resource (each current object
decoded, plus a window of recent events) and the Go heap's headroom (GOGC 100: the heap grows
to twice what is live before a collection): ``apiserver.memory_base_bytes +
apiserver.memory_per_object_byte x stored JSON of the cached resources`` (Events are not
cached). The per-byte factors lump decoding (a Go object is several times its JSON), copies and
the heap's headroom; their priors and fits are in the spec and the calibration overlay.
Sampled every sample interval: ``etcd_memory_bytes``, ``apiserver_memory_bytes``.
"""

from __future__ import annotations

from collections import deque

from scalelab.components.events import EVENT_BYTES
from scalelab.components.objects import ClusterObjects
from scalelab.metrics.recorder import Recorder
from scalelab.spec.model import ApiServer as ApiServerSpec
from scalelab.spec.model import Etcd as EtcdSpec

#: kube-apiserver --event-ttl default (1.5): Events expire from etcd after an hour.
EVENT_TTL_SECONDS = 3600.0
#: etcd 2.x --snapshot-count default: raft entries kept in memory between snapshots.
SNAPSHOT_COUNT = 10_000


class ControlPlaneMemory:
    """Estimates both processes' memory from the stored objects at each sample."""

    def __init__(self, objects: ClusterObjects, recorder: Recorder, etcd: EtcdSpec, apiserver: ApiServerSpec) -> None:
        self.objects = objects
        self.recorder = recorder
        self.etcd = etcd
        self.apiserver = apiserver
        self._posted: deque[tuple[float, float]] = deque()

    def stored_events(self, now: float) -> float:
        """Events posted within the last hour (the ones etcd still holds)."""
        posted = self.recorder.counters.get("events_posted_total", 0.0)
        self._posted.append((now, posted))
        while self._posted and self._posted[0][0] < now - EVENT_TTL_SECONDS:
            self._posted.popleft()
        return posted - self._posted[0][1] if now >= EVENT_TTL_SECONDS else posted

    def cached_bytes(self) -> float:
        """JSON bytes of every object of the resources the apiserver caches."""
        return float((self.objects.count * self.objects.bytes).sum())

    def etcd_bytes(self, now: float, operations: float) -> float:
        events = 0.0 if self.etcd.separate_events else self.stored_events(now) * EVENT_BYTES
        stored = self.cached_bytes() + events
        entries = min(operations, SNAPSHOT_COUNT) * stored / max(1.0, float(self.objects.count.sum()))
        return self.etcd.memory_base_bytes + self.etcd.memory_per_stored_byte * (stored + entries)

    def apiserver_bytes(self) -> float:
        return self.apiserver.memory_base_bytes + self.apiserver.memory_per_object_byte * self.cached_bytes()
