"""``ClusterSpec`` and ``Scenario``: the one typed description every module reads.

Defaults here are the ``k8s-1.5`` profile (the report's era); ``profiles.py`` holds the
``modern`` overrides. Every default names its source in a comment; model cards in
``docs/models/`` itemise the costs. Models are frozen and reject unknown fields, so a typo
in a scenario is an error with its field path, never a silently ignored key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, field_validator, model_validator

from scalelab.spec.base import NonNegativeDuration, PositiveDuration, Section
from scalelab.spec.monitoring import Monitoring
from scalelab.spec.openstack import POD_SERVICES, OpenStack
from scalelab.spec.rally_task import parse as parse_rally_task
from scalelab.spec.slices import SlicesPhase, TrafficPhase
from scalelab.spec.units import Quantity


class Topology(Section):
    # Report: ~181 bare-metal hosts, 3 for the control plane, 5 VMs on each of the rest.
    worker_hosts: PositiveInt = 180
    vms_per_host: PositiveInt = 5
    control_plane_hosts: PositiveInt = 3


class Disk(Section):
    # Report's hosts: RAID of 12 x HP EH0600JDYTL (600 GB 10k rpm SAS). A synchronous write
    # waits on average half a rotation (3.0 ms at 10k rpm) plus an average seek (~3.8 ms,
    # the drive family's datasheet): ~7 ms. Assumes the controller's write cache is not
    # absorbing fsync (not stated by the report); set it lower for a write-back cache.
    fsync_seconds: PositiveDuration = 0.007


class Machine(Section):
    # hardware threads (a fraction stands for a CPU quota, e.g. a small VM)
    threads: PositiveFloat
    memory: Quantity
    disk: Disk = Disk()


class Hosts(Section):
    # Report: HP DL380 Gen9, 2x Xeon E5-2680 v3 (2 x 12 cores, hyper-threaded = 48 threads), 264G.
    hardware: Machine = Machine(threads=48, memory=264 * 2**30)
    # Assumption (the report gives no VM size): the 48 threads split evenly over 5 VMs,
    # rounded down to 8 vCPUs; memory likewise (~52G each, rounded to 48Gi).
    vm: Machine = Machine(threads=8, memory=48 * 2**30)


class Placement(Section):
    # Report: control plane first on VMs ("not workable at all"), then moved to hardware.
    control_plane: Literal["hardware", "vms"] = "hardware"
    # Kargo runs scheduler and controller-manager on the same masters as the apiservers.
    scheduler: Literal["colocated", "dedicated"] = "colocated"


class ApiServer(Section):
    replicas: PositiveInt = 2  # report: "Both API servers"
    # kube-apiserver 1.5 flag default; one pool for all non-watch requests (split in 1.6).
    max_requests_inflight: PositiveInt = 400
    # Go 1.7 crypto/tls, RSA-2048 server key: ~300 full handshakes per core per second
    # (CATALOGUE.md facts); Go clients of the era kept no session cache -> always full.
    tls_handshake_cpu_seconds: PositiveFloat = 1.0 / 300.0
    # Kernel accept + Go conn/goroutine setup + h2 preface: order of 20 us (assumption).
    tcp_accept_cpu_seconds: NonNegativeFloat = 20e-6
    # Per-request fixed path (authn, authz, filters, routing, audit): ~0.3 ms (assumption,
    # of the order of Go 1.7 HTTP/2 server + apiserver filter chain per request).
    request_cpu_seconds: NonNegativeFloat = 0.3e-3
    # Go 1.7 encoding/json: ~50 MB/s per core (Go's BenchmarkCodeDecoder/Encoder of the
    # era); every object is decoded and encoded several times on its way through.
    json_bytes_per_cpu_second: PositiveFloat = 50e6
    # Generated (gogo) protobuf marshalling, several times faster than encoding/json: ~250 MB/s
    # per core (assumption of the order of gogo/protobuf's published benchmarks).
    protobuf_bytes_per_cpu_second: PositiveFloat = 250e6
    # Per object and per watcher: label/field set built and matched (1.5 GetAttrs): ~2 us.
    filter_cpu_seconds: NonNegativeFloat = 2e-6
    # Go's garbage collector, as a share of the process's CPU: every CPU cost above is the
    # mutator's, and the collector adds ``share / (1 - share)`` of it (its work per allocated
    # byte is the same at any heap well above Go's 4 MB minimum, so it grows with the work;
    # microbenchmarks of a small heap barely pay it). 0.3: the apiserver's perf profile under
    # load in kubernetes issue 5263 (2015-03, Go 1.3): MSpan_Sweep 20.4 %, mallocgc 3.1 %,
    # scanblock 2.3 %, sweepone 1.8 %, flushptrbuf 1.5 %, memclr 1.2 % = 30.3 %; Go 1.5's
    # concurrent collector kept the heap nearer twice the live data and collected more often
    # (rsc in golang/go issue 14396, on a 1000-node kubemark), its pacer targets 25 % of the
    # CPU while marking.
    gc_cpu_share: float = Field(default=0.3, ge=0.0, lt=0.9)
    # How the cluster's own clients (kubelet, kube-proxy, scheduler, controller-manager) talk to
    # it: protobuf since Kubernetes 1.3 (docs/proposals/protobuf.md); "json" for 1.2 and older,
    # whose every request was JSON both ways (calibration rows of that era set it).
    client_encoding: Literal["protobuf", "json"] = "protobuf"
    # Memory (components/memory.py): the process at rest (assumption: ~100 MiB) and bytes per
    # byte of JSON of the cached resources (assumption: 8 = a decoded Go object ~4x its JSON,
    # times Go's heap headroom at GOGC 100; a calibration path).
    memory_base_bytes: Quantity = 100 * 2**20
    memory_per_object_byte: PositiveFloat = 8.0
    # kube-apiserver 1.5: watch cache size of nodes, pods, endpoints, services
    # (pkg/registry/cachesize: max(k * clusterSize, 1000) with --target-ram-mb unset -> 1000).
    watch_cache_size: PositiveInt = 1000
    # Watch bookmarks (KEP 956; beta 1.16, GA 1.17): the watch cache sends a watch a bookmark 2 s
    # before its deadline (apiserver cacher ``nextBookmarkTime``), so a client re-watching after
    # the server's timeout holds a current resourceVersion and is never 410 Gone for it. 1.5: none.
    watch_bookmarks: bool = False
    # Watch dispatch by trigger (the cacher's ``triggerFunc``: pods by spec.nodeName, nodes by
    # name): a pod or node event is filtered only for the watchers whose field selector names
    # that node, not for every watcher of the resource. Upstream had it in the 1.x cacher too;
    # the k8s-1.5 profile keeps it off because its filter_cpu_seconds (13.5 us) was fitted with
    # every watcher filtering every event, so that fit stands for the whole dispatch path.
    watch_triggers: bool = False


class Etcd(Section):
    members: PositiveInt = 3  # Kargo: etcd on the 3 control-plane hosts
    # Raft round between members on one 10G LAN: ~0.2 ms (assumption: LAN RTT).
    network_rtt_seconds: NonNegativeFloat = 0.2e-3
    # etcd v2/v3 serve a quorum read through raft (1.5 GET with resourceVersion "").
    quorum_reads: bool = True
    # CPU per applied operation on the leader (etcd2 store: request decode, raft entry, JSON +
    # tree update, response): ~50 us, an assumption of the order of etcd2's published ~10-20k
    # writes/s per core of apply work (docs/models/etcd.md); a calibration path.
    apply_cpu_seconds: PositiveFloat = 50e-6
    # Events in an etcd of their own (kube-apiserver --etcd-servers-overrides, as GCE's kube-up
    # did) or in the one cluster (Kargo of the report's era).
    separate_events: bool = False
    # Memory (components/memory.py): the process at rest (assumption: ~30 MiB for etcd 2.x) and
    # bytes of memory per byte of JSON it holds in its store tree and in-memory raft log
    # (assumption: 4, a tree node, the value and the log's copy; a calibration path).
    memory_base_bytes: Quantity = 30 * 2**20
    memory_per_stored_byte: PositiveFloat = 4.0


class NodeProxy(Section):
    # Kargo's nginx.conf template of the report's era: stream proxy, proxy_timeout 3s.
    proxy_timeout: PositiveDuration = 3.0
    # Kargo's template: least_conn over the apiservers (per node's nginx).
    balance: Literal["least_conn", "round_robin"] = "least_conn"


class Kubelet(Section):
    node_status_update_frequency: PositiveDuration = 10.0  # kubelet 1.5 default
    # Node leases (NodeLease, GA in 1.17): the heartbeat every node_status_update_frequency is
    # a PUT of the node's small Lease (coordination.k8s.io; renew interval 25 % of its 40 s
    # duration = 10 s) and the Node's status is written only every
    # node_status_report_frequency (KubeletConfiguration default 5m). 1.5: no leases, the
    # full status every 10 s.
    node_leases: bool = False
    node_status_report_frequency: PositiveDuration = 300.0
    # A Lease as JSON with its metadata and managedFields: ~500 bytes (assumption).
    lease_object_bytes: PositiveInt = 500
    qps: PositiveFloat = 5.0  # kubelet 1.5 --kube-api-qps
    burst: PositiveInt = 10  # kubelet 1.5 --kube-api-burst
    # Kubelet 1.5 reflectors: its pods (spec.nodeName), its own Node, all Services.
    watches: tuple[Literal["pods", "nodes", "services", "endpoints"], ...] = ("pods", "nodes", "services")
    # Kubelet object sizes as serialised JSON: a 1.5 Node with its image list ~12 KB.
    node_object_bytes: PositiveInt = 12_000
    # Container restart back-off (CrashLoopBackOff): kubelet backOffPeriod 10 s doubling up to
    # MaxContainerBackOff 300 s; reset once a container stayed up twice the cap.
    restart_backoff_seconds: PositiveDuration = 10.0
    max_restart_backoff_seconds: PositiveDuration = 300.0


class KubeProxy(Section):
    watches: tuple[Literal["pods", "nodes", "services", "endpoints"], ...] = ("services", "endpoints")


class ControllerManager(Section):
    qps: PositiveFloat = 20.0  # kube-controller-manager 1.5 --kube-api-qps
    burst: PositiveInt = 30  # kube-controller-manager 1.5 --kube-api-burst
    # Leader election 1.5: lease 15 s, renew deadline 10 s, retry period 2 s; the leader
    # writes its Endpoints record every retry period.
    leader_elect_retry_period: PositiveDuration = 2.0
    # --leader-elect-resource-lock: 1.5 has only the Endpoints lock (kube-proxy on every node
    # watches Endpoints, so every renewal reaches all of them); "leases" (coordination.k8s.io,
    # watched by nobody) is the default since 1.20 (kubernetes/kubernetes PR 94603).
    leader_elect_resource_lock: Literal["endpoints", "leases"] = "endpoints"


class Scheduler(Section):
    generation: Literal["1.5", "1.5.2", "modern"] = "1.5"
    qps: PositiveFloat = 50.0  # kube-scheduler 1.5 --kube-api-qps
    burst: PositiveInt = 100  # kube-scheduler 1.5 --kube-api-burst
    replicas: PositiveInt = 3  # Kargo: one per master; only the leader schedules
    leader_elect_retry_period: PositiveDuration = 2.0
    leader_elect_resource_lock: Literal["endpoints", "leases"] = "endpoints"  # as the controller-manager's
    # Per node per pod for the basic predicates and priorities (~10 us: the 1.x density
    # tests' ~100 pods/s at 1000 nodes without affinity); 16 goroutines for predicates.
    per_node_cpu_seconds: PositiveFloat = 10e-6
    parallelism: PositiveInt = 16
    # Filter until this share of the nodes is found feasible and score only those
    # (--percentage-of-nodes-to-score, kube-scheduler 1.12+; 0 = upstream's adaptive default:
    # 50 % less a point per 125 nodes, at least 5 % and 100 nodes). None: every node, as 1.5.
    percentage_of_nodes_to_score: Annotated[int, Field(ge=0, le=100)] | None = None
    # 1.5's inter-pod affinity predicate (components/scheduler/cost.py): a label selector built
    # with validation, 3.3 us (openkruise PR 1068's benchmark of LabelSelectorAsSelector), and
    # one selector match plus the pod lister's copy per placed pod, 0.2 + 0.1 us (assumptions,
    # a few map operations). Calibration paths: 1.5 builds a selector per (node, placed pod).
    selector_build_cpu_seconds: PositiveFloat = 3.3e-6
    selector_match_cpu_seconds: PositiveFloat = 0.2e-6
    pod_list_cpu_seconds: PositiveFloat = 0.1e-6
    assume_ttl_seconds: PositiveDuration = 30.0  # 1.5 scheduler cache TTL
    assume_ttl_after_bind: bool = False  # PR 38503


class Dns(Section):
    replicas: PositiveInt = 1  # Kargo before its PR 652
    dns_forward_max: PositiveInt = 150  # dnsmasq FTABSIZ default
    cache_size: PositiveInt = 1000  # kube-dns image flag
    kubedns_cpu_limit: Quantity = 0.1  # kube-dns 1.5 manifest: kubedns container limit 100m
    kubedns_memory_limit: Quantity = 170 * 2**20  # kube-dns 1.5 manifest: 170Mi
    # kubedns's memory: it stores every Service and every Endpoints address. CoreDNS's
    # published sizing ("Scaling CoreDNS in Kubernetes clusters", 2018): MB = (pods +
    # services) / 1000 + 54; kube-dns measured ~40 % above CoreDNS in a 500-node load test
    # (kubernetes PR 68683: ~49 vs ~35 MB per replica): both terms x 1.4.
    kubedns_memory_base_bytes: Quantity = 75.6e6
    kubedns_memory_per_object_bytes: Quantity = 1_400.0
    # dnsmasq is single-threaded: at most one core, less under a CPU limit (none in Kargo's
    # manifest before its PR 652; the report's lab ran its post-652 render: 100m).
    dnsmasq_cpu_limit: Quantity | None = None
    # CPU per query dnsmasq handles (cache answer, or forward + reply): 100 000 sequential
    # loopback queries took 4.8 s client and dnsmasq together on an i7-2600 (yuryu.net, 2013):
    # 48 us per round trip; dnsmasq's part taken as half (assumption).
    dnsmasq_query_cpu_seconds: PositiveFloat = 25e-6
    # Queries dnsmasq's UDP socket buffers before the kernel drops them (Linux default
    # rmem 212 992 B / ~768 B of truesize per small datagram).
    dnsmasq_socket_queries: PositiveInt = 277
    # CPU per query answered by kubedns from its in-memory records: ~50 us, the order of
    # CoreDNS's published ~20-30k cluster queries/s per core (kubedns was not faster).
    kubedns_query_cpu_seconds: PositiveFloat = 50e-6
    # kubedns watches every Service and Endpoints (JSON in 1.5 clients) and decodes each event
    # whole on its own CPU quota: Go 1.7 encoding/json, as apiserver.json_bytes_per_cpu_second.
    kubedns_decode_bytes_per_cpu_second: PositiveFloat = 50e6
    # Lookup load (assumption, no source measured it): each workload pod resolves a service
    # name for a new connection every 5 s.
    lookups_per_pod_per_second: Annotated[float, Field(ge=0)] = 0.2
    # The report's traceback resolves "galera.ccp.svc.cluster.local": full names, which with
    # ndots:5 still walk the search list first.
    lookup_form: Literal["service", "fqdn"] = "fqdn"
    # Search domains of the node's own resolv.conf appended after the cluster ones (Kargo
    # keeps the host's; assumption: one).
    host_search_domains: Annotated[int, Field(ge=0)] = 1
    # The lab's external resolver (assumption: on the lab network, ~1 ms); dnsmasq sends it
    # every name outside cluster.local.
    external_dns_seconds: NonNegativeDuration = 0.001
    # How long NXDOMAIN answers stay cached (the SOA's minimum; assumption: 30 s like
    # kubedns' records).
    negative_ttl_seconds: NonNegativeDuration = 30.0
    # Container restarts after failed liveness probes (assumptions: dnsmasq starts in ~2 s;
    # kubedns re-lists services and endpoints before it answers, ~15 s).
    dnsmasq_restart_seconds: NonNegativeDuration = 2.0
    kubedns_restart_seconds: NonNegativeDuration = 15.0
    # Liveness of the kube-dns pod. "combined" (Kargo's kubedns-rc.yml before and after its
    # PR 652): one probe, on kubedns, reading exechealthz, whose command is "nslookup through
    # dnsmasq && nslookup to kubedns"; dnsmasq has no probe. "split" (kube-dns 1.6+): each
    # container probed on its own check.
    liveness: Literal["combined", "split"] = "combined"
    # The probe as Kargo's kubedns-rc.yml sets it: initialDelaySeconds 60, timeoutSeconds 5,
    # failureThreshold 5; periodSeconds unset, so the kubelet's default 10 s.
    liveness_initial_delay_seconds: NonNegativeDuration = 60.0
    liveness_period_seconds: PositiveDuration = 10.0
    liveness_timeout_seconds: PositiveDuration = 5.0
    liveness_failure_threshold: PositiveInt = 5
    # exechealthz (kubernetes contrib/exec-healthz), flags unset in that manifest: it runs its
    # command every -period 2 s and answers 503 when its last result is older than -latency 30 s.
    healthz_period_seconds: PositiveDuration = 2.0
    healthz_max_latency_seconds: PositiveDuration = 30.0
    # The probe's nslookup gives up after glibc's resolver timeout 5 s x attempts 2.
    probe_lookup_timeout_seconds: PositiveDuration = 10.0


class Calico(Section):
    mode: Literal["mesh", "route_reflectors"] = "mesh"
    route_reflectors: Annotated[int, Field(ge=0)] = 0
    # BIRD 1.x defaults; calico/node 2.x's bgp_template overrides none of them.
    hold_time: PositiveDuration = 240.0
    connect_delay_time: NonNegativeDuration = 5.0
    connect_retry_time: PositiveDuration = 120.0
    error_wait_time: NonNegativeDuration = 60.0  # first value of BIRD's "error wait time 60,300"
    graceful_restart: bool = True  # calico/node's template: "graceful restart"


class Runtime(Section):
    docker_version: str = "1.12.3"  # report
    # Pulling a pod's image from the lab's registry (assumption: a ~300 MB OpenStack image
    # over the local registry at ~30 MB/s); every deploy pod's image is new to its node.
    image_pull_seconds: NonNegativeDuration = 10.0
    # docker create + start of a container in Docker 1.12 (~0.5 s each, assumption).
    container_start_seconds: NonNegativeDuration = 1.0
    # A deleted pod's containers stopped and removed (pause and serve_hostname exit on SIGTERM
    # at once; docker stop + rm + network teardown, ~0.5 s each step: assumption).
    container_stop_seconds: NonNegativeDuration = 1.0
    # kubelet 1.5 --runtime-request-timeout
    runtime_request_timeout: PositiveDuration = 120.0
    # kubelet pod-worker resync after an error (1.5 sync period 10 s)
    kubelet_retry_seconds: PositiveDuration = 10.0


class Remediation(Section):
    docker_restart: bool = False
    # The report's workaround, automated: restart docker after this many runtime timeouts.
    detect_after_timeouts: PositiveInt = 1
    docker_restart_seconds: PositiveDuration = 30.0  # assumption: stop + start of dockerd


class ClusterSpec(Section):
    """The cluster: hosts, placement and every component's settings."""

    topology: Topology = Topology()
    placement: Placement = Placement()
    hosts: Hosts = Hosts()
    apiserver: ApiServer = ApiServer()
    etcd: Etcd = Etcd()
    node_proxy: NodeProxy = NodeProxy()
    kubelet: Kubelet = Kubelet()
    kube_proxy: KubeProxy = KubeProxy()
    controller_manager: ControllerManager = ControllerManager()
    scheduler: Scheduler = Scheduler()
    dns: Dns = Dns()
    calico: Calico = Calico()
    runtime: Runtime = Runtime()
    remediation: Remediation = Remediation()
    openstack: OpenStack = OpenStack()
    monitoring: Monitoring = Monitoring()

    @property
    def nodes(self) -> int:
        """Kubernetes nodes: the VMs on the worker hosts or, in an OpenStack scenario, its
        control-plane nodes and computes (setting either resizes the cluster, CONTRACTS.md)."""
        if self.openstack.enabled:
            return self.openstack.control_plane_nodes + self.openstack.computes
        return self.topology.worker_hosts * self.topology.vms_per_host


