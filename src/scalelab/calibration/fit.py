"""``scalelab calibrate``: fit a small, named set of cost parameters on the ``train`` rows.

Each parameter is a spec path (``scheduler.per_node_cpu_seconds``, ...); its prior is its value
in the row's scenario (the profile's bottom-up default). The fit is scipy's bounded least squares
on the log ratio of model to measurement over the train rows, in log space of the parameters
(each bounded to [prior / 100, prior x 100]), every row weighted by its stated uncertainty (at
least 10 %). Check rows are then run with the fitted values and reported, never fitted. With few
rows, each train row's leave-one-out error is its log error under a fit without it.

The result is a profile overlay (CONTRACTS.md): ``{"name", "extends", "set": {path: value},
"provenance": {path: {prior, low, high, rows, fit}}}``. One factor that scales everything is not
a parameter here: the costs stay itemised (each path is one cost of one mechanism).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from scalelab.calibration.rows import Row, model_value

#: How far a parameter may move from its prior, either way.
SPAN = 100.0
#: Rows are weighted by 1 / max(uncertainty, this).
MIN_UNCERTAINTY = 0.1

Evaluate = Callable[[Row, dict[str, Any]], float | None]


@dataclass(frozen=True)
class Fit:
    params: dict[str, float]
    priors: dict[str, float]
    cost: float
    rows: list[str]


def prior_of(path: str, rows: Sequence[Row]) -> float:
    """A parameter's prior: its value in the first train row's scenario."""
    from scalelab.scenarios import load_scenario
    from scalelab.spec.loader import scenario_document

    doc: Any = scenario_document(load_scenario(rows[0].setup.scenario))
    for key in path.split("."):
        if not isinstance(doc, dict) or key not in doc:
            raise KeyError(path)
        doc = doc[key]
    if not isinstance(doc, int | float) or isinstance(doc, bool) or doc <= 0:
        raise KeyError(f"{path} (not a positive number: only costs can be fitted)")
    return float(doc)


def _residuals(rows: Sequence[Row], paths: Sequence[str], evaluate: Evaluate) -> Callable[[np.ndarray], np.ndarray]:
    def residuals(log_x: np.ndarray) -> np.ndarray:
        overrides = {p: float(math.exp(v)) for p, v in zip(paths, log_x.tolist(), strict=True)}
        out = []
        for row in rows:
            value = evaluate(row, overrides)
            error = math.log(value / row.observed) if value and value > 0 else math.log(1e-6)
            out.append(error / max(row.uncertainty, MIN_UNCERTAINTY))
        return np.asarray(out)

    return residuals


def fit(rows: Sequence[Row], paths: Sequence[str], evaluate: Evaluate = model_value) -> Fit:
    """Least squares of the weighted log ratios over ``rows`` (all must be train rows)."""
    if not rows:
        raise ValueError("no train rows to fit on")
    if any(r.role != "train" for r in rows):
        raise ValueError("only train rows are fitted")
    priors = {p: prior_of(p, rows) for p in paths}
    x0 = np.log([priors[p] for p in paths])
    span = math.log(SPAN)
    result = least_squares(_residuals(rows, paths, evaluate), x0, bounds=(x0 - span, x0 + span),
                           diff_step=0.05, x_scale=1.0)
    params = {p: float(math.exp(v)) for p, v in zip(paths, result.x.tolist(), strict=True)}
    return Fit(params, priors, float(result.cost), [r.id for r in rows])


def leave_one_out(rows: Sequence[Row], paths: Sequence[str], evaluate: Evaluate = model_value) -> dict[str, float]:
    """Each train row's |log(model / observed)| under a fit on the other rows."""
    out: dict[str, float] = {}
    for i, row in enumerate(rows):
        others = [r for j, r in enumerate(rows) if j != i]
        if not others:
            break
        params = fit(others, paths, evaluate).params
        value = evaluate(row, params)
        out[row.id] = abs(math.log(value / row.observed)) if value and value > 0 else math.inf
    return out


def overlay(result: Fit, name: str = "k8s-1.5-calibrated", extends: str = "k8s-1.5") -> dict[str, Any]:
    """The fitted values as a profile overlay with their provenance."""
    return {
        "name": name, "extends": extends, "set": dict(result.params),
        "provenance": {p: {"prior": result.priors[p], "low": result.priors[p] / SPAN,
                           "high": result.priors[p] * SPAN, "rows": list(result.rows),
                           "fit": "scipy least_squares on log(model/observed), log-space parameters",
                           "cost": result.cost} for p in result.params},
    }
