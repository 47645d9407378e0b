"""Staging-grade runs: pacing, 429s, lost answers, the request budget, the ledger and its clean-up,
the guard that keeps the suite off calls it did not make, dry runs, and the api and pool seeders.

Runs go through the real CLI in a subprocess against a mock on a free loopback port. The mock is
wrapped in a recorder that notes every request it answers, so a test can say what the suite sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from suite_runs import QUICK_PROPERTIES, run_suite, run_suites

from conformance.config import REQUEST_CAPS, build_config, is_loopback, parse_rate, resolve_budget
from conformance.errors import UsageError
from conformance.http.client import Pacer
from conformance.layers.properties._common import moved_on
from conformance.mock import MockConfig, MockServer
from conformance.mock.store import Call
from conformance.run.session import smallest_budget
from conformance.target.fixtures_client import FixturesClient, SeededOrg
from conformance.target.safety import NOT_ALLOWED, destructive_target
from conformance.target.seeders import read_pool

TOKEN = "fixtures-staging-token-0123456789"
LIMITED = ("calls:create", "calls:read")


# --- a recording mock -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    started: float
    ended: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    response_headers: dict[str, str]

    @property
    def request(self) -> tuple[str, str, bytes, str, str]:
        return (
            self.method,
            self.path,
            self.body,
            self.headers.get("authorization", ""),
            self.headers.get("x-api-key", ""),
        )

    def names(self, call_id: str) -> bool:
        return call_id in self.path or call_id.encode() in self.body


class Recorder:
    """ASGI middleware: every request the mock answered, in order, with its body and answer."""

    def __init__(self, refuse: set[str] | None = None, lose: set[str] | None = None) -> None:
        self.seen: list[Seen] = []
        self.refuse = refuse or set()  # methods answered 503 without reaching the mock
        self.lose = lose or set()  # methods the mock carries out, whose answer never leaves

    def wrap(self, app: Any) -> Any:
        async def recorded(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return await app(scope, receive, send)
            started, chunks, answer = time.monotonic(), [], {"status": 0, "headers": {}}

            async def receive_body() -> Any:
                message = await receive()
                chunks.append(message.get("body", b""))
                return message

            async def send_answer(message: Any) -> None:
                if message["type"] == "http.response.start":
                    answer["status"] = message["status"]
                    answer["headers"] = {k.decode().lower(): v.decode() for k, v in message["headers"]}
                if scope["method"] not in self.lose:
                    await send(message)

            if scope["method"] in self.refuse:
                await receive_body()
                await send_answer({"type": "http.response.start", "status": 503, "headers": []})
                await send_answer({"type": "http.response.body", "body": b""})
            else:
                await app(scope, receive_body, send_answer)
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            path = scope["raw_path"].decode()
            self.seen.append(
                Seen(started, time.monotonic(), scope["method"], path, headers, b"".join(chunks), *answer.values())
            )
            if scope["method"] in self.lose:
                await asyncio.sleep(1.0)  # past the client's timeout: the answer is lost

        return recorded


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def mock(recorder: Recorder) -> Iterator[MockServer]:
    with MockServer(MockConfig(fixtures_token=TOKEN), wrap=recorder.wrap) as server:
        yield server


def _fixture_args(server: MockServer) -> list[str]:
    return ["--target-url", server.url, "--fixtures-token", TOKEN]


# --- options ----------------------------------------------------------------------------------------


def test_rate_limits_default_to_60_a_minute_away_from_loopback() -> None:
    assert parse_rate(None, "https://staging.example.invalid") == 60
    assert parse_rate(None, "http://127.0.0.1:8080") is None
    assert parse_rate(None, None) is None  # the bundled mock
    assert parse_rate("120/min", "https://x.example.invalid") == 120
    assert parse_rate("off", "https://x.example.invalid") is None
    with pytest.raises(UsageError, match="60/min, or off"):
        parse_rate("fast", None)


def test_loopback_is_told_by_host() -> None:
    assert is_loopback("http://localhost:1")
    assert is_loopback("http://127.0.0.2")
    assert is_loopback("http://[::1]:8")
    assert not is_loopback("https://staging.example.invalid")
    assert not is_loopback("http://10.0.0.1")


def test_a_budget_is_a_name_or_a_number_of_requests() -> None:
    assert resolve_budget("quick") == (resolve_budget("quick")[0], REQUEST_CAPS["quick"])
    profile, cap = resolve_budget("300")
    assert (profile.name, cap) == ("smoke", 300)
    assert resolve_budget(str(REQUEST_CAPS["default"] + 1))[0].name == "default"
    assert resolve_budget("50") == (resolve_budget("smoke")[0], 50)
    with pytest.raises(UsageError, match="smoke"):
        resolve_budget("lots")


def test_destructive_requests_need_the_flag_away_from_loopback() -> None:
    def config(url: str | None, allow: bool) -> Any:
        return build_config(
            target_url=url,
            fixtures_token=None,
            report_dir="r",
            seed=None,
            budget="quick",
            strict=False,
            timeout=1,
            env={},
            allow_destructive=allow,
            seeder="api",
        )

    assert not config("https://staging.example.invalid", False).destructive_allowed
    assert config("https://staging.example.invalid", True).destructive_allowed
    assert config("http://127.0.0.1:9", False).destructive_allowed


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--rate-limit", "lots"], "--rate-limit"),
        (["--budget", "0"], "--budget"),
        (["--seeder", "pool"], "--pool FILE"),
        (["--seeder", "pool", "--pool", "/nonexistent/pool"], "no such file"),
        (["--target-url", "http://127.0.0.1:9", "--seeder", "fixtures"], "--fixtures-token"),
        (["--wait-completed", "-1"], "--wait-completed"),
    ],
)
def test_a_staging_option_mistake_is_one_line(tmp_path: Path, args: list[str], mentions: str) -> None:
    run = run_suite(args, tmp_path / "reports")
    assert run.returncode == 4, run.describe()
    assert mentions in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_a_pool_file_is_ids_one_a_line(tmp_path: Path) -> None:
    pool = tmp_path / "pool.txt"
    pool.write_text("# completed calls\ncall_1\n\nB call_2   # of organisation B\nb call_3\n")
    assert read_pool(pool) == {"A": ["call_1"], "B": ["call_2", "call_3"]}
    pool.write_text("C call_1\n")
    with pytest.raises(UsageError, match="line 1"):
        read_pool(pool)


# --- pacing and the guard, in process ----------------------------------------------------------------


def test_the_pacer_spaces_requests_evenly() -> None:
    slept: list[float] = []
    pacer = Pacer(60, slept.append)  # one a second
    for _ in range(4):
        pacer.wait()
    assert len(slept) == 3  # the first goes at once, each later one a second after the one before
    assert slept == pytest.approx([1.0, 1.0, 1.0], abs=0.05)
    Pacer(None, slept.append).wait()
    assert len(slept) == 3


def test_destructive_requests_are_found_over_rest_and_the_webhook() -> None:
    hook = json.dumps({"action": "call.delete", "data": {"call_id": "c 1"}}).encode()
    assert destructive_target("DELETE", "/v1/calls/c%201", None) == "c 1"
    assert destructive_target("POST", "/v1/calls/c1/cancel", None) == "c1"
    assert destructive_target("POST", "/v1/hooks/tok", hook) == "c 1"
    assert destructive_target("GET", "/v1/calls/c1", None) is None
    assert destructive_target("POST", "/v1/calls", b"{}") is None
    create = json.dumps({"action": "call.create", "data": {"call_id": "c1"}}).encode()
    assert destructive_target("POST", "/v1/hooks/tok", create) is None


def test_the_mock_completes_created_calls_when_asked_to() -> None:
    now = [0.0]
    with MockServer(MockConfig(fixtures_token=TOKEN, auto_complete=10, clock=lambda: now[0])) as server:
        http = httpx.Client(base_url=server.url)
        fixtures = FixturesClient(http, TOKEN)
        headers = {"x-api-key": fixtures.key(fixtures.org())}
        body = {"agent_id": "a", "contact_number": "+919800000000", "contact_name": "Zq"}
        call_id = http.post("/v1/calls", json=body, headers=headers).json()["data"]["call_id"]
        states = []
        for moment in (1, 5, 10):
            now[0] = moment
            states.append(http.get(f"/v1/calls/{call_id}", headers=headers).json()["data"])
        assert [s["status"] for s in states] == ["queued", "in_progress", "completed"]
        assert "Zq" in states[-1]["transcript"][0]["text"]
        assert states[-1]["recording_url"]
        http.close()


# --- pacing, 429s and lost answers, end to end --------------------------------------------------------


def test_a_rate_limited_target_gets_no_failure_and_every_429_is_waited_out(tmp_path: Path) -> None:
    recorder = Recorder()
    config = MockConfig(fixtures_token=TOKEN, rate_limit=10, rate_window_seconds=1.0)
    with MockServer(config, wrap=recorder.wrap) as server:
        run = run_suite([*_fixture_args(server), "-k", "auth_header_forms or repeat_delete or unknown_ids"], tmp_path)
    throttled = [s for s in recorder.seen if s.status == 429]
    assert throttled, "the test needs the mock to throttle"
    assert run.failures == [], run.describe()
    assert run.report["suite_errors"] == []
    assert run.report["throttled"] == len(throttled)
    for answer in throttled:  # each was sent again, the same, once Retry-After had passed
        wait = int(answer.response_headers["retry-after"])
        again = [s for s in recorder.seen if s.request == answer.request and s.started > answer.started]
        assert again, "a throttled request was not sent again"
        assert again[0].started >= answer.ended + wait - 0.05, "resent before Retry-After"


def test_the_client_paces_itself(tmp_path: Path, recorder: Recorder, mock: MockServer) -> None:
    run = run_suite([*_fixture_args(mock), "-k", "repeat_delete", "--rate-limit", "600/min"], tmp_path)
    assert run.failures == [], run.describe()
    assert run.report["rate_limit_per_minute"] == 600
    starts = [s.started for s in recorder.seen]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) > 10
    assert sum(gaps) / len(gaps) >= 0.1 - 0.005, gaps  # 600 a minute, on average
    assert min(gaps) >= 0.1 - 0.03, gaps  # and each from the one before (a loaded machine jitters)


def test_a_delete_whose_answer_is_lost_is_read_back_not_resent(tmp_path: Path) -> None:
    recorder = Recorder(lose={"DELETE"})
    with MockServer(MockConfig(fixtures_token=TOKEN), wrap=recorder.wrap) as server:
        run = run_suite([*_fixture_args(server), "-k", "repeat_delete", "--timeout", "0.3"], tmp_path)
    deletes = [i for i, s in enumerate(recorder.seen) if s.method == "DELETE"]
    assert deletes
    for index in deletes:
        call_id = recorder.seen[index].path.rsplit("/", 1)[-1]
        following = [s for s in recorder.seen[index + 1 :] if s.names(call_id)]
        assert following
        assert following[0].method == "GET", "a lost DELETE was followed by no read-back"
    messages = [f["message"] for f in run.failures]
    assert any("no answer: timed out (read back with GET: 404 NOT_FOUND)" in m for m in messages), messages


def test_a_run_stays_within_its_request_budget(tmp_path: Path) -> None:
    run = run_suite(["-k", "test_property", "--budget", "150"], tmp_path)
    report = run.report
    assert report["max_requests"] == 150
    assert report["budget"] == "smoke"
    assert report["requests"] <= 150, run.describe()
    reasons = {r.get("reason", "") for r in report["requirements"] if r["status"] == "not_exercised"}
    assert any("budget of 150 requests is spent" in reason for reason in reasons), reasons
    assert report["leftovers"] == 0
    assert report["ledger"]["created"] > 0


# --- the ledger and the clean-up ------------------------------------------------------------------------


def test_every_created_call_is_in_the_ledger_and_cleaned_up(tmp_path: Path, mock: MockServer) -> None:
    run = run_suite([*_fixture_args(mock), *QUICK_PROPERTIES], tmp_path / "reports")
    assert run.failures == [], run.describe()
    lines = [json.loads(line) for line in (run.report_dir / "ledger.jsonl").read_text().splitlines()]
    created = {line["call_id"]: line for line in lines if line["event"] == "created"}
    assert set(mock.store.calls) <= set(created), "a call of the run is missing from the ledger"
    assert all(line["org"] in "AB" and line["check"] and line["time"] for line in created.values())
    assert {"erasure": ["DEL-ERASURE"]}.items() <= {c["check"]: c["requirements"] for c in created.values()}.items()
    left = {
        call.call_id: call.status for call in mock.store.calls.values() if call.status not in ("cancelled", "failed")
    }
    assert left == {}, "the clean-up left calls that it could cancel or delete"
    ledger = run.report["ledger"]
    assert ledger["created"] == len(created)
    assert ledger["leftovers"] == []
    assert ledger["deleted"] > 0
    assert run.report["verdict_text"] == "INCOMPLETE"


def test_what_the_clean_up_cannot_remove_is_reported_as_leftovers(tmp_path: Path) -> None:
    recorder = Recorder(refuse={"DELETE"})
    with MockServer(MockConfig(fixtures_token=TOKEN), wrap=recorder.wrap) as server:
        run = run_suite([*_fixture_args(server), "-k", "repeat_delete"], tmp_path)
        completed = {c.call_id for c in server.store.calls.values() if c.status == "completed"}
    leftovers = run.report["ledger"]["leftovers"]
    assert completed
    assert {left["call_id"] for left in leftovers} == completed
    assert all("delete answered 503" in left["reason"] for left in leftovers), leftovers
    assert run.report["leftovers"] == len(completed)
    assert f"{len(completed)} call" in run.report["verdict_text"]
    assert "left on the target" in run.output


class RequestClock:
    """A mock clock that moves one second a request: when a call starts and ends depends on the
    requests the mock answers, not on how fast the machine is."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def wrap(self, app: Any) -> Any:
        async def ticking(scope: Any, receive: Any, send: Any) -> None:
            self.now += scope["type"] == "http"
            await app(scope, receive, send)

        return ticking


