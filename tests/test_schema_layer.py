"""The schema layer: its mapping of schemathesis checks to requirements, its redacted curl
reproductions, and what it records against a mock of its own (started in the test, on loopback),
clean and with a bug planted in-process."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from helpers import suite_on
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.openapi.checks import AuthScenario, IgnoredAuth

from conformance.contract._resources import spec_path
from conformance.contract.requirements import by_id
from conformance.errors import NotExercised
from conformance.http.redaction import Secrets
from conformance.layers.schema import (
    CHECK_REQUIREMENTS,
    SchemaLayer,
    operation_labels,
    render_curl,
    requirement_for,
)
from conformance.mock import MockConfig, MockServer, operations
from conformance.run.session import SuiteSession

KEY = "sk_test_" + "k" * 24
TOKEN = "whk_" + "t" * 24
GET_CALL = "GET /v1/calls/{call_id}"


# --- the mapping ---------------------------------------------------------------------------------


def test_every_builtin_check_maps_to_a_catalogued_requirement() -> None:
    load_all_checks()
    builtin = set(CHECKS.get_all_names()) - {"max_response_time"}  # off: the contract sets no limit
    assert builtin <= set(CHECK_REQUIREMENTS), "a schemathesis upgrade brought a check with no requirement"
    for requirement in CHECK_REQUIREMENTS.values():
        by_id(requirement)


@pytest.mark.parametrize(
    ("check", "requirement"),
    [
        ("not_a_server_error", "ENV-NO-5XX"),
        ("response_schema_conformance", "SCHEMA-RESPONSES"),
        ("content_type_conformance", "SCHEMA-RESPONSES"),
        ("response_headers_conformance", "SCHEMA-RESPONSES"),
        ("status_code_conformance", "SCHEMA-STATUS-DOCUMENTED"),
        ("negative_data_rejection", "SCHEMA-NEGATIVE-REJECTED"),
        ("positive_data_acceptance", "SCHEMA-POSITIVE-ACCEPTED"),
        ("missing_required_header", "AUTH-MISSING-401"),
        ("ignored_auth", "AUTH-MISSING-401"),
        ("use_after_free", "DEL-GONE"),
        ("ensure_resource_availability", "CREATE-201-QUEUED"),
        ("unsupported_method", "ENV-WRONG-METHOD-405"),
        ("a_custom_check_of_someone_else", "SCHEMA-RESPONSES"),
    ],
)
def test_requirement_of_a_check(check: str, requirement: str) -> None:
    assert requirement_for(check) == requirement


@pytest.mark.parametrize(
    ("scenario", "requirement"),
    [
        (AuthScenario.NO_AUTH, "AUTH-MISSING-401"),
        (AuthScenario.INVALID_AUTH, "AUTH-UNKNOWN-401"),
        (AuthScenario.GENERATED_AUTH, "AUTH-UNKNOWN-401"),
    ],
)
def test_ignored_auth_names_the_probe_that_got_in(scenario: AuthScenario, requirement: str) -> None:
    failure = IgnoredAuth(operation=GET_CALL, message="Expected 401 or 403", scenario=scenario)
    assert requirement_for("ignored_auth", failure) == requirement


def test_one_label_per_operation_of_the_spec() -> None:
    assert operation_labels() == [
        "POST /v1/calls",
        GET_CALL,
        "DELETE /v1/calls/{call_id}",
        "POST /v1/calls/{call_id}/cancel",
        "POST /v1/hooks/{token}",
    ]


# --- reproductions -------------------------------------------------------------------------------


@pytest.fixture
def secrets() -> Secrets:
    store = Secrets()
    store.add(KEY, "HUSKY_API_KEY")
    store.add(TOKEN, "HUSKY_WEBHOOK_TOKEN")
    return store


def _curl(path: str, method: str, **parts: Any) -> str:
    """Schemathesis' own curl command of a case, with sanitization off (as the layer has it)."""
    config = {"base-url": "http://127.0.0.1:9/api", "output": {"sanitization": {"enabled": False}}}
    schema = schemathesis.openapi.from_path(spec_path(), config=schemathesis.Config.from_dict(config))
    return str(schema[path][method].Case(**parts).as_curl_command())


