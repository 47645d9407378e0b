"""Record and replay (`conformance.cassettes.cassette_set`, `conformance.cassettes.recording`): the real CLI in
subprocesses against mocks on loopback, and the scrubbing, matching and index in process.

One recording against a correct mock and one against a mock with a seeded fault serve every
test here; the replays (of both, of a tampered copy and of the shipped set) run side by side.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from suite_runs import SuiteRun, suite_env
from vcr.request import Request
from vcr.serializers import yamlserializer

from conformance.cassettes.cassette_set import (
    CREDENTIAL_NAMES,
    INDEX,
    Scrubber,
    read_index,
    refuse_foreign,
    replay_environment,
    same_request,
)
from conformance.cassettes.recording import OUT_OF_SCOPE, RESPONSE_WIDE
from conformance.cli import main
from conformance.config import Credentials
from conformance.contract.requirements import REQUIREMENTS
from conformance.errors import UsageError
from conformance.http.client import Exchange
from conformance.http.redaction import Secrets
from conformance.layers import universal
from conformance.layers.results import Results
from conformance.mock import MockConfig, MockServer
from conformance.target.erasure import Erasure

SHIPPED = Path(__file__).parents[1] / "cassettes" / "mock"
TOKEN = "cassette-fixtures-" + secrets.token_urlsafe(12)
FAULT = "repeat-delete-200"
RECORD_AGAIN = "the suite or the seed changed since recording; record again"
SECONDS = 120


# --- running the CLI ------------------------------------------------------------------------------


def _start(args: Sequence[str], cwd: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "conformance.cli", *args]
    return subprocess.Popen(
        command, cwd=cwd, env=suite_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(process: subprocess.Popen[str], report_dir: Path) -> SuiteRun:
    stdout, stderr = process.communicate(timeout=SECONDS)
    return SuiteRun(process.returncode, stdout, stderr, report_dir)


def husky(runs: Sequence[tuple[Sequence[str], Path]]) -> list[SuiteRun]:
    """Several `husky-conformance ARGS --report-dir DIR` at once, each to its end, in the order given."""
    started = [(_start([*args, "--report-dir", str(d)], d.parent), d) for args, d in runs]
    return [_finish(process, d) for process, d in started]


@dataclass
class Recorded:
    run: SuiteRun
    cassettes: Path
    secrets: set[str]  # every key, webhook token and the fixtures token the recording used


@dataclass
class Recordings:
    correct: Recorded
    faulty: Recorded


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Recordings:
    base = tmp_path_factory.mktemp("recordings")
    with (
        MockServer(MockConfig(fixtures_token=TOKEN)) as good,
        MockServer(MockConfig(fixtures_token=TOKEN, faults=frozenset({FAULT}))) as bad,
    ):
        record = ["record", "--fixtures-token", TOKEN]
        runs = husky(
            [
                ([*record, "--target-url", good.url, "--cassettes", str(base / "good")], base / "good-reports"),
                ([*record, "--target-url", bad.url, "--cassettes", str(base / "bad")], base / "bad-reports"),
            ]
        )
        found = [{TOKEN} | set(server.store.keys) | set(server.store.orgs_by_token) for server in (good, bad)]
    return Recordings(Recorded(runs[0], base / "good", found[0]), Recorded(runs[1], base / "bad", found[1]))


# --- tampering with a copy ------------------------------------------------------------------------


def _edit(path: Path, change: Any) -> str:
    """Change a cassette's interactions; the request of the one `change` returns, as "METHOD /path"."""
    data = yamlserializer.deserialize(path.read_text(encoding="utf-8"))
    request = change(data["interactions"])["request"]
    path.write_text(yamlserializer.serialize(data), encoding="utf-8")
    return f"{request['method']} {urlsplit(request['uri']).path}"


def _drop_a_unique_request(interactions: list[dict[str, Any]]) -> dict[str, Any]:
    """One in the middle whose request appears once: without it, the suite's request is new."""
    requests = [json.dumps(i["request"], sort_keys=True) for i in interactions]
    return interactions.pop(next(n for n in range(1, len(requests)) if requests.count(requests[n]) == 1))


def _repeat_the_last(interactions: list[dict[str, Any]]) -> dict[str, Any]:
    interactions.append(interactions[-1])
    return interactions[-1]


@dataclass
class Replays:
    correct: SuiteRun
    tampered: SuiteRun
    faulty: SuiteRun
    shipped: SuiteRun
    removed: str = ""  # the request whose recorded interaction the tampered copy lost: "METHOD /path"
    added: str = ""  # the request of the interaction it has twice


