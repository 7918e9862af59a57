"""Calico BGP (BIRD): which sessions exist, which are up, and how they come back.

Full mesh (Calico's default node-to-node mesh): every node peers with every other node,
n(n-1)/2 sessions, n-1 per node. With route reflectors every node peers only with the
reflectors (dedicated hosts, not counted as nodes), which also mesh among themselves:
n*r + r(r-1)/2 sessions, r per node. A node that is down has none of its sessions up.

Re-establishment after a node restarts (crash at t0, back at t1), per peer session, from
BIRD 1.5/1.6's state machine (calico's BIRD of the era) with the timers of ``spec.calico``:
- the peer believes the session is up until its hold timer runs out (last keepalive from the
  node 0-80 s before the crash, + 240 s) or until its own next keepalive (every hold/3) meets
  the TCP reset of the returned host;
- the restarted node connects ``connect_delay_time`` after start; a peer still holding an
  established session accepts it as a graceful restart: up at once;
- a reset (a socket error) sends the peer straight back to connecting after the connect delay,
  with no error wait; a hold-timer expiry is a protocol error: the peer waits
  ``error_wait_time`` (60 s) and rejects connections meanwhile;
- a rejected connect is a socket error for the node, which retries after the connect delay;
  a peer connecting to a node still down waits ``connect_retry_time`` for the TCP connect.
Model card: docs/models/calico.md.
"""

from __future__ import annotations

import numpy as np

from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine
from scalelab.spec.model import Calico as CalicoSpec


class BgpSessions:
    def __init__(self, engine: Engine, spec: CalicoSpec, nodes: int, recorder: Recorder,
                 rng: np.random.Generator) -> None:
        self.engine = engine
        self.spec = spec
        self.nodes = nodes
        self.recorder = recorder
        self.rng = rng
        self.down: dict[int, float] = {}
        #: sessions of restarted nodes not yet re-established, per node
        self.pending: dict[int, int] = {}
        self._last_up: dict[int, float] = {}

    @property
    def reflectors(self) -> int:
        return self.spec.route_reflectors if self.spec.mode == "route_reflectors" else 0

    def node_down(self, node: int) -> None:
        self.down[node] = self.engine.now

    def node_up(self, node: int) -> None:
        crashed = self.down.pop(node, None)
        if crashed is None:
            return
        peers = self.nodes - 1 - len(self.down) if self.spec.mode == "mesh" else self.reflectors
        if peers <= 0:
            return
        times = self.reestablish_times(crashed, self.engine.now, peers)
        self.pending[node] = peers
        self._last_up[node] = self.engine.now
        for t in np.sort(times).tolist():
            self.engine.at(t, self._session_up, node)

    def reestablish_times(self, t0: float, t1: float, peers: int) -> np.ndarray:
        """When each of ``peers`` sessions of a node that crashed at t0 and returned at t1
        is up again (absolute simulated times)."""
        s = self.spec
        keepalive = s.hold_time / 3.0
        since_last = self.rng.uniform(0.0, keepalive, peers)
        phase = self.rng.uniform(0.0, keepalive, peers)
        hold_expiry = t0 - since_last + s.hold_time
        reset_at = t0 + phase + keepalive * np.ceil(np.maximum(t1 - t0 - phase, 0.0) / keepalive)
        node_first = t1 + s.connect_delay_time
        # How the peer notices the loss, and from when it accepts a connection again.
        by_reset = reset_at < hold_expiry
        noticed = np.where(by_reset, reset_at, hold_expiry)
        accepts_from = np.where(by_reset, reset_at, hold_expiry + s.error_wait_time)
        if s.graceful_restart:  # a peer unaware of the loss takes the node's connect as a restart
            accepts_from = np.where(noticed > node_first, node_first, accepts_from)
        node_time = self._next_node_attempt(node_first, accepts_from)
        # The peer's own connects: after the connect delay; to a node still down, every
        # connect-retry time (the TCP connect gets no answer).
        peer_first = np.maximum(accepts_from, noticed) + s.connect_delay_time
        retry = s.connect_retry_time
        peer_time = np.where(peer_first >= t1, peer_first,
                             peer_first + retry * np.ceil((t1 - peer_first) / retry))
        out: np.ndarray = np.minimum(node_time, peer_time)
        return out

    def _next_node_attempt(self, first: float, after: np.ndarray) -> np.ndarray:
        """The node's first connect attempt at or after ``after`` (it retries every connect
        delay once a connect was rejected)."""
        step = max(self.spec.connect_delay_time, 1.0)
        k = np.ceil(np.maximum(after - first, 0.0) / step)
        nxt: np.ndarray = first + k * step
        return nxt

    def _session_up(self, node: int) -> None:
        self.recorder.inc("bgp_sessions_established_total")
        self.pending[node] -= 1
        if self.pending[node] == 0:
            del self.pending[node]
            convergence = self.engine.now - self._last_up.pop(node)
            self.recorder.observe("route_convergence_seconds", convergence)
            self.recorder.event(self.engine.now, "bgp_converged", f"node{node} after {convergence:.1f} s")

    def finish(self, recorder: Recorder) -> None:
        """End-of-run: established sessions, and the most any node holds."""
        recorder.final("bgp_sessions_established", float(self.established_total()))
        recorder.final("bgp_sessions_per_node_max", float(self.per_node_max()))

    def established_total(self) -> int:
        up = self.nodes - len(self.down)
        r = self.reflectors
        total = up * (up - 1) // 2 if self.spec.mode == "mesh" else up * r + r * (r - 1) // 2
        return total - sum(self.pending.values())

    def per_node_max(self) -> int:
        up = self.nodes - len(self.down)
        if self.spec.mode == "mesh":
            return max(0, up - 1)
        return self.reflectors if up else 0
