"""One run, end to end: scenario -> simulation -> findings -> a record the store keeps.

A ``RunRecord`` is plain data (picklable, so pool workers can return it to the parent,
which alone writes the store). ``run_id`` hashes scenario, seed and version: the same
inputs give the same id and, but for ``wall_seconds``, byte-identical JSON.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scalelab import __version__
from scalelab.catalogue.entry import Finding, RunView
from scalelab.catalogue.registry import ENTRIES
from scalelab.simulation import Simulation
from scalelab.spec.loader import scenario_document, scenario_hash
from scalelab.spec.model import Scenario


def run_id_for(scenario: Scenario) -> str:
    blob = f"{scenario_hash(scenario)}:{scenario.seed}:{__version__}"
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class RunRecord:
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
    counters: dict[str, float]
    findings: list[Finding] = field(default_factory=list)
    series: list[tuple[float, str, float]] = field(default_factory=list)
    run_events: list[tuple[float, str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The CONTRACTS.md shape of ``scalelab run --format json``."""
        return {
            "run_id": self.run_id, "scenario": self.scenario, "profile": self.profile, "seed": self.seed,
            "sim_seconds": round(self.sim_seconds, 6), "wall_seconds": round(self.wall_seconds, 3),
            "events": self.events, "summary": self.summary,
            "findings": [f.to_json() for f in self.findings],
        }


def detect_all(view: RunView) -> list[Finding]:
    found = []
    for entry in ENTRIES.values():
        if entry.detect is not None:
            finding = entry.detect(view)
            if finding is not None:
                found.append(finding)
    return found


def execute(scenario: Scenario, progress: Callable[[float], None] | None = None) -> RunRecord:
    """Run a scenario to its end and collect everything the store and reports need."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    sim = Simulation(scenario)
    results = sim.run(progress)
    wall = time.perf_counter() - t0
    rec = results.recorder
    counters = {k: float(v) for k, v in sorted(rec.counters.items())}
    view = RunView(results.summary, counters)
    return RunRecord(
        run_id=run_id_for(scenario), scenario=scenario.name, profile=scenario.profile, seed=scenario.seed,
        scenario_hash=scenario_hash(scenario), document=scenario_document(scenario), started=started,
        sim_seconds=results.sim_seconds, wall_seconds=wall, events=results.events,
        summary=results.summary, counters=counters, findings=detect_all(view),
        series=[(s.time, s.metric, s.value) for s in rec.samples],
        run_events=[(e.time, e.kind, e.detail) for e in rec.events],
    )


def dumps(payload: Any) -> str:
    """Canonical JSON for stdout: stable key order, no NaN."""
    return json.dumps(payload, indent=2, allow_nan=False)
