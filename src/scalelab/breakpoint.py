"""``scalelab breakpoint``: the smallest value of one setting at which an SLO breaks.

Bisection over runs between ``LOW`` and ``HIGH`` (integers for integer settings, else to 1 % of
the range): both ends run first (in parallel), then the middle of the bracket until it is one
step wide. It assumes monotonicity (broken at x, broken at every larger value) and checks it on
the runs it made: ``monotone`` is false when a smaller value broke and a larger one held. The
metrics the SLOs name get a scaling law over all the runs (``scalelab.sweep.fit_law``) and its
value extrapolated to twice ``HIGH``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from scalelab.laws import extrapolate, fit_law
from scalelab.runner import RunRecord
from scalelab.spec.model import Scenario
from scalelab.sweep import Slo, run_all, scenario_for, sweep_id

#: bisection steps at most (a bracket halves each time)
MAX_STEPS = 12


def breakpoint_search(base: Scenario, path: str, low: float, high: float, slos: Sequence[Slo], workers: int = 2,
                      integer: bool = True,
                      on_record: Callable[[RunRecord], None] | None = None) -> dict[str, Any]:
    runs: dict[float, RunRecord] = {}

    def value(x: float) -> Any:
        return round(x) if integer else x

    def evaluate(xs: list[float]) -> None:
        todo = [x for x in xs if x not in runs]
        for x, rec in zip(todo, run_all([scenario_for(base, {path: value(x)}, base.seed) for x in todo], workers),
                          strict=True):
            runs[x] = rec
            if on_record is not None:
                on_record(rec)

    def broken(x: float) -> bool:
        return not all(slo.holds(runs[x].summary) for slo in slos)

    evaluate([low, high])
    breaks_at: float | None
    if broken(low):
        breaks_at = low
    elif not broken(high):
        breaks_at = None
    else:
        lo, hi = low, high  # lo holds, hi breaks
        step = 1.0 if integer else (high - low) / 100
        for _ in range(MAX_STEPS):
            if hi - lo <= step:
                break
            mid = (lo + hi) / 2
            mid = float(round(mid)) if integer else mid
            evaluate([mid])
            if broken(mid):
                hi = mid
            else:
                lo = mid
        breaks_at = hi
    xs = sorted(runs)
    states = [broken(x) for x in xs]
    monotone = all(not (a and not b) for a, b in itertools.pairwise(states))
    fits: dict[str, Any] = {}
    for slo in slos:
        points = [(x, float(v)) for x in xs if (v := runs[x].summary.get(slo.metric)) is not None]
        law = fit_law(points)
        if law is not None:
            law["extrapolated"] = {str(value(2 * high)): extrapolate(law, 2 * high)}
        fits[slo.metric] = law
    plan = [({path: value(x)}, base.seed) for x in xs]
    return {"path": path, "range": [value(low), value(high)], "slos": [s.text for s in slos],
            "breaks_at": value(breaks_at) if breaks_at is not None else None, "fits": fits, "monotone": monotone,
            "sweep_id": sweep_id(base, plan),
            "runs": [{"run_id": runs[x].run_id, "value": value(x), "broken": broken(x),
                      "summary": {s.metric: runs[x].summary.get(s.metric) for s in slos}} for x in xs]}


__all__ = ["breakpoint_search"]
