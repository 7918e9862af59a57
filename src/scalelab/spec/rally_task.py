"""Rally task files (JSON or YAML, format v1 and v2) read into typed workloads.

v1: ``{"Scenario.name": [{"args", "runner", "context", "sla"}]}``; v2: ``{"version": 2,
"subtasks": [{"title", "scenario": {name: args}, "runner": {type: {...}}, "contexts", "sla"}]}``.
Runners: ``constant`` (``times``, ``concurrency``), ``constant_for_duration`` (``duration``,
``concurrency``), ``rps`` (``times``, ``rps``, optional ``max_concurrency``); ``timeout`` per
iteration (Rally's default 600 s). Contexts: ``users`` (``tenants``, ``users_per_tenant``); others
are accepted and ignored (named in ``ignored``). SLA: ``failure_rate`` (``max``, %),
``max_avg_duration`` and ``max_seconds_per_iteration`` (s). Errors carry the path in the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The scenarios scalelab runs, with the arguments each reads (Rally's names).
SCENARIOS: dict[str, tuple[str, ...]] = {
    "Authenticate.keystone": (),
    "KeystoneBasic.create_user": (),
    "NovaServers.boot_server": ("flavor", "image", "auto_assign_nic"),
    "NovaServers.boot_and_delete_server": ("flavor", "image"),
    "NovaServers.boot_and_list_server": ("flavor", "image", "detailed"),
    "NovaServers.boot_and_live_migrate_server": ("flavor", "image", "block_migration"),
    "NeutronNetworks.create_and_list_networks": ("network_create_args",),
    "NeutronNetworks.list_agents": ("agent_args",),
    "GlanceImages.create_and_delete_image": ("image_location", "container_format", "disk_format"),
    "HeatStacks.create_and_delete_stack": ("template_path", "servers", "software_deployments", "parameters"),
}
RUNNERS = ("constant", "constant_for_duration", "rps")
SLAS = ("failure_rate", "max_avg_duration", "max_seconds_per_iteration")


class TaskError(ValueError):
    """A task file that is not what Rally accepts (``path`` inside the task)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


@dataclass(frozen=True)
class Runner:
    type: str
    times: int = 1
    concurrency: int = 1
    duration: float = 0.0
    rps: float = 0.0
    max_concurrency: int | None = None
    timeout: float = 600.0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type in ("constant", "rps"):
            out["times"] = self.times
        if self.type in ("constant", "constant_for_duration"):
            out["concurrency"] = self.concurrency
        if self.type == "constant_for_duration":
            out["duration"] = self.duration
        if self.type == "rps":
            out["rps"] = self.rps
            if self.max_concurrency is not None:
                out["max_concurrency"] = self.max_concurrency
        return out


@dataclass(frozen=True)
class Workload:
    name: str
    runner: Runner
    args: dict[str, Any] = field(default_factory=dict)
    tenants: int = 1
    users_per_tenant: int = 1
    sla: dict[str, Any] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()


def _number(value: Any, path: str, integer: bool = False, minimum: float = 0.0, above: bool = False) -> Any:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or value < minimum or (above and value == minimum):
        kind = "an integer" if integer else "a number"
        bound = f"> {minimum:g}" if above else f">= {minimum:g}"
        raise TaskError(path, f"expected {kind} {bound}, got {value!r}")
    return value


