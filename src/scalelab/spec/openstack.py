"""The ``openstack:`` section: containerized OpenStack Newton (fuel-ccp) on the cluster.

Defaults are Newton's and fuel-ccp's of late 2016, each with its source; costs are priors
(Python 2.7 + eventlet of the era, bottom-up, documented in ``docs/models/openstack.md``) until
a calibration overlay fits them. Nothing here comes from the report's own figures or from
``openstack/performance-docs``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt

from scalelab.spec.base import NonNegativeDuration, PositiveDuration, Section
from scalelab.spec.endpoints import HEAT_SERVICES, Endpoints, EndpointType, unreachable_from_vm
from scalelab.spec.identity import Identity
from scalelab.spec.units import Quantity

#: Services whose oslo.db pool and RPC timeout a scenario may override one by one (CONTRACTS.md).
SERVICES = ("keystone", "nova", "neutron", "glance", "heat")


class DbPool(Section):
    """oslo.db's engine pool of one service process (SQLAlchemy QueuePool)."""

    max_pool_size: PositiveInt = 5  # oslo.db [database] max_pool_size (Newton: 5)
    max_overflow: Annotated[int, Field(ge=0)] = 50  # oslo.db [database] max_overflow (Newton: 50)
    # oslo.db sets no pool_timeout: SQLAlchemy's QueuePool waits 30 s for a connection.
    pool_timeout: PositiveDuration = 30.0


class Service(Section):
    """What every API service shares: pods, worker processes, its own pool and RPC timeout."""

    replicas: PositiveInt = 3
    # oslo.db pool and oslo.messaging timeout of this service (None: ``openstack.db`` and
    # ``openstack.rpc_response_timeout``)
    db: DbPool | None = None
    rpc_response_timeout: PositiveDuration | None = None
    # eventlet.wsgi's default pool: greenthreads accepting requests in one worker process
    # (oslo.service wsgi_default_pool_size 100)
    greenthreads: PositiveInt = 100
    # CPU of one API request in the service (WSGI + paste pipeline + keystonemiddleware with a
    # cached token + policy + JSON), Python 2.7: ~10 ms (assumption; a calibration path)
    request_cpu_seconds: PositiveFloat = 0.010
    # the project the service user's token is scoped to ([keystone_authtoken] project_name;
    # the install guide's "service")
    auth_project: str = "service"


class Keystone(Section):
    # fuel-ccp-keystone service/files/defaults.yaml (stable/newton): 6 WSGI processes x 1 thread;
    # replicas: the report gives ~80 control-plane pods on 6 nodes, no per-service count
    # (assumption: 3).
    replicas: PositiveInt = 3
    processes: PositiveInt = 6
    threads: PositiveInt = 1
    # fuel-ccp-keystone ships fernet keys (fernet-key*.j2, fernet-rotate action)
    token_format: Literal["fernet", "uuid"] = "fernet"
    db: DbPool | None = None
    rpc_response_timeout: PositiveDuration | None = None
    # CPU of a token issue besides the password hash: user, assignments and catalog assembly,
    # token encryption: ~25 ms (assumption; the k8s-1.5 overlay fits it, docs/calibration.md)
    issue_cpu_seconds: PositiveFloat = 0.025
    # the password check: passlib sha512_crypt with [DEFAULT] crypt_strength rounds (keystone
    # 10000 since Liberty, 40000 before: keystone/conf's note measures the change as ~30 % of a
    # token issue's clock time); CPU per round ~1 us of SHA-512 in C (assumption; fitted)
    crypt_strength: PositiveInt = 10000
    hash_seconds_per_round: PositiveFloat = 1e-6
    issue_db_queries: Annotated[int, Field(ge=0)] = 8  # user, project, domain, roles, catalog (assumption)
    # CPU of validating a token keystone has not cached: fernet decrypt + payload rebuild with
    # roles and catalog (~10 ms, assumption; uuid: a row read and JSON decode, 4 ms)
    validate_cpu_seconds: PositiveFloat = 0.010
    validate_uuid_cpu_seconds: PositiveFloat = 0.004
    validate_db_queries: Annotated[int, Field(ge=0)] = 6
    # a validation served from keystone's memcached-backed token cache
    cached_validate_cpu_seconds: PositiveFloat = 0.002
    # a user created (Rally's create_user): insert user, password hash, role assignment
    create_user_cpu_seconds: PositiveFloat = 0.030
    create_user_db_queries: Annotated[int, Field(ge=0)] = 6


