"""neutron-server (API and RPC workers) and glance-api.

Neutron's port create allocates an address from the subnet (Newton's IPAM writes the subnet's
availability rows: parallel creates on one subnet write the same rows) and is retried on
DBDeadlock by ``retry_if_session_inactive`` when oslo.db maps the wsrep error. Every compute's
OVS agent reports its state every ``agent_report_interval`` to the RPC workers (a DB write).
Every compute's OVS agent wires the ports of the servers spawned on it: ``get_devices_details_list``
and ``update_device_up`` RPC calls to the RPC workers (the port's ACTIVE status is nova's
network-vif-plugged event, which the spawn waits for); a failed call is retried in the agent's
next loop. A port joining or leaving the project's default security group makes the server
fan ``security_groups_member_updated`` out to every agent; each agent with a port in that group
asks ``security_group_info_for_devices`` once in its next loop, and the answer's work grows with
the group's members: the refresh load grows as (hosts with the project's ports) x (members).
Glance stores an image (metadata rows, the upload, the active state) and serves image records.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from scalelab.components.openstack.api import Api, Request
from scalelab.components.openstack.errors import ServiceError
from scalelab.components.openstack.identity import Identity
from scalelab.components.openstack.rpc import Handler, call
from scalelab.sim import Engine, Event
from scalelab.spec.openstack import Glance, Neutron


class Network:
    def __init__(self, engine: Engine, spec: Neutron, identity: Identity, api: Api, rpc: Api, agents: int,
                 rng: np.random.Generator) -> None:
        self.engine = engine
        self.spec = spec
        self.identity = identity
        self.api = api
        self.rpc = rpc
        self.agents = agents
        self.rng = rng
        self.networks: dict[str, list[str]] = {}  # project -> its networks
        self._count = 0
        #: project -> {host: ports of the project's default security group on that host}
        self.members: dict[str, dict[int, int]] = {}
        #: agents with a security-group refresh due in their next loop
        self._refresh_due: set[int] = set()
        #: agent -> when its last state report was written (neutron's heartbeat_timestamp)
        self.heartbeats: dict[int, float] = {}
        #: every OVS agent's AMQP connection
        self.connections = [rpc.backends.broker.connection(f"ovs-agent-{i}") for i in range(agents)]

    def start_background(self) -> None:
        for agent in range(self.agents):
            self.engine.schedule(float(self.rng.uniform(0, self.spec.agent_report_interval)), self._report, agent)

    def _report(self, agent: int) -> None:
        def handler(req: Request) -> Generator[Event, Any, None]:
            yield from req.db(2, (f"agent:{agent}",))
            self.heartbeats[agent] = self.engine.now

        self.rpc.notify(handler, self.connections[agent])
        self.engine.schedule(self.spec.agent_report_interval, self._report, agent)

    # -- the OVS agents ------------------------------------------------------------------
    def _agent_call(self, host: int, handler: Handler, method: str) -> Generator[Event, Any, Any]:
        b = self.rpc.backends
        return (yield from call(self.engine, b.broker, self.rpc.serve, handler, self.spec.agent_rpc_response_timeout,
                                b.recorder, f"q-plugin.{method}", self.connections[host]))

    def wire(self, server: str, project: str, host: int, deadline: float) -> Generator[Event, Any, bool]:
        """The agent on ``host`` wires the server's new port; returns whether the port went
        ACTIVE before ``deadline`` (nova's vif_plugging_timeout)."""
        port = f"port:{server}"

        def details(req: Request) -> Generator[Event, Any, None]:
            yield from req.db(6, (port,))  # port, binding, network, segments, fixed ips; status BUILD

        def device_up(req: Request) -> Generator[Event, Any, None]:
            yield from req.db(4, (port,))  # status ACTIVE, provisioning block, notify nova

        while self.engine.now < deadline:
            try:
                yield from self._agent_call(host, details, "get_devices_details_list")
                yield from self._agent_call(host, device_up, "update_device_up")
            except ServiceError:
                self.rpc.backends.recorder.inc("neutron_agent_resyncs_total")
                yield self.engine.timeout(self.spec.agent_polling_interval)
                continue
            hosts = self.members.setdefault(project, {})
            hosts[host] = hosts.get(host, 0) + 1
            self._member_updated(project)
            return True
        return False

    def unwire(self, project: str, host: int) -> None:
        """The port of a deleted server leaves its group: the members change again."""
        hosts = self.members.get(project, {})
        if hosts.get(host, 0) > 0:
            hosts[host] -= 1
            if hosts[host] == 0:
                del hosts[host]
            self._member_updated(project)

    def _member_updated(self, project: str) -> None:
        """security_groups_member_updated, fanned out: each agent with a port of the group
        refreshes in its next loop (deferred: one refresh per loop however many arrive)."""
        self.rpc.backends.recorder.inc("neutron_sg_member_updates_total")
        for host in self.members.get(project, {}):
            if host not in self._refresh_due:
                self._refresh_due.add(host)
                self.engine.schedule(self.spec.agent_polling_interval, self._refresh, host, project)

    def _refresh(self, host: int, project: str) -> None:
        self._refresh_due.discard(host)
        members = sum(self.members.get(project, {}).values())
        self.rpc.backends.recorder.inc("neutron_sg_refreshes_total")
        self.rpc.backends.recorder.inc("neutron_sg_member_rows_total", members)
        spec = self.spec

        def info(req: Request) -> Generator[Event, Any, None]:
            # groups, rules and every member's address: the rows are parsed and built while
            # the connection is held
            yield from req.db(3 + members // 100, rows_cpu=spec.sg_member_cpu_seconds * members)

        self.engine.process(self._refresh_call(host, info))

    def _refresh_call(self, host: int, handler: Handler) -> Generator[Event, Any, None]:
        try:
            yield from self._agent_call(host, handler, "security_group_info_for_devices")
        except ServiceError:
            self.rpc.backends.recorder.inc("neutron_agent_resyncs_total")

    def create_network(self, token: str, project: str, client: str | None = None) -> Generator[Event, Any, str]:
        """POST /v2.0/networks (and its subnet, as Rally's network context makes one)."""
        self._count += 1
        network = f"net-{self._count}"

        def path(req: Request) -> Generator[Event, Any, str]:
            yield from self.identity.check(req, token)
            yield from req.db(5, (f"network:{network}",), retry=True)
            self.networks.setdefault(project, []).append(network)
            return network

        return str((yield from self.api.request(path, client or token)))

    def list_networks(self, token: str, project: str, client: str | None = None) -> Generator[Event, Any, int]:
        def path(req: Request) -> Generator[Event, Any, int]:
            yield from self.identity.check(req, token)
            count = len(self.networks.get(project, ()))
            yield from req.db(2 + count // 100)
            yield req.cpu(0.0005 * count)  # a network in the response: ~0.5 ms (assumption)
            return count

        return int((yield from self.api.request(path, client or token)))

    def create_subnet(self, token: str, network: str, client: str | None = None) -> Generator[Event, Any, None]:
        """POST /v2.0/subnets: the subnet, its allocation pools and availability ranges."""

        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            yield from req.db(6, (f"subnet:{network}",), retry=True)

        yield from self.api.request(path, client or token)

    def list_agents(self, token: str, shown_alive: Callable[[bool], bool]) -> Generator[Event, Any, tuple[int, int]]:
        """GET /v2.0/agents as an admin's CLI lists them: (agents down as neutron-server
        computes it, agents the CLI shows down through ``shown_alive``)."""
        spec = self.spec

        def path(req: Request) -> Generator[Event, Any, tuple[int, int]]:
            yield from self.identity.check(req, token)
            yield from req.db(2 + self.agents // 100, rows_cpu=spec.list_per_agent_cpu_seconds * self.agents)
            now = self.engine.now
            alive = [now - self.heartbeats.get(a, -math.inf) <= spec.agent_down_time for a in range(self.agents)]
            return sum(not a for a in alive), sum(not shown_alive(a) for a in alive)

        down, shown = yield from self.api.request(path, token)
        return int(down), int(shown)

    def create_port(self, token: str, server: str, project: str,
                    network: str | None = None, client: str | None = None) -> Generator[Event, Any, None]:
        """POST /v2.0/ports on ``network``'s subnet, by default the project's (its address rows)."""
        subnet = f"subnet:{network or project}"

        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            yield from req.db(6, (subnet,), retry=True)

        yield from self.api.request(path, client or token)

    def delete_port(self, token: str, server: str, project: str,
                    client: str | None = None) -> Generator[Event, Any, None]:
        subnet = f"subnet:{project}"

        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            yield from req.db(4, (subnet,), retry=True)

        yield from self.api.request(path, client or token)


class Images:
    def __init__(self, engine: Engine, spec: Glance, identity: Identity, api: Api) -> None:
        self.engine = engine
        self.spec = spec
        self.identity = identity
        self.api = api
        self._count = 0

    def create(self, token: str, client: str | None = None) -> Generator[Event, Any, str]:
        """Create, upload and activate an image (Rally's create_image)."""
        self._count += 1
        image = f"image-{self._count}"

        def path(req: Request) -> Generator[Event, Any, str]:
            yield from self.identity.check(req, token)
            yield from req.db(3, (f"image:{image}",))
            yield self.engine.timeout(self.spec.upload_seconds)  # the upload is I/O: the thread is free
            yield from req.db(2, (f"image:{image}",))
            return image

        return str((yield from self.api.request(path, client or token)))

    def delete(self, token: str, image: str, client: str | None = None) -> Generator[Event, Any, None]:
        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            yield from req.db(3, (f"image:{image}",))

        yield from self.api.request(path, client or token)

    def show(self, token: str, client: str | None = None) -> Generator[Event, Any, None]:
        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            yield from req.db(2)

        yield from self.api.request(path, client or token)
