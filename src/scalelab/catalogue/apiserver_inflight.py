"""``apiserver-inflight-429`` and ``scheduler-assume-expiry``: the 1.5 inflight pool answers
429 during the deploy; binds retried past the scheduler cache's 30 s TTL break anti-affinity."""

from __future__ import annotations

from scalelab.catalogue.entry import Band, Entry, Evidence, Finding, Reproduction, RunView, metric_detector, slo_broken
from scalelab.spec.model import ClusterSpec

INFLIGHT_ID = "apiserver-inflight-429"
EXPIRY_ID = "scheduler-assume-expiry"
#: The report's deploy state: the storm, the 1.5 scheduler on a shared master.
DEPLOY_CONTEXT = {"node_proxy.proxy_timeout": "3s", "scheduler.generation": "1.5", "placement.scheduler": "colocated"}


def inflight_rule(spec: ClusterSpec) -> Finding | None:
    limit = spec.apiserver.max_requests_inflight
    if limit >= 2000:  # from which size it matters: the onset table (catalogue/onsets.json)
        return None
    return INFLIGHT.finding(Evidence(value=f"--max-requests-inflight={limit}", metric="apiserver.max_requests_inflight",
                                     observed=float(limit)), severity="warning")


#: any 429 at all is the symptom
inflight_detect = metric_detector("api_429_share", 1e-9, lambda: INFLIGHT)


def inflight_explain(broken: RunView, fixed: RunView) -> str:
    peak = broken.metric("apiserver_inflight_peak")
    resp = broken.metric("api_response_seconds_mean")
    spec = broken.spec
    slots = spec.apiserver.max_requests_inflight
    return (f"model: the busiest apiserver held at most {peak} of {slots} slots (occupancy = arrival rate x "
            f"latency; mean latency {resp} s): creates at {spec.controller_manager.qps:g}/s, binds, status "
            f"updates and relists from the watch cache are short. {slots} slots need ~{slots / 200:g} s latency "
            f"at ~200 requests/s: a slow path not modelled (candidates: LISTs served from etcd with "
            f"resourceVersion \"\", etcd on a loaded HDD RAID)")


def expiry_rule(spec: ClusterSpec) -> Finding | None:
    if spec.scheduler.assume_ttl_after_bind:
        return None
    return EXPIRY.finding(Evidence(value="assumed-pod TTL starts before binding",
                                   metric="scheduler.assume_ttl_after_bind"), severity="warning")


expiry_detect = metric_detector("antiaffinity_violations", 1.0, lambda: EXPIRY)


def expiry_explain(broken: RunView, fixed: RunView) -> str:
    longest = broken.metric("scheduler_bind_seconds_max")
    ttl = broken.spec.scheduler.assume_ttl_seconds
    return (f"model: the longest bind took {longest} s; a violation needs a bind that outlasts the {ttl:g} s TTL, "
            f"i.e. minutes of 429s (see apiserver-inflight-429, which the model does not reach); the "
            f"mechanism itself is shown in tests/test_scheduler_framework.py with binds held for 40 s")


INFLIGHT: Entry = Entry(
    id=INFLIGHT_ID,
    title="kube-apiserver's low default inflight limit answers 429",
    layer="kubernetes",
    symptoms="Services receive 429 while ~4500 pods are created, though the apiservers could take more load.",
    cause="Kubernetes 1.5 has one --max-requests-inflight pool (400) for all non-watch requests.",
    fix_text="Raise --max-requests-inflight to 2000 (and make it configurable in Kargo).",
    severity="warning",
    patch={"apiserver.max_requests_inflight": 2000},
    broken={"apiserver.max_requests_inflight": 400},
    rule=inflight_rule,
    size_dependent=True,
    detect=inflight_detect,
    harm=slo_broken,
    explain=inflight_explain,
    reproduction=Reproduction(context=DEPLOY_CONTEXT),
    bands=(
        Band("broken", "api_429_share", 1e-6, None, "expected", "report: services receive 429 during the deploy"),
        Band("fixed", "api_429_share", None, 0.0, "expected", "report: workable at 2000"),
    ),
)

EXPIRY: Entry = Entry(
    id=EXPIRY_ID,
    title="Scheduler breaks anti-affinity under 429s",
    layer="kubernetes",
    symptoms="Several pods of one deployment land on one node despite anti-affinity.",
    cause="An assumed pod expires from the scheduler cache (30 s TTL) while its bind still retries after 429s.",
    fix_text="Kubernetes PR 38503: the TTL starts when binding finishes.",
    references=("kubernetes/kubernetes PR 38503",),
    severity="warning",
    patch={"scheduler.assume_ttl_after_bind": True},
    broken={"scheduler.assume_ttl_after_bind": False},
    rule=expiry_rule,
    size_dependent=True,
    detect=expiry_detect,
    explain=expiry_explain,
    reproduction=Reproduction(context={**DEPLOY_CONTEXT, "apiserver.max_requests_inflight": 400}),
    bands=(
        Band("broken", "antiaffinity_violations", 1.0, None, "measured", "report: pods of one deployment on one node"),
        Band("fixed", "antiaffinity_violations", None, 0.0, "expected", "PR 38503 keeps the assumption until bound"),
    ),
)
