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
from functools import cached_property
from typing import Protocol

import numpy as np

from scalelab.components.scheduler.fit_columns import Fit, FitColumns
from scalelab.components.scheduler.sampling import NodeView, window
from scalelab.kube.objects import LabelSelector, NodeAffinity, Taint, Toleration


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
class AffinityTerm:
    """A pod (anti-)affinity term with its namespaces resolved (None = every namespace)."""

    selector: LabelSelector
    namespaces: frozenset[str] | None
    topology_key: str
    weight: int = 0

    def matches(self, pod: PodInfo) -> bool:
        in_ns = self.namespaces is None or pod.namespace in self.namespaces
        return in_ns and self.selector.matches(dict(pod.labels))

    @cached_property
    def signature(self) -> tuple[str, tuple[str, ...] | None, str]:
        ns = None if self.namespaces is None else tuple(sorted(self.namespaces))
        return (self.selector.signature(), ns, self.topology_key)


@dataclass(frozen=True, slots=True)
class PodInfo:
    """What the scheduler reads of a pod (affinity already read the generation's way)."""

    name: str
    namespace: str = "default"
    labels: Mapping[str, str] = field(default_factory=dict)
    cpu: float = 0.0
    memory: float = 0.0
    node_selector: Mapping[str, str] = field(default_factory=dict)
    node_affinity: NodeAffinity | None = None
    tolerations: tuple[Toleration, ...] = ()
    required_affinity: tuple[AffinityTerm, ...] = ()
    required_anti_affinity: tuple[AffinityTerm, ...] = ()
    preferred_affinity: tuple[AffinityTerm, ...] = ()
    preferred_anti_affinity: tuple[AffinityTerm, ...] = ()


class NodeTable:
    """The scheduler's snapshot of nodes: columns as arrays, labels indexed for selectors,
    topology domains per key, and the placed pods' affinity index."""

    def __init__(self, names: list[str], labels: list[dict[str, str]], cpu: np.ndarray,
                 memory: np.ndarray, taints: list[tuple[Taint, ...]] | None = None,
                 unschedulable: np.ndarray | None = None, allowed_pods: np.ndarray | None = None) -> None:
        """``allowed_pods``: each node's ``status.allocatable.pods`` (default the kubelet's
        ``--max-pods`` 110)."""
        self.names = names
        self.labels = labels
        self.allocatable_cpu = np.asarray(cpu, dtype=np.float64)
        self.allocatable_memory = np.asarray(memory, dtype=np.float64)
        self.capacity_positive = bool((self.allocatable_cpu > 0).all() and (self.allocatable_memory > 0).all())
        #: what a node's requests may reach: allocatable with a rounding allowance
        self.cpu_limit = self.allocatable_cpu + 1e-9
        self.memory_limit = self.allocatable_memory + 1e-9
        self.requested_cpu = np.zeros(len(names))
        self.requested_memory = np.zeros(len(names))
        self.pod_count = np.zeros(len(names), dtype=np.int64)
        self.allowed_pods = (np.asarray(allowed_pods, dtype=np.int64) if allowed_pods is not None
                             else np.full(len(names), DEFAULT_MAX_PODS, dtype=np.int64))
        #: a node holds fewer pods than it allows (kept current by ``add_pod``/``remove_pod``)
        self.room = self.pod_count < self.allowed_pods
        self.taints = taints or [() for _ in names]
        self.unschedulable = unschedulable if unschedulable is not None else np.zeros(len(names), dtype=bool)
        #: some node is cordoned (``unschedulable`` is fixed at the table's making, like labels)
        self.any_cordoned = bool(self.unschedulable.any())
        #: indices of nodes with any taint (most nodes have none: filters skip them)
        self.tainted = np.array([i for i, t in enumerate(self.taints) if t], dtype=np.int64)
        self._label_masks: dict[tuple[str, str], np.ndarray] = {}
        self._domains: dict[str, tuple[np.ndarray, int]] = {}
        from scalelab.components.scheduler.affinity import AffinityIndex

        self.affinity = AffinityIndex(self)
        self._fit = FitColumns(self) if self.capacity_positive else None

    def __len__(self) -> int:
        return len(self.names)

    def label_mask(self, key: str, value: str) -> np.ndarray:
        """Nodes whose label ``key`` equals ``value`` (cached: labels do not change here)."""
        mask = self._label_masks.get((key, value))
        if mask is None:
            mask = np.fromiter((lab.get(key) == value for lab in self.labels), dtype=bool, count=len(self))
            self._label_masks[(key, value)] = mask
        return mask

    def domains(self, key: str) -> tuple[np.ndarray, int]:
        """Per node, the index of its value of topology label ``key`` (-1: no such label),
        and the number of distinct values."""
        cached = self._domains.get(key)
        if cached is None:
            values: dict[str, int] = {}
            idx = np.fromiter((values.setdefault(lab[key], len(values)) if key in lab else -1
                               for lab in self.labels), dtype=np.int64, count=len(self))
            cached = self._domains[key] = (idx, len(values))
        return cached

    def fit(self, cpu: float, memory: float) -> Fit | None:
        """The resource plugins' columns for a pod shape, kept current (None: some node has no
        CPU or memory to allocate, and the plugins compute their own)."""
        return None if self._fit is None else self._fit.get(cpu, memory)

    def add_pod(self, node: int, pod: PodInfo) -> None:
        self.affinity.add(node, pod)  # first: it refuses a pod placed already
        self.requested_cpu[node] += pod.cpu
        self.requested_memory[node] += pod.memory
        self.pod_count[node] += 1
        self.room[node] = self.pod_count[node] < self.allowed_pods[node]
        if self._fit is not None:
            self._fit.node_changed(node)

    def remove_pod(self, node: int, pod: PodInfo) -> None:
        self.affinity.remove(node, pod)  # first: it refuses a pod not placed there
        self.requested_cpu[node] -= pod.cpu
        self.requested_memory[node] -= pod.memory
        self.pod_count[node] -= 1
        self.room[node] = self.pod_count[node] < self.allowed_pods[node]
        if self._fit is not None:
            self._fit.node_changed(node)


