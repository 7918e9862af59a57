"""Profiles: which upstream defaults a scenario starts from.

``k8s-1.5`` is the report's era (Kubernetes 1.5, Go 1.7 clients, Kargo's templates): the model
defaults in ``model.py`` (each with its source: the bottom-up priors) under the costs fitted on
published measurements of the era, ``calibration/overlays/k8s-1.5.yaml`` (written by ``scalelab
calibrate``, with each value's prior, bounds and rows). ``k8s-1.5-priors`` is the same era with
the bottom-up priors only (what the model said before calibration). ``modern`` lists only what
differs from the model defaults, each with its source; it keeps the bottom-up costs (its
calibration is later work). A profile is laid *under* the scenario document, so anything the
user writes wins.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

#: The fit shipped as the k8s-1.5 profile's costs (``scalelab calibrate ... --write`` this file).
CALIBRATED_OVERLAY = Path(__file__).resolve().parent.parent / "calibration" / "overlays" / "k8s-1.5.yaml"


def nested(values: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` as ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for path, value in values.items():
        node = out
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return out


def _calibrated() -> dict[str, Any]:
    """The shipped fit's values, as a defaults document."""
    overlay = yaml.safe_load(CALIBRATED_OVERLAY.read_text(encoding="utf-8"))
    return nested(overlay["set"])


PROFILES: dict[str, dict[str, Any]] = {
    "k8s-1.5": _calibrated(),
    "k8s-1.5-priors": {},
    "modern": {
        # kubespray's nginx-proxy template today: proxy_timeout 10m.
        "node_proxy": {"proxy_timeout": "10m"},
        # kube-scheduler today: PreFilter-computed affinity counts; nodes scored on a sample
        # (percentageOfNodesToScore left at 0: the adaptive default since 1.14).
        # Leader election on a Lease since 1.20 (kubernetes/kubernetes PR 94603), not an
        # Endpoints record every kube-proxy receives.
        "scheduler": {"generation": "modern", "assume_ttl_after_bind": True, "percentage_of_nodes_to_score": 0,
                      "leader_elect_resource_lock": "leases"},
        "controller_manager": {"leader_elect_resource_lock": "leases"},
        # kube-dns/CoreDNS era defaults: several replicas via the autoscaler.
        # kube-dns 1.6+ (and CoreDNS) probe each container on its own health check.
        "dns": {"replicas": 2, "liveness": "split"},
        # Watch bookmarks since 1.16 (KEP 956): re-watches after the server timeout resume.
        # Watch dispatch by trigger: a pod's event filtered for its node's watchers only.
        "apiserver": {"watch_bookmarks": True, "watch_triggers": True},
        # Node leases since 1.14 (GA 1.17): a small Lease every 10 s, the Node every 5 min.
        "kubelet": {"node_leases": True},
        # Calico today advises route reflectors past ~100 nodes; kept as the 1.5 default
        # mesh so a scenario states its choice.
    },
}


def profile_defaults(name: str) -> dict[str, Any]:
    """The defaults document of a profile (empty for an unknown name: validation reports it)."""
    return copy.deepcopy(PROFILES.get(name, {}))