class SteadyPhase(Section):
    """Nothing but the cluster's own background traffic; the measurement window."""

    kind: Literal["steady"]
    duration: PositiveDuration = 600.0


class DeployPhase(Section):
    """Deployments created through the controller-manager, scheduled and started."""

    kind: Literal["deploy"]
    pods_per_node: Annotated[float, Field(ge=0)] = 5.0
    cpu_request: Quantity = 0.1
    memory_request: Quantity = 128 * 2**20
    node_selector: dict[str, str] = Field(default_factory=dict)
    deployments: PositiveInt = 5  # report: "just 5 deployments entities covering most of the nodes"
    # Required anti-affinity of each deployment's pods against each other per node (the
    # report: needed so that OpenStack compute pods never share a minion).
    anti_affinity: bool = False
    # what the required anti-affinity term selects: the deployment's own pods (one per node, as
    # the report's OpenStack services), or none at all (a selector no pod matches, as kubernetes
    # PR 37691's test deployment had: every node stays feasible, every scan runs to its end)
    anti_affinity_selects: Literal["own", "none"] = "own"
    # Report: ~80 OpenStack control-plane pods on 6 nodes.
    control_plane_pods: Annotated[int, Field(ge=0)] = 80
    control_plane_nodes: Annotated[int, Field(ge=0)] = 6
    # Simulated time allowed after the last pod is created (the phase ends earlier when
    # every pod runs).
    timeout: PositiveDuration = 4 * 3600.0
    # Kubelet's pod worker before the runtime call (volumes, the pause container; assumption);
    # the runtime's pull and start come from ``runtime``.
    pod_start_seconds: NonNegativeDuration = 2.0


