"""Kubernetes Events as the 1.5 components write them: one POST per event, through the same
client (and so the same rate limiter) as the component's other requests.

Who writes what (1.5 source): the scheduler a ``Scheduled`` event per bound pod; the kubelet,
per container started, ``Pulled`` (or ``Pulling`` then ``Pulled`` when it pulls), ``Created``
and ``Started``, and ``Killing`` per container stopped. The controller-manager's per-pod
``SuccessfulCreate``/``SuccessfulDelete`` events concern the controller object, which
client-go's spam filter (a token bucket of 25 per source and object, refilled one per 5 min)
silences after the first 25: they are left out. Nobody in the model watches events; they are
stored in the main etcd unless ``etcd.separate_events`` (GCE's kube-up kept them in an etcd of
their own, Kargo in the one cluster). Events are fire-and-forget: a rejected one is lost.
"""

from __future__ import annotations

from scalelab.components.apiserver import ApiCall, ApiServer
from scalelab.components.ratelimit import TokenBucket
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine

POST_EVENT = ApiCall("POST", "events", "namespace")
#: An Event as JSON (involved object reference, reason, message, source, counts and
#: timestamps): ~800 bytes (estimate).
EVENT_BYTES = 800.0
#: Events of one single-container pod's start (pre-pulled image: Pulled, Created, Started)
#: and of its stop (Killing).
KUBELET_START_EVENTS = 3
KUBELET_STOP_EVENTS = 1


def post_events(engine: Engine, apiserver: ApiServer, limiter: TokenBucket, count: int,
                separate_store: bool, recorder: Recorder) -> None:
    """``count`` event POSTs, each waiting for its token of ``limiter`` (counted as
    ``events_posted_total``: what etcd holds for an hour). The ones whose token is there now
    leave together: one request of their number (the apiserver serves it as that many
    identical requests started at once, a cohort), the others each at its token's time."""
    recorder.inc("events_posted_total", count)
    delays = [limiter.reserve(engine.now) for _ in range(count)]
    now = delays.count(0.0)  # a bucket drains in order: the tokens there now come first
    if now:
        engine.schedule(0.0, apiserver.request, POST_EVENT, EVENT_BYTES, None, now, not separate_store)
    for delay in delays[now:]:
        engine.schedule(delay, apiserver.request, POST_EVENT, EVENT_BYTES, None, 1, not separate_store)
