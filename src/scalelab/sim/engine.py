"""The discrete-event core: a heap of timed callbacks plus generator processes.

Deliberately tiny and domain-free (DESIGN.md: the engine stays under 400 lines and knows
nothing of Kubernetes). Entries are ordered by (time, priority, sequence), so ties resolve
first-in first-out and a run repeats exactly. There is no wall clock inside a run.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Generator
from typing import Any

Callback = Callable[..., None]

#: Priority of ordinary callbacks; URGENT ones run before them at the same instant.
NORMAL = 1
URGENT = 0


class Event:
    """Something that happens once; processes wait on it by yielding it.

    Callbacks added after the event fired run at once (at the current time), so a
    process may yield an event that has already happened.
    """

    __slots__ = ("callbacks", "engine", "triggered", "value")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.callbacks: list[Callable[[Event], None]] = []
        self.triggered = False
        self.value: Any = None

    def succeed(self, value: Any = None) -> Event:
        """Fire the event now; waiting processes resume in the order they waited."""
        if self.triggered:
            raise RuntimeError("event already triggered")
        self.triggered = True
        self.value = value
        callbacks, self.callbacks = self.callbacks, []
        for cb in callbacks:
            self.engine.schedule(0.0, cb, self, priority=URGENT)
        return self

    def add_callback(self, cb: Callable[[Event], None]) -> None:
        if self.triggered:
            self.engine.schedule(0.0, cb, self, priority=URGENT)
        else:
            self.callbacks.append(cb)


class Process(Event):
    """A generator driven by the events it yields; the process is itself an event
    that fires with the generator's return value, so processes can wait on each other."""

    __slots__ = ("_gen",)

    def __init__(self, engine: Engine, gen: Generator[Event, Any, Any]) -> None:
        super().__init__(engine)
        self._gen = gen
        engine.schedule(0.0, self._resume, None, priority=URGENT)

    def _resume(self, fired: Event | None) -> None:
        value = None if fired is None else fired.value
        try:
            target = self._gen.send(value)
        except StopIteration as stop:
            self.succeed(stop.value)
            return
        target.add_callback(self._resume)


def _fire(event: Event, value: Any) -> None:
    event.succeed(value)


class Engine:
    """Event loop over simulated seconds.

    Hot paths schedule plain callbacks with :meth:`schedule` (no generator, no Event
    object); modelling code that reads better as a sequence uses :meth:`process`.
    """

    __slots__ = ("_heap", "_seq", "_stopped", "events_processed", "now")

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, int, Callback, tuple[Any, ...]]] = []
        self._seq = 0
        self.events_processed = 0
        self._stopped = False

    def schedule(self, delay: float, callback: Callback, *args: Any, priority: int = NORMAL) -> None:
        """Run ``callback(*args)`` after ``delay`` simulated seconds."""
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        self._seq += 1
        heapq.heappush(self._heap, (self.now + delay, priority, self._seq, callback, args))

    def at(self, time: float, callback: Callback, *args: Any, priority: int = NORMAL) -> None:
        """Run ``callback(*args)`` at absolute simulated ``time`` (not in the past)."""
        self.schedule(max(0.0, time - self.now), callback, *args, priority=priority)

    def event(self) -> Event:
        return Event(self)

    def timeout(self, delay: float, value: Any = None) -> Event:
        """An event that fires after ``delay``; yield it from a process to sleep."""
        ev = Event(self)
        self.schedule(delay, _fire, ev, value)
        return ev

    def process(self, gen: Generator[Event, Any, Any]) -> Process:
        return Process(self, gen)

    def stop(self) -> None:
        """End :meth:`run` after the current callback."""
        self._stopped = True

    def run(self, until: float, progress: Callable[[float], None] | None = None,
            progress_every: float = 60.0) -> None:
        """Process events up to and including time ``until``; time then stands at ``until``.

        ``progress`` (if given) is called with the simulated time every ``progress_every``
        simulated seconds; it must not schedule anything (it is for the CLI's stderr).
        """
        heap = self._heap
        pop = heapq.heappop
        processed = 0
        self._stopped = False
        next_progress = progress_every if progress is not None else math.inf
        # Inlined loop: this is the hottest code of every run.
        while heap:
            entry = pop(heap)
            time = entry[0]
            if time > until:
                heapq.heappush(heap, entry)
                break
            self.now = time
            if time >= next_progress:
                assert progress is not None
                progress(time)
                next_progress = (time // progress_every + 1) * progress_every
            entry[3](*entry[4])
            processed += 1
            if self._stopped:
                break
        self.events_processed += processed
        if not self._stopped:
            self.now = max(self.now, until)

    @property
    def pending(self) -> int:
        return len(self._heap)