class DensityPhase(Section):
    """Kubernetes' density test (test/e2e/density.go, ClusterLoader2's density): pods per node
    from replication controllers, no Services, no affinity, on all nodes or on a node-selected
    few; the figures are how long until every pod runs and is reported Running."""

    kind: Literal["density"]
    pods_per_node: Annotated[float, Field(ge=0)] = 30.0  # density.go: 30 pods per node
    # "all", or this many nodes (the pods go there by node selector; 1 = single-node density)
    nodes: Literal["all"] | PositiveInt = "all"
    # replication controllers (density.go) or deployments: the model creates pods through the same
    # controller path either way (the ReplicaSet between a Deployment and its pods is not modelled)
    controller: Literal["rc", "deployment"] = "rc"
    # density.go pre-pulls its pause image; "pull" pays the runtime's image pull for every pod
    images: Literal["prepulled", "pull"] = "prepulled"
    # pod creations per second (None: the controller-manager's kube-api-qps)
    creation_qps: PositiveFloat | None = None
    cpu_request: Quantity = 0.0
    memory_request: Quantity = 0.0
    timeout: PositiveDuration = 2 * 3600.0
    pod_start_seconds: NonNegativeDuration = 2.0  # as DeployPhase: the kubelet's work before the runtime


class DnsLoadPhase(Section):
    """A DNS load test (dnsperf-style, as kubernetes issues 22823 and 28366 ran it): lookups of
    names drawn from ``services`` Services at ``rate`` per second, from client pods, through the
    kube-dns Service; each lookup as glibc makes it (search list, A and AAAA together, 5 s
    timeout, 2 attempts)."""

    kind: Literal["dns_load"]
    rate: PositiveFloat  # lookups per second, all clients together
    services: PositiveInt  # names drawn uniformly from this many Services
    clients: PositiveInt = 10  # client pods (kube-proxy spreads their queries over the replicas)
    duration: PositiveDuration = 600.0
    form: Literal["service", "fqdn"] = "service"  # ``name.namespace`` or the full name


