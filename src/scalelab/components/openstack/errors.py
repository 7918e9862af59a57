"""What a request path can fail with, named as the operator reads it in the service's log."""

from __future__ import annotations


class ServiceError(Exception):
    """A request failed; ``kind`` is the counter family it is recorded under."""

    kind = "error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.kind)
        self.detail = detail


class PoolTimeout(ServiceError):  # noqa: N818 (named as the service logs it)
    """SQLAlchemy: "QueuePool limit of size N overflow M reached, connection timed out"."""

    kind = "db_pool_timeout"


class DbConnectionError(ServiceError):
    """oslo.db DBConnectionError: the DB host's name did not resolve ("Name or service not known")."""

    kind = "db_connection_failure"


class DbDeadlock(ServiceError):  # noqa: N818 (named as the service logs it)
    """A wsrep certification failure: oslo.db's DBDeadlock when mapped, a plain DBError when not."""

    kind = "db_deadlock"


class RpcTimeout(ServiceError):  # noqa: N818 (named as the service logs it)
    """oslo.messaging MessagingTimeout: no reply within rpc_response_timeout."""

    kind = "rpc_timeout"


class Unavailable(ServiceError):  # noqa: N818 (named as the service logs it)
    """The service answered 503 or its pods are gone."""

    kind = "unavailable"


def fire(event: object) -> None:
    """Callback that fires an event (``Cores.submit`` and ``Slots.acquire`` expect None back)."""
    event.succeed(None)  # type: ignore[attr-defined]
