"""Inter-pod affinity and anti-affinity, with counts kept per topology domain.

The placed pods are indexed two ways, both updated on every add/remove so a scheduling
cycle never walks the placed pods (modern kube-scheduler's PreFilter idea):
- ``anti``: for every distinct required anti-affinity term carried by placed pods, how many
  such pods sit in each domain of the term's topology key (used to honour *existing* pods'
  anti-affinity against the incoming pod);
- ``matching``: for every term an incoming pod has asked about, how many placed pods match
  it in each domain (created on first use from the placed pods, then incremental).
A filter is then a few array lookups over all nodes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scalelab.components.scheduler.framework import AffinityTerm, CycleState, PodInfo, Status

if TYPE_CHECKING:
    from scalelab.components.scheduler.framework import Nodes, NodeTable

Signature = tuple[str, tuple[str, ...] | None, str]

AFFINITY_MISMATCH = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY_MISMATCH = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"


class AffinityIndex:
    def __init__(self, nodes: NodeTable) -> None:
        self.nodes = nodes
        #: placed pods by identity, in placing order (a delete finds its pod at once: a list's
        #: remove compared every placed pod's fields, O(pods) per delete)
        self.placed: dict[int, tuple[int, PodInfo]] = {}
        #: placed pods that carry required (anti-)affinity terms
        self.with_affinity = 0
        self.anti: dict[Signature, tuple[AffinityTerm, np.ndarray]] = {}
        self.matching: dict[Signature, tuple[AffinityTerm, np.ndarray]] = {}

    def _counts(self, term: AffinityTerm) -> np.ndarray:
        _idx, size = self.nodes.domains(term.topology_key)
        return np.zeros(max(size, 1), dtype=np.int64)

    def _bump(self, term: AffinityTerm, counts: np.ndarray, node: int, delta: int) -> None:
        idx, _size = self.nodes.domains(term.topology_key)
        if idx[node] >= 0:
            counts[idx[node]] += delta

    def add(self, node: int, pod: PodInfo) -> None:
        if id(pod) in self.placed:
            raise ValueError(f"pod {pod.name} is already placed")
        self._update(node, pod, +1)
        self.placed[id(pod)] = (node, pod)

    def remove(self, node: int, pod: PodInfo) -> None:
        placed = self.placed.get(id(pod))
        if placed is None or placed[0] != node:
            raise ValueError(f"pod {pod.name} is not placed on node {node}")
        del self.placed[id(pod)]
        self._update(node, pod, -1)

    def _update(self, node: int, pod: PodInfo, delta: int) -> None:
        if pod.required_anti_affinity or pod.required_affinity:
            self.with_affinity += delta
        for term in pod.required_anti_affinity:
            entry = self.anti.get(term.signature)
            if entry is None:
                entry = self.anti[term.signature] = (term, self._counts(term))
            self._bump(term, entry[1], node, delta)
        for term, counts in self.matching.values():
            if term.matches(pod):
                self._bump(term, counts, node, delta)

    def matching_counts(self, term: AffinityTerm) -> np.ndarray:
        """Placed pods matching ``term``, per domain of its topology key."""
        entry = self.matching.get(term.signature)
        if entry is None:
            counts = self._counts(term)
            for node, pod in self.placed.values():
                if term.matches(pod):
                    self._bump(term, counts, node, +1)
            entry = self.matching[term.signature] = (term, counts)
        return entry[1]

    def per_node(self, term: AffinityTerm, counts: np.ndarray) -> np.ndarray:
        """Domain counts spread over nodes (0 for nodes without the topology label)."""
        idx, _size = self.nodes.domains(term.topology_key)
        out: np.ndarray = np.where(idx >= 0, counts[np.maximum(idx, 0)], 0)
        return out


class InterPodAffinity:
    """PreFilter + Filter + Score for required and preferred (anti-)affinity."""

    name = "InterPodAffinity"

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Nodes) -> Status:
        index = nodes.affinity
        forbidden: np.ndarray | None = None  # None: no placed pod's anti-affinity selects this pod
        for term, counts in index.anti.values():
            if term.matches(pod):
                hit = index.per_node(term, counts) > 0
                forbidden = hit if forbidden is None else forbidden | hit
        state["existing_anti"] = forbidden
        return Status()

    def filter(self, state: CycleState, pod: PodInfo, nodes: Nodes) -> list[tuple[np.ndarray | None, str]]:
        index = nodes.affinity
        existing = state.get("existing_anti")
        existing_ok = ~existing if isinstance(existing, np.ndarray) else None
        if not pod.required_affinity and not pod.required_anti_affinity:
            return [(existing_ok, EXISTING_ANTI_AFFINITY), (None, ANTI_AFFINITY_MISMATCH), (None, AFFINITY_MISMATCH)]
        affinity_ok = np.ones(len(nodes), dtype=bool)
        for term in pod.required_affinity:
            counts = index.matching_counts(term)
            if counts.sum() == 0 and term.matches(pod):
                continue  # the first pod of a self-affine group may land anywhere
            affinity_ok &= index.per_node(term, counts) > 0
        anti_ok = np.ones(len(nodes), dtype=bool)
        for term in pod.required_anti_affinity:
            anti_ok &= index.per_node(term, index.matching_counts(term)) == 0
        # upstream's order: existing pods' anti-affinity, the pod's anti-affinity, its affinity
        return [(existing_ok, EXISTING_ANTI_AFFINITY), (anti_ok, ANTI_AFFINITY_MISMATCH),
                (affinity_ok, AFFINITY_MISMATCH)]

    def score(self, state: CycleState, pod: PodInfo, nodes: Nodes, feasible: np.ndarray) -> np.ndarray | None:
        if not pod.preferred_affinity and not pod.preferred_anti_affinity:
            return None  # no preferred terms: every node scores the same
        index = nodes.affinity
        raw = np.zeros(len(feasible))
        for term in pod.preferred_affinity:
            raw += term.weight * index.per_node(term, index.matching_counts(term))[feasible]
        for term in pod.preferred_anti_affinity:
            raw -= term.weight * index.per_node(term, index.matching_counts(term))[feasible]
        low, high = raw.min(initial=0.0), raw.max(initial=0.0)
        if high == low:
            return np.zeros(len(feasible))
        scores: np.ndarray = np.floor(100.0 * (raw - low) / (high - low))
        return scores
