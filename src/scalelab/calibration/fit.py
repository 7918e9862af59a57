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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel
from scipy.optimize import least_squares

from scalelab.calibration.rows import Row, model_value

#: How far a parameter may move from its prior, either way.
SPAN = 100.0
#: Relative tolerances of the least-squares fit.
TOLERANCE = 1e-3
#: Rows are weighted by 1 / max(uncertainty, this).
MIN_UNCERTAINTY = 0.1

Evaluate = Callable[[Row, dict[str, Any]], float | None]


@dataclass(frozen=True)
class Fit:
    params: dict[str, float]
    priors: dict[str, float]
    cost: float
    rows: list[str]


def prior_of(path: str) -> float:
    """A parameter's prior: its bottom-up default in the spec (``model.py``, with its source),
    never a previous fit's value (the k8s-1.5 profile carries that)."""
    from scalelab.spec.model import Scenario

    keys = path.split(".")
    field = Scenario.model_fields.get(keys[0])
    if field is None or len(keys) < 2:
        raise KeyError(path)
    value: Any = field.get_default(call_default_factory=True)
    for key in keys[1:]:
        if not isinstance(value, BaseModel) or key not in type(value).model_fields:
            raise KeyError(path)
        value = getattr(value, key)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise KeyError(f"{path} (not a positive number: only costs can be fitted)")
    return float(value)


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
    priors = {p: prior_of(p) for p in paths}
    x0 = np.log([priors[p] for p in paths])
    span = math.log(SPAN)
    # tolerances of 1e-3 (in log space: 0.1 % of a parameter): the rows are good to 10-50 %, and
    # every evaluation is a set of simulations
    result = least_squares(_residuals(rows, paths, evaluate), x0, bounds=(x0 - span, x0 + span),
                           diff_step=0.05, x_scale=1.0, ftol=TOLERANCE, xtol=TOLERANCE, gtol=TOLERANCE)
    params = {p: float(math.exp(v)) for p, v in zip(paths, result.x.tolist(), strict=True)}
    return Fit(params, priors, float(result.cost), [r.id for r in rows])


def _held_out_error(rows: Sequence[Row], i: int, paths: Sequence[str], evaluate: Evaluate) -> float:
    """Row ``i``'s |log(model / observed)| under a fit on the other rows."""
    others = [r for j, r in enumerate(rows) if j != i]
    value = evaluate(rows[i], fit(others, paths, evaluate).params)
    return abs(math.log(value / rows[i].observed)) if value and value > 0 else math.inf


def leave_one_out(rows: Sequence[Row], paths: Sequence[str], evaluate: Evaluate = model_value,
                  jobs: int = 1) -> dict[str, float]:
    """Each train row's |log(model / observed)| under a fit on the other rows (the refits are
    independent: ``jobs`` processes run them)."""
    if len(rows) < 2:
        return {}
    indices = range(len(rows))
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(rows))) as pool:
            errors = list(pool.map(_held_out_error, [rows] * len(rows), indices, [paths] * len(rows),
                                   [evaluate] * len(rows)))
    else:
        errors = [_held_out_error(rows, i, paths, evaluate) for i in indices]
    return {row.id: error for row, error in zip(rows, errors, strict=True)}


def overlay(result: Fit, name: str = "k8s-1.5", extends: str = "k8s-1.5-priors") -> dict[str, Any]:
    """The fitted values as a profile overlay with their provenance."""
    return {
        "name": name, "extends": extends, "set": dict(result.params),
        "provenance": {p: {"prior": result.priors[p], "low": result.priors[p] / SPAN,
                           "high": result.priors[p] * SPAN, "rows": list(result.rows),
                           "fit": "scipy least_squares on log(model/observed), log-space parameters",
                           "cost": result.cost} for p in result.params},
    }


def merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """An overlay with ``new``'s fitted values over ``old``'s (each value keeps its own
    provenance: the rows and fit it came from)."""
    return {**new, "set": {**old.get("set", {}), **new["set"]},
            "provenance": {**old.get("provenance", {}), **new["provenance"]}}
