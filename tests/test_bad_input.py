"""Bad input against the real server: never a 5xx, always the error envelope (contract 1 and 3).

Every request goes to the session's uvicorn on 127.0.0.1. Paths whose exact bytes matter (`..`,
`.`, invalid escapes) are sent over a raw socket, because httpx normalises dot segments.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml

from conformance.contract._resources import spec_path
from conformance.mock import MockServer
from conformance.target.fixtures_client import FixturesClient

_SPEC = yaml.safe_load(spec_path("openapi.yaml").read_text(encoding="utf-8"))
ERROR_CODES = frozenset(_SPEC["components"]["schemas"]["ErrorCode"]["enum"])
LIMIT = 64 * 1024
VALID_NUMBER = "+919876543210"


# --- answers, from httpx or from a raw socket, and the envelope check ---------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        return cls(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content)

    def json(self) -> Any:
        return json.loads(self.body)


def raw_exchange(port: int, data: bytes) -> Answer:
    """Write `data` to 127.0.0.1:`port` as is and parse the answer, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, payload = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    pairs = (line.split(":", 1) for line in header_lines)
    headers = {name.strip().lower(): value.strip() for name, value in pairs}
    assert int(headers.get("content-length", len(payload))) == len(payload), headers
    return Answer(int(status_line.split(" ")[1]), headers, payload)


