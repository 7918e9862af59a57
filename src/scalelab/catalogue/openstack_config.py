"""OpenStack configuration entries, each modelled as the request path that fails (issue: Heat
and the configuration entries): ``heat-domain-missing`` (Heat cannot create a stack's user),
``service-roles-misconfigured`` (a service's keystonemiddleware may not validate tokens, so
every token-cache miss is a 401), ``nova-client-https`` (nova's links carry the wrong scheme
behind the TLS ingress) and ``live-migration-uri`` (the migration's address is on a network
libvirtd does not listen on). Reproduced on ``openstack-200-fixed`` under Heat stacks whose
servers take software deployments, as the report's slices did.
"""

from __future__ import annotations

from typing import Any

from scalelab.catalogue.entry import Band, Entry, Evidence, Finding, Reproduction, RunView, metric_detector
from scalelab.spec.identity import SERVICE_USERS
from scalelab.spec.model import ClusterSpec

BASELINE = "openstack-200-fixed"

#: Stacks like a slice (6 servers, software deployments), fewer of them: short reproductions.
SLICE_STACKS = [{"kind": "steady", "duration": "10s"},
                {"kind": "rally", "task": {"HeatStacks.create_and_delete_stack": [
                    {"args": {"servers": 6, "software_deployments": 1},
                     "runner": {"type": "constant", "times": 40, "concurrency": 20},
                     "context": {"users": {"tenants": 10, "users_per_tenant": 2}}}]}}]


LONG_SLICE_STACKS = [{"kind": "steady", "duration": "10s"},
                     {"kind": "rally", "task": {"HeatStacks.create_and_delete_stack": [
                         {"args": {"servers": 6, "software_deployments": 1},
                          "runner": {"type": "constant_for_duration", "duration": 600, "concurrency": 20},
                          "context": {"users": {"tenants": 10, "users_per_tenant": 2}}}]}}]


# -- heat-domain-missing ------------------------------------------------------------------
def _heat_domain_rule(spec: ClusterSpec) -> Finding | None:
    if not spec.openstack.enabled:
        return None
    heat = spec.openstack.heat
    why = spec.openstack.identity.stack_user_refused(heat.stack_user_domain, heat.stack_domain_admin)
    if why is None:
        return None
    return HEAT_DOMAIN.finding(Evidence(value=why, metric="openstack.heat.stack_user_domain"))


HEAT_DOMAIN: Entry = Entry(
    id="heat-domain-missing",
    title="Heat domain not configured",
    layer="openstack",
    symptoms="Authentication errors while Heat creates stacks.",
    cause="Newton's Heat needs a heat domain and a heat_domain_admin user with the admin role in it.",
    fix_text="Create the domain, the user and the role assignment (fuel-ccp patches).",
    references=("OpenStack Newton configuration guide: Orchestration stack domain users",),
    patch={"openstack.heat.stack_user_domain": "heat", "openstack.heat.stack_domain_admin": "heat_domain_admin",
           "openstack.identity.domains": ["default", "heat"]},
    broken={"openstack.heat.stack_user_domain": None, "openstack.heat.stack_domain_admin": None,
            "openstack.identity.domains": ["default"]},
    rule=_heat_domain_rule,
    detect=metric_detector("heat_stack_user_failures_total", 1.0, lambda: HEAT_DOMAIN),
    reproduction=Reproduction(baseline=BASELINE, context={"workload": SLICE_STACKS}),
    bands=(
        Band("broken", "heat_stack_user_failures_total", 1.0, None, "measured",
             "report: authentication errors during Heat stack creation"),
        Band("broken", "rally_success_ratio", None, 0.0, "derived",
             "every stack with a software deployment needs its stack user: none completes"),
        Band("fixed", "heat_stack_user_failures_total", None, 0.0, "expected", "report: fixed by the patches"),
    ),
)


# -- service-roles-misconfigured ----------------------------------------------------------
#: What the install guide grants: admin in the service project to every service user, admin on
#: the heat domain to its admin.
INSTALL_GUIDE_ASSIGNMENTS: list[dict[str, Any]] = [
    *({"role": "admin", "user": u, "project": "service"} for u in SERVICE_USERS),
    {"role": "admin", "user": "heat_domain_admin", "domain": "heat"}]
