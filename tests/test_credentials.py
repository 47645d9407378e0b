"""A target without the fixtures API: the suite runs on `HUSKY_*` credentials from the environment.

The credentials are real ones of a live mock, made through its fixtures API by the test; the
suite itself never sees the fixtures token. It can then only make queued calls (create) and
cancelled ones (create, cancel), so whatever needs a call in another state is not exercised, with
a reason, and the verdict is incomplete rather than pass or fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from suite_runs import QUICK_PROPERTIES, SuiteRun, run_suites

from conformance.fixtures_client import FixturesClient
from conformance.mock import MockConfig, MockServer
from conformance.requirements import REQUIREMENTS

FIXTURES_TOKEN = "credentials-fixtures-token"
SCHEMA_LAYER = {r.id for r in REQUIREMENTS if r.id.startswith("SCHEMA-")}  # deselected by -k test_property
NO_WAIT = "no completed call: the api seeder waits for none (--wait-completed SECONDS)"
NEED_SEEDING = {  # requirement -> why, as the check that would have covered it says
    "DEL-CONCURRENT-ONCE": NO_WAIT,
    "DEL-ERASURE": NO_WAIT,
    "DEL-COMPLETED-200": NO_WAIT,
    "DEL-REPEAT-404": NO_WAIT,
    "DEL-GONE": NO_WAIT,
}
NOT_REACHED = {  # no check fails for want of them; nothing here can make their calls or keys
    "CANCEL-PAST-QUEUED-REFUSED",  # calls past queued
    "CANCEL-PAST-QUEUED-409",
    "AUTH-REVOKED-401",  # a revoked key
}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(MockConfig(fixtures_token=FIXTURES_TOKEN)) as server:
        yield server


@pytest.fixture(scope="module")
def credentials(mock: MockServer) -> dict[str, str]:
    with httpx.Client(base_url=mock.url, timeout=10) as http:
        fixtures = FixturesClient(http, FIXTURES_TOKEN)
        a, b = fixtures.org(), fixtures.org()
        return {
            "HUSKY_API_KEY": fixtures.key(a),
            "HUSKY_API_KEY_LIMITED": fixtures.key(a, ("calls:create", "calls:read")),
            "HUSKY_API_KEY_B": fixtures.key(b),
            "HUSKY_WEBHOOK_TOKEN": a.webhook_token,
            "HUSKY_WEBHOOK_TOKEN_B": b.webhook_token,
        }


@pytest.fixture(scope="module")
def runs(
    mock: MockServer, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, SuiteRun]:
    """With the credentials, and with none at all: both at once."""
    base = tmp_path_factory.mktemp("credentials")
    args = ["--target-url", mock.url, *QUICK_PROPERTIES]
    with_them, without = run_suites(
        [(args, base / "with" / "reports", credentials), (args, base / "without" / "reports", {})]
    )
    return {"with": with_them, "without": without}


@pytest.fixture
def run(runs: dict[str, SuiteRun]) -> SuiteRun:
    return runs["with"]


def test_the_verdict_is_incomplete_without_failures(run: SuiteRun) -> None:
    assert run.returncode == 2, run.describe()
    assert run.report["verdict"] == "incomplete"
    assert run.failures == []
    assert run.report["suite_errors"] == []
    assert run.statuses("fail") == set()


def test_what_needs_seeding_is_not_exercised_and_says_why(run: SuiteRun) -> None:
    assert run.statuses("not_exercised") == set(NEED_SEEDING) | NOT_REACHED | SCHEMA_LAYER
    reasons = {rid: run.requirements[rid]["reason"] for rid in NEED_SEEDING}
    assert reasons == NEED_SEEDING
    for rid in NOT_REACHED:
        assert run.requirements[rid]["reason"], rid


def test_what_the_credentials_allow_passes(run: SuiteRun) -> None:
    expected = {r.id for r in REQUIREMENTS} - set(NEED_SEEDING) - NOT_REACHED - SCHEMA_LAYER
    assert run.statuses("pass") == expected
    for rid in ("TENANT-404", "AUTH-SCOPE-REFUSED", "HOOK-EQUIVALENCE", "CANCEL-KEEPS-RECORD"):
        assert run.requirements[rid]["checks"] > 0, rid


def test_the_fixtures_api_is_never_called(run: SuiteRun, mock: MockServer) -> None:
    """The suite's own requests made only calls: the mock still holds just the two organisations."""
    assert len(mock.store.orgs) == 2
    assert len(mock.store.keys) == 3
    assert mock.store.calls, "the suite created no call through the public API"


def test_no_credentials_at_all_is_a_usage_error(runs: dict[str, SuiteRun]) -> None:
    run = runs["without"]
    assert run.returncode == 4, run.describe()
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("ERROR: no credentials: ")
    for what_to_set in ("--fixtures-token", "HUSKY_API_KEY", "HUSKY_WEBHOOK_TOKEN"):
        assert what_to_set in lines[0]
    assert not (run.report_dir / "report.json").exists()
