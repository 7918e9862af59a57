"""Rally's scenarios as iterations against the simulated cloud, timed per atomic action with
Rally's names. Polling is Rally's (``rally/plugins/openstack`` of the 0.8 era, its config
defaults): a booted server is polled every 1 s after a 1 s pre-poll delay, up to 300 s; a
deleted one every 2 s; a stack every 1 s, up to 3600 s. A poll that sees ERROR, or a timeout,
fails the action; so does any API error.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Protocol

from scalelab.components.openstack.errors import ServiceError
from scalelab.sim import Engine, Event
from scalelab.spec.slices import StackServer, StackTemplate

BOOT_PREPOLL_SECONDS = 1.0
BOOT_POLL_SECONDS = 1.0
BOOT_TIMEOUT_SECONDS = 300.0
DELETE_POLL_SECONDS = 2.0
DELETE_TIMEOUT_SECONDS = 300.0
STACK_POLL_SECONDS = 1.0
STACK_TIMEOUT_SECONDS = 3600.0


class Cloud(Protocol):
    """What the scenarios call (the OpenStack layer provides it)."""

    engine: Engine
    identity: Any
    compute: Any
    network: Any
    images: Any
    orchestration: Any


class IterationFailed(Exception):  # noqa: N818 (Rally reports a failed iteration)
    """An atomic action failed; ``action`` names it."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"{action}: {reason}")
        self.action = action


class Iteration:
    """One iteration's context: its user, project and token, and its atomic-action timer."""

    def __init__(self, cloud: Cloud, user: str, project: str, token: str, timed: Callable[[str, float], None],
                 args: dict[str, Any]) -> None:
        self.cloud = cloud
        self.engine = cloud.engine
        self.user = user
        self.project = project
        self.token = token
        self._timed = timed
        self.args = args

    def action(self, name: str, body: Generator[Event, Any, Any]) -> Generator[Event, Any, Any]:
        """Run one atomic action, timing it; failures become IterationFailed."""
        start = self.engine.now
        try:
            result = yield from body
        except ServiceError as error:
            raise IterationFailed(name, str(error)) from error
        self._timed(name, self.engine.now - start)
        return result

    def poll(self, name: str, read: Callable[[], Generator[Event, Any, str]], done: tuple[str, ...],
             interval: float, timeout: float, prepoll: float = 0.0) -> Generator[Event, Any, None]:
        """Rally's wait_for_status: read until a status in ``done``; ERROR or timeout fails."""
        deadline = self.engine.now + timeout
        if prepoll:
            yield self.engine.timeout(prepoll)
        while True:
            status = yield from read()
            if status in done:
                return
            if "ERROR" in status or "FAILED" in status:
                raise IterationFailed(name, f"status {status}")
            if self.engine.now + interval > deadline:
                raise IterationFailed(name, "timed out")
            yield self.engine.timeout(interval)


def _boot(it: Iteration) -> Generator[Event, Any, str]:
    compute = it.cloud.compute

    def body() -> Generator[Event, Any, str]:
        # the iteration's novaclient is built here: its version discovery through the public
        # endpoint comes first
        yield from compute.discover(it.token)
        server: str = yield from compute.boot(it.token, it.project)
        yield from it.poll("nova.boot_server", lambda: compute.show(it.token, server), ("ACTIVE",),
                           BOOT_POLL_SECONDS, BOOT_TIMEOUT_SECONDS, BOOT_PREPOLL_SECONDS)
        return server

    return str((yield from it.action("nova.boot_server", body())))


def _delete(it: Iteration, server: str) -> Generator[Event, Any, None]:
    compute = it.cloud.compute

    def body() -> Generator[Event, Any, None]:
        yield from compute.delete(it.token, server, it.project)
        yield from it.poll("nova.delete_server", lambda: compute.show(it.token, server), ("DELETED",),
                           DELETE_POLL_SECONDS, DELETE_TIMEOUT_SECONDS)

    yield from it.action("nova.delete_server", body())


def authenticate(it: Iteration) -> Generator[Event, Any, None]:
    yield from it.action("authenticate.keystone", it.cloud.identity.issue(it.user))


