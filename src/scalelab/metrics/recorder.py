"""The recorder: counters, sampled series and weighted histograms on simulated time.

Names follow Prometheus style (``apiserver_request_total{code="429"}``). Cohort code records
one observation with a weight (n identical requests that took the same time), so histograms
carry weights and quantiles are weighted. Reports and detectors read only what the recorder
produced (``Results``), never live components.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Histogram:
    values: array[float] = field(default_factory=lambda: array("d"))
    weights: array[float] = field(default_factory=lambda: array("d"))

    def observe(self, value: float, weight: float = 1.0) -> None:
        self.values.append(value)
        self.weights.append(weight)

    @property
    def count(self) -> float:
        return float(sum(self.weights))

    def mean(self) -> float | None:
        if not self.values:
            return None
        v = np.frombuffer(self.values, dtype=np.float64)
        w = np.frombuffer(self.weights, dtype=np.float64)
        total = w.sum()
        return float((v * w).sum() / total) if total > 0 else None

    def quantile(self, q: float) -> float | None:
        return weighted_quantile(np.frombuffer(self.values, dtype=np.float64),
                                 np.frombuffer(self.weights, dtype=np.float64), q)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float | None:
    """The smallest value whose cumulative weight reaches q of the total (inverse CDF)."""
    if len(values) == 0:
        return None
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    total = cum[-1]
    if total <= 0:
        return None
    idx = int(np.searchsorted(cum, q * total, side="left"))
    return float(values[order][min(idx, len(values) - 1)])


@dataclass(frozen=True)
class Sample:
    time: float
    metric: str
    value: float


@dataclass(frozen=True)
class RunEvent:
    time: float
    kind: str
    detail: str


class Recorder:
    """Collects measurements during a run; ``sample_every`` seconds for gauges."""

    def __init__(self, sample_every: float = 10.0) -> None:
        self.sample_every = sample_every
        self.counters: dict[str, float] = defaultdict(float)
        self.histograms: dict[str, Histogram] = defaultdict(Histogram)
        self.samples: list[Sample] = []
        self.events: list[RunEvent] = []
        self._gauges: dict[str, Callable[[], float]] = {}

    def inc(self, name: str, amount: float = 1.0) -> None:
        self.counters[name] += amount

    def observe(self, name: str, value: float, weight: float = 1.0) -> None:
        self.histograms[name].observe(value, weight)

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        """Register a gauge read at every sampling instant."""
        if name in self._gauges:
            raise ValueError(f"gauge {name} registered twice")
        self._gauges[name] = read

    def sample(self, now: float) -> None:
        for name, read in self._gauges.items():
            self.samples.append(Sample(now, name, float(read())))

    def event(self, now: float, kind: str, detail: str = "") -> None:
        self.events.append(RunEvent(now, kind, detail))

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        pts = [(s.time, s.value) for s in self.samples if s.metric == name]
        if not pts:
            return np.empty(0), np.empty(0)
        arr = np.asarray(pts, dtype=np.float64)
        return arr[:, 0], arr[:, 1]
