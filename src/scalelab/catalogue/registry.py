"""The explicit registry of catalogue entries (ids of CATALOGUE.md, in its order).

Nothing registers on import by side effect: this module lists every entry. ``all_fixes``
merges every entry's patch: ``scalelab.scenarios`` generates ``campaign-900-fixed`` from it,
so there is one source of truth for what "fixed" means.
"""

from __future__ import annotations

from typing import Any

from scalelab.catalogue import (
    apiserver_inflight,
    apiserver_reconnect,
    calico_mesh,
    docker_hang,
    kubedns,
    monitoring_retention,
    openstack_capacity,
    openstack_config,
    openstack_heat,
    scheduler_antiaffinity,
    scheduler_colocated,
)
from scalelab.catalogue.entry import Entry

ORDER = (
    "apiserver-reconnect-storm", "apiserver-inflight-429", "scheduler-antiaffinity-slow",
    "scheduler-colocated-contention", "scheduler-assume-expiry", "kubedns-overload", "docker-hang",
    "calico-full-mesh", "monitoring-retention-loss", "heat-domain-missing", "heat-api-cfn-missing",
    "heat-endpoint-unreachable", "service-roles-misconfigured", "mysql-dns-loss", "heat-api-slow-workers",
    "heat-convergence-race", "heat-rpc-timeout", "memcached-undersized", "neutron-agents-status",
    "nova-client-https", "neutron-db-pool", "vm-tenant-unreachable", "pxc-deadlock-not-retried",
    "live-migration-uri",
)


def _build() -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for entry in (apiserver_reconnect.ENTRY, apiserver_inflight.INFLIGHT, scheduler_antiaffinity.ENTRY,
                  scheduler_colocated.ENTRY, apiserver_inflight.EXPIRY, kubedns.ENTRY,
                  docker_hang.ENTRY, calico_mesh.ENTRY, *openstack_capacity.ENTRIES,
                  *openstack_config.ENTRIES, *openstack_heat.ENTRIES,
                  monitoring_retention.ENTRY):
        if entry.id in entries:
            raise ValueError(f"catalogue entry {entry.id!r} registered twice")
        entries[entry.id] = entry
    missing = set(ORDER) ^ set(entries)
    if missing:
        raise ValueError(f"catalogue and ORDER disagree on {sorted(missing)}")
    return {i: entries[i] for i in ORDER}


ENTRIES: dict[str, Entry] = _build()


def get(entry_id: str) -> Entry:
    try:
        return ENTRIES[entry_id]
    except KeyError:
        raise KeyError(entry_id) from None


def all_fixes(layers: tuple[str, ...] = ("kubernetes", "monitoring")) -> dict[str, Any]:
    """The patches of every entry of ``layers``, merged (later entries may not contradict
    earlier ones). ``campaign-900-fixed`` takes the Kubernetes and monitoring fixes: the
    OpenStack layer is off there."""
    merged: dict[str, Any] = {}
    for entry in ENTRIES.values():
        if entry.layer not in layers:
            continue
        for path, value in (entry.patch or {}).items():
            if path in merged and merged[path] != value:
                raise ValueError(f"patches disagree on {path}")
            merged[path] = value
    return merged


def openstack_fixes() -> dict[str, Any]:
    """What ``openstack-200-fixed`` applies: every OpenStack entry's patch and the Kubernetes
    fixes (the DNS fix is ``mysql-dns-loss``'s)."""
    return all_fixes(("kubernetes", "monitoring", "openstack"))