class Memcached(Section):
    # fuel-ccp-memcached service/files/defaults.yaml before "Bump memcached defaults a bit"
    # (2016-12-26): ram 256 (MB)
    memory: Quantity = 256 * 2**20
    # a token validation as keystonemiddleware and keystone's token cache keep it: the token
    # data with roles and the service catalog, ~8 KB of JSON for a Newton catalog of ~10
    # services x 3 interfaces, in memcached's slab for that size (assumption)
    token_entry_bytes: PositiveInt = 8 * 1024
    # a memcached get/set answered over the pod network: ~0.3 ms round trip (assumption)
    op_seconds: PositiveDuration = 0.0003
    # keystonemiddleware [keystone_authtoken] token_cache_time: a validation it cached is
    # trusted this long, then the next service that sees the token validates it again (300 s)
    token_cache_time: PositiveDuration = 300.0
    # memcached 1.4's slab allocator (slabs.c ``slabs_init``): chunk sizes grow from 96 bytes
    # (the 48-byte item header + ``-n`` 48) by ``-f`` 1.25, 8-byte aligned; an item takes the
    # smallest chunk that holds it, so an 8 KiB token entry costs an 8,880-byte chunk
    slab_growth_factor: float = Field(default=1.25, gt=1.0)
    # what an item adds to its value: the 48-byte header, the 8-byte CAS, the key (keystone's
    # dogpile keys are SHA-1 hex, keystonemiddleware's a token hash: ~64 bytes, an assumption)
    # and the " <flags> <bytes>\r\n" suffix with the data's CRLF (~8 bytes)
    item_overhead_bytes: NonNegativeInt = 128
    # memcached 1.4 ``-c`` (default 1024) is its RLIMIT_NOFILE; fuel-ccp-memcached passed no -c
    # until "Bump memcached defaults a bit" (08eec55, 2016-12-29: 16384, Closes-Bug 1653071)
    max_connections: PositiveInt = 1024
    # memcached ``-t`` (default 4): each worker thread holds 5 descriptors of that limit
    # (thread.c ``stats.reserved_fds += 5``)
    threads: PositiveInt = 4
    # keystonemiddleware [keystone_authtoken] memcache_use_advanced_pool (default False): the
    # plain pool hands out python-memcached clients, thread-locals that under eventlet open a
    # connection per greenthread; the advanced (eventlet-safe) pool keeps at most
    # ``memcache_pool_maxsize`` (10) per process
    advanced_pool: bool = False
    advanced_pool_maxsize: PositiveInt = 10
    # python-memcached's _SOCKET_TIMEOUT (3 s; the plain pool passes none) and keystone's own
    # oslo.cache memcache_pool (fuel-ccp-keystone keystone.conf.j2: memcache_socket_timeout 1,
    # memcache_pool_maxsize 30)
    socket_timeout: PositiveDuration = 3.0
    keystone_socket_timeout: PositiveDuration = 1.0
    keystone_pool_maxsize: PositiveInt = 30