def raw_head(port: int, method: str, target: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def raw_request(
    port: int, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> Answer:
    """One HTTP/1.1 request to 127.0.0.1 with the request-target sent byte for byte."""
    headers = {**(headers or {}), **({"Content-Length": str(len(body))} if body else {})}
    return raw_exchange(port, raw_head(port, method, target, headers) + body)


def assert_error(answer: Answer, status: int, code: str | None = None) -> dict[str, Any]:
    """The answer is `status` with the contract's envelope and a code of the spec's enum."""
    assert answer.status == status, f"expected {status}, got {answer.status}: {answer.body[:300]!r}"
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.headers
    body = answer.json()
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message"} <= set(error), body
    assert error["code"] in ERROR_CODES, body
    assert isinstance(error["message"], str), body
    assert error["message"], body
    if code is not None:
        assert error["code"] == code, body
    return body


def read_back(live: httpx.Client, tenant: Any, call_id: str) -> dict[str, Any]:
    response = live.get(f"/v1/calls/{call_id}", headers=tenant.bearer)
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


# --- the routes that read a JSON body ------------------------------------------------------------


@dataclass(frozen=True)
class BodyRoute:
    path: str
    headers: dict[str, str]
    valid: dict[str, Any]  # a body the route accepts
    ok: int  # the status that valid body gets
    seeded: dict[str, Any] | None = None  # the call the valid body would change, if any

    def post(self, http: httpx.Client, content: bytes | Iterator[bytes]) -> Answer:
        headers = {"content-type": "application/json", **self.headers}
        return Answer.of(http.post(self.path, content=content, headers=headers))


CREATE = {"agent_id": "agent_bad_input", "contact_number": VALID_NUMBER}
BODY_ROUTES = (
    "create-call",
    "webhook-create",
    "webhook-cancel",
    "fixtures-key",
    "fixtures-seed",
    "fixtures-status",
)


def make_route(name: str, fixtures: FixturesClient, tenant: Any) -> BodyRoute:
    if name == "create-call":
        return BodyRoute("/v1/calls", tenant.bearer, dict(CREATE), 201)
    if name == "webhook-create":
        return BodyRoute(tenant.hook(), {}, {"action": "call.create", "data": dict(CREATE)}, 200)
    if name == "webhook-cancel":
        call = fixtures.call(tenant.org, "queued")
        body = {"action": "call.cancel", "data": {"call_id": call["call_id"]}}
        return BodyRoute(tenant.hook(), {}, body, 200, call)
    if name == "fixtures-key":
        return BodyRoute(f"/_fixtures/orgs/{tenant.org.org_id}/keys", fixtures.headers, {"scopes": []}, 201)
    if name == "fixtures-seed":
        return BodyRoute("/_fixtures/calls", fixtures.headers, {"org_id": tenant.org.org_id, "status": "queued"}, 201)
    assert name == "fixtures-status"
    call = fixtures.call(tenant.org, "queued")
    path = f"/_fixtures/calls/{call['call_id']}/status"
    return BodyRoute(path, fixtures.headers, {"status": "initiated"}, 200, call)


@pytest.fixture(params=BODY_ROUTES)
def route(request: pytest.FixtureRequest, live_fixtures: FixturesClient, live_tenant: Any) -> BodyRoute:
    return make_route(request.param, live_fixtures, live_tenant)


def assert_untouched(live: httpx.Client, tenant: Any, route: BodyRoute) -> None:
    """A refused body had no side effect on the call the route would have changed."""
    if route.seeded is not None:
        assert read_back(live, tenant, route.seeded["call_id"]) == route.seeded


def with_extra(valid: dict[str, Any], literal: str | bytes) -> bytes:
    """`valid` plus a member `"extra": <literal>`, which every schema allows (no additionalProperties)."""
    literal = literal.encode() if isinstance(literal, str) else literal
    return json.dumps(valid).encode()[:-1] + b', "extra": ' + literal + b"}"


def padded(valid: dict[str, Any], size: int) -> bytes:
    """A body the route accepts, exactly `size` bytes long."""
    shell = with_extra(valid, '""')
    return with_extra(valid, '"' + "x" * (size - len(shell)) + '"')


def chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    """The body as a stream: httpx then sends it chunked, without Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


# --- bodies: malformed, empty, not an object, bad literals, bad text, deep nesting ----------------

NOT_JSON = [
    pytest.param(b"{", id="unclosed-object"),
    pytest.param(b'{"agent_id": }', id="missing-value"),
    pytest.param(b"{'agent_id': 'a'}", id="single-quotes"),
    pytest.param(b'{"a": 1,}', id="trailing-comma"),
    pytest.param(b'{"a": 1}}', id="trailing-data"),
    pytest.param(b'{"a": 1} {"b": 2}', id="two-documents"),
    pytest.param(b"not json", id="plain-text"),
    pytest.param(b"<xml/>", id="xml"),
    pytest.param(b"agent_id=a&contact_number=1", id="form-encoded"),
    pytest.param(b'{"a": "\xff\xfe"}', id="invalid-utf8"),
    pytest.param(b"\x00", id="nul-byte"),
    pytest.param(b"\xff", id="lone-0xff"),
    pytest.param(b'{"a": "tab\there"}', id="raw-control-char"),
    pytest.param(b'{"a": "\\x41"}', id="bad-escape"),
    pytest.param(b'{"a": "\\u12"}', id="short-unicode-escape"),
    pytest.param(b"{" * 1000, id="1000-open-braces"),
    pytest.param(b"[" * 1000, id="1000-open-brackets"),
    pytest.param(b"[" * 1000 + b"]" * 1000, id="1000-levels-balanced"),
]
EMPTY = [pytest.param(b"", id="empty"), pytest.param(b" \r\n\t ", id="whitespace-only")]
NOT_AN_OBJECT = [
    pytest.param(b"[]", id="empty-array"),
    pytest.param(b'[{"agent_id": "a"}]', id="array-of-object"),
    pytest.param(b"0", id="zero"),
    pytest.param(b"-1.5", id="negative-float"),
    pytest.param(b"null", id="null"),
    pytest.param(b"true", id="true"),
    pytest.param(b'"a string"', id="string"),
]
# Literals inside an otherwise valid body: only the parser can refuse them.
BAD_LITERALS = [
    pytest.param("NaN", id="NaN"),
    pytest.param("Infinity", id="Infinity"),
    pytest.param("-Infinity", id="minus-Infinity"),
    pytest.param("1e999", id="1e999"),
    pytest.param("-1e999", id="minus-1e999"),
    pytest.param("[1, NaN]", id="NaN-in-array"),
    pytest.param("9" * 5000, id="5000-digit-integer"),
    pytest.param('"\\ud800"', id="lone-high-surrogate"),
    pytest.param('"\\udc00"', id="lone-low-surrogate"),
    pytest.param('"a\\ud800b"', id="surrogate-mid-string"),
    pytest.param('"\\udc00\\ud800"', id="reversed-pair"),
    pytest.param('{"\\ud800": 1}', id="surrogate-in-key"),
    pytest.param("[" * 1000 + "]" * 1000, id="1000-levels-of-brackets"),
    pytest.param('{"a": ' * 1000 + "1" + "}" * 1000, id="1000-levels-of-objects"),
    pytest.param("[" * 30000 + "]" * 30000, id="30000-levels-under-size-limit"),
    pytest.param("[" * 1000, id="1000-unclosed-brackets"),
]


def test_valid_body_with_extra_member_is_accepted(live: httpx.Client, route: BodyRoute) -> None:
    """Control: the bodies below differ from this one only where they are bad."""
    answer = route.post(live, with_extra(route.valid, '["fine", 1.5, "\\ud83d\\ude00"]'))
    assert answer.status == route.ok, answer.body


@pytest.mark.parametrize("body", NOT_JSON + EMPTY + NOT_AN_OBJECT)
def test_body_that_is_not_a_json_object_is_400(
    live: httpx.Client, live_tenant: Any, route: BodyRoute, body: bytes
) -> None:
    assert_error(route.post(live, body), 400, "VALIDATION_ERROR")
    assert_untouched(live, live_tenant, route)


@pytest.mark.parametrize("literal", BAD_LITERALS)
def test_unrepresentable_literal_is_400(live: httpx.Client, live_tenant: Any, route: BodyRoute, literal: str) -> None:
    assert_error(route.post(live, with_extra(route.valid, literal)), 400, "VALIDATION_ERROR")
    assert_untouched(live, live_tenant, route)


def test_100000_levels_of_nesting_is_too_large(live: httpx.Client, live_tenant: Any, route: BodyRoute) -> None:
    assert_error(route.post(live, b"[" * 100_000), 413, "PAYLOAD_TOO_LARGE")
    assert_untouched(live, live_tenant, route)


# --- wrong types, field by field -------------------------------------------------------------------

MISSING = object()


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `body` with the dotted `path` set to `value` (or removed, for MISSING)."""
    body = json.loads(json.dumps(body))
    *parents, leaf = path.split(".")
    target = body
    for name in parents:
        target = target[name]
    if value is MISSING:
        target.pop(leaf, None)
    else:
        target[leaf] = value
    return body


CREATE_FIELD_CASES: list[tuple[str, Any, str]] = [
    ("agent_id", MISSING, "missing"),
    ("agent_id", "", "empty"),
    ("agent_id", 1, "int"),
    ("agent_id", None, "null"),
    ("agent_id", ["a"], "array"),
    ("agent_id", {"a": 1}, "object"),
    ("agent_id", True, "bool"),
    ("contact_number", MISSING, "missing"),
    ("contact_number", 919876543210, "int"),
    ("contact_number", None, "null"),
    ("contact_number", "+9198765", "too-short"),
    ("contact_number", "+9198765432100", "too-long"),
    ("contact_number", "+449876543210", "other-country"),
    ("contact_number", "+91987654321a", "letter"),
    ("contact_number", " " + VALID_NUMBER, "leading-space"),
    ("contact_number", VALID_NUMBER + "\n", "trailing-newline"),
    ("contact_number", "+91\uff19876543210", "fullwidth-digit"),
    ("contact_name", 1, "int"),
    ("contact_name", ["n"], "array"),
    ("contact_email", 1, "int"),
    ("contact_email", False, "bool"),
    ("additional_info", "x", "string"),
    ("additional_info", [], "array"),
    ("additional_info", 1, "int"),
    ("additional_info", None, "null"),
]
FIELD_CASES: list[Any] = [
    pytest.param("create-call", field, value, id=f"create-call-{field}-{what}")
    for field, value, what in CREATE_FIELD_CASES
] + [
    pytest.param("webhook-create", f"data.{field}", value, id=f"webhook-create-data.{field}-{what}")
    for field, value, what in CREATE_FIELD_CASES
]
FIELD_CASES += [
    pytest.param(route_name, field, value, id=f"{route_name}-{field}-{what}")
    for route_name, field, value, what in [
        ("webhook-create", "action", MISSING, "missing"),
        ("webhook-create", "action", 1, "int"),
        ("webhook-create", "action", None, "null"),
        ("webhook-create", "action", "call.unknown", "unknown"),
        ("webhook-create", "action", "CALL.CREATE", "upper-case"),
        ("webhook-create", "action", ["call.create"], "array"),
        ("webhook-create", "data", MISSING, "missing"),
        ("webhook-create", "data", "x", "string"),
        ("webhook-create", "data", [], "array"),
        ("webhook-create", "data", None, "null"),
        ("webhook-cancel", "data.call_id", MISSING, "missing"),
        ("webhook-cancel", "data.call_id", 1, "int"),
        ("webhook-cancel", "data.call_id", None, "null"),
        ("webhook-cancel", "data.call_id", ["x"], "array"),
        ("webhook-cancel", "data", {}, "empty-object"),
        ("fixtures-key", "scopes", MISSING, "missing"),
        ("fixtures-key", "scopes", "calls:read", "string"),
        ("fixtures-key", "scopes", None, "null"),
        ("fixtures-key", "scopes", ["calls:bogus"], "unknown-scope"),
        ("fixtures-key", "scopes", [1], "int-item"),
        ("fixtures-key", "scopes", ["calls:read", "calls:read"], "duplicate"),
        ("fixtures-key", "revoked", "yes", "string"),
        ("fixtures-key", "revoked", 1, "int"),
        ("fixtures-key", "revoked", None, "null"),
        ("fixtures-seed", "org_id", MISSING, "missing"),
        ("fixtures-seed", "org_id", 1, "int"),
        ("fixtures-seed", "org_id", None, "null"),
        ("fixtures-seed", "status", MISSING, "missing"),
        ("fixtures-seed", "status", "bogus", "unknown"),
        ("fixtures-seed", "status", "QUEUED", "upper-case"),
        ("fixtures-seed", "status", 1, "int"),
        ("fixtures-seed", "agent_id", "", "empty"),
        ("fixtures-seed", "agent_id", 1, "int"),
        ("fixtures-seed", "contact_number", 1, "int"),
        ("fixtures-seed", "contact_name", 1, "int"),
        ("fixtures-seed", "contact_email", [], "array"),
        ("fixtures-seed", "additional_info", [], "array"),
        ("fixtures-seed", "transcript", "x", "string"),
        ("fixtures-seed", "transcript", [{"speaker": 1, "text": "t"}], "int-speaker"),
        ("fixtures-seed", "transcript", [{"speaker": "s"}], "entry-without-text"),
        ("fixtures-seed", "transcript", ["line"], "string-entry"),
        ("fixtures-seed", "recording_url", 1, "int"),
        ("fixtures-seed", "duration_seconds", -1, "negative"),
        ("fixtures-seed", "duration_seconds", "5", "string"),
        ("fixtures-seed", "duration_seconds", 1.5, "float"),
        ("fixtures-seed", "duration_seconds", True, "bool"),
        ("fixtures-status", "status", MISSING, "missing"),
        ("fixtures-status", "status", "bogus", "unknown"),
        ("fixtures-status", "status", 1, "int"),
        ("fixtures-status", "status", None, "null"),
        ("fixtures-status", "status", "queued", "not-forward"),
    ]
]


@pytest.mark.parametrize(("route_name", "field", "value"), FIELD_CASES)
def test_wrong_field_is_400(
    live: httpx.Client,
    live_fixtures: FixturesClient,
    live_tenant: Any,
    route_name: str,
    field: str,
    value: Any,
) -> None:
    route = make_route(route_name, live_fixtures, live_tenant)
    body = json.dumps(_set(route.valid, field, value)).encode()
    assert_error(route.post(live, body), 400, "VALIDATION_ERROR")
    assert_untouched(live, live_tenant, route)


def test_key_for_unknown_org_is_404(live: httpx.Client, live_fixtures: FixturesClient) -> None:
    answer = Answer.of(live.post("/_fixtures/orgs/org_nope/keys", json={"scopes": []}, headers=live_fixtures.headers))
    assert_error(answer, 404, "NOT_FOUND")


def test_seed_for_unknown_org_is_404(live: httpx.Client, live_fixtures: FixturesClient) -> None:
    body = {"org_id": "org_nope", "status": "queued"}
    assert_error(Answer.of(live.post("/_fixtures/calls", json=body, headers=live_fixtures.headers)), 404, "NOT_FOUND")


# --- huge bodies -----------------------------------------------------------------------------------

STREAMING = [pytest.param(False, id="content-length"), pytest.param(True, id="chunked")]


def _send(live: httpx.Client, route: BodyRoute, body: bytes, streamed: bool) -> Answer:
    return route.post(live, chunks(body) if streamed else body)


@pytest.mark.parametrize("streamed", STREAMING)
@pytest.mark.parametrize("size", [LIMIT + 1, 1024 * 1024], ids=["limit-plus-1", "1MiB"])
def test_body_over_the_limit_is_413(
    live: httpx.Client, live_tenant: Any, route: BodyRoute, streamed: bool, size: int
) -> None:
    assert_error(_send(live, route, padded(route.valid, size), streamed), 413, "PAYLOAD_TOO_LARGE")
    assert_untouched(live, live_tenant, route)


@pytest.mark.parametrize("streamed", STREAMING)
def test_body_of_exactly_the_limit_is_accepted(live: httpx.Client, route: BodyRoute, streamed: bool) -> None:
    body = padded(route.valid, LIMIT)
    assert len(body) == LIMIT
    answer = _send(live, route, body, streamed)
    assert answer.status == route.ok, answer.body[:300]


def test_declared_length_over_the_limit_is_413_before_reading(mock_server: MockServer, live_tenant: Any) -> None:
    """Content-Length alone decides: the answer comes although only one byte of the body is sent."""
    headers = {**live_tenant.bearer, "Content-Type": "application/json", "Content-Length": str(LIMIT + 1)}
    data = raw_head(mock_server.port, "POST", "/v1/calls", headers) + b"{"
    assert_error(raw_exchange(mock_server.port, data), 413, "PAYLOAD_TOO_LARGE")


# --- routes without a body ignore one, whatever it is ----------------------------------------------

JUNK_BODIES = [
    pytest.param(b"{", id="malformed"),
    pytest.param(b"[" * 100_000, id="100000-brackets"),
    pytest.param(b'"\\ud800"', id="lone-surrogate"),
]


@pytest.mark.parametrize("body", JUNK_BODIES)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/calls/nope"), ("DELETE", "/v1/calls/nope"), ("POST", "/v1/calls/nope/cancel")],
    ids=["get", "delete", "cancel"],
)
def test_body_on_a_bodyless_route_is_ignored(
    live: httpx.Client, live_tenant: Any, method: str, path: str, body: bytes
) -> None:
    answer = Answer.of(live.request(method, path, content=body, headers=live_tenant.bearer))
    assert_error(answer, 404, "NOT_FOUND")


@pytest.mark.parametrize("body", JUNK_BODIES)
def test_body_on_create_org_is_ignored(live: httpx.Client, live_fixtures: FixturesClient, body: bytes) -> None:
    answer = live.post("/_fixtures/orgs", content=body, headers=live_fixtures.headers)
    assert answer.status_code == 201, answer.text
    assert set(answer.json()) == {"org_id", "webhook_token"}


# --- odd ids in the path ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PathOp:
    method: str
    template: str  # `{}` is where the id goes
    seed: str  # the state of the real call the odd id is a variant of
    fixtures: bool = False  # authenticated by the fixtures token rather than the API key
    body: bytes = b""


PATH_OPS = [
    pytest.param(PathOp("GET", "/v1/calls/{}", "completed"), id="get"),
    pytest.param(PathOp("DELETE", "/v1/calls/{}", "completed"), id="delete"),
    pytest.param(PathOp("POST", "/v1/calls/{}/cancel", "queued"), id="cancel"),
    pytest.param(
        PathOp("POST", "/_fixtures/calls/{}/status", "queued", fixtures=True, body=b'{"status": "initiated"}'),
        id="fixtures-status",
    ),
]

# Each turns the real id into a raw path segment (already percent-encoded where meant).
ODD_IDS: list[Any] = [
    pytest.param(lambda cid: "a" * 10_000, id="10k-chars"),
    pytest.param(lambda cid: cid + "a" * 10_000, id="id-plus-10k-chars"),
    pytest.param(lambda cid: quote("é☃😀"), id="unicode"),
    pytest.param(lambda cid: quote(cid.replace("-", "\u2010")), id="unicode-hyphen-lookalike"),
    pytest.param(lambda cid: quote(cid + "\u0301"), id="combining-accent-suffix"),
    pytest.param(lambda cid: "%ff%fe", id="percent-invalid-utf8"),
    pytest.param(lambda cid: quote("\ud800".encode("utf-8", "surrogatepass")), id="percent-encoded-surrogate"),
    pytest.param(lambda cid: "%zz", id="percent-not-hex"),
    pytest.param(lambda cid: "%", id="lone-percent"),
    pytest.param(lambda cid: cid + "%", id="id-then-lone-percent"),
    pytest.param(lambda cid: cid + "%00", id="id-then-nul"),
    pytest.param(lambda cid: "%25" + cid, id="encoded-percent-then-id"),
    pytest.param(lambda cid: cid + "%3F", id="id-then-encoded-question-mark"),
    pytest.param(lambda cid: cid + "%23", id="id-then-encoded-hash"),
    pytest.param(lambda cid: cid + ";x=1", id="id-then-matrix-param"),
    pytest.param(lambda cid: "%2F" + cid, id="encoded-slash-then-id"),
    pytest.param(lambda cid: cid + "%2F", id="id-then-encoded-slash"),
    pytest.param(lambda cid: "x%2f..%2f" + cid, id="encoded-slash-dotdot-lowercase"),
    pytest.param(lambda cid: "%5C" + cid, id="encoded-backslash-then-id"),
    pytest.param(lambda cid: "..", id="dotdot"),
    pytest.param(lambda cid: ".", id="dot"),
    pytest.param(lambda cid: "%2e%2e", id="encoded-dotdot"),
    pytest.param(lambda cid: "../calls/" + cid, id="dotdot-back-to-id"),
    pytest.param(lambda cid: "x/../" + cid, id="x-dotdot-id"),
    pytest.param(lambda cid: "./" + cid, id="dot-then-id"),
    pytest.param(lambda cid: cid + "/..", id="id-then-dotdot"),
    pytest.param(lambda cid: cid + "/.", id="id-then-dot"),
    pytest.param(lambda cid: "%2E%2E/" + cid, id="encoded-dotdot-then-id"),
    pytest.param(lambda cid: "", id="empty"),
    pytest.param(lambda cid: "/" + cid, id="double-slash-before-id"),
    pytest.param(lambda cid: cid + "/", id="trailing-slash"),
    pytest.param(lambda cid: "%20" + cid, id="leading-space"),
    pytest.param(lambda cid: cid + "%20", id="trailing-space"),
    pytest.param(lambda cid: cid + "%09", id="trailing-tab"),
    pytest.param(lambda cid: "%0A" + cid, id="leading-newline"),
    pytest.param(lambda cid: cid + "%0D%0A", id="trailing-crlf"),
    pytest.param(lambda cid: "+" + cid, id="leading-plus"),
    pytest.param(lambda cid: cid[:-1], id="prefix-minus-one"),
    pytest.param(lambda cid: cid[:8], id="short-prefix"),
    pytest.param(lambda cid: cid[1:], id="suffix-minus-one"),
    pytest.param(lambda cid: cid + "0", id="id-plus-char"),
    pytest.param(lambda cid: "0" + cid, id="char-plus-id"),
    pytest.param(lambda cid: cid + cid, id="id-twice"),
    pytest.param(lambda cid: cid.upper(), id="upper-case"),
    pytest.param(lambda cid: cid.replace("-", ""), id="without-hyphens"),
    pytest.param(lambda cid: "{" + cid + "}", id="braced"),
    pytest.param(lambda cid: quote(f'"{cid}"'), id="quoted"),
]


def _path_headers(op: PathOp, fixtures: FixturesClient, tenant: Any) -> dict[str, str]:
    headers = dict(fixtures.headers if op.fixtures else tenant.bearer)
    if op.body:
        headers["Content-Type"] = "application/json"
    return headers


@pytest.mark.parametrize("odd", ODD_IDS)
@pytest.mark.parametrize("op", PATH_OPS)
def test_odd_id_is_404_and_touches_nothing(
    live: httpx.Client,
    mock_server: MockServer,
    live_fixtures: FixturesClient,
    live_tenant: Any,
    op: PathOp,
    odd: Callable[[str], str],
) -> None:
    call = live_fixtures.call(live_tenant.org, op.seed, contact_name="Odd Id Person")
    target = op.template.format(odd(call["call_id"]))
    answer = raw_request(mock_server.port, op.method, target, _path_headers(op, live_fixtures, live_tenant), op.body)
    assert_error(answer, 404, "NOT_FOUND")
    assert read_back(live, live_tenant, call["call_id"]) == call


def test_raw_helper_reaches_the_real_call(
    live: httpx.Client, mock_server: MockServer, live_fixtures: FixturesClient, live_tenant: Any
) -> None:
    """Control for the raw socket: the exact id does resolve, so the 404s above mean something."""
    call = live_fixtures.call(live_tenant.org, "completed")
    answer = raw_request(mock_server.port, "GET", f"/v1/calls/{call['call_id']}", live_tenant.bearer)
    assert answer.status == 200, answer.body
    assert answer.json()["data"]["call_id"] == call["call_id"]


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda cid: f"%{ord(cid[0]):02X}" + cid[1:], id="first-char"),
        pytest.param(lambda cid: "".join(f"%{ord(ch):02x}" for ch in cid), id="every-char"),
    ],
)
def test_percent_encoded_id_is_never_another_call(
    mock_server: MockServer, live_fixtures: FixturesClient, live_tenant: Any, encode: Callable[[str], str]
) -> None:
    """URL equivalence (RFC 3986 6.2.2.2) may resolve the same call, never a different one."""
    call = live_fixtures.call(live_tenant.org, "completed")
    live_fixtures.call(live_tenant.org, "completed")  # a neighbour that must not answer
    answer = raw_request(mock_server.port, "GET", f"/v1/calls/{encode(call['call_id'])}", live_tenant.bearer)
    if answer.status == 200:
        assert answer.json()["data"]["call_id"] == call["call_id"]
    else:
        assert_error(answer, 404, "NOT_FOUND")


