"""What people read: numbers with their units, tables that pipes do not break, YAML.

Metric names carry their unit (``_seconds``, ``_percent``, ``_per_second``, ``_bytes``,
``_mib``, ``_total``, ``_share``, ``_ratio``); a value is printed in that unit with an SI prefix
where it helps (``10 µs``, ``1.2 k/s``, ``45 %``). Off a terminal nothing is hard-wrapped:
a finding stays on its line for ``grep`` and ``cut``.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from typing import Any

import yaml
from rich.console import Console

_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"))


def console(stderr: bool = False) -> Console:
    """A rich console; off a terminal it never wraps (a line is as long as its content)."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, soft_wrap=True, width=100_000, color_system=None)


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """``value`` with an SI prefix and ``digits`` significant digits: ``si(0.00001, 's')`` ->
    ``10 µs``, ``si(1234, '/s')`` -> ``1.23 k/s``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}".strip()
    magnitude = abs(value)
    scale, prefix = next(((sc, p) for sc, p in _PREFIXES if magnitude >= sc * 0.9995), _PREFIXES[-1])
    text = f"{value / scale:.{digits}g}"
    return f"{text} {prefix}{unit}".strip()


def _plain(value: float) -> str:
    """A count or a dimensionless figure: integers whole (with thousands separators)."""
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) >= 1e-3 else si(value)


def value(metric: str, number: float | None) -> str:  # noqa: PLR0911 (one return per unit)
    """A summary value in the unit its metric name says."""
    if number is None:
        return "-"
    name = metric.split("{", 1)[0]
    if name.endswith("_percent") or "_percent_" in name:
        return f"{number:,.3g} %" if abs(number) < 1000 else f"{number:,.0f} %"
    if name.endswith("_per_second"):
        # no milli prefix for a rate: "278 m/s" reads as metres per second
        return si(number, "/s") if abs(number) >= 1 else f"{number:.3g} /s"
    if name.endswith("_seconds") or "_seconds_" in name:
        return _duration(number)
    if name.endswith("_bytes") or "_bytes_" in name:
        return si(number, "B")
    if "_mib" in name:
        return f"{number:,.4g} MiB"
    if name.endswith(("_share", "_ratio")):
        return f"{100.0 * number:.3g} %"
    return _plain(number)


def _duration(seconds: float) -> str:
    if abs(seconds) >= 3600:
        return f"{seconds / 3600:.3g} h"
    if abs(seconds) >= 120:
        return f"{seconds / 60:.3g} min"
    return si(seconds, "s")


def setting(raw: Any) -> str:
    """A spec value as a person writes it (``3s``, ``1.5``, ``null``), not a Python repr."""
    if raw is None:
        return "null"
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, str | int | float):
        return str(raw)
    return yaml.safe_dump(raw, default_flow_style=True, sort_keys=False).strip()


def settings_lines(patch: Mapping[str, Any]) -> list[str]:
    """``path: value`` lines of a patch."""
    return [f"{path}: {setting(v)}" for path, v in patch.items()]


def band(low: float | None, high: float | None, metric: str) -> str:
    """A report band as a range in the metric's unit (open ends spelled out)."""
    if low is None and high is None:
        return "any"
    if low is None:
        return f"<= {value(metric, high)}"
    if high is None:
        return f">= {value(metric, low)}"
    return f"{value(metric, low)} .. {value(metric, high)}"


def to_yaml(payload: Any) -> str:
    """The JSON document as YAML (``-o yaml``): the same data, through JSON's types."""
    plain = json.loads(json.dumps(payload, allow_nan=False))
    return yaml.safe_dump(plain, sort_keys=False, allow_unicode=True, width=100_000)
