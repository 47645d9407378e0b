"""The mock's rate limit (contract section 7): N requests per window per credential, then 429.

In process with a fake clock for the rules, and once against a real uvicorn with real time.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from conformance.mock import MockConfig, MockServer, create_app
from conformance.target.fixtures_client import FixturesClient, SeededOrg

TOKEN = "fixtures-" + secrets.token_urlsafe(16)
LIMIT = 3
WINDOW = 60.0


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limited(clock: FakeClock) -> Iterator[TestClient]:
    app = create_app(MockConfig(fixtures_token=TOKEN, rate_limit=LIMIT, clock=clock))
    with TestClient(app) as http:
        yield http


@pytest.fixture
def seeder(limited: TestClient) -> FixturesClient:
    return FixturesClient(limited, TOKEN)


@pytest.fixture
def org(seeder: FixturesClient) -> SeededOrg:
    return seeder.org()


@pytest.fixture
def key(seeder: FixturesClient, org: SeededOrg) -> str:
    return seeder.key(org)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def probe(http: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    """A cheap request that counts against the limit: GET of a call that does not exist."""
    return http.get("/v1/calls/no-such-call", headers=headers)


def hook_probe(http: httpx.Client, webhook_token: str) -> httpx.Response:
    return http.post(f"/v1/hooks/{webhook_token}", json={"action": "call.cancel", "data": {"call_id": "nope"}})


def spend(http: httpx.Client, headers: dict[str, str], n: int = LIMIT, expect: int = 404) -> None:
    """`n` requests that are under the limit, each answered `expect`."""
    for i in range(n):
        answer = probe(http, headers)
        assert answer.status_code == expect, f"request {i + 1} of {n}: {answer.status_code} {answer.text}"


def retry_after(answer: httpx.Response) -> int:
    """The answer is the contract's 429; its Retry-After in whole seconds."""
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert isinstance(answer.json()["error"]["message"], str)
    value = answer.headers["retry-after"]
    assert value.isdigit(), f"Retry-After {value!r} is not whole seconds"
    assert int(value) >= 1
    return int(value)


# --- the limit and Retry-After ---------------------------------------------------------------------


def test_limit_passes_then_429(limited: TestClient, key: str) -> None:
    spend(limited, bearer(key))
    assert retry_after(probe(limited, bearer(key))) == WINDOW


def test_after_retry_after_the_request_passes(limited: TestClient, key: str, clock: FakeClock) -> None:
    spend(limited, bearer(key))
    clock.advance(retry_after(probe(limited, bearer(key))))
    assert probe(limited, bearer(key)).status_code == 404


@pytest.mark.parametrize("short_by", [0.001, 0.5, 1.0, 30.0])
def test_less_than_retry_after_is_still_429(limited: TestClient, key: str, clock: FakeClock, short_by: float) -> None:
    spend(limited, bearer(key))
    wait = retry_after(probe(limited, bearer(key)))
    clock.advance(wait - short_by)
    assert retry_after(probe(limited, bearer(key))) == max(1, math.ceil(short_by))


def test_window_slides(limited: TestClient, key: str, clock: FakeClock) -> None:
    """Hits at t, t+10, t+20: at t+60 only the first has left the window, so one passes."""
    for _ in range(LIMIT):
        spend(limited, bearer(key), 1)
        clock.advance(10)
    assert retry_after(probe(limited, bearer(key))) == 30  # clock at t+30; the t hit leaves at t+60
    clock.advance(30)
    spend(limited, bearer(key), 1)  # t+60: the t hit is out
    assert retry_after(probe(limited, bearer(key))) == 10  # a fixed window would have reset at t+60
    clock.advance(10)
    spend(limited, bearer(key), 1)


def test_throttled_requests_do_not_extend_the_wait(limited: TestClient, key: str, clock: FakeClock) -> None:
    spend(limited, bearer(key))
    first = retry_after(probe(limited, bearer(key)))
    for _ in range(10):
        clock.advance(1)
        retry_after(probe(limited, bearer(key)))
    clock.advance(first - 10)
    assert probe(limited, bearer(key)).status_code == 404