WEBHOOK_ODD_IDS: list[Any] = [
    pytest.param(lambda cid: "", id="empty"),
    pytest.param(lambda cid: "a" * 10_000, id="10k-chars"),
    pytest.param(lambda cid: "é☃😀", id="unicode"),
    pytest.param(lambda cid: cid + "\u0000", id="id-then-nul"),
    pytest.param(lambda cid: f" {cid} ", id="surrounding-spaces"),
    pytest.param(lambda cid: cid + "\n", id="trailing-newline"),
    pytest.param(lambda cid: cid[:-1], id="prefix"),
    pytest.param(lambda cid: cid + "0", id="suffix"),
    pytest.param(lambda cid: cid.upper(), id="upper-case"),
    pytest.param(lambda cid: "%" + f"{ord(cid[0]):02x}" + cid[1:], id="percent-encoded-first-char"),
    pytest.param(lambda cid: "../" + cid, id="dotdot-slash-id"),
    pytest.param(lambda cid: cid + "/", id="trailing-slash"),
    pytest.param(lambda cid: cid + "/cancel", id="id-slash-cancel"),
]


@pytest.mark.parametrize("odd", WEBHOOK_ODD_IDS)
@pytest.mark.parametrize(("action", "seed"), [("call.cancel", "queued"), ("call.delete", "completed")])
def test_odd_call_id_over_webhook_is_404_and_touches_nothing(
    live: httpx.Client,
    live_fixtures: FixturesClient,
    live_tenant: Any,
    action: str,
    seed: str,
    odd: Callable[[str], str],
) -> None:
    call = live_fixtures.call(live_tenant.org, seed)
    body = {"action": action, "data": {"call_id": odd(call["call_id"])}}
    assert_error(Answer.of(live.post(live_tenant.hook(), json=body)), 404, "NOT_FOUND")
    assert read_back(live, live_tenant, call["call_id"]) == call


