"""Rally's report of a run's ``rally`` phases, computed from the stored measurements alone
(CONTRACTS.md: ``scalelab rally TASK --format json``): per workload its runner, iterations,
success ratio, load duration, each atomic action's min / median / 90%ile / 95%ile / max / avg
with its count and success ratio, and the SLA verdicts Rally would print."""

from __future__ import annotations

from typing import Any

import numpy as np

from scalelab.results import Measurements
from scalelab.spec.model import RallyPhase, Scenario
from scalelab.spec.rally_task import Workload, parse


def _stats(values: np.ndarray, failures: float) -> dict[str, Any]:
    count = len(values)
    total = count + failures
    if count == 0:
        return {"min": None, "median": None, "p90": None, "p95": None, "max": None, "avg": None, "count": 0,
                "success_ratio": 0.0 if total else None}
    return {"min": round(float(values.min()), 6), "median": round(float(np.percentile(values, 50)), 6),
            "p90": round(float(np.percentile(values, 90)), 6), "p95": round(float(np.percentile(values, 95)), 6),
            "max": round(float(values.max()), 6), "avg": round(float(values.mean()), 6), "count": count,
            "success_ratio": round(count / total, 6)}


def _sla(workload: Workload, failed_share: float, iterations: np.ndarray) -> list[dict[str, Any]]:
    verdicts: list[dict[str, Any]] = []
    rate = workload.sla.get("failure_rate")
    if rate is not None:
        percent = 100.0 * failed_share
        low, high = float(rate.get("min", 0.0)), float(rate.get("max", 100.0))
        verdicts.append({"criterion": "failure_rate", "success": low <= percent <= high,
                         "detail": f"failure rate {percent:.2f}% (allowed {low:g}%..{high:g}%)"})
    if "max_avg_duration" in workload.sla:
        limit = float(workload.sla["max_avg_duration"])
        avg = float(iterations.mean()) if len(iterations) else float("inf")
        verdicts.append({"criterion": "max_avg_duration", "success": avg <= limit,
                         "detail": f"average duration {avg:.2f} s (max {limit:g} s)"})
    if "max_seconds_per_iteration" in workload.sla:
        limit = float(workload.sla["max_seconds_per_iteration"])
        worst = float(iterations.max()) if len(iterations) else float("inf")
        verdicts.append({"criterion": "max_seconds_per_iteration", "success": worst <= limit,
                         "detail": f"maximum iteration {worst:.2f} s (max {limit:g} s)"})
    return verdicts


def report(m: Measurements, scenario: Scenario, task_name: str) -> dict[str, Any]:
    """The Rally report of every rally phase of the run (workloads numbered across phases)."""
    workloads = [w for phase in scenario.workload if isinstance(phase, RallyPhase) for w in parse(phase.task)]
    out = []
    for index, workload in enumerate(workloads):
        label = f'workload="{index}"'
        total = m.counters.get(f"rally_iterations_total{{{label}}}", 0.0)
        failed = m.counters.get(f"rally_iterations_failed_total{{{label}}}", 0.0)
        it = m.distributions.get(f"rally_iteration_seconds{{{label}}}")
        durations = it.values if it is not None else np.empty(0)
        actions: dict[str, Any] = {}
        suffix = f",{label}}}"
        names = sorted({k[len('rally_action_seconds{action="'):-len(suffix) - 1]
                        for k in [*m.distributions, *m.counters]
                        if k.startswith(("rally_action_seconds{", "rally_action_failures_total{"))
                        and k.endswith(suffix)})
        for name in names:
            key = f'{{action="{name}",{label}}}'
            d = m.distributions.get(f"rally_action_seconds{key}")
            actions[name] = _stats(d.values if d is not None else np.empty(0),
                                   m.counters.get(f"rally_action_failures_total{key}", 0.0))
        share = failed / total if total else 0.0
        out.append({"name": workload.name, "runner": workload.runner.as_dict(), "iterations": int(total),
                    "success_ratio": round(1.0 - share, 6) if total else None,
                    "load_duration": round(m.finals.get(f"rally_load_duration_seconds{{{label}}}", 0.0), 6),
                    "actions": actions, "sla": _sla(workload, share, durations)})
    return {"task": task_name, "scenario": scenario.name, "workloads": out}


def sla_failed(doc: dict[str, Any]) -> bool:
    return any(not v["success"] for w in doc["workloads"] for v in w["sla"])


def view(doc: dict[str, Any]) -> None:
    """Rally's tables: one per workload, its actions and the SLA."""
    from rich.table import Table

    from scalelab import render

    out = render.console()
    out.print(f"[bold]task {doc['task']}[/] on {doc['scenario']}")
    for w in doc["workloads"]:
        ratio = w["success_ratio"]
        out.print(f"[bold]{w['name']}[/] runner {w['runner']}: {w['iterations']} iterations, "
                  f"success {100 * ratio if ratio is not None else 0:.1f}%, load duration {w['load_duration']:.1f} s")
        table = Table("action", "min", "median", "90%ile", "95%ile", "max", "avg", "success", "count")
        for name, s in w["actions"].items():
            keys = ("min", "median", "p90", "p95", "max", "avg")
            cells = [f"{s[k]:.3f}" if s[k] is not None else "n/a" for k in keys]
            success = f"{100 * s['success_ratio']:.1f}%" if s["success_ratio"] is not None else "n/a"
            table.add_row(name, *cells, success, str(s["count"]))
        out.print(table)
        for v in w["sla"]:
            mark = "[green]pass[/]" if v["success"] else "[red]FAIL[/]"
            out.print(f"  SLA {v['criterion']}: {mark} ({v['detail']})")