#: fuel-ccp's first render: glance and heat users in the user-facing admin project with its admin
#: role (fuel-ccp-glance before c2f0783, 2016-12-09: ``openstack role add --project
#: {{ openstack.project_name }} --user glance admin``; heat.conf's [keystone_authtoken]
#: project_name = admin, in the corpus). Newton's policy lets an admin anywhere validate tokens:
#: the request paths work, so the report's "random" Glance errors are not reproduced (a gap).
FUEL_CCP_ASSIGNMENTS: list[dict[str, Any]] = [
    {"role": "admin", "user": "nova", "project": "service"},
    {"role": "admin", "user": "neutron", "project": "service"},
    {"role": "admin", "user": "glance", "project": "admin"},
    {"role": "admin", "user": "heat", "project": "admin"},
    {"role": "admin", "user": "heat_domain_admin", "domain": "heat"}]


def _roles_rule(spec: ClusterSpec) -> Finding | None:
    if not spec.openstack.enabled:
        return None
    identity = spec.openstack.identity
    wrong = {s: why for s in SERVICE_USERS
             if (why := identity.validation_refused(s, project := getattr(spec.openstack, s).auth_project)
                 or identity.service_user_misplaced(s, project))}
    if not wrong:
        return None
    return ROLES.finding(Evidence(value="; ".join(wrong.values()), metric="openstack.identity.assignments",
                                  observed=float(len(wrong))))


def _roles_explain(broken: RunView, fixed: RunView) -> str:
    return (f"model: {broken.metric('keystone_service_auth_failures_total')} token checks refused: fuel-ccp gave "
            "glance and heat the admin role in the admin project, and Newton's policy lets an admin anywhere "
            "validate tokens, so every request path works. Missing: what made the lab's Glance errors (the report "
            "names the project, not the failing call)")


ROLES: Entry = Entry(
    id="service-roles-misconfigured",
    title="Glance and Heat service users misconfigured",
    layer="openstack",
    symptoms="Random Glance authentication errors during stack creation.",
    cause="Service users need the admin role in the service project, not membership of the admin project.",
    fix_text="Fix the role assignments (fuel-ccp patches).",
    patch={"openstack.identity.assignments": INSTALL_GUIDE_ASSIGNMENTS, "openstack.glance.auth_project": "service",
           "openstack.heat.auth_project": "service"},
    broken={"openstack.identity.assignments": FUEL_CCP_ASSIGNMENTS, "openstack.glance.auth_project": "admin",
            "openstack.heat.auth_project": "admin"},
    rule=_roles_rule,
    detect=metric_detector("keystone_service_auth_failures_total", 1.0, lambda: ROLES),
    explain=_roles_explain,
    # stacks for 10 minutes: the users' tokens outlive keystonemiddleware's 300 s cache
    reproduction=Reproduction(baseline=BASELINE, context={"workload": LONG_SLICE_STACKS}),
    bands=(
        Band("broken", "keystone_service_auth_failures_total", 1.0, None, "measured",
             "report: random Glance authentication errors during stack creation"),
        Band("broken", "rally_success_ratio", 0.01, 0.99999, "expected",
             "'random': some iterations fail, not all (only requests glance is the first to check once the "
             "shared cache entry expired); the report gives no rate"),
        Band("fixed", "keystone_service_auth_failures_total", None, 0.0, "expected", "report: fixed by the patches"),
    ),
)

# -- nova-client-https --------------------------------------------------------------------
def _https_rule(spec: ClusterSpec) -> Finding | None:
    cloud = spec.openstack
    if not cloud.enabled or not cloud.nova_links_broken():
        return None
    value = (f"nova behind a TLS ingress with secure_proxy_ssl_header = {cloud.nova.secure_proxy_ssl_header}: its "
             f"links say {cloud.nova_link_scheme()} (the ingress names the scheme in {cloud.ingress_proto_header})")
    return NOVA_HTTPS.finding(Evidence(value=value, metric="openstack.nova.secure_proxy_ssl_header"))