HOOK_BODY = b'{"action": "call.cancel", "data": {"call_id": "nope"}}'
ODD_TOKENS: list[Any] = [
    pytest.param(lambda tok: tok[:-1], 401, id="prefix"),
    pytest.param(lambda tok: tok + "x", 401, id="suffix"),
    pytest.param(lambda tok: tok.upper(), 401, id="upper-case"),
    pytest.param(lambda tok: "%20" + tok, 401, id="leading-space"),
    pytest.param(lambda tok: tok + "%00", 401, id="trailing-nul"),
    pytest.param(lambda tok: "a" * 10_000, 401, id="10k-chars"),
    pytest.param(lambda tok: quote("é☃"), 401, id="unicode"),
    pytest.param(lambda tok: "%ff", 401, id="invalid-utf8"),
    pytest.param(lambda tok: "..", 401, id="dotdot"),
    pytest.param(lambda tok: ".", 401, id="dot"),
    pytest.param(lambda tok: "%zz", 401, id="percent-not-hex"),
    pytest.param(lambda tok: tok + "/", 404, id="trailing-slash"),
    pytest.param(lambda tok: "", 404, id="empty"),
    pytest.param(lambda tok: tok + "/..", 404, id="token-then-dotdot"),
    pytest.param(lambda tok: "x/../" + tok, 404, id="x-dotdot-token"),
    pytest.param(lambda tok: tok + "%2F", 404, id="token-then-encoded-slash"),
]


