"""Catalogue entries that are data only so far (no reproduction yet): the report's text in
our words, the fix as a patch where the spec can express it, and why each is not modelled."""

from __future__ import annotations

from scalelab.catalogue.entry import Entry

DATA_ENTRIES: tuple[Entry, ...] = (
    Entry("monitoring-retention-loss", "Monitoring data of the 900-node run was lost", "monitoring",
          "Old Prometheus data (the 900-node run included) was deleted to speed up its API.",
          "Prometheus 1.x kept data only locally; no remote storage.",
          "Send data to a durable time-series store through remote storage.",
          severity="warning",
          patch={"monitoring.remote_storage": True}, broken={"monitoring.remote_storage": False},
          not_modelled_reason="a static finding; scalelab's own store keeps every run"),
)
