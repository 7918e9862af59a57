"""``openstack.identity``: what Keystone holds that the request paths check (issue: Heat and
the configuration entries).

Domains, groups and role assignments as keystone stores them after a deployment's bootstrap.
The defaults are a working Newton deployment as the install guide makes it: every service user
holds ``admin`` in the ``service`` project, and Heat's stack-user domain ``heat`` is
administered by ``heat_domain_admin`` with ``admin`` on that domain. ``openstack-200`` carries
fuel-ccp's first render instead (docs/models/openstack.md).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from scalelab.spec.base import Section

#: Services whose users authenticate to Keystone (their keystonemiddleware and clients).
SERVICE_USERS = ("nova", "neutron", "glance", "heat")
#: Keystone Newton's policy for validating another user's token: service_admin_or_token_subject,
#: where service_admin is "role:admin or role:service" (policy.json of Newton).
VALIDATE_ROLES = ("admin", "service")


class Assignment(Section):
    """A role granted to a user or a group on a project or a domain."""

    role: str
    user: str | None = None
    group: str | None = None
    project: str | None = None
    domain: str | None = None

    @model_validator(mode="after")
    def _one_actor_one_target(self) -> Assignment:
        if (self.user is None) == (self.group is None):
            raise ValueError("an assignment names exactly one of user or group")
        if (self.project is None) == (self.domain is None):
            raise ValueError("an assignment names exactly one of project or domain")
        return self


def _install_guide() -> tuple[Assignment, ...]:
    return (*(Assignment(role="admin", user=u, project="service") for u in SERVICE_USERS),
            Assignment(role="admin", user="heat_domain_admin", domain="heat"))


class Identity(Section):
    domains: tuple[str, ...] = ("default", "heat")
    #: group -> its member users
    groups: dict[str, list[str]] = Field(default_factory=dict)
    assignments: tuple[Assignment, ...] = Field(default_factory=_install_guide)

    def has_role(self, user: str, roles: tuple[str, ...], project: str | None = None,
                 domain: str | None = None) -> bool:
        """Whether ``user`` holds one of ``roles`` on the project or domain, directly or through
        a group it belongs to (keystone's effective assignments)."""
        mine = {g for g, members in self.groups.items() if user in members}
        return any(a.role in roles and (a.user == user or a.group in mine)
                   and (a.project == project if project is not None else a.domain == domain)
                   for a in self.assignments)

    def token_scope_ok(self, user: str, project: str) -> bool:
        """A project-scoped token needs some role on the project."""
        mine = {g for g, members in self.groups.items() if user in members}
        return any((a.user == user or a.group in mine) and a.project == project for a in self.assignments)

    def validation_refused(self, service: str, project: str) -> str | None:
        """Why a service user scoped to ``project`` may not validate other users' tokens
        (keystonemiddleware's check), or None."""
        if not self.token_scope_ok(service, project):
            return f"user {service} has no role on project {project}: no token"
        if not self.has_role(service, VALIDATE_ROLES, project=project):
            return f"user {service} holds neither admin nor service on project {project}"
        return None

    def service_user_misplaced(self, service: str, project: str) -> str | None:
        """Why a service user is set up against the install guide's rule (admin in the
        ``service`` project, no role in the user-facing ``admin`` project), or None."""
        if project != "service":
            return f"{service} authenticates in project {project}, not service"
        mine = {g for g, members in self.groups.items() if service in members}
        if any((a.user == service or a.group in mine) and a.project == "admin" for a in self.assignments):
            return f"{service} holds a role in the user-facing admin project"
        return None

    def stack_user_refused(self, domain: str | None, admin: str | None) -> str | None:
        """Why Heat, with heat.conf's stack-user domain and stack domain admin, cannot create a
        stack's user, or None."""
        if domain is None or admin is None:
            return "stack_user_domain_name / stack_domain_admin not configured"
        if domain not in self.domains:
            return f"domain {domain} does not exist"
        if not self.has_role(admin, ("admin",), domain=domain):
            return f"{admin} has no admin role on domain {domain}"
        return None


__all__ = ["SERVICE_USERS", "VALIDATE_ROLES", "Assignment", "Identity"]
