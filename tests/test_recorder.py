"""The recorder's histograms: packed doubles, weights kept only once one is not 1, and the
end-of-run handover that shares their buffers instead of copying them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalelab.metrics.recorder import Histogram, Recorder

OBSERVATIONS = st.lists(st.tuples(st.floats(-1e9, 1e9), st.sampled_from([1.0, 1.0, 1.0, 0.5, 3.0, 250.0])),
                        max_size=60)


@given(OBSERVATIONS)
def test_a_histogram_gives_back_exactly_what_it_observed(observed: list[tuple[float, float]]) -> None:
    hist = Histogram()
    for value, weight in observed:
        hist.observe(value, weight)
    values = np.array([v for v, _w in observed], dtype=np.float64)
    weights = np.array([w for _v, w in observed], dtype=np.float64)
    assert (hist.weights is None) == all(w == 1.0 for _v, w in observed)
    for dist in (hist.distribution(), hist.handover()):
        assert np.array_equal(dist.values, values)
        assert np.array_equal(dist.weights, weights)
        assert dist.values.dtype == np.float64 and dist.weights.dtype == np.float64


def test_a_copy_lets_the_histogram_grow_a_handover_does_not() -> None:
    hist = Histogram()
    hist.observe(1.0)
    copy = hist.distribution()
    hist.observe(2.0, 4.0)
    assert len(copy) == 1 and list(hist.distribution().weights) == [1.0, 4.0]
    handed = hist.handover()
    with pytest.raises(BufferError):
        hist.observe(3.0)  # never a silently lost observation
    assert list(handed.values) == [1.0, 2.0]


def test_the_recorders_measurements_share_the_histograms_buffers() -> None:
    rec = Recorder()
    for i in range(1000):
        rec.observe("latency_seconds", i / 1000.0)
    hist = rec.histograms["latency_seconds"]
    dist = rec.measurements().distributions["latency_seconds"]
    assert np.shares_memory(dist.values, np.frombuffer(hist.values))
    assert dist.count == 1000.0
    assert dist.weights.strides == (0,)  # unit weights take no memory per observation


def test_an_observation_after_the_end_neither_raises_nor_changes_the_results() -> None:
    """A request in flight when the run ends records its latency in a ``finally`` when its
    generator is closed (the engine freed): that must not raise, nor reach the results."""
    rec = Recorder()
    rec.observe("latency_seconds", 1.0)
    dist = rec.measurements().distributions["latency_seconds"]
    rec.observe("latency_seconds", 2.0)
    assert list(dist.values) == [1.0]
