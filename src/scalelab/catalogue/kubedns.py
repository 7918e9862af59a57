"""``kubedns-overload``: one kube-dns replica, dnsmasq with 150 forward entries and a
1000-entry cache, kubedns on 100m of CPU."""

from __future__ import annotations

from scalelab.catalogue.entry import Band, Entry, Evidence, Finding, Reproduction, RunView, metric_detector
from scalelab.spec.model import ClusterSpec

ID = "kubedns-overload"
#: Kargo's PR 652 and the report's fix: replicas, forward-max 1000, cache 10000.
FIXED_REPLICAS = 6
FIXED_FORWARD_MAX = 1000
#: Kargo after PR 652 rendered with the report's "higher limits" (1000m for both containers).
FIXED_DNSMASQ_CPU = 1.0


def rule(spec: ClusterSpec) -> Finding | None:
    dns = spec.dns
    low_cpu = dns.dnsmasq_cpu_limit is not None and dns.dnsmasq_cpu_limit < FIXED_DNSMASQ_CPU
    if dns.replicas >= FIXED_REPLICAS and dns.dns_forward_max >= FIXED_FORWARD_MAX and not low_cpu:
        return None
    limit = "" if dns.dnsmasq_cpu_limit is None else f", dnsmasq CPU limit {dns.dnsmasq_cpu_limit:g}"
    return ENTRY.finding(Evidence(value=f"kube-dns replicas {dns.replicas}, dnsmasq --dns-forward-max="
                                        f"{dns.dns_forward_max}, --cache-size={dns.cache_size}{limit}",
                                  metric="dns.replicas", observed=float(dns.replicas)),
                         )  # from which size it matters: the onset table (catalogue/onsets.json)


#: The report's symptoms, in the order they are reported: REFUSED answers, dropped queries,
#: failed lookups, kubedns killed by its probe. The first one seen is the evidence.
SYMPTOMS = ("dns_refused_total", "dns_dropped_total", "dns_lookup_failures_total", "kubedns_restarts_total")
_DETECTORS = tuple(metric_detector(metric, 1.0, lambda: ENTRY) for metric in SYMPTOMS)


def detect(view: RunView) -> Finding | None:
    for detector in _DETECTORS:
        finding = detector(view)
        if finding is not None:
            return finding
    return None


def explain(broken: RunView, fixed: RunView) -> str:
    dns, kubelet = broken.spec.dns, broken.spec.kubelet
    return (f"model: {broken.metric('dns_queries_per_second')} queries/s over the run ({dns.lookup_form} "
            f"lookups under ndots:5, {dns.lookups_per_pod_per_second:g} per pod per second), cache hit ratio "
            f"{broken.metric('dns_cache_hit_ratio')}, at most {broken.metric('dns_forward_peak')} of "
            f"{dns.dns_forward_max} forward entries in use with the lab's external resolver assumed at "
            f"{dns.external_dns_seconds * 1e3:g} ms. When a popular "
            f"name's cached answer expires, every query for it joins the forward and holds an entry "
            f"until the answer, so the table overflows when the external resolver is slow (0.3 s: "
            f"thousands of REFUSED at 900 nodes; docs/models/dns.md has the sweep) and the report's fix "
            f"absorbs even 1 s; the report does not give its resolver's latency. Kargo's manifest has one "
            f"liveness probe, on kubedns, reading an exechealthz command that looks up through dnsmasq "
            f"first: a dnsmasq refusing or down for {dns.liveness_failure_threshold} probes "
            f"({dns.liveness_failure_threshold * dns.liveness_period_seconds:g} s) gets kubedns killed with "
            f"nothing in its logs, then held back by CrashLoopBackOff ({kubelet.restart_backoff_seconds:g} s "
            f"doubling to {kubelet.max_restart_backoff_seconds:g} s). Restarts here: "
            f"kubedns {broken.metric('kubedns_restarts_total')}, dnsmasq "
            f"{broken.metric('dnsmasq_restarts_total')}; kubedns memory peak "
            f"{broken.metric('kubedns_memory_mib_peak')} MiB of its {dns.kubedns_memory_limit / 2**20:g}Mi limit. "
            f"Not reproduced: kubedns "
            f"restarts on an idle big cluster (no cause in the model: kubedns is idle there; a crash-looping "
            f"healthz sidecar, kubernetes issue 29688, does it as the injected fault healthz_oom); dnsmasq's "
            f"memory-limit restarts are an injected fault (dnsmasq_oom), no cause found")


ENTRY: Entry = Entry(
    id=ID,
    title="kube-dns cannot take a big cluster's load with default settings",
    layer="kubernetes",
    symptoms='dnsmasq logs "Maximum number of concurrent DNS queries reached", answers REFUSED, restarts on '
             "its memory limit; kubedns restarts on failed liveness checks even on an idle big cluster.",
    cause="One kube-dns replica; dnsmasq with forward-max 150 and a 1000-entry cache; low container limits.",
    fix_text="6 replicas, dnsmasq --dns-forward-max=1000, --cache-size=10000, higher limits "
             "(the report calls the kubedns part only partly fixed).",
    references=("Kargo pull request 652 (kube-dns replicas and limits configurable)",),
    patch={"dns.replicas": 6, "dns.dns_forward_max": 1000, "dns.cache_size": 10000,
           "dns.dnsmasq_cpu_limit": 1.0, "dns.kubedns_cpu_limit": 1.0},
    # Kargo's manifest before PR 652 (the 900-node run): no dnsmasq limit. The lab's later
    # post-652 render (3 replicas, 100m for dnsmasq too) is a variant: docs/models/dns.md.
    broken={"dns.replicas": 1, "dns.dns_forward_max": 150, "dns.cache_size": 1000,
            "dns.dnsmasq_cpu_limit": None, "dns.kubedns_cpu_limit": 0.1},
    rule=rule,
    size_dependent=True,
    # the kubedns container's memory limit, which its OOM restarts hit
    evidence_paths=("dns.kubedns_memory_limit",),
    detect=detect,
    # harm: lookups failed or kubedns was killed; REFUSED or drops the resolver retried past are not
    harm=lambda view: (view.metric("dns_lookup_failures_total") or 0.0) > 0
    or (view.metric("kubedns_restarts_total") or 0.0) > 0,
    explain=explain,
    reproduction=Reproduction(context={"workload": [
        {"kind": "steady", "duration": "1m"},
        {"kind": "deploy", "pods_per_node": 5, "anti_affinity": True},
        {"kind": "steady", "duration": "5m"}]}),
    bands=(
        Band("broken", "dns_refused_total", 1.0, None, "measured", "report: REFUSED and the max-queries log line"),
        Band("broken", "dns_lookup_failures_total", 1.0, None, "measured",
             "report: Name or service not known for galera.ccp.svc.cluster.local"),
        Band("fixed", "dns_refused_total", None, 0.0, "expected", "report: fixed by the settings above"),
        Band("fixed", "dns_lookup_failures_total", None, 0.0, "expected", "report: fixed by the settings above"),
    ),
)