def _words_in_a_shell(command: str, env: dict[str, str]) -> list[str]:
    """The words `command` passes to curl, as bash sees them with `env` set (curl is not run)."""
    script = 'curl() { printf "%s\\0" "$@"; }\n' + command
    run = subprocess.run(["bash", "-c", script], env={**os.environ, **env}, capture_output=True, check=True)
    return run.stdout.decode().split("\0")[:-1]


def test_a_reproduction_holds_no_secret_and_runs_once_the_variables_are_set(secrets: Secrets) -> None:
    body = {"action": "call.delete", "data": {"call_id": "c1"}, "note": f'it\'s {KEY} "$HOME"'}
    headers = {"Authorization": f"Bearer {KEY}", "x-api-key": KEY}
    original = _curl("/v1/hooks/{token}", "POST", path_parameters={"token": TOKEN}, body=body, headers=headers)
    assert KEY in original
    assert TOKEN in original

    rendered = render_curl(original, secrets)

    assert KEY not in rendered
    assert TOKEN not in rendered
    assert "/api/v1/hooks/${HUSKY_WEBHOOK_TOKEN}" in rendered  # the target's base path is kept
    assert "Bearer ${HUSKY_API_KEY}" in rendered
    env = {"HUSKY_API_KEY": KEY, "HUSKY_WEBHOOK_TOKEN": TOKEN, "HOME": "/nowhere"}
    assert _words_in_a_shell(rendered, env) == shlex.split(original)[1:]


def test_an_unknown_credential_is_redacted_too(secrets: Secrets) -> None:
    original = _curl(
        "/v1/calls/{call_id}", "GET", path_parameters={"call_id": "c1"}, headers={"Authorization": "Bearer guessed-1"}
    )
    rendered = render_curl(original, secrets)
    assert "guessed-1" not in rendered
    assert "Bearer [REDACTED]" in rendered


# --- against a mock of its own ------------------------------------------------------------------


SCHEMA_TOKEN = "schema-layer-fixtures-token"


@pytest.fixture
def served() -> Iterator[MockServer]:
    """A mock served in this process, so that a test may break its rules with monkeypatch (the
    embedded run's own mock has a process of its own)."""
    with MockServer(MockConfig(fixtures_token=SCHEMA_TOKEN)) as server:
        yield server


@pytest.fixture
def session(tmp_path: Path, served: MockServer) -> Iterator[SuiteSession]:
    """A suite session on `served`, isolated as on the bundled mock."""
    with suite_on(served, tmp_path / "reports") as suite:  # the ledger goes there
        yield suite


def _secrets_of(suite: SuiteSession) -> list[str]:
    env = suite.ctx.env
    values = [env.fixtures_token, env.a.key, env.a.webhook_token, env.b.key, env.b.webhook_token]
    return [value for value in values if value]


def _assert_no_secret_recorded(suite: SuiteSession) -> None:
    records = [f for found in suite.ctx.results.failures.values() for f in found]
    text = "\n".join(f"{f.message}\n{f.reproduction}" for f in records)
    for secret in _secrets_of(suite):
        assert secret not in text


def test_a_correct_target_gives_checks_and_no_failure(session: SuiteSession) -> None:
    layer = SchemaLayer(session.ctx)
    before = session.ctx.client.requests

    assert layer.run_operation(GET_CALL) == []

    results = session.ctx.results
    assert results.failures == {}
    for requirement in ("ENV-NO-5XX", "SCHEMA-RESPONSES", "SCHEMA-STATUS-DOCUMENTED", "SCHEMA-NEGATIVE-REJECTED"):
        assert results.checks[requirement] > 0, requirement
    assert results.checks["AUTH-MISSING-401"] > 0  # ignored_auth probed after real calls answered 200
    assert session.ctx.client.requests - before > 20  # schemathesis' requests count into the run