@pytest.fixture(scope="module")
def replays(recordings: Recordings, tmp_path_factory: pytest.TempPathFactory) -> Replays:
    base = tmp_path_factory.mktemp("replays")
    tampered = base / "tampered"
    shutil.copytree(recordings.correct.cassettes, tampered)
    # The last check loses a request; an earlier one gets an extra interaction. (A check that stops
    # early draws less from the run's random source: every later check strays as well.)
    removed = _edit(tampered / "webhook_create.yaml", _drop_a_unique_request)
    added = _edit(tampered / "repeat_cancel.yaml", _repeat_the_last)
    sets = [recordings.correct.cassettes, tampered, recordings.faulty.cassettes, SHIPPED]
    runs = husky([(["replay", str(s)], base / f"reports-{n}") for n, s in enumerate(sets)])
    return Replays(*runs, removed=removed, added=added)


def _statuses(run: SuiteRun) -> list[tuple[str, str, int]]:
    return [(r["id"], r["status"], r["checks"]) for r in run.report["requirements"]]


# --- record, then replay ------------------------------------------------------------------------------


def test_a_recording_is_one_cassette_per_check_and_an_index(recordings: Recordings) -> None:
    recorded = recordings.correct
    recorded.run.assert_exit_matches_verdict()
    index = read_index(recorded.cassettes)
    assert (index.budget, index.seed, index.fixtures_token, index.credentials) == ("quick", 20261201, True, [])
    assert list(index.cassettes) == ["_open.yaml", *(f"{check}.yaml" for check in index.checks), "_cleanup.yaml"]
    assert {p.name for p in recorded.cassettes.iterdir()} == {INDEX, *index.cassettes}
    assert index.cassettes["_open.yaml"] > 0
    assert sum(index.cassettes.values()) == recorded.run.report["requests"]  # every request of the run
    assert index.requirements["DEL-REPEAT-404"] == ["repeat_delete.yaml", "over_time.yaml"]
    assert set(index.requirements) == {r.id for r in REQUIREMENTS} - _schema_only()


def _schema_only() -> set[str]:
    return {r.id for r in REQUIREMENTS if r.id.startswith("SCHEMA-")}


def test_the_recorded_run_judges_only_what_it_recorded(recordings: Recordings) -> None:
    run = recordings.correct.run
    assert run.report["verdict"] == "pass", run.describe()
    out = {r["id"]: r["reason"] for r in run.report["requirements"] if r["status"] == "not_exercised"}
    assert out == dict.fromkeys(_schema_only(), OUT_OF_SCOPE)


def test_a_replay_judges_every_requirement_as_the_recording_did(recordings: Recordings, replays: Replays) -> None:
    replay = replays.correct
    replay.assert_exit_matches_verdict()
    assert replay.report["verdict"] == recordings.correct.run.report["verdict"] == "pass", replay.describe()
    assert _statuses(replay) == _statuses(recordings.correct.run)
    assert replay.report["requests"] == recordings.correct.run.report["requests"]
    assert replay.report["suite_errors"] == []
    assert replay.report["target"] == read_index(recordings.correct.cassettes).target


def test_a_failing_recording_replays_to_the_same_failures(recordings: Recordings, replays: Replays) -> None:
    recorded, replay = recordings.faulty.run, replays.faulty
    assert recorded.report["verdict"] == replay.report["verdict"] == "fail", replay.describe()
    assert replay.returncode == 1
    assert "DEL-REPEAT-404" in replay.statuses("fail")
    assert _statuses(replay) == _statuses(recorded)
    assert [f["message"] for f in replay.failures] == [f["message"] for f in recorded.failures]


def test_the_shipped_set_replays_to_a_pass(replays: Replays) -> None:
    run = replays.shipped
    assert (run.returncode, run.report["verdict"], run.report["suite_errors"]) == (0, "pass", []), run.describe()
    assert run.statuses("not_exercised") == _schema_only()


# --- a replay that strays from its recording ---------------------------------------------------------------


def test_a_request_the_recording_does_not_have_makes_the_replay_incomplete(replays: Replays) -> None:
    run = replays.tampered
    assert (run.returncode, run.report["verdict"]) == (2, "incomplete"), run.describe()
    new = [e for e in run.report["suite_errors"] if "'webhook_create'" in e]
    assert new == [
        f"replay: check 'webhook_create' sent a request the recording does not have: {replays.removed} ({RECORD_AGAIN})"
    ]
    assert "Traceback" not in run.output


