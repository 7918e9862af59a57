"""One kube-dns replica: dnsmasq in front of kubedns, their liveness checks, and the
kubelet's restarts of each container.

kubedns (dnsmasq's upstream) answers on its CPU limit: a processor-shared ``Cores`` of
``kubedns_cpu_limit`` threads, so its latency, and the forward entries' holding time, grow
with its load; names outside the cluster domain go on to the node's external resolver.
Model card: docs/models/dns.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scalelab.components.dnsmasq import DatagramServer, Dnsmasq
from scalelab.components.probes import ExecHealthz, LivenessProbe, ProbeTiming, RestartBackoff
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine
from scalelab.spec.model import Dns as DnsSpec

#: A restarted exechealthz (a small static binary) serves /healthz within a second (assumption).
HEALTHZ_START_SECONDS = 1.0


class KubeDnsPod:
    """One kube-dns replica: dnsmasq in front of kubedns, their liveness checks, and the
    kubelet's restarts of each container (with the back-off of ``probes.RestartBackoff``).

    ``liveness: combined`` (Kargo's kubedns-rc.yml, before and after its PR 652): the only
    probe is on the kubedns container, and it reads the exechealthz sidecar, whose command
    looks the probe name up through dnsmasq and then asks kubedns directly. So a dnsmasq that
    refuses or is down gets *kubedns* killed, with nothing in kubedns's logs.
    ``liveness: split`` (later kube-dns): dnsmasq's probe looks up through dnsmasq and restarts
    dnsmasq; kubedns's probe asks kubedns and restarts kubedns."""

    def __init__(self, engine: Engine, index: int, spec: DnsSpec, backoff: tuple[float, float],
                 dnsmasq: Callable[[Callable[[int, Callable[[], None]], None]], Dnsmasq],
                 external: np.ndarray, probe_name: int, recorder: Recorder, phase: float,
                 rng: np.random.Generator) -> None:
        self.engine = engine
        self.rng = rng
        self.probe_name = probe_name
        limit = 1.0 if spec.dnsmasq_cpu_limit is None else min(1.0, spec.dnsmasq_cpu_limit)
        self.cpu = DatagramServer(spec.dnsmasq_query_cpu_seconds, limit, spec.dnsmasq_socket_queries)
        self.spec = spec
        self.recorder = recorder
        self.external = external
        self.kubedns = Cores(engine, spec.kubedns_cpu_limit, f"kubedns-{index}")
        self.kubedns_down_until = -np.inf
        self.kubedns_backoff = RestartBackoff(*backoff)
        self.dnsmasq_backoff = RestartBackoff(*backoff)
        self.dnsmasq = dnsmasq(self._upstream)
        probe_lookup = self._probe_lookup
        delay = spec.liveness_initial_delay_seconds
        timing = ProbeTiming(spec.liveness_period_seconds, spec.liveness_timeout_seconds,
                             spec.liveness_failure_threshold, delay)
        self.dnsmasq_probe: LivenessProbe | None = None
        self.healthz: ExecHealthz | None = None
        self.healthz_backoff = RestartBackoff(*backoff)
        if spec.liveness == "combined":
            self.healthz = ExecHealthz(engine, (probe_lookup, self._ask_kubedns), phase,
                                       period=spec.healthz_period_seconds, max_latency=spec.healthz_max_latency_seconds,
                                       step_timeout=spec.probe_lookup_timeout_seconds)
            self.kubedns_probe = LivenessProbe(engine, self.healthz.healthy, self.kill_kubedns, phase + delay, timing)
        else:
            self.kubedns_probe = LivenessProbe(engine, self._ask_kubedns, self.kill_kubedns, phase + delay, timing)
            self.dnsmasq_probe = LivenessProbe(engine, probe_lookup, self.kill_dnsmasq, phase + delay, timing)

    def _probe_lookup(self, result: Callable[[bool], None]) -> None:
        """The health check's lookup through dnsmasq; dropped like the others when dnsmasq's
        thread cannot keep up (then it just times out)."""
        if self.cpu.drop_share > 0.0 and self.rng.random() < self.cpu.drop_share:
            return
        self.dnsmasq.ask(self.probe_name, result)

    def _upstream(self, name: int, done: Callable[[], None]) -> None:
        """dnsmasq's single server (kubedns, which recurses to the node's resolver for
        names outside the cluster domain)."""
        if self.external[name]:
            self.engine.schedule(self.spec.external_dns_seconds, done)
        elif self.engine.now >= self.kubedns_down_until:
            self.kubedns.submit(self.spec.kubedns_query_cpu_seconds, done, owner="kubedns")
        # a kubedns that is down never answers: dnsmasq times the forward out

    def _ask_kubedns(self, result: Callable[[bool], None]) -> None:
        """``nslookup ... 127.0.0.1:10053``: kubedns directly, on its CPU quota."""
        if self.engine.now < self.kubedns_down_until:
            return  # no answer: the step times out
        self.kubedns.submit(self.spec.kubedns_query_cpu_seconds, result, True, owner="kubedns")

    def kill_kubedns(self) -> None:
        """The kubelet kills kubedns and starts it again after its back-off; it answers once it
        has listed services and endpoints again."""
        now = self.engine.now
        wait = self.kubedns_backoff.wait(now)
        self.recorder.inc("kubedns_restarts_total")
        self.recorder.inc("kubedns_backoff_seconds_total", wait)
        self.kubedns.abandon("kubedns")  # a killed process answers nothing
        self.kubedns_down_until = now + wait + self.spec.kubedns_restart_seconds
        self.kubedns_probe.resume(now + wait)

    def kill_healthz(self) -> None:
        """The exechealthz sidecar is OOM-killed (kubernetes issue 29688: unexplained memory
        spikes of that container in production); the kubelet restarts it after its back-off.
        While it is down kubedns's probe gets connection refused."""
        if self.healthz is None:
            return  # split liveness: no exechealthz sidecar in this model
        now = self.engine.now
        wait = self.healthz_backoff.wait(now)
        self.recorder.inc("healthz_restarts_total")
        self.healthz.restart(wait + HEALTHZ_START_SECONDS)

    def kill_dnsmasq(self) -> None:
        """dnsmasq is killed (failed probe, or its memory limit): back after back-off + start."""
        now = self.engine.now
        wait = self.dnsmasq_backoff.wait(now)
        self.recorder.inc("dnsmasq_backoff_seconds_total", wait)
        self.dnsmasq.restart(wait + self.spec.dnsmasq_restart_seconds)
        if self.dnsmasq_probe is not None:
            self.dnsmasq_probe.resume(now + wait)
