"""The ``density`` phase: Kubernetes' density test, as upstream ran it in the 1.x releases.

``pods_per_node`` pods on every node (or on ``nodes`` of them, by node selector), created by
replication controllers at ``creation_qps``, images pre-pulled unless ``images: pull``; no
Services, no affinity. It ends when every pod's Running status is stored. Its figures
(CONTRACTS.md): ``density_all_running_seconds`` (phase start to the last container running on
its node), ``density_all_reported_seconds`` (to the last pod reported Running through the API),
``density_pods_per_second`` (pods / all_running).
"""

from __future__ import annotations

from scalelab.components.scheduler.framework import PodInfo
from scalelab.metrics.recorder import Recorder
from scalelab.spec.model import DensityPhase
from scalelab.workload.deploy import Deploy
from scalelab.workload.pods import PodTable

#: Label of the nodes a node-selected density test runs on.
DENSITY_LABEL = ("scalelab/density", "true")


def density_nodes(phase: DensityPhase, nodes: int) -> int:
    return nodes if phase.nodes == "all" else min(phase.nodes, nodes)


def density_pods(phase: DensityPhase, nodes: int) -> PodTable:
    """The pods of one density phase, spread over its RCs (one per 3000 pods, as density.go)."""
    selected = density_nodes(phase, nodes)
    total = round(phase.pods_per_node * selected)
    selector = {} if phase.nodes == "all" else dict([DENSITY_LABEL])
    per_rc = 3000
    # an RC's pods share one (read-only) labels mapping: a million pods, a million dicts less
    labels = [{"name": f"density-{rc}"} for rc in range(total // per_rc + 1)]

    def template(i: int) -> PodInfo:
        return PodInfo(name=f"density-{i // per_rc}-{i % per_rc}", namespace="density", labels=labels[i // per_rc],
                       cpu=phase.cpu_request, memory=phase.memory_request, node_selector=selector)

    return PodTable(total, template)


def record(deploy: Deploy, recorder: Recorder) -> None:
    """A finished density phase's figures (one observation per phase; the summary reports the last)."""
    running = deploy.last_started - deploy.started_at
    reported = deploy.last_running - deploy.started_at
    recorder.observe("density_all_running_seconds", running)
    recorder.observe("density_all_reported_seconds", reported)
    recorder.observe("density_pods_per_second", len(deploy.pods) / running if running > 0 else 0.0)
