"""Keystone's assignments as the request paths read them: the configuration entries fail on
what a setting means, not on a flag (issue: Heat and the configuration entries)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from scalelab.runner import execute
from scalelab.scenarios import load_scenario
from scalelab.spec.identity import Assignment, Identity


def identity(*assignments: dict[str, Any], groups: dict[str, list[str]] | None = None,
             domains: tuple[str, ...] = ("default", "heat")) -> Identity:
    return Identity(domains=domains, groups=groups or {}, assignments=tuple(Assignment(**a) for a in assignments))


@pytest.mark.parametrize(("assignments", "groups", "project", "ok"), [
    # the install guide: admin in the service project
    ([{"role": "admin", "user": "glance", "project": "service"}], None, "service", True),
    # fuel-ccp's first render: admin in the user-facing admin project (validation allowed: an
    # admin anywhere may validate under Newton's policy; the install guide's rule is broken)
    ([{"role": "admin", "user": "glance", "project": "admin"}], None, "admin", True),
    # a wrong value: a plain member of the admin project
    ([{"role": "_member_", "user": "glance", "project": "admin"}], None, "admin", False),
    # another wrong value: the right role, but the token scoped to a project it has no role on
    ([{"role": "admin", "user": "glance", "project": "service"}], None, "admin", False),
    # correct values the report did not use: the role through a group; the "service" role
    ([{"role": "admin", "group": "services", "project": "service"}], {"services": ["glance"]}, "service", True),
    ([{"role": "service", "user": "glance", "project": "service"}], None, "service", True),
])
def test_a_service_may_validate_tokens_by_what_it_holds(assignments: list[dict[str, Any]],
                                                          groups: dict[str, list[str]] | None, project: str,
                                                          ok: bool) -> None:
    assert (identity(*assignments, groups=groups).validation_refused("glance", project) is None) == ok


@pytest.mark.parametrize(("assignments", "project", "misplaced"), [
    ([{"role": "admin", "user": "glance", "project": "service"}], "service", False),
    ([{"role": "admin", "user": "glance", "project": "admin"}], "admin", True),  # fuel-ccp before c2f0783
    ([{"role": "admin", "user": "glance", "project": "service"},  # right project, and a role in admin's
      {"role": "_member_", "user": "glance", "project": "admin"}], "service", True),
])
def test_service_users_belong_to_the_service_project_only(assignments: list[dict[str, Any]], project: str,
                                                          misplaced: bool) -> None:
    assert (identity(*assignments).service_user_misplaced("glance", project) is not None) == misplaced


@pytest.mark.parametrize(("assignments", "groups", "domains", "domain", "ok"), [
    ([{"role": "admin", "user": "heat_domain_admin", "domain": "heat"}], None, ("default", "heat"), "heat", True),
    ([], None, ("default",), None, False),  # fuel-ccp's first render: nothing configured
    # other wrong values: a domain that does not exist; an admin without the role on it
    ([{"role": "admin", "user": "heat_domain_admin", "domain": "heat"}], None, ("default",), "heat", False),
    ([{"role": "_member_", "user": "heat_domain_admin", "domain": "heat"}], None, ("default", "heat"), "heat",
     False),
    # a correct value the report did not use: the admin role through a group
    ([{"role": "admin", "group": "heat-admins", "domain": "heat"}], {"heat-admins": ["heat_domain_admin"]},
     ("default", "heat"), "heat", True),
])
def test_heat_creates_stack_users_by_what_the_domain_holds(assignments: list[dict[str, Any]],
                                                             groups: dict[str, list[str]] | None,
                                                             domains: tuple[str, ...], domain: str | None,
                                                             ok: bool) -> None:
    data = identity(*assignments, groups=groups, domains=domains)
    admin = "heat_domain_admin" if domain is not None else None
    assert (data.stack_user_refused(domain, admin) is None) == ok


def test_an_assignment_names_one_actor_and_one_target(tmp_path: Path) -> None:
    from scalelab.spec.loader import ScenarioError

    doc = {"name": "bad-identity", "openstack": {"enabled": True, "identity": {
        "assignments": [{"role": "admin", "user": "glance", "group": "g", "project": "service"}]}}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"openstack\.identity\.assignments\.0: an assignment names exactly one"):
        load_scenario(str(path))


def _cloud(tmp_path: Path, openstack: dict[str, Any], scenario: str, args: dict[str, Any], times: int,
           concurrency: int, tenants: int) -> dict[str, Any]:
    """A small cloud (10 computes) running one Rally workload; its summary."""
    doc: dict[str, Any] = {
        "name": "os-config", "seed": 1,
        "openstack": {"enabled": True, "computes": 10, "control_plane_nodes": 3, **openstack},
        "hosts": {"vm": {"threads": 48, "memory": "264Gi"}},
        "workload": [{"kind": "steady", "duration": "10s"}, {"kind": "rally", "task": {scenario: [
            {"args": args, "runner": {"type": "constant", "times": times, "concurrency": concurrency},
             "context": {"users": {"tenants": tenants, "users_per_tenant": 1}}}]}}],
    }
    path = tmp_path / "cloud.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return execute(load_scenario(str(path))).summary


def _stacks(tmp_path: Path, openstack: dict[str, Any]) -> dict[str, Any]:
    return _cloud(tmp_path, openstack, "HeatStacks.create_and_delete_stack",
                  {"servers": 2, "software_deployments": 1}, 6, 3, 2)


def test_stacks_need_their_users_domain_through_whatever_grants_the_role(tmp_path: Path) -> None:
    missing = _stacks(tmp_path, {"heat": {"stack_user_domain": None, "stack_domain_admin": None}})
    assert missing["heat_stack_user_failures_total"] == 6 and missing["rally_success_ratio"] == 0.0
    # the deadlock fixes on: a stack lost to a Galera certification conflict (pxc-deadlock-not-
    # retried, Newton's defaults) is not what this test is about
    by_group = _stacks(tmp_path, {"galera": {"wsrep_deadlock_mapped": True}, "nova": {"retry_undecorated_paths": True},
                                  "identity": {
        "groups": {"heat-admins": ["heat_domain_admin"]},
        "assignments": [*({"role": "admin", "user": u, "project": "service"} for u in ("nova", "neutron", "glance",
                                                                                       "heat")),
                        {"role": "admin", "group": "heat-admins", "domain": "heat"}]}})
    assert by_group["heat_stack_user_failures_total"] == 0 and by_group["rally_success_ratio"] == 1.0


def test_a_service_that_may_not_validate_fails_only_where_it_checks_first(tmp_path: Path) -> None:
    """Heat scoped to a project it has no role on: every stack request heat-api checks fails."""
    out = _stacks(tmp_path, {"heat": {"auth_project": "admin"}})
    assert out["keystone_service_auth_failures_total"] >= 6 and out["rally_success_ratio"] == 0.0


def _boots(tmp_path: Path, openstack: dict[str, Any]) -> dict[str, Any]:
    return _cloud(tmp_path, openstack, "NovaServers.boot_and_delete_server", {}, 4, 2, 1)


@pytest.mark.parametrize(("openstack", "ok"), [
    ({"ingress_tls": True}, False),  # the lab: no secure_proxy_ssl_header
    ({"ingress_tls": True, "nova": {"secure_proxy_ssl_header": "HTTP_X_FORWARDED_PROTO"}}, True),  # the fix
    # another wrong value: a header the ingress does not set
    ({"ingress_tls": True, "nova": {"secure_proxy_ssl_header": "HTTP_X_FORWARDED_HOST"}}, False),
    # correct values the report did not use: an ingress that names the scheme in another header
    # nova is told to read; no TLS at the ingress at all
    ({"ingress_tls": True, "ingress_proto_header": "X-Forwarded-Scheme",
      "nova": {"secure_proxy_ssl_header": "HTTP_X_FORWARDED_SCHEME"}}, True),
    ({"ingress_tls": False}, True),
])
def test_nova_links_carry_the_scheme_the_header_names(tmp_path: Path, openstack: dict[str, Any], ok: bool) -> None:
    out = _boots(tmp_path, openstack)
    assert (out["nova_client_link_failures_total"] == 0) == ok
    assert (out["rally_success_ratio"] == 1.0) == ok


@pytest.mark.parametrize(("openstack", "ok"), [
    ({"compute_networks": ["pxe", "private"]}, False),  # the lab: the host name is on PXE
    ({"compute_networks": ["pxe", "private"], "nova": {"live_migration_inbound_addr": "private"}}, True),  # the fix
    # another wrong value: an inbound address on the PXE network
    ({"compute_networks": ["pxe", "private"], "nova": {"live_migration_inbound_addr": "pxe"}}, False),
    # a correct value the report did not use: hosts whose name resolves to the private network
    ({"compute_networks": ["private", "pxe"]}, True),
])
def test_live_migrations_reach_libvirt_where_it_listens(tmp_path: Path, openstack: dict[str, Any], ok: bool) -> None:
    out = _cloud(tmp_path, openstack, "NovaServers.boot_and_live_migrate_server", {}, 3, 3, 1)
    assert (out["live_migrations_failed_total"] == 0) == ok
    assert (out["rally_success_ratio"] == 1.0) == ok