class Nova(Service):
    # Newton's osapi_compute_workers and [conductor] workers default to the host's CPU count;
    # fuel-ccp sets neither. Per pod (CONTRACTS.md): the control-plane node has 48 threads.
    api_workers: PositiveInt = 48
    conductor_workers: PositiveInt = 48
    # fuel-ccp-nova nova.conf.j2 (2016-11-30) [database]: max_pool_size 50, max_overflow 1000
    db: DbPool | None = DbPool(max_pool_size=50, max_overflow=1000)
    # nova-scheduler: FilterScheduler, host states refreshed from the DB for every request;
    # CPU per compute per request for the filters and weighers (assumption: 0.3 ms)
    scheduler_per_host_cpu_seconds: PositiveFloat = 0.0003
    # nova-compute: [DEFAULT] max_concurrent_builds 10 (Newton)
    max_concurrent_builds: PositiveInt = 10
    # the spawn on the compute (image already cached, libvirt define + start, vif plug): ~6 s
    # (assumption)
    spawn_seconds: PositiveDuration = 6.0
    # how long the compute waits for neutron's network-vif-plugged event (its port wired by
    # the OVS agent and set ACTIVE) before the boot fails: vif_plugging_timeout 300 s, fatal
    # (Newton defaults)
    vif_plugging_timeout: PositiveDuration = 300.0
    # the delete on the compute (destroy domain, unplug, clean up): ~2 s (assumption)
    destroy_seconds: PositiveDuration = 2.0
    # [DEFAULT] report_interval 10 s: each compute's service heartbeat through the conductor
    report_interval: PositiveDuration = 10.0
    # update_available_resource periodic task: 60 s (Newton periodic_task_interval default)
    resource_update_interval: PositiveDuration = 60.0
    # a server in a list response (instance, its flavor, metadata, faults, info cache) costs
    # CPU in nova-api to build: ~1 ms per server (assumption)
    list_per_server_cpu_seconds: PositiveFloat = 0.001
    # [libvirt] live_migration_inbound_addr: the address other computes reach this one's
    # libvirt at for live migrations, named here by the host network it belongs to (None: the
    # host's name, which resolves to its first interface's address; live_migration_uri's
    # qemu+tcp://%s/system fills %s with that name, Newton's default)
    live_migration_inbound_addr: str | None = None
    # [libvirt] live_migration_uri as nova.conf gives it (None: Newton's default
    # qemu+tcp://%s/system); its %s is the destination's host name
    live_migration_uri: str | None = None
    # a live migration's copy of a small guest's memory once connected (~10 s, assumption)
    live_migration_seconds: PositiveDuration = 10.0
    # [DEFAULT] secure_proxy_ssl_header: the WSGI environ key of the header that tells nova-api
    # the scheme the client used behind a proxy (Newton default None: the links it returns
    # carry the scheme it was reached with)
    secure_proxy_ssl_header: str | None = None
    # oslo.db's wsrep deadlock mapping and nova's retry decorators: which boot paths retry a
    # DBDeadlock (Newton: quota reserve is decorated; the block-device/instance-extra update
    # path of the report's "at least one place in Nova" is not)
    retry_undecorated_paths: bool = False


class Neutron(Service):
    # neutron-server Newton: api_workers = CPU count, rpc_workers 1 (neutron/conf/service.py)
    api_workers: PositiveInt = 48
    rpc_workers: PositiveInt = 1
    # agents' state reports every 30 s (neutron agent report_interval)
    agent_report_interval: PositiveDuration = 30.0
    # an agent whose last report is older than this is not alive (neutron agent_down_time 75 s)
    agent_down_time: PositiveDuration = 75.0
    # neutron-server's work per agent in GET /v2.0/agents (row, its configurations JSON, the
    # alive computation): ~0.2 ms (assumption)
    list_per_agent_cpu_seconds: PositiveFloat = 0.0002
    # the OVS agent's rpc_loop runs every polling_interval (2 s, Newton); a device it failed
    # to wire is retried in the next iteration, and a security-group refresh the server asked
    # for is deferred to the next iteration (one per agent per loop, however many were asked)
    agent_polling_interval: PositiveDuration = 2.0
    # agents' own oslo.messaging rpc_response_timeout (60 s default; fuel-ccp sets none)
    agent_rpc_response_timeout: PositiveDuration = 60.0
    # Python work in the RPC worker per member of a security group when it answers
    # security_group_info_for_devices: the member's port and address rows fetched (PyMySQL
    # parses them, the ORM builds them, with the connection held) and put into the
    # remote-group rules: ~0.1 ms per member (assumption)
    sg_member_cpu_seconds: PositiveFloat = 0.0001


