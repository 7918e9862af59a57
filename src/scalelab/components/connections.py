"""The client connections every node holds to the apiservers, as one table of arrays.

Every node runs kubelet and kube-proxy; each process holds one HTTP/2 connection (all its
watches and requests multiplexed, as Go 1.7 clients did by default) through the node-local
proxy to one apiserver. The table is what the node proxies (idle timers, dials), the
reflectors (watches) and the watch fan-out share: which node and client a connection
belongs to, which watches ride on it, its state, its upstream apiserver and when it last
moved a byte. Clients are named (``kubelet``, ``kube-proxy``), never found by list position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scalelab.facts import RESOURCE_INDEX

DOWN, CONNECTING, UP = 0, 1, 2


class ConnectionTable:
    """``nodes`` x ``clients`` connections; row ``node * len(clients) + client``."""

    def __init__(self, nodes: int, clients: Mapping[str, Sequence[str]], replicas: int,
                 rng: np.random.Generator, recent_activity: float) -> None:
        self.nodes = nodes
        #: client names, in the order of their index
        self.clients = tuple(clients)
        self.replicas = replicas
        per_node = len(self.clients)
        self.clients_per_node = per_node
        self.size = nodes * per_node
        self.node = np.repeat(np.arange(nodes), per_node)
        self.client = np.tile(np.arange(per_node), nodes)
        width = max(len(watches) for watches in clients.values())
        table = np.full((per_node, width), -1, dtype=np.int64)
        for k, watches in enumerate(clients.values()):
            table[k, : len(watches)] = [RESOURCE_INDEX[r] for r in watches]
        #: per connection and watch slot: the watched resource (-1: no watch in that slot)
        self.res = table[self.client]
        self.valid = self.res >= 0
        self.state = np.full(self.size, UP, dtype=np.int8)
        # A cluster that has been up a while: a node's connections spread over the apiservers
        # (what least_conn does from an empty start).
        self.upstream = (self.node + self.client) % replicas
        #: when each connection last moved a byte: a cluster up a while, every connection
        #: active within the last ``recent_activity`` seconds (true of kube-proxy's, fed every
        #: ~1 s; the kubelets' first idle cuts then fall at random phases set by their status
        #: timers)
        self.last_activity = -rng.uniform(0.0, recent_activity, self.size)
        self._watching: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        #: bumped by every change of ``state`` or ``upstream``
        self.version = 0

    def watching(self, resource: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which (connection, slot) watch ``resource``, which connections have such a watch,
        and their rows: fixed at construction (``res`` never changes), computed once each
        (the fan-out asks on every event; recomputing them was O(connections) per event)."""
        cached = self._watching.get(resource)
        if cached is None:
            col = self.res == resource
            has = col.any(axis=1)
            cached = self._watching[resource] = (col, has, np.flatnonzero(has))
        return cached

    def set_state(self, idx: np.ndarray, state: int) -> None:
        """Connections change state (every write goes here: ``version`` keys what is derived
        from the states)."""
        self.state[idx] = state
        self.version += 1

    def set_upstream(self, idx: np.ndarray, upstream: np.ndarray) -> None:
        self.upstream[idx] = upstream
        self.version += 1

    def client_index(self, name: str) -> int:
        return self.clients.index(name)

    def conn_of(self, nodes: np.ndarray, client: str) -> np.ndarray:
        """Rows of ``client``'s connection on each of ``nodes``."""
        return nodes * self.clients_per_node + self.client_index(client)

    def row_of(self, node: int, client: str) -> int:
        """``conn_of`` for one node, in scalars (a pod's requests: one node's connection)."""
        return node * self.clients_per_node + self.clients.index(client)

    def touch(self, idx: np.ndarray, now: float) -> None:
        """Bytes moved on these connections now (only established ones have an idle timer)."""
        idx = idx[self.state[idx] == UP]
        self.last_activity[idx] = now

    def touch_one(self, row: int, now: float) -> None:
        """``touch`` for one connection."""
        if self.state[row] == UP:
            self.last_activity[row] = now
