"""``scalelab sweep`` and ``scalelab breakpoint``: many runs of one scenario (issue: reports,
export and sweeps).

A sweep is the cross product of ``--vary PATH=a,b,c`` values (times ``--seeds`` seeds), each an
independent run on a process pool (``concurrent.futures``) or on a Dask cluster's executor
(``Client.get_executor()``, the optional ``dask`` extra); workers return ``RunRecord``s, the
parent stores them (DuckDB has one writer) under one sweep id derived from the inputs.

A breakpoint search varies one path over ``LOW..HIGH`` and finds the smallest value at which
any SLO breaks, by bisection over runs: it assumes a value that breaks an SLO breaks it at every
larger value, and checks that on the runs it made (``monotone``). Each metric the SLOs name gets
a scaling law fitted over those runs: a power law and polynomials of degree 1 and 2, the one
with the smallest leave-one-out error chosen and reported with it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalelab.runner import RunRecord, execute
from scalelab.scenarios import apply_patch
from scalelab.spec.loader import ScenarioError, as_written, parse_set_raw, scenario_document
from scalelab.spec.model import Scenario

OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, "<": operator.lt, ">=": operator.ge,
                                                   ">": operator.gt, "==": operator.eq}
_SLO = re.compile(r"^\s*([A-Za-z_][\w{}=\",.:-]*?)\s*(<=|>=|==|<|>)\s*([-+0-9.eE]+)\s*$")


def parse_vary(items: Iterable[str], scenario: Scenario) -> dict[str, list[Any]]:
    """``PATH=a,b,c`` -> {path: [values]} (each value typed as ``--set`` types it)."""
    out: dict[str, list[Any]] = {}
    doc = scenario_document(scenario)
    for item in items:
        path, sep, raw = item.partition("=")
        if not sep or not raw.strip():
            raise ScenarioError("--vary", [f"{item!r}: expected PATH=a,b,c"])
        values = [as_written(doc, parse_set_raw([f"{path}={v}"]))[path.strip()] for v in raw.split(",")]
        out[path.strip()] = values
    return out


def parse_range(item: str) -> tuple[str, float, float]:
    """``PATH=LOW..HIGH`` -> (path, low, high)."""
    path, sep, raw = item.partition("=")
    low, dots, high = raw.partition("..")
    try:
        lo, hi = float(low), float(high)
    except ValueError:
        lo = hi = float("nan")
    if not sep or not dots or not lo < hi:
        raise ScenarioError("--vary", [f"{item!r}: expected PATH=LOW..HIGH with LOW < HIGH"])
    return path.strip(), lo, hi


@dataclass(frozen=True)
class Slo:
    metric: str
    op: str
    bound: float
    text: str

    def holds(self, summary: dict[str, Any]) -> bool:
        value = summary.get(self.metric)
        return value is not None and OPS[self.op](float(value), self.bound)


def parse_slo(text: str) -> Slo:
    match = _SLO.match(text)
    if match is None:
        raise ScenarioError("--slo", [f"{text!r}: expected METRIC<=NUMBER (or <, >=, >, ==)"])
    metric, op, bound = match.groups()
    return Slo(metric, op, float(bound), text.strip())


def _dask_map(scenarios: Sequence[Scenario], workers: int) -> list[RunRecord]:
    """The runs on a local Dask cluster through its ``concurrent.futures`` executor (the
    ``dask`` extra), the cluster closed after."""
    try:
        from dask.distributed import Client, LocalCluster  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ScenarioError("--executor", ["dask: install the extra (pip install 'scalelab[dask]')"]) from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,  # type: ignore[no-untyped-call,unused-ignore]
                           dashboard_address=None)
    with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call,unused-ignore]
        return list(client.get_executor().map(execute, scenarios))


def run_all(scenarios: Sequence[Scenario], workers: int, kind: str = "local") -> list[RunRecord]:
    """Independent runs: in this process, on a process pool, or on a Dask cluster."""
    if kind == "dask":
        return _dask_map(scenarios, workers)
    if workers <= 1 or len(scenarios) <= 1:
        return [execute(s) for s in scenarios]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(execute, scenarios))


def sweep_id(base: Scenario, plan: Sequence[tuple[dict[str, Any], int]]) -> str:
    doc = json.dumps([scenario_document(base), [[p, s] for p, s in plan]], sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def plan_sweep(base: Scenario, vary: dict[str, list[Any]], seeds: int) -> list[tuple[dict[str, Any], int]]:
    combos = [dict(zip(vary, values, strict=True)) for values in itertools.product(*vary.values())]
    return [(params, base.seed + k) for params in combos for k in range(seeds)]


def scenario_for(base: Scenario, params: dict[str, Any], seed: int) -> Scenario:
    label = ",".join(f"{k}={v}" for k, v in params.items())
    out = apply_patch(base, {**params, "seed": seed}, source="--vary")
    return out.model_copy(update={"name": f"{base.name}[{label}]"})


def sweep(base: Scenario, vary: dict[str, list[Any]], seeds: int, workers: int,
          kind: str = "local") -> tuple[dict[str, Any], list[RunRecord]]:
    """The sweep's CONTRACTS.md document and its records (for the store)."""
    plan = plan_sweep(base, vary, seeds)
    records = run_all([scenario_for(base, p, s) for p, s in plan], workers, kind)
    runs = [{"run_id": r.run_id, "params": p, "seed": s, "summary": r.summary}
            for (p, s), r in zip(plan, records, strict=True)]
    return {"sweep_id": sweep_id(base, plan), "runs": runs}, records


def spread(doc: dict[str, Any], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Per parameter combination: each metric's mean, min and max over the seeds."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in doc["runs"]:
        groups.setdefault(json.dumps(run["params"], sort_keys=True), []).append(run)
    rows = []
    for key, runs in groups.items():
        row: dict[str, Any] = {"params": json.loads(key), "seeds": len(runs)}
        for metric in metrics:
            values = [float(r["summary"][metric]) for r in runs if r["summary"].get(metric) is not None]
            row[metric] = ({"mean": float(np.mean(values)), "min": min(values), "max": max(values)}
                           if values else None)
        rows.append(row)
    return rows


__all__ = ["Slo", "parse_range", "parse_slo", "parse_vary", "run_all", "scenario_for",
           "spread", "sweep", "sweep_id"]
