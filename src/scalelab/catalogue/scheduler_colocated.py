"""``scheduler-colocated-contention``: scheduler, controller-manager, apiserver and etcd
share one master's cores; under load the scheduler's cycles stretch."""

from __future__ import annotations

from scalelab.catalogue.entry import Band, Entry, Evidence, Finding, Reproduction, RunView, metric_detector, slo_broken
from scalelab.spec.model import ClusterSpec

ID = "scheduler-colocated-contention"
#: A cycle taking a quarter longer than on an idle host: the scheduler is short of CPU.
STARVED_SLOWDOWN = 1.25


def rule(spec: ClusterSpec) -> Finding | None:
    if spec.placement.scheduler != "colocated":
        return None
    return ENTRY.finding(Evidence(value="kube-scheduler on a master with apiserver and controller-manager",
                                  metric="placement.scheduler"), severity="warning")


detect = metric_detector("scheduler_cpu_slowdown_mean", STARVED_SLOWDOWN, lambda: ENTRY)


def explain(broken: RunView, fixed: RunView) -> str:
    b = broken.metric("scheduler_cpu_slowdown_mean")
    api = broken.metric("apiserver_cpu_percent_mean")
    spec = broken.spec
    threads = (spec.hosts.hardware if spec.placement.control_plane == "hardware" else spec.hosts.vm).threads
    lanes = spec.scheduler.parallelism
    return (f"model: co-located cycles take {b}x their idle-host time; the master has {threads:g} threads and "
            f"the busiest apiserver uses {api} % of one in the window, etcd and the controller-manager "
            f"little, the {spec.scheduler.generation} scheduler at most {lanes}: the sum stays under "
            f"{threads:g}, so no contention arises "
            f"from the modelled loads (the report's apiservers at ~2000 % would still leave room)")


ENTRY: Entry = Entry(
    id=ID,
    title="Scheduler needs its own node",
    layer="kubernetes",
    symptoms="During the OpenStack deploy scheduler, controller-manager and apiserver compete for CPU.",
    cause="All three run on the same masters and all are busy at scale; the scheduler is the hungriest.",
    fix_text="Run the scheduler on a dedicated node (the report moved it by hand and killed the other replicas).",
    references=("Kargo issue by the Fuel CCP team",),
    severity="warning",
    patch={"placement.scheduler": "dedicated"},
    broken={"placement.scheduler": "colocated"},
    rule=rule,
    size_dependent=True,
    detect=detect,
    harm=slo_broken,
    explain=explain,
    # Contention needs the load the report had: the reconnect storm and the 1.5 scheduler.
    reproduction=Reproduction(context={"node_proxy.proxy_timeout": "3s", "scheduler.generation": "1.5"}),
    bands=(
        Band("broken", "scheduler_cpu_slowdown_mean", STARVED_SLOWDOWN, None, "expected",
             "report: components compete for CPU cycles (qualitative)"),
        Band("fixed", "scheduler_cpu_slowdown_mean", None, 1.1, "expected",
             "a dedicated host: cycles bound only by the algorithm"),
    ),
)
