"""A dial's choices, against a plain per-connection reading of the rules: least_conn counts the
dialing node's other connections (up or connecting, not dialing now) per upstream with the
round-robin turn as tie-break, and each extra concurrent dial of a client is one wasted
handshake on the next upstream after the last."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scalelab.components.connections import DOWN, ConnectionTable
from scalelab.components.node_proxy import NodeProxies
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine

CLIENTS = {"kubelet": ["pods", "nodes", "services"], "kube-proxy": ["services", "endpoints"], "other": ["nodes"]}


class _Api:
    """What a dial asks of an apiserver: connections and wasted handshakes, counted."""

    def __init__(self) -> None:
        self.connected = 0.0
        self.wasted = 0.0

    def connect(self, weight: float, _watches: int, _done: Any, *_args: object) -> None:
        self.connected += weight

    def wasted_handshakes(self, count: float) -> None:
        self.wasted += count


def _least_conn(t: ConnectionTable, idx: list[int], rr: np.ndarray, replicas: int) -> list[int]:
    per_node, dialing, chosen = t.clients_per_node, set(idx), []
    for row in idx:
        node = row // per_node
        count = [0] * replicas
        for other in range(node * per_node, (node + 1) * per_node):
            if other not in dialing and t.state[other] != DOWN:
                count[int(t.upstream[other])] += 1
        score = [count[a] + ((a - int(rr[node])) % replicas) / (2.0 * replicas) for a in range(replicas)]
        chosen.append(score.index(min(score)))
    return chosen


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.data())
def test_dials_choose_and_waste_as_the_rules_read_one_connection_at_a_time(
        nodes: int, replicas: int, data: st.DataObject) -> None:
    t = ConnectionTable(nodes, CLIENTS, replicas, np.random.default_rng(0), 1.0)
    t.state[:] = data.draw(st.lists(st.integers(0, 2), min_size=t.size, max_size=t.size))
    t.upstream[:] = data.draw(st.lists(st.integers(0, replicas - 1), min_size=t.size, max_size=t.size))
    idx = sorted(data.draw(st.sets(st.integers(0, t.size - 1), min_size=1)))
    apis = [_Api() for _ in range(replicas)]
    proxies = NodeProxies(Engine(), t, None, apis, Recorder(), 3.0)  # type: ignore[arg-type]
    proxies._rr[:] = data.draw(st.lists(st.integers(0, 7), min_size=nodes, max_size=nodes))
    rr = proxies._rr.copy()
    expected = _least_conn(t, idx, rr, replicas) if replicas > 1 else [0] * len(idx)
    wasted = [0.0] * replicas
    for row, upstream in zip(idx, expected, strict=True):
        for j in range(int(t.valid[row].sum()) - 1):
            wasted[(upstream + 1 + j) % replicas] += 1.0
    proxies._dial(np.array(idx))
    assert t.upstream[idx].tolist() == expected
    assert [api.wasted for api in apis] == wasted
    assert sum(api.connected for api in apis) == len(idx)
    touched = sorted({row // t.clients_per_node for row in idx})
    assert (proxies._rr[touched] == rr[touched] + 1).all()  # each dialing node's turn moves once
