"""A catalogue entry: one issue of the report as data plus two small predicates and a patch.

``rule(spec)`` says whether a configuration has the issue (static); ``detect(view)`` says
whether a run showed the symptom (dynamic, over results only); ``patch`` is the fix as a
spec patch and ``broken`` the setting that reverts it. ``bands`` are the report's figures as
checks on summary metrics, each with its source: never read by the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from scalelab.facts import SLO_MUTATING_API_P99_SECONDS, SLO_POD_STARTUP_P99_SECONDS
from scalelab.results import Evidence, Finding, Severity
from scalelab.spec.model import ClusterSpec, Scenario

__all__ = ["Band", "Entry", "Evidence", "Finding", "Reproduction", "RunView", "Severity", "api_slo_broken",
           "metric_detector", "slo_broken", "startup_beyond_pull"]
BandSource = Literal["measured", "derived", "expected"]


@dataclass(frozen=True)
class Band:
    """The report's figure for one metric of one run, as an open or closed range."""

    run: Literal["broken", "fixed", "intermediate"]
    metric: str
    low: float | None
    high: float | None
    source: BandSource
    note: str

    def holds(self, value: float | None) -> bool:
        if value is None:
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class RunView:
    """What a detector or explainer may read: the run's summary and counters, and the
    scenario it simulated (explanations quote its settings, never a default), nothing live."""

    summary: Mapping[str, float | None]
    counters: Mapping[str, float]
    scenario: Scenario | None = None

    @property
    def spec(self) -> Scenario:
        """The run's scenario (explainers are only called with one)."""
        if self.scenario is None:
            raise ValueError("this view carries no scenario")
        return self.scenario

    def metric(self, name: str) -> float | None:
        return self.summary.get(name)


def api_slo_broken(view: RunView) -> bool:
    """Mutating API calls broke upstream's SLO (p99 > 1 s)."""
    mutating = view.metric("api_mutating_response_seconds_p99")
    return mutating is not None and mutating > SLO_MUTATING_API_P99_SECONDS


def startup_beyond_pull(view: RunView) -> float | None:
    """Pod start-up p99 without the image pull, as the SLO measures it (images pre-pulled)."""
    startup = view.metric("pod_startup_seconds_p99")
    if startup is None:
        return None
    pull = view.scenario.runtime.image_pull_seconds if view.scenario is not None else 0.0
    return startup - pull


def slo_broken(view: RunView) -> bool:
    """The run broke one of upstream's SLOs (mutating API p99 > 1 s; pod start-up p99 without
    the image pull > 5 s)."""
    startup = startup_beyond_pull(view)
    return api_slo_broken(view) or (startup is not None and startup > SLO_POD_STARTUP_P99_SECONDS)


Rule = Callable[[ClusterSpec], Finding | None]
Harm = Callable[[RunView], bool]
"""Whether a detected symptom did harm in this run (an error) or only showed (a warning)."""
Detector = Callable[[RunView], Finding | None]
Explainer = Callable[[RunView, RunView], str]
"""Itemises, from the (broken, fixed) runs, where the model's figures come from: appended
to ``gap`` when a band misses."""


def metric_detector(metric: str, minimum: float, entry: Callable[[], Entry]) -> Detector:
    """The common detector: the symptom shows when ``metric`` reaches ``minimum``.
    ``entry`` is called lazily (the entry is built after its detector)."""

    def detect(view: RunView) -> Finding | None:
        value = view.metric(metric)
        if value is None or value < minimum:
            return None
        return entry().finding(Evidence(metric=metric, observed=value))

    return detect


@dataclass(frozen=True)
class Reproduction:
    """How to reproduce: the baseline scenario, settings applied to every run (``context``:
    another entry's broken setting the symptom needs, or a shorter workload), and the
    report's partial fix as a third run where it had one."""

    baseline: str = "campaign-900-fixed"
    context: Mapping[str, Any] = field(default_factory=dict)
    #: a third run between broken and fixed (the report's partial fix), as the settings that
    #: differ from *fixed*; its bands name the run ``intermediate``
    intermediate: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    layer: Literal["kubernetes", "monitoring", "openstack"]
    symptoms: str
    cause: str
    fix_text: str
    references: tuple[str, ...] = ()
    severity: Severity = "error"
    #: the fix, as a spec patch (None: not expressible in the spec yet)
    patch: Mapping[str, Any] | None = None
    #: the broken setting (what the patch reverts), applied to the fixed baseline
    broken: Mapping[str, Any] | None = None
    rule: Rule | None = None
    detect: Detector | None = None
    reproduction: Reproduction | None = None
    bands: tuple[Band, ...] = ()
    explain: Explainer | None = None
    #: a detected symptom is an error when this holds, else a warning (None: always ``severity``)
    harm: Harm | None = None
    #: why an entry without a reproduction is data only
    not_modelled_reason: str = ""
    #: the report has no fix: reproduced as one run (the symptom shown), status ``unresolved``
    unresolved: bool = False
    #: settings besides ``broken`` that a static finding points at in the user's files
    evidence_paths: tuple[str, ...] = ()
    #: the harm grows with the cluster: the onset table (``catalogue/onsets.json``, generated
    #: from the model) says from which size it shows
    size_dependent: bool = False

    @property
    def modelled(self) -> bool:
        return self.reproduction is not None and self.detect is not None


    def finding(self, evidence: Evidence, severity: Severity | None = None) -> Finding:
        return Finding(self.id, severity or self.severity, self.title, evidence, self.fix_text)