class AgentList(Section):
    """How the operator's CLI shows neutron agents (``neutron-agents-status``).

    neutron-server computes an agent's ``alive`` from its last state report (within
    ``agent_down_time``); neutronclient prints that field as it comes. python-openstackclient
    lists agents through openstacksdk's Agent resource and reads the field by the name its own
    column has (``alive`` in OSC 3.x); openstacksdk's refactoring exposes it as ``is_alive``
    (``Agent.is_alive = Body('alive')``): a name the CLI reads that the resource does not
    carry is formatted as down, whatever the agent does."""

    tool: Literal["openstackclient", "neutronclient"] = "neutronclient"
    osc_alive_attribute: str = "alive"  # python-openstackclient 3.x's column
    sdk_alive_attribute: str = "is_alive"  # openstacksdk's Agent resource (the refactored name)

    def shown_alive(self, alive: bool) -> bool:
        """What the CLI prints for an agent whose server-side ``alive`` is ``alive``."""
        if self.tool == "neutronclient":
            return alive
        return alive and self.osc_alive_attribute == self.sdk_alive_attribute


class Glance(Service):
    api_workers: PositiveInt = 48  # glance-api Newton: workers = CPU count
    # an image upload of Rally's cirros (13 MB) through glance-api to its store: ~1 s (assumption)
    upload_seconds: PositiveDuration = 1.0


class Heat(Service):
    # heat-api [heat_api] workers: 0 = the CPU count (Newton); fuel-ccp sets none
    api_workers: PositiveInt = 48
    # heat-engine num_engine_workers: max(CPU count, 4) (Newton)
    engine_workers: PositiveInt = 48
    convergence_engine: bool = True  # Newton's default
    # How heat-engine retries its push of a server's deployments into the server's resource row
    # (a compare-and-swap on the row's atomic_key, ``_push_metadata_software_deployments``):
    # "newton" (7.0.0-7.0.4): 11 attempts, ``retrying``'s wait_random_max=2.0 (milliseconds),
    # the row not refreshed, so a retry compares against the key it first read and fails again;
    # "fixed" (7.0.5, Ocata 8.0.2, Pike: "Corrected max secs for concurrent trans retries",
    # Partial-Bug 1651768): the row refreshed before each attempt, waits of up to 2 s
    metadata_push_retry: Literal["newton", "fixed"] = "newton"
    # CPU in heat-engine per resource handled (load template, plugin, DB writes): ~30 ms (assumption)
    resource_cpu_seconds: PositiveFloat = 0.030
    # Rally's HeatStacks polls stack status through heat-api every 1 s (rally's
    # openstack_heat_stack_create_poll_interval 1.0)
    poll_interval: PositiveDuration = 1.0
    # heat.conf stack_user_domain_name and stack_domain_admin: the domain holding the users
    # that servers of a stack authenticate as (SoftwareDeployment, WaitCondition), and the user
    # that creates them; Newton requires both (None: not configured)
    stack_user_domain: str | None = "heat"
    stack_domain_admin: str | None = "heat_domain_admin"
    # heat-api-cfn deployed with its cloudformation endpoints (the CFN API that HEAT_CFNTOOLS
    # metadata, os-collect-config's polling and CFN signals use); fuel-ccp's first Heat support
    # had none
    api_cfn: bool = True
    # heat-api-cfn worker processes per pod ([heat_api_cfn] workers; assumption: 1, as
    # heat-api-cfn's own option of the era, unverified)
    api_cfn_workers: PositiveInt = 1
    # [clients] endpoint_type (heat's default publicURL; fuel-ccp: internalURL) and
    # [clients_heat] endpoint_type (None: [clients]'s): the catalogue interface whose URLs Heat
    # writes into servers for their callbacks when heat_*_server_url are not set
    clients_endpoint_type: EndpointType = "publicURL"
    clients_heat_endpoint_type: EndpointType | None = None
    # heat.conf heat_metadata_server_url and heat_waitcondition_server_url (None: derived from
    # the catalogue's cloudformation endpoint, as Newton's heat client plugin does)
    metadata_server_url: str | None = None
    waitcondition_server_url: str | None = None
    # fuel-ccp heat.api_port.node and heat.api_cfn_port.node: node ports publishing heat-api and
    # heat-api-cfn on the Kubernetes nodes' address (None: none). Defaults: the values of
    # fuel-ccp's known-issues workaround (31777, 31778); fuel-ccp itself set none before it
    api_node_port: Annotated[int, Field(ge=1, le=65535)] | None = 31777
    api_cfn_node_port: Annotated[int, Field(ge=1, le=65535)] | None = 31778
    # the stack's timeout_mins (heat's default 60 min): a resource still in progress then fails
    stack_timeout: PositiveDuration = 3600.0
    # a guest's boot until cloud-init runs its user data and starts its agents (Ubuntu 16.04
    # cloud image on KVM: ~30 s, assumption)
    guest_boot_seconds: PositiveDuration = 30.0
    # os-collect-config's polling-interval (its default, 30 s): how often a guest asks
    # heat-api-cfn for its metadata, for as long as it runs
    collect_polling_interval: PositiveDuration = 30.0


