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
lookup per node: no per-node scan. With ``percentage_of_nodes_to_score`` the per-node work is
for the nodes the filters walked (``sampling.py``), not the cluster.

Unit costs are spec fields (``scheduler.selector_build_cpu_seconds``,
``selector_match_cpu_seconds``, ``pod_list_cpu_seconds``, ``per_node_cpu_seconds``), so that
calibration rows can fit them; their priors and sources are in ``spec/model.py`` (kubernetes
issue 30875 (2016) found ~20 % of controller-manager CPU in the selector validation). The
affinity annotation JSON (~300 bytes) is parsed at 50 MB/s: 6 us.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalelab.components.scheduler.framework import NodeTable, PodInfo
from scalelab.spec.model import Scheduler as SchedulerSpec

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


def cycle_cost(spec: SchedulerSpec, pod: PodInfo, nodes: NodeTable, visited: int | None = None) -> CycleCost:
    """CPU of scheduling ``pod`` onto ``nodes`` by the algorithm of ``spec.generation``;
    ``visited``: the nodes a sampling scheduler's filters walk (default all of them)."""
    generation = spec.generation
    build, match, listing = spec.selector_build_cpu_seconds, spec.selector_match_cpu_seconds, spec.pod_list_cpu_seconds
    n = len(nodes)
    walked = n if visited is None else min(n, visited)
    lanes = max(1, min(spec.parallelism, walked))
    base = spec.per_node_cpu_seconds * walked
    index = nodes.affinity
    placed = len(index.placed)
    with_affinity = index.with_affinity
    has_terms = bool(pod.required_affinity or pod.required_anti_affinity)
    json_parse = ANNOTATION_BYTES / JSON_BYTES_PER_SECOND
    if generation == "modern":
        prefilter = placed * match if has_terms else 0.0
        return CycleCost(base + prefilter + with_affinity * match, lanes)
    # 1.5 and 1.5.2 share the structure
    metadata = with_affinity * (json_parse + build + match)
    per_node = n * json_parse
    if has_terms:
        pairs = _scan_pairs(pod, nodes)
        per_node += n * placed * listing
        terms = len(pod.required_affinity) + len(pod.required_anti_affinity)
        if generation == "1.5":
            per_node += pairs * (build + match)
        else:  # 1.5.2: one selector per term and node
            per_node += pairs * match + n * terms * build
    return CycleCost(base + metadata + per_node, lanes)
