"""Findings from upstream's published SLOs, on any run that breaks them.

sig-scalability's SLOs (kubernetes/community, sig-scalability/slos): mutating API calls p99
<= 1 s (``slo-api-mutating-latency``); pod start-up p99 <= 5 s (``slo-pod-startup``). A broken
SLO names the catalogue entry the run's numbers point to, where there is one: an entry whose
detector fired on the same run and whose symptom explains that SLO, else the figure that
dominates (scheduling time for a slow start-up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scalelab.catalogue.entry import Entry, RunView, startup_beyond_pull
from scalelab.facts import SLO_MUTATING_API_P99_SECONDS, SLO_POD_STARTUP_P99_SECONDS
from scalelab.results import Evidence, Finding

#: Which detected entries explain which SLO, in order of preference.
EXPLAINS = {
    "slo-api-mutating-latency": ("apiserver-reconnect-storm", "apiserver-inflight-429",
                                 "scheduler-colocated-contention"),
    "slo-pod-startup": ("docker-hang", "scheduler-antiaffinity-slow", "apiserver-inflight-429",
                        "scheduler-colocated-contention", "scheduler-assume-expiry"),
}


def _pointer(slo: str, summary: Mapping[str, float | None], detected: Sequence[str],
             entries: Mapping[str, Entry]) -> str:
    for entry_id in EXPLAINS[slo]:
        if entry_id in detected:
            return f"the run points to {entry_id}: {entries[entry_id].fix_text}"
    if slo == "slo-pod-startup":
        scheduling = summary.get("scheduling_sim_seconds") or 0.0
        startup = summary.get("pod_startup_seconds_p99") or 0.0
        if scheduling >= 0.5 * startup:
            entry = entries["scheduler-antiaffinity-slow"]
            return (f"pods waited in the scheduler's queue (scheduling the deploy took {scheduling:,.0f} s): "
                    f"the run points to {entry.id}: {entry.fix_text}")
    return "no catalogue entry explains it in this run: look at the slowest phase of the run's requests"


def findings(view: RunView, detected: Sequence[str], entries: Mapping[str, Entry]) -> list[Finding]:
    """The SLO findings of one run (``detected``: the entries whose detector fired). Pod start-up
    is judged as the SLO defines it, without pulling images: the run's image pull time is taken
    off its p99."""
    out = []
    summary = view.summary
    nodes = summary.get("nodes") or 0.0
    mutating = view.metric("api_mutating_response_seconds_p99")
    if mutating is not None and mutating > SLO_MUTATING_API_P99_SECONDS:
        evidence = Evidence(metric="api_mutating_response_seconds_p99", observed=mutating,
                            value=f"p99 {mutating:,.3g} s against {SLO_MUTATING_API_P99_SECONDS:g} s at "
                                  f"{nodes:,.0f} nodes")
        out.append(Finding("slo-api-mutating-latency", "error", "Mutating API calls slower than the SLO (p99 <= 1 s)",
                           evidence, _pointer("slo-api-mutating-latency", summary, detected, entries)))
    startup = startup_beyond_pull(view)
    if startup is not None and startup > SLO_POD_STARTUP_P99_SECONDS:
        observed = view.metric("pod_startup_seconds_p99")
        evidence = Evidence(metric="pod_startup_seconds_p99", observed=observed,
                            value=f"p99 {startup:,.4g} s without the image pull, against "
                                  f"{SLO_POD_STARTUP_P99_SECONDS:g} s at {nodes:,.0f} nodes")
        out.append(Finding("slo-pod-startup", "error", "Pod start-up slower than the SLO (p99 <= 5 s)", evidence,
                           _pointer("slo-pod-startup", summary, detected, entries)))
    return out
