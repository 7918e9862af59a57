"""The scheduling framework: PreFilter / Filter / Score plugins over a snapshot of nodes.

Follows kube-scheduler's framework: one small interface per extension point, a typed
``Status`` whose ``Code`` says what happened, a ``CycleState`` written in PreFilter and read
in Filter/Score, and an explicit registry name -> factory (duplicates are an error; nothing
registers on import by side effect). Filters work on all nodes at once: each returns a
boolean mask over the node table, so a decision costs a few NumPy expressions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

import numpy as np


class Code(IntEnum):
    """Outcome of a plugin call (kube-scheduler framework ``Code``)."""

    SUCCESS = 0  #: the plugin ran and accepts
    UNSCHEDULABLE = 1  #: the pod cannot run on some nodes; reasons say why
    ERROR = 2  #: the plugin failed (a bug or bad input), the cycle is aborted


@dataclass(frozen=True)
class Status:
    code: Code = Code.SUCCESS
    reason: str = ""


@dataclass(frozen=True)
class PodInfo:
    """What the scheduler reads of a pod."""

    name: str
    namespace: str = "default"
    labels: Mapping[str, str] = field(default_factory=dict)
    cpu: float = 0.0
    memory: float = 0.0
    node_selector: Mapping[str, str] = field(default_factory=dict)


class NodeTable:
    """The scheduler's snapshot of nodes: columns as arrays, labels indexed for selectors."""

    def __init__(self, names: list[str], labels: list[dict[str, str]], cpu: np.ndarray,
                 memory: np.ndarray) -> None:
        self.names = names
        self.labels = labels
        self.allocatable_cpu = np.asarray(cpu, dtype=np.float64)
        self.allocatable_memory = np.asarray(memory, dtype=np.float64)
        self.requested_cpu = np.zeros(len(names))
        self.requested_memory = np.zeros(len(names))
        self.pod_count = np.zeros(len(names), dtype=np.int64)
        self._label_masks: dict[tuple[str, str], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.names)

    def label_mask(self, key: str, value: str) -> np.ndarray:
        """Nodes whose label ``key`` equals ``value`` (cached: labels do not change here)."""
        mask = self._label_masks.get((key, value))
        if mask is None:
            mask = np.fromiter((lab.get(key) == value for lab in self.labels), dtype=bool, count=len(self))
            self._label_masks[(key, value)] = mask
        return mask

    def add_pod(self, node: int, pod: PodInfo) -> None:
        self.requested_cpu[node] += pod.cpu
        self.requested_memory[node] += pod.memory
        self.pod_count[node] += 1

    def remove_pod(self, node: int, pod: PodInfo) -> None:
        self.requested_cpu[node] -= pod.cpu
        self.requested_memory[node] -= pod.memory
        self.pod_count[node] -= 1


CycleState = dict[str, object]
"""Per-cycle scratch space: written once in PreFilter, read many times in Filter/Score."""


class PreFilterPlugin(Protocol):
    name: str

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Status: ...


class FilterPlugin(Protocol):
    name: str

    def filter(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> list[tuple[np.ndarray, str]]:
        """Checks in order: (mask of nodes that pass, reason shown for those that fail)."""
        ...


class ScorePlugin(Protocol):
    name: str

    def score(self, state: CycleState, pod: PodInfo, nodes: NodeTable, feasible: np.ndarray) -> np.ndarray:
        """Scores 0-100 for the ``feasible`` node indices."""
        ...


Plugin = PreFilterPlugin | FilterPlugin | ScorePlugin


class Registry:
    """Explicit plugin registry: name -> factory."""

    def __init__(self) -> None:
        self._factories: dict[str, Callable[[], Plugin]] = {}

    def register(self, name: str, factory: Callable[[], Plugin]) -> None:
        if name in self._factories:
            raise ValueError(f"plugin {name!r} registered twice")
        self._factories[name] = factory

    def build(self, name: str) -> Plugin:
        try:
            return self._factories[name]()
        except KeyError:
            raise ValueError(f"unknown scheduler plugin {name!r}") from None

    def names(self) -> list[str]:
        return sorted(self._factories)


@dataclass
class Decision:
    """Result of one scheduling cycle."""

    node: int | None
    reasons: Counter[str]
    evaluated_nodes: int


class Framework:
    """Runs the configured plugins for one pod at a time."""

    def __init__(self, registry: Registry, pre_filter: list[str], filters: list[str],
                 scores: list[str]) -> None:
        self.pre_filters: list[PreFilterPlugin] = [registry.build(n) for n in pre_filter]  # type: ignore[misc]
        self.filters: list[FilterPlugin] = [registry.build(n) for n in filters]  # type: ignore[misc]
        self.scores: list[ScorePlugin] = [registry.build(n) for n in scores]  # type: ignore[misc]
        self._rr = 0

    def schedule(self, pod: PodInfo, nodes: NodeTable) -> Decision:
        state: CycleState = {}
        for pf in self.pre_filters:
            status = pf.pre_filter(state, pod, nodes)
            if status.code != Code.SUCCESS:
                return Decision(None, Counter({status.reason: len(nodes)}), 0)
        feasible = np.ones(len(nodes), dtype=bool)
        reasons: Counter[str] = Counter()
        for f in self.filters:
            for mask, reason in f.filter(state, pod, nodes):
                count = int((feasible & ~mask).sum())
                if count:
                    reasons[reason] += count  # a node shows its first failing check
                feasible &= mask
        idx = np.flatnonzero(feasible)
        if len(idx) == 0:
            return Decision(None, reasons, len(nodes))
        total = np.zeros(len(idx))
        for s in self.scores:
            total += s.score(state, pod, nodes, idx)
        best = np.flatnonzero(total == total.max())
        # 1.5 selectHost: round-robin among the nodes sharing the top score.
        choice = int(idx[best[self._rr % len(best)]])
        self._rr += 1
        return Decision(choice, reasons, len(nodes))


def describe_unschedulable(reasons: Counter[str], total_nodes: int) -> str:
    """The message ``kubectl describe`` shows: "0/900 nodes are available: 5 Insufficient cpu"."""
    parts = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    return f"0/{total_nodes} nodes are available: {parts}."
