"""The discrete-event core: a heap of timed callbacks plus generator processes.

Deliberately tiny and domain-free (DESIGN.md: the engine stays under 400 lines and knows
nothing of Kubernetes). Entries are ordered by (time, priority, sequence), so ties resolve
first-in first-out and a run repeats exactly. There is no wall clock inside a run.

Three things let modelling code give up on work cleanly, with no counters of its own:
- every scheduled callback has a :class:`Timer` handle; ``cancel()`` means it never runs;
- an event can *fail*: the exception is thrown into every process waiting on it (an RPC that
  times out, a DB call that deadlocks), and a process can be interrupted from outside;
- :meth:`Engine.any_of` / :meth:`Engine.all_of` wait on the first / all of several events
  (a reply or its timeout).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Generator, Iterable
from typing import Any

Callback = Callable[..., None]

#: Priority of ordinary callbacks; URGENT ones run before them at the same instant.
NORMAL = 1
URGENT = 0


def _cancelled(*_args: Any) -> None:
    """Stands in for the callback of a cancelled timer (the loop skips it)."""


class Timer(list):  # type: ignore[type-arg]
    """Handle of one scheduled callback: the heap entry itself, ``[time, priority, sequence,
    callback, args]`` (a list compares like a tuple; the sequence number is unique, so
    callbacks are never compared). ``cancel()`` leaves the entry in the heap, where the loop
    drops it without counting it as an event."""

    __slots__ = ()

    @property
    def time(self) -> float:
        return float(self[0])

    @property
    def cancelled(self) -> bool:
        return self[3] is _cancelled

    def cancel(self) -> None:
        self[3] = _cancelled
        self[4] = ()


class Interrupt(Exception):  # noqa: N818 (SimPy's name for the same thing)
    """Thrown into a process by :meth:`Process.interrupt`; ``cause`` says why."""

    @property
    def cause(self) -> Any:
        return self.args[0] if self.args else None


class Event:
    """Something that happens once, with a value or a failure; processes wait on it by
    yielding it. Callbacks added after the event fired run at once (at the current time),
    so a process may yield an event that has already happened."""

    __slots__ = ("callbacks", "engine", "ok", "triggered", "value")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.callbacks: list[Callable[[Event], None]] = []
        self.triggered = False
        self.ok = True
        self.value: Any = None

    def succeed(self, value: Any = None) -> Event:
        """Fire the event now; waiting processes resume in the order they waited."""
        return self._trigger(True, value)

    def fail(self, exc: BaseException) -> Event:
        """Fire the event as failed: ``exc`` is raised inside every process waiting on it."""
        if not isinstance(exc, BaseException):
            raise TypeError(f"{exc!r} is not an exception")
        return self._trigger(False, exc)

    def _trigger(self, ok: bool, value: Any) -> Event:
        if self.triggered:
            raise RuntimeError("event already triggered")
        self.triggered = True
        self.ok = ok
        self.value = value
        callbacks, self.callbacks = self.callbacks, []
        soon = self.engine.soon
        for cb in callbacks:
            soon(cb, self)
        return self

    def add_callback(self, cb: Callable[[Event], None]) -> None:
        if self.triggered:
            self.engine.soon(cb, self)
        else:
            self.callbacks.append(cb)

    def remove_callback(self, cb: Callable[[Event], None]) -> None:
        """Stop waiting (a no-op once the event fired)."""
        if cb in self.callbacks:
            self.callbacks.remove(cb)


class Process(Event):
    """A generator driven by the events it yields; the process is itself an event that fires
    with the generator's return value (or fails with the exception that escaped it), so
    processes can wait on each other. A failed event it waits on is thrown into it."""

    __slots__ = ("_gen", "_target")

    def __init__(self, engine: Engine, gen: Generator[Event, Any, Any]) -> None:
        super().__init__(engine)
        self._gen = gen
        self._target: Event | None = None
        engine.soon(self._resume, None)

    @property
    def alive(self) -> bool:
        return not self.triggered

    def interrupt(self, cause: Any = None) -> None:
        """Throw :class:`Interrupt` into the process at once; what it waited on no longer
        resumes it."""
        if self.triggered:
            raise RuntimeError("process already finished")
        if self._target is not None:
            self._target.remove_callback(self._resume)
            self._target = None
        self._step(Interrupt(cause), throw=True)

    def _resume(self, fired: Event | None) -> None:
        if self.triggered or fired is not self._target:
            return  # interrupted meanwhile: a stale wake-up
        self._target = None
        if fired is None:
            self._step(None, throw=False)
        else:
            self._step(fired.value, throw=not fired.ok)

    def _step(self, value: Any, throw: bool) -> None:
        try:
            target = self._gen.throw(value) if throw else self._gen.send(value)
        except StopIteration as stop:
            self.succeed(stop.value)
            return
        except Exception as exc:  # an interrupt of the run itself (KeyboardInterrupt) is not a failure
            if not self.callbacks:
                raise  # nobody waits for this process: a failure must not pass silently
            self.fail(exc)
            return
        self._target = target
        if target.triggered:  # ``add_callback``, inlined: once per step of every process
            self.engine.soon(self._resume, target)
        else:
            target.callbacks.append(self._resume)


class Condition(Event):
    """Fires when ``done(fired, total)`` holds over the events it watches, with a dict of
    the fired events' values; fails at once when one of them fails."""

    __slots__ = ("_done", "_events", "_fired")

    def __init__(self, engine: Engine, events: Iterable[Event], done: Callable[[int, int], bool]) -> None:
        super().__init__(engine)
        self._events = list(events)
        self._done = done
        self._fired: dict[Event, Any] = {}
        if not self._events or done(0, len(self._events)):
            self.succeed({})
            return
        for ev in self._events:
            ev.add_callback(self._check)

    def _check(self, ev: Event) -> None:
        if self.triggered:
            return
        if not ev.ok:
            self.fail(ev.value)
            return
        self._fired[ev] = ev.value
        if self._done(len(self._fired), len(self._events)):
            self.succeed(dict(self._fired))


