"""kube-proxy (1.5, iptables mode): on every node, one HTTP/2 connection through the node
proxy carrying its Services and Endpoints watches.

Its Endpoints watch sees every Endpoints change in the cluster, the leader-election records
of kube-scheduler and kube-controller-manager included (renewed every 2 s each), so its
connection is never idle for 3 s: the reconnect storm spares it. The iptables rewrite it
does on each change runs on the node, not on the control plane, and is not modelled.
Model card: docs/models/kube_proxy.md.
"""

from __future__ import annotations

from scalelab.spec.model import KubeProxy as KubeProxySpec

#: kube-proxy's name among a node's client connections.
CLIENT = "kube-proxy"


def watch_set(spec: KubeProxySpec) -> tuple[str, ...]:
    return tuple(spec.watches)
