"""Container health as the kubelet runs it: liveness probes, the exechealthz sidecar, and the
restart back-off that turns repeated restarts into CrashLoopBackOff.

These sit below every container the model restarts (dnsmasq, kubedns). Sources:
- probe: kubelet prober, the manifest's ``periodSeconds`` (default 10 s), ``timeoutSeconds``,
  ``failureThreshold`` and ``initialDelaySeconds`` (counted from each container start);
- exechealthz (kubernetes ``contrib/exec-healthz``): runs its command every ``-period`` (2 s)
  from a Go ticker (a tick that arrives while the command runs is kept, so a slow command runs
  back to back), keeps the last result, and answers 503 when that result failed or is older
  than ``-latency`` (30 s);
- back-off: kubelet ``backOffPeriod`` 10 s and ``MaxContainerBackOff`` 300 s through
  ``flowcontrol.Backoff``: the first restart is immediate, each next one waits the current
  delay after the container died and doubles it up to the cap, and a container that stayed up
  longer than twice the cap starts over at no delay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scalelab.sim import Engine, Timer

#: A check answers through its callback: True healthy, False failed.
Check = Callable[[Callable[[bool], None]], None]


class RestartBackoff:
    """kubelet's per-container restart back-off (``flowcontrol.Backoff``)."""

    def __init__(self, initial: float, cap: float) -> None:
        self.initial = min(initial, cap)  # kubelet's Backoff never waits past its cap
        self.cap = cap
        self.delay: float | None = None  # None: no entry yet
        self.last_restart = float("-inf")

    def wait(self, died_at: float) -> float:
        """Seconds after ``died_at`` at which the kubelet starts the container again."""
        if self.delay is None or died_at - self.last_restart > 2.0 * self.cap:
            wait, self.delay = 0.0, self.initial
        else:
            wait, self.delay = self.delay, min(2.0 * self.delay, self.cap)
        self.last_restart = died_at + wait
        return wait


@dataclass(frozen=True)
class ProbeTiming:
    """A probe's manifest values: ``periodSeconds``, ``timeoutSeconds``, ``failureThreshold``,
    ``initialDelaySeconds``."""

    period: float
    timeout: float
    threshold: int
    initial_delay: float


class LivenessProbe:
    """A kubelet liveness probe: ``check`` every ``period``; no answer within ``timeout`` is a
    failure; ``threshold`` failures in a row call ``kill``. While the container is down the
    probe is paused; ``resume(started_at)`` starts it again ``initial_delay`` after the new
    container started (kube-dns 1.5 manifest: period 10 s, timeout 5 s, 5 failures, 60 s)."""

    def __init__(self, engine: Engine, check: Check, kill: Callable[[], None], first: float,
                 timing: ProbeTiming) -> None:
        self.engine = engine
        self.check = check
        self.kill = kill
        self.period = timing.period
        self.timeout = timing.timeout
        self.threshold = timing.threshold
        self.initial_delay = timing.initial_delay
        self.failures = 0
        #: the probe round waiting for its answer (None while paused): a late answer to an
        #: older round is ignored
        self._round: list[bool] | None = None
        self._next: Timer | None = engine.schedule(first, self._probe)

    def resume(self, started_at: float) -> None:
        """The container was (re)started at ``started_at``: probe from its initial delay on."""
        self._pause()
        self.failures = 0
        delay = max(0.0, started_at + self.initial_delay - self.engine.now)
        self._next = self.engine.schedule(delay, self._probe)

    def _pause(self) -> None:
        if self._next is not None:
            self._next.cancel()
            self._next = None
        self._round = None

    def _probe(self) -> None:
        answered = self._round = [False]
        timeout: Timer | None = None

        def result(ok: bool) -> None:
            if answered[0] or answered is not self._round:
                return
            answered[0] = True
            if timeout is not None:
                timeout.cancel()
            self._record(ok)

        self.check(result)
        if self._round is not answered:
            return  # the check's answer killed the container (and maybe restarted its probe)
        if not answered[0]:
            timeout = self.engine.schedule(self.timeout, result, False)
        self._next = self.engine.schedule(self.period, self._probe)

    def _record(self, ok: bool) -> None:
        if ok:
            self.failures = 0
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.failures = 0
            self._pause()  # no probing until resume()
            self.kill()


class ExecHealthz:
    """The exechealthz sidecar: runs ``steps`` (the ``&&`` of its command) every ``period``,
    each step failing after ``step_timeout``; ``healthy()`` is what its /healthz answers."""

    def __init__(self, engine: Engine, steps: Sequence[Check], first: float, period: float,
                 max_latency: float, step_timeout: float) -> None:
        self.engine = engine
        self.steps = tuple(steps)
        self.period = period
        self.max_latency = max_latency
        self.step_timeout = step_timeout
        self.ok = True
        self.at = engine.now + first  # the worker's initial result: ok, stamped at start
        self.runs = 0
        self._running = False
        self._tick_pending = False
        self.down_until = float("-inf")
        engine.schedule(first + period, self._tick)

    def healthy(self, done: Callable[[bool], None]) -> None:
        """/healthz: 200 when the last run succeeded and is recent enough (a sidecar that is
        down refuses the connection: a failure)."""
        if self.engine.now < self.down_until:
            done(False)
            return
        done(self.ok and self.engine.now - self.at <= self.max_latency)

    def restart(self, down_seconds: float) -> None:
        """The sidecar container dies and comes back after ``down_seconds`` with a fresh
        worker: its first result is an ok stamped at start, as exechealthz initialises it."""
        self.runs += 1  # a run in flight is lost
        self._running = False
        self._tick_pending = False
        self.down_until = self.engine.now + down_seconds
        self.ok = True
        self.at = self.down_until

    def _tick(self) -> None:
        self.engine.schedule(self.period, self._tick)
        if self.engine.now < self.down_until:
            return
        if self._running:
            self._tick_pending = True  # the ticker channel keeps one tick
            return
        self._run()

    def _run(self) -> None:
        self._running = True
        self.runs += 1
        self._step(0, self.runs)

    def _step(self, index: int, run: int) -> None:
        if index == len(self.steps):
            self._finish(True)
            return
        answered = [False]

        def result(ok: bool) -> None:
            if answered[0] or run != self.runs:
                return
            answered[0] = True
            if ok:
                self._step(index + 1, run)
            else:
                self._finish(False)

        self.steps[index](result)
        self.engine.schedule(self.step_timeout, result, False)

    def _finish(self, ok: bool) -> None:
        self.ok = ok
        self.at = self.engine.now
        self._running = False
        if self._tick_pending:
            self._tick_pending = False
            self._run()
