"""Rally's runners over the simulated cloud, one workload after another as Rally runs a task.

``constant``: ``concurrency`` workers, each starting its next iteration when the last ended
(closed loop: throughput saturates). ``constant_for_duration``: the same until ``duration`` has
passed. ``rps``: iteration starts ``1/rps`` apart whatever the cloud does (open loop: past the
knee latency grows and failures appear), at most ``max_concurrency`` in flight. An iteration
longer than the runner's ``timeout`` fails. Users: iteration i runs as user i mod the users of
the ``users`` context (``tenants`` x ``users_per_tenant``); a user authenticates once, on its
first iteration (Rally's clients keep their session), not timed as an action.
Recorded per workload ``w``: ``rally_action_seconds{action,workload}`` (successful actions),
``rally_action_failures_total{action,workload}``, ``rally_iteration_seconds{workload}``
(successful iterations), ``rally_iterations_total`` / ``rally_iterations_failed_total``
``{workload}``, and the final ``rally_load_duration_seconds{workload}``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator
from typing import Any

from scalelab.components.openstack.errors import ServiceError
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine, Event
from scalelab.spec.rally_task import Workload
from scalelab.workload.rally.scenarios import SCENARIO_BODIES, Cloud, Iteration, IterationFailed


class RallyRun:
    def __init__(self, cloud: Cloud, workloads: list[Workload], recorder: Recorder,
                 finished: Callable[[], None]) -> None:
        self.cloud = cloud
        self.engine: Engine = cloud.engine
        self.workloads = workloads
        self.recorder = recorder
        self.finished = finished
        self._tokens: dict[str, str] = {}

    def start(self) -> None:
        self.engine.process(self._all())

    def _all(self) -> Generator[Event, Any, None]:
        for index, workload in enumerate(self.workloads):
            yield from self._run(index, workload)
        self.finished()

    def _run(self, index: int, workload: Workload) -> Generator[Event, Any, None]:
        runner, engine = workload.runner, self.engine
        started = engine.now
        ends: list[float] = []
        label = f'workload="{index}"'
        if runner.type in ("constant", "constant_for_duration"):
            counter = itertools.count()
            stop_at = started + runner.duration if runner.type == "constant_for_duration" else None

            def worker() -> Generator[Event, Any, None]:
                while True:
                    if stop_at is not None and engine.now >= stop_at:
                        return
                    i = next(counter)
                    if stop_at is None and i >= runner.times:
                        return
                    yield from self._iteration(index, workload, i, label)
                    ends.append(engine.now)

            yield engine.all_of([engine.process(worker()) for _ in range(runner.concurrency)])
        else:
            running: list[Event] = []
            for i in range(runner.times):
                if runner.max_concurrency is not None:
                    running = [p for p in running if not p.triggered]
                    while len(running) >= runner.max_concurrency:
                        yield engine.any_of(running)
                        running = [p for p in running if not p.triggered]
                running.append(engine.process(self._timed_iteration(index, workload, i, label, ends)))
                next_start = started + (i + 1) / runner.rps
                if i + 1 < runner.times and next_start > engine.now:
                    yield engine.timeout(next_start - engine.now)
            yield engine.all_of(running)
        self.recorder.final(f"rally_load_duration_seconds{{{label}}}", max(ends, default=started) - started)

    def _timed_iteration(self, index: int, workload: Workload, i: int, label: str,
                         ends: list[float]) -> Generator[Event, Any, None]:
        yield from self._iteration(index, workload, i, label)
        ends.append(self.engine.now)

    def _iteration(self, index: int, workload: Workload, i: int, label: str) -> Generator[Event, Any, None]:
        engine, recorder = self.engine, self.recorder
        users = workload.tenants * workload.users_per_tenant
        u = i % users
        user = f"w{index}-user{u}"
        project = f"w{index}-tenant{u // workload.users_per_tenant}"
        recorder.inc(f"rally_iterations_total{{{label}}}")
        start = engine.now

        def timed(action: str, seconds: float) -> None:
            recorder.observe(f'rally_action_seconds{{action="{action}",{label}}}', seconds)

        body = engine.process(self._body(workload, user, project, timed))
        fired = yield engine.any_of([body, engine.timeout(workload.runner.timeout)])
        failure = fired[body] if body in fired else IterationFailed("iteration", "timed out")
        if failure is None:
            recorder.observe(f"rally_iteration_seconds{{{label}}}", engine.now - start)
            recorder.point(engine.now, f"rally_iteration_ok_seconds{{{label}}}", engine.now - start)
            return
        recorder.point(engine.now, f"rally_iteration_failed_seconds{{{label}}}", engine.now - start)
        recorder.inc(f"rally_iterations_failed_total{{{label}}}")
        action = failure.action if isinstance(failure, IterationFailed) else "iteration"
        recorder.inc(f'rally_action_failures_total{{action="{action}",{label}}}')

    def _body(self, workload: Workload, user: str, project: str,
              timed: Callable[[str, float], None]) -> Generator[Event, Any, IterationFailed | None]:
        try:
            token = self._tokens.get(user)
            if token is None:
                token = yield from self.cloud.identity.issue(user)
                self._tokens[user] = token
            iteration = Iteration(self.cloud, user, project, token, timed, workload.args)
            yield from SCENARIO_BODIES[workload.name](iteration)
        except IterationFailed as failed:
            return failed
        except ServiceError as error:
            return IterationFailed("authenticate", str(error))
        return None
