"""Shared resources: processor-shared cores and counted slots.

``Cores`` is how CPU percentages and queueing delays *come out of* contention: every piece
of work is a job of so many CPU-seconds, and all busy jobs share the host's hardware threads
(egalitarian processor sharing, each job capped at one thread). Finish tags in virtual time
keep an arrival or a departure O(log n), whatever the number of busy jobs.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Any

from scalelab.sim.engine import Engine, Timer


class Cores:
    """A host's hardware threads, shared by all work submitted to it.

    A job of ``work`` CPU-seconds and ``weight`` w stands for w identical jobs started
    together (a cohort); each of the K busy unit jobs runs at min(1, threads / K) of a
    thread. Virtual time V advances at that rate, a job finishes when V reaches its tag
    (V at arrival + work), so one heap of tags orders all completions.

    Work nobody waits for (``burn``, or ``submit`` without a callback) keeps its tags in a
    heap of its own and ends without an event: the books pass its end when they next move
    (``_advance`` integrates piecewise, one piece per burn that ended). While the cores are
    not saturated a burn's end changes nobody's rate, so the only timer is the next
    completion somebody waits for; saturated, every end speeds the rest up, so the timer is
    the next end of either kind. In a large run most jobs are watch dispatch burns: this
    saves an event, a push and a pop for each.
    """

    __slots__ = (
        "_burn_entry",
        "_burn_key",
        "_burns",
        "_busy_integral",
        "_last",
        "_next",
        "_owner_busy",
        "_owner_weight",
        "_seq",
        "_tags",
        "_v",
        "_weight",
        "engine",
        "name",
        "threads",
        "work_done",
    )

    def __init__(self, engine: Engine, threads: float, name: str = "") -> None:
        if threads <= 0:
            raise ValueError("threads must be positive")
        self.engine = engine
        self.threads = float(threads)
        self.name = name
        self._v = 0.0
        self._weight = 0.0
        #: busy jobs somebody waits for, as heap entries ``[tag, seq, weight, owner, callback, args]``
        self._tags: list[list[Any]] = []
        #: busy jobs nobody waits for (callback None), entries of the same shape
        self._burns: list[list[Any]] = []
        #: the last burn's entry while it is pending, and (time, work, owner) it was made with:
        #: an identical burn at the same instant joins it (see ``burn``)
        self._burn_entry: list[Any] | None = None
        self._burn_key: tuple[float, float, str] | None = None
        self._seq = 0
        self._last = 0.0
        self._next: Timer | None = None  # the next completion, rescheduled on every change
        self._busy_integral = 0.0
        #: CPU-seconds of work submitted
        self.work_done = 0.0
        self._owner_busy: dict[str, float] = {}
        self._owner_weight: dict[str, float] = {}

    @property
    def busy_jobs(self) -> float:
        self._advance()
        return self._weight

    @property
    def busy_integral(self) -> float:
        """Thread-seconds of busy time since the start (integral of busy threads)."""
        self._advance()
        return self._busy_integral

    @property
    def owner_busy(self) -> dict[str, float]:
        """Busy thread-seconds per owner (a process sharing the host), its share of the busy
        threads in proportion to its busy jobs."""
        self._advance()
        return self._owner_busy

    def _integrate(self, dt: float, weight: float) -> None:
        """Move the books ``dt`` > 0 wall seconds at a constant ``weight`` > 0 of busy jobs."""
        threads = self.threads
        if weight <= threads:
            self._v += dt
            busy = dt * weight
        else:
            self._v += dt * (threads / weight)
            busy = dt * threads
        self._busy_integral += busy
        share = busy / weight
        owner_busy = self._owner_busy
        for owner, w in self._owner_weight.items():
            if w > 0:
                owner_busy[owner] += share * w

    def _advance(self) -> None:
        """Bring the books to now, ending on the way every burn whose tag V reaches."""
        now = self.engine.now
        dt = now - self._last
        self._last = now
        if dt <= 0:
            return
        burns = self._burns
        threads = self.threads
        while self._weight > 0:
            weight = self._weight
            if burns:
                need = burns[0][0] - self._v  # wall seconds to the next burn's end
                if weight > threads:
                    need /= threads / weight
                if need <= dt:
                    if need > 0:
                        self._integrate(need, weight)
                        dt -= need
                    self._end_burns()
                    continue
            self._integrate(dt, weight)
            return

    def _end_burns(self) -> None:
        """End the first burn, and every other whose tag V has reached."""
        burns = self._burns
        scale = abs(self._v)
        limit = self._v + 1e-12 * (scale if scale > 1.0 else 1.0)
        owner_weight = self._owner_weight
        while True:
            entry = heapq.heappop(burns)
            if entry is self._burn_entry:
                self._burn_entry = None
            self._weight -= entry[2]
            owner_weight[entry[3]] -= entry[2]
            if not burns or burns[0][0] > limit:
                break
        if not burns and not self._tags:
            self._drop_residue()

    def _drop_residue(self) -> None:
        """Nothing is busy: the weights are zero, not float residue."""
        self._weight = 0.0
        for owner in self._owner_weight:
            self._owner_weight[owner] = 0.0

    def busy_seconds(self) -> float:
        """Busy thread-seconds up to now (integral of min(jobs, threads))."""
        self._advance()
        return self._busy_integral

    def backlog_seconds(self) -> float:
        """Wall seconds until the work now on these cores drains if nothing more arrives: the
        busy jobs' remaining CPU over the threads, and at least the longest job's remainder.
        For a one-thread process running greenthreads, the wait of a greenthread woken now,
        behind every one already runnable (cooperative scheduling runs each burst out)."""
        self._advance()
        total = longest = 0.0
        for heap in (self._tags, self._burns):
            for tag, _seq, weight, *_rest in heap:
                left = tag - self._v
                total += left * weight
                longest = max(longest, left)
        return max(total / self.threads, longest)

    def owner_busy_seconds(self, owner: str) -> float:
        """Busy thread-seconds of one owner up to now."""
        self._advance()
        return self._owner_busy.get(owner, 0.0)

    def burn(self, work: float, weight: float = 1.0, owner: str = "") -> None:
        """Run ``work`` CPU-seconds (per unit job) that nobody waits for (watch dispatch, a
        rejected request, a background apply): it loads the cores, and its end is no event.

        Burns of the same work for the same owner at the same instant (one watch event per
        answer of an etcd batch) have the same finish tag and nobody to call, so they are one
        heap entry of their summed weight: processor sharing computes the same, and a batch
        costs one push and one pop. Counts (weights) are whole numbers, so the sums are exact."""
        if work <= 0:
            return
        whole = float(weight).is_integer()
        entry = self._burn_entry
        if entry is not None and whole and self._burn_key == (self.engine.now, work, owner):
            self._join(entry, work, weight, owner)
            return
        entry = self._push(work, None, (), weight, owner)
        if whole:  # only whole-number entries are joined, so their weights stay exact
            self._burn_entry = entry
            self._burn_key = (self.engine.now, work, owner)

    def _join(self, entry: list[Any], work: float, weight: float, owner: str) -> None:
        """Add ``weight`` unit jobs to a pending burn's entry (its tag stays: same instant, same
        work); the books move as ``submit`` moves them."""
        self._seq += 1  # as if submitted: later jobs keep the sequence numbers they had
        entry[2] += weight
        self._weight += weight
        self._owner_weight[owner] += weight
        self.work_done += work * weight
        if self._weight > self.threads:
            self._reschedule()  # the arrival slows every job: the next completion moves

    def submit(self, work: float, callback: Callable[..., None] | None, *args: Any,
               weight: float = 1.0, owner: str = "") -> None:
        """Run ``work`` CPU-seconds (per unit job) and then call ``callback(*args)`` (None:
        nobody is called, see ``burn``)."""
        if work <= 0:
            if callback is not None:
                self.engine.soon(callback, *args)
            return
        self._push(work, callback, args, weight, owner)

    def _push(self, work: float, callback: Callable[..., None] | None, args: tuple[Any, ...],
              weight: float, owner: str) -> list[Any]:
        """Book a job of ``work`` > 0 and return its heap entry (``burn`` may join later ones)."""
        self._advance()
        self._seq += 1
        entry = [self._v + work, self._seq, weight, owner, callback, args]
        unsaturated = self._weight + weight <= self.threads  # before and after: nobody slows
        if callback is None:
            # a burn's end needs no timer unless it changes a rate (saturated cores)
            unmoved = unsaturated
            heapq.heappush(self._burns, entry)
        else:
            tags = self._tags
            # not finishing first either: the next completion and its timer stay (a timer with
            # no waited-for job is a saturated one's, due now: its burns just ended, moved)
            unmoved = unsaturated and self._next is not None and bool(tags) and entry[0] >= tags[0][0]
            heapq.heappush(tags, entry)
        self._weight += weight
        owner_weight = self._owner_weight
        if owner in owner_weight:
            owner_weight[owner] += weight
        else:  # a new owner: its books open
            owner_weight[owner] = weight
            self._owner_busy.setdefault(owner, 0.0)
        self.work_done += work * weight
        if not unmoved:
            self._reschedule()
        return entry

    def _reschedule(self) -> None:
        if self._next is not None:
            self._next.cancel()  # an arrival or departure moved the next completion
            self._next = None
        tags = self._tags
        weight = self._weight
        if weight > self.threads:  # saturated: a burn's end speeds the rest up, so it counts
            burns = self._burns
            if tags and burns:
                top = min(tags[0][0], burns[0][0])
            elif tags or burns:
                top = (tags or burns)[0][0]
            else:
                return
            delay = top - self._v
            delay /= self.threads / weight  # slowed: the rate is threads / weight
        elif tags:
            delay = tags[0][0] - self._v
        else:
            return
        self._next = self.engine.schedule(delay if delay > 0.0 else 0.0, self._complete)

    def abandon(self, owner: str) -> int:
        """The owner process is gone (killed): its unfinished jobs call nobody back. Their CPU
        stays booked until each would have finished (a simplification: a killed process's
        remaining work is not taken off the cores). Returns the number of jobs abandoned."""
        count = 0
        for entry in self._tags:
            if entry[3] == owner:
                entry[4] = None
                entry[5] = ()
                count += 1
        return count

    def _complete(self) -> None:
        self._next = None
        self._advance()
        tags = self._tags
        burns = self._burns
        scale = abs(self._v)
        limit = self._v + 1e-12 * (scale if scale > 1.0 else 1.0)
        if burns and burns[0][0] <= limit:  # ended at this instant (saturated cores' timer)
            self._end_burns()
        finished = []
        while tags and tags[0][0] <= limit:
            entry = heapq.heappop(tags)
            _tag, _seq, weight, owner, callback, args = entry
            self._weight -= weight
            self._owner_weight[owner] -= weight
            if callback is not None:
                finished.append((callback, args))
        if not tags and not burns:
            self._drop_residue()
        self._reschedule()
        # The jobs' continuations run now, in finishing order, once the cores are consistent
        # again (a continuation may submit more work here).
        for callback, args in finished:
            callback(*args)


class Slots:
    """A counted resource (inflight limit, DB pool, forward table).

    ``try_acquire`` is the loss-system use (a full pool rejects at once, as the 1.5
    apiserver answers 429); ``acquire`` waits first-in first-out, as a queue of servers.
    """

    __slots__ = ("_waiters", "capacity", "engine", "in_use", "peak")

    def __init__(self, engine: Engine, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.engine = engine
        self.capacity = capacity
        self.in_use = 0
        self.peak = 0
        self._waiters: deque[Callable[[], None]] = deque()

    def try_acquire(self, n: int = 1) -> int:
        """Take up to ``n`` free slots now; return how many were taken."""
        got = min(n, self.capacity - self.in_use)
        if got <= 0:
            return 0
        self.in_use += got
        self.peak = max(self.peak, self.in_use)
        return got

    def acquire(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once a slot is held (at once if one is free)."""
        if self.in_use < self.capacity and not self._waiters:
            self.in_use += 1
            self.peak = max(self.peak, self.in_use)
            self.engine.soon(callback)
        else:
            self._waiters.append(callback)

    def release(self, n: int = 1) -> None:
        self.in_use -= n
        if self.in_use < 0:
            raise RuntimeError("released more slots than held")
        while self._waiters and self.in_use < self.capacity:
            self.in_use += 1
            self.engine.soon(self._waiters.popleft())

    @property
    def waiting(self) -> int:
        return len(self._waiters)
