"""Upstream facts several layers need (a leaf module: it imports nothing).

client-go 1.5 reflector behaviour, what a watch client does when its watch ends. The node
proxy's connections and the catalogue's static rule read the same figures from here.

Facts (client-go 1.5 ``tools/cache/reflector.go`` and k8s ``pkg/util/net``):
- a watch asks for a server timeout of minWatchTimeout (5 min) x (1 + rand): [5, 10) min;
- when a watch ends cleanly (timeout, or the stream closing with EOF / unexpected EOF, which
  is what a proxy cutting the connection produces), the reflector re-watches at once from
  the last resourceVersion it saw, without a LIST;
- a watch that ends in under 1 s having delivered no event is treated as an error; so is
  "410 Gone: too old resource version" (the requested version fell out of the apiserver's
  watch cache) and a failed Watch call (e.g. a TLS handshake that timed out): then
  ListAndWatch returns, and wait.Until runs it again after its period (1 s): LIST, then WATCH;
- the transport (SetTransportDefaults) speaks HTTP/2 over TLS, shares one connection among
  all clients of a process that use the same TLS config, gives the TLS handshake 10 s, and
  keeps no TLS session cache (every reconnect is a full handshake);
- the exponential back-off on relists only arrived in 2020 (client-go 1.19).
"""

from __future__ import annotations

WATCH_TIMEOUT_MIN = 300.0
WATCH_TIMEOUT_MAX = 600.0
RELIST_PERIOD = 1.0
SHORT_WATCH_SECONDS = 1.0
TLS_HANDSHAKE_TIMEOUT = 10.0
#: apiserver 1.5: a 429 carries Retry-After: 1 s, which client-go's rest client honours.
RETRY_AFTER_SECONDS = 1.0

#: Resources a watch may be on, as indices into per-resource arrays.
RESOURCES: tuple[str, ...] = ("pods", "nodes", "services", "endpoints")
RESOURCE_INDEX = {name: i for i, name in enumerate(RESOURCES)}

#: sig-scalability SLOs (kubernetes/community sig-scalability/slos): mutating API calls p99
#: <= 1 s; pod start-up (created to running, images pre-pulled) p99 <= 5 s.
SLO_MUTATING_API_P99_SECONDS = 1.0
SLO_POD_STARTUP_P99_SECONDS = 5.0
