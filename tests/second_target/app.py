"""Routing and the operations' answers: a request in, a `Response` out, no HTTP plumbing.

Order of judgement under `/v1/calls`: credentials (and scope), then the route's shape, then the
method, then the id's form, then the call. So a request that fails auth gets one answer whatever
the path names, on every method (HEAD and OPTIONS included). A wrong method is a 404 (a route is
a method and a path, as many routers see it), an invalid create body a 422.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import unquote, urlsplit

from . import auth, validation
from .errors import METHOD_NOT_ALLOWED, ApiError, invalid, not_found
from .store import Store

CANCELLED = "The call was cancelled; its record is kept."
QUEUED = "Call accepted and waiting in the queue."
NO_ROUTE = "Nothing is served at this method and path."
SCOPES = {
    ("collection", "POST"): "calls:create",
    ("call", "GET"): "calls:read",
    ("call", "HEAD"): "calls:read",
    ("call", "DELETE"): "calls:delete",
    ("cancel", "POST"): "calls:cancel",
}
ALLOW = {"collection": "POST, OPTIONS", "call": "GET, HEAD, DELETE, OPTIONS", "cancel": "POST, OPTIONS"}


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # the request-target as sent
    headers: Message
    body: bytes


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    public: bool = True  # a public answer's JSON object also carries the request's id


@dataclass(frozen=True)
class TargetConfig:
    """`fixtures_token` None: no fixtures API. `rate_limit_per_minute` None: no limit."""

    fixtures_token: str | None = None
    rate_limit_per_minute: int | None = None
    first_id: int = 1001


def segments(target: str) -> list[str]:
    """The path's segments, each percent-decoded once (so an encoded `/` stays inside its segment)."""
    path = urlsplit(target).path if "://" in target else target.split("?", 1)[0].split("#", 1)[0]
    return [unquote(part) for part in path.split("/")]


class App:
    def __init__(self, config: TargetConfig) -> None:
        self.config = config
        self.store = Store(config.first_id)
        self.limiter = auth.RateLimiter(config.rate_limit_per_minute)

    def __call__(self, request: Request) -> Response:
        parts = segments(request.target)
        if parts[:2] == ["", "v1"]:
            return self._public(request, parts[2:])
        if parts[:2] == ["", "_fixtures"] and self.config.fixtures_token is not None:
            auth.fixtures_allowed(self.config.fixtures_token, request.headers)
            response = self._fixtures(request, parts[2:])
            response.public = False
            return response
        raise not_found(NO_ROUTE)

    # --- public API ----------------------------------------------------------------------------

    def _public(self, request: Request, parts: list[str]) -> Response:
        if len(parts) == 2 and parts[0] == "hooks":
            return self._hook(request, parts[1])
        route = {1: "collection", 2: "call"}.get(len(parts), "cancel" if parts[2:] == ["cancel"] else "")
        if parts[:1] != ["calls"] or not route or len(parts) > 3:
            auth.api_key(self.store, request.headers, None)  # the key first, then the path
            raise not_found(NO_ROUTE)
        secret, key = auth.api_key(self.store, request.headers, SCOPES.get((route, request.method)))
        self.limiter.hit(secret)
        if request.method == "OPTIONS":
            return Response(204, headers={"Allow": ALLOW[route]})
        if (route, request.method) not in SCOPES:
            raise not_found(NO_ROUTE)  # no 405: this method and path name no operation
        if route == "collection":
            return self._create(request, key.org_id)
        call_id = validation.call_id(parts[1])
        if route == "cancel":
            return Response(200, self._cancelled(self.store.cancel(key.org_id, call_id)))
        if request.method == "DELETE":
            return Response(200, self._deleted(self.store.delete(key.org_id, call_id)))
        return Response(200, {"data": self.store.get(key.org_id, call_id)})

    def _create(self, request: Request, org_id: str) -> Response:
        try:
            body = validation.create_body(validation.parse_json(request.body))
        except ApiError as error:
            raise validation.reject(error, 422) from None  # well-formed HTTP, unprocessable content
        replay_key = validation.idempotency_key(request.headers.get_all("Idempotency-Key") or [])
        call, replayed = self.store.create(org_id, body, replay_key)
        return Response(201, {"data": call}, {"Idempotent-Replayed": "true"} if replayed else {})

    @staticmethod
    def _cancelled(call_id: str) -> dict[str, Any]:
        return {"success": True, "call_id": call_id, "status": "cancelled", "message": CANCELLED, "object": "call"}

    @staticmethod
    def _deleted(call_id: str) -> dict[str, Any]:
        return {"data": {"call_id": call_id, "deleted": True, "object": "call"}}

    # --- webhook -------------------------------------------------------------------------------

    def _hook(self, request: Request, token: str) -> Response:
        org_id = auth.webhook_org(self.store, token)
        self.limiter.hit(token)
        if request.method == "OPTIONS":
            return Response(204, headers={"Allow": "POST, OPTIONS"})
        if request.method != "POST":
            raise not_found(NO_ROUTE)
        try:
            action, data = self._hook_body(request.body)
        except ApiError as error:
            raise validation.reject(error, 422) from None
        if action == "call.create":
            try:
                body = validation.create_body(data)
            except ApiError as error:
                raise validation.reject(error, 422) from None
            call, _ = self.store.create(org_id, body, None)
            created = {"success": True, "call_id": call["call_id"], "status": "queued", "message": QUEUED}
            return Response(201, created | {"object": "call"})
        call_id = validation.call_id(data["call_id"])  # a malformed id: 400, as over REST
        if action == "call.cancel":
            return Response(200, self._cancelled(self.store.cancel(org_id, call_id)))
        return Response(200, self._deleted(self.store.delete(org_id, call_id)))

    @staticmethod
    def _hook_body(raw: bytes) -> tuple[str, dict[str, Any]]:
        body = validation.json_object(raw, "A webhook body")
        action, data = body.get("action"), body.get("data")
        if action not in ("call.create", "call.cancel", "call.delete"):
            raise invalid("'action' must be call.create, call.cancel or call.delete.")
        if not isinstance(data, dict):
            raise invalid("'data' must be an object.")
        if action != "call.create" and (not isinstance(data.get("call_id"), str) or not data["call_id"]):
            raise invalid("'data.call_id' must be a non-empty string.")
        return str(action), data

    # --- fixtures ------------------------------------------------------------------------------

    def _fixtures(self, request: Request, parts: list[str]) -> Response:
        if request.method != "POST":
            raise ApiError(405, METHOD_NOT_ALLOWED, "The fixtures API takes POST only.", {"Allow": "POST"})
        if parts == ["reset"]:
            self.store.reset()
            return Response(204)
        if parts == ["orgs"]:
            org_id, token = self.store.new_org()
            return Response(201, {"org_id": org_id, "webhook_token": token, "object": "organization"})
        body = validation.json_object(request.body) if request.body else {}
        if len(parts) == 3 and parts[0] == "orgs" and parts[2] == "keys":
            scopes, revoked = validation.key_request(body)
            return Response(201, {"api_key": self.store.new_key(parts[1], scopes, revoked)})
        if parts == ["calls"]:
            return Response(201, {"data": self.store.seed(validation.seed_body(body))})
        if len(parts) == 3 and parts[0] == "calls" and parts[2] == "status":
            return Response(200, {"data": self.store.advance(parts[1], validation.status(body.get("status")))})
        raise not_found("No such fixtures route.")
