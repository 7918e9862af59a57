"""Kubernetes-style durations (``3s``, ``10m``, ``1h30m``) and quantities (``500m``, ``170Mi``).

They are parsed once, at the edge, into plain floats (seconds; base units), so no other
module ever sees a string unit.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}

_QUANTITY = re.compile(r"^([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_QUANTITY_UNITS = {
    None: 1.0, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "P": 1e15, "E": 1e18, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40,
    "Pi": 2.0**50, "Ei": 2.0**60,
}


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"expected a finite {what}")
    return value


def parse_duration(value: Any) -> float:
    """Seconds from a Go/Kubernetes duration string, or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 3s, 10m or 1h30m")
    if isinstance(value, int | float):
        return _finite(float(value), "duration")
    if not isinstance(value, str):
        raise ValueError("expected a duration like 3s, 10m or 1h30m")
    text = value.strip()
    if text in {"0", "0s"}:
        return 0.0
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"expected a duration like 3s, 10m or 1h30m, got {value!r}")
    return total


def parse_quantity(value: Any) -> float:
    """A number from a Kubernetes quantity (``500m`` = 0.5, ``170Mi`` = 178257920)."""
    if isinstance(value, bool):
        raise ValueError("expected a quantity like 500m or 170Mi")
    if isinstance(value, int | float):
        return _finite(float(value), "quantity")
    if not isinstance(value, str):
        raise ValueError("expected a quantity like 500m or 170Mi")
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise ValueError(f"expected a quantity like 500m or 170Mi, got {value!r}")
    return _finite(float(match.group(1)) * _QUANTITY_UNITS[match.group(2)], "quantity")


Duration = Annotated[float, BeforeValidator(parse_duration)]
Quantity = Annotated[float, BeforeValidator(parse_quantity)]
