"""Profiles: which upstream defaults a scenario starts from.

``k8s-1.5`` is the report's era (Kubernetes 1.5, Go 1.7 clients, Kargo's templates); its
values are the model defaults in ``model.py``. ``modern`` lists only what differs, each
with its source. A profile is laid *under* the scenario document, so anything the user
writes wins.
"""

from __future__ import annotations

import copy
from typing import Any

PROFILES: dict[str, dict[str, Any]] = {
    "k8s-1.5": {},
    "modern": {
        # kubespray's nginx-proxy template today: proxy_timeout 10m.
        "node_proxy": {"proxy_timeout": "10m"},
        # kube-scheduler today: PreFilter-computed affinity counts.
        "scheduler": {"generation": "modern", "assume_ttl_after_bind": True},
        # kube-dns/CoreDNS era defaults: several replicas via the autoscaler.
        # kube-dns 1.6+ (and CoreDNS) probe each container on its own health check.
        "dns": {"replicas": 2, "liveness": "split"},
        # Calico today advises route reflectors past ~100 nodes; kept as the 1.5 default
        # mesh so a scenario states its choice.
    },
}


def profile_defaults(name: str) -> dict[str, Any]:
    """The defaults document of a profile (empty for an unknown name: validation reports it)."""
    return copy.deepcopy(PROFILES.get(name, {}))
