"""``scalelab export``: a stored run as OpenMetrics text (for ``promtool tsdb
create-blocks-from openmetrics``, so a run loads into a real Prometheus) and as Parquet files.

Every sampled series becomes one OpenMetrics family: ``*_total`` series are counters (the family
named without the suffix), the others gauges; a name ending in ``_seconds``, ``_bytes`` or
``_percent`` carries that unit. Samples are at the run's clock mapped onto ``start`` (seconds
since the epoch; default: when the run was made), in time order within a series; the text ends
with ``# EOF``. End-of-run counters that were never sampled are added as one sample at the run's
end, so nothing the summary reads is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from scalelab.results import Measurements

_NAME = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?$")
UNITS = ("seconds", "bytes", "percent")


def split(name: str) -> tuple[str, str]:
    """(metric name, its label set text including braces, or '')."""
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"not a Prometheus series name: {name!r}")
    return match.group(1), match.group(2) or ""


def _family(metric: str) -> tuple[str, str]:
    """(family name, type) of a sample's metric name."""
    if metric.endswith("_total"):
        return metric[: -len("_total")], "counter"
    return metric, "gauge"


def _value(v: float) -> str:
    return repr(float(v)) if v == v else "NaN"  # noqa: PLR0124 (NaN is the one value unequal to itself)


def openmetrics(m: Measurements, start: float, run_end: float) -> str:
    """The run's series (and its unsampled end-of-run counters) as OpenMetrics text."""
    by_family: dict[str, tuple[str, dict[str, list[tuple[float, float]]]]] = {}
    for t, name, v in m.samples:
        metric, labels = split(name)
        family, kind = _family(metric)
        series = by_family.setdefault(family, (kind, {}))[1]
        series.setdefault(metric + labels, []).append((t, v))
    sampled = {name for _t, name, _v in m.samples}
    for name, v in sorted(m.counters.items()):
        if name in sampled:
            continue
        metric, labels = split(name)
        family, kind = _family(metric)
        existing = by_family.get(family)
        if existing is not None and existing[0] != kind:
            continue  # a gauge of the same family name: keep the sampled one
        by_family.setdefault(family, (kind, {}))[1][metric + labels] = [(run_end, v)]
    return "".join(_lines(by_family, start)) + "# EOF\n"


def _lines(by_family: dict[str, tuple[str, dict[str, list[tuple[float, float]]]]], start: float) -> Iterable[str]:
    for family in sorted(by_family):
        kind, series = by_family[family]
        yield f"# TYPE {family} {kind}\n"
        unit = next((u for u in UNITS if family.endswith("_" + u)), None)
        if unit is not None:
            yield f"# UNIT {family} {unit}\n"
        for name in sorted(series):
            for t, v in sorted(series[name]):
                yield f"{name} {_value(v)} {start + t:.3f}\n"


__all__ = ["openmetrics", "split"]
