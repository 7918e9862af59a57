"""``apiserver-reconnect-storm``: nginx's 3 s idle timeout cuts idle watches; every cut is a
new TCP + TLS handshake and a re-watch at the apiserver."""

from __future__ import annotations

from scalelab.catalogue.entry import Band, Entry, Evidence, Finding, Reproduction, RunView, api_slo_broken
from scalelab.facts import WATCH_TIMEOUT_MAX
from scalelab.spec.model import ClusterSpec

ID = "apiserver-reconnect-storm"
FIX_TIMEOUT = "10m"

#: A healthy client reconnects only when something breaks: a node whose clients open more
#: than one new connection a minute on average is in a reconnect loop.
RECONNECTS_PER_NODE_PER_SECOND = 1.0 / 60.0


def rule(spec: ClusterSpec) -> Finding | None:
    """Idle watches stay silent for minutes; a proxy timeout below the reflector's longest
    watch timeout (10 min) cuts them. Below the kubelet's status period nothing keeps a
    connection alive: every idle connection is cut every few seconds (error)."""
    timeout = spec.node_proxy.proxy_timeout
    if timeout >= WATCH_TIMEOUT_MAX:
        return None
    storm = timeout < spec.kubelet.node_status_update_frequency
    return ENTRY.finding(
        Evidence(value=f"proxy_timeout {timeout:g}s", metric="node_proxy.proxy_timeout", observed=timeout),
        severity="error" if storm else "warning")


def detect(view: RunView) -> Finding | None:
    rate = view.metric("node_proxy_reconnects_per_second")
    nodes = view.metric("nodes")
    if rate is None or not nodes:
        return None
    if rate < RECONNECTS_PER_NODE_PER_SECOND * nodes:
        return None
    return ENTRY.finding(Evidence(metric="node_proxy_reconnects_per_second", observed=rate))


def explain(broken: RunView, fixed: RunView) -> str:
    """Where the CPU of both runs goes, and what the report's figure would need."""
    reconnects = broken.metric("node_proxy_reconnects_per_second") or 0.0
    handshakes = broken.metric("apiserver_tls_handshakes_per_second") or 0.0
    cpu_b = broken.metric("apiserver_cpu_percent_total_mean") or 0.0
    cpu_f = fixed.metric("apiserver_cpu_percent_total_mean") or 0.0
    mean_b = broken.metric("apiserver_cpu_percent_mean") or 0.0
    replicas = round(cpu_b / mean_b) if mean_b else 1
    per_reconnect_ms = (cpu_b - cpu_f) / 100.0 / reconnects * 1e3 if reconnects else float("nan")
    needed_ms = (2000.0 * replicas - cpu_f) / 100.0 / reconnects * 1e3 if reconnects else float("nan")
    resp = fixed.metric("api_response_seconds_mean") or 0.0
    spec = broken.spec
    status = spec.kubelet.node_status_update_frequency
    timeout = spec.node_proxy.proxy_timeout
    cp = spec.hosts.hardware if spec.placement.control_plane == "hardware" else spec.hosts.vm
    fsync_ms = cp.disk.fsync_seconds * 1e3
    request_ms = spec.apiserver.request_cpu_seconds * 1e3
    return (f"itemised: {reconnects:.0f} cuts/s (each kubelet connection, idle between {status:g} s status "
            f"updates, is cut every {timeout:g} s of silence, ~{status // timeout:g} times per {status:g} s; "
            f"kube-proxy's is kept alive by leader-election "
            f"Endpoints events) -> {handshakes:.0f} TLS handshakes/s (Go 1.7: one dial per "
            f"reflector) + watch re-registrations = {per_reconnect_ms:.1f} ms apiserver CPU per cut; "
            f"2000 % on each apiserver would need ~{needed_ms:.0f} ms per cut (or that many times "
            f"more cuts): a cost the model lacks (its {request_ms:.2g} ms per request and "
            f"{spec.apiserver.tls_handshake_cpu_seconds * 1e3:.2g} ms per handshake are the profile's, "
            f"plus Go GC at {spec.apiserver.gc_cpu_share:.0%} of the CPU; "
            f"suspects: the handshake of Go 1.7 on the report's 2.5 GHz cores, more GC at GOMAXPROCS "
            f"{cp.threads:g} under a storm of short-lived connections). "
            f"Fixed: {cpu_f:.0f} % for both apiservers from node status (GET + PUT every "
            f"{fixed.spec.kubelet.node_status_update_frequency:g} s) and watch fan-out; mean response "
            f"{resp * 1e3:.0f} ms = CPU + two etcd commits ({fsync_ms:g} ms fsync on the control plane's "
            f"disks + RTT); 200-400 ms needs a latency source not modelled")


ENTRY: Entry = Entry(
    id=ID,
    title="Huge load on kube-apiserver: node proxies cut idle watch connections",
    layer="kubernetes",
    symptoms="Both kube-apiservers use up to 2000 % CPU (about 45 % of a 48-thread host) and "
             "other requests become slow; with the control plane on VMs the apiservers do not work at all.",
    cause="kubelet and kube-proxy reach the apiservers through a node-local nginx stream proxy "
          "whose proxy_timeout (3 s) closes any connection idle for 3 s. Watches are idle for "
          "minutes, so their connections are cut again and again; each reconnect is a new TCP "
          "connection, a full TLS handshake and new watch requests at the apiserver.",
    fix_text=f"Set proxy_timeout to {FIX_TIMEOUT} in the node proxy's nginx.conf (longer than the "
             "clients' watch timeouts of 5-10 min).",
    references=("Kargo issue and pull request by the Fuel CCP team (proxy_timeout 10m)",),
    patch={"node_proxy.proxy_timeout": FIX_TIMEOUT},
    broken={"node_proxy.proxy_timeout": "3s"},
    rule=rule,
    size_dependent=True,
    detect=detect,
    # harm: API calls break their SLO, or handshakes fail (the control plane stops working)
    harm=lambda view: api_slo_broken(view) or (view.metric("tls_handshake_failures_total") or 0.0) > 0,
    explain=explain,
    # The symptom and the bands are about the steady cluster: the deploy is not needed.
    reproduction=Reproduction(context={"workload": [{"kind": "steady", "duration": "10m"}]}),
    bands=(
        Band("broken", "apiserver_cpu_percent_p95", 1500.0, 2500.0, "measured",
             'report: "up to 2000%" CPU for both apiservers (100 % = one hardware thread of 48)'),
        Band("fixed", "apiserver_cpu_percent_mean", 50.0, 300.0, "measured",
             "report: after the fix one apiserver ~100 %, the other ~200 %"),
        Band("fixed", "api_response_seconds_mean", 0.2, 0.4, "measured",
             "report: average response time 200-400 ms after the fix"),
    ),
)