class Galera(Section):
    nodes: PositiveInt = 3  # fuel-ccp-galera: 3-node Percona XtraDB Cluster
    threads: PositiveFloat = 48  # a control-plane node's hardware threads (report's hosts)
    # CPU of one simple indexed query in mysqld: ~0.3 ms (assumption, Percona 5.6)
    query_cpu_seconds: PositiveFloat = 0.0003
    # a commit: write-set replication to the other nodes and certification, one LAN round
    # trip plus apply (~1 ms, assumption)
    commit_seconds: PositiveDuration = 0.001
    # Does oslo.db map Percona's wsrep deadlock error to DBDeadlock? Not in Newton before the
    # fix backported after the report (oslo.db bug 1647105).
    wsrep_deadlock_mapped: bool = False
    # oslo.db wrap_db_retry on a decorated path: up to 5 retries (nova's quota_reserve uses
    # max_retries=5); oslo.db's defaults: sleep retry_interval 1 s, doubled after each retry
    # (inc_retry_interval) up to max_retry_interval 10 s; the jitter on deadlocks came in 2017
    retries: Annotated[int, Field(ge=0)] = 5
    retry_interval: PositiveDuration = 1.0
    max_retry_interval: PositiveDuration = 10.0


class RabbitMq(Section):
    # broker CPU per message routed (Erlang, 3.6): ~30 us, of the order of RabbitMQ 3.6's
    # published ~20-40 k msg/s per core (assumption)
    message_cpu_seconds: PositiveFloat = 30e-6
    threads: PositiveFloat = 48
    # fuel-ccp's heat.conf: rabbit_ha_queues = true (mirrored: every message is also copied to
    # the mirror; nova.conf says false)
    mirrored_queues: bool = True


#: Services whose pod a ``kill_service_pod`` fault may name (memcached and rabbitmq: their one
#: pod; mysql: a Galera node).
POD_SERVICES = ("keystone", "nova-api", "nova-conductor", "nova-scheduler", "neutron-server", "neutron-rpc",
                "glance-api", "heat-api", "heat-engine", "memcached", "mysql", "rabbitmq", "heat-api-cfn")


