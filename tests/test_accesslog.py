"""The mock's access log: one JSON line per request, and never a secret in it.

Runs against the real uvicorn server, so a line is written by the server thread after the answer
has gone out: the helpers below wait for the lines they expect instead of reading at once.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import FIXTURES_TOKEN, Tenant
from hypothesis import given
from hypothesis import strategies as st

from conformance.mock import MockServer
from conformance.mock.accesslog import StreamAccessLog, access_line, redact_path
from conformance.target.fixtures_client import FixturesClient

ACCESS_LOGGER = "conformance.mock.access"
LINE_KEYS = {"method", "path", "status", "ms"}
HOOK = "/v1/hooks/[REDACTED]"
WAIT_SECONDS = 5.0
SETTLE_SECONDS = 0.05

Line = dict[str, Any]


class AccessLog:
    """The access-log records caplog has seen, parsed, with a way to wait for the server thread."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog

    def messages(self) -> list[str]:
        return [r.getMessage() for r in list(self.caplog.records) if r.name == ACCESS_LOGGER]

    def lines(self) -> list[Line]:
        return [json.loads(message) for message in self.messages()]

    def mark(self) -> int:
        return len(self.messages())

    def found(self, wanted: Callable[[Line], bool], since: int = 0) -> list[Line]:
        return [line for line in self.lines()[since:] if wanted(line)]

    def wait_for(self, wanted: Callable[[Line], bool], count: int = 1, since: int = 0) -> list[Line]:
        """The lines `wanted` accepts, once there are `count` of them (or the wait is over)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while len(self.found(wanted, since)) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.found(wanted, since)

    def settled(self, wanted: Callable[[Line], bool], since: int = 0) -> list[Line]:
        """Like `wait_for`, then a moment more, so that a duplicate line would have arrived too."""
        self.wait_for(wanted, 1, since)
        time.sleep(SETTLE_SECONDS)
        return self.found(wanted, since)

    def assert_free_of(self, *secrets: str) -> None:
        """No secret, nor its random part without the well-known prefix, in any captured record."""
        text = "\n".join(self.messages()) + "\n" + self.caplog.text
        for secret in secrets:
            random_part = secret.removeprefix("sk_test_").removeprefix("whk_")
            assert len(random_part) >= 8, "a short secret could match by chance"
            assert random_part not in text, "a secret appears in the log"


@pytest.fixture
def access_log(caplog: pytest.LogCaptureFixture) -> AccessLog:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    return AccessLog(caplog)


@pytest.fixture(scope="module")
def log_tenant(mock_server: MockServer) -> Tenant:
    """One organisation for the whole module: seeding costs requests, and requests cost time."""
    with httpx.Client(base_url=mock_server.url, timeout=10) as http:
        fixtures = FixturesClient(http, FIXTURES_TOKEN)
        org = fixtures.org()
        return Tenant(org, fixtures.key(org))


def _at(method: str, path: str) -> Callable[[Line], bool]:
    return lambda line: line.get("method") == method and line.get("path") == path


def _unique() -> str:
    return "call_" + uuid.uuid4().hex


def _create_body() -> dict[str, Any]:
    return {"agent_id": "agent_log", "contact_number": "+919000000002"}


# --- one line per request, with exactly method, path, status and ms --------------------------------

Sender = Callable[[httpx.Client, FixturesClient, Tenant], tuple[httpx.Response, str]]
REQUESTS: dict[str, Sender] = {}  # what each sends, and the path its line must show


def _case(name: str) -> Callable[[Sender], Sender]:
    def register(function: Sender) -> Sender:
        REQUESTS[name] = function
        return function

    return register


@_case("GET a call, 200")
def _get_ok(http: httpx.Client, fixtures: FixturesClient, tenant: Tenant) -> tuple[httpx.Response, str]:
    call = fixtures.call(tenant.org, "completed")
    path = f"/v1/calls/{call['call_id']}"
    return http.get(path, headers=tenant.bearer), path


@_case("GET without a key, 401")
def _get_unauthorised(http: httpx.Client, fixtures: FixturesClient, tenant: Tenant) -> tuple[httpx.Response, str]:
    path = f"/v1/calls/{_unique()}"
    return http.get(path), path


@_case("DELETE an unknown call, 404")
def _delete_unknown(http: httpx.Client, fixtures: FixturesClient, tenant: Tenant) -> tuple[httpx.Response, str]:
    path = f"/v1/calls/{_unique()}"
    return http.delete(path, headers=tenant.x_api_key), path


@_case("cancel a queued call, 200")
def _cancel(http: httpx.Client, fixtures: FixturesClient, tenant: Tenant) -> tuple[httpx.Response, str]:
    call = fixtures.call(tenant.org, "queued")
    path = f"/v1/calls/{call['call_id']}/cancel"
    return http.post(path, headers=tenant.bearer), path


@_case("create a call, 201")
def _create(http: httpx.Client, fixtures: FixturesClient, tenant: Tenant) -> tuple[httpx.Response, str]:
    return http.post("/v1/calls", json=_create_body(), headers=tenant.bearer), "/v1/calls"


@_case("wrong method, 405")
def _wrong_method(http: httpx.Client, fixtures: FixturesClient, tenant: Tenant) -> tuple[httpx.Response, str]:
    path = f"/v1/calls/{_unique()}/cancel"
    return http.put(path, headers=tenant.bearer), path


@_case("unknown route, 404")
def _unknown_route(http: httpx.Client, fixtures: FixturesClient, tenant: Tenant) -> tuple[httpx.Response, str]:
    path = f"/nowhere/{_unique()}"
    return http.get(path), path


@_case("webhook create, 200")
def _hook(http: httpx.Client, fixtures: FixturesClient, tenant: Tenant) -> tuple[httpx.Response, str]:
    body = {"action": "call.create", "data": _create_body()}
    return http.post(tenant.hook(), json=body), HOOK


@_case("fixtures seed, 201")
def _seed(http: httpx.Client, fixtures: FixturesClient, tenant: Tenant) -> tuple[httpx.Response, str]:
    body = {"org_id": tenant.org.org_id, "status": "queued"}
    return http.post("/_fixtures/calls", json=body, headers=fixtures.headers), "/_fixtures/calls"


@_case("fixtures without token, 401")
def _fixtures_unauthorised(http: httpx.Client, fixtures: FixturesClient, tenant: Tenant) -> tuple[httpx.Response, str]:
    path = f"/_fixtures/calls/{_unique()}/status"
    return http.post(path, json={"status": "completed"}), path


@pytest.mark.parametrize("case", REQUESTS)
def test_one_json_line_per_request(
    live: httpx.Client, live_fixtures: FixturesClient, log_tenant: Tenant, access_log: AccessLog, case: str
) -> None:
    mark = access_log.mark()
    response, logged_path = REQUESTS[case](live, live_fixtures, log_tenant)
    lines = access_log.settled(_at(response.request.method, logged_path), since=mark)
    assert len(lines) == 1, f"{len(lines)} log lines for one request: {lines}"
    (line,) = lines
    assert set(line) == LINE_KEYS
    assert line["status"] == response.status_code
    assert isinstance(line["ms"], int | float)
    assert not isinstance(line["ms"], bool)
    assert line["ms"] >= 0


def test_every_record_is_a_single_json_object(live: httpx.Client, log_tenant: Tenant, access_log: AccessLog) -> None:
    path = f"/v1/calls/{_unique()}"
    live.get(path, headers=log_tenant.bearer)
    assert access_log.wait_for(_at("GET", path))
    for message in access_log.messages():
        assert "\n" not in message
        assert isinstance(json.loads(message), dict)


def test_the_query_string_is_not_logged(live: httpx.Client, access_log: AccessLog) -> None:
    secret = "q" + uuid.uuid4().hex
    path = f"/v1/calls/{_unique()}"
    live.get(path, params={"api_key": secret, "token": secret})
    assert access_log.wait_for(_at("GET", path))
    access_log.assert_free_of(secret)


# --- no secret ever ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/hooks/{t}",
        "/v1/hooks/{t}/",
        "/v1/hooks/{t}/extra",
        "/V1/HOOKS/{t}",
        "/v1/hooks/{t}%2Fx",
        "/v1/h%6Foks/{t}",
    ],
    ids=["webhook", "trailing slash", "extra segment", "upper case", "encoded slash", "encoded letter"],
)
def test_a_webhook_token_is_never_logged(
    live: httpx.Client, log_tenant: Tenant, access_log: AccessLog, path: str
) -> None:
    token = log_tenant.org.webhook_token
    response = live.post(path.format(t=token), json={"action": "call.create", "data": _create_body()})
    assert response.status_code < 500
    lines = access_log.wait_for(lambda line: line["method"] == "POST" and "hooks" in line["path"].lower())
    assert lines, "the webhook request was not logged"
    access_log.assert_free_of(token)
    assert all(line["path"].lower() == HOOK.lower() for line in lines), lines


def test_a_webhook_request_shows_a_redacted_path(live: httpx.Client, log_tenant: Tenant, access_log: AccessLog) -> None:
    response = live.post(log_tenant.hook(), json={"action": "call.create", "data": _create_body()})
    assert response.status_code == 200
    (line,) = access_log.settled(_at("POST", HOOK))
    assert line["status"] == 200


def test_an_unknown_webhook_token_is_not_logged(live: httpx.Client, access_log: AccessLog) -> None:
    token = "whk_" + uuid.uuid4().hex
    assert live.post(f"/v1/hooks/{token}", json={"action": "call.create"}).status_code == 401
    (line,) = access_log.settled(_at("POST", HOOK))
    assert line["status"] == 401
    access_log.assert_free_of(token)


def test_api_keys_are_never_logged(
    live: httpx.Client, live_fixtures: FixturesClient, log_tenant: Tenant, access_log: AccessLog
) -> None:
    reader = live_fixtures.key(log_tenant.org, ("calls:read",))
    revoked = live_fixtures.key(log_tenant.org, revoked=True)
    call = live_fixtures.call(log_tenant.org, "completed")
    path = f"/v1/calls/{call['call_id']}"
    sent = [
        live.get(path, headers=log_tenant.bearer),
        live.get(path, headers=log_tenant.x_api_key),
        live.delete(path, headers={"Authorization": f"Bearer {reader}"}),
        live.delete(path, headers={"x-api-key": reader}),
        live.get(path, headers={"Authorization": f"Bearer {revoked}"}),
        live.get(path, headers={"x-api-key": revoked}),
        live.get(path, headers={"Authorization": f"Bearer {log_tenant.key}", "x-api-key": reader}),
        live.get(path, headers={"Authorization": f"bearer  {reader}"}),
    ]
    assert [r.status_code for r in sent] == [200, 200, 403, 403, 401, 401, 401, 200]
    assert len(access_log.wait_for(lambda line: line["path"] == path, count=len(sent))) == len(sent)
    access_log.assert_free_of(log_tenant.key, reader, revoked)


def test_fixtures_secrets_are_never_logged(
    live: httpx.Client, live_fixtures: FixturesClient, access_log: AccessLog
) -> None:
    org = live_fixtures.org()
    key = live_fixtures.key(org)
    call = live_fixtures.call(org, "queued")
    live_fixtures.advance(call["call_id"], "initiated")
    wrong = live.post("/_fixtures/orgs", headers={"x-fixtures-token": FIXTURES_TOKEN[:-1]})
    assert wrong.status_code == 401
    paths = ["/_fixtures/orgs", f"/_fixtures/orgs/{org.org_id}/keys", "/_fixtures/calls"]
    paths.append(f"/_fixtures/calls/{call['call_id']}/status")
    for path in paths:
        assert access_log.wait_for(_at("POST", path)), f"{path} was not logged"
    assert access_log.wait_for(lambda line: line["status"] == 401 and line["path"] == "/_fixtures/orgs")
    access_log.assert_free_of(FIXTURES_TOKEN, FIXTURES_TOKEN[:-1], org.webhook_token, key)


def test_nothing_is_logged_below_info(live: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=ACCESS_LOGGER)
    path = f"/v1/calls/{_unique()}"
    assert live.get(path).status_code == 401
    time.sleep(SETTLE_SECONDS)
    assert not [r for r in caplog.records if r.name == ACCESS_LOGGER]


# --- redact_path ----------------------------------------------------------------------------------


REDACTIONS = [
    ("/v1/hooks/whk_secret", HOOK),
    ("/v1/hooks/whk_secret/", HOOK),
    ("/v1/hooks/a/b", HOOK),
    ("/v1/hooks/a/b/c/", HOOK),
    ("/V1/HOOKS/x", "/V1/HOOKS/[REDACTED]"),
    ("/v1/Hooks/x", "/v1/Hooks/[REDACTED]"),
    ("/v1/hooks/", HOOK),
    ("/v1/hooks", "/v1/hooks"),
    ("/v1//hooks/x", "/v1//hooks/[REDACTED]"),
    ("/hooks/x", "/hooks/[REDACTED]"),
    ("/v1/calls/hooks/x", "/v1/calls/hooks/[REDACTED]"),
    ("/v1/calls/abc", "/v1/calls/abc"),
    ("/v1/calls/abc/cancel", "/v1/calls/abc/cancel"),
    ("/v1/hooksx/abc", "/v1/hooksx/abc"),
    ("/v1/xhooks/abc", "/v1/xhooks/abc"),
    ("/_fixtures/orgs", "/_fixtures/orgs"),
    ("/", "/"),
    ("", ""),
]


@pytest.mark.parametrize(("path", "logged"), REDACTIONS, ids=[repr(path) for path, _ in REDACTIONS])
def test_redact_path(path: str, logged: str) -> None:
    assert redact_path(path) == logged


@pytest.mark.parametrize("path", ["/v1/hooks/{t}", "/v1/hooks/{t}/{t}", "/V1/HOOKS/{t}", "/x/hooks/y/{t}"])
def test_redact_path_never_keeps_what_follows_hooks(path: str) -> None:
    token = "whk_" + uuid.uuid4().hex
    assert token not in redact_path(path.format(t=token))


@given(method=st.text(max_size=8), path=st.text(max_size=40), status=st.integers(100, 599), seconds=st.floats(0, 100))
def test_a_line_is_json_dumps_of_its_members(method: str, path: str, status: int, seconds: float) -> None:
    """The line is written out by hand for speed; it must be exactly what `json.dumps` writes."""
    members = {"method": method, "path": redact_path(path), "status": status, "ms": round(seconds * 1000, 2)}
    assert access_line(method, path, status, seconds) == json.dumps(members)


def test_the_command_writes_each_turn_of_the_event_loop_at_once() -> None:
    class Stream(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            self.writes += 1
            return super().write(text)

    async def two_turns(log: StreamAccessLog) -> list[str]:
        log('{"n": 1}')
        log('{"n": 2}')
        seen = [stream.getvalue()]
        await asyncio.sleep(0)
        log('{"n": 3}')
        await asyncio.sleep(0)
        return [*seen, stream.getvalue()]

    stream = Stream()
    assert asyncio.run(two_turns(StreamAccessLog(stream))) == ["", '{"n": 1}\n{"n": 2}\n{"n": 3}\n']
    assert stream.writes == 2
