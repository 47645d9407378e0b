"""HTTP plumbing shared by the public routes and the fixtures API: bodies in, envelopes out."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .config import MockConfig
from .errors import ApiError, Code, error_body
from .store import Store
from .validation import parse_json

__all__ = [
    "EncodedSlashGuard",
    "config_of",
    "exception_handlers",
    "json_response",
    "read_json",
    "store_of",
]


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def config_of(request: Request) -> MockConfig:
    config: MockConfig = request.app.state.config
    return config


def json_response(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, Code.PAYLOAD_TOO_LARGE, f"The request body is larger than {limit} bytes.")


async def read_json(request: Request) -> Any:
    """The request's JSON body, refusing more than the configured size without reading it all."""
    limit = config_of(request).max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise _too_large(limit)
    return parse_json(bytes(raw))


class EncodedSlashGuard:
    """A path segment holding an encoded `/` names no resource: 404 before any routing.

    Server-chosen ids never contain `/`, and routing on the decoded path would otherwise let
    `GET /v1/calls/x%2Fcancel` reach the cancel route.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and b"%2f" in scope.get("raw_path", b"").lower():
            response = JSONResponse(error_body(Code.NOT_FOUND, "No such route."), 404)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    store = store_of(request)
    if exc.status == 404 and store.fault("text-errors"):
        return PlainTextResponse("Not Found", 404)
    code = "CALL_NOT_FOUND" if exc.code == Code.NOT_FOUND and store.fault("undocumented-error-code") else exc.code
    body = error_body(code, exc.message)
    return JSONResponse(body["error"] if store.fault("flat-error-envelope") else body, exc.status, headers=exc.headers)


_HTTP_CODES = {404: (Code.NOT_FOUND, "No such route."), 405: (Code.METHOD_NOT_ALLOWED, "Method not allowed.")}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, (Code.VALIDATION_ERROR, str(exc.detail)))
    return JSONResponse(error_body(code, message), exc.status_code, headers=exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return JSONResponse(error_body(Code.INTERNAL_ERROR, "Internal server error."), 500)


exception_handlers = {ApiError: _api_error, HTTPException: _http_error, Exception: _internal_error}
