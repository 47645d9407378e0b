"""HTTP plumbing shared by the public routes and the fixtures API: bodies in, envelopes out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Scope

from conformance.mock.config import MockConfig
from conformance.mock.errors import ApiError, Code, error_body
from conformance.mock.store import Store
from conformance.mock.validation import parse_json

__all__ = [
    "api_error",
    "config_of",
    "exception_handlers",
    "has_encoded_slash",
    "internal_error",
    "json_response",
    "no_such_route",
    "read_json",
    "store_of",
]


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def config_of(request: Request) -> MockConfig:
    config: MockConfig = request.app.state.config
    return config


# JSONResponse's own settings (`json.dumps(ensure_ascii=False, allow_nan=False, separators=(",", ":"))`),
# in one encoder made once: `json.dumps` with options makes a new `JSONEncoder` for every answer, and
# `JSONEncoder.encode` a new C encoder, each costing about what the encoding itself does. No check for
# circular references: an answer is a tree the mock builds.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
_C_ENCODE = None
if c_make_encoder is not None:  # CPython's `_json`, as `JSONEncoder.encode` uses it
    _C_ENCODE = c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", False, False, False)


def _encoded(content: Any) -> bytes:
    if _C_ENCODE is None:
        return _ENCODER.encode(content).encode("utf-8")
    return "".join(_C_ENCODE(content, 0)).encode("utf-8")


class _JSONResponse(JSONResponse):
    """JSONResponse's bytes and headers, in the same order, made without its generic machinery."""

    def __init__(self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.status_code, self.background = status_code, None
        self.body = _encoded(content)
        self.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
        self.raw_headers += [(b"content-length", str(len(self.body)).encode()), (b"content-type", b"application/json")]


def json_response(body: dict[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return _JSONResponse(body, status, headers=headers)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, Code.PAYLOAD_TOO_LARGE, f"The request body is larger than {limit} bytes.")


async def read_json(request: Request) -> Any:
    """The request's JSON body, refusing more than the configured size without reading it all."""
    limit = config_of(request).max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    raw = bytearray()
    more = True
    while more:  # what `request.stream()` does, without an async generator per body
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        raw += message.get("body", b"")
        more = message.get("more_body", False)
        if len(raw) > limit:
            raise _too_large(limit)
    return parse_json(bytes(raw))


def has_encoded_slash(scope: Scope) -> bool:
    """A path segment holding an encoded `/` names no resource: 404 before any routing.

    Server-chosen ids never contain `/`, and routing on the decoded path would otherwise let
    `GET /v1/calls/x%2Fcancel` reach the cancel route.
    """
    raw_path: bytes = scope.get("raw_path", b"")
    return b"%" in raw_path and b"%2f" in raw_path.lower()


def no_such_route() -> JSONResponse:
    return json_response(error_body(Code.NOT_FOUND, "No such route."), 404)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    store = store_of(request)
    if exc.status == 404 and store.fault("text-errors"):
        return PlainTextResponse("Not Found", 404)
    code = "CALL_NOT_FOUND" if exc.code == Code.NOT_FOUND and store.fault("undocumented-error-code") else exc.code
    body = error_body(code, exc.message)
    return json_response(body["error"] if store.fault("flat-error-envelope") else body, exc.status, exc.headers)


_HTTP_CODES = {404: (Code.NOT_FOUND, "No such route."), 405: (Code.METHOD_NOT_ALLOWED, "Method not allowed.")}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, (Code.VALIDATION_ERROR, str(exc.detail)))
    return json_response(error_body(code, message), exc.status_code, exc.headers)


async def internal_error(request: Request, exc: Exception) -> Response:
    return json_response(error_body(Code.INTERNAL_ERROR, "Internal server error."), 500)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """A client that went away mid-body is no error: 499 (nginx's "client closed request") in the log only."""
    return Response(status_code=499)


exception_handlers = {
    ApiError: api_error,
    HTTPException: _http_error,
    ClientDisconnect: _client_gone,
    Exception: internal_error,
}