def _fire(event: Event, value: Any) -> None:
    event.succeed(value)


class Engine:
    """Event loop over simulated seconds.

    Hot paths schedule plain callbacks with :meth:`schedule` (no generator, no Event
    object); modelling code that reads better as a sequence uses :meth:`process`.

    Most entries are urgent and due now (an event's waiters resumed, a process started): they
    wait in a FIFO beside the heap instead of in it. Their keys ``(now, URGENT, sequence)``
    only grow, so the FIFO is sorted; the loop takes whichever of its head and the heap's top
    has the smaller key, so the order is the heap's alone, to the entry, and each of them
    saves a push and a pop over a heap that a large run keeps deep.
    """

    __slots__ = ("_heap", "_now_fifo", "_seq", "_stopped", "events_processed", "now")

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[Timer] = []
        #: urgent entries due at ``now``, in sequence order (see the class's docstring)
        self._now_fifo: deque[Timer] = deque()
        self._seq = 0
        self.events_processed = 0
        self._stopped = False

    def schedule(self, delay: float, callback: Callback, *args: Any, priority: int = NORMAL) -> Timer:
        """Run ``callback(*args)`` after ``delay`` simulated seconds; the handle cancels it."""
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        if delay == 0 and priority == URGENT:
            return self.soon(callback, *args)
        self._seq += 1
        entry = Timer((self.now + delay, priority, self._seq, callback, args))
        heapq.heappush(self._heap, entry)
        return entry

    def soon(self, callback: Callback, *args: Any) -> Timer:
        """``schedule(0.0, callback, *args, priority=URGENT)``: before anything else due now that
        was not itself scheduled urgently earlier (how events wake their waiters)."""
        self._seq += 1
        entry = Timer((self.now, URGENT, self._seq, callback, args))
        self._now_fifo.append(entry)
        return entry

    def at(self, time: float, callback: Callback, *args: Any, priority: int = NORMAL) -> Timer:
        """Run ``callback(*args)`` at absolute simulated ``time``; a time in the past is an
        error, like a negative delay."""
        if time < self.now:
            raise ValueError(f"time {time} is in the past (now {self.now})")
        # pushed as given: ``now + (time - now)`` can differ from ``time`` in the last bit
        self._seq += 1
        entry = Timer((time, priority, self._seq, callback, args))
        heapq.heappush(self._heap, entry)
        return entry

    def ticket(self) -> int:
        """The sequence number an entry scheduled now would get, for an entry pushed later
        with :meth:`push` (``TimedFifo`` keeps a queue's calls out of the heap until due)."""
        self._seq += 1
        return self._seq

    def push(self, entry: Timer) -> None:
        """Put an entry made with a :meth:`ticket` in the heap; it must not be in the past."""
        if entry[0] < self.now:
            raise ValueError(f"time {entry[0]} is in the past (now {self.now})")
        heapq.heappush(self._heap, entry)

    def event(self) -> Event:
        return Event(self)

    def timeout(self, delay: float, value: Any = None) -> Event:
        """An event that fires after ``delay``; yield it from a process to sleep."""
        ev = Event(self)
        self.schedule(delay, _fire, ev, value)
        return ev

    def process(self, gen: Generator[Event, Any, Any]) -> Process:
        return Process(self, gen)

    def any_of(self, events: Iterable[Event]) -> Condition:
        """Fires when the first of ``events`` fires (a reply or its timeout)."""
        return Condition(self, events, lambda fired, _total: fired >= 1)

    def all_of(self, events: Iterable[Event]) -> Condition:
        """Fires when every one of ``events`` has fired."""
        return Condition(self, events, lambda fired, total: fired == total)

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
        fifo = self._now_fifo
        pop = heapq.heappop
        popleft = fifo.popleft
        skip = _cancelled
        processed = 0
        self._stopped = False
        next_progress = progress_every if progress is not None else math.inf
        # Inlined loop: this is the hottest code of every run.
        while True:
            if fifo:  # the smaller key of the FIFO's head and the heap's top (class docstring)
                entry = pop(heap) if heap and heap[0] < fifo[0] else popleft()
            elif heap:
                entry = pop(heap)
            else:
                break
            callback = entry[3]
            if callback is skip:
                continue
            time = entry[0]
            if time > until:
                heapq.heappush(heap, entry)  # the heap orders it among the rest as the FIFO did
                break
            self.now = time
            if time >= next_progress:
                assert progress is not None
                progress(time)
                next_progress = (time // progress_every + 1) * progress_every
            callback(*entry[4])
            processed += 1
            if self._stopped:
                break
        self.events_processed += processed
        if not self._stopped:
            self.now = max(self.now, until)

    @property
    def pending(self) -> int:
        """Entries waiting in the heap (cancelled ones included until their time comes)."""
        return len(self._heap) + len(self._now_fifo)