class PodLifecycle(Section):
    """How a control-plane pod goes and comes back (faults), in named parts."""

    # a killed container is seen by the kubelet's PLEG relist (1 s, kubelet 1.5), the pod's
    # Ready condition written, the endpoints controller and kube-proxy's iptables rules
    # updated: ~2 s until new connections stop reaching it (assumption built on the 1 s relist)
    endpoint_update_seconds: PositiveDuration = 2.0
    # a rebooting node's pods stay in the endpoints until the node controller marks the node
    # NotReady: kube-controller-manager 1.5 --node-monitor-grace-period 40 s
    node_monitor_grace_seconds: PositiveDuration = 40.0
    # a restarted container serving again: Python 2.7 imports, config, first DB and RPC
    # connections of an OpenStack service: ~10 s (assumption)
    start_seconds: PositiveDuration = 10.0
    # python-memcached marks a server that failed dead for dead_retry 30 s (its default; the
    # keystonemiddleware and oslo.cache clients of Newton use it): the cache stays unused that
    # long after it is back
    memcached_dead_retry_seconds: NonNegativeDuration = 30.0


class OpenStack(Section):
    enabled: bool = False
    computes: PositiveInt = 200  # report: "200 compute nodes"
    control_plane_nodes: PositiveInt = 6  # report: "~80 pods on 6 nodes"
    rpc_response_timeout: PositiveDuration = 60.0  # oslo.messaging default
    # the public endpoints behind a TLS ingress (fuel-ccp's https://<service>.ccp.external:8443)
    # that talks plain HTTP to the pods and says the client's scheme in this header (the nginx
    # ingress controller's X-Forwarded-Proto); False: clients reach the APIs over plain HTTP
    ingress_tls: bool = False
    ingress_proto_header: str = "X-Forwarded-Proto"
    # a compute host's networks in the order of its interfaces (its name resolves to the first)
    # and the one libvirtd listens on for migrations (one network by default; the report's lab:
    # PXE first, libvirt on the private network, in openstack-200)
    compute_networks: tuple[str, ...] = ("private",)
    libvirt_listen_network: str = "private"
    # an RPC server's greenthreads: the messages one process works on at once
    # (oslo.messaging executor_thread_pool_size 64, Newton)
    rpc_executor_thread_pool_size: PositiveInt = 64
    # the eventlet API services keep a client's connection (and the greenthread serving it)
    # between requests until it idles client_socket_timeout (oslo.service wsgi_keep_alive True,
    # client_socket_timeout 900, Newton; glance's and heat's own wsgi the same); clients keep at
    # most http_pool_maxsize idle per service (requests' DEFAULT_POOLSIZE 10)
    wsgi_keep_alive: bool = True
    client_socket_timeout: PositiveDuration = 900.0
    http_pool_maxsize: PositiveInt = 10
    db: DbPool = DbPool()
    keystone: Keystone = Keystone()
    memcached: Memcached = Memcached()
    nova: Nova = Nova()
    neutron: Neutron = Neutron()
    glance: Glance = Glance()
    heat: Heat = Heat()
    galera: Galera = Galera()
    rabbitmq: RabbitMq = RabbitMq()
    lifecycle: PodLifecycle = PodLifecycle()
    identity: Identity = Identity()
    endpoints: Endpoints = Endpoints()
    agent_list: AgentList = AgentList()
    # Python work of one ORM query in the service process (SQLAlchemy ORM + pure-Python PyMySQL
    # building the statement and parsing rows, Python 2.7): ~1 ms (assumption; a calibration
    # path). It runs on the process's one thread while the request holds its DB connection.
    orm_query_cpu_seconds: PositiveFloat = 0.001
    # the names every service resolves when it opens a DB, RPC or cache connection
    # (``galera.ccp``, ``rabbitmq.ccp``, ``memcached.ccp`` through the cluster search path)
    dns_lookups: bool = True

    def nova_link_scheme(self) -> str:
        """The scheme nova-api writes in the links it returns to a client of the public
        endpoint: https only behind a TLS ingress whose scheme header ``secure_proxy_ssl_header``
        names (as its WSGI environ key); otherwise the scheme it was reached with."""
        environ = "HTTP_" + self.ingress_proto_header.upper().replace("-", "_")
        return "https" if self.ingress_tls and self.nova.secure_proxy_ssl_header == environ else "http"

    def nova_links_broken(self) -> bool:
        """A client of the public endpoint gets links it cannot follow (http behind TLS)."""
        return self.ingress_tls and self.nova_link_scheme() != "https"

    def migration_network(self) -> str:
        """The host network a live migration reaches the destination's libvirtd on: that of
        ``live_migration_inbound_addr``, else that of the host's name (its first interface)."""
        # a URI naming a fixed host would go there whatever the destination: not modelled, the
        # %s form (every deployment's) resolves the destination's name
        return self.nova.live_migration_inbound_addr or self.compute_networks[0]

    def catalog_url(self, service_type: str, interface: EndpointType) -> str | None:
        """The catalogue URL of a Heat service type on an interface, as fuel-ccp registers it
        (``scalelab.spec.endpoints``); None when the service is not deployed."""
        service, port, ingress = HEAT_SERVICES[service_type]
        if service == "heat-api-cfn" and not self.heat.api_cfn:
            return None
        internal = f"http://{service}.ccp.svc.cluster.local:{port}"
        if interface != "publicURL":
            return internal
        node_port = self.heat.api_node_port if service == "heat-api" else self.heat.api_cfn_node_port
        if node_port is not None and self.endpoints.k8s_external_ip is not None:
            return f"http://{self.endpoints.k8s_external_ip}:{node_port}"
        if self.ingress_tls:
            return f"https://{ingress}.{self.endpoints.ingress_domain}:{self.endpoints.ingress_port}"
        return internal

    def heat_callbacks(self) -> dict[str, tuple[str | None, str]]:
        """The URLs Heat gives a stack's servers, by callback: ``metadata`` (HEAT_CFNTOOLS and
        os-collect-config's polling, heat-api-cfn), ``cfn_signal`` (a SoftwareDeployment's
        CFN_SIGNAL, heat-api-cfn's waitcondition URL) and ``heat_signal`` (a WaitCondition
        handle's signal, heat-api), each with the Kubernetes Service it must reach."""
        heat = self.heat
        interface = heat.clients_heat_endpoint_type or heat.clients_endpoint_type
        cfn = self.catalog_url("cloudformation", interface)
        signal = heat.waitcondition_server_url or (f"{cfn}/v1/waitcondition" if cfn is not None else None)
        return {"metadata": (heat.metadata_server_url or cfn, "heat-api-cfn"),
                "cfn_signal": (signal, "heat-api-cfn"),
                "heat_signal": (self.catalog_url("orchestration", interface), "heat-api")}

    def callback_refused(self, callback: str) -> tuple[str, str] | None:
        """The hop at which a VM fails to make one of ``heat_callbacks()`` and why, or None
        (``scalelab.spec.endpoints.unreachable_from_vm``)."""
        url, service = self.heat_callbacks()[callback]
        node_ports = {port: name for port, name in ((self.heat.api_node_port, "heat-api"),
                                                    (self.heat.api_cfn_node_port, "heat-api-cfn"))
                      if port is not None}
        deployed = self.heat.api_cfn or service != "heat-api-cfn"
        return unreachable_from_vm(url, service, node_ports, self.ingress_tls, self.endpoints, deployed)

    def pool(self, service: str) -> DbPool:
        """The oslo.db pool a service's processes use (its override or the shared default)."""
        own = getattr(self, service).db
        return own if own is not None else self.db

    def rpc_timeout(self, service: str) -> float:
        own = getattr(self, service).rpc_response_timeout
        return float(own if own is not None else self.rpc_response_timeout)


__all__ = ["POD_SERVICES", "SERVICES", "AgentList", "DbPool", "Galera", "Glance", "Heat", "Keystone", "Memcached",
           "Neutron", "Nova", "OpenStack", "PodLifecycle", "RabbitMq", "Service"]
