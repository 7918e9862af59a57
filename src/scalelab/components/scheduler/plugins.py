"""Basic scheduler plugins with the real semantics; rejection reasons as named constants.

Reason strings are the ones ``kubectl describe pod`` prints in a FailedScheduling event.
"""

from __future__ import annotations

import numpy as np

from scalelab.components.scheduler.fit_columns import least_allocated, score_free_fractions
from scalelab.components.scheduler.framework import CycleState, Nodes, PodInfo, Registry
from scalelab.kube.objects import Taint

TOO_MANY_PODS = "Too many pods"
INSUFFICIENT_CPU = "Insufficient cpu"
INSUFFICIENT_MEMORY = "Insufficient memory"
NODE_SELECTOR_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
UNTOLERATED_TAINT = "node(s) had untolerated taint(s)"
NODE_UNSCHEDULABLE = "node(s) were unschedulable"


class NodeResourcesFit:
    """Filter: one more pod fits under the node's allocatable pods, and the pod's requests in
    allocatable minus what is already requested."""

    name = "NodeResourcesFit"
    reports_all_checks = True

    def filter(self, state: CycleState, pod: PodInfo, nodes: Nodes) -> list[tuple[np.ndarray | None, str]]:
        # upstream's order: the pod count against allocatable pods, then each resource
        pods_ok = nodes.room  # pod_count < allowed_pods, kept by the table
        fit = nodes.fit(pod.cpu, pod.memory)
        if fit is not None:  # kept by the table for this shape (``fit_columns``)
            return [(pods_ok, TOO_MANY_PODS), (fit.cpu_ok, INSUFFICIENT_CPU), (fit.memory_ok, INSUFFICIENT_MEMORY)]
        cpu_ok = nodes.requested_cpu + pod.cpu <= nodes.cpu_limit
        mem_ok = nodes.requested_memory + pod.memory <= nodes.memory_limit
        return [(pods_ok, TOO_MANY_PODS), (cpu_ok, INSUFFICIENT_CPU), (mem_ok, INSUFFICIENT_MEMORY)]


class NodeUnschedulable:
    """Filter: cordoned nodes (``spec.unschedulable``) take no new pods."""

    name = "NodeUnschedulable"

    def filter(self, state: CycleState, pod: PodInfo, nodes: Nodes) -> list[tuple[np.ndarray | None, str]]:
        return [(~nodes.unschedulable if nodes.any_cordoned else None, NODE_UNSCHEDULABLE)]


class NodeAffinity:
    """Filter: ``nodeSelector`` pairs and required node affinity (terms ORed, expressions
    ANDed). Score: the weights of the preferred terms a node matches."""

    name = "NodeAffinity"

    def filter(self, state: CycleState, pod: PodInfo, nodes: Nodes) -> list[tuple[np.ndarray | None, str]]:
        required = pod.node_affinity.required_during_scheduling_ignored_during_execution if pod.node_affinity else None
        if not pod.node_selector and required is None:
            return [(None, NODE_SELECTOR_MISMATCH)]
        mask = np.ones(len(nodes), dtype=bool)
        for key, value in pod.node_selector.items():
            mask &= nodes.label_mask(key, value)
        if required is not None:
            mask &= np.fromiter((required.matches(lab) for lab in nodes.labels), dtype=bool, count=len(nodes))
        return [(mask, NODE_SELECTOR_MISMATCH)]

    def score(self, state: CycleState, pod: PodInfo, nodes: Nodes, feasible: np.ndarray) -> np.ndarray | None:
        if pod.node_affinity is None:
            return None  # no preferred terms: every node scores the same
        out = np.zeros(len(feasible))
        for pref in pod.node_affinity.preferred_during_scheduling_ignored_during_execution:
            out += pref.weight * np.fromiter((pref.preference.matches(nodes.labels[i]) for i in feasible.tolist()),
                                             dtype=bool, count=len(feasible))
        top = out.max(initial=0.0)
        scaled: np.ndarray = np.floor(100.0 * out / top) if top > 0 else out
        return scaled


