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


def test_short_restart_is_taken_as_a_graceful_restart() -> None:
    t = _times(899, 60.0, 1)
    assert np.allclose(t, 5.0)  # every peer still held the session: up at the node's first connect


def test_restart_inside_the_hold_window_waits_out_the_error_wait() -> None:
    t = _times(899, 180.0, 2)
    # peers whose hold timer (160-240 s after the crash) ran out before the node's connect
    # at 185 s reject it for 60 s; the others take it as a graceful restart
    waited = t > 5.0 + 1e-9
    assert waited.mean() == pytest.approx((185 - 160) / 80, abs=0.05)
    assert t.max() == pytest.approx(65.0, abs=5.0)


def test_convergence_grows_with_the_number_of_peers() -> None:
    means = [np.mean([_times(n, 180.0, s).max() for s in range(40)]) for n in (2, 20, 900)]
    assert means[0] < means[1] < means[2]


def test_long_downtime_peers_time_out_and_accept_the_return() -> None:
    t = _times(899, 600.0, 3)  # every hold timer and error wait ran out long before the return
    assert (t <= 5.0 + 1e-9).all() and (t > 0).all()


def test_without_graceful_restart_peers_wait_for_the_reset_or_the_hold_timer() -> None:
    t = _times(200, 60.0, 4, graceful_restart=False)
    assert (t >= 5.0 - 1e-9).all() and t.mean() > 20.0  # until each peer's next keepalive