class LoadPhase(Section):
    """Kubernetes' load test (test/e2e/load.go of the 1.5 release; ClusterLoader2's load test
    later): ``pods_per_node`` pods in replication controllers of 5, 30 and 250 pods (half the
    pods in small ones, a quarter each in medium and big), each controller created at a random
    moment within pods / ``actions_per_second`` seconds, scaled ``scalings`` times to a random
    size between half and one and a half its own (each spread over a third of that, and followed
    by a LIST of its pods), then deleted with its pods (over pods / actions_per_second s).
    With ``services`` each controller has a Service (load.go's CREATE_SERVICES). ``duration``,
    when set, cuts the phase off (CONTRACTS.md's key); unset, the test runs its stages out."""

    kind: Literal["load"]
    pods_per_node: Annotated[float, Field(ge=0)] = 30.0  # load.go: the Performance case
    # pods created (and deleted) per second the stages are spread for: load.go's "throughput"
    # (LOAD_TEST_THROUGHPUT, default 10)
    actions_per_second: PositiveFloat = 10.0
    duration: PositiveDuration | None = None
    services: bool = False  # load.go: CREATE_SERVICES unset
    scalings: Annotated[int, Field(ge=0)] = 2  # load.go scales every controller twice
    images: Literal["prepulled", "pull"] = "prepulled"  # serve_hostname, on every node already
    timeout: PositiveDuration = 4 * 3600.0
    pod_start_seconds: NonNegativeDuration = 2.0  # as DeployPhase: the kubelet's work before the runtime


