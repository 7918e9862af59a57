"""Calico BGP: session counts and the re-establishment timeline after a restart."""

from __future__ import annotations

import numpy as np
import pytest

from scalelab.components.calico import BgpSessions
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine
from scalelab.spec.model import Calico


def _times(peers: int, down: float, seed: int, **timers: float) -> np.ndarray:
    bgp = BgpSessions(Engine(), Calico(**timers), peers + 1, Recorder(), np.random.default_rng(seed))  # type: ignore[arg-type]
    return bgp.reestablish_times(0.0, down, peers) - down


def test_short_restart_graceful_except_peers_that_saw_a_reset() -> None:
    t = _times(899, 60.0, 1)
    assert (t >= 5.0 - 1e-9).all()
    graceful = np.isclose(t, 5.0)
    # a peer's keepalive falls in the 5 s before the node reconnects with probability 5/80
    assert (~graceful).mean() == pytest.approx(5 / 80, abs=0.02)
    assert t.max() == pytest.approx(65.0, abs=5.0)  # reset -> 60 s error wait -> connect


def test_convergence_grows_with_the_number_of_peers() -> None:
    means = [np.mean([_times(n, 60.0, s).max() for s in range(40)]) for n in (2, 20, 900)]
    assert means[0] < means[1] < means[2]


def test_long_downtime_peers_time_out_and_accept_the_return() -> None:
    t = _times(899, 600.0, 3)  # every hold timer expired long before the node came back
    # each session is up by the node's own first connect, or earlier by the peer's retry
    assert (t <= 5.0 + 1e-9).all() and (t > 0).all()


def test_without_graceful_restart_every_peer_waits() -> None:
    t = _times(50, 60.0, 4, graceful_restart=False)
    assert (t > 5.0).all()
