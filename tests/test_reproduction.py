"""Reproductions that reproduce: the replay line under a failure, run as printed, fails the same way."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from helpers import suite_on
from suite_runs import run_suite, suite_env

from conformance.config import SuiteConfig, build_config
from conformance.errors import Failure
from conformance.http.client import Exchange
from conformance.http.history import Sent
from conformance.http.redaction import Secrets
from conformance.layers import (
    properties,  # noqa: F401  (registers the checks)
    reproduction,
)
from conformance.layers.checks import CHECKS
from conformance.layers.lifecycle import run_lifecycle
from conformance.layers.replay_line import replay_command
from conformance.layers.schema import SchemaLayer
from conformance.mock import MockConfig, MockServer
from conformance.run.session import SuiteSession
from conformance.target import calls

TOKEN = "reproduction-fixtures-token"
MARK = "# replay the run: "


def _replay_line(report: dict[str, Any], requirement: str) -> str:
    (found,) = [r for r in report["requirements"] if r["id"] == requirement]
    lines = found["failures"][0]["reproduction"].splitlines()
    (line,) = [line for line in lines if line.startswith(MARK)]
    return str(line).removeprefix(MARK)


def _failed(report: dict[str, Any]) -> set[str]:
    return {r["id"] for r in report["requirements"] if r["failures"]}


def test_a_printed_replay_line_runs_the_same_run_again(tmp_path: Path) -> None:
    with MockServer(MockConfig(fixtures_token=TOKEN, faults=frozenset({"repeat-delete-200"}))) as server:
        args = ["--target-url", server.url, "--seed", "7", "--budget", "smoke"]
        first = run_suite(args, tmp_path / "first", {"HUSKY_FIXTURES_TOKEN": TOKEN})
        assert first.returncode == 1, first.describe()
        line = _replay_line(first.report, "DEL-REPEAT-404")
        command, _, needs = line.partition("   # with ")
        assert TOKEN not in line
        assert needs == "HUSKY_FIXTURES_TOKEN set as for this run"
        words = shlex.split(command)
        assert words[:2] == ["husky-conformance", "run"]
        assert words[2:4] == ["--target-url", server.url]
        assert words[4:8] == ["--seed", "7", "--budget", "smoke"]
        again = tmp_path / "again"
        env = suite_env({"HUSKY_FIXTURES_TOKEN": TOKEN})
        done = subprocess.run(
            [sys.executable, "-m", "conformance.cli", *words[1:], "--report-dir", str(again)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    replayed = json.loads((again / "report.json").read_text())
    assert _failed(replayed) == _failed(first.report)
    assert replayed["requests"] == first.report["requests"]


def _config(**given: Any) -> SuiteConfig:
    defaults: dict[str, Any] = {
        "target_url": None,
        "fixtures_token": None,
        "report_dir": "reports",
        "seed": None,
        "budget": "default",
        "strict": False,
        "timeout": 10.0,
        "env": {},
    }
    return build_config(**(defaults | given))


def test_the_replay_line_names_what_changes_the_run_and_no_secret() -> None:
    embedded = replay_command(_config(seed=5))
    assert embedded == "husky-conformance run --seed 5 --budget default"
    env = {"HUSKY_API_KEY": "sk_secret_a", "HUSKY_API_KEY_B": "sk_secret_b", "HUSKY_WEBHOOK_TOKEN": "wh_secret"}
    remote = replay_command(
        _config(target_url="https://staging.example/api", budget="250", strict=True, allow_destructive=True, env=env)
    )
    assert "secret" not in remote
    command, _, needs = remote.partition("   # with ")
    assert shlex.split(command) == [
        *("husky-conformance", "run", "--target-url", "https://staging.example/api", "--seed", "20261201"),
        *("--budget", "250", "--strict", "--allow-destructive", "--seeder", "api", "--wait-completed", "0"),
    ]
    assert needs == "HUSKY_API_KEY, HUSKY_API_KEY_B, HUSKY_WEBHOOK_TOKEN set as for this run"


# --- the sequence of a failure: every request of its check on its calls -----------------------

CALL, OTHER = "0b7c6a5e-1111-4a2b-9c3d-000000000001", "0b7c6a5e-2222-4a2b-9c3d-000000000002"
BASE = "http://127.0.0.1:9"


def _exchange(
    method: str, path: str, status: int = 200, *, sent: bytes | None = None, answer: bytes = b"{}"
) -> Exchange:
    return Exchange(method, BASE + path, {}, sent, status, {}, answer)


def _seeding(call_id: str) -> Exchange:
    return _exchange(
        "POST",
        "/_fixtures/calls",
        201,
        sent=b'{"status": "completed"}',
        answer=f'{{"data": {{"call_id": "{call_id}"}}}}'.encode(),
    )


def _history(*exchanges: Exchange, at: float = 0.0) -> list[Sent]:
    """One after another, each on the wire for a second."""
    return [Sent(e, at + 2 * n, at + 2 * n + 1) for n, e in enumerate(exchanges)]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _requests(text: str) -> list[str]:
    """`METHOD path -> outcome` of each curl line of a reproduction."""
    found = []
    for line in text.splitlines():
        if line.startswith("curl "):
            words = shlex.split(line.partition("   # -> ")[0])
            found.append(f"{words[3]} {_path(words[4])} -> {line.partition('   # -> ')[2]}")
    return found


def _reproduce(history: list[Sent], failing: Exchange, setup: list[Exchange] | None = None) -> str:
    ids = reproduction.mentioned([failing], [CALL, OTHER])
    steps = reproduction.choose(history, [failing], ids, setup or [])
    return reproduction.render(steps, Secrets(), "husky-conformance run --seed 1")


def test_the_sequence_is_every_request_on_the_failing_call_in_order_then_the_replay_line() -> None:
    failing = _exchange("DELETE", f"/v1/calls/{CALL}")
    history = _history(
        _seeding(CALL),
        _seeding(OTHER),
        _exchange("GET", f"/v1/calls/{CALL}"),
        _exchange("DELETE", f"/v1/calls/{OTHER}"),  # another call: not this failure's
        _exchange("GET", "/v1/no-such-route", 404),
        _exchange("POST", "/v1/hooks/t", sent=f'{{"action": "call.delete", "data": {{"call_id": "{CALL}"}}}}'.encode()),
        failing,
        _exchange("GET", f"/v1/calls/{CALL}", 404),  # after the failure: not part of it
    )
    text = _reproduce(history, failing)
    assert _requests(text) == [
        "POST /_fixtures/calls -> 201",
        f"GET /v1/calls/{CALL} -> 200",
        "POST /v1/hooks/[REDACTED] -> 200",  # a token, though not one of the run's
        f"DELETE /v1/calls/{CALL} -> 200",
    ]
    assert text.splitlines()[-1] == "# replay the run: husky-conformance run --seed 1"


def test_a_request_on_no_call_shows_just_itself() -> None:
    failing = _exchange("GET", "/v1/no-such-route", 200)
    history = _history(_seeding(CALL), _exchange("GET", f"/v1/calls/{CALL}"), failing)
    assert _requests(_reproduce(history, failing)) == ["GET /v1/no-such-route -> 200"]


def test_the_seeding_the_history_lost_comes_first_and_a_failure_it_lacks_last() -> None:
    seeding, failing = _seeding(CALL), _exchange("DELETE", f"/v1/calls/{CALL}")
    history = _history(_exchange("GET", f"/v1/calls/{CALL}"))
    assert _requests(_reproduce(history, failing, [seeding])) == [
        "POST /_fixtures/calls -> 201",
        f"GET /v1/calls/{CALL} -> 200",
        f"DELETE /v1/calls/{CALL} -> 200",
    ]


def test_requests_in_flight_together_are_marked_and_listed_in_the_order_they_went() -> None:
    deletes = [_exchange("DELETE", f"/v1/calls/{CALL}", status) for status in (200, 404, 404)]
    failing = _exchange("GET", f"/v1/calls/{CALL}")
    # Answered out of order (the history's order): the second went first and answered last.
    history = [
        *_history(_seeding(CALL)),
        Sent(deletes[0], 10.2, 10.5),
        Sent(deletes[2], 10.3, 10.6),
        Sent(deletes[1], 10.1, 10.9),
        *_history(failing, at=20.0),
    ]
    lines = _reproduce(history, failing).splitlines()
    assert lines[1] == "# the next 3 requests were sent concurrently (listed in the order they went)"
    assert [line.rpartition("# -> ")[2] for line in lines[2:5]] == ["404", "200", "404"]  # by when each went
    assert _requests("\n".join(lines))[-1] == f"GET /v1/calls/{CALL} -> 200"  # after them, alone: unmarked
    assert sum(line.startswith("# the next") for line in lines) == 1


def test_a_long_sequence_keeps_the_seeding_and_the_latest_and_says_how_many_it_left_out() -> None:
    gets = [_exchange("GET", f"/v1/calls/{CALL}?n={n}") for n in range(40)]
    failing = _exchange("DELETE", f"/v1/calls/{CALL}")
    text = _reproduce(_history(_seeding(CALL), *gets, failing), failing)
    shown = _requests(text)
    assert len(shown) == reproduction.MAX_REQUESTS
    assert shown[0] == "POST /_fixtures/calls -> 201"
    assert shown[1] == f"GET /v1/calls/{CALL}?n=12 -> 200"  # the latest 28 GETs, then the failing DELETE
    assert shown[-1] == f"DELETE /v1/calls/{CALL} -> 200"
    assert text.splitlines()[1] == "# ... 12 earlier requests on these calls left out"


# --- against the mock with a fault switched on ----------------------------------------------------


@contextmanager
def _session(fault: str, report_dir: Path) -> Iterator[SuiteSession]:
    """A suite session (as `husky-conformance run` opens one) on a mock with `fault` switched on."""
    config = MockConfig(fixtures_token=TOKEN, faults=frozenset({fault}))
    with MockServer(config) as server, suite_on(server, report_dir) as suite:
        yield suite


def _run_check(suite: SuiteSession, name: str) -> Failure:
    """Run one registered check as the plugin does (its own history), the failure it raised recorded."""
    check = CHECKS[name]
    suite.ctx.begin(check.name, check.requirements)
    with pytest.raises(Failure) as raised:
        check.run(suite.ctx)
    suite.ctx.record(raised.value)
    return raised.value


def _first_reproduction(suite: SuiteSession, requirement: str) -> str:
    return suite.ctx.results.failures[requirement][0].reproduction


def test_a_repeated_delete_shows_the_seeding_the_first_delete_and_the_second(tmp_path: Path) -> None:
    with _session("repeat-delete-200", tmp_path) as suite:
        _run_check(suite, "repeat_delete")
        text = _first_reproduction(suite, "DEL-REPEAT-404")
    (call,) = {line.split("/v1/calls/")[1].split('"')[0] for line in text.splitlines() if "/v1/calls/" in line}
    assert _requests(text) == [
        "POST /_fixtures/calls -> 201",
        f"DELETE /v1/calls/{call} -> 200",
        f"DELETE /v1/calls/{call} -> 200",  # the second: the one that broke the rule, last
    ]
    assert text.splitlines()[-1].startswith("# replay the run: husky-conformance run --target-url ")


def test_a_deleted_call_still_readable_shows_the_delete_before_the_get(tmp_path: Path) -> None:
    with _session("soft-delete", tmp_path) as suite:
        failure = _run_check(suite, "delete_gone")
        text = _first_reproduction(suite, "DEL-GONE")
    assert failure.requirement == "DEL-GONE"
    steps = _requests(text)
    assert steps[0] == "POST /_fixtures/calls -> 201"
    assert steps[-1].startswith("GET /v1/calls/")
    assert steps[-1].endswith("-> 200")
    assert len(steps) == 3
    assert steps[1].startswith(("DELETE /v1/calls/", "POST /v1/hooks/"))
    assert steps[1].endswith("-> 200")


def test_a_lifecycle_failure_lists_every_earlier_step_on_its_call(tmp_path: Path) -> None:
    with _session("soft-delete", tmp_path) as suite:
        ctx = suite.ctx
        sent: list[Exchange] = []
        ctx.client.observers.append(sent.append)
        ctx.begin("lifecycle-1", ())
        with pytest.raises(Failure) as raised:
            run_lifecycle(ctx, examples=20, seed=1)
        text = ctx.reproduction(raised.value.exchanges)
        (call,) = reproduction.mentioned(raised.value.exchanges[-1:], ctx.env.created)
    evidence = raised.value.exchanges
    last = max(n for n, e in enumerate(sent) if any(e is f for f in evidence))
    on_the_call = [e for e in sent[: last + 1] if reproduction.mentioned([e], [call])]
    # Every request of the run on that call, in order, up to the failing one: webhook tokens redacted.
    expected = [f"{e.method} {_path(e.url)} -> {e.outcome()}".replace("/hooks/whk_", "/hooks/") for e in on_the_call]
    shown = [re.sub(r"/hooks/\$\{HUSKY_WEBHOOK_TOKEN(_B)?\}", "/hooks/", step) for step in _requests(text)]
    assert [re.sub(r"/hooks/[^ ]*", "/hooks/", step) for step in expected] == shown
    assert len(on_the_call) > len(evidence) + 1  # more than the failure's evidence and its seeding


def test_a_check_shows_its_own_requests_only_and_the_seeding_of_its_calls(tmp_path: Path) -> None:
    with _session("repeat-delete-200", tmp_path) as suite:
        ctx, a = suite.ctx, suite.ctx.env.a
        ctx.begin("first", ())
        call = ctx.env.seed_call(a, "completed")
        calls.get(ctx.client, call, a.auth())
        ctx.begin("second", ())
        failing = calls.rest(ctx.client, "delete", call, a.auth())
        text = ctx.reproduction((failing,))
    # The first check's GET is not this one's; the seeding is, though the first check sent it.
    assert _requests(text) == ["POST /_fixtures/calls -> 201", f"DELETE /v1/calls/{call} -> 200"]


def test_requests_on_a_variant_of_the_id_are_not_on_the_call() -> None:
    """The ID checks try `<id>%20`, `<id>` and more hex: those name no call, unless one fails."""
    failing = _exchange("GET", f"/v1/calls/{CALL}abc")
    history = _history(
        _seeding(CALL),
        _exchange("GET", f"/v1/calls/{CALL}%20", 404),
        _exchange("GET", f"/v1/calls/{CALL}0f", 404),
        _exchange("GET", f"/v1/calls/{CALL}/cancel", 404),
        failing,
    )
    assert _requests(_reproduce(history, failing)) == [
        "POST /_fixtures/calls -> 201",
        f"GET /v1/calls/{CALL}/cancel -> 404",
        f"GET /v1/calls/{CALL}abc -> 200",
    ]


def test_a_schema_scenario_failure_lists_every_earlier_request_of_the_scenario_on_its_call(tmp_path: Path) -> None:
    with _session("soft-delete", tmp_path) as suite:
        sent: list[Exchange] = []
        suite.ctx.client.observers.append(sent.append)
        findings = SchemaLayer(suite.ctx).run_stateful()
        text = _first_reproduction(suite, "DEL-GONE")
    assert "DEL-GONE" in {f.requirement for f in findings}
    shown = _requests(text)
    call = shown[-1].split("/v1/calls/")[1].split(" ")[0].split("/")[0]
    # Each scenario has calls of its own: every request on this one, up to the failing one.
    on_the_call = [f"{e.method} {_path(e.url)} -> {e.outcome()}" for e in sent if reproduction.mentioned([e], [call])]
    assert shown == on_the_call[: len(shown)]
    assert on_the_call[0].startswith("POST /_fixtures/calls -> 201")
    assert len(shown) > 3  # the seeding, the delete, the read that found it: and what came between


def test_a_failure_with_no_exchange_shows_the_requests_on_the_calls_its_title_names(tmp_path: Path) -> None:
    with _session("repeat-delete-200", tmp_path) as suite:
        ctx, a = suite.ctx, suite.ctx.env.a
        ctx.begin("a check", ())
        call = ctx.env.seed_call(a, "completed")
        calls.rest(ctx.client, "delete", call, a.auth())
        with pytest.raises(Failure) as raised:
            ctx.expect("ID-NEVER-REUSED", False, f"a create after the deletes answered a deleted call's id {[call]}")
        ctx.record(raised.value)
        text = _first_reproduction(suite, "ID-NEVER-REUSED")
    assert _requests(text) == ["POST /_fixtures/calls -> 201", f"DELETE /v1/calls/{call} -> 200"]