class RallyPhase(Section):
    """A Rally task against the cloud (``openstack.enabled``): its workloads one after another,
    as ``rally task start`` runs them. ``task`` is the task document as users write it (format
    v1 or v2; ``scalelab rally TASK`` reads it from the file)."""

    kind: Literal["rally"]
    task: dict[str, Any]
    # the phase ends when the task has run, at the latest after this long
    timeout: PositiveDuration = 24 * 3600.0

    @field_validator("task")
    @classmethod
    def _valid_task(cls, task: dict[str, Any]) -> dict[str, Any]:
        parse_rally_task(task)  # a TaskError (a ValueError) names the path inside the task
        return task


class ReconfigurePhase(Section):
    """Apply a patch to the live cluster, as the report's team did."""

    kind: Literal["reconfigure"]
    set: dict[str, object]
    duration: NonNegativeDuration = 0.0


Phase = Annotated[SteadyPhase | DeployPhase | DensityPhase | DnsLoadPhase | LoadPhase | RallyPhase | SlicesPhase
                  | TrafficPhase | ReconfigurePhase, Field(discriminator="kind")]


#: Faults that act on the cloud (they need ``openstack.enabled``); the empirical ones take a share.
CLOUD_FAULTS = ("kill_service_pod", "heat_api_stall", "heat_metadata_race", "vm_tenant_unreachable")
SHARE_FAULTS = ("heat_metadata_race", "vm_tenant_unreachable")