#: kubelet ``--max-pods`` default (every release since 1.0): a node's allocatable pods.
DEFAULT_MAX_PODS = 110


class AffinityReader(Protocol):
    """What plugins read of the placed pods' affinity index (``AffinityIndex``, or its view
    through a window of nodes)."""

    anti: dict[tuple[str, tuple[str, ...] | None, str], tuple[AffinityTerm, np.ndarray]]
    with_affinity: int

    def matching_counts(self, term: AffinityTerm) -> np.ndarray: ...

    def per_node(self, term: AffinityTerm, counts: np.ndarray) -> np.ndarray: ...


class Nodes(Protocol):
    """What plugins read of the nodes: the whole ``NodeTable`` or a ``sampling.NodeView``."""

    allocatable_cpu: np.ndarray
    allocatable_memory: np.ndarray
    requested_cpu: np.ndarray
    requested_memory: np.ndarray
    pod_count: np.ndarray
    allowed_pods: np.ndarray
    #: pod_count < allowed_pods, kept
    room: np.ndarray
    unschedulable: np.ndarray
    #: some node (of these) is cordoned
    any_cordoned: bool
    #: every node has CPU and memory to allocate (the table's, fixed at its making)
    capacity_positive: bool
    cpu_limit: np.ndarray
    memory_limit: np.ndarray

    # read-only: a window computes them on first use
    @property
    def labels(self) -> list[dict[str, str]]: ...
    @property
    def taints(self) -> list[tuple[Taint, ...]]: ...
    @property
    def tainted(self) -> np.ndarray: ...
    @property
    def affinity(self) -> AffinityReader: ...

    def __len__(self) -> int: ...

    def label_mask(self, key: str, value: str) -> np.ndarray: ...

    def fit(self, cpu: float, memory: float) -> Fit | None: ...

CycleState = dict[str, object]
"""Per-cycle scratch space: written once in PreFilter, read many times in Filter/Score."""


class PreFilterPlugin(Protocol):
    name: str

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Nodes) -> Status: ...


class FilterPlugin(Protocol):
    name: str

    def filter(self, state: CycleState, pod: PodInfo, nodes: Nodes) -> list[tuple[np.ndarray | None, str]]:
        """Checks in order: (mask of nodes that pass, reason shown for those that fail); a
        mask of None: every node passes (a pod without the feature the check is about)."""
        ...