@pytest.mark.parametrize(("odd", "status"), ODD_TOKENS)
def test_odd_webhook_token(mock_server: MockServer, live_tenant: Any, odd: Callable[[str], str], status: int) -> None:
    target = "/v1/hooks/" + odd(live_tenant.org.webhook_token)
    headers = {"Content-Type": "application/json"}
    answer = raw_request(mock_server.port, "POST", target, headers, HOOK_BODY)
    assert_error(answer, status, {401: "UNAUTHORIZED", 404: "NOT_FOUND"}[status])


# --- unknown routes, wrong methods, the fixtures guard ---------------------------------------------

UNKNOWN_ROUTES = [
    ("GET", "/"),
    ("GET", "/v1"),
    ("GET", "/v1/"),
    ("POST", "/v2/calls"),
    ("POST", "/v1/call"),
    ("POST", "/V1/CALLS"),
    ("POST", "/v1/calls/"),
    ("POST", "/v1/calls/x/CANCEL"),
    ("POST", "/v1/calls/x/cancel/"),
    ("POST", "/v1/calls/x/cancel/extra"),
    ("POST", "/v1/calls/x/delete"),
    ("GET", "/v1/hooks"),
    ("POST", "/v1/hooks/"),
    ("POST", "/v1/hooks/t/extra"),
    ("POST", "/_fixtures"),
    ("POST", "/_fixtures/unknown"),
    ("POST", "/_fixtures/orgs/"),
    ("GET", "/favicon.ico"),
    ("GET", "/openapi.json"),
    ("OPTIONS", "*"),
    ("GET", "v1/calls/x"),
    ("GET", "//v1/calls/x"),
]


