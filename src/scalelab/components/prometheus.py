"""Prometheus 1.x (the lab ran v1.4.0): scrape load, local storage, dashboard queries, and the
remote-storage queue that is the report's fix.

Why the report's team deleted data: in 1.x every series is one file on disk holding 1024-byte
chunks; the server keeps a bounded number of chunks in memory (``-storage.local.memory-chunks``),
and a query over a range older than what stays in memory reads every touched series' file
(a seek per series on a spinning disk). Dashboards over the whole retention therefore slow down
with the series and the range held; deleting old data makes them fast again, and with local
storage only, it deletes the data for good.

Stepped every ``STEP_SECONDS`` as aggregate state (no per-sample events), following the code
of v1.4.0 (``storage/local/storage.go``):
- samples arrive at ``series / scrape interval``; each chunk holds ``1024 / bytes-per-sample``
  samples; a full chunk waits for persistence;
- the maintenance loop visits every memory series once per sweep of ``min(retention/10, 6 h)``,
  shortened by ``1 - urgency``; a visit that finds waiting chunks appends them to the series
  file (a random write; synced unless in rushed mode): a single goroutine, so one disk
  operation at a time bounds how fast chunks leave memory;
- urgency = waiting / max-chunks-to-persist, or, past 20 % of it, how far memory chunks are
  between memory-chunks and 1.1 x that; rushed mode from 0.8 to below 0.7; ingestion is
  throttled (scrapes skipped) while waiting > max-chunks-to-persist or memory chunks >
  1.1 x memory-chunks (``NeedsThrottling``);
- memory holds every open head chunk and every waiting chunk; evictable chunks fill the rest
  of memory-chunks, most recently used first, so the recent part of each series is resident;
- a dashboard panel reads ``panel_series_per_node`` series of every node over its range:
  resident chunks cost CPU per sample; older ones a seek per series plus the file read; the
  chunks a query touches are pinned in memory while it runs; past ``query_timeout`` it aborts;
- remote storage (``storage/remote/queue_manager.go``): samples go to shards of bounded
  queues, each shard sends batches of 100 one at a time; a full queue drops the sample.
Model card: docs/models/prometheus.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine
from scalelab.spec.monitoring import Monitoring

OWNER = "prometheus"
#: the state advances in steps of the shortest scrape interval's order (the lab's etcd job)
STEP_SECONDS = 5.0
#: chunk payload bytes (``chunk.ChunkLen``, v1.4.0)
CHUNK_BYTES = 1024
#: bytes per sample by chunk encoding: the 1.x storage docs' production figures (type 1:
#: 3.3, type 2: 1.3)
BYTES_PER_SAMPLE = {1: 3.3, 2: 1.3}
#: maintenance sweep: retention / 10, at most 6 h (``fpMaxSweepTime``)
SWEEP_FRACTION, MAX_SWEEP_SECONDS = 0.1, 6 * 3600.0
TOLERANCE_MEM_CHUNKS = 1.1  # toleranceFactorMemChunks
FACTOR_MIN_CHUNKS_TO_PERSIST = 0.2  # factorMinChunksToPersist
RUSHED_ENTER, RUSHED_LEAVE = 0.8, 0.7
#: sequential read of a 10k rpm SAS drive (datasheet order of the lab's HP EH0600JDYTL family:
#: ~150-200 MB/s outer to inner tracks); the lower end
DISK_READ_BYTES_PER_SECOND = 150e6
#: how far ``settle`` replays the history before the run: several sweeps of the longest
#: (6 h), time enough for the chunks waiting for persistence to reach their level
SETTLE_SECONDS, SETTLE_STEP_SECONDS = 48 * 3600.0, 60.0
#: a round trip on the lab's 10G LAN to the remote store, besides its write sync
LAN_RTT_SECONDS = 0.0002


def container_series(cpus: int) -> int:
    """Series cAdvisor v0.24 (Kubernetes 1.5's) exposes per container, counted from its
    ``metrics/prometheus.go``: last_seen, cpu user/system, usage per CPU, 3 CFS, 6 memory,
    4 memory failures, 14 filesystem per device (one), 8 network per interface (one),
    5 task states, 4 spec values."""
    return 1 + 2 + cpus + 3 + 6 + 4 + 14 + 8 + 5 + 4


@dataclass
class DashboardQuery:
    """One panel query's work: what it reads and from where."""

    series: float
    samples: float
    disk_series: float
    disk_bytes: float
    pinned_chunks: float

    def disk_seconds(self, seek_seconds: float) -> float:
        return self.disk_series * seek_seconds + self.disk_bytes / DISK_READ_BYTES_PER_SECOND


class Prometheus:
    """One Prometheus 1.x server scraping every node's kubelet and every etcd member."""

    def __init__(self, engine: Engine, spec: Monitoring, cores: Cores, seek_seconds: float,
                 nodes: int, cpus_per_node: int, etcd_members: int, pods: Callable[[], float],
                 recorder: Recorder) -> None:
        self.engine, self.spec, self.cores, self.recorder = engine, spec, cores, recorder
        self.seek_seconds = seek_seconds
        self.nodes, self.etcd_members, self.pods = nodes, etcd_members, pods
        self.per_container = container_series(cpus_per_node)
        self.samples_per_chunk = CHUNK_BYTES / BYTES_PER_SAMPLE[spec.chunk_encoding]
        self.series = self.active_series()
        self.archived = 0.0
        self.waiting = 0.0
        self.urgency = 0.0
        self.rushed = False
        self.throttled = False
        self.pinned = 0.0
        self.held = min(spec.history, spec.retention)
        self.ingested = self.skipped = self.durable = self.dropped = 0.0
        self.queue = 0.0
        self.peaks = {"memory_chunks": 0.0, "waiting": 0.0, "urgency": 0.0}
        self.rushed_seconds = self.throttled_seconds = 0.0

    # -- what is scraped --------------------------------------------------------------
    def active_series(self) -> float:
        s = self.spec
        containers = self.nodes * s.node_cgroups + s.containers_per_pod * self.pods()
        return float(self.nodes * s.kubelet_series + containers * self.per_container
                     + self.etcd_members * s.etcd_series)

    def samples_per_second(self) -> float:
        s = self.spec
        etcd = self.etcd_members * s.etcd_series
        return (self.series - etcd) / s.node_scrape_interval + etcd / s.etcd_scrape_interval

    # -- memory and persistence (v1.4.0 storage.go) -------------------------------------
    def memory_chunks(self) -> float:
        """Chunks in memory: open heads, chunks waiting for persistence and chunks pinned by
        queries cannot be evicted; evictable ones fill the rest of memory-chunks."""
        fixed = self.series + self.waiting + self.pinned
        stored = self.stored_chunks()
        return max(fixed, min(float(self.spec.memory_chunks), stored))

    def stored_chunks(self) -> float:
        return self.samples_per_second() * self.held / self.samples_per_chunk + self.series

    def stored_bytes(self) -> float:
        return self.samples_per_second() * self.held * BYTES_PER_SAMPLE[self.spec.chunk_encoding]

    def _urgency(self) -> float:
        s = self.spec
        score = self.waiting / s.max_chunks_to_persist
        if self.waiting > s.max_chunks_to_persist * FACTOR_MIN_CHUNKS_TO_PERSIST:
            score = max(score, (self.memory_chunks() / s.memory_chunks - 1) / (TOLERANCE_MEM_CHUNKS - 1))
        return min(max(score, 0.0), 1.0)

    def needs_throttling(self) -> bool:
        s = self.spec
        return self.waiting > s.max_chunks_to_persist or self.memory_chunks() > s.memory_chunks * TOLERANCE_MEM_CHUNKS

    def _persisted(self, dt: float) -> float:
        """Chunks the maintenance loop writes out in ``dt``: it visits series at the sweep's
        pace, but one file append (a random write, synced outside rushed mode) at a time."""
        if self.waiting <= 0 or self.series <= 0:
            return 0.0
        urgency = 1.0 if self.rushed else self.urgency
        sweep = min(self.spec.retention * SWEEP_FRACTION, MAX_SWEEP_SECONDS) * (1.0 - urgency)
        wanted = self.series / sweep if sweep > 0 else float("inf")
        with_chunks = min(1.0, self.waiting / self.series)
        write = self.seek_seconds * (1.0 if self.rushed else 2.0)  # append, then fsync (adaptive)
        visits = min(wanted, 1.0 / (write * with_chunks))
        return min(self.waiting, self.waiting / self.series * visits * dt)

    def step(self, dt: float) -> None:
        """Scrape, append and persist for ``dt`` seconds of the run."""
        self.series_changed(self.active_series())
        rate = self.samples_per_second()
        if self.throttled:
            self.skipped += rate * dt
            self.throttled_seconds += dt
        else:
            samples = rate * dt
            self.ingested += samples
            jobs = max(1.0, min(self.cores.threads, float(self.nodes)))
            self.cores.burn(samples * self.spec.ingest_cpu_seconds_per_sample / jobs, weight=jobs, owner=OWNER)
            self._remote(samples, dt)
        was_rushed = self.rushed
        score = self._storage(dt)
        if self.rushed and not was_rushed:
            self.recorder.event(self.engine.now, "prometheus_rushed_mode", f"urgency {score:.2f}")
        if self.throttled:
            self.recorder.inc("prometheus_throttled_steps_total")
        if self.rushed:
            self.rushed_seconds += dt
        self.peaks["memory_chunks"] = max(self.peaks["memory_chunks"], self.memory_chunks())
        self.peaks["waiting"] = max(self.peaks["waiting"], self.waiting)
        self.peaks["urgency"] = max(self.peaks["urgency"], score)

    def _storage(self, dt: float) -> float:
        """The storage's own state over ``dt``: chunks filled (unless throttled), chunks
        persisted, urgency, rushed mode and throttling as v1.4.0 decides them; returns the
        urgency score before the rushed-mode bump."""
        if not self.throttled:
            self.waiting += self.samples_per_second() * dt / self.samples_per_chunk
        self.waiting -= self._persisted(dt)
        self.held = min(self.spec.retention, self.held + dt)
        score = self._urgency()
        if self.rushed and score <= RUSHED_LEAVE:
            self.rushed = False
        elif not self.rushed and score > RUSHED_ENTER:
            self.rushed = True
        self.urgency = 1.0 if self.rushed else score
        self.throttled = self.needs_throttling()
        return score

    def settle(self) -> None:
        """The server has been running for ``history`` before the run: bring the chunks
        waiting for persistence and the modes to where that history left them (the
        storage's dynamics alone, a minute at a time, at most ``SETTLE_SECONDS``)."""
        held = self.held
        elapsed, limit = 0.0, min(self.spec.history, SETTLE_SECONDS)
        while elapsed < limit:
            self._storage(SETTLE_STEP_SECONDS)
            elapsed += SETTLE_STEP_SECONDS
        self.held = held

    def series_changed(self, now_active: float) -> None:
        """Series of containers that went away stay on disk (archived) until retention."""
        if now_active < self.series:
            self.archived += self.series - now_active
        self.series = now_active

    # -- remote storage (v1.4.0 queue_manager.go) ----------------------------------------
    def send_seconds(self) -> float:
        return self.spec.remote_send_seconds or self.seek_seconds + LAN_RTT_SECONDS

    def _remote(self, samples: float, dt: float) -> None:
        s = self.spec
        if not s.remote_storage:
            return
        capacity = float(s.remote_shards * s.remote_queue_capacity)
        sent = s.remote_shards * s.remote_samples_per_send / self.send_seconds() * dt
        self.queue = max(0.0, self.queue + samples - sent)
        overflow = max(0.0, self.queue - capacity)
        self.queue -= overflow
        self.dropped += overflow
        self.durable += samples - overflow

    # -- dashboards ----------------------------------------------------------------------
    def panel_query(self) -> DashboardQuery:
        """What one panel reads: its series over min(range, data held). The recent part of a
        series is resident (open head plus its share of evictable chunks); the rest of the
        range is read from its series file."""
        s = self.spec
        series = float(self.nodes * s.panel_series_per_node)
        span = min(s.dashboard_range, self.held)
        chunk_seconds = self.samples_per_chunk * s.node_scrape_interval
        evictable = max(0.0, s.memory_chunks - self.series - self.waiting)
        resident_seconds = chunk_seconds * (1.0 + evictable / max(self.series, 1.0))
        on_disk = max(0.0, span - resident_seconds)
        samples = series * span / s.node_scrape_interval
        disk_bytes = series * on_disk / s.node_scrape_interval * BYTES_PER_SAMPLE[s.chunk_encoding]
        return DashboardQuery(series, samples, series if on_disk > 0 else 0.0, disk_bytes,
                              series * (span / chunk_seconds + 1.0))

    def refresh_dashboard(self) -> None:
        for _ in range(self.spec.dashboard_panels):
            self._query(self.panel_query())

    def _query(self, q: DashboardQuery) -> None:
        start = self.engine.now
        self.pinned += q.pinned_chunks
        self.recorder.inc("prometheus_queries_total")
        disk = q.disk_seconds(self.seek_seconds)
        timeout = self.spec.query_timeout
        if disk >= timeout:  # aborted while still reading series files
            self.engine.schedule(timeout, self._query_done, start, q, True)
            return
        self.engine.schedule(disk, self._evaluate, start, q)

    def _evaluate(self, start: float, q: DashboardQuery) -> None:
        """The chunks are in memory: decode and evaluate every sample on the server's CPUs."""
        cpu = q.samples * self.spec.query_cpu_seconds_per_sample
        self.cores.submit(cpu, self._query_done, start, q, False, owner=OWNER)

    def _query_done(self, start: float, q: DashboardQuery, aborted: bool) -> None:
        self.pinned = max(0.0, self.pinned - q.pinned_chunks)
        took = self.engine.now - start
        if aborted or took > self.spec.query_timeout:
            self.recorder.inc("prometheus_query_timeouts_total")
            took = min(took, self.spec.query_timeout)
        self.recorder.observe("prometheus_query_seconds", took)

    # -- the run's end ---------------------------------------------------------------------
    def finish(self, recorder: Recorder) -> None:
        recorder.final("prometheus_series_active", self.series)
        recorder.final("prometheus_series_archived", self.archived)
        recorder.final("prometheus_samples_per_second", self.samples_per_second())
        recorder.final("prometheus_samples_ingested_total", self.ingested)
        recorder.final("prometheus_samples_skipped_total", self.skipped)
        recorder.final("prometheus_memory_chunks_peak", self.peaks["memory_chunks"])
        recorder.final("prometheus_chunks_to_persist_peak", self.peaks["waiting"])
        recorder.final("prometheus_persistence_urgency_peak", self.peaks["urgency"])
        recorder.final("prometheus_rushed_seconds", self.rushed_seconds)
        recorder.final("prometheus_throttled_seconds", self.throttled_seconds)
        recorder.final("prometheus_local_storage_bytes", self.stored_bytes())
        recorder.final("prometheus_held_seconds", self.held)
        recorder.final("prometheus_remote_samples_sent_total", self.durable)
        recorder.final("prometheus_remote_samples_dropped_total", self.dropped)

