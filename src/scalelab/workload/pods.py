"""A workload phase's pods as columns: packed timestamps and node numbers, one row per pod.

A 100,000-node density test has 1,000,000 pods. As one object each (its timestamps, its node,
its ``PodInfo`` and name made when the phase began) they held ~270 bytes a pod before a single
one was created; as rows they hold 32 bytes (three doubles and a node number), and what the
scheduler reads of a pod (``PodInfo``) is made when the controller-manager creates it, from the
phase's template, then shared with the scheduler, which keeps it while the pod is placed.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable

from scalelab.components.scheduler.framework import PodInfo

#: A pod's template: what the scheduler will read of pod number ``i`` of the phase.
Template = Callable[[int], PodInfo]


def _no_template(i: int) -> PodInfo:
    raise LookupError(f"pod {i} was added without a PodInfo and its table has no template")


class PodTable:
    """The pods of one phase: ``created``, ``bound`` and ``started`` (simulated seconds, NaN
    until then) and ``node`` (-1 until bound), indexed by pod number. A deploy or density phase
    knows its count and template at the start; a load phase ``add``s pods as it goes."""

    def __init__(self, count: int = 0, template: Template = _no_template) -> None:
        self._template = template
        self.created = array("d", [math.nan]) * count
        self.bound = array("d", [math.nan]) * count
        self.started = array("d", [math.nan]) * count
        self.node = array("q", [-1]) * count
        #: each pod's PodInfo once made (None before its creation, or after it is gone)
        self._infos: list[PodInfo | None] = [None] * count
        #: who else wants to know when a pod is Running (a load test's controller), by pod number
        self.on_running: dict[int, Callable[[], None]] = {}

    def __len__(self) -> int:
        return len(self._infos)

    def add(self, info: PodInfo, on_running: Callable[[], None] | None = None) -> int:
        """One more pod, with its own PodInfo; its number."""
        i = len(self._infos)
        self.created.append(math.nan)
        self.bound.append(math.nan)
        self.started.append(math.nan)
        self.node.append(-1)
        self._infos.append(info)
        if on_running is not None:
            self.on_running[i] = on_running
        return i

    def info(self, i: int) -> PodInfo:
        """Pod ``i``'s PodInfo, made from the template the first time it is asked for."""
        made = self._infos[i]
        if made is None:
            made = self._infos[i] = self._template(i)
        return made

    def release(self, i: int) -> None:
        """Pod ``i`` is gone: its PodInfo is no longer kept (its timestamps are)."""
        self._infos[i] = None
        self.on_running.pop(i, None)
