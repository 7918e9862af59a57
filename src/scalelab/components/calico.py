"""Calico BGP (BIRD): which sessions exist, and which are up.

Full mesh (Calico's default, "node-to-node mesh"): every node peers with every other node,
n(n-1)/2 sessions, n-1 per node. With route reflectors every node peers only with the
reflectors (dedicated hosts, not counted as nodes), which also mesh among themselves:
n*r + r(r-1)/2 sessions, r per node. A node that is down has none of its sessions up.

The calico/node 2.x BIRD template (``bgp_template``: multihop, add paths, graceful restart)
overrides no BIRD timer, so BIRD 1.x defaults apply (hold 240 s, keepalive 80 s, connect
retry 120 s, error wait 60-300 s, graceful restart 120 s). Not modelled yet: the timing of
re-establishment after a node restarts (``route_convergence_seconds``), BIRD's CPU.
Model card: docs/models/calico.md.
"""

from __future__ import annotations

from scalelab.spec.model import Calico as CalicoSpec


class BgpSessions:
    def __init__(self, spec: CalicoSpec, nodes: int) -> None:
        self.spec = spec
        self.nodes = nodes
        self.down: set[int] = set()

    @property
    def reflectors(self) -> int:
        return self.spec.route_reflectors if self.spec.mode == "route_reflectors" else 0

    def node_down(self, node: int) -> None:
        self.down.add(node)

    def node_up(self, node: int) -> None:
        self.down.discard(node)

    def established_total(self) -> int:
        up = self.nodes - len(self.down)
        r = self.reflectors
        if self.spec.mode == "mesh":
            return up * (up - 1) // 2
        return up * r + r * (r - 1) // 2

    def per_node_max(self) -> int:
        up = self.nodes - len(self.down)
        if self.spec.mode == "mesh":
            return max(0, up - 1)
        return self.reflectors if up else 0
