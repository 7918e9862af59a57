"""Leader election of the 1.5 era (client-go leaderelection with an Endpoints lock).

Every candidate tries to acquire or renew every ``retry_period`` (2 s); the leader PUTs the
Endpoints record (its annotation holds the renew time), the others GET it. The leader's
write is an Endpoints change: every Endpoints watcher (kube-proxy on every node) gets it.
Model card: docs/models/leader_election.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scalelab.components.apiserver import ApiServer
from scalelab.sim import Engine

#: kube-system Endpoints record with the leader annotation: ~500 bytes of JSON.
RECORD_BYTES = 500.0


class LeaderElection:
    """One lock (``kube-scheduler`` or ``kube-controller-manager``) and its candidates."""

    def __init__(self, engine: Engine, name: str, candidates: int, retry_period: float,
                 apiserver: ApiServer, on_renewed: Callable[[], None], rng: np.random.Generator) -> None:
        self.engine = engine
        self.name = name
        self.candidates = candidates
        self.retry_period = retry_period
        self.apiserver = apiserver
        self.on_renewed = on_renewed
        engine.schedule(float(rng.uniform(0.0, retry_period)), self._round)

    def _round(self) -> None:
        self.apiserver.request(True, RECORD_BYTES, self._written)
        for _ in range(self.candidates - 1):
            self.apiserver.request(False, RECORD_BYTES, None)
        self.engine.schedule(self.retry_period, self._round)

    def _written(self, code: int, n: float) -> None:
        if code == 200:
            self.on_renewed()
