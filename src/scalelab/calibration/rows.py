"""Calibration rows: the data format, its loader (every error with file and field path) and
the model's value for a row."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scalelab.spec.loader import ScenarioError

#: Sources whose figures are the checks this work is judged on: never ``train``.
HELD_OUT = ("report", "pr-37691", "performance-docs")
DATA_DIR = Path(__file__).resolve().parent / "data"


class Setup(BaseModel):
    """The measured setup as a scenario: a built-in and the paths that make it the row's."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    scenario: str = "campaign-900"
    set: dict[str, Any] = {}


class Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    source: str  # citation: where the figure was read
    origin: str  # short name of the source (``issue-22823``, ``report``, ...): held-out ones are checks
    versions: str
    hardware: str = "not stated"
    component: Literal["scheduler", "apiserver", "etcd", "dns", "kubelet", "node_proxy", "calico", "runtime",
                       "keystone", "nova"]
    role: Literal["train", "check"]
    setup: Setup = Setup()
    metric: str  # a summary metric of the run
    observed: Annotated[float, Field(gt=0)]
    uncertainty: Annotated[float, Field(ge=0)] = 0.0  # relative, as the source gives or implies it
    note: str = ""

    @model_validator(mode="after")
    def _held_out_rows_are_checks(self) -> Row:
        if self.origin in HELD_OUT and self.role != "check":
            raise ValueError(f"a row from {self.origin} is held out: role must be check")
        return self


def load_rows(paths: list[Path] | None = None) -> list[Row]:
    """Rows of the given files (default: the package's data), all problems at once."""
    files = paths if paths else sorted(DATA_DIR.glob("*.yaml"))
    rows: list[Row] = []
    problems: list[str] = []
    for path in files:
        try:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        except (OSError, yaml.YAMLError) as exc:
            raise ScenarioError(str(path), [f"cannot read calibration rows ({str(exc).splitlines()[0]})"]) from None
        items = doc.get("rows") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise ScenarioError(str(path), ["rows: expected a list of calibration rows"])
        for i, item in enumerate(items):
            try:
                rows.append(Row.model_validate(item))
            except ValidationError as err:
                problems += [f"{path}: rows.{i}.{'.'.join(str(p) for p in e['loc']) or '(row)'}: {e['msg']}"
                             for e in err.errors()]
    ids = [r.id for r in rows]
    problems += [f"row id {i!r} appears twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    if problems:
        raise ScenarioError("calibration data", problems)
    return rows


def setup_key(row: Row, overrides: dict[str, Any] | None = None) -> str:
    """What a row's run depends on: its setup and the overrides laid over it (rows with the same
    key share one run)."""
    return json.dumps([row.setup.scenario, row.setup.set, overrides or {}], sort_keys=True, default=str)


def model_value(row: Row, overrides: dict[str, Any] | None = None) -> float | None:
    """The model's value of a row's metric, running the row's setup (with ``overrides``: a
    profile overlay's values). Rows that share a setup share one run (see ``summary``)."""
    value = summary(setup_key(row, overrides)).get(row.metric)
    return None if value is None else float(value)


@functools.lru_cache(maxsize=128)
def summary(key: str) -> dict[str, float | None]:
    """The summary of one setup under one set of overrides: runs are deterministic (same
    scenario, same seed), so a fit evaluating several rows of one setup runs it once."""
    from scalelab.runner import execute
    from scalelab.scenarios import apply_patch, load

    scenario_name, patch, overrides = json.loads(key)
    # a profile is chosen where the scenario is loaded (its defaults are resolved there)
    profile = overrides.pop("profile", None)
    base = load(scenario_name, [f"profile={profile}"] if profile else []).scenario
    scenario = apply_patch(base, {**overrides, **patch}, source=f"calibration setup {scenario_name}")
    return dict(execute(scenario).summary)
