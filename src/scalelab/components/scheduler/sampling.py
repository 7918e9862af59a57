"""Scoring a sample of the nodes, as kube-scheduler does since 1.12 (``percentageOfNodesToScore``).

Upstream (``numFeasibleNodesToFind`` and ``findNodesThatPassFilters``): below 100 nodes every
node is checked; otherwise the filters walk the nodes from where the previous cycle stopped
(``nextStartNodeIndex``) and stop once they found ``numFeasibleNodesToFind`` feasible ones,
which is the configured percentage of the nodes, or, left at 0, an adaptive one, 50 % minus
one point per 125 nodes and at least 5 %, and never fewer than 100 nodes. Only the nodes
found are scored. The next cycle starts after the last node this one looked at.

``NodeView`` lets the plugins, written over a whole ``NodeTable``, run on such a window:
columns are sliced, the label and domain caches and the affinity index are the table's,
read through the window's indices. A cycle's cost then follows the window, not the cluster.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from scalelab.components.scheduler.fit_columns import Fit

if TYPE_CHECKING:
    from scalelab.components.scheduler.affinity import AffinityIndex
    from scalelab.components.scheduler.framework import AffinityTerm, NodeTable
    from scalelab.kube.objects import Taint

#: kube-scheduler ``minFeasibleNodesToFind`` and ``minFeasibleNodesPercentageToFind``.
MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENTAGE = 5
#: The adaptive percentage starts here and drops a point per this many nodes.
BASE_PERCENTAGE = 50
NODES_PER_POINT = 125


def num_feasible_nodes_to_find(nodes: int, percentage: int | None) -> int:
    """Feasible nodes after which a cycle stops filtering. ``percentage`` None: every node (a
    scheduler before 1.12); 0: upstream's adaptive default; 1-100: that share."""
    if percentage is None or nodes < MIN_FEASIBLE_NODES or percentage >= 100:
        return nodes
    share = percentage
    if share <= 0:
        share = max(BASE_PERCENTAGE - nodes // NODES_PER_POINT, MIN_FEASIBLE_PERCENTAGE)
    return max(nodes * share // 100, MIN_FEASIBLE_NODES)


class _AffinityView:
    """The table's affinity index seen through a window: per-node arrays are sliced."""

    def __init__(self, index: AffinityIndex, rows: np.ndarray | slice) -> None:
        self._index = index
        self._rows = rows
        self.anti = index.anti
        self.placed = index.placed
        self.with_affinity = index.with_affinity

    def matching_counts(self, term: AffinityTerm) -> np.ndarray:
        return self._index.matching_counts(term)

    def per_node(self, term: AffinityTerm, counts: np.ndarray) -> np.ndarray:
        out: np.ndarray = self._index.per_node(term, counts)[self._rows]
        return out


def window(start: int, width: int, nodes: int) -> np.ndarray | slice:
    """Nodes ``start``, ``start + 1``, ... ``width`` of them, wrapping around: a slice (whose
    columns are views, no copy) unless it wraps."""
    if start + width <= nodes:
        return slice(start, start + width)
    return (start + np.arange(width)) % nodes


class NodeView:
    """The nodes ``rows`` (a slice or indices) of a table, with the attributes the plugins read
    (positions in the view are 0..len-1; ``indices`` maps them back)."""

    def __init__(self, table: NodeTable, rows: np.ndarray | slice) -> None:
        self.table = table
        self.allocatable_cpu = table.allocatable_cpu[rows]
        self.allocatable_memory = table.allocatable_memory[rows]
        self.requested_cpu = table.requested_cpu[rows]
        self.requested_memory = table.requested_memory[rows]
        self.pod_count = table.pod_count[rows]
        self.allowed_pods = table.allowed_pods[rows]
        self.room = table.room[rows]
        self.unschedulable = table.unschedulable[rows]
        self.any_cordoned = table.any_cordoned and bool(self.unschedulable.any())
        self.capacity_positive = table.capacity_positive
        self.cpu_limit = table.cpu_limit[rows]
        self.memory_limit = table.memory_limit[rows]
        self.affinity = _AffinityView(table.affinity, rows)
        self._rows = rows

    def __len__(self) -> int:
        return len(self.allocatable_cpu)

    @cached_property
    def indices(self) -> np.ndarray:
        """The table's row of each position (made only when a plugin reads per-node objects)."""
        rows = self._rows
        return np.arange(rows.start, rows.stop) if isinstance(rows, slice) else rows

    @cached_property
    def labels(self) -> list[dict[str, str]]:
        return [self.table.labels[i] for i in self.indices.tolist()]

    @cached_property
    def names(self) -> list[str]:
        return [self.table.names[i] for i in self.indices.tolist()]

    @cached_property
    def taints(self) -> list[tuple[Taint, ...]]:
        return [self.table.taints[i] for i in self.indices.tolist()]

    @cached_property
    def tainted(self) -> np.ndarray:
        if len(self.table.tainted) == 0:
            return self.table.tainted
        positions: np.ndarray = np.flatnonzero(np.isin(self.indices, self.table.tainted))
        return positions

    def label_mask(self, key: str, value: str) -> np.ndarray:
        mask: np.ndarray = self.table.label_mask(key, value)[self._rows]
        return mask

    def fit(self, cpu: float, memory: float) -> Fit | None:
        fit = self.table.fit(cpu, memory)
        if fit is None:
            return None
        rows = self._rows
        return Fit(fit.cpu_ok[rows], fit.memory_ok[rows], fit.least_allocated[rows])

    def domains(self, key: str) -> tuple[np.ndarray, int]:
        idx, size = self.table.domains(key)
        return idx[self._rows], size