def test_the_clean_up_waits_for_a_call_the_target_ends_by_itself(tmp_path: Path) -> None:
    """No fixtures API, calls that complete on their own: one still in progress at the clean-up is
    waited for (the api seeder's polling) and deleted, not left over. create_call's calls are still
    under way at the clean-up's first GET: with 14, each is in progress from 7 and ends at 14."""
    clock = RequestClock()
    with MockServer(MockConfig(fixtures_token=TOKEN, auto_complete=14, clock=clock), wrap=clock.wrap) as server:
        with httpx.Client(base_url=server.url) as http:
            fixtures = FixturesClient(http, TOKEN)
            env = {"HUSKY_API_KEY": fixtures.key(fixtures.org())}
        args = ["--target-url", server.url, "-k", "create_call", "--seeder", "api", "--wait-completed", "10"]
        run = run_suite(args, tmp_path, env)
    lines = [json.loads(line) for line in (run.report_dir / "ledger.jsonl").read_text().splitlines()]
    outcomes = [line["outcome"] for line in lines if line["event"] == "cleanup"]
    assert outcomes == ["deleted"] * 3, run.describe()  # create_call's three forms
    assert run.report["ledger"]["leftovers"] == []
    assert server.store.calls == {}


# --- safety: the suite never touches a call it did not make -----------------------------------------------


