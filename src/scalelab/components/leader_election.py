"""Leader election (client-go leaderelection): an Endpoints lock (1.5) or a Lease (1.20+).

Every candidate tries to acquire or renew every ``retry_period`` (2 s); the leader PUTs the
lock record (its annotation or spec holds the renew time), the others GET it. With the
Endpoints lock the leader's write is an Endpoints change that every Endpoints watcher
(kube-proxy on every node) gets; a Lease has no watcher. What a renewal sets off is the
caller's (``on_renewed``). Model card: docs/models/controller_manager.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scalelab.components.apiserver import ApiCall, ApiServer
from scalelab.sim import Engine

#: The lock's record (kube-system Endpoints or Lease): the leader PUTs it, the others GET it.
LOCK_CALLS = {lock: (ApiCall("PUT", lock, "namespace"), ApiCall("GET", lock, "namespace"))
              for lock in ("endpoints", "leases")}


class LeaderElection:
    """One lock (``kube-scheduler`` or ``kube-controller-manager``) and its candidates."""

    def __init__(self, engine: Engine, name: str, candidates: int, retry_period: float, record_bytes: float,
                 apiserver: ApiServer, on_renewed: Callable[[], None], rng: np.random.Generator,
                 lock: str = "endpoints") -> None:
        """``lock``: ``endpoints`` or ``leases``; ``record_bytes``: the size of its record."""
        self.engine = engine
        self.name = name
        self.candidates = candidates
        self.retry_period = retry_period
        self.apiserver = apiserver
        self.record_bytes = record_bytes
        self.on_renewed = on_renewed
        self._put, self._get = LOCK_CALLS[lock]
        engine.schedule(float(rng.uniform(0.0, retry_period)), self._round)

    def _round(self) -> None:
        self.apiserver.request(self._put, self.record_bytes, self._written)
        for _ in range(self.candidates - 1):
            self.apiserver.request(self._get, self.record_bytes, None)
        self.engine.schedule(self.retry_period, self._round)

    def _written(self, code: int, n: float) -> None:
        if code == 200:
            self.on_renewed()
