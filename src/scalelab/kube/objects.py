"""The Kubernetes objects the scheduler reads, typed (a subset of the real API).

Real objects carry far more than the scheduler reads: unknown fields are ignored, but a
field we do read with the wrong type is an error with its path. Quantities parse at the edge
(``500m``, ``128Mi``). The 1.5 forms (affinity and tolerations as JSON in annotations) are
read by ``scheduling_view`` when the generation asks for them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from scalelab.spec.units import Quantity

#: 1.5 (alpha) annotations holding affinity and tolerations as JSON.
AFFINITY_ANNOTATION = "scheduler.alpha.kubernetes.io/affinity"
TOLERATIONS_ANNOTATION = "scheduler.alpha.kubernetes.io/tolerations"


class KubeModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True)


class LabelSelectorRequirement(KubeModel):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()


class LabelSelector(KubeModel):
    match_labels: dict[str, str] = {}
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        for k, v in self.match_labels.items():
            if labels.get(k) != v:
                return False
        for req in self.match_expressions:
            present = req.key in labels
            if req.operator == "In" and not (present and labels[req.key] in req.values):
                return False
            if req.operator == "NotIn" and present and labels[req.key] in req.values:
                return False
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
        return True

    def signature(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)


class NodeSelectorRequirement(KubeModel):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        set_ops = {"In": present and value in self.values, "NotIn": not present or value not in self.values,
                   "Exists": present, "DoesNotExist": not present}
        if self.operator in set_ops:
            return set_ops[self.operator]
        if not present or len(self.values) != 1:
            return False
        try:  # Gt / Lt compare integers
            have, bound = int(str(value)), int(self.values[0])
        except ValueError:
            return False
        return have > bound if self.operator == "Gt" else have < bound


class NodeSelectorTerm(KubeModel):
    match_expressions: tuple[NodeSelectorRequirement, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        return all(r.matches(labels) for r in self.match_expressions)


class NodeSelector(KubeModel):
    node_selector_terms: tuple[NodeSelectorTerm, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """Terms are ORed (an empty list matches nothing, as upstream)."""
        return any(t.matches(labels) for t in self.node_selector_terms)


class PreferredSchedulingTerm(KubeModel):
    weight: Annotated[int, Field(ge=1, le=100)]
    preference: NodeSelectorTerm


class NodeAffinity(KubeModel):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: tuple[PreferredSchedulingTerm, ...] = ()


class PodAffinityTerm(KubeModel):
    label_selector: LabelSelector | None = None
    #: None: the pod's own namespace. [] means "all namespaces" in the 1.5 alpha API and
    #: "the pod's own namespace" today (see ``namespaces_of``).
    namespaces: tuple[str, ...] | None = None
    topology_key: str = ""


class WeightedPodAffinityTerm(KubeModel):
    weight: Annotated[int, Field(ge=1, le=100)]
    pod_affinity_term: PodAffinityTerm


class PodAffinity(KubeModel):
    required_during_scheduling_ignored_during_execution: tuple[PodAffinityTerm, ...] = ()
    preferred_during_scheduling_ignored_during_execution: tuple[WeightedPodAffinityTerm, ...] = ()


class Affinity(KubeModel):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAffinity | None = None


class Toleration(KubeModel):
    key: str = ""
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str = ""
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = ""

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.operator == "Exists":
            return not self.key or self.key == taint.key
        return self.key == taint.key and self.value == taint.value


class Taint(KubeModel):
    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class ResourceRequirements(KubeModel):
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}


class Container(KubeModel):
    name: str = ""
    resources: ResourceRequirements = ResourceRequirements()


class PodSpec(KubeModel):
    node_name: str | None = None
    node_selector: dict[str, str] = {}
    affinity: Affinity | None = None
    tolerations: tuple[Toleration, ...] = ()
    containers: tuple[Container, ...] = ()


class ObjectMeta(KubeModel):
    name: str = ""
    namespace: str = "default"
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class PodTemplate(KubeModel):
    metadata: ObjectMeta = ObjectMeta()
    spec: PodSpec = PodSpec()


class Pod(KubeModel):
    kind: Literal["Pod"]
    metadata: ObjectMeta
    spec: PodSpec = PodSpec()


class WorkloadSpec(KubeModel):
    replicas: Annotated[int, Field(ge=0)] = 1
    selector: LabelSelector | None = None
    template: PodTemplate = PodTemplate()


class Workload(KubeModel):
    """Deployment, ReplicaSet or DaemonSet: what the scheduler needs is the pod template
    (and, but for DaemonSets, the replica count)."""

    kind: Literal["Deployment", "ReplicaSet", "DaemonSet"]
    metadata: ObjectMeta
    spec: WorkloadSpec = WorkloadSpec()


class NodeSpec(KubeModel):
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False


class NodeStatus(KubeModel):
    capacity: dict[str, Quantity] = {}
    allocatable: dict[str, Quantity] = {}


class Node(KubeModel):
    kind: Literal["Node"]
    metadata: ObjectMeta
    spec: NodeSpec = NodeSpec()
    status: NodeStatus = NodeStatus()


KubeObject = Annotated[Pod | Workload | Node, Field(discriminator="kind")]
KINDS = ("Pod", "Deployment", "ReplicaSet", "DaemonSet", "Node")


def _annotation(meta: ObjectMeta, key: str, model: type[BaseModel] | Any, what: str) -> Any:
    raw = meta.annotations.get(key)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate(data)
        return tuple(Toleration.model_validate(t) for t in data)
    except (ValueError, TypeError, ValidationError) as exc:
        raise ValueError(f"metadata.annotations.{key}: invalid {what} JSON ({str(exc).splitlines()[0]})") from None


def scheduling_view(meta: ObjectMeta, spec: PodSpec,
                    from_annotations: bool) -> tuple[Affinity | None, tuple[Toleration, ...]]:
    """Affinity and tolerations as the scheduler of a generation reads them: 1.5 reads the
    alpha annotations (fields did not exist yet), later generations the fields."""
    if from_annotations:
        affinity = _annotation(meta, AFFINITY_ANNOTATION, Affinity, "affinity")
        tolerations = _annotation(meta, TOLERATIONS_ANNOTATION, list, "tolerations") or ()
        return affinity, tolerations
    return spec.affinity, spec.tolerations
