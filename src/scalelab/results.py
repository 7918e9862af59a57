"""What a run produced, as plain data: measurements, findings and the record the store keeps.

Everything downstream of the simulation (summaries, detectors, the store, reports, the
read-only commands) reads these types and nothing live, so a stored run can be summarised
again and importing the store loads no simulator component. Data flows one way:
spec -> simulation -> results -> store -> report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Evidence:
    file: str | None = None
    lines: tuple[int, ...] | None = None
    value: str | None = None
    metric: str | None = None
    observed: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "lines": list(self.lines) if self.lines is not None else None,
                "value": self.value, "metric": self.metric, "observed": self.observed}


@dataclass(frozen=True)
class Finding:
    """CONTRACTS.md's Finding: a catalogue entry (or an SLO) and the evidence for it."""

    id: str
    severity: Severity
    title: str
    evidence: Evidence
    fix: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity, "title": self.title,
                "evidence": self.evidence.to_json(), "fix": self.fix}


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
class Distribution:
    """A histogram's observations with their weights (a cohort of n identical requests is
    one observation of weight n), kept whole so any quantile can be taken later."""

    values: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.values)

    @property
    def count(self) -> float:
        return float(self.weights.sum())

    def mean(self) -> float | None:
        total = self.weights.sum()
        if len(self.values) == 0 or total <= 0:
            return None
        return float((self.values * self.weights).sum() / total)

    def quantile(self, q: float) -> float | None:
        return weighted_quantile(self.values, self.weights, q)

    def max(self) -> float | None:
        return float(self.values.max()) if len(self.values) else None


@dataclass(frozen=True)
class Window:
    """Where a run's figures are taken: the measurement window (the steady phases before the
    first deploy or reconfigure; ``end`` None = no such window) and the run's end."""

    start: float = 0.0
    end: float | None = None
    run_end: float = 0.0


@dataclass(frozen=True)
class RunEvent:
    time: float
    kind: str
    detail: str


@dataclass
class Measurements:
    """Everything the recorder kept: counters, end-of-run values (``finals``, recorded by the
    components' finish hooks), weighted distributions, 10 s samples of gauges, run events."""

    sample_every: float
    counters: dict[str, float] = field(default_factory=dict)
    finals: dict[str, float] = field(default_factory=dict)
    distributions: dict[str, Distribution] = field(default_factory=dict)
    samples: list[tuple[float, str, float]] = field(default_factory=list)
    events: list[RunEvent] = field(default_factory=list)

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(times, values) of one sampled gauge."""
        pts = [(t, v) for t, m, v in self.samples if m == name]
        if not pts:
            return np.empty(0), np.empty(0)
        arr = np.asarray(pts, dtype=np.float64)
        return arr[:, 0], arr[:, 1]


@dataclass
class Results:
    """What a simulation hands back: its measurements, its window, its size."""

    sim_seconds: float
    events: int
    measurements: Measurements
    window: Window


@dataclass(frozen=True)
class RunInputs:
    """What a run simulated, kept with it: the resolved scenario document, the file it came
    from, the ``--set`` overrides, seed, profile, scalelab version and the command line."""

    document: dict[str, Any]
    file: str | None
    overrides: dict[str, Any]
    profile: str
    seed: int
    version: str
    argv: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"document": self.document, "file": self.file, "overrides": dict(self.overrides),
                "profile": self.profile, "seed": self.seed, "version": self.version, "argv": list(self.argv)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunInputs:
        return cls(data["document"], data.get("file"), dict(data.get("overrides") or {}), data["profile"],
                   int(data["seed"]), data["version"], tuple(data.get("argv") or ()))


@dataclass
class RunRecord:
    """One finished run as the store keeps it (picklable: pool workers return it whole)."""

    run_id: str
    scenario: str
    profile: str
    seed: int
    scenario_hash: str
    document: dict[str, Any]
    started: str
    sim_seconds: float
    wall_seconds: float
    events: int
    summary: dict[str, float | None]
    measurements: Measurements
    window: Window
    findings: list[Finding] = field(default_factory=list)
    inputs: RunInputs | None = None

    @property
    def counters(self) -> dict[str, float]:
        return self.measurements.counters

    @property
    def series(self) -> list[tuple[float, str, float]]:
        return self.measurements.samples

    def to_json(self) -> dict[str, Any]:
        """The CONTRACTS.md shape of ``scalelab run --format json``."""
        return {
            "run_id": self.run_id, "scenario": self.scenario, "profile": self.profile, "seed": self.seed,
            "sim_seconds": round(float(self.sim_seconds), 6), "wall_seconds": round(float(self.wall_seconds), 3),
            "events": self.events, "summary": self.summary,
            "findings": [f.to_json() for f in self.findings],
            **({"inputs": self.inputs.to_json()} if self.inputs is not None else {}),
        }


def dumps(payload: Any) -> str:
    """Canonical JSON for stdout: stable key order, no NaN."""
    return json.dumps(payload, indent=2, allow_nan=False)
