"""What the apiserver stores, as counts: objects per resource and each resource's event
stream position (its watch-cache window).

Sizes are serialised JSON of the era's objects, the figures LIST and fan-out costs scale
with: a 1.5 Pod with status ~4 KB, a Node with its image list (``kubelet.node_object_bytes`` in
the spec: it is the kubelet's status that makes it big; kubelet reports up to
50 images), a Service ~0.6 KB, an Endpoints record ~0.5 KB plus ~60 B per address
(estimates for objects of the era, not measured here: docs/models/apiserver.md says how
each was reached and what a different size changes).
"""

from __future__ import annotations

import numpy as np

from scalelab.facts import RESOURCE_INDEX, RESOURCES

OBJECT_BYTES = {"pods": 4_000.0, "services": 600.0, "endpoints": 500.0}
#: An Endpoints record grows by one address entry (IP, nodeName, targetRef) per ready pod.
ENDPOINTS_ADDRESS_BYTES = 60.0


def endpoints_bytes(addresses: int) -> float:
    """Serialised size of an Endpoints record holding ``addresses`` ready pods."""
    return OBJECT_BYTES["endpoints"] + ENDPOINTS_ADDRESS_BYTES * addresses


class ClusterObjects:
    """Object counts and per-resource event counters (the watch cache's sequence)."""

    def __init__(self, nodes: int, node_bytes: float, watch_cache_size: int) -> None:
        self.count = np.zeros(len(RESOURCES), dtype=np.float64)
        self.events = np.zeros(len(RESOURCES), dtype=np.int64)
        self.bytes = np.array([node_bytes if r == "nodes" else OBJECT_BYTES[r] for r in RESOURCES])
        self.count[RESOURCE_INDEX["nodes"]] = nodes
        self.watch_cache_size = watch_cache_size

    def add(self, resource: str, n: float = 1.0) -> None:
        self.count[RESOURCE_INDEX[resource]] += n

    def grow(self, resource: str, extra_bytes: float) -> None:
        """One object of ``resource`` grew by ``extra_bytes``: LISTs carry it (the mean size)."""
        i = RESOURCE_INDEX[resource]
        if self.count[i] > 0:
            self.bytes[i] += extra_bytes / self.count[i]

    def changed(self, resource: str, n: int = 1) -> int:
        """Record ``n`` events of a resource; returns the new stream position."""
        i = RESOURCE_INDEX[resource]
        self.events[i] += n
        return int(self.events[i])
