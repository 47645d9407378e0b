"""The mock server's ASGI application, assembled from its routes, its front and its state.

One front sees every request: it writes the access log, adds the configured latency, applies the
rate limit and refuses encoded slashes, in that order (what three middleware layers did, in one
call). Then the public routes' handlers run straight from the front, and everything else (the
fixtures API, unknown routes, wrong methods, HEAD) goes to a Starlette app that holds every
route, the public ones included. Both ways reach the same handlers and the same error answers:
the fast lane only skips Starlette's routing and middleware stack, which cost more than a
request's whole work.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from conformance.mock import heads
from conformance.mock.accesslog import access_line, logger
from conformance.mock.config import MockConfig
from conformance.mock.errors import ApiError
from conformance.mock.fixtures_api import fixtures_routes
from conformance.mock.http import api_error, exception_handlers, has_encoded_slash, internal_error, no_such_route
from conformance.mock.ratelimit import SlidingWindow, throttled
from conformance.mock.routes import Handler, fast_route, public_routes
from conformance.mock.store import Store

__all__ = ["MockApp", "create_app"]

Route = tuple[Handler, dict[str, str]]

# What a request whose client went away before its body was read "answers" (in the access log only):
# 499, nginx's "client closed request". The protocol hands a request over only once its body is in,
# so this is a safety net, not a path a client can take.
_GONE = Response(status_code=499)

# A body longer than this (or chunked) may take milliseconds to decode: 60 KB of `[[],[],...]` is
# 15,000 lists. Such requests take turns (`MockApp.wide_turn`), so that clients sending them back to
# back keep another client waiting behind one of them at a time, not behind all of theirs.
WIDE_BODY = 8 * 1024


def _wide(scope: Scope) -> bool:
    headers = scope["headers"]
    return heads.declared_over(headers, WIDE_BODY) or any(name == b"transfer-encoding" for name, _ in headers)


class MockState(State):
    """Starlette's `State` with the mock's settings and data as plain attributes.

    `State` keeps its members in a dict that `__getattr__` reads, after the ordinary lookup has
    failed and formatted an `AttributeError`: twenty times the cost of an attribute, two or three
    times a request (`http.store_of`, `http.config_of`).
    """

    def __init__(self, config: MockConfig, store: Store) -> None:
        super().__init__()
        object.__setattr__(self, "config", config)
        object.__setattr__(self, "store", store)


class MockApp:
    """The mock as one ASGI app; `state.config` and `state.store` are its settings and its data."""

    def __init__(self, config: MockConfig, store: Store) -> None:
        routes = public_routes() + (fixtures_routes() if config.fixtures_token else [])
        self.starlette = Starlette(routes=routes, exception_handlers=exception_handlers)
        self.starlette.router.redirect_slashes = False  # ids match exactly: `/v1/calls/x/` is not `/v1/calls/x`
        self.state: State = MockState(config, store)
        self.starlette.state = self.state
        self.latency = config.latency_ms / 1000
        # Where access-log lines go; None: to `accesslog.logger`, when it logs at INFO.
        self.access_log: Callable[[str], None] | None = None
        # The process is the mock's own (the `mock` command): no garbage collection while a handler
        # runs (`server.settle_gc`). Never in a host's process, whose collector is not ours to switch.
        self.owns_gc = False
        # Held while a wide body's handler runs: the next one runs at the loop's next turn, after
        # what else is ready. Contended only within one server's event loop.
        self.wide_turn = asyncio.Lock()
        self.limiter = None
        if config.rate_limit is not None:
            self.limiter = SlidingWindow(
                config.rate_limit, config.rate_window_seconds, config.clock, config.rate_limit_identities
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.starlette(scope, receive, send)
            return
        sink = self.access_log
        if sink is None and logger.isEnabledFor(logging.INFO):
            sink = logger.info
        started, status = time.perf_counter(), 500
        try:
            status = await self._front(scope, receive, send)
        finally:
            if sink is not None:
                sink(access_line(scope["method"], scope["path"], status, time.perf_counter() - started))

    async def _front(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Answer the request; the status it got."""
        if self.latency:
            await asyncio.sleep(self.latency)  # not time.sleep: other requests go on meanwhile
        response = throttled(self.limiter, scope) if self.limiter is not None else None
        if response is None and has_encoded_slash(scope):
            response = no_such_route()
        # Under a root path Starlette strips it before routing; the fast lane leaves that to it.
        path = scope["path"]
        if self.state.store.faults and path.endswith("/") and self.state.store.fault("trailing-slash-skips-auth"):
            path = scope["husky.legacy_route"] = path.rstrip("/")  # kept for an old SDK, in front of no key check
        route = None if response is not None or scope.get("root_path") else fast_route(scope["method"], path)
        if response is None and route is None:
            return await self._starlette(scope, receive, send)
        if route is not None and scope["method"] == "POST" and _wide(scope):  # only POST routes read a body
            async with self.wide_turn:
                await asyncio.sleep(0)  # what is ready meanwhile (other clients' requests) goes first
                response = await self._handle(route, scope, receive, send)
        elif route is not None:
            response = await self._handle(route, scope, receive, send)
        assert response is not None
        if response is not _GONE:
            await response(scope, receive, send)
        return response.status_code

    async def _handle(self, route: Route, scope: Scope, receive: Receive, send: Send) -> Response:
        handler, scope["path_params"] = route
        scope["app"] = self.starlette  # where `Request.app.state` finds the store, as under Starlette
        request = Request(scope, receive, send)
        if self.owns_gc:
            gc.disable()  # see `server.settle_gc`: the body a handler parses dies with it
        try:
            return await handler(request)
        except ApiError as exc:
            return await api_error(request, exc)
        except ClientDisconnect:
            return _GONE  # nobody to answer: nothing is sent
        except Exception as exc:
            await (await internal_error(request, exc))(scope, receive, send)
            raise  # as Starlette's ServerErrorMiddleware does: the server logs it
        finally:
            if self.owns_gc:
                gc.enable()

    async def _starlette(self, scope: Scope, receive: Receive, send: Send) -> int:
        status = 500

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.starlette(scope, receive, noting)
        return status


def create_app(config: MockConfig | None = None, store: Store | None = None) -> MockApp:
    """A fresh mock: its own store unless one is given (the CLI seeds a demo into it first)."""
    config = config or MockConfig()
    store = store or Store()
    store.faults = config.faults
    store.auto_complete, store.clock = config.auto_complete, config.clock
    store.max_calls, store.max_call_bytes = config.max_calls, config.max_call_bytes
    return MockApp(config, store)