class TaintToleration:
    """Filter: every NoSchedule / NoExecute taint of the node is tolerated. Score: fewer
    untolerated PreferNoSchedule taints is better."""

    name = "TaintToleration"

    def _untolerated(self, pod: PodInfo, taints: tuple[Taint, ...], effects: tuple[str, ...]) -> int:
        return sum(1 for t in taints if t.effect in effects and not any(tol.tolerates(t) for tol in pod.tolerations))

    def filter(self, state: CycleState, pod: PodInfo, nodes: Nodes) -> list[tuple[np.ndarray | None, str]]:
        if len(nodes.tainted) == 0:
            return [(None, UNTOLERATED_TAINT)]
        mask = np.ones(len(nodes), dtype=bool)
        for i in nodes.tainted.tolist():  # only tainted nodes need a look
            mask[i] = self._untolerated(pod, nodes.taints[i], ("NoSchedule", "NoExecute")) == 0
        return [(mask, UNTOLERATED_TAINT)]

    def score(self, state: CycleState, pod: PodInfo, nodes: Nodes, feasible: np.ndarray) -> np.ndarray | None:
        if len(nodes.tainted) == 0:
            return None  # no taints: every node scores the same
        bad = np.zeros(len(feasible))
        tainted = np.flatnonzero(np.isin(feasible, nodes.tainted))
        for j in tainted.tolist():
            bad[j] = self._untolerated(pod, nodes.taints[int(feasible[j])], ("PreferNoSchedule",))
        top = bad.max(initial=0.0)
        scaled: np.ndarray = np.floor(100.0 * (1.0 - bad / top)) if top > 0 else np.zeros(len(feasible))
        return scaled


class LeastAllocated:
    """Score: the mean free fraction of CPU and memory after placing the pod, x100
    (1.5 ``LeastRequestedPriority``, integer scores 0-10 then; 0-100 here)."""

    name = "LeastAllocated"

    def score(self, state: CycleState, pod: PodInfo, nodes: Nodes, feasible: np.ndarray) -> np.ndarray:
        # the feasible nodes are the first k of the table (or the window): its columns as they
        # are, no gather (``feasible`` is ascending, so that is when its last is k - 1)
        k = len(feasible)
        rows: np.ndarray | slice = slice(0, k) if k and int(feasible[-1]) == k - 1 else feasible
        fit = nodes.fit(pod.cpu, pod.memory)
        if fit is not None:  # kept by the table for this shape (``fit_columns``); callers copy
            kept: np.ndarray = fit.least_allocated[rows]
            return kept
        cap_cpu = nodes.allocatable_cpu[rows]
        cap_mem = nodes.allocatable_memory[rows]
        if nodes.capacity_positive or (cap_cpu.min(initial=1.0) > 0 and cap_mem.min(initial=1.0) > 0):
            return least_allocated(nodes.requested_cpu[rows], nodes.requested_memory[rows], pod.cpu, pod.memory,
                                   cap_cpu, cap_mem)
        left_cpu = cap_cpu - nodes.requested_cpu[rows] - pod.cpu
        left_mem = cap_mem - nodes.requested_memory[rows] - pod.memory
        free_cpu = np.where(cap_cpu > 0, left_cpu / np.maximum(cap_cpu, 1e-12), 0.0)
        free_mem = np.where(cap_mem > 0, left_mem / np.maximum(cap_mem, 1e-12), 0.0)
        return score_free_fractions(free_cpu, free_mem)


def default_registry() -> Registry:
    from scalelab.components.scheduler.affinity import InterPodAffinity

    registry = Registry()
    for plugin in (NodeUnschedulable, NodeAffinity, TaintToleration, NodeResourcesFit, InterPodAffinity,
                   LeastAllocated):
        registry.register(plugin.name, plugin)
    return registry


#: The default plugin set: (pre-filter, filter, score), in upstream's order.
DEFAULT_PROFILE: tuple[list[str], list[str], list[str]] = (
    ["InterPodAffinity"],
    [NodeUnschedulable.name, NodeAffinity.name, TaintToleration.name, NodeResourcesFit.name, "InterPodAffinity"],
    [LeastAllocated.name, NodeAffinity.name, TaintToleration.name, "InterPodAffinity"])
