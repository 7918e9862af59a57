"""Durations and quantities parse once, at the edge."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalelab.spec.units import parse_duration, parse_quantity


@pytest.mark.parametrize(("text", "seconds"), [
    ("3s", 3.0), ("10m", 600.0), ("1h30m", 5400.0), ("500ms", 0.5), ("0", 0.0), (7, 7.0), ("2.5s", 2.5)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["3", "s", "3x", "-3s", "3s4", "", True, None, [1], "nan"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize(("text", "value"), [
    ("500m", 0.5), ("170Mi", 170 * 2**20), ("1Gi", 2**30), ("2k", 2000.0), (3, 3.0), ("1e3", 1000.0)])
def test_quantities(text: object, value: float) -> None:
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("bad", ["1Qi", "abc", "", True, None, "1e999"])
def test_bad_quantities(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_quantity(bad)


@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59))
def test_duration_parts_add_up(h: int, m: int, s: int) -> None:
    assert parse_duration(f"{h}h{m}m{s}s") == h * 3600 + m * 60 + s