def test_a_recorded_interaction_left_unused_makes_the_replay_incomplete(replays: Replays) -> None:
    run = replays.tampered
    unused = [e for e in run.report["suite_errors"] if "'repeat_cancel'" in e]
    assert len(unused) == 1, run.report["suite_errors"]
    assert unused[0].startswith("replay: check 'repeat_cancel' left 1 of its ")
    assert unused[0].endswith(f" recorded interactions unused, the first {replays.added} ({RECORD_AGAIN})")
    lines = [line for line in run.stdout.splitlines() if "[properties] repeat_cancel " in line]
    assert len(lines) == 1, run.stdout
    assert "not exercised" in lines[0]


# --- secrets ----------------------------------------------------------------------------------------------


def test_no_secret_of_the_run_is_in_any_cassette_or_report(recordings: Recordings) -> None:
    for recorded in (recordings.correct, recordings.faulty):
        assert len(recorded.secrets) >= 15  # the fixtures token, 2 webhook tokens, 2 x 7 keys
        variants = {v for s in recorded.secrets for v in (s, s[:-1], s.swapcase(), s[4:16])}
        files = [*recorded.cassettes.iterdir(), *recorded.run.report_dir.iterdir()]
        assert len(files) >= 25
        for path in files:
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not [v for v in variants if v in text], path.name
    assert "${HUSKY_API_KEY}" in (recordings.correct.cassettes / "auth_header_forms.yaml").read_text()


# --- scrubbing and matching, in process -------------------------------------------------------------------


@pytest.fixture
def scrubber() -> Scrubber:
    store = Secrets()
    store.add("sk_live_abcdefghijkl", "HUSKY_API_KEY")
    store.add("whk_abcdefghijkl", "HUSKY_WEBHOOK_TOKEN")
    return Scrubber(store)


def _request(uri: str, headers: dict[str, str], body: bytes | None = None) -> Request:
    return Request("POST", uri, body, headers)


def test_requests_are_scrubbed_structurally_and_by_value(scrubber: Scrubber) -> None:
    request = _request(
        "http://h/v1/hooks/whk_abcdefghijkl?x=sk_live_abcdefghijkl",
        {"Authorization": "Bearer sk_live_abcdefghijkl", "x-api-key": "sk_other", "X-Note": "sk_live_abcdefghijkl"},
        b'{"key": "sk_live_abcdefghijkl"}',
    )
    scrubbed = scrubber.request(request)
    assert scrubbed.uri == "http://h/v1/hooks/${HUSKY_WEBHOOK_TOKEN}?x=${HUSKY_API_KEY}"
    assert dict(scrubbed.headers) == {
        "Authorization": "Bearer ${HUSKY_API_KEY}",
        "x-api-key": "[REDACTED]",
        "X-Note": "${HUSKY_API_KEY}",
    }
    assert scrubbed.body == b'{"key": "${HUSKY_API_KEY}"}'
    assert request.uri.endswith("sk_live_abcdefghijkl")  # a copy: the request sent is not changed


def test_a_percent_encoded_placeholder_in_a_hook_path_scrubs_to_the_recorded_form() -> None:
    replaying = Scrubber(Secrets())
    replaying.secrets.add("${HUSKY_WEBHOOK_TOKEN}", "HUSKY_WEBHOOK_TOKEN")  # type: ignore[union-attr]
    for sent in ("/v1/hooks/%24%7BHUSKY_WEBHOOK_TOKEN%7D", "/v1/hooks/$%7BHUSKY_WEBHOOK_TOKEN%7D"):
        assert replaying.url(f"http://h{sent}") == "http://h/v1/hooks/${HUSKY_WEBHOOK_TOKEN}"


def test_fixtures_answers_lose_every_key_and_token(scrubber: Scrubber) -> None:
    body = json.dumps({"org_id": "org_1", "webhook_token": "whk_abcdefghijkl", "nested": [{"api_key": "short"}]})
    response = {"status": {"code": 201}, "headers": {"Date": ["now"], "Content-Type": ["application/json"]}}
    response["body"] = {"string": body.encode()}
    request = _request("http://h/_fixtures/orgs", {"x-fixtures-token": "t"})
    saved = scrubber.interaction(request, response)
    assert saved is not None
    assert json.loads(saved[1]["body"]["string"]) == {
        "org_id": "org_1",
        "webhook_token": "${HUSKY_WEBHOOK_TOKEN}",
        "nested": [{"api_key": "[REDACTED]"}],  # too short to be found by value: replaced by place
    }
    assert saved[1]["headers"] == {"Content-Type": ["application/json"]}  # no Date: it changes every recording
    assert dict(saved[0].headers) == {"x-fixtures-token": "[REDACTED]"}


