"""Contract section 7: N requests a minute per key (sliding window), 429 with Retry-After.

Off unless the mock is started with a limit. The identity is the credential the request presents
(API key or webhook token), so unknown keys are limited too and a 429 reveals nothing about them.
The fixtures API is never limited.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from .auth import presented_keys
from .errors import Code, error_body

__all__ = ["SlidingWindow", "throttled"]


class SlidingWindow:
    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, identity: str) -> int | None:
        """Seconds to wait if `identity` is over the limit, else None (and the hit is counted)."""
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(identity, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
        return None


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