@dataclass
class Existing:
    """Two organisations on a mock, their credentials as HUSKY_* variables, and calls made before a run."""

    env: dict[str, str]
    before: dict[str, dict[str, Any]]  # call id -> the call as it was
    fixtures: FixturesClient
    a: SeededOrg


def _existing(http: httpx.Client) -> Existing:
    fixtures = FixturesClient(http, TOKEN)
    a, b = fixtures.org(), fixtures.org()
    env = {
        "HUSKY_API_KEY": fixtures.key(a),
        "HUSKY_API_KEY_LIMITED": fixtures.key(a, LIMITED),
        "HUSKY_API_KEY_B": fixtures.key(b),
        "HUSKY_WEBHOOK_TOKEN": a.webhook_token,
        "HUSKY_WEBHOOK_TOKEN_B": b.webhook_token,
    }
    calls = [fixtures.call(a, state) for state in ("queued", "completed", "in_progress", "cancelled")]
    calls.append(fixtures.call(b, "completed"))
    return Existing(env, {c["call_id"]: c for c in calls}, fixtures, a)


@pytest.fixture
def existing(mock: MockServer) -> Iterator[Existing]:
    with httpx.Client(base_url=mock.url) as http:
        yield _existing(http)


def test_calls_made_before_the_run_are_left_untouched(
    tmp_path: Path, mock: MockServer, recorder: Recorder, existing: Existing
) -> None:
    env, before = existing.env, existing.before
    run = run_suite(["--target-url", mock.url, "--budget", "quick"], tmp_path, env)  # every layer, api seeder
    assert run.report["suite_errors"] == [], run.describe()
    assert run.report["seeder"] == "api"
    assert run.report["requests"] > 500
    now = {call_id: _json(mock.store.calls.get(call_id)) for call_id in before}
    assert now == dict(before.items()), "a call made before the run changed"
    touching = [s for s in recorder.seen if any(s.names(call_id) for call_id in before)]
    assert touching == [], "the suite sent a request naming a call it did not make"