def test_what_cannot_be_scrubbed_is_not_written(scrubber: Scrubber) -> None:
    response = {"status": {"code": 200}, "headers": {"Content-Encoding": ["br"]}, "body": {"string": b"\x8bsecret"}}
    saved = scrubber.interaction(_request("http://h/v1/calls", {}), response)
    assert saved is not None
    assert b"secret" not in saved[1]["body"]["string"]
    assert Scrubber(None).interaction(_request("http://h/v1/calls", {}), response) is None  # no store yet: dropped


def test_a_request_matches_only_with_the_same_credentials_and_body() -> None:
    def request(key: str, body: bytes = b"{}") -> Request:
        return _request("http://h/v1/calls", {"x-api-key": key, "User-Agent": key}, body)

    same_request(request("${A}"), request("${A}"))
    for other in (
        request("${B}"),
        request("${A}", b"[]"),
        _request("http://h/v1/calls/", {"x-api-key": "${A}"}, b"{}"),
    ):
        with pytest.raises(AssertionError):
            same_request(request("${A}"), other)


# --- the index and the scope ----------------------------------------------------------------------------------


def test_a_replay_has_the_recordings_placeholders_as_its_secrets(recordings: Recordings) -> None:
    index = read_index(recordings.correct.cassettes)
    assert replay_environment(index) == {"HUSKY_FIXTURES_TOKEN": "${HUSKY_FIXTURES_TOKEN}"}
    creds = Credentials.from_env({name: f"value of {name}" for name in CREDENTIAL_NAMES.values()})
    assert {field: getattr(creds, field) for field in CREDENTIAL_NAMES} == {
        field: f"value of {name}" for field, name in CREDENTIAL_NAMES.items()
    }


def test_the_response_wide_requirements_are_those_the_universal_rules_judge() -> None:
    erasure = Erasure({})
    erasure.erase("call_gone", {"zq"})
    ctx = SimpleNamespace(env=SimpleNamespace(erasure=erasure))
    exchange = Exchange("GET", "http://h/v1/calls/x", {}, None, 429, {"content-type": "text/plain"}, b"x")
    judged = {rule[0] for rule in universal._rules(ctx, exchange, 429)} | {universal.CLAIMS}  # type: ignore[arg-type]
    assert judged == set(RESPONSE_WIDE)


def test_out_of_scope_requirements_are_no_gap_in_the_verdict() -> None:
    results = Results()
    for requirement in REQUIREMENTS:
        if not requirement.id.startswith("SCHEMA-"):
            results.check(requirement.id)
    assert results.verdict(strict=False) == "incomplete"
    results.exclude(sorted(_schema_only()), OUT_OF_SCOPE)
    assert results.verdict(strict=False) == "pass"
    assert results.status("SCHEMA-RESPONSES") == "not_exercised"


@pytest.mark.parametrize(
    ("make", "mentions"),
    [
        (lambda d: d / "nothing", "no such directory"),
        (lambda d: d, r"is not a cassette set \(no index\.json\)"),
        (lambda d: (d / INDEX).write_text('{"format": 99}') and d, "is not a cassette index this suite reads"),
    ],
    ids=["no directory", "no index", "another format"],
)
def test_an_unreadable_cassette_set_is_a_usage_error(tmp_path: Path, make: Any, mentions: str) -> None:
    with pytest.raises(UsageError, match=mentions):
        read_index(make(tmp_path))


def test_a_recording_never_replaces_files_that_are_not_cassettes(tmp_path: Path) -> None:
    (tmp_path / "openapi.yaml").write_text("openapi: 3.1.0\n")
    with pytest.raises(UsageError, match=r"holds openapi\.yaml, which no cassette set has"):
        refuse_foreign(tmp_path)
    (tmp_path / "openapi.yaml").unlink()
    (tmp_path / "x.yaml").write_text("interactions: []\nversion: 1\n")  # what a crashed recording leaves
    refuse_foreign(tmp_path)


@pytest.mark.parametrize(
    ("argv", "mentions"),
    [
        (["replay", "no-such-dir"], "no-such-dir: no such directory"),
        (["drift", "no-such-dir"], "the following arguments are required: --target-url"),
        (["record"], "the following arguments are required: --cassettes"),
    ],
)
def test_cassette_commands_refuse_usage_errors_in_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], mentions: str
) -> None:
    assert main(argv) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert mentions in err


def test_record_refuses_a_directory_that_is_not_a_cassette_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    assert main(["record", "--cassettes", str(tmp_path), "--target-url", "http://127.0.0.1:9"]) == 4
    err = capsys.readouterr().err
    assert (
        err
        == f"husky-conformance: {tmp_path} holds notes.txt, which no cassette set has: record into a new directory\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
