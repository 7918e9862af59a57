"""Scaling laws fitted over runs (``breakpoint``): a power law and polynomials of degree 1 and
2, the one with the smallest leave-one-out error chosen. Pure NumPy: reports read it too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _fit(form: str, x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    if form == "power":
        if np.any(x <= 0) or np.any(y <= 0):
            return None
        return np.polyfit(np.log(x), np.log(y), 1)
    return np.polyfit(x, y, 1 if form == "poly1" else 2)


def _predict(form: str, params: np.ndarray, x: np.ndarray) -> np.ndarray:
    if form == "power":
        return np.asarray(np.exp(np.polyval(params, np.log(x))))
    return np.asarray(np.polyval(params, x))


def fit_law(points: Sequence[tuple[float, float]]) -> dict[str, Any] | None:
    """The best of power law, line and parabola by leave-one-out error (mean |relative error|
    of each point predicted from the others); None below 3 points."""
    if len(points) < 3:
        return None
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    best: dict[str, Any] | None = None
    for form, needs in (("power", 3), ("poly1", 3), ("poly2", 4)):
        if len(points) < needs or _fit(form, x, y) is None:
            continue
        errors = []
        for i in range(len(x)):
            keep = np.arange(len(x)) != i
            params = _fit(form, x[keep], y[keep])
            if params is None:
                break
            predicted = float(_predict(form, params, x[i:i + 1])[0])
            errors.append(abs(predicted - y[i]) / max(abs(y[i]), 1e-12))
        else:
            params = _fit(form, x, y)
            assert params is not None
            fitted = _predict(form, params, x)
            total = float(np.sum((y - y.mean()) ** 2))
            r2 = 1.0 - float(np.sum((y - fitted) ** 2)) / total if total > 0 else 1.0
            candidate = {"form": form, "params": [float(p) for p in params], "r2": round(r2, 6),
                         "loo_error": round(float(np.mean(errors)), 6)}
            if best is None or candidate["loo_error"] < best["loo_error"]:
                best = candidate
    return best


def extrapolate(law: dict[str, Any], x: float) -> float:
    return float(_predict(law["form"], np.array(law["params"]), np.array([x]))[0])




__all__ = ["extrapolate", "fit_law"]
