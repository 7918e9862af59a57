"""What NodeResourcesFit and LeastAllocated compute for a pod shape, kept per node, not redone.

A cycle's two resource plugins read only the pod's CPU and memory requests and each node's
allocatable and requested amounts. In a deploy of one template, every pod asks the same, and
between two cycles one node changed (the pod the last cycle placed): computing both plugins
over a 5000-node window for every pod (the 100,000-node sampled cycle) was ~110 us of a
~230 us decision. ``FitColumns`` keeps, for a few recent shapes (cpu, memory), each node's
"cpu fits", "memory fits" and LeastAllocated score, computed over the table once, then
recomputed for one node when ``NodeTable.add_pod``/``remove_pod`` changes it.

The arithmetic is the plugins', operation for operation, on IEEE doubles: numpy's elementwise
add, divide, subtract, clip and floor round exactly as Python's float operations, so a column
updated node by node equals one computed over the table, bit for bit
(``tests/test_scheduler_fit_columns.py`` compares them after every change). Only tables whose
every node has CPU and memory (``capacity_positive``) are kept: the other branch of
LeastAllocated guards a zero capacity differently.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from scalelab.components.scheduler.framework import NodeTable

#: Shapes kept at once: a cluster's deploys use a handful of templates; the oldest goes first.
MAX_SHAPES = 8


class Fit(NamedTuple):
    """Per node (of a table, or a window's rows of it), for one pod shape."""

    cpu_ok: np.ndarray
    memory_ok: np.ndarray
    #: LeastAllocated's integer score 0-100 (as a float, as the plugin returns it)
    least_allocated: np.ndarray


def least_allocated(requested_cpu: np.ndarray, requested_memory: np.ndarray, cpu: float, memory: float,
                    cap_cpu: np.ndarray, cap_mem: np.ndarray) -> np.ndarray:
    """LeastAllocated's score for capacities all positive: each free fraction is
    1 - (requested + pod) / capacity (computed in place)."""
    free_cpu = np.add(requested_cpu, cpu)
    np.divide(free_cpu, cap_cpu, out=free_cpu)
    np.subtract(1.0, free_cpu, out=free_cpu)
    free_mem = np.add(requested_memory, memory)
    np.divide(free_mem, cap_mem, out=free_mem)
    np.subtract(1.0, free_mem, out=free_mem)
    return score_free_fractions(free_cpu, free_mem)


def score_free_fractions(free_cpu: np.ndarray, free_mem: np.ndarray) -> np.ndarray:
    """floor(50 x (free cpu + free memory)), each fraction kept in [0, 1] (in place, in
    ``free_cpu``): integer scores as upstream's, so ties are real ties, broken round-robin by
    the framework."""
    for free in (free_cpu, free_mem):
        np.maximum(free, 0.0, out=free)
        np.minimum(free, 1.0, out=free)
    free_cpu += free_mem
    free_cpu *= 50.0
    scores: np.ndarray = np.floor(free_cpu, out=free_cpu)
    return scores


class FitColumns:
    """The columns of the shapes asked for lately, kept current node by node."""

    def __init__(self, table: NodeTable) -> None:
        self._table = table
        self._shapes: dict[tuple[float, float], Fit] = {}

    def get(self, cpu: float, memory: float) -> Fit:
        """The columns for pods asking ``cpu`` and ``memory`` (computed over the table on the
        first ask, then kept)."""
        key = (cpu, memory)
        fit = self._shapes.get(key)
        if fit is None:
            if len(self._shapes) >= MAX_SHAPES:
                del self._shapes[next(iter(self._shapes))]
            t = self._table
            fit = Fit(t.requested_cpu + cpu <= t.cpu_limit, t.requested_memory + memory <= t.memory_limit,
                      least_allocated(t.requested_cpu, t.requested_memory, cpu, memory,
                                      t.allocatable_cpu, t.allocatable_memory))
            self._shapes[key] = fit
        return fit

    def node_changed(self, node: int) -> None:
        """Recompute ``node``'s entries in every kept shape (its requests just changed)."""
        if not self._shapes:
            return
        t = self._table
        requested_cpu = float(t.requested_cpu[node])
        requested_memory = float(t.requested_memory[node])
        cpu_limit = float(t.cpu_limit[node])
        memory_limit = float(t.memory_limit[node])
        cap_cpu = float(t.allocatable_cpu[node])
        cap_mem = float(t.allocatable_memory[node])
        for (cpu, memory), fit in self._shapes.items():
            fit.cpu_ok[node] = requested_cpu + cpu <= cpu_limit
            fit.memory_ok[node] = requested_memory + memory <= memory_limit
            free_cpu = min(max(1.0 - (requested_cpu + cpu) / cap_cpu, 0.0), 1.0)
            free_mem = min(max(1.0 - (requested_memory + memory) / cap_mem, 0.0), 1.0)
            fit.least_allocated[node] = math.floor((free_cpu + free_mem) * 50.0)
