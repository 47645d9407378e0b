"""The mock server's ASGI application, assembled from its routes, middleware and state."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware

from .accesslog import AccessLogMiddleware
from .config import MockConfig
from .fixtures_api import fixtures_routes
from .http import EncodedSlashGuard, exception_handlers
from .ratelimit import RateLimitMiddleware, SlidingWindow
from .routes import public_routes
from .store import Store

__all__ = ["create_app"]


def create_app(config: MockConfig | None = None, store: Store | None = None) -> Starlette:
    """A fresh mock: its own store unless one is given (the CLI seeds a demo into it first)."""
    config = config or MockConfig()
    limiter = None
    if config.rate_limit is not None:
        limiter = SlidingWindow(config.rate_limit, config.rate_window_seconds, config.clock)
    routes = public_routes() + (fixtures_routes() if config.fixtures_token else [])
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(AccessLogMiddleware),
            Middleware(RateLimitMiddleware, limiter=limiter),
            Middleware(EncodedSlashGuard),
        ],
        exception_handlers=exception_handlers,
    )
    app.router.redirect_slashes = False  # ids match exactly: `/v1/calls/x/` is not `/v1/calls/x`
    app.state.config = config
    app.state.store = store or Store()
    app.state.store.faults = config.faults
    app.state.store.auto_complete, app.state.store.clock = config.auto_complete, config.clock
    return app
