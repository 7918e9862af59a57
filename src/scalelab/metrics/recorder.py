"""The recorder: counters, sampled series and weighted histograms on simulated time.

Names follow Prometheus style (``apiserver_request_total{code="429"}``). Cohort code records
one observation with a weight (n identical requests that took the same time), so histograms
carry weights and quantiles are weighted. Reports and detectors read only what the recorder
produced (``results.Measurements``), never live components. End-of-run values a component
alone knows (a peak, a final count) are recorded by its finish hook with ``final``.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scalelab.results import Distribution, Measurements, RunEvent


@dataclass
class Histogram:
    """Observations as packed doubles (8 bytes each: a 100,000-node run observes ~30 M).
    ``weights`` stays None while every weight is 1, which is most histograms: the per-request
    latencies of cohort-free paths and every pod's start-up."""

    values: array[float] = field(default_factory=lambda: array("d"))
    weights: array[float] | None = None

    def observe(self, value: float, weight: float = 1.0) -> None:
        self.values.append(value)
        if self.weights is not None:
            self.weights.append(weight)
        elif weight != 1.0:
            self.weights = array("d", [1.0]) * (len(self.values) - 1)
            self.weights.append(weight)

    def distribution(self) -> Distribution:
        """A copy of the observations so far (the histogram keeps growing)."""
        values = np.array(self.values, dtype=np.float64)
        weights = np.ones(len(values)) if self.weights is None else np.array(self.weights, dtype=np.float64)
        return Distribution(values, weights)

    def handover(self) -> Distribution:
        """The observations at the end of a run, without a copy: the arrays share the
        histogram's buffer (which can then no longer grow: an observation after it raises
        BufferError instead of being lost)."""
        values = np.frombuffer(self.values, dtype=np.float64)
        if self.weights is None:  # unit weights as a read-only view of one 1.0: no memory per observation
            return Distribution(values, np.broadcast_to(np.float64(1.0), values.shape))
        return Distribution(values, np.frombuffer(self.weights, dtype=np.float64))


@dataclass(frozen=True)
class Sample:
    time: float
    metric: str
    value: float


class Recorder:
    """Collects measurements during a run; ``sample_every`` seconds for gauges."""

    def __init__(self, sample_every: float = 10.0) -> None:
        self.sample_every = sample_every
        self.counters: dict[str, float] = defaultdict(float)
        self.histograms: dict[str, Histogram] = defaultdict(Histogram)
        self.samples: list[Sample] = []
        self.events: list[RunEvent] = []
        self.finals: dict[str, float] = {}
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

    def point(self, now: float, name: str, value: float) -> None:
        """One value at one instant, outside the 10 s sampling (a Rally iteration's end and
        duration): kept with the samples, read back by ``Measurements.series``."""
        self.samples.append(Sample(now, name, float(value)))

    def sample(self, now: float) -> None:
        for name, read in self._gauges.items():
            self.samples.append(Sample(now, name, float(read())))

    def event(self, now: float, kind: str, detail: str = "") -> None:
        self.events.append(RunEvent(now, kind, detail))

    def final(self, name: str, value: float) -> None:
        """An end-of-run value (recorded once, by a finish hook)."""
        if name in self.finals:
            raise ValueError(f"final value {name} recorded twice")
        self.finals[name] = float(value)

    def measurements(self) -> Measurements:
        """Everything recorded, as plain data for the results. The histograms' buffers are
        handed over, not copied (at 100,000 nodes a copy was ~500 MB at the run's peak), and the
        recorder starts new ones: what is observed after the run's end (a request still in
        flight whose generator is closed when the engine is freed, recording in its
        ``finally``) goes to those, which nobody reads, as it went before to a copy's source."""
        handed, self.histograms = self.histograms, defaultdict(Histogram)
        return Measurements(
            sample_every=self.sample_every,
            counters={k: float(v) for k, v in sorted(self.counters.items())},
            finals=dict(sorted(self.finals.items())),
            distributions={k: h.handover() for k, h in sorted(handed.items())},
            samples=[(s.time, s.metric, s.value) for s in self.samples],
            events=list(self.events))
