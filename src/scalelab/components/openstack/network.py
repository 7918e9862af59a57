"""neutron-server (API and RPC workers) and glance-api.

Neutron's port create allocates an address from the subnet (Newton's IPAM writes the subnet's
availability rows: parallel creates on one subnet write the same rows) and is retried on
DBDeadlock by ``retry_if_session_inactive`` when oslo.db maps the wsrep error. Every compute's
OVS agent reports its state every ``agent_report_interval`` to the RPC workers (a DB write).
Glance stores an image (metadata rows, the upload, the active state) and serves image records.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from scalelab.components.openstack.api import Api, Request
from scalelab.components.openstack.identity import Identity
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

    def start_background(self) -> None:
        for agent in range(self.agents):
            self.engine.schedule(float(self.rng.uniform(0, self.spec.agent_report_interval)), self._report, agent)

    def _report(self, agent: int) -> None:
        def handler(req: Request) -> Generator[Event, Any, None]:
            yield from req.db(2, (f"agent:{agent}",))

        self.rpc.notify(handler)
        self.engine.schedule(self.spec.agent_report_interval, self._report, agent)

    def create_network(self, token: str, project: str) -> Generator[Event, Any, str]:
        """POST /v2.0/networks (and its subnet, as Rally's network context makes one)."""
        self._count += 1
        network = f"net-{self._count}"

        def path(req: Request) -> Generator[Event, Any, str]:
            yield from self.identity.check(req, token)
            yield from req.db(5, (f"network:{network}",), retry=True)
            self.networks.setdefault(project, []).append(network)
            return network

        return str((yield from self.api.request(path)))

    def list_networks(self, token: str, project: str) -> Generator[Event, Any, int]:
        def path(req: Request) -> Generator[Event, Any, int]:
            yield from self.identity.check(req, token)
            count = len(self.networks.get(project, ()))
            yield from req.db(2 + count // 100)
            yield req.cpu(0.0005 * count)  # a network in the response: ~0.5 ms (assumption)
            return count

        return int((yield from self.api.request(path)))

    def create_port(self, token: str, server: str, project: str) -> Generator[Event, Any, None]:
        """POST /v2.0/ports on the project's network (its subnet's address rows)."""
        subnet = f"subnet:{project}"

        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            yield from req.db(6, (subnet,), retry=True)

        yield from self.api.request(path)

    def delete_port(self, token: str, server: str, project: str) -> Generator[Event, Any, None]:
        subnet = f"subnet:{project}"

        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            yield from req.db(4, (subnet,), retry=True)

        yield from self.api.request(path)


class Images:
    def __init__(self, engine: Engine, spec: Glance, identity: Identity, api: Api) -> None:
        self.engine = engine
        self.spec = spec
        self.identity = identity
        self.api = api
        self._count = 0

    def create(self, token: str) -> Generator[Event, Any, str]:
        """Create, upload and activate an image (Rally's create_image)."""
        self._count += 1
        image = f"image-{self._count}"

        def path(req: Request) -> Generator[Event, Any, str]:
            yield from self.identity.check(req, token)
            yield from req.db(3, (f"image:{image}",))
            yield self.engine.timeout(self.spec.upload_seconds)  # the upload is I/O: the thread is free
            yield from req.db(2, (f"image:{image}",))
            return image

        return str((yield from self.api.request(path)))

    def delete(self, token: str, image: str) -> Generator[Event, Any, None]:
        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            yield from req.db(3, (f"image:{image}",))

        yield from self.api.request(path)

    def show(self, token: str) -> Generator[Event, Any, None]:
        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            yield from req.db(2)

        yield from self.api.request(path)
