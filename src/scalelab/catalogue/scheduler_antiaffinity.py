"""``scheduler-antiaffinity-slow``: the 1.5 scheduler builds a validated label selector for
every (node, placed pod) pair of every anti-affinity check; 1.5.2 builds it once per term."""

from __future__ import annotations

from scalelab.catalogue.entry import Band, Entry, Evidence, Finding, Reproduction, RunView, metric_detector, slo_broken
from scalelab.spec.model import ClusterSpec

ID = "scheduler-antiaffinity-slow"
#: The report calls 2-3 s per pod slow and ~300 ms "close to be reasonable": the symptom is
#: a mean cycle above 1 s.
SLOW_SECONDS_PER_POD = 1.0


def rule(spec: ClusterSpec) -> Finding | None:
    if spec.scheduler.generation != "1.5":
        return None
    return ENTRY.finding(Evidence(value=f"kube-scheduler generation {spec.scheduler.generation}",
                                  metric="scheduler.generation"))


detect = metric_detector("scheduler_seconds_per_pod_mean", SLOW_SECONDS_PER_POD, lambda: ENTRY)


def explain(broken: RunView, fixed: RunView) -> str:
    b = broken.metric("scheduler_seconds_per_pod_mean") or 0.0
    f = fixed.metric("scheduler_seconds_per_pod_mean") or 0.0
    return (f"model: 1.5 {b:.3f} s and 1.5.2 {f:.3f} s per pod from unit costs of today's Go "
            f"(selector with validation 3.3 us, match 0.2 us per pair); the report's 2-3 s and "
            f"~0.3 s imply ~20 us and ~2.4 us per (node, placed pod) pair at 900 nodes; PR 37691's "
            f"figures give ~11 us and ~0.6 us if its cluster held 5 pods per node before the "
            f"deployment: the two sources agree with each other within 2x and sit 3-8x above the "
            f"modern-Go unit costs (Go 1.7 on a 2.5 GHz Haswell, allocation and GC of ~1 KB per "
            f"selector are not modelled); the broken/fixed ratio ({b / f if f else float('nan'):.0f}x) "
            f"matches the report's (~8x); at 1.5.2 speed the deploy is bound by the "
            f"controller-manager's 20 creates/s, not by scheduling")


ENTRY: Entry = Entry(
    id=ID,
    title="Scheduler is slow with pod anti-affinity",
    layer="kubernetes",
    symptoms="2-3 s per pod with anti-affinity; about 3 h of scheduling for the OpenStack deploy on 900 nodes.",
    cause="For every node and every placed pod the 1.5 scheduler builds (and validates) a label "
          "selector to test the pod's anti-affinity term: O(nodes x pods) expensive steps per pod.",
    fix_text="Kubernetes PR 37691 (released in 1.5.2): build the selector once per term; ~300 ms per pod, ~30 min.",
    references=("kubernetes/kubernetes PR 37691", "kubernetes/kubernetes issue 30875 (selector validation cost)"),
    patch={"scheduler.generation": "1.5.2"},
    broken={"scheduler.generation": "1.5"},
    rule=rule,
    detect=detect,
    harm=slo_broken,
    explain=explain,
    reproduction=Reproduction(),
    bands=(
        Band("broken", "scheduler_seconds_per_pod_mean", 2.0, 3.0, "measured",
             'report: "about 2-3 seconds on each pod"'),
        Band("broken", "scheduling_sim_seconds", 2.0 * 3600, 4.0 * 3600, "measured",
             'report: "about 3h for just scheduling"'),
        Band("fixed", "scheduler_seconds_per_pod_mean", 0.2, 0.45, "measured", 'report: "up to about 300 ms/pod"'),
        Band("fixed", "scheduling_sim_seconds", 20 * 60.0, 45 * 60.0, "measured",
             'report: "about 30m spent just on pods scheduling"'),
    ),
)
