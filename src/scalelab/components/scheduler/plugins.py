"""Basic scheduler plugins with the real semantics; rejection reasons as named constants.

Reason strings are the ones ``kubectl describe pod`` prints in a FailedScheduling event.
"""

from __future__ import annotations

import numpy as np

from scalelab.components.scheduler.framework import CycleState, NodeTable, PodInfo, Registry

INSUFFICIENT_CPU = "Insufficient cpu"
INSUFFICIENT_MEMORY = "Insufficient memory"
NODE_SELECTOR_MISMATCH = "node(s) didn't match node selector"


class NodeResourcesFit:
    """Filter: the pod's requests fit in allocatable minus what is already requested."""

    name = "NodeResourcesFit"

    def filter(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> list[tuple[np.ndarray, str]]:
        cpu_ok = nodes.requested_cpu + pod.cpu <= nodes.allocatable_cpu + 1e-9
        mem_ok = nodes.requested_memory + pod.memory <= nodes.allocatable_memory + 1e-9
        return [(cpu_ok, INSUFFICIENT_CPU), (mem_ok, INSUFFICIENT_MEMORY)]


class NodeSelector:
    """Filter: every ``nodeSelector`` pair is a label of the node."""

    name = "NodeSelector"

    def filter(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> list[tuple[np.ndarray, str]]:
        mask = np.ones(len(nodes), dtype=bool)
        for key, value in pod.node_selector.items():
            mask &= nodes.label_mask(key, value)
        return [(mask, NODE_SELECTOR_MISMATCH)]


class LeastAllocated:
    """Score: the mean free fraction of CPU and memory after placing the pod, x100
    (1.5 ``LeastRequestedPriority``, integer scores 0-10 then; 0-100 here)."""

    name = "LeastAllocated"

    def score(self, state: CycleState, pod: PodInfo, nodes: NodeTable, feasible: np.ndarray) -> np.ndarray:
        cap_cpu = nodes.allocatable_cpu[feasible]
        cap_mem = nodes.allocatable_memory[feasible]
        left_cpu = cap_cpu - nodes.requested_cpu[feasible] - pod.cpu
        left_mem = cap_mem - nodes.requested_memory[feasible] - pod.memory
        free_cpu = np.where(cap_cpu > 0, left_cpu / np.maximum(cap_cpu, 1e-12), 0.0)
        free_mem = np.where(cap_mem > 0, left_mem / np.maximum(cap_mem, 1e-12), 0.0)
        # integer scores as upstream: ties are real ties, broken round-robin by the framework
        scores: np.ndarray = np.floor(50.0 * (np.clip(free_cpu, 0, 1) + np.clip(free_mem, 0, 1)))
        return scores


def default_registry() -> Registry:
    registry = Registry()
    registry.register(NodeResourcesFit.name, NodeResourcesFit)
    registry.register(NodeSelector.name, NodeSelector)
    registry.register(LeastAllocated.name, LeastAllocated)
    return registry


#: The plugin set of the basic profile: (pre-filter, filter, score).
BASIC_PROFILE: tuple[list[str], list[str], list[str]] = (
    [], [NodeSelector.name, NodeResourcesFit.name], [LeastAllocated.name])
