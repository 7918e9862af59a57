"""etcd: the raft log every write (and, with etcd2's quorum reads, every GET) goes through.

Modelled: a leader that commits proposals in batches; a batch takes one WAL fsync on the
members' disks plus one network round trip (the leader's and the followers' fsyncs overlap;
commit needs a majority), proposals arriving meanwhile wait for the next batch. CPU for
applying each operation is charged to the leader host's cores. Not modelled: compaction,
snapshots, leader changes, the v3 ReadIndex path (1.5 used the etcd2 API).
Model card: docs/models/etcd.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine

#: etcd's name on its leader host's cores (its CPU is sampled under it)
OWNER = "etcd"


class Etcd:
    """The etcd cluster as one commit pipeline on its leader's host."""

    def __init__(self, engine: Engine, leader_cores: Cores, fsync_seconds: float,
                 rtt_seconds: float, recorder: Recorder, apply_cpu_seconds: float = 50e-6) -> None:
        self.engine = engine
        #: CPU per applied operation on the leader (``etcd.apply_cpu_seconds``)
        self.apply_cpu_seconds = apply_cpu_seconds
        self.cores = leader_cores
        self.fsync_seconds = fsync_seconds
        self.rtt_seconds = rtt_seconds
        self.recorder = recorder
        self._pending: list[tuple[Callable[..., None], tuple[Any, ...], float]] = []
        self._committing = False
        self.revision = 0

    def propose(self, callback: Callable[..., None], *args: Any, weight: float = 1.0) -> None:
        """Commit ``weight`` operations through raft, then call ``callback(*args)``."""
        self._pending.append((callback, args, weight))
        if not self._committing:
            self._start_batch()

    def _start_batch(self) -> None:
        batch, self._pending = self._pending, []
        self._committing = True
        ops = sum(w for _cb, _a, w in batch)
        self.cores.burn(self.apply_cpu_seconds, weight=ops, owner=OWNER)
        self.recorder.inc("etcd_commits_total")
        self.recorder.inc("etcd_operations_total", ops)
        self.engine.schedule(self.fsync_seconds + self.rtt_seconds, self._commit, batch, ops)

    def _commit(self, batch: list[tuple[Callable[..., None], tuple[Any, ...], float]], ops: float) -> None:
        self.revision += int(ops)
        for callback, args, _w in batch:
            callback(*args)
        self._committing = False
        if self._pending:
            self._start_batch()