class ScorePlugin(Protocol):
    name: str

    def score(self, state: CycleState, pod: PodInfo, nodes: Nodes, feasible: np.ndarray) -> np.ndarray | None:
        """Scores 0-100 for the ``feasible`` node indices (None: no preference, all equal)."""
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
                 scores: list[str], ties: np.random.Generator | None = None) -> None:
        """``ties``: None breaks ties among the top-scoring nodes round-robin (1.5's
        ``selectHost``); a generator picks one of them uniformly (the modern ``selectHost``'s
        reservoir sampling, one ``rand.Intn`` per tie)."""
        self.ties = ties
        self.pre_filters: list[PreFilterPlugin] = [registry.build(n) for n in pre_filter]  # type: ignore[misc]
        self.filters: list[FilterPlugin] = [registry.build(n) for n in filters]  # type: ignore[misc]
        self.scores: list[ScorePlugin] = [registry.build(n) for n in scores]  # type: ignore[misc]
        self._rr = 0
        #: where the next sampled cycle starts filtering (upstream ``nextStartNodeIndex``)
        self.next_start = 0

    def schedule(self, pod: PodInfo, nodes: NodeTable, only: int | None = None,
                 to_find: int | None = None) -> Decision:
        """One cycle; ``only`` restricts it to one node (a DaemonSet pod bound to its node);
        ``to_find``: stop filtering once that many feasible nodes are found, from where the
        last cycle stopped, and score only those (``sampling.num_feasible_nodes_to_find``)."""
        n = len(nodes)
        if to_find is None or to_find >= n or only is not None:
            return self._cycle(pod, nodes, only)
        # Windows from next_start, doubled until they hold enough feasible nodes (or are all
        # nodes): the cycle reads as if it walked the nodes one by one from there.
        width = min(n, to_find + to_find // 4)
        while True:
            rows = window(self.next_start, width, n)
            decision = self._cycle(pod, NodeView(nodes, rows), None, to_find, rows)
            if decision.evaluated_nodes < width or width == n:
                self.next_start = (self.next_start + decision.evaluated_nodes) % n
                return decision
            width = min(n, 2 * width)

    def _cycle(self, pod: PodInfo, nodes: Nodes, only: int | None, to_find: int | None = None,
               rows: np.ndarray | slice | None = None) -> Decision:
        """PreFilter, Filter, Score over ``nodes`` (a window ``rows`` of the table, or all of
        it); with ``to_find``, only the nodes up to the ``to_find``-th feasible one count."""
        state: CycleState = {}
        for pf in self.pre_filters:
            status = pf.pre_filter(state, pod, nodes)
            if status.code != Code.SUCCESS:
                return Decision(None, Counter({status.reason: len(nodes)}), 0)
        checks_of = [f.filter(state, pod, nodes) for f in self.filters]
        masks = [mask for checks in checks_of for mask, _reason in checks if mask is not None]
        evaluated = len(nodes)
        if only is not None:
            passed = np.zeros(evaluated, dtype=bool)
            passed[only] = True
        elif masks:
            passed = masks.pop(0).copy()
        else:
            passed = np.ones(evaluated, dtype=bool)
        for mask in masks:
            passed &= mask
        found = np.flatnonzero(passed)
        walked = evaluated
        if to_find is not None and len(found) >= to_find:
            evaluated = int(found[to_find - 1]) + 1  # the walk stops at the to_find-th feasible node
            found = found[:to_find]
        reasons: Counter[str] = Counter()
        if len(found) < evaluated:  # some node failed a check: say which
            if evaluated < walked:  # only the nodes the walk reached
                checks_of = [[(None if mask is None else mask[:evaluated], reason) for mask, reason in checks]
                             for checks in checks_of]
            feasible = np.zeros(evaluated, dtype=bool) if only is not None else np.ones(evaluated, dtype=bool)
            if only is not None:
                feasible[only] = True
            self._reasons(feasible, checks_of, reasons)
        idx = found
        if len(idx) == 0:
            return Decision(None, reasons, evaluated)
        total: np.ndarray | None = None
        for s in self.scores:
            score = s.score(state, pod, nodes, idx)
            if score is not None:
                # summed in plugin order; never written in place (a score may be a kept column)
                total = score if total is None else total + score
        if total is None:
            total = np.zeros(len(idx))
        best = np.flatnonzero(total == total.max())
        if self.ties is None:  # 1.5 selectHost: round-robin among the nodes sharing the top score
            choice = int(idx[best[self._rr % len(best)]])
            self._rr += 1
        else:  # modern selectHost: one of them at random
            choice = int(idx[best[int(self.ties.integers(len(best))) if len(best) > 1 else 0]])
        if rows is None:
            return Decision(choice, reasons, evaluated)
        node = rows.start + choice if isinstance(rows, slice) else int(rows[choice])
        return Decision(node, reasons, evaluated)

    def _reasons(self, feasible: np.ndarray, checks_of: list[list[tuple[np.ndarray | None, str]]],
                 reasons: Counter[str]) -> None:
        """Count why nodes were rejected. A node rejected by a plugin shows no later plugin's
        reasons. Within the plugin it shows its first failing check, or every failing one for
        plugins that report them all (NodeResourcesFit: "Insufficient cpu, Insufficient memory")."""
        for f, checks in zip(self.filters, checks_of, strict=True):
            live = [(mask, reason) for mask, reason in checks if mask is not None]
            if not live:
                continue
            passed = feasible.copy()
            for mask, _reason in live:
                passed &= mask
            report_all = getattr(f, "reports_all_checks", False)
            pending = feasible.copy()
            for mask, reason in live:
                failing = pending & ~mask
                count = int(failing.sum())
                if count:
                    reasons[reason] += count
                if not report_all:
                    pending &= mask
            feasible = passed


def describe_unschedulable(reasons: Counter[str], total_nodes: int) -> str:
    """The message ``kubectl describe`` shows: "0/900 nodes are available: 5 Insufficient cpu"
    (the "count reason" strings sorted, as upstream)."""
    parts = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
    return f"0/{total_nodes} nodes are available: {parts}."