class Fault(Section):
    """One schema for every injected fault."""

    # The kinds are the layers' (``scalelab.cluster.FAULT_KINDS``), checked by the loader.
    kind: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    target: Annotated[int, Field(ge=0)] | Literal["random"] = "random"
    at: NonNegativeDuration | None = None
    # per node per hour (dnsmasq_oom, healthz_oom: per kube-dns replica per hour)
    rate: Annotated[float, Field(gt=0)] | None = None
    duration: NonNegativeDuration = 60.0
    # kill_service_pod: which OpenStack service's pod (``target`` is the replica)
    service: str | None = None
    # the empirical faults heat_metadata_race and vm_tenant_unreachable: the share of metadata
    # pushes lost, of VMs unreachable (no source: the report measured neither)
    share: Annotated[float, Field(ge=0, le=1)] | None = None

    @model_validator(mode="after")
    def _service_names_a_pod(self) -> Fault:
        if self.kind == "kill_service_pod" and self.service not in POD_SERVICES:
            raise ValueError(f"service: expected one of {', '.join(POD_SERVICES)} (got {self.service!r})")
        if self.kind != "kill_service_pod" and self.service is not None:
            raise ValueError(f"service: only kill_service_pod names a service (this fault is {self.kind})")
        if (self.kind in SHARE_FAULTS) != (self.share is not None):
            raise ValueError(f"share: {' and '.join(SHARE_FAULTS)} take a share in [0, 1], no other fault does "
                             f"(this fault is {self.kind})")
        return self


class Scenario(ClusterSpec):
    """A cluster plus what happens to it."""

    name: Annotated[str, Field(min_length=1)]
    extends: str | None = None
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 1
    profile: Literal["k8s-1.5", "k8s-1.5-priors", "modern"] = "k8s-1.5"
    workload: tuple[Phase, ...] = (SteadyPhase(kind="steady"),)
    faults: tuple[Fault, ...] = ()

    @model_validator(mode="after")
    def _rally_needs_openstack(self) -> Scenario:
        if any(isinstance(p, RallyPhase) for p in self.workload) and not self.openstack.enabled:
            raise ValueError("a rally phase needs openstack.enabled: true (the cloud it runs against)")
        if any(isinstance(p, SlicesPhase | TrafficPhase) for p in self.workload) and not self.openstack.enabled:
            raise ValueError("a slices or traffic phase needs openstack.enabled: true (the cloud it runs against)")
        cloud_faults = sorted({f.kind for f in self.faults if f.kind in CLOUD_FAULTS})
        if cloud_faults and not self.openstack.enabled:
            raise ValueError(f"{', '.join(cloud_faults)} needs openstack.enabled: true")
        return self
