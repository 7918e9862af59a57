"""kube-apiserver (1.5): TLS termination, the inflight pool, requests through etcd,
watch registration and watch-event fan-out, all charged to its host's cores.

Every request is CPU work on a processor-shared ``Cores`` (so latency and CPU % come out
of contention); mutating requests and quorum reads then go through etcd's commit pipeline.
Non-watch requests hold one slot of the 1.5 ``--max-requests-inflight`` pool from arrival to
answer; a full pool answers 429 at once (clients retry after Retry-After: 1 s). Watches are
long-running and exempt. Cohort callers pass ``weight`` = n identical requests.
Model card: docs/models/apiserver.md (every cost with its source).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scalelab.components.etcd import Etcd
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine, Slots
from scalelab.spec.model import ApiServer as ApiServerSpec

Done = Callable[[int, float], None]
"""Called with (HTTP code, weight): 200 for served requests, 429 for rejected ones."""

#: Serialisation passes of a request's object in the 1.5 apiserver: (storage, client). Storage is
#: etcd2 with JSON; the clients speak ``apiserver.client_encoding`` (protobuf since 1.3). A read
#: is decoded from etcd and encoded to the client; a write is decoded from the client, encoded
#: for etcd and encoded back in the response.
READ_PASSES = (1, 1)
WRITE_PASSES = (1, 2)



MUTATING_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class ApiCall:
    """What a request is, as ClusterLoader2's APIResponsiveness labels it: verb, resource and
    scope (``namespace`` or ``cluster``). Its latency is recorded under these labels."""

    verb: str
    resource: str
    scope: str
    #: computed once (requests are a hot path): whether it goes to etcd as a write, and the
    #: name of its latency histogram (Prometheus-style labels, sorted by name)
    mutating: bool = field(init=False)
    histogram: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mutating", self.verb in MUTATING_VERBS)
        object.__setattr__(self, "histogram",
                           f'api_request_seconds{{resource="{self.resource}",scope="{self.scope}",verb="{self.verb}"}}')


class CohortReply:
    """Routes the answers to a cohort of identical requests back to its members.

    The apiserver answers rejected requests (429) at once and served ones later, each with
    a count; members are handed out from the end for rejections and from the front for
    successes, so each member gets exactly one answer. Callbacks receive index arrays
    into ``items``.
    """

    __slots__ = ("items", "on_ok", "on_reject")

    def __init__(self, items: np.ndarray, on_ok: Callable[[np.ndarray], None],
                 on_reject: Callable[[np.ndarray], None]) -> None:
        self.items = items
        self.on_ok = on_ok
        self.on_reject = on_reject

    def __call__(self, code: int, n: float) -> None:
        k = int(n)
        if code == 429:
            taken, self.items = self.items[len(self.items) - k:], self.items[: len(self.items) - k]
            self.on_reject(taken)
        else:
            taken, self.items = self.items[:k], self.items[k:]
            self.on_ok(taken)


class ApiServer:
    """One kube-apiserver process."""

    def __init__(self, engine: Engine, index: int, cores: Cores, spec: ApiServerSpec,
                 etcd: Etcd, recorder: Recorder, quorum_reads: bool = True) -> None:
        self.engine = engine
        self.index = index
        self.cores = cores
        self.spec = spec
        self.etcd = etcd
        self.recorder = recorder
        self.quorum_reads = quorum_reads
        self.inflight = Slots(engine, spec.max_requests_inflight)
        self._rates(spec)
        #: this process's name on its host's cores (which it may share)
        self.owner = f"apiserver{index}"

    def reconfigure(self, spec: ApiServerSpec) -> None:
        """Restarted with new flags; slots in use stay held until their requests end."""
        self.spec = spec
        self._rates(spec)
        self.inflight.capacity = spec.max_requests_inflight

    def _rates(self, spec: ApiServerSpec) -> None:
        """What the flags make per unit of work: encoding rates, and the CPU per CPU-second of
        mutator work with Go's collector included (``gc_cpu_share``)."""
        self._json = spec.json_bytes_per_cpu_second
        self._client = self._client_rate(spec)
        self._gc = 1.0 / (1.0 - spec.gc_cpu_share)

    @staticmethod
    def _client_rate(spec: ApiServerSpec) -> float:
        """Bytes per CPU-second of the encoding the cluster's clients speak."""
        protobuf = spec.client_encoding == "protobuf"
        return spec.protobuf_bytes_per_cpu_second if protobuf else spec.json_bytes_per_cpu_second

    def finish(self, recorder: Recorder) -> None:
        """End-of-run: the most inflight slots held at once."""
        recorder.final(f'apiserver_inflight_peak{{apiserver="{self.index}"}}', float(self.inflight.peak))

    def _charge(self, work: float, callback: Callable[..., None], *args: object, weight: float = 1.0) -> None:
        """Mutator ``work`` and its garbage collection, then ``callback``."""
        self.cores.submit(work * self._gc, callback, *args, weight=weight, owner=self.owner)

    def _burn(self, work: float, weight: float = 1.0) -> None:
        """Mutator ``work`` and its garbage collection, nobody waiting on it."""
        self.cores.burn(work * self._gc, weight=weight, owner=self.owner)

    # -- non-watch requests -------------------------------------------------------------
    def request(self, call: ApiCall, object_bytes: float, done: Done | None, weight: int = 1,
                storage: bool = True, extra_cpu: float = 0.0) -> None:
        """Serve ``weight`` identical requests: inflight slot, CPU, then etcd if ``storage``."""
        start = self.engine.now
        got = self.inflight.try_acquire(int(weight))
        rejected = weight - got
        if rejected > 0:
            self.recorder.inc('apiserver_request_total{code="429"}', rejected)
            self._burn(self.spec.request_cpu_seconds, weight=rejected)
            if done is not None:
                self.engine.schedule(0.0, done, 429, rejected)
        if got <= 0:
            return
        mutating = call.mutating
        storage_passes, client_passes = WRITE_PASSES if mutating else READ_PASSES
        work = (self.spec.request_cpu_seconds + storage_passes * object_bytes / self._json
                + client_passes * object_bytes / self._client + extra_cpu)
        through_etcd = storage and (mutating or self.quorum_reads)
        self._charge(work, self._after_cpu, start, call, through_etcd, done, got, weight=got)

    def _after_cpu(self, start: float, call: ApiCall, through_etcd: bool, done: Done | None, n: int) -> None:
        if through_etcd:
            self.etcd.propose(self._answer, start, call, done, n, weight=n)
        else:
            self._answer(start, call, done, n)

    def _answer(self, start: float, call: ApiCall, done: Done | None, n: int) -> None:
        self.inflight.release(n)
        latency = self.engine.now - start
        self.recorder.inc('apiserver_request_total{code="200"}', n)
        self.recorder.observe("api_request_seconds", latency, n)
        self.recorder.observe(call.histogram, latency, n)
        if call.mutating:
            self.recorder.observe("api_mutating_request_seconds", latency, n)
        if done is not None:
            done(200, n)

    # -- connections and watches --------------------------------------------------------
    def connect(self, weight: float, watches: int, done: Callable[..., None], *args: object) -> None:
        """Accept ``weight`` new TLS connections, each registering ``watches`` watches."""
        self.recorder.inc(f'apiserver_tls_handshakes_total{{apiserver="{self.index}"}}', weight)
        work = (self.spec.tcp_accept_cpu_seconds + self.spec.tls_handshake_cpu_seconds
                + watches * self.spec.request_cpu_seconds)
        self._charge(work, done, *args, weight=weight)

    def wasted_handshakes(self, count: float) -> None:
        """TLS handshakes of connections the client closes at once (see node_proxy)."""
        if count > 0:
            self.recorder.inc(f'apiserver_tls_handshakes_total{{apiserver="{self.index}"}}', count)
            self.recorder.inc("apiserver_tls_handshakes_wasted_total", count)
            work = self.spec.tcp_accept_cpu_seconds + self.spec.tls_handshake_cpu_seconds
            self._burn(work, weight=count)

    def register_watches(self, count: float, replayed_events: float = 0.0) -> None:
        """Background cost of ``count`` watch requests on open connections; a watch from a
        resourceVersion first filters every cached event since that version
        (``replayed_events`` in all) to replay the ones that match."""
        if count > 0:
            self.recorder.inc("apiserver_watch_requests_total", count)
            work = self.spec.request_cpu_seconds + replayed_events / count * self.spec.filter_cpu_seconds
            self._burn(work, weight=count)

    def list_cost(self, scanned: float, returned: float, object_bytes: float) -> float:
        """CPU of one LIST served from the watch cache (resourceVersion 0): every cached
        object of the type is filtered, the matches are encoded."""
        return scanned * self.spec.filter_cpu_seconds + returned * object_bytes / self._client

    def fanout(self, events: float, watchers: float, delivered: float, object_bytes: float) -> None:
        """Watch-cache dispatch: each event is decoded from etcd, filtered for every watcher
        of its type on this apiserver and encoded once per watcher it is delivered to (1.5
        had no serialisation cache)."""
        # each event is decoded once from etcd's JSON watch, then encoded per delivery
        work = (events * object_bytes / self._json + events * watchers * self.spec.filter_cpu_seconds
                + delivered * object_bytes / self._client)
        if work > 0:
            self._burn(work)
