"""A queue of timed calls whose times never decrease, with only its next call in the heap.

A rate limiter in front of a million creates (scale-100k's controller-manager) used to put a
million timers in the engine's heap at once: every push and pop of every other event then paid
for a heap twenty levels deep (the queued calls still take their memory, in a deque). A token bucket hands
out due times in order, so the queue can wait outside the heap: each call takes its sequence
number when it is queued, and the next call enters the heap when the one before it runs. The
engine then runs every call at the same place in the order (time, priority, sequence) as if
each had been scheduled when queued, so results are the same to the bit.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from scalelab.sim.engine import NORMAL, Callback, Engine, Timer


class TimedFifo:
    """Calls at nondecreasing times, in the engine's order, with one heap entry at a time."""

    __slots__ = ("_engine", "_in_heap", "_last", "_priority", "_run_next", "_waiting")

    def __init__(self, engine: Engine, priority: int = NORMAL) -> None:
        self._engine = engine
        self._priority = priority
        #: queued calls as ``(time, sequence, callback, args)``: a heap entry is made only for
        #: the next one (a million queued calls cost a tuple each, not a timer and a wrapper)
        self._waiting: deque[tuple[float, int, Callback, tuple[Any, ...]]] = deque()
        self._in_heap = False
        self._last = -float("inf")
        self._run_next = self._run  # one bound method for every heap entry

    def __len__(self) -> int:
        """Calls queued and not yet run."""
        return len(self._waiting) + self._in_heap

    def at(self, time: float, callback: Callback, *args: Any) -> None:
        """Run ``callback(*args)`` at ``time``, which is not before now nor before the time of
        any call queued earlier."""
        if time < self._last or time < self._engine.now:
            raise ValueError(f"time {time} is before an earlier call's {self._last} or now")
        self._last = time
        call = (time, self._engine.ticket(), callback, args)
        if self._in_heap:
            self._waiting.append(call)
        else:
            self._in_heap = True
            self._push(call)

    def _push(self, call: tuple[float, int, Callback, tuple[Any, ...]]) -> None:
        time, seq, callback, args = call
        self._engine.push(Timer((time, self._priority, seq, self._run_next, (callback, args))))

    def _run(self, callback: Callback, args: tuple[Any, ...]) -> None:
        # the next call enters the heap before this one runs: its key is larger than this
        # one's and smaller than any later call's, so no pop order changes
        if self._waiting:
            self._push(self._waiting.popleft())
        else:
            self._in_heap = False
        callback(*args)
