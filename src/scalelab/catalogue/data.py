"""Catalogue entries that are data only so far (no reproduction yet): the report's text in
our words, the fix as a patch where the spec can express it, and why each is not modelled."""

from __future__ import annotations

from scalelab.catalogue.entry import Entry, Evidence, Finding
from scalelab.spec.model import ClusterSpec

_LATER_K8S = "mechanism arrives with a later issue (scheduler generations, DNS, Calico, runtime)"
_LATER_OS = "OpenStack services are not modelled yet"

#: Calico's and BIRD's advice: the node-to-node mesh only up to ~100 nodes.
MESH_ADVISED_NODES = 100


def calico_mesh_rule(spec: ClusterSpec) -> Finding | None:
    """A full mesh past ~100 nodes: n(n-1)/2 sessions, each node peering with every other."""
    if spec.calico.mode != "mesh" or spec.nodes <= MESH_ADVISED_NODES:
        return None
    n = spec.nodes
    return Finding("calico-full-mesh", "error", "Calico full BGP mesh at scale",
                   Evidence(value=f"node-to-node mesh, {n} nodes: {n * (n - 1) // 2} sessions",
                            metric="calico.mode", observed=float(n)),
                   "Use route reflectors: each node peers only with the reflectors.")


DATA_ENTRIES: tuple[Entry, ...] = (
    Entry("kubedns-overload", "kube-dns cannot take a big cluster's load with default settings", "kubernetes",
          'dnsmasq logs "Maximum number of concurrent DNS queries reached", answers REFUSED, restarts on '
          "its memory limit; kubedns restarts on failed liveness checks even on an idle big cluster.",
          "One kube-dns replica; dnsmasq with forward-max 150 and a 1000-entry cache; low container limits.",
          "6 replicas, dnsmasq --dns-forward-max=1000, --cache-size=10000, higher limits "
          "(the report calls the kubedns part only partly fixed).",
          patch={"dns.replicas": 6, "dns.dns_forward_max": 1000, "dns.cache_size": 10000},
          broken={"dns.replicas": 1, "dns.dns_forward_max": 150, "dns.cache_size": 1000},
          not_modelled_reason=_LATER_K8S),
    Entry("docker-hang", "Docker daemon hangs at random", "kubernetes",
          "kubelet logs runtime timeouts; pods cannot be created or terminated on the node.",
          "Unknown (Docker 1.12.3, also seen with 1.13); no notable daemon logs.",
          "Detect the hang and restart docker on the node (the report's workaround).",
          patch={"remediation.docker_restart": True}, broken={"remediation.docker_restart": False},
          not_modelled_reason=_LATER_K8S),
    Entry("calico-full-mesh", "Calico takes ~5 minutes to re-mesh after a node is killed", "kubernetes",
          "About 5 minutes until all BGP sessions are back after a node restart at 900 nodes.",
          "Without route reflectors every node peers with every other node: n(n-1)/2 BGP sessions.",
          "Use route reflectors: each node peers only with the reflectors.",
          patch={"calico.mode": "route_reflectors", "calico.route_reflectors": 2},
          broken={"calico.mode": "mesh", "calico.route_reflectors": 0},
          rule=calico_mesh_rule,
          not_modelled_reason="session counts and the static rule are modelled; re-establishment timing is not yet"),
    Entry("monitoring-retention-loss", "Monitoring data of the 900-node run was lost", "monitoring",
          "Old Prometheus data (the 900-node run included) was deleted to speed up its API.",
          "Prometheus 1.x kept data only locally; no remote storage.",
          "Send data to a durable time-series store through remote storage.",
          severity="warning",
          patch={"monitoring.remote_storage": True}, broken={"monitoring.remote_storage": False},
          not_modelled_reason="a static finding; scalelab's own store keeps every run"),
    Entry("heat-domain-missing", "Heat domain not configured", "openstack",
          "Authentication errors while Heat creates stacks.",
          "Newton's Heat needs a heat domain and a heat_domain_admin user with the admin role in it.",
          "Create the domain, the user and the role assignment (fuel-ccp patches).",
          not_modelled_reason=_LATER_OS),
    Entry("heat-api-cfn-missing", "heat-api-cfn service missing", "openstack",
          "Applications in Heat templates never receive their configuration.",
          "fuel-ccp did not deploy heat-api-cfn, needed for the default HEAT_CFNTOOLS user_data_format.",
          "Add the heat-api-cfn image, service and endpoints.", not_modelled_reason=_LATER_OS),
    Entry("heat-endpoint-unreachable", "Heat endpoints unreachable from VMs", "openstack",
          "WaitCondition and SoftwareDeployment callbacks from VMs fail.",
          "endpoint_type internalURL; VMs cannot reach heat-api (8004) or heat-api-cfn (8000) in Kubernetes.",
          "Expose endpoints reachable from VMs (ccp.yaml or a manual change).", not_modelled_reason=_LATER_OS),
    Entry("service-roles-misconfigured", "Glance and Heat service users misconfigured", "openstack",
          "Random Glance authentication errors during stack creation.",
          "Service users need the admin role in the service project, not membership of the admin project.",
          "Fix the role assignments (fuel-ccp patches).", not_modelled_reason=_LATER_OS),
    Entry("mysql-dns-loss", "Random loss of connection to MySQL", "openstack",
          "DBConnectionError: Name or service not known for galera.ccp.svc.cluster.local; stacks go ERROR.",
          "kube-dns overload (see kubedns-overload).", "The DNS fix.", not_modelled_reason=_LATER_OS),
    Entry("heat-api-slow-workers", "Slow Heat API requests", "openstack",
          "Heat API requests take more than a minute.",
          "Suspected race between several heat-api workers (bug 1653088, unresolved in the report).",
          "Run one Heat API worker.", references=("Launchpad bug 1653088",), not_modelled_reason=_LATER_OS),
    Entry("heat-convergence-race", "VMs cannot fetch metadata", "openstack",
          "OpenStack servers do not receive their metadata.",
          "Newton's convergence engine processes requests in parallel and races on the database.",
          "convergence_engine = False.", not_modelled_reason=_LATER_OS),
    Entry("heat-rpc-timeout", "RPC timeouts during Heat resource validation", "openstack",
          "Resource validation fails with RPC timeouts.",
          "rpc_response_timeout 60 s (oslo.messaging default) is too short at this load.",
          "rpc_response_timeout = 600.", not_modelled_reason=_LATER_OS),
    Entry("memcached-undersized", "Overloaded memcached", "openstack",
          "Requests to memcached become very slow under load.",
          "A 256 MB cache (fuel-ccp default): evictions and retransmissions.",
          "Give memcached 30 GB (ram: 30720).", references=("Launchpad bug 1653089",),
          not_modelled_reason=_LATER_OS),
    Entry("neutron-agents-status", "Neutron agents shown down", "openstack",
          "The OpenStack client shows every Neutron agent down though they work.",
          "An OpenStackSDK refactoring broke OSC networking commands (client side).",
          "Use the neutron client until the bug is fixed.", severity="info", not_modelled_reason=_LATER_OS),
    Entry("nova-client-https", "Nova client not working", "openstack",
          "Every nova client command fails with a stack trace.",
          "Behind the TLS proxy Nova builds http:// links; secure_proxy_ssl_header is not set.",
          "[DEFAULT] secure_proxy_ssl_header = HTTP_X_FORWARDED_PROTO in nova.conf.",
          references=("Launchpad bug 1653075",), not_modelled_reason=_LATER_OS),
    Entry("neutron-db-pool", "Neutron server timeouts", "openstack",
          "neutron-server times out on requests under API load.",
          "oslo.db pool defaults (max_pool_size 5, max_overflow 50) are too small.",
          "[database] max_pool_size = 30, max_overflow = 60.", references=("Launchpad bug 1653077",),
          not_modelled_reason=_LATER_OS),
    Entry("vm-tenant-unreachable", "Some VMs unreachable over the tenant network", "openstack",
          "Some slice VMs cannot be reached over the tenant network, even from the same compute node.",
          "Unknown: still under investigation in the report; it blocked the workload runs.",
          "None known.", not_modelled_reason=_LATER_OS),
    Entry("pxc-deadlock-not-retried", "OpenStack services do not retry PXC deadlocks", "openstack",
          "Parallel creates fail with DBError: deadlock found, restart the transaction.",
          "oslo.db did not map Percona XtraDB Cluster's deadlock error; some Nova paths lack a retry.",
          "The oslo.db mapping fix (backported to Newton) and retries on every such Nova path.",
          not_modelled_reason=_LATER_OS),
    Entry("live-migration-uri", "Live migration fails with live_migration_uri", "openstack",
          "Live migrations cannot connect to libvirt on the other host.",
          "live_migration_uri cannot name the address; the PXE interface was picked.",
          "Use live_migration_inbound_addr (after the upstream Nova fix).", not_modelled_reason=_LATER_OS),
)
