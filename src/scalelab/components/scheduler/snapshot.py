"""Kubernetes objects -> the scheduler's view: a ``NodeTable`` and ``PodInfo``s.

Where the eras differ, the generation decides: 1.5 and 1.5.2 read affinity and tolerations
from the alpha annotations, and in their alpha API an *empty* ``namespaces`` list means "all
namespaces" (null means the pod's own); ``modern`` reads the fields, and null or empty both
mean the pod's own namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalelab.components.scheduler.framework import AffinityTerm, NodeTable, PodInfo
from scalelab.kube.objects import (
    Node,
    ObjectMeta,
    Pod,
    PodAffinity,
    PodAffinityTerm,
    PodSpec,
    Workload,
    scheduling_view,
)

HOSTNAME_LABEL = "kubernetes.io/hostname"


def alpha_api(generation: str) -> bool:
    return generation in ("1.5", "1.5.2")


def node_table(nodes: Sequence[Node]) -> NodeTable:
    """Allocatable (else capacity) CPU and memory; a node's hostname label defaults to its name."""
    labels = [{HOSTNAME_LABEL: n.metadata.name, **n.metadata.labels} for n in nodes]

    def resource(node: Node, name: str) -> float:
        return float(node.status.allocatable.get(name, node.status.capacity.get(name, 0.0)))

    return NodeTable([n.metadata.name for n in nodes], labels,
                     np.array([resource(n, "cpu") for n in nodes], dtype=np.float64),
                     np.array([resource(n, "memory") for n in nodes], dtype=np.float64),
                     [tuple(n.spec.taints) for n in nodes],
                     np.array([n.spec.unschedulable for n in nodes], dtype=bool))


def _terms(terms: Iterable[Any], namespace: str, alpha: bool, weighted: bool) -> tuple[AffinityTerm, ...]:
    out = []
    for item in terms:
        term: PodAffinityTerm = item.pod_affinity_term if weighted else item
        if term.namespaces is None or (not term.namespaces and not alpha):
            namespaces: frozenset[str] | None = frozenset({namespace})
        elif not term.namespaces:
            namespaces = None  # 1.5 alpha: an empty list is every namespace
        else:
            namespaces = frozenset(term.namespaces)
        from scalelab.kube.objects import LabelSelector

        out.append(AffinityTerm(term.label_selector or LabelSelector(), namespaces, term.topology_key,
                                item.weight if weighted else 0))
    return tuple(out)


def pod_info(name: str, meta: ObjectMeta, spec: PodSpec, generation: str) -> PodInfo:
    alpha = alpha_api(generation)
    affinity, tolerations = scheduling_view(meta, spec, from_annotations=alpha)
    ns = meta.namespace
    empty = PodAffinity()
    pa = (affinity.pod_affinity if affinity else None) or empty
    anti = (affinity.pod_anti_affinity if affinity else None) or empty
    cpu = sum(float(c.resources.requests.get("cpu", 0.0)) for c in spec.containers)
    memory = sum(float(c.resources.requests.get("memory", 0.0)) for c in spec.containers)
    return PodInfo(
        name=name, namespace=ns, labels=dict(meta.labels), cpu=cpu, memory=memory,
        node_selector=dict(spec.node_selector),
        node_affinity=affinity.node_affinity if affinity else None, tolerations=tuple(tolerations),
        required_affinity=_terms(pa.required_during_scheduling_ignored_during_execution, ns, alpha, False),
        required_anti_affinity=_terms(anti.required_during_scheduling_ignored_during_execution, ns, alpha, False),
        preferred_affinity=_terms(pa.preferred_during_scheduling_ignored_during_execution, ns, alpha, True),
        preferred_anti_affinity=_terms(anti.preferred_during_scheduling_ignored_during_execution, ns, alpha, True))


@dataclass(frozen=True)
class PendingPodSpec:
    """A pod to place: ``key`` is ``ns/name``; ``node`` pins it (spec.nodeName, DaemonSets)."""

    key: str
    pod: PodInfo
    node: str | None = None


def expand(objects: Iterable[Any], generation: str, node_names: Sequence[str]) -> list[PendingPodSpec]:
    """Pods in creation order: a Deployment or ReplicaSet gives ``ns/<name>-<index>`` from 0;
    a DaemonSet one pod per node, ``ns/<name>-<node>``, pinned to it."""
    out: list[PendingPodSpec] = []
    for obj in objects:
        ns = obj.metadata.namespace if not isinstance(obj, Node) else ""
        if isinstance(obj, Pod):
            key = f"{ns}/{obj.metadata.name}"
            out.append(PendingPodSpec(key, pod_info(key, obj.metadata, obj.spec, generation), obj.spec.node_name))
        elif isinstance(obj, Workload):
            template = obj.spec.template
            meta = template.metadata.model_copy(update={"namespace": ns})
            if obj.kind == "DaemonSet":
                for node in node_names:
                    key = f"{ns}/{obj.metadata.name}-{node}"
                    out.append(PendingPodSpec(key, pod_info(key, meta, template.spec, generation), node))
            else:
                for i in range(obj.spec.replicas):
                    key = f"{ns}/{obj.metadata.name}-{i}"
                    out.append(PendingPodSpec(key, pod_info(key, meta, template.spec, generation)))
    return out