NOVA_HTTPS: Entry = Entry(
    id="nova-client-https",
    title="Nova client not working",
    layer="openstack",
    symptoms="Every nova client command fails with a stack trace.",
    cause="Behind the TLS proxy Nova builds http:// links; secure_proxy_ssl_header is not set.",
    fix_text="[DEFAULT] secure_proxy_ssl_header = HTTP_X_FORWARDED_PROTO in nova.conf.",
    references=("Launchpad bug 1653075",),
    patch={"openstack.nova.secure_proxy_ssl_header": "HTTP_X_FORWARDED_PROTO"},
    broken={"openstack.nova.secure_proxy_ssl_header": None},
    rule=_https_rule,
    detect=metric_detector("nova_client_link_failures_total", 1.0, lambda: NOVA_HTTPS),
    # Rally's nova scenarios build a novaclient per iteration, through the public endpoint; the
    # lab's endpoints were https://<service>.ccp.external:8443 (the report's debug output)
    reproduction=Reproduction(baseline=BASELINE, context={
        "workload": [{"kind": "steady", "duration": "10s"}, {"kind": "rally", "task": {
            "NovaServers.boot_and_delete_server": [
                {"runner": {"type": "constant", "times": 40, "concurrency": 10},
                 "context": {"users": {"tenants": 2, "users_per_tenant": 2}}}]}}]}),
    bands=(
        Band("broken", "nova_client_link_failures_total", 1.0, None, "measured",
             "report: every nova client command ends with a stack trace"),
        Band("broken", "rally_success_ratio", None, 0.0, "measured", "report: all commands fail"),
        Band("fixed", "nova_client_link_failures_total", None, 0.0, "expected", "report: fixed by the header"),
    ),
)

# -- live-migration-uri -------------------------------------------------------------------
def _migration_rule(spec: ClusterSpec) -> Finding | None:
    cloud = spec.openstack
    if not cloud.enabled:
        return None
    uri = cloud.nova.live_migration_uri
    if cloud.migration_network() == cloud.libvirt_listen_network:
        if cloud.nova.live_migration_inbound_addr is None and uri is not None and "%s" in uri:
            # the report's cause: the URI names the destination by host name, nova cannot pin
            # the interface; it works only while that name resolves to libvirtd's network
            return MIGRATION.finding(Evidence(
                value=f"live_migration_uri {uri}: the destination's host name decides the network (here "
                      f"{cloud.compute_networks[0]}, where libvirtd listens; a host whose name resolves elsewhere "
                      f"fails); live_migration_inbound_addr unset", metric="openstack.nova.live_migration_uri"),
                severity="warning")
        return None
    inbound = cloud.nova.live_migration_inbound_addr
    how = "live_migration_inbound_addr" if inbound is not None else \
        f"live_migration_uri {cloud.nova.live_migration_uri or 'qemu+tcp://%s/system'} (the host name)"
    metric = "openstack.nova.live_migration_inbound_addr" if inbound is not None or \
        cloud.nova.live_migration_uri is None else "openstack.nova.live_migration_uri"
    return MIGRATION.finding(Evidence(value=f"{how} is on the {cloud.migration_network()} network; libvirtd listens "
                                            f"on {cloud.libvirt_listen_network}", metric=metric))


MIGRATION: Entry = Entry(
    id="live-migration-uri",
    title="Live migration fails with live_migration_uri",
    layer="openstack",
    symptoms="Live migrations cannot connect to libvirt on the other host.",
    cause="live_migration_uri cannot name the address; the PXE interface was picked.",
    fix_text="Use live_migration_inbound_addr (after the upstream Nova fix).",
    patch={"openstack.nova.live_migration_inbound_addr": "private"},
    broken={"openstack.nova.live_migration_inbound_addr": None},
    rule=_migration_rule,
    detect=metric_detector("live_migrations_failed_total", 1.0, lambda: MIGRATION),
    reproduction=Reproduction(baseline=BASELINE, context={"workload": [
        {"kind": "steady", "duration": "10s"}, {"kind": "rally", "task": {
            "NovaServers.boot_and_live_migrate_server": [
                {"runner": {"type": "constant", "times": 20, "concurrency": 5},
                 "context": {"users": {"tenants": 2, "users_per_tenant": 1}}}]}}]}),
    bands=(
        Band("broken", "live_migrations_failed_total", 1.0, None, "measured",
             "report: live migrations cannot connect to libvirt on the other host"),
        Band("fixed", "live_migrations_failed_total", None, 0.0, "expected", "migrations succeed"),
    ),
)

ENTRIES: tuple[Entry, ...] = (HEAT_DOMAIN, ROLES, NOVA_HTTPS, MIGRATION)
