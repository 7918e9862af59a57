"""client-go's token bucket: a burst at once, then one request per 1/qps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalelab.components.ratelimit import TokenBucket


def test_burst_then_qps() -> None:
    bucket = TokenBucket(qps=5.0, burst=10)
    delays = [bucket.reserve(0.0) for _ in range(13)]
    assert delays[:10] == [0.0] * 10
    assert delays[10:] == pytest.approx([0.2, 0.4, 0.6])


def test_tokens_refill_at_qps_up_to_the_burst() -> None:
    bucket = TokenBucket(qps=2.0, burst=3)
    for _ in range(3):
        bucket.reserve(0.0)
    assert bucket.reserve(100.0) == 0.0  # long idle: full again, never more than the burst
    assert [bucket.reserve(100.0) for _ in range(3)] == pytest.approx([0.0, 0.0, 0.5])


@given(st.floats(0.5, 100.0), st.integers(1, 50), st.lists(st.floats(0.0, 5.0), min_size=1, max_size=200))
def test_never_more_than_burst_plus_qps_times_elapsed(qps: float, burst: int, gaps: list[float]) -> None:
    bucket = TokenBucket(qps, burst)
    now = 0.0
    sent: list[float] = []
    for gap in gaps:
        now += gap
        sent.append(now + bucket.reserve(now))
    # requests go out in order, and by any time t at most burst + qps * t have gone
    assert sent == sorted(sent)
    for k, t in enumerate(sent, start=1):
        assert k <= burst + qps * t + 1e-6