def _json(call: Call | None) -> dict[str, Any] | None:
    return call.to_json() if call is not None else None


# --- dry runs ---------------------------------------------------------------------------------------------


def test_a_dry_run_sends_nothing_and_prints_the_plan(tmp_path: Path, recorder: Recorder, mock: MockServer) -> None:
    run = run_suite([*_fixture_args(mock), *QUICK_PROPERTIES, "--dry-run"], tmp_path / "reports")
    assert run.returncode == 0, run.describe()
    assert recorder.seen == [], "a dry run sent requests to the target"
    plan = json.loads((run.report_dir / "plan.json").read_text())
    assert not (run.report_dir / "report.json").exists()
    assert not (run.report_dir / "ledger.jsonl").exists()
    names = {c["name"]: c for c in plan["checks"]}
    assert names["repeat_delete"]["requests"] > 0
    assert plan["requests"] > sum(c["requests"] for c in plan["checks"])  # and the provisioning
    assert "DRY RUN: the plan for" in run.stdout
    lines = run.stdout.splitlines()
    for check in plan["checks"]:  # each check once, planned; never "pass" (nothing was judged)
        shown = [line for line in lines if line.startswith(f"  [{check['layer']:<10}] {check['name']} ")]
        assert len(shown) == 1, shown
        assert shown[0].endswith("requests  planned") == (check["outcome"] == "pass"), shown[0]
    assert not [line for line in lines if " pass " in f"{line} " or "passed" in line], run.stdout
    assert lines[-1].startswith("="), lines[-1]
    assert " planned in " in lines[-1], lines[-1]


