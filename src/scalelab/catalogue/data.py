"""Catalogue entries that are data only so far (no reproduction yet): the report's text in
our words, the fix as a patch where the spec can express it, and why each is not modelled."""

from __future__ import annotations

from scalelab.catalogue.entry import Entry

_LATER_OS = "its request path is not in the OpenStack model yet (the Heat and slices issue)"
_CAPACITY = ("the mechanism runs (scalelab rally shows it), but its reproduction pair and bands are not "
             "built yet")

DATA_ENTRIES: tuple[Entry, ...] = (
    Entry("monitoring-retention-loss", "Monitoring data of the 900-node run was lost", "monitoring",
          "Old Prometheus data (the 900-node run included) was deleted to speed up its API.",
          "Prometheus 1.x kept data only locally; no remote storage.",
          "Send data to a durable time-series store through remote storage.",
          severity="warning",
          patch={"monitoring.remote_storage": True}, broken={"monitoring.remote_storage": False},
          not_modelled_reason="a static finding; scalelab's own store keeps every run"),
    Entry("heat-api-cfn-missing", "heat-api-cfn service missing", "openstack",
          "Applications in Heat templates never receive their configuration.",
          "fuel-ccp did not deploy heat-api-cfn, needed for the default HEAT_CFNTOOLS user_data_format.",
          "Add the heat-api-cfn image, service and endpoints.", not_modelled_reason=_LATER_OS),
    Entry("heat-endpoint-unreachable", "Heat endpoints unreachable from VMs", "openstack",
          "WaitCondition and SoftwareDeployment callbacks from VMs fail.",
          "endpoint_type internalURL; VMs cannot reach heat-api (8004) or heat-api-cfn (8000) in Kubernetes.",
          "Expose endpoints reachable from VMs (ccp.yaml or a manual change).", not_modelled_reason=_LATER_OS),
    Entry("heat-convergence-race", "VMs cannot fetch metadata", "openstack",
          "OpenStack servers do not receive their metadata.",
          "Newton's convergence engine processes requests in parallel and races on the database.",
          "convergence_engine = False.", not_modelled_reason=_LATER_OS),
    Entry("neutron-agents-status", "Neutron agents shown down", "openstack",
          "The OpenStack client shows every Neutron agent down though they work.",
          "An OpenStackSDK refactoring broke OSC networking commands (client side).",
          "Use the neutron client until the bug is fixed.", severity="info", not_modelled_reason=_LATER_OS),
    Entry("vm-tenant-unreachable", "Some VMs unreachable over the tenant network", "openstack",
          "Some slice VMs cannot be reached over the tenant network, even from the same compute node.",
          "Unknown: still under investigation in the report; it blocked the workload runs.",
          "None known.", not_modelled_reason=_LATER_OS),
)
