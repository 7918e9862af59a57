"""Calico BGP (BIRD): which sessions exist, which are up, and how they come back.

Full mesh (Calico's default node-to-node mesh): every node peers with every other node,
n(n-1)/2 sessions, n-1 per node. With route reflectors every node peers only with the
reflectors (dedicated hosts, not counted as nodes), which also mesh among themselves:
n*r + r(r-1)/2 sessions, r per node. A node that is down has none of its sessions up.

Re-establishment after a node restarts (crash at t0, back at t1), per peer session, from
BIRD 1.x behaviour with the timers of ``spec.calico`` (calico/node 2.x overrides none):
- the peer still believes the session is up until it detects the loss: its hold timer
  (last keepalive from the node 0-80 s before the crash, + 240 s), or the TCP reset its own
  next keepalive (every hold/3) gets once the node's host is back;
- the restarted node's BIRD connects to every peer ``connect_delay_time`` after start; a peer
  that has not detected the loss accepts it as a graceful restart (both sides configure
  ``graceful restart``): the session is up at once;
- a peer that detected the loss waits ``error_wait_time`` refusing connections, then connects
  itself (after ``connect_delay_time``) and retries every ``connect_retry_time`` while the node
  is unreachable; the node retries refused connects every ``connect_retry_time``.
Each session coming up is one event; ``route_convergence_seconds`` runs from the node's return
until its last session is up (mesh: all n-1 peers; reflectors: the r reflectors, which pass
the routes on to every node over sessions that never went down).
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
        first_keepalive_after_return = t0 + phase + keepalive * np.ceil(np.maximum(t1 - t0 - phase, 0.0) / keepalive)
        detected = np.minimum(hold_expiry, first_keepalive_after_return)
        node_attempt = t1 + s.connect_delay_time
        graceful = s.graceful_restart & (detected > node_attempt)
        ready = detected + s.error_wait_time
        retry = s.connect_retry_time
        peer_try = ready + s.connect_delay_time
        peer_try = np.where(peer_try >= t1, peer_try, peer_try + retry * np.ceil((t1 - peer_try) / retry))
        node_try = np.where(node_attempt >= ready, node_attempt,
                            node_attempt + retry * np.ceil((ready - node_attempt) / retry))
        out: np.ndarray = np.where(graceful, node_attempt, np.minimum(peer_try, node_try))
        return out

    def _session_up(self, node: int) -> None:
        self.recorder.inc("bgp_sessions_established_total")
        self.pending[node] -= 1
        if self.pending[node] == 0:
            del self.pending[node]
            convergence = self.engine.now - self._last_up.pop(node)
            self.recorder.observe("route_convergence_seconds", convergence)
            self.recorder.event(self.engine.now, "bgp_converged", f"node{node} after {convergence:.1f} s")

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