def test_a_dry_run_against_staging_shows_what_needs_allow_destructive(tmp_path: Path) -> None:
    staging = ["--target-url", "https://staging.example.invalid/api", "--fixtures-token", "t", "--dry-run"]
    without, with_flag = run_suites(
        [
            ([*staging, *QUICK_PROPERTIES], tmp_path / "without" / "reports", None),
            ([*staging, *QUICK_PROPERTIES, "--allow-destructive"], tmp_path / "with" / "reports", None),
        ]
    )
    plans = [json.loads((r.report_dir / "plan.json").read_text()) for r in (without, with_flag)]
    checks = [{c["name"]: c for c in p["checks"]} for p in plans]
    assert checks[0]["repeat_delete"]["outcome"] == "not exercised"
    assert checks[0]["repeat_delete"]["reason"] == NOT_ALLOWED
    assert checks[0]["create_call"]["outcome"] == "pass"  # creating and reading are not destructive
    assert checks[1]["repeat_delete"]["outcome"] == "pass"
    assert plans[0]["rate_limit_per_minute"] == 60
    assert plans[0]["minutes_at_rate"] == round(plans[0]["requests"] / 60, 1)
    assert "DEL-REPEAT-404" in plans[0]["not_exercised"]
    assert "DEL-REPEAT-404" not in plans[1]["not_exercised"]


