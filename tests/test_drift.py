"""Drift (`conformance.cassettes.drift`): the shipped cassette set re-sent to fresh mocks on loopback, one
correct and one with a seeded fault, through the real command line in process; and substitution
and comparison on their own."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from suite_runs import refused_url

from conformance.cassettes.drift import Answer, Recorded, Substitutions, _judge
from conformance.cli import main
from conformance.http.client import Exchange
from conformance.http.redaction import Secrets
from conformance.mock import MockConfig, MockServer

SHIPPED = Path(__file__).parents[1] / "cassettes" / "mock"
TOKEN = "drift-fixtures-" + secrets.token_urlsafe(12)


def _drift(report_dir: Path, *faults: str) -> tuple[int, dict[str, Any]]:
    with MockServer(MockConfig(fixtures_token=TOKEN, faults=frozenset(faults))) as server:
        args = ["drift", str(SHIPPED), "--target-url", server.url, "--fixtures-token", TOKEN]
        code = main([*args, "--report-dir", str(report_dir)])
    return code, json.loads((report_dir / "drift.json").read_text(encoding="utf-8"))


def test_a_correct_mock_has_not_drifted_from_the_shipped_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = _drift(tmp_path)
    out = capsys.readouterr().out
    assert (code, data["differing"], data["differences"]) == (0, 0, []), out
    index = json.loads((SHIPPED / "index.json").read_text())
    assert data["interactions"] == sum(index["cassettes"].values()) > 500
    assert (
        out.splitlines()[-1]
        == f"drift: 0 of {data['interactions']} interactions differ · reports in {tmp_path}/drift.json, drift.md"
    )
    assert (
        (tmp_path / "drift.md").read_text().startswith(f"# Drift: **0 of {data['interactions']} interactions differ**")
    )


def test_a_fault_shows_exactly_where_the_mock_drifted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = _drift(tmp_path, "repeat-delete-200")
    out = capsys.readouterr().out
    assert code == 1, out
    differences = data["differences"]
    repeat = [d for d in differences if d["cassette"] == "repeat_delete"]
    assert repeat, differences
    assert repeat[0]["method"] == "DELETE"
    assert (repeat[0]["recorded"]["status"], repeat[0]["recorded"]["code"]) == (404, "NOT_FOUND")
    assert (repeat[0]["live"]["status"], repeat[0]["differs"]) == (200, ["status", "code", "shape"])
    # The fault changes repeated deletes only: every difference is a delete (REST or webhook) that was a 404.
    for d in differences:
        assert (d["method"], d["recorded"]["status"], d["live"]["status"]) in {("DELETE", 404, 200), ("POST", 404, 200)}
        assert d["method"] == "DELETE" or d["path"] == "/v1/hooks/${HUSKY_WEBHOOK_TOKEN}", d
    rows = [line for line in out.splitlines() if line.startswith("  repeat_delete ")]
    assert len(rows) == len(repeat)
    assert "404 NOT_FOUND" in rows[0]
    assert TOKEN not in out + (tmp_path / "drift.md").read_text() + (tmp_path / "drift.json").read_text()


def test_a_recording_that_used_a_fixtures_token_needs_one(capsys: pytest.CaptureFixture[str]) -> None:
    with MockServer(MockConfig(fixtures_token=TOKEN)) as server:
        assert main(["drift", str(SHIPPED), "--target-url", server.url]) == 4
    err = capsys.readouterr().err
    assert (
        err
        == "husky-conformance: the recording used HUSKY_FIXTURES_TOKEN: set it (--fixtures-token) for the live target\n"
    )


@pytest.mark.parametrize(
    ("target", "mentions"),
    [
        (
            "https://staging.example.invalid",
            "drift re-sends the recording's cancels and deletes: pass --allow-destructive",
        ),
        (None, "cannot reach the target"),
    ],
    ids=["not loopback", "unreachable"],
)
def test_drift_refuses_in_one_line(capsys: pytest.CaptureFixture[str], target: str | None, mentions: str) -> None:
    with refused_url() as refused:
        assert main(["drift", str(SHIPPED), "--target-url", target or refused, "--fixtures-token", TOKEN]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert mentions in err


# --- substituting and judging, on their own ------------------------------------------------------------


def test_server_chosen_ids_and_placeholders_are_learned_but_nothing_else() -> None:
    store = Secrets()
    subs = Substitutions({"${HUSKY_FIXTURES_TOKEN}": "live-token"}, store)
    recorded = {
        "org_id": "org_old",
        "webhook_token": "${HUSKY_WEBHOOK_TOKEN}",
        "status": "queued",
        "n": [{"call_id": "c1"}],
    }
    live = {"org_id": "org_new", "webhook_token": "whk live/1", "status": "cancelled", "n": [{"call_id": "c2"}]}
    subs.learn(recorded, live)
    assert subs.values == {
        "${HUSKY_FIXTURES_TOKEN}": "live-token",
        "org_old": "org_new",
        "${HUSKY_WEBHOOK_TOKEN}": "whk live/1",
        "c1": "c2",
    }
    subs.learn({"call_id": "c1"}, {"call_id": "c3"})  # the first answer that named an id decides
    assert subs.values["c1"] == "c2"
    assert subs.path("/v1/hooks/${HUSKY_WEBHOOK_TOKEN}") == "/v1/hooks/whk%20live%2F1"
    assert subs.text('{"status": "queued", "org_id": "org_old"}') == '{"status": "queued", "org_id": "org_new"}'
    assert store.redact("whk live/1") == "${HUSKY_WEBHOOK_TOKEN}"  # learned secrets are redacted too


def _item(index: int, status: int, body: bytes = b"{}") -> Recorded:
    answer = Exchange("DELETE", "http://h/v1/calls/c", {}, None, status, {}, body)
    return Recorded("concurrent_delete", index, "DELETE", "/v1/calls/c", {}, None, answer)


def _live(status: int, body: bytes = b"{}") -> Exchange:
    return Exchange("DELETE", "http://h2/v1/calls/c", {}, None, status, {}, body)


def test_a_burst_of_the_same_request_is_judged_in_any_order() -> None:
    burst = [_item(0, 404), _item(1, 200), _item(2, 404)]
    assert _judge(burst, [_live(200), _live(404), _live(404)]) == []
    found = _judge(burst, [_live(200), _live(200), _live(404)])
    assert [(d.index, d.recorded, d.live) for d in found] == [(0, Answer(404, None, {}), Answer(200, None, {}))]
    error = b'{"error": {"code": "NOT_FOUND", "message": "x"}}'
    assert _judge([_item(0, 404, error)], [_live(404)])[0].differs == ["code", "shape"]
