"""A target without the fixtures API: the suite runs on `HUSKY_*` credentials from the environment.

The credentials are real ones of a live mock, made through its fixtures API by the test; the
suite itself never sees the fixtures token. With the implicit api seeder (which waits for no call
to complete) it can then only make queued calls (create) and cancelled ones (create, cancel), so
whatever needs a call in another state is not exercised, with a reason, and the verdict is
incomplete rather than pass or fail.

The staging walk-through (docs/staging.md, "End to end"), at the end, is the other way: the mock's
own banner variables, every one of them, and `--seeder api` against a mock whose calls complete by
themselves: PASS.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from suite_runs import QUICK_PROPERTIES, SuiteRun, run_suite, run_suites

from conformance.cassettes.cassette_set import CREDENTIAL_NAMES
from conformance.contract.requirements import REQUIREMENTS
from conformance.mock import MockConfig, MockServer
from conformance.target.fixtures_client import FixturesClient

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
    assert lines[0].startswith("husky-conformance: no credentials: ")
    for what_to_set in ("--fixtures-token", "HUSKY_API_KEY", "HUSKY_WEBHOOK_TOKEN"):
        assert what_to_set in lines[0]
    assert not (run.report_dir / "report.json").exists()


# --- the staging walk-through (docs/staging.md): the mock's own banner, pasted, reaches PASS ----------

WALK_THROUGH = ("--budget", "smoke", "--allow-destructive", "--seeder", "api", "--agent-id", "agent_autocomplete")
WALK_THROUGH_SECONDS = 180.0  # a bound, not a measure: ~15 s on an idle machine (see --auto-complete below)


@contextmanager
def banner_variables(*args: str) -> Iterator[dict[str, str]]:
    """`husky-conformance mock --port 0 ARGS` in a subprocess, and the `export` lines its banner prints."""
    command = [sys.executable, "-m", "conformance.cli", "mock", "--port", "0", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or lines[-1] != "try:":
            line = process.stdout.readline()
            assert line, f"the mock exited before its banner was complete: {lines}"
            lines.append(line.rstrip("\n"))
        exports = (line.removeprefix("export ").partition("=") for line in lines if line.startswith("export "))
        yield {name: value for name, _, value in exports}
    finally:
        process.terminate()
        process.communicate(timeout=10)  # and closes its stdout


def test_the_walk_through_with_the_banner_variables_passes(tmp_path: Path) -> None:
    # Calls complete 0.2 s after their create, before the api seeder's first poll (0.25 s): it still
    # polls each one, and the walk-through is the docs' one, without waiting seconds a call.
    with banner_variables("--auto-complete", "0.2") as variables:
        assert set(variables) == {"HUSKY_TARGET_URL", *CREDENTIAL_NAMES.values()}
        started = time.monotonic()
        run = run_suite(
            ["--target-url", variables["HUSKY_TARGET_URL"], *WALK_THROUGH],
            tmp_path / "reports",
            variables,
            seconds=WALK_THROUGH_SECONDS,
        )
        took = time.monotonic() - started
    assert run.returncode == 0, run.describe()
    assert run.report["verdict_text"] == "PASS", run.report["verdict_text"]
    assert run.report["leftovers"] == 0
    assert run.report["ledger"]["leftovers"] == []
    assert run.report["requests"] <= 300
    for rid in ("AUTH-REVOKED-401", "CANCEL-PAST-QUEUED-REFUSED", "CANCEL-PAST-QUEUED-409", "TENANT-404"):
        assert run.requirements[rid]["checks"] > 0, rid
    assert took < WALK_THROUGH_SECONDS
