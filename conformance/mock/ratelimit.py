"""Contract section 7: N requests a minute per key (sliding window), 429 with Retry-After.

Off unless the mock is started with a limit. The identity is the credential the request presents
(API key or webhook token), so unknown keys are limited too and a 429 reveals nothing about them.
The fixtures API is never limited.

Memory is bounded: an identity is kept as a 16-byte digest of the credential (a 2000-character
fake key costs what a real one does), an identity whose last counted request left the window is
forgotten (the oldest first, a few at every request), and at most `max_identities` are held: past
that, the one least recently counted is forgotten, which only lets it start afresh.
"""

from __future__ import annotations

import hashlib
import math
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from conformance.mock.auth import presented_keys
from conformance.mock.errors import Code, error_body

__all__ = ["SlidingWindow", "throttled"]

_FORGET_PER_HIT = 4  # expired identities dropped per request, at most (amortised: one is added)


class SlidingWindow:
    def __init__(self, limit: int, window: float, clock: Callable[[], float], max_identities: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_identities = max_identities
        # identity digest -> times of its counted requests (a list: a deque costs 600 bytes even empty);
        # ordered by the last one, oldest first
        self._hits: OrderedDict[bytes, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._hits)

    def retry_after(self, identity: str) -> int | None:
        """Seconds to wait if `identity` is over the limit, else None (and the hit is counted)."""
        now = self.clock()
        key = hashlib.blake2b(identity.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        with self._lock:
            self._forget(now)
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = []
            del hits[: bisect_right(hits, now - self.window)]
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            self._hits.move_to_end(key)
            while len(self._hits) > self.max_identities:
                self._hits.popitem(last=False)
        return None

    def _forget(self, now: float) -> None:
        """Drop identities whose last counted request has left the window (hold `_lock`)."""
        for _ in range(_FORGET_PER_HIT):
            oldest = next(iter(self._hits.values()), None)
            if oldest is None or (oldest and oldest[-1] > now - self.window):
                return
            self._hits.popitem(last=False)


def _identity(scope: Scope) -> str:
    path: str = scope["path"]
    if path.startswith("/v1/hooks/"):
        return "token:" + path
    presented, _ = presented_keys(Headers(scope=scope))
    if presented:  # one key has one budget, whichever header carries it
        return "key:" + "|".join(sorted(presented))
    client = scope.get("client")
    return "anonymous:" + (client[0] if client else "")


def throttled(limiter: SlidingWindow, scope: Scope) -> Response | None:
    """The 429 for a public API request over its credential's limit, else None (the hit counted)."""
    if not scope["path"].startswith("/v1/"):
        return None
    wait = limiter.retry_after(_identity(scope))
    if wait is None:
        return None
    body = error_body(Code.RATE_LIMIT_EXCEEDED, "Rate limit exceeded; retry after the Retry-After delay.")
    return JSONResponse(body, 429, headers={"Retry-After": str(wait)})
