"""Leader election of the 1.5 era (client-go leaderelection with an Endpoints lock).

Every candidate tries to acquire or renew every ``retry_period`` (2 s); the leader PUTs the
Endpoints record (its annotation holds the renew time), the others GET it. The leader's
write is an Endpoints change: every Endpoints watcher (kube-proxy on every node) gets it.
Model card: docs/models/leader_election.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scalelab.components.apiserver import ApiCall, ApiServer
from scalelab.sim import Engine

#: The lock is a kube-system Endpoints record: the leader PUTs it, the others GET it.
PUT_ENDPOINTS = ApiCall("PUT", "endpoints", "namespace")
GET_ENDPOINTS = ApiCall("GET", "endpoints", "namespace")


class LeaderElection:
    """One lock (``kube-scheduler`` or ``kube-controller-manager``) and its candidates."""

    def __init__(self, engine: Engine, name: str, candidates: int, retry_period: float, record_bytes: float,
                 apiserver: ApiServer, on_renewed: Callable[[], None], rng: np.random.Generator) -> None:
        """``record_bytes``: the lock's kube-system Endpoints record (no addresses, the leader
        annotation), as ``objects.endpoints_bytes`` sizes it."""
        self.engine = engine
        self.name = name
        self.candidates = candidates
        self.retry_period = retry_period
        self.apiserver = apiserver
        self.record_bytes = record_bytes
        self.on_renewed = on_renewed
        engine.schedule(float(rng.uniform(0.0, retry_period)), self._round)

    def _round(self) -> None:
        self.apiserver.request(PUT_ENDPOINTS, self.record_bytes, self._written)
        for _ in range(self.candidates - 1):
            self.apiserver.request(GET_ENDPOINTS, self.record_bytes, None)
        self.engine.schedule(self.retry_period, self._round)

    def _written(self, code: int, n: float) -> None:
        if code == 200:
            self.on_renewed()
