"""Keystone (Apache mod_wsgi: ``processes`` x ``threads`` per pod) and keystonemiddleware's
token check in every other service.

A token is issued once per user and client session (Rally's clients keep theirs); with fernet
tokens nothing is written, with uuid tokens the token row is. Keystone caches what it issues
(``[token] cache_on_issue``, on in Newton; EC2 credentials too) and every validation in
memcached, with no memcached expiry (``memcached.py``); a validation it
finds there costs little CPU and no query, one it does not is rebuilt from the database. Each
API service's keystonemiddleware looks the token up in memcached first and calls keystone only
on a miss (its cache key is the token's, the same in every service sharing memcached: a token
one service validated is found by the others until ``token_cache_time`` passes), with its own
service user's token: a service user that may not validate tokens
(no admin or service role in the project it is scoped to) makes every miss a 401. Heat creates
a user per stack in its stack-user domain when the stack has servers that call back.
Key: the token (entries of ``token_entry_bytes``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from scalelab.components.openstack.api import Api, Request
from scalelab.components.openstack.errors import ServiceError
from scalelab.sim import Event
from scalelab.spec.identity import Identity as IdentityData
from scalelab.spec.openstack import Heat, Keystone


class Identity:
    def __init__(self, api: Api, spec: Keystone, entry_bytes: int, data: IdentityData,
                 auth_projects: dict[str, str]) -> None:
        self.api = api
        self.spec = spec
        self.entry_bytes = entry_bytes
        self.data = data
        self._issued = 0
        #: service -> why its keystonemiddleware cannot validate a token (absent: it can)
        self.cannot_validate = {service: why for service, project in auth_projects.items()
                                if (why := data.validation_refused(service, project))}

    def issue(self, user: str) -> Generator[Event, Any, str]:
        """POST /v3/auth/tokens for ``user``; returns the token."""
        self._issued += 1
        token = f"{user}#{self._issued}"
        spec = self.spec

        def path(req: Request) -> Generator[Event, Any, str]:
            yield req.cpu(spec.issue_cpu_seconds + spec.crypt_strength * spec.hash_seconds_per_round)
            writes = (f"token:{token}",) if spec.token_format == "uuid" else ()
            yield from req.db(spec.issue_db_queries, writes)
            yield from req.cache_set(f"ks:{token}", self.entry_bytes)
            return token

        return str((yield from self.api.request(path)))

    def ec2_authenticate(self, user: str) -> Generator[Event, Any, None]:
        """POST /v3/ec2tokens, as heat-api-cfn's ec2token middleware sends a request signed with
        a stack user's EC2 keypair: the credential's row, the signature check and a new token
        issued for the user (no password hash), cached on issue like any other: one entry in
        memcached per signed request, used once (os-collect-config signs every poll)."""
        spec = self.spec
        self._issued += 1
        token = f"{user}#ec2#{self._issued}"

        def path(req: Request) -> Generator[Event, Any, None]:
            yield req.cpu(spec.issue_cpu_seconds)
            yield from req.db(spec.issue_db_queries + 1)
            yield from req.cache_set(f"ks:{token}", self.entry_bytes)

        yield from self.api.request(path)

    def validate(self, token: str) -> Generator[Event, Any, None]:
        """GET /v3/auth/tokens (X-Subject-Token) as a service's middleware sends it."""
        spec = self.spec

        def path(req: Request) -> Generator[Event, Any, None]:
            if (yield from req.cache_get(f"ks:{token}")):
                yield req.cpu(spec.cached_validate_cpu_seconds)
                return
            fernet = spec.token_format == "fernet"
            yield req.cpu(spec.validate_cpu_seconds if fernet else spec.validate_uuid_cpu_seconds)
            yield from req.db(spec.validate_db_queries)
            yield from req.cache_set(f"ks:{token}", self.entry_bytes)

        yield from self.api.request(path)

    def create_user(self, name: str) -> Generator[Event, Any, None]:
        spec = self.spec

        def path(req: Request) -> Generator[Event, Any, None]:
            yield req.cpu(spec.create_user_cpu_seconds)
            yield from req.db(spec.create_user_db_queries, (f"user:{name}",))

        yield from self.api.request(path)

    def check(self, req: Request, token: str) -> Generator[Event, Any, None]:
        """keystonemiddleware in the service serving ``req``: memcached, else keystone, with
        the service user's own token (refused when that user may not validate tokens: the
        request fails with 401, only on a cache miss, so "at random")."""
        if (yield from req.cache_get(f"mw:{token}")):
            return
        req.backends.recorder.inc("keystone_validations_total")
        why = self.cannot_validate.get(req.api.service)
        if why is not None:
            req.backends.recorder.inc(f'keystone_service_auth_failures_total{{service="{req.api.service}"}}')
            raise ServiceError(f"401 Unauthorized: {req.api.service} cannot validate tokens ({why})")
        yield from self.validate(token)
        yield from req.cache_set(f"mw:{token}", self.entry_bytes, req.backends.spec.memcached.token_cache_time)

    def create_stack_user(self, heat: Heat, stack: str) -> Generator[Event, Any, None]:
        """Heat creating a stack's user in its stack-user domain, as its stack domain admin."""
        why = self.data.stack_user_refused(heat.stack_user_domain, heat.stack_domain_admin)
        if why is not None:
            self.api.backends.recorder.inc("heat_stack_user_failures_total")
            raise ServiceError(f"Authentication error creating the stack user of {stack}: {why}")
        yield from self.create_user(f"{stack}-user")