def test_the_base_path_of_the_target_is_kept(session: SuiteSession) -> None:
    ctx = session.ctx
    assert ctx.config.target_url is not None
    at_api = replace(ctx, config=replace(ctx.config, target_url=ctx.config.target_url + "/api"))
    layer = SchemaLayer(at_api)
    case = layer.schema["/v1/calls"]["POST"].Case(body={"agent_id": "a", "contact_number": "+919800000000"})
    assert case.as_transport_kwargs()["url"] == f"{ctx.config.target_url}/api/v1/calls"


def test_a_server_error_is_recorded_with_a_redacted_reproduction(
    session: SuiteSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: Any) -> dict[str, Any]:
        raise RuntimeError("planted")

    monkeypatch.setattr(operations, "get_call", crash)
    layer = SchemaLayer(session.ctx)

    layer.run_operation(GET_CALL)

    # The layer shows every response to the response-wide rules, which own ENV-NO-5XX (once per 5xx).
    record = next(f for f in session.ctx.results.failures["ENV-NO-5XX"] if "GET answered 500" in f.message)
    assert "curl -sS -X GET" in record.reproduction
    assert "${HUSKY_API_KEY}" in record.reproduction
    assert f"# replay the run: husky-conformance run --target-url {session.config.target_url}" in record.reproduction
    assert f" --seed {session.config.seed} --budget " in record.reproduction
    _assert_no_secret_recorded(session)


def test_a_deleted_call_that_stays_is_found_by_the_stateful_phase(
    session: SuiteSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    delete_call = operations.delete_call

    def keep_the_call(store: Any, org_id: str, call_id: str) -> dict[str, Any]:
        call = store.visible_call(org_id, call_id)
        if call is None or call.status != "completed":
            return delete_call(store, org_id, call_id)
        return {"data": {"call_id": call_id, "deleted": True}}  # 200, and the call is still there

    monkeypatch.setattr(operations, "delete_call", keep_the_call)

    findings = SchemaLayer(session.ctx).run_stateful()  # the quick budget: 5 scenarios

    assert "DEL-GONE" in {f.requirement for f in findings}
    record = session.ctx.results.failures["DEL-GONE"][0]
    lines = record.reproduction.splitlines()
    assert any('"status\\": \\"completed\\"' in line for line in lines if "/_fixtures/calls" in line)  # its seeding
    steps = [line for line in lines if line.startswith("curl -sS -X")]
    assert "/_fixtures/calls" in steps[0]  # the seeding first, then the scenario's requests on the call
    assert steps[-1].endswith("# -> 200")  # the deleted call still answers
    deleted = next(
        n for n, line in enumerate(steps) if line.startswith("curl -sS -X DELETE") and line.endswith("-> 200")
    )
    assert 0 < deleted < len(steps) - 1
    # Between them, what schemathesis' chain of cases leaves out: its auth probes of the call (401).
    assert any(line.endswith("# -> 401 UNAUTHORIZED") for line in steps[deleted:-1])
    _assert_no_secret_recorded(session)


def test_no_answer_is_a_recorded_failure_not_a_traceback(session: SuiteSession, served: MockServer) -> None:
    layer = SchemaLayer(session.ctx)
    served.stop()  # the target goes away: connections are refused from now on

    findings = layer.run_operation(GET_CALL)

    assert [f.requirement for f in findings] == ["ENV-NO-5XX"]
    assert findings[0].message.startswith("No answer: ConnectionError")
    record = session.ctx.results.failures["ENV-NO-5XX"][0]
    assert "curl -sS -X GET" in record.reproduction
    assert "no answer" in record.reproduction


def test_without_an_api_key_the_rest_operations_are_not_exercised(session: SuiteSession) -> None:
    layer = SchemaLayer(session.ctx)
    session.ctx.env.a.key = None
    with pytest.raises(NotExercised):
        layer.run_operation(GET_CALL)
    with pytest.raises(NotExercised):
        layer.run_stateful()