def create_user(it: Iteration) -> Generator[Event, Any, None]:
    name = f"{it.user}-u{it.engine.now:.6f}"
    yield from it.action("keystone_v3.create_user", it.cloud.identity.create_user(name))


def boot_server(it: Iteration) -> Generator[Event, Any, None]:
    """The server stays (Rally's cleanup deletes it after the run: not simulated)."""
    yield from _boot(it)


def boot_and_delete_server(it: Iteration) -> Generator[Event, Any, None]:
    server = yield from _boot(it)
    yield from _delete(it, server)


def boot_and_live_migrate_server(it: Iteration) -> Generator[Event, Any, None]:
    server = yield from _boot(it)
    yield from it.action("nova.live_migrate", it.cloud.compute.live_migrate(it.token, server))
    yield from _delete(it, server)


def boot_and_list_server(it: Iteration) -> Generator[Event, Any, None]:
    yield from _boot(it)
    yield from it.action("nova.list_servers", it.cloud.compute.list(it.token, it.project))


def create_and_list_networks(it: Iteration) -> Generator[Event, Any, None]:
    network = it.cloud.network
    yield from it.action("neutron.create_network", network.create_network(it.token, it.project))
    yield from it.action("neutron.list_networks", network.list_networks(it.token, it.project))


def list_agents(it: Iteration) -> Generator[Event, Any, None]:
    """``neutron agent-list`` or ``openstack network agent list`` (``openstack.agent_list``):
    the agents the CLI shows down next to those neutron-server counts down."""
    network = it.cloud.network
    shown_alive = network.rpc.backends.spec.agent_list.shown_alive
    down, shown = yield from it.action("neutron.list_agents", network.list_agents(it.token, shown_alive))
    recorder = network.rpc.backends.recorder
    recorder.inc("neutron_agents_down_total", float(down))
    recorder.inc("neutron_agents_shown_down_total", float(shown))


def create_and_delete_image(it: Iteration) -> Generator[Event, Any, None]:
    images = it.cloud.images
    image = yield from it.action("glance.create_image", images.create(it.token))
    yield from it.action("glance.delete_image", images.delete(it.token, image))


def create_and_delete_stack(it: Iteration) -> Generator[Event, Any, None]:
    heat = it.cloud.orchestration
    servers = int(it.args.get("servers", 1))
    deployments = int(it.args.get("software_deployments", 0))
    # the template: servers on the tenant's network, the first ``deployments`` of them with a
    # SoftwareDeployment (os-collect-config polls for it and signals it done)
    template = StackTemplate(network=False, servers=tuple(StackServer(role="server", deployment=i < deployments)
                                                          for i in range(servers)))

    def create() -> Generator[Event, Any, str]:
        stack: str = yield from heat.create(it.token, it.project, template)
        yield from it.poll("heat.create_stack", lambda: heat.show(it.token, stack), ("CREATE_COMPLETE",),
                           STACK_POLL_SECONDS, STACK_TIMEOUT_SECONDS)
        return stack

    def delete(stack: str) -> Generator[Event, Any, None]:
        yield from heat.delete(it.token, it.project, stack)
        yield from it.poll("heat.delete_stack", lambda: heat.show(it.token, stack), ("DELETE_COMPLETE",),
                           STACK_POLL_SECONDS, STACK_TIMEOUT_SECONDS)

    stack = yield from it.action("heat.create_stack", create())
    yield from it.action("heat.delete_stack", delete(stack))


SCENARIO_BODIES: dict[str, Callable[[Iteration], Generator[Event, Any, None]]] = {
    "Authenticate.keystone": authenticate,
    "KeystoneBasic.create_user": create_user,
    "NovaServers.boot_and_delete_server": boot_and_delete_server,
    "NovaServers.boot_and_list_server": boot_and_list_server,
    "NovaServers.boot_server": boot_server,
    "NovaServers.boot_and_live_migrate_server": boot_and_live_migrate_server,
    "NeutronNetworks.create_and_list_networks": create_and_list_networks,
    "NeutronNetworks.list_agents": list_agents,
    "GlanceImages.create_and_delete_image": create_and_delete_image,
    "HeatStacks.create_and_delete_stack": create_and_delete_stack,
}
