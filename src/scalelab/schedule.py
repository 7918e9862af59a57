"""``scalelab schedule``: a dry run of the scheduler over real Kubernetes YAML.

Nodes, pods to place, and optionally pods already running (with ``spec.nodeName``; those
without one are placed first). Each pending pod gets a node or, as ``kubectl describe``
shows, the count of nodes rejected per reason. ``sim_seconds_per_pod`` is the generation's
cost model for one cycle on an idle dedicated scheduler host (see docs/models/scheduler.md).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from scalelab.components.scheduler.cost import cycle_cost
from scalelab.components.scheduler.framework import Framework, describe_unschedulable
from scalelab.components.scheduler.plugins import DEFAULT_PROFILE, default_registry
from scalelab.components.scheduler.snapshot import PendingPodSpec, expand, node_table
from scalelab.kube.loader import KubeYamlError, Located, load_located
from scalelab.kube.objects import AFFINITY_ANNOTATION, TOLERATIONS_ANNOTATION, Node, Pod, Workload
from scalelab.spec.model import Scheduler as SchedulerSpec

NODE_NOT_FOUND = "node(s) not found"


def ignored_fields(path: Path, located: list[Located], generation: str) -> list[str]:
    """Notes for pod specs whose affinity or tolerations the 1.5 scheduler will not see: it
    read them from alpha annotations only."""
    if generation != "1.5":
        return []
    notes = []
    for item in located:
        obj = item.obj
        if isinstance(obj, Pod):
            spec = obj.spec
        elif isinstance(obj, Workload):
            spec = obj.spec.template.spec
        else:
            continue
        for field, annotation, present in (("spec.affinity", AFFINITY_ANNOTATION, spec.affinity is not None),
                                           ("spec.tolerations", TOLERATIONS_ANNOTATION, bool(spec.tolerations))):
            if present:
                notes.append(f"{path}: {item.where}: {obj.kind} {obj.metadata.name}: {field} is ignored by the 1.5 "
                             f"scheduler, which reads the annotation {annotation}")
    return notes


def dry_run(nodes_path: Path, pods_path: Path, existing_path: Path | None, generation: str) -> dict[str, Any]:
    """Placements of the pods in ``pods_path`` on the nodes of ``nodes_path`` (``notes``:
    what was skipped or will be ignored, for stderr)."""
    notes: list[str] = []

    def load_objects(path: Path) -> list[Any]:
        located, skipped = load_located(path)
        notes.extend(skipped)
        notes.extend(ignored_fields(path, located, generation))
        return [item.obj for item in located]

    nodes = [o for o in load_objects(nodes_path) if isinstance(o, Node)]
    if not nodes:
        raise KubeYamlError(str(nodes_path), ["no Node objects found"])
    table = node_table(nodes)
    index = {name: i for i, name in enumerate(table.names)}
    framework = Framework(default_registry(), *DEFAULT_PROFILE)

    sched = SchedulerSpec.model_validate({"generation": generation})
    costs: list[float] = []

    def place(spec: PendingPodSpec) -> tuple[str | None, Counter[str]]:
        if spec.node is not None and spec.node not in index:
            return None, Counter({NODE_NOT_FOUND: 1})
        cost = cycle_cost(sched, spec.pod, table)
        costs.append(cost.cpu_seconds / cost.lanes)
        decision = framework.schedule(spec.pod, table, only=index[spec.node] if spec.node else None)
        if decision.node is None:
            return None, decision.reasons
        table.add_pod(decision.node, spec.pod)
        return table.names[decision.node], Counter()

    if existing_path is not None:
        for spec in expand(load_objects(existing_path), generation, table.names):
            if spec.node is not None and spec.node in index:
                table.add_pod(index[spec.node], spec.pod)  # already running: no filters
            else:
                place(spec)
    placements: dict[str, str | None] = {}
    unschedulable: dict[str, dict[str, int]] = {}
    for spec in expand(load_objects(pods_path), generation, table.names):
        node, reasons = place(spec)
        placements[spec.key] = node
        if node is None:
            unschedulable[spec.key] = dict(sorted(reasons.items()))
    per_pod = sum(costs) / len(costs) if costs else 0.0
    return {"placements": placements, "unschedulable": unschedulable, "sim_seconds_per_pod": round(per_pod, 9),
            "messages": {k: describe_unschedulable(Counter(v), len(table)) for k, v in unschedulable.items()},
            "notes": notes}