@pytest.mark.parametrize(("method", "path"), UNKNOWN_ROUTES, ids=[f"{m} {p}" for m, p in UNKNOWN_ROUTES])
def test_unknown_route_is_404(mock_server: MockServer, live_tenant: Any, method: str, path: str) -> None:
    assert_error(raw_request(mock_server.port, method, path, live_tenant.bearer), 404, "NOT_FOUND")


WRONG_METHODS = [
    ("GET", "/v1/calls", {"POST"}),
    ("PUT", "/v1/calls", {"POST"}),
    ("DELETE", "/v1/calls", {"POST"}),
    ("POST", "/v1/calls/x", {"GET", "DELETE"}),
    ("PUT", "/v1/calls/x", {"GET", "DELETE"}),
    ("PATCH", "/v1/calls/x", {"GET", "DELETE"}),
    ("OPTIONS", "/v1/calls/x", {"GET", "DELETE"}),
    ("FOO", "/v1/calls/x", {"GET", "DELETE"}),
    ("GET", "/v1/calls/x/cancel", {"POST"}),
    ("DELETE", "/v1/calls/x/cancel", {"POST"}),
    ("GET", "/v1/hooks/t", {"POST"}),
    ("DELETE", "/v1/hooks/t", {"POST"}),
    ("GET", "/_fixtures/orgs", {"POST"}),
    ("PUT", "/_fixtures/orgs/x/keys", {"POST"}),
    ("GET", "/_fixtures/calls", {"POST"}),
    ("DELETE", "/_fixtures/calls/x/status", {"POST"}),
    ("GET", "/_fixtures/reset", {"POST"}),
    ("DELETE", "/_fixtures/reset", {"POST"}),
]