# --- seeders ----------------------------------------------------------------------------------------------

COMPLETED_CHECKS = ("-k", "repeat_delete or delete_gone", "--budget", "quick")
COMPLETED_REQUIREMENTS = {"DEL-COMPLETED-200", "DEL-REPEAT-404", "DEL-GONE"}


def test_the_api_seeder_waits_for_calls_to_complete(tmp_path: Path) -> None:
    config = MockConfig(fixtures_token=TOKEN, auto_complete=0.2)
    with MockServer(config) as server, httpx.Client(base_url=server.url) as http:
        env = _existing(http).env
        waited, implicit = run_suites(
            [
                (["--target-url", server.url, *COMPLETED_CHECKS, "--seeder", "api"], tmp_path / "w" / "r", env),
                (["--target-url", server.url, *COMPLETED_CHECKS], tmp_path / "i" / "r", env),
            ]
        )
    assert waited.failures == [], waited.describe()
    assert waited.statuses("pass") >= COMPLETED_REQUIREMENTS, waited.describe()
    assert implicit.statuses("not_exercised") >= COMPLETED_REQUIREMENTS  # the implicit api seeder does not wait
    reasons = {implicit.requirements[r]["reason"] for r in COMPLETED_REQUIREMENTS}
    assert all("--wait-completed" in reason for reason in reasons), reasons


def test_the_pool_seeder_uses_each_pool_call_at_most_once(
    tmp_path: Path, mock: MockServer, recorder: Recorder, existing: Existing
) -> None:
    env, before = existing.env, existing.before
    pool_ids = [existing.fixtures.call(existing.a, "completed")["call_id"] for _ in range(6)]
    pool = tmp_path / "pool.txt"
    pool.write_text("\n".join(pool_ids) + "\n")
    run = run_suite(
        ["--target-url", mock.url, *COMPLETED_CHECKS, "--seeder", "pool", "--pool", str(pool)], tmp_path, env
    )
    assert run.failures == [], run.describe()
    assert run.statuses("pass") >= COMPLETED_REQUIREMENTS, run.describe()
    lines = [json.loads(line) for line in (run.report_dir / "ledger.jsonl").read_text().splitlines()]
    used = [line["call_id"] for line in lines if line["event"] == "created" and line["call_id"] in pool_ids]
    assert used
    assert len(used) == len(set(used))
    assert used == pool_ids[: len(used)]
    for call_id in set(pool_ids) - set(used):
        assert not any(s.names(call_id) for s in recorder.seen), "an unused pool call was touched"
    assert not any(s.names(call_id) for s in recorder.seen for call_id in before)


def test_the_api_seeder_never_replays_an_earlier_runs_create(tmp_path: Path, mock: MockServer) -> None:
    """The same seed twice against one target: the second run's Idempotency-Keys are its own, so
    its creates make new calls instead of handing back (or conflicting with) the first run's."""
    with httpx.Client(base_url=mock.url) as http:
        env = _existing(http).env
    args = ["--target-url", mock.url, "-k", "cancel_table or create_call", "--budget", "quick"]
    first, second = (run_suite(args, tmp_path / name / "reports", env) for name in ("first", "second"))
    made = []
    for run in (first, second):
        assert run.failures == [], run.describe()
        lines = (run.report_dir / "ledger.jsonl").read_text().splitlines()
        made.append({json.loads(line)["call_id"] for line in lines if json.loads(line)["event"] == "created"})
    assert made[0]
    assert made[1]
    assert made[0].isdisjoint(made[1]), "the second run took calls of the first for its own"


EARLIER = 5  # see below: the credential check's call ends two or three requests past the budget


