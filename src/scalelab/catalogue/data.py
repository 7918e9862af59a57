"""Catalogue entries that are data only so far (no reproduction yet): the report's text in
our words, the fix as a patch where the spec can express it, and why each is not modelled."""

from __future__ import annotations

from scalelab.catalogue.entry import Entry, Evidence, Finding
from scalelab.spec.model import ClusterSpec


def _retention_rule(spec: ClusterSpec) -> Finding | None:
    """Prometheus keeping its data only locally: what made the report's team delete it."""
    if spec.monitoring.remote_storage:
        return None
    return RETENTION.finding(Evidence(value="no remote storage: data lives only in Prometheus' local retention",
                                      metric="monitoring.remote_storage"), severity="warning")


RETENTION: Entry = Entry("monitoring-retention-loss", "Monitoring data of the 900-node run was lost", "monitoring",
          "Old Prometheus data (the 900-node run included) was deleted to speed up its API.",
          "Prometheus 1.x kept data only locally; no remote storage.",
          "Send data to a durable time-series store through remote storage.",
          severity="warning",
          patch={"monitoring.remote_storage": True}, broken={"monitoring.remote_storage": False},
          rule=_retention_rule,
          not_modelled_reason="a static finding; scalelab's own store keeps every run")
DATA_ENTRIES: tuple[Entry, ...] = (RETENTION,)