def _mapping(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TaskError(path, f"expected a mapping, got {type(value).__name__}")
    return value


def _runner(doc: Any, path: str) -> Runner:
    doc = _mapping(doc, path)
    kind = doc.get("type", "serial")
    if kind not in RUNNERS:
        raise TaskError(f"{path}.type", f"unsupported runner {kind!r}; supported: {', '.join(RUNNERS)}")
    known = {"type", "times", "concurrency", "duration", "rps", "max_concurrency", "timeout"}
    for key in doc:
        if key not in known:
            raise TaskError(f"{path}.{key}", f"unknown runner key; expected one of {', '.join(sorted(known))}")
    timeout = float(_number(doc.get("timeout", 600), f"{path}.timeout", above=True))
    if kind == "constant":
        return Runner(kind, times=_number(doc.get("times", 1), f"{path}.times", True, 1),
                      concurrency=_number(doc.get("concurrency", 1), f"{path}.concurrency", True, 1), timeout=timeout)
    if kind == "constant_for_duration":
        if "duration" not in doc:
            raise TaskError(f"{path}.duration", "required by constant_for_duration")
        return Runner(kind, duration=float(_number(doc["duration"], f"{path}.duration", above=True)),
                      concurrency=_number(doc.get("concurrency", 1), f"{path}.concurrency", True, 1), timeout=timeout)
    if "rps" not in doc:
        raise TaskError(f"{path}.rps", "required by the rps runner")
    cap = doc.get("max_concurrency")
    return Runner(kind, times=_number(doc.get("times", 1), f"{path}.times", True, 1),
                  rps=float(_number(doc["rps"], f"{path}.rps", above=True)),
                  max_concurrency=None if cap is None else _number(cap, f"{path}.max_concurrency", True, 1),
                  timeout=timeout)


def _workload(name: Any, args: Any, runner: Any, contexts: Any, sla: Any, path: str, ctx_key: str) -> Workload:
    if name not in SCENARIOS:
        raise TaskError(path, f"unsupported scenario {name!r}; supported: {', '.join(SCENARIOS)}")
    contexts = _mapping(contexts, f"{path}.{ctx_key}")
    users = _mapping(contexts.get("users"), f"{path}.{ctx_key}.users")
    tenants = _number(users.get("tenants", 1), f"{path}.{ctx_key}.users.tenants", True, 1)
    per = _number(users.get("users_per_tenant", 1), f"{path}.{ctx_key}.users.users_per_tenant", True, 1)
    sla = _mapping(sla, f"{path}.sla")
    for key in sla:
        if key not in SLAS:
            raise TaskError(f"{path}.sla.{key}", f"unsupported SLA; supported: {', '.join(SLAS)}")
    if "failure_rate" in sla:
        rate = _mapping(sla["failure_rate"], f"{path}.sla.failure_rate")
        for key in rate:
            if key not in ("max", "min"):
                raise TaskError(f"{path}.sla.failure_rate.{key}", "expected max or min")
            _number(rate[key], f"{path}.sla.failure_rate.{key}")
    for key in ("max_avg_duration", "max_seconds_per_iteration"):
        if key in sla:
            _number(sla[key], f"{path}.sla.{key}", above=True)
    return Workload(str(name), _runner(runner, f"{path}.runner"), _mapping(args, f"{path}.args"), tenants, per,
                    dict(sla), tuple(sorted(k for k in contexts if k != "users")))


def parse(doc: Any) -> list[Workload]:
    """Every workload of a task document, in order."""
    doc = _mapping(doc, "")
    if not doc:
        raise TaskError("", "an empty task")
    if doc.get("version") == 2:
        subtasks = doc.get("subtasks")
        if not isinstance(subtasks, list) or not subtasks:
            raise TaskError("subtasks", "expected a non-empty list")
        out = []
        for i, raw in enumerate(subtasks):
            path = f"subtasks.{i}"
            sub = _mapping(raw, path)
            scenario = _mapping(sub.get("scenario"), f"{path}.scenario")
            if len(scenario) != 1:
                raise TaskError(f"{path}.scenario", "expected one scenario name with its arguments")
            (name, args), = scenario.items()
            runner = _mapping(sub.get("runner"), f"{path}.runner")
            if len(runner) != 1:
                raise TaskError(f"{path}.runner", "expected one runner type with its settings")
            (kind, settings), = runner.items()
            out.append(_workload(name, args, {"type": kind, **_mapping(settings, f"{path}.runner.{kind}")},
                                 sub.get("contexts", sub.get("context")), sub.get("sla"), path, "contexts"))
        return out
    out = []
    for name, entries in doc.items():
        if not isinstance(entries, list) or not entries:
            raise TaskError(str(name), "expected a list of workloads")
        for i, raw in enumerate(entries):
            path = f"{name}.{i}"
            entry = _mapping(raw, path)
            out.append(_workload(name, entry.get("args"), entry.get("runner"), entry.get("context"),
                                 entry.get("sla"), path, "context"))
    return out
