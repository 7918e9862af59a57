"""Heat: heat-api workers and heat-engine workers behind RPC.

Stack create (POST /stacks): heat-api checks the token and *calls* heat-engine's create_stack
over RPC, with heat-api's ``rpc_response_timeout``. The engine validates every resource before it
answers (a server's image and flavor through glance and nova, as the stack's user: the report's
"RPC timeouts during Heat resources validation" when the engine is slow to answer), stores the
stack, replies, then creates the resources on its own: a port and a server per server resource,
each server polled through nova until ACTIVE (``poll_interval``), then the stack is
CREATE_COMPLETE (or CREATE_FAILED with the first error). Stack show is an RPC call to an engine
that reads the stack and its resources. Delete deletes the servers and waits for them to go.
Not modelled here: the convergence engine's per-resource traversal (convergence on and off
behave the same), stack-domain users and callbacks from servers (the slices issue).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from scalelab.components.openstack.api import Api, Request
from scalelab.components.openstack.compute import Compute
from scalelab.components.openstack.errors import ServiceError
from scalelab.components.openstack.identity import Identity
from scalelab.components.openstack.network import Images, Network
from scalelab.sim import Engine, Event
from scalelab.spec.openstack import Heat

#: How long heat-engine waits for one server to become ACTIVE (heat's server create timeout
#: is the stack's, 60 min by default; the poll ends earlier on ERROR).
SERVER_WAIT_SECONDS = 3600.0


class Orchestration:
    def __init__(self, engine: Engine, spec: Heat, identity: Identity, api: Api, engine_api: Api, compute: Compute,
                 network: Network, images: Images) -> None:
        self.engine = engine
        self.spec = spec
        self.identity = identity
        self.api = api
        self.engine_api = engine_api
        self.compute = compute
        self.network = network
        self.images = images
        self.status: dict[str, str] = {}
        self.resources: dict[str, list[str]] = {}  # stack -> its servers
        self._count = 0

    def create(self, token: str, project: str, servers: int, deployments: int = 0) -> Generator[Event, Any, str]:
        """POST /stacks of a template with ``servers`` servers (each with its port) and
        ``deployments`` software deployments (which need the stack's user in the stack-user
        domain: the servers authenticate as it to fetch their configuration)."""
        self._count += 1
        stack = f"stack-{self._count}"

        def engine_create(req: Request) -> Generator[Event, Any, str]:
            for _ in range(servers):  # validation: image and flavor of every server
                yield from self.images.show(token)
                yield from self.compute.show(token, "flavor")
                yield req.cpu(self.spec.resource_cpu_seconds)
            yield from req.db(3 + 2 * servers, (f"stack:{stack}",))
            self.status[stack] = "CREATE_IN_PROGRESS"
            self.resources[stack] = []
            self.engine.process(self._build(stack, project, token, servers, deployments))
            return stack

        def path(req: Request) -> Generator[Event, Any, str]:
            yield from self.identity.check(req, token)
            return str((yield from req.call(self.engine_api, engine_create, "heat.engine.create_stack")))

        return str((yield from self.api.request(path)))

    def _build(self, stack: str, project: str, token: str, servers: int,
               deployments: int) -> Generator[Event, Any, None]:
        try:
            if deployments:
                yield from self.identity.create_stack_user(self.spec, stack)
            waits = []
            for _ in range(servers):
                server = yield from self.compute.boot(token, project)
                self.resources[stack].append(server)
                waits.append(self.engine.process(self._wait_active(token, server)))
            yield self.engine.all_of(waits)
            if any(w.value != "ACTIVE" for w in waits):
                raise ServiceError("a server went to ERROR")
            yield from self._engine_write(stack)
            self.status[stack] = "CREATE_COMPLETE"
        except ServiceError:
            self.status[stack] = "CREATE_FAILED"

    def _engine_write(self, stack: str) -> Generator[Event, Any, None]:
        def handler(req: Request) -> Generator[Event, Any, None]:
            yield req.cpu(self.spec.resource_cpu_seconds)
            yield from req.db(3, (f"stack:{stack}",))

        yield from self.engine_api.handle(handler, routed=False)  # the engine's own next step

    def _wait_active(self, token: str, server: str) -> Generator[Event, Any, str]:
        return (yield from self._wait(token, server, ("ACTIVE", "ERROR", "DELETED")))

    def _wait(self, token: str, server: str, final: tuple[str, ...]) -> Generator[Event, Any, str]:
        """Poll the server through nova until its status is one of ``final`` (or time out)."""
        deadline = self.engine.now + SERVER_WAIT_SECONDS
        while self.engine.now < deadline:
            try:
                status = yield from self.compute.show(token, server)
            except ServiceError:
                status = "UNKNOWN"
            if status in final:
                return status
            yield self.engine.timeout(self.spec.poll_interval)
        return "TIMEOUT"

    def show(self, token: str, stack: str) -> Generator[Event, Any, str]:
        """GET /stacks/NAME/ID: an RPC call to an engine reading the stack and its resources."""

        def engine_show(req: Request) -> Generator[Event, Any, str]:
            yield from req.db(2 + len(self.resources.get(stack, ())))
            yield req.cpu(self.spec.resource_cpu_seconds)
            return self.status.get(stack, "DELETE_COMPLETE")

        def path(req: Request) -> Generator[Event, Any, str]:
            yield from self.identity.check(req, token)
            return str((yield from req.call(self.engine_api, engine_show, "heat.engine.show_stack")))

        return str((yield from self.api.request(path)))

    def delete(self, token: str, project: str, stack: str) -> Generator[Event, Any, None]:
        """DELETE /stacks/NAME/ID: cast to an engine, which deletes the servers."""

        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            self.status[stack] = "DELETE_IN_PROGRESS"
            self.engine.process(self._teardown(stack, project, token))

        yield from self.api.request(path)

    def _teardown(self, stack: str, project: str, token: str) -> Generator[Event, Any, None]:
        try:
            waits = []
            for server in self.resources.get(stack, []):
                yield from self.compute.delete(token, server, project)
                waits.append(self.engine.process(self._wait(token, server, ("DELETED",))))
            yield self.engine.all_of(waits)
            yield from self._engine_write(stack)
            self.status.pop(stack, None)
            self.resources.pop(stack, None)
        except ServiceError:
            self.status[stack] = "DELETE_FAILED"
