"""API keys (constant-time) and a per-client token-bucket rate limiter."""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass

__all__ = ["ApiKeys", "RateLimiter"]


class ApiKeys:
    """The accepted bearer keys; an empty set means the API is open."""

    def __init__(self, keys: list[str]) -> None:
        # Compare digests so every comparison has the same length and cost.
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys if k]

    @property
    def enabled(self) -> bool:
        """Whether requests must present a key."""
        return bool(self._digests)

    def check(self, presented: str | None) -> str | None:
        """The identity (a short key fingerprint) of a valid key, else ``None``.

        Every configured key is compared, in constant time, whatever matches first.
        """
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        match = None
        for index, known in enumerate(self._digests):
            if hmac.compare_digest(digest, known) and match is None:
                match = f"key{index}"
        return match


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``limit`` requests per minute per identity, refilled continuously.

    Buckets are pruned once full again, so memory stays bounded by active clients.
    """

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, _Bucket] = {}
        self._last_prune = time.monotonic()

    @property
    def enabled(self) -> bool:
        """Whether a limit is set (0 disables it)."""
        return self.capacity > 0

    def hit(self, identity: str) -> float | None:
        """Take a token; ``None`` if allowed, else the seconds until one is available."""
        if not self.enabled:
            return None
        now = time.monotonic()
        bucket = self._buckets.get(identity)
        if bucket is None:
            bucket = self._buckets[identity] = _Bucket(self.capacity, now)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            self._maybe_prune(now)
            return None
        return (1 - bucket.tokens) / self.rate

    def retry_after(self, seconds: float) -> str:
        """A ``Retry-After`` header value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(seconds)))

    def _maybe_prune(self, now: float) -> None:
        if now - self._last_prune < 60:
            return
        self._last_prune = now
        full = 60.0
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < full}