@pytest.mark.parametrize(("method", "path", "allowed"), WRONG_METHODS, ids=[f"{m} {p}" for m, p, _ in WRONG_METHODS])
def test_wrong_method_is_405_with_allow(
    mock_server: MockServer, live_tenant: Any, method: str, path: str, allowed: set[str]
) -> None:
    answer = raw_request(mock_server.port, method, path, live_tenant.bearer)
    assert_error(answer, 405, "METHOD_NOT_ALLOWED")
    allow = {part.strip() for part in answer.headers.get("allow", "").split(",")}
    assert allowed <= allow, answer.headers
    assert method not in allow, answer.headers


FIXTURES_ROUTES = [
    "/_fixtures/orgs",
    "/_fixtures/orgs/{org}/keys",
    "/_fixtures/calls",
    "/_fixtures/calls/{call}/status",
    "/_fixtures/reset",
]


@pytest.mark.parametrize("token", [None, "", "wrong", "fixtures-"], ids=["absent", "empty", "wrong", "prefix"])
@pytest.mark.parametrize("template", FIXTURES_ROUTES)
def test_fixtures_route_without_the_token_is_401(
    live: httpx.Client, live_fixtures: FixturesClient, live_tenant: Any, template: str, token: str | None
) -> None:
    call = live_fixtures.call(live_tenant.org, "queued")
    path = template.format(org=live_tenant.org.org_id, call=call["call_id"])
    headers = {} if token is None else {"x-fixtures-token": token}
    answer = Answer.of(live.post(path, json={"status": "initiated", "scopes": []}, headers=headers))
    assert_error(answer, 401, "UNAUTHORIZED")
    assert read_back(live, live_tenant, call["call_id"]) == call
