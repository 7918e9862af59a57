"""CPU of one scheduling cycle, per generation: which loops run over which pods.

The decision itself is computed by the framework; this module says how long the real
scheduler of each era spent on it, from the structure of its code (kube-scheduler 1.5
``predicates.go``) and unit costs measured outside the report's team:

1.5 (``InterPodAffinityMatches``), per pod:
- metadata, once (16 goroutines over nodes): every placed pod *with* affinity has its
  annotation JSON parsed and, per anti-affinity term, a label selector built and matched;
- per node (16 goroutines over nodes): the basic predicates and priorities; the incoming
  pod's affinity annotation parsed again; the pod lister copies every placed pod; then, per
  required (anti-)affinity term, a scan over every placed pod that **builds a label selector
  with validation for each one** (``PodMatchesTermsNamespaceAndSelector``) and stops at the
  first match in the node's topology domain.
1.5.2 (PR 37691): the same loops, but the selector is built once per term, outside the scan.
modern: PreFilter walks the placed pods once per cycle (16 goroutines) and Filter is a
lookup per node: no per-node scan.

Unit costs (modern Go on a modern CPU; Go 1.7 on the report's 2.5 GHz Haswell was slower,
which this model does not add):
- label selector built with validation: 3.3 us (openkruise PR 1068 benchmark of
  ``metav1.LabelSelectorAsSelector``: 3329 ns/op); kubernetes issue 30875 (2016) found ~20 %
  of controller-manager CPU in this validation;
- selector match against a pod's labels: 0.2 us, and the pod lister's copy plus node lookup
  per pod: 0.1 us (assumptions, a few map operations);
- affinity annotation JSON (~300 bytes) at the apiserver's 50 MB/s: 6 us.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalelab.components.scheduler.framework import NodeTable, PodInfo

SELECTOR_BUILD_SECONDS = 3.3e-6
SELECTOR_MATCH_SECONDS = 0.2e-6
POD_LIST_SECONDS = 0.1e-6
ANNOTATION_BYTES = 300.0
JSON_BYTES_PER_SECOND = 50e6


@dataclass(frozen=True)
class CycleCost:
    """CPU-seconds of one cycle (all lanes together) and how many lanes share it."""

    cpu_seconds: float
    lanes: int


def _scan_pairs(pod: PodInfo, nodes: NodeTable) -> float:
    """(node, placed pod) pairs the 1.5 per-node scan visits for the pod's required terms:
    a node whose domain already holds a match stops on average half-way."""
    placed = len(nodes.affinity.placed)
    n = len(nodes)
    pairs = 0.0
    for term in (*pod.required_affinity, *pod.required_anti_affinity):
        counts = nodes.affinity.matching_counts(term)
        hit = int(np.count_nonzero(nodes.affinity.per_node(term, counts)))
        pairs += (n - hit) * placed + hit * placed / 2.0
    return pairs


def cycle_cost(generation: str, pod: PodInfo, nodes: NodeTable, per_node_seconds: float,
               parallelism: int) -> CycleCost:
    n = len(nodes)
    lanes = max(1, min(parallelism, n))
    base = per_node_seconds * n
    index = nodes.affinity
    placed = len(index.placed)
    with_affinity = index.with_affinity
    has_terms = bool(pod.required_affinity or pod.required_anti_affinity)
    json_parse = ANNOTATION_BYTES / JSON_BYTES_PER_SECOND
    if generation == "modern":
        prefilter = placed * SELECTOR_MATCH_SECONDS if has_terms else 0.0
        return CycleCost(base + prefilter + with_affinity * SELECTOR_MATCH_SECONDS, lanes)
    # 1.5 and 1.5.2 share the structure
    metadata = with_affinity * (json_parse + SELECTOR_BUILD_SECONDS + SELECTOR_MATCH_SECONDS)
    per_node = n * json_parse
    if has_terms:
        pairs = _scan_pairs(pod, nodes)
        per_node += n * placed * POD_LIST_SECONDS
        terms = len(pod.required_affinity) + len(pod.required_anti_affinity)
        if generation == "1.5":
            per_node += pairs * (SELECTOR_BUILD_SECONDS + SELECTOR_MATCH_SECONDS)
        else:  # 1.5.2: one selector per term and node
            per_node += pairs * SELECTOR_MATCH_SECONDS + n * terms * SELECTOR_BUILD_SECONDS
    return CycleCost(base + metadata + per_node, lanes)
