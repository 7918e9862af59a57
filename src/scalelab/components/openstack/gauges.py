"""The CPU gauge every OpenStack process group records."""

from __future__ import annotations

from collections.abc import Callable

from scalelab.metrics.recorder import Recorder


def cpu_cores_gauge(recorder: Recorder, service: str, busy_seconds: Callable[[], float]) -> None:
    """``openstack_cpu_cores{service=...}``: busy thread-seconds over each sample interval."""
    last = [0.0]

    def read() -> float:
        busy = busy_seconds()
        cores = (busy - last[0]) / recorder.sample_every
        last[0] = busy
        return cores

    recorder.gauge(f'openstack_cpu_cores{{service="{service}"}}', read)