def test_throttled_request_has_no_side_effect(
    limited: TestClient, seeder: FixturesClient, org: SeededOrg, key: str, clock: FakeClock
) -> None:
    call = seeder.call(org, "queued")
    spend(limited, bearer(key))
    clock.advance(retry_after(limited.post(f"/v1/calls/{call['call_id']}/cancel", headers=bearer(key))))
    after = limited.get(f"/v1/calls/{call['call_id']}", headers=bearer(key))
    assert after.status_code == 200
    assert after.json()["data"] == call


# --- whose budget: per key, per webhook token, unknown keys too -----------------------------------


def test_limits_are_per_key(limited: TestClient, seeder: FixturesClient, org: SeededOrg, key: str) -> None:
    spend(limited, bearer(key))
    retry_after(probe(limited, bearer(key)))
    other = seeder.key(org)
    spend(limited, bearer(other))
    retry_after(probe(limited, bearer(key)))


@pytest.mark.parametrize(
    "other_form",
    [
        pytest.param(lambda key: {"x-api-key": key}, id="x-api-key"),
        pytest.param(lambda key: {"Authorization": f"bearer {key}"}, id="lower-case-bearer"),
        pytest.param(lambda key: {"Authorization": f"Bearer {key}", "x-api-key": key}, id="both-headers"),
    ],
)
def test_one_key_has_one_budget_whichever_header_carries_it(limited: TestClient, key: str, other_form: Any) -> None:
    """Section 7 limits per key, and section 2 lets the key come in either header."""
    spend(limited, bearer(key))
    retry_after(probe(limited, other_form(key)))


def test_webhook_token_is_its_own_identity(limited: TestClient, org: SeededOrg, key: str) -> None:
    spend(limited, bearer(key))
    for _ in range(LIMIT):
        assert hook_probe(limited, org.webhook_token).status_code == 404  # the key's budget is not the org's
    retry_after(hook_probe(limited, org.webhook_token))
    retry_after(probe(limited, bearer(key)))


def test_webhook_tokens_do_not_share_a_budget(limited: TestClient, seeder: FixturesClient, org: SeededOrg) -> None:
    for _ in range(LIMIT):
        assert hook_probe(limited, org.webhook_token).status_code == 404
    retry_after(hook_probe(limited, org.webhook_token))
    assert hook_probe(limited, seeder.org().webhook_token).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Authorization": "Bearer sk_test_unknown"}, id="unknown-bearer"),
        pytest.param({"x-api-key": "sk_test_unknown"}, id="unknown-x-api-key"),
        pytest.param({}, id="no-key"),
    ],
)
def test_unknown_keys_are_throttled_too(limited: TestClient, headers: dict[str, str]) -> None:
    spend(limited, headers, expect=401)
    retry_after(probe(limited, headers))


def test_revoked_key_is_throttled_too(limited: TestClient, seeder: FixturesClient, org: SeededOrg) -> None:
    revoked = seeder.key(org, revoked=True)
    spend(limited, bearer(revoked), expect=401)
    retry_after(probe(limited, bearer(revoked)))


def test_unknown_webhook_token_is_throttled_too(limited: TestClient) -> None:
    for _ in range(LIMIT):
        assert hook_probe(limited, "whk_unknown").status_code == 401
    retry_after(hook_probe(limited, "whk_unknown"))


# --- what is not limited ---------------------------------------------------------------------------


def test_fixtures_api_is_never_limited(limited: TestClient, seeder: FixturesClient, key: str) -> None:
    org = seeder.org()
    for _ in range(5 * LIMIT):
        seeder.call(org, "queued")  # raises unless 201
        seeder.org()
    spend(limited, bearer(key))  # nor do fixtures requests spend a key's budget
    retry_after(probe(limited, bearer(key)))
    seeder.key(org)  # still served while the key is throttled


def test_default_config_has_no_limit(client: TestClient, tenant: Any) -> None:
    statuses = {probe(client, tenant.bearer).status_code for _ in range(200)}
    assert statuses == {404}


# --- a real uvicorn, real time ---------------------------------------------------------------------


def test_real_server_throttles_and_recovers() -> None:
    config = MockConfig(fixtures_token=TOKEN, rate_limit=2, rate_window_seconds=1.0)
    with MockServer(config) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        key = FixturesClient(http, TOKEN).key(FixturesClient(http, TOKEN).org())
        assert [probe(http, bearer(key)).status_code for _ in range(2)] == [404, 404]
        wait = retry_after(probe(http, bearer(key)))
        assert wait == 1
        time.sleep(wait)
        assert probe(http, bearer(key)).status_code == 404
