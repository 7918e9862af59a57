"""Nova: nova-api, nova-conductor, nova-scheduler and nova-compute on every compute node.

Boot (POST /servers): nova-api checks the token, reserves quota (a write to the project's
quota rows, retried on deadlock: Newton's quota_reserve is decorated), creates the instance
(a second per-project write, the report's undecorated path unless
``nova.retry_undecorated_paths``), and casts build_instances to a conductor. The conductor calls
nova-scheduler's select_destinations (host states read from the DB and every compute filtered
and weighed: CPU grows with computes), then casts the build to the chosen compute. The compute
takes one of its ``max_concurrent_builds`` slots, creates the port in neutron, fetches the image
record from glance, spawns the guest, waits for its port to be wired by the host's OVS agent
(network-vif-plugged, ``vif_plugging_timeout``), and has the conductor save the instance ACTIVE.
Every compute sends its service heartbeat through the conductor every ``report_interval`` and
its resources every ``resource_update_interval``: background load that grows with computes.
Not modelled: placement (Newton's resource tracker writes only), each compute's own RPC queue,
the scheduler's choice (computes are picked at random: placement is not the question here).
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from scalelab.components.openstack.api import Api, Request
from scalelab.components.openstack.errors import ServiceError, fire
from scalelab.components.openstack.identity import Identity
from scalelab.sim import Engine, Event, Slots
from scalelab.spec.openstack import OpenStack

if TYPE_CHECKING:
    from scalelab.components.openstack.network import Images, Network


def transaction(queries: int, *writes: str, retry: bool = False) -> Any:
    """An RPC handler that runs one transaction in the worker that took the message."""

    def handler(req: Request) -> Generator[Event, Any, None]:
        yield from req.db(queries, writes, retry=retry)

    return handler


class Compute:
    def __init__(self, engine: Engine, cloud: OpenStack, identity: Identity, api: Api, conductor: Api, scheduler: Api,
                 rng: np.random.Generator) -> None:
        self.engine = engine
        self.cloud = cloud
        self.spec = cloud.nova
        computes = cloud.computes
        self.identity = identity
        self.api = api
        self.conductor = conductor
        self.scheduler = scheduler
        self.computes = computes
        self.rng = rng
        self.builds = [Slots(engine, self.spec.max_concurrent_builds) for _ in range(computes)]
        #: every nova-compute's AMQP connection
        self.connections = [conductor.backends.broker.connection(f"nova-compute-{i}") for i in range(computes)]
        self.status: dict[str, str] = {}
        self.hosts: dict[str, int] = {}  # server -> its compute, once its port is wired
        self.servers: dict[str, set[str]] = {}  # project -> its servers
        self._count = 0
        self.forced: dict[str, int] = {}  # server -> the compute its boot forced
        self.own_port: set[str] = set()  # servers booted on a port their caller created
        self.network: Network
        self.images: Images
        self.service_token = "nova-service"

    def start_background(self) -> None:
        """Every compute's heartbeats and resource updates, each at a random phase."""
        for compute in range(self.computes):
            self.engine.schedule(float(self.rng.uniform(0, self.spec.report_interval)), self._heartbeat, compute)
            self.engine.schedule(float(self.rng.uniform(0, self.spec.resource_update_interval)),
                                 self._resources, compute)

    def _heartbeat(self, compute: int) -> None:
        self.conductor.notify(transaction(2, f"service:{compute}"), self.connections[compute])
        self.engine.schedule(self.spec.report_interval, self._heartbeat, compute)

    def _resources(self, compute: int) -> None:
        self.conductor.notify(transaction(6, f"compute_node:{compute}"), self.connections[compute])
        self.engine.schedule(self.spec.resource_update_interval, self._resources, compute)

    # -- the API ----------------------------------------------------------------------
    def discover(self, token: str, client: str | None = None) -> Generator[Event, Any, None]:
        """GET / as novaclient does when it is built: the version document's links carry the
        scheme nova-api believes the client used (``OpenStack.nova_link_scheme``); an http://
        link behind the https-only ingress is one the client cannot follow."""
        cloud = self.cloud

        def path(req: Request) -> Generator[Event, Any, str]:
            yield from self.identity.check(req, token)
            return cloud.nova_link_scheme()

        scheme = yield from self.api.request(path, client or token)
        if cloud.ingress_tls and scheme != "https":
            self.api.backends.recorder.inc("nova_client_link_failures_total")
            raise ServiceError("novaclient: the version document links to http://...:8443/v2.1/ behind the https "
                               "ingress (secure_proxy_ssl_header does not name its header)")

    def boot(self, token: str, project: str, host: int | None = None,
             port_ready: bool = False, client: str | None = None) -> Generator[Event, Any, str]:
        """POST /servers; returns the server id (BUILD), raises when the API fails. ``host``
        forces the compute (``availability_zone: nova:<host>``: the scheduler still runs and
        takes it); ``port_ready``: the server boots on a port its caller created (Heat's
        OS::Neutron::Port), so the compute creates none."""
        self._count += 1
        server = f"server-{self._count}"
        spec = self.spec
        if host is not None:
            self.forced[server] = host
        if port_ready:
            self.own_port.add(server)

        def path(req: Request) -> Generator[Event, Any, str]:
            yield from self.identity.check(req, token)
            yield from req.db(4, (f"quota:{project}",), retry=True)  # quota_reserve
            yield from req.db(6, (f"quota_usage:{project}",), retry=spec.retry_undecorated_paths)
            self.status[server] = "BUILD"
            self.servers.setdefault(project, set()).add(server)
            yield from req.cast(self.conductor, self._build_handler(server, project, token))
            return server

        return str((yield from self.api.request(path, client or token)))

    def show(self, token: str, server: str, client: str | None = None) -> Generator[Event, Any, str]:
        """GET /servers/ID: the server's status (DELETED once gone)."""

        def path(req: Request) -> Generator[Event, Any, str]:
            yield from self.identity.check(req, token)
            yield from req.db(3)
            return self.status.get(server, "DELETED")

        return str((yield from self.api.request(path, client or token)))

    def list(self, token: str, project: str, client: str | None = None) -> Generator[Event, Any, int]:
        """GET /servers/detail of the project: cost grows with its servers."""
        spec = self.spec

        def path(req: Request) -> Generator[Event, Any, int]:
            yield from self.identity.check(req, token)
            count = len(self.servers.get(project, ()))
            yield from req.db(3 + count // 100)
            yield req.cpu(spec.list_per_server_cpu_seconds * count)
            return count

        return int((yield from self.api.request(path, client or token)))

    def live_migrate(self, token: str, server: str, client: str | None = None) -> Generator[Event, Any, None]:
        """POST /servers/ID/action os-migrateLive: the conductor asks the scheduler for a
        destination and casts to the source compute, which connects to the destination's
        libvirtd at the address nova gives it (``live_migration_inbound_addr``, else the host's
        name, which resolves to its first interface). An address on a network libvirtd does not
        listen on fails the migration: the server stays ACTIVE where it was, the migration is
        in error. Returns when the migration has ended (Rally waits for it)."""
        done = self.engine.event()

        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            yield from req.db(3, (f"instance:{server}",))
            self.status[server] = "MIGRATING"
            self.engine.process(self._migrate(server, done))

        yield from self.api.request(path, client or token)
        failure = yield done
        if failure:
            raise ServiceError(failure)

    def _migrate(self, server: str, done: Event) -> Generator[Event, Any, None]:
        addr, listen = self.cloud.migration_network(), self.cloud.libvirt_listen_network
        try:
            yield from self.scheduler.handle(self._select_destinations)  # the conductor asks the scheduler
            if addr != listen:
                self.conductor.backends.recorder.inc("live_migrations_failed_total")
                self.status[server] = "ACTIVE"
                done.succeed(f"live migration failed: libvirtd of the destination does not listen on the {addr} "
                             f"network (it listens on {listen})")
                return
            yield self.engine.timeout(self.spec.live_migration_seconds)
            yield from self.conductor.handle(transaction(3, f"instance:{server}"))
        except ServiceError as error:
            self.status[server] = "ACTIVE"
            done.succeed(f"live migration failed: {error}")
            return
        self.status[server] = "ACTIVE"
        done.succeed(None)

    def delete(self, token: str, server: str, project: str, client: str | None = None) -> Generator[Event, Any, None]:
        """DELETE /servers/ID: marked deleting, torn down on its compute, then gone."""

        def path(req: Request) -> Generator[Event, Any, None]:
            yield from self.identity.check(req, token)
            yield from req.db(3, (f"instance:{server}",))
            self.status[server] = "DELETING"
            self.engine.process(self._destroy(server, project))

        yield from self.api.request(path, client or token)

    def _destroy(self, server: str, project: str) -> Generator[Event, Any, None]:
        yield self.conductor.backends.broker.route()
        yield self.engine.timeout(self.spec.destroy_seconds)
        host = self.hosts.pop(server, None)
        if host is not None:
            self.network.unwire(project, host)
        conn = self.connections[host] if host is not None else None
        with contextlib.suppress(ServiceError):  # nova logs it and goes on; the port leaks
            yield from self.network.delete_port(self.service_token, server, project,
                                                client=self.session(host) if host is not None else None)
        try:
            # the quota commit of the delete: another per-project write without a retry
            # decorator in Newton (one of the report's undecorated paths)
            yield from self.conductor.handle(transaction(4, f"quota_usage:{project}",
                                                         retry=self.spec.retry_undecorated_paths), conn=conn)
        except ServiceError:
            self._failed(server)
            return
        self.status.pop(server, None)
        self.own_port.discard(server)
        self.servers.get(project, set()).discard(server)

    def _build_handler(self, server: str, project: str, token: str) -> Any:
        def handler(req: Request) -> Generator[Event, Any, None]:
            try:
                reply = yield from req.call(self.scheduler, self._select_destinations, "scheduler.select_destinations")
                host = self.forced.pop(server, int(reply))
                self.engine.process(self._spawn(host, server, project, token))
            except ServiceError:
                self._failed(server)

        return handler

    def _select_destinations(self, req: Request) -> Generator[Event, Any, int]:
        yield from req.db(2)  # compute_nodes and services: every host state
        yield req.cpu(self.spec.scheduler_per_host_cpu_seconds * self.computes)
        return int(self.rng.integers(self.computes))

    @staticmethod
    def session(host: int) -> str:
        """A nova-compute's neutron and glance clients: one keystoneauth session per process
        (nova's neutron client keeps it in a module global)."""
        return f"nova-compute:{host}"

    def _failed(self, server: str) -> None:
        if server in self.status:
            self.status[server] = "ERROR"

    def _spawn(self, host: int, server: str, project: str, token: str) -> Generator[Event, Any, None]:
        """The build on the compute: the port and the image record are asked for with the
        user's token (nova's neutron and glance clients use the request context's token)."""
        yield self.conductor.backends.broker.route()
        slot = self.engine.event()
        self.builds[host].acquire(lambda: fire(slot))
        yield slot
        try:
            if server not in self.own_port:
                yield from self.network.create_port(token, server, project, client=self.session(host))
            yield from self.images.show(token, client=self.session(host))
            yield self.engine.timeout(self.spec.spawn_seconds)
            deadline = self.engine.now + self.spec.vif_plugging_timeout
            wired = yield from self.network.wire(server, project, host, deadline)
            if not wired:
                raise ServiceError("VirtualInterfaceCreateException: timed out waiting for network-vif-plugged")
            self.hosts[server] = host
            yield from self.conductor.handle(transaction(3, f"instance:{server}"), conn=self.connections[host])
        except ServiceError:
            self._failed(server)
            return
        finally:
            self.builds[host].release()
        if self.status.get(server) == "BUILD":
            self.status[server] = "ACTIVE"
