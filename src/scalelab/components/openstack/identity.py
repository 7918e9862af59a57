"""Keystone (Apache mod_wsgi: ``processes`` x ``threads`` per pod) and keystonemiddleware's
token check in every other service.

A token is issued once per user and client session (Rally's clients keep theirs); with fernet
tokens nothing is written, with uuid tokens the token row is. Keystone caches what it issues
(``[token] cache_on_issue``, on in Newton) and every validation in memcached; a validation it
finds there costs little CPU and no query, one it does not is rebuilt from the database. Each
API service's keystonemiddleware looks the token up in memcached first and calls keystone only
on a miss. Key: the token (entries of ``token_entry_bytes``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from scalelab.components.openstack.api import Api, Request
from scalelab.sim import Event
from scalelab.spec.openstack import Keystone


class Identity:
    def __init__(self, api: Api, spec: Keystone, entry_bytes: int) -> None:
        self.api = api
        self.spec = spec
        self.entry_bytes = entry_bytes
        self._issued = 0

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
        """keystonemiddleware in the service serving ``req``: memcached, else keystone."""
        if (yield from req.cache_get(f"mw:{token}")):
            return
        req.backends.recorder.inc("keystone_validations_total")
        yield from self.validate(token)
        yield from req.cache_set(f"mw:{token}", self.entry_bytes)
