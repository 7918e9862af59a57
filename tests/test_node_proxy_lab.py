"""The node proxy against the loopback lab (labs/nginx_proxy_timeout, results committed): Debian's
nginx with a 3 s ``proxy_timeout`` cut watch-like TLS connections by their traffic pattern; the
model's proxy must cut the kubelet's and kube-proxy's connections at the same rates.

Tolerance: 10 % of the lab's cuts per connection per minute, or 1 cut per minute, whichever is
larger (the lab counts whole cuts of 4 connections over 60 s; its client takes ~0.1 s to dial
again, the model's a handshake's time).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import small
from scalelab.simulation import Simulation

LAB = json.loads((Path(__file__).resolve().parents[1] / "labs" / "nginx_proxy_timeout" / "results.json").read_text())
MINUTES = 5.0


def _model_cuts(pattern: dict[str, Any]) -> float:
    """Cuts per connection per minute of the model's connection that carries the pattern: a
    client writing every P s is the kubelet (node status every P s); a server pushing every S s
    is kube-proxy's Endpoints watch (one leader record written every S s)."""
    client_every, server_every = pattern["client_every"], pattern["server_every"]
    extra: dict[str, Any] = {"node_proxy.proxy_timeout": f"{LAB['proxy_timeout_seconds']}s",
                             "controller_manager.leader_elect_retry_period": "1h"}
    if server_every is not None:
        extra["scheduler.leader_elect_retry_period"] = f"{server_every}s"
        client = "kube-proxy"
    else:
        extra["kubelet.node_status_update_frequency"] = f"{client_every or 3600}s"
        client = "kubelet"
    sim = Simulation(small(worker_hosts=1, steady=f"{MINUTES:g}m", extra=extra))
    sim.run()
    layer = sim.kubernetes
    cuts = layer.proxies.reconnects_by_client[layer.table.client_index(client)]
    return float(cuts) / layer.table.nodes / MINUTES


@pytest.mark.parametrize("pattern", LAB["patterns"],
                         ids=[f"client{p['client_every']}-server{p['server_every']}" for p in LAB["patterns"]])
def test_the_model_cuts_like_nginx_did(pattern: dict[str, Any]) -> None:
    lab = pattern["cuts_per_connection_per_minute"]
    assert _model_cuts(pattern) == pytest.approx(lab, abs=max(1.0, 0.1 * lab))


def test_the_lab_saw_the_cut_land_at_the_timeout() -> None:
    # what the model assumes of nginx: the cut comes exactly proxy_timeout after the last byte
    for pattern in LAB["patterns"]:
        if pattern["silence_before_cut_seconds_median"] is not None:
            assert pattern["silence_before_cut_seconds_median"] == pytest.approx(LAB["proxy_timeout_seconds"], rel=0.02)
