"""client-go's token-bucket rate limiter (flowcontrol.NewTokenBucketRateLimiter).

``qps`` tokens per second, at most ``burst`` saved; a request takes one token and waits
until one is there. The clock is the simulation's.
"""

from __future__ import annotations


class TokenBucket:
    def __init__(self, qps: float, burst: int, now: float = 0.0) -> None:
        self.qps = qps
        self.burst = float(burst)
        self._tokens = float(burst)
        self._stamp = now

    def reserve(self, now: float) -> float:
        """Take a token; return the delay (seconds from ``now``) before it may be used."""
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.qps)
        self._stamp = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.qps
