"""The mock server's settings: one frozen object, built once by the CLI or a test."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["MockConfig"]


@dataclass(frozen=True)
class MockConfig:
    fixtures_token: str | None = field(default=None, repr=False)  # None: the fixtures API is not served at all
    rate_limit: int | None = None  # requests per window per key; None: no limit (the default)
    rate_window_seconds: float = 60.0
    max_body_bytes: int = 64 * 1024
    clock: Callable[[], float] = time.monotonic
    faults: frozenset[str] = frozenset()  # names from `faults.FAULTS`: deliberate violations
    # Seconds after which a call created through the public API completes on its own, as with a
    # staging's auto-completing test agents (in progress from half-way); None: calls stay queued.
    auto_complete: float | None = None
    # Milliseconds every request is held before the mock handles it (any route, the fixtures API
    # too), without blocking the event loop: a latency-bound target, simulated. 0: no delay.
    latency_ms: float = 0
    # Bounds (README, "Bounds"): what one client, or many, can make the mock hold.
    max_head_bytes: int = 16 * 1024  # request line and headers; more: 431
    request_timeout_seconds: float = 10.0  # a connection with no request in flight closes after this
    max_connections: int = 1024  # beyond: the longest-waiting connection is closed to make room
    max_calls: int = 100_000  # calls held at once; a create beyond them: 429 (never an eviction)
    max_call_bytes: int = 256 * 1024 * 1024  # the held calls' client-given fields, as JSON; likewise
    rate_limit_identities: int = 100_000  # credentials the rate limit remembers at once (least recent go)