def test_small_budgets_leave_no_call_on_a_target_whose_calls_move_on_their_own(tmp_path: Path) -> None:
    """Every HUSKY_* variable, no fixtures API, calls that start and end by themselves: from the smallest
    budget up, the credential check's call and the checks' calls are all cleaned up. At budget N the
    mock ends a call N - EARLIER requests after its create (a clock of requests); the credential check
    creates its call at about the run's seventh request, so that call is still running when the
    clean-up reaches it: it is waited out last, past the budget (a few polls, not the seven of ending
    at N, ~24 s of the poller's doubling pauses), and takes nothing kept back for the others (waited
    for in its turn, it left the queued calls after it)."""
    with ExitStack() as stack:
        started = []
        for budget in (21, 30, 50):
            clock = RequestClock()
            config = MockConfig(fixtures_token=TOKEN, auto_complete=budget - EARLIER, clock=clock)
            server = stack.enter_context(MockServer(config, wrap=clock.wrap))
            with httpx.Client(base_url=server.url) as http:
                existing = _existing(http)
                env = existing.env | {"HUSKY_API_KEY_REVOKED": existing.fixtures.key(existing.a, revoked=True)}
            started.append((["--target-url", server.url, "--budget", str(budget)], tmp_path / str(budget), env))
        assert _smallest(server.url, env, tmp_path) == 21, "the smallest budget changed: start from it"
        runs = run_suites(started)
    for (args, _, _), run in zip(started, runs, strict=True):
        assert run.returncode == 2, run.describe()
        assert run.report["ledger"]["leftovers"] == [], (args, run.report["ledger"]["leftovers"])
        assert run.report["ledger"]["deleted"] > 0, args  # the credential check's call, waited out
        budget = int(args[args.index("--budget") + 1])
        assert run.report["requests"] > budget, (args, "no wait past the budget: no call was running at the clean-up")


def _smallest(url: str, env: dict[str, str], report_dir: Path) -> int:
    config = build_config(
        target_url=url,
        fixtures_token=None,
        report_dir=str(report_dir),
        seed=None,
        budget="1",
        strict=False,
        timeout=5,
        env=env,
    )
    return smallest_budget(config)[0]


MOVED_ON_CHECKS = (
    "auth_rejections or delete_refused_states or missing_scope or tenant_isolation or odd_ids"
    " or every_method or webhook_token or webhook_action_variants or webhook_invalid_create"
)


def test_a_call_the_target_moves_on_during_a_check_is_no_failure(tmp_path: Path) -> None:
    """No fixtures API, and calls that start 3 requests after their create and complete after 6: the
    checks that read a call, send refused requests and read it again see it move on by itself, which
    is telephony's doing, not the refused request's (without the allowance: five false failures)."""
    clock = RequestClock()
    with MockServer(MockConfig(fixtures_token=TOKEN, auto_complete=6, clock=clock), wrap=clock.wrap) as server:
        with httpx.Client(base_url=server.url) as http:
            existing = _existing(http)
            env = existing.env | {"HUSKY_API_KEY_REVOKED": existing.fixtures.key(existing.a, revoked=True)}
        run = run_suite(["--target-url", server.url, "-k", MOVED_ON_CHECKS, "--budget", "quick"], tmp_path, env)
    assert run.failures == [], run.describe()
    assert run.returncode == 2, run.describe()
    assert {"AUTH-REVOKED-401", "AUTH-SCOPE-REFUSED", "DEL-NOT-COMPLETED-404", "TENANT-UNTOUCHED"} <= run.statuses(
        "pass"
    )


def test_only_telephony_s_own_moves_are_allowed() -> None:
    queued = {"call_id": "c", "status": "queued", "contact_name": "Zq", "updated_at": "t1"}
    started = queued | {"status": "in_progress", "updated_at": "t2"}
    done = started | {"status": "completed", "transcript": [{"speaker": "agent", "text": "hi"}], "duration_seconds": 3}
    assert moved_on(queued, started)
    assert moved_on(queued, done)
    assert moved_on(started, done)
    assert not moved_on(queued, queued | {"status": "cancelled"})  # only a request cancels
    assert not moved_on(queued, started | {"contact_name": "Other"})  # the record itself changed
    assert not moved_on(done, done | {"transcript": []})  # a completed call moves no more
    assert not moved_on(started, queued)  # never backwards
    assert not moved_on(queued, None)  # gone
