"""Heat: heat-api, heat-api-cfn and heat-engine, and stacks as the engine builds them.

Stack create (POST /stacks): heat-api checks the token and *calls* heat-engine's create_stack
over RPC with its ``rpc_response_timeout``. The engine validates every server (its image and
flavor through glance and nova, as the stack's owner: the report's "RPC timeouts during Heat
resources validation" when the engine is slow to answer), stores the stack, replies, then
builds the resources in dependency order: the stack's user in the stack-user domain (when a
server authenticates back: SoftwareDeployment, WaitCondition handle), the network and subnet,
then per server its port, the server (polled through nova until ACTIVE, every
``poll_interval``), its SoftwareConfig and SoftwareDeployment (the deployment written into the
server's metadata) and its WaitCondition. A deployment completes when the guest signals it
through heat-api-cfn (CFN_SIGNAL), a wait condition when the guest signals its handle through
heat-api; the guests' side is ``scalelab.components.openstack.guest``. The first failure fails
the stack (CREATE_FAILED); a wait condition not signalled within the template's timeout, or a
deployment within the stack's, is a failure.

``convergence_engine``: off, the engine worker that took the stack runs every resource step
itself; on (Newton's default), each step is a check_resource message through the broker to any
engine worker, and each writes its sync point: more messages and writes for the same stack.
A server with several deployments (``StackServer.deployments``) has each pushed into its
resource row's metadata by a compare-and-swap on the row's atomic_key (heat 7.0.0
``_push_metadata_software_deployments``): the push reads the row and the server's committed
deployments, and writes them with the key it read. Under the legacy engine the stack's task
runner creates the deployments one after another (each create is a blocking call to the
engine); under convergence each is its own check_resource message, so a server's deployments
are pushed at once and a push can find the key moved by a sibling's. Newton then retries
against the key it first read (``metadata_push_retry`` "newton": 11 attempts, 0-2 ms apart)
and fails for good (ConcurrentTransaction: the deployment and its stack fail, and the server's
metadata holds only what the winning push read); "fixed" refreshes the row and succeeds.
The report's metadata race is also kept as the empirical fault ``heat_metadata_race`` (a
share of the metadata pushes lost, convergence on only) for scenarios that inject it
(``openstack-200``); the catalogue entry runs the mechanism alone. Not
modelled: the engine's own polling of in-progress resources (a signal completes its resource
at once), stack updates, nested stacks.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalelab.components.openstack.api import Api, Request
from scalelab.components.openstack.compute import Compute
from scalelab.components.openstack.errors import ServiceError, Unavailable
from scalelab.components.openstack.identity import Identity
from scalelab.components.openstack.network import Images, Network
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine, Event
from scalelab.spec.openstack import OpenStack
from scalelab.spec.slices import StackServer, StackTemplate

IN_PROGRESS = "CREATE_IN_PROGRESS"
#: heat 7.0.0 ``retry_on_conflict``: attempts, and the most a retry waits (``retrying``'s
#: wait_random_max is in milliseconds: 2.0 is 2 ms; 7.0.5 made it 2000, 2 s)
PUSH_ATTEMPTS = 11
PUSH_WAIT_MAX = {"newton": 0.002, "fixed": 2.0}


@dataclass
class ServerRow:
    """A server's resource row as its deployments' metadata pushes see it."""

    #: the row's atomic_key (every successful push moves it)
    key: int = 0
    #: the deployments its rsrc_metadata lists
    listed: frozenset[str] = frozenset()
    #: the server's software_deployment rows committed so far
    committed: set[str] = field(default_factory=set)


@dataclass
class Stack:
    """One stack's state in the engine, and the events its guests' signals fire."""

    name: str
    project: str
    token: str
    template: StackTemplate
    host: int | None
    status: str = IN_PROGRESS
    reason: str = ""
    network: str | None = None
    servers: list[str] = field(default_factory=list)
    #: server -> its deployment is in the server's stored metadata (False: the push was lost)
    metadata: dict[str, bool] = field(default_factory=dict)
    #: servers whose guest received its deployment
    received: set[str] = field(default_factory=set)
    #: servers whose deployment was pushed into their metadata (received or not)
    deployed_to: set[str] = field(default_factory=set)
    #: (server, "deployment" | "wait_condition") -> fired by the guest's signal
    signals: dict[tuple[str, str], Event] = field(default_factory=dict)
    #: server -> its resource row, for the deployments' pushes
    rows: dict[str, ServerRow] = field(default_factory=dict)

    @property
    def user(self) -> str:
        return f"{self.name}-user"

    @property
    def clients(self) -> str:
        """heat-engine's clients of this stack's operation (one keystoneauth session of its
        context, dropped when the operation ends)."""
        return f"heat-engine:{self.name}"


class Orchestration:
    def __init__(self, engine: Engine, cloud: OpenStack, identity: Identity, api: Api, engine_api: Api,
                 cfn_api: Api | None, compute: Compute, network: Network, images: Images, recorder: Recorder,
                 rng: np.random.Generator) -> None:
        self.engine = engine
        self.cloud = cloud
        self.spec = cloud.heat
        self.identity = identity
        self.api = api
        self.engine_api = engine_api
        self.cfn_api = cfn_api
        #: the clients' kept-alive connections (heat-engine's per stack among them)
        self.http = api.backends.http
        self.compute = compute
        self.network = network
        self.images = images
        self.recorder = recorder
        self.rng = rng
        self.stacks: dict[str, Stack] = {}
        #: the empirical heat_metadata_race fault: the share of metadata pushes lost (with
        #: convergence on)
        self.metadata_loss_share = 0.0
        self.guests: Any = None  # the guests' agents (set by the layer: they call back here)
        self._count = 0

    # -- stack create -------------------------------------------------------------------
    def create(self, token: str, project: str, template: StackTemplate,
               host: int | None = None) -> Generator[Event, Any, str]:
        """POST /stacks; returns the stack's name once the engine accepted it. ``host``:
        every server goes to that compute (the report's slice per node)."""
        self._count += 1
        stack = Stack(f"stack-{self._count}", project, token, template, host)

        def engine_create(req: Request) -> Generator[Event, Any, str]:
            for _ in template.servers:  # validation: image and flavor of every server
                yield from self.images.show(token, client=stack.clients)
                yield from self.compute.show(token, "flavor", client=stack.clients)
                yield req.cpu(self.spec.resource_cpu_seconds)
            yield from req.db(3 + 2 * len(template.servers), (f"stack:{stack.name}",))
            self.stacks[stack.name] = stack
            self.engine.process(self._build(stack))
            return stack.name

        def path(req: Request) -> Generator[Event, Any, str]:
            yield from self.identity.check(req, token)
            return str((yield from req.call(self.engine_api, engine_create, "heat.engine.create_stack")))

        return str((yield from self.api.request(path, token)))

    def _step(self, stack: Stack, resource: str, queries: int, *writes: str) -> Generator[Event, Any, None]:
        """One step of a resource in the engine (its row written): in the worker that runs the
        stack (legacy), or as a check_resource message to any worker with the resource's sync
        point written (convergence). Sync points are written per resource here: their
        concurrent updates of a shared row are not modelled as conflicts."""
        convergence = self.spec.convergence_engine
        row = f"resource:{stack.name}/{resource}"

        def handler(req: Request) -> Generator[Event, Any, None]:
            yield req.cpu(self.spec.resource_cpu_seconds)
            yield from req.db(queries, (row, *writes))
            if convergence:
                yield from req.db(2, (f"sync_point:{stack.name}/{resource}",))

        yield from self.engine_api.handle(handler, routed=convergence)

    def _build(self, stack: Stack) -> Generator[Event, Any, None]:
        template = stack.template
        try:
            if template.needs_stack_user:
                yield from self.identity.create_stack_user(self.spec, stack.name)
            if template.network:
                yield from self._step(stack, "net", 2)
                stack.network = yield from self.network.create_network(stack.token, stack.project, stack.clients)
                yield from self._step(stack, "subnet", 2)
                yield from self.network.create_subnet(stack.token, stack.network, stack.clients)
        except ServiceError as error:
            self._fail(stack, str(error))
            return
        deadline = self.engine.now + self.spec.stack_timeout
        servers = [self.engine.process(self._server(stack, i, s, deadline)) for i, s in enumerate(template.servers)]
        yield self.engine.all_of(servers)
        if stack.status != IN_PROGRESS:
            return
        try:
            yield from self._step(stack, "stack", 3, f"stack:{stack.name}")
        except ServiceError as error:
            self._fail(stack, str(error))
            return
        if stack.status == IN_PROGRESS:
            stack.status = "CREATE_COMPLETE"
            self._ended(stack)

    def _fail(self, stack: Stack, reason: str) -> None:
        if stack.status == IN_PROGRESS:
            stack.status = "CREATE_FAILED"
            stack.reason = reason
            self.recorder.event(self.engine.now, "stack_failed", f"{stack.name}: {reason}")
            self._ended(stack)

    def _ended(self, stack: Stack) -> None:
        """The stack's create ended: its servers that never got their deployment are counted
        (once: their guests stop polling a stack no longer being created)."""
        if self.http is not None:
            self.http.close_client(stack.clients)
        missing = stack.deployed_to - stack.received
        if missing:
            self.recorder.inc("heat_vms_without_metadata_total", float(len(missing)))

    def _server(self, stack: Stack, index: int, server_spec: StackServer,
                deadline: float) -> Generator[Event, Any, None]:
        """A server's resources: its port, the server, its deployment and wait condition."""
        try:
            if stack.template.network:
                yield from self._step(stack, f"port{index}", 2)
                yield from self.network.create_port(stack.token, f"{stack.name}-{index}", stack.project,
                                                    stack.network, client=stack.clients)
            yield from self._step(stack, f"server{index}", 2)
            server = yield from self.compute.boot(stack.token, stack.project, stack.host,
                                                  port_ready=stack.template.network, client=stack.clients)
            stack.servers.append(server)
            status = yield from self._wait(stack, server, ("ACTIVE", "ERROR", "DELETED"), deadline)
            if status != "ACTIVE":
                raise ServiceError(f"{server} went to {status}")
            yield from self._step(stack, f"server{index}", 2)
            if server_spec.deployment:
                yield from self._deploy(stack, index, server, server_spec.deployments)
            yield from self._await_signals(stack, index, server, server_spec, deadline)
        except ServiceError as error:
            self._fail(stack, str(error))

    def _deploy(self, stack: Stack, index: int, server: str, count: int) -> Generator[Event, Any, None]:
        """The server's SoftwareConfigs and SoftwareDeployments, each pushed into the server's
        metadata: one after another (legacy), all at once (convergence); then whether the
        metadata lists them all (and the empirical fault's loss, convergence on)."""
        row = stack.rows.setdefault(server, ServerRow())
        names = [f"deployment{index}"] if count == 1 else [f"deployment{index}.{k}" for k in range(count)]
        errors: list[ServiceError] = []
        if self.spec.convergence_engine and count > 1:
            yield self.engine.all_of([self.engine.process(self._create_deployment(stack, index, server, row, name,
                                                                                 errors))
                                      for name in names])
        else:
            for name in names:
                yield from self._create_deployment(stack, index, server, row, name, errors)
                if errors:
                    break
        lost = (self.spec.convergence_engine and self.metadata_loss_share > 0
                and float(self.rng.random()) < self.metadata_loss_share)
        if lost:
            self.recorder.inc("heat_metadata_lost_total")
        stack.metadata[server] = row.listed >= set(names) and not lost
        if errors:
            raise errors[0]

    def _create_deployment(self, stack: Stack, index: int, server: str, row: ServerRow, name: str,
                           errors: list[ServiceError]) -> Generator[Event, Any, None]:
        config = name.replace("deployment", "config", 1)  # its SoftwareConfig: config0, config0.1, ...
        try:
            yield from self._step(stack, config, 2)
            yield from self._step(stack, name, 3)
            row.committed.add(name)
            yield from self._push_metadata(stack, index, server, row)
        except ServiceError as error:
            errors.append(error)

    def _push_metadata(self, stack: Stack, index: int, server: str, row: ServerRow) -> Generator[Event, Any, None]:
        """The engine's push of the server's committed deployments into its resource row: read
        the row and the deployments, write them if the row's atomic_key is still the one read
        (heat 7.0.0 ``_push_metadata_software_deployments``), retried on a conflict as
        ``metadata_push_retry`` says; the sync point written after it under convergence."""
        convergence = self.spec.convergence_engine
        stale = self.spec.metadata_push_retry == "newton"
        wait_max = PUSH_WAIT_MAX[self.spec.metadata_push_retry]
        resource = f"resource:{stack.name}/server{index}"

        def handler(req: Request) -> Generator[Event, Any, None]:
            yield req.cpu(self.spec.resource_cpu_seconds)
            key: int | None = None
            for attempt in range(1, PUSH_ATTEMPTS + 1):
                if key is None or not stale:  # Newton's session keeps the row it first read
                    key = row.key
                listed = frozenset(row.committed)
                yield from req.db(3, (resource,))
                if row.key == key:
                    row.key += 1
                    row.listed = listed
                    stack.deployed_to.add(server)
                    break
                self.recorder.inc("heat_metadata_push_conflicts_total")
                if attempt == PUSH_ATTEMPTS:
                    self.recorder.inc("heat_metadata_push_failures_total")
                    stack.deployed_to.add(server)
                    raise ServiceError(f"ConcurrentTransaction: deployments of server {server}")
                yield self.engine.timeout(float(self.rng.uniform(0.0, wait_max)))
            if convergence:
                yield from req.db(2, (f"sync_point:{stack.name}/server{index}",))

        yield from self.engine_api.handle(handler, routed=convergence)

    def _await_signals(self, stack: Stack, index: int, server: str, server_spec: StackServer,
                       deadline: float) -> Generator[Event, Any, None]:
        waits: dict[str, Event] = {}
        if server_spec.deployment:
            waits["deployment"] = self.engine.event()
        if server_spec.wait_condition:
            yield from self._step(stack, f"handle{index}", 2)  # with its stack-user credentials
            yield from self._step(stack, f"wait{index}", 2)
            waits["wait_condition"] = self.engine.event()
        if not waits:
            return
        for kind, event in waits.items():
            stack.signals[(server, kind)] = event
        self.guests.start(stack, server, server_spec)
        limit = deadline - self.engine.now
        if server_spec.wait_condition:
            limit = min(limit, stack.template.wait_condition_timeout)
        done = self.engine.all_of(list(waits.values()))
        yield self.engine.any_of([done, self.engine.timeout(max(limit, 0.0))])
        if not done.triggered:
            missing = [kind for kind, event in waits.items() if not event.triggered]
            what = "WaitCondition timed out" if "wait_condition" in missing else "SoftwareDeployment timed out"
            raise ServiceError(f"{what} ({server}: no signal)")

    def _wait(self, stack: Stack, server: str, final: tuple[str, ...], deadline: float) -> Generator[Event, Any, str]:
        """Poll the server through nova until its status is one of ``final`` (or time out)."""
        while self.engine.now < deadline:
            try:
                status = yield from self.compute.show(stack.token, server, client=stack.clients)
            except ServiceError:
                status = "UNKNOWN"
            if status in final:
                return status
            yield self.engine.timeout(self.spec.poll_interval)
        return "TIMEOUT"

    # -- the guests' callbacks --------------------------------------------------------------
    def _engine_call(self, req: Request, queries: int, topic: str, *writes: str) -> Generator[Event, Any, None]:
        def handler(engine_req: Request) -> Generator[Event, Any, None]:
            yield engine_req.cpu(self.spec.resource_cpu_seconds)
            yield from engine_req.db(queries, writes)

        yield from req.call(self.engine_api, handler, topic)

    def describe(self, stack: Stack, server: str) -> Generator[Event, Any, bool]:
        """GET metadata through heat-api-cfn, signed with the stack user's EC2 keypair (as
        cfn-init and os-collect-config ask): whether the server's deployment is in it."""
        if self.cfn_api is None:
            raise Unavailable("heat-api-cfn: not deployed")
        cfn = self.cfn_api

        def path(req: Request) -> Generator[Event, Any, bool]:
            yield from self.identity.ec2_authenticate(stack.user)
            yield from self._engine_call(req, 3, "heat.engine.describe_stack_resource")
            return stack.metadata.get(server, False)

        return bool((yield from cfn.request(path)))

    def cfn_signal(self, stack: Stack, server: str) -> Generator[Event, Any, None]:
        """POST to heat-api-cfn's waitcondition URL (the deployment's CFN_SIGNAL)."""
        if self.cfn_api is None:
            raise Unavailable("heat-api-cfn: not deployed")

        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.ec2_authenticate(stack.user)
            yield from self._engine_call(req, 3, "heat.engine.resource_signal", f"deployment:{server}")

        yield from self.cfn_api.request(path)
        self._signalled(stack, server, "deployment")

    def heat_signal(self, stack: Stack, server: str) -> Generator[Event, Any, None]:
        """The wait condition handle's signal: the stack user's token, then a POST to heat-api."""
        token = yield from self.identity.issue(stack.user)

        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            yield from self._engine_call(req, 3, "heat.engine.resource_signal", f"handle:{server}")

        yield from self.api.request(path)
        self._signalled(stack, server, "wait_condition")

    @staticmethod
    def _signalled(stack: Stack, server: str, kind: str) -> None:
        event = stack.signals.get((server, kind))
        if event is not None and not event.triggered:
            event.succeed(None)

    # -- show and delete ----------------------------------------------------------------
    def show(self, token: str, stack_name: str) -> Generator[Event, Any, str]:
        """GET /stacks/NAME/ID: an RPC call to an engine reading the stack and its resources."""
        stack = self.stacks.get(stack_name)

        def engine_show(req: Request) -> Generator[Event, Any, str]:
            yield from req.db(2 + (len(stack.servers) if stack else 0))
            yield req.cpu(self.spec.resource_cpu_seconds)
            return stack.status if stack is not None else "DELETE_COMPLETE"

        def path(req: Request) -> Generator[Event, Any, str]:
            yield from self.identity.check(req, token)
            return str((yield from req.call(self.engine_api, engine_show, "heat.engine.show_stack")))

        return str((yield from self.api.request(path, token)))

    def delete(self, token: str, project: str, stack_name: str) -> Generator[Event, Any, None]:
        """DELETE /stacks/NAME/ID: cast to an engine, which deletes the servers."""

        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            stack = self.stacks.get(stack_name)
            if stack is not None:
                stack.status = "DELETE_IN_PROGRESS"
                self.engine.process(self._teardown(stack, token))

        yield from self.api.request(path, token)

    def _teardown(self, stack: Stack, token: str) -> Generator[Event, Any, None]:
        try:
            waits = []
            deadline = self.engine.now + self.spec.stack_timeout
            for server in stack.servers:
                yield from self.compute.delete(token, server, stack.project, client=stack.clients)
                waits.append(self.engine.process(self._wait(stack, server, ("DELETED",), deadline)))
            yield self.engine.all_of(waits)
            yield from self._step(stack, "stack", 3, f"stack:{stack.name}")
            self.stacks.pop(stack.name, None)
        except ServiceError:
            stack.status = "DELETE_FAILED"
        finally:
            if self.http is not None:
                self.http.close_client(stack.clients)
