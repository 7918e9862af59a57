"""``docker-hang``: Docker 1.12.3 (and 1.13) daemons hang at random on some nodes; no cause
found; the report's workaround is to restart docker. An injected fault: the figures follow
by construction from the timers, what the model shows is the operator consequence."""

from __future__ import annotations

from scalelab.catalogue.entry import Band, Entry, Evidence, Finding, Reproduction, metric_detector
from scalelab.spec.model import ClusterSpec

ID = "docker-hang"
HANG_PRONE = ("1.12", "1.13")


def rule(spec: ClusterSpec) -> Finding | None:
    if spec.remediation.docker_restart or not spec.runtime.docker_version.startswith(HANG_PRONE):
        return None
    return ENTRY.finding(Evidence(value=f"Docker {spec.runtime.docker_version} without automated restart",
                                  metric="remediation.docker_restart"), severity="warning")


detect = metric_detector("pods_stuck_end", 1.0, lambda: ENTRY)

ENTRY: Entry = Entry(
    id=ID,
    title="Docker daemon hangs at random",
    layer="kubernetes",
    symptoms="kubelet logs runtime timeouts; pods cannot be created or terminated on the node.",
    cause="Unknown (Docker 1.12.3, also seen with 1.13); the daemon logs show nothing notable.",
    fix_text="Detect the hang and restart docker on the node (the report's workaround).",
    severity="warning",
    patch={"remediation.docker_restart": True},
    broken={"remediation.docker_restart": False},
    rule=rule,
    detect=detect,
    reproduction=Reproduction(context={
        "workload": [{"kind": "steady", "duration": "1m"},
                     {"kind": "deploy", "pods_per_node": 5, "anti_affinity": True, "timeout": "20m"}],
        "faults": [{"kind": "docker_hang", "target": node, "at": "50s"} for node in range(5)]}),
    bands=(
        Band("broken", "runtime_timeouts_total", 1.0, None, "measured", "report: timeouts in kubelet logs"),
        Band("broken", "pods_stuck_end", 1.0, None, "measured",
             "report: pods cannot be spawned on the affected node (by construction)"),
        Band("fixed", "pods_stuck_end", None, 0.0, "expected", "restarting docker frees the node"),
        Band("fixed", "runtime_recovery_seconds", 150.0, 280.0, "derived",
             "first runtime timeout (120 s) + docker restart (30 s), at most one resync (130 s) later"),
    ),
)
