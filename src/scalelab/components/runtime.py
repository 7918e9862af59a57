"""The container runtime on every node (Docker 1.12.3) and its random hangs.

A pod start is an image pull plus container create and start (``spec.runtime``). A
``docker_hang`` fault makes a node's daemon stop answering: every operation on it blocks;
the kubelet's runtime request times out after ``runtime_request_timeout`` (2 min in 1.5) and
is retried after the pod worker's resync; the node keeps reporting Ready (what the report's
operators saw: pods kept arriving on hung nodes), so pods pile up there. With
``remediation.docker_restart`` the operator's workaround is automated: after
``detect_after_timeouts`` timeouts docker is restarted (``docker_restart_seconds``) and the
stuck pods start. The hang is an injected fault with no modelled cause: results about it
hold by construction. Model card: docs/models/runtime.md.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine
from scalelab.spec.model import Remediation, Runtime


class DockerDaemons:
    def __init__(self, engine: Engine, spec: Runtime, remediation: Remediation, recorder: Recorder) -> None:
        self.engine = engine
        self.spec = spec
        self.remediation = remediation
        self.recorder = recorder
        self.hung_since: dict[int, float] = {}
        self.timeouts: dict[int, int] = {}
        self.waiting: dict[int, list[Callable[[], None]]] = {}
        self.restarting: set[int] = set()
        self.stuck = 0
        self.stuck_max = 0

    def reconfigure(self, spec: Runtime, remediation: Remediation) -> None:
        """New runtime settings and remediation policy on the live cluster."""
        self.spec = spec
        self.remediation = remediation

    def finish(self, recorder: Recorder) -> None:
        """End-of-run: pods stuck on hung runtimes, the most at once and at the end."""
        recorder.final("pods_stuck_max", float(self.stuck_max))
        recorder.final("pods_stuck", float(self.stuck))

    def start_pod(self, node: int, done: Callable[[], None], pull: bool = True) -> None:
        """Pull (unless the image is there already), create and start; ``done`` when the
        container runs."""
        if node in self.hung_since:
            self.waiting.setdefault(node, []).append(partial(self.start_pod, node, done, pull))
            self.stuck += 1
            self.stuck_max = max(self.stuck_max, self.stuck)
            if len(self.waiting[node]) == 1:
                self.engine.schedule(self.spec.runtime_request_timeout, self._timed_out, node)
            return
        pulling = self.spec.image_pull_seconds if pull else 0.0
        self.engine.schedule(pulling + self.spec.container_start_seconds, done)

    def stop_pod(self, node: int, done: Callable[[], None]) -> None:
        """Stop and remove a deleted pod's containers; ``done`` when they are gone. A hung
        daemon answers no stop either: the request waits like a start."""
        if node in self.hung_since:
            self.waiting.setdefault(node, []).append(partial(self.stop_pod, node, done))
            self.stuck += 1
            self.stuck_max = max(self.stuck_max, self.stuck)
            if len(self.waiting[node]) == 1:
                self.engine.schedule(self.spec.runtime_request_timeout, self._timed_out, node)
            return
        self.engine.schedule(self.spec.container_stop_seconds, done)

    def hang(self, node: int) -> None:
        self.hung_since.setdefault(node, self.engine.now)

    def _timed_out(self, node: int) -> None:
        pending = self.waiting.get(node)
        if node not in self.hung_since or not pending:
            return
        self.recorder.inc("runtime_timeouts_total", len(pending))
        self.timeouts[node] = self.timeouts.get(node, 0) + 1
        if (self.remediation.docker_restart and node not in self.restarting
                and self.timeouts[node] >= self.remediation.detect_after_timeouts):
            self.restarting.add(node)
            self.engine.schedule(self.remediation.docker_restart_seconds, self._restarted, node)
        # the pod workers resync and call the runtime again, which blocks again
        self.engine.schedule(self.spec.kubelet_retry_seconds + self.spec.runtime_request_timeout,
                             self._timed_out, node)

    def _restarted(self, node: int) -> None:
        started = self.hung_since.pop(node)
        self.restarting.discard(node)
        self.timeouts.pop(node, None)
        self.recorder.observe("runtime_recovery_seconds", self.engine.now - started)
        self.recorder.event(self.engine.now, "docker_restarted", f"node{node}")
        pending = self.waiting.pop(node, [])
        self.stuck -= len(pending)
        for retry in pending:
            retry()  # the kubelet's call again, now answered
