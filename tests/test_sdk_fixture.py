"""`husky_mock`, the fixture SDK teams test their SDKs with (`conformance.testing`): the example
file an SDK team would copy, run through pytest itself, and each of the fixture's methods.

The method tests use the fixture itself, as an SDK's tests would: the plugin registers it here too.
"""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path

import httpx
import pytest

from conformance.mock.faults import FAULTS
from conformance.testing import SCOPES, STATUSES, HuskyMock, MockOrg

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "sdk" / "test_example_sdk.py"
EXAMPLE_TESTS = 6


def api(mock: HuskyMock, org: MockOrg | str) -> httpx.Client:
    key = org if isinstance(org, str) else org.api_key
    return httpx.Client(base_url=mock.url, headers={"Authorization": f"Bearer {key}"}, trust_env=False)


# --- through pytest -----------------------------------------------------------------------------


def test_the_example_sdk_tests_pass(pytester: pytest.Pytester) -> None:
    shutil.copy(EXAMPLE, pytester.path / EXAMPLE.name)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "error")  # as strict as an SDK's CI
    result.assert_outcomes(passed=EXAMPLE_TESTS)
    assert not (pytester.path / "reports").exists()  # the suite stayed out of it
    assert not any("husky-conformance" in line or "verdict" in line for line in result.outlines)


def test_one_mock_for_the_session_stopped_at_its_end(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_twice="""
        URLS = []

        def test_one(husky_mock):
            URLS.append(husky_mock.url)

        def test_two(husky_mock):
            URLS.append(husky_mock.url)
            assert URLS[0] == URLS[1]
            (pytest_dir / "url").write_text(husky_mock.url)

        import pathlib
        pytest_dir = pathlib.Path(__file__).parent
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    url = (pytester.path / "url").read_text()
    port = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", url)
    assert port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(port[1])), timeout=5).close()


def test_the_readme_shows_the_example_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Testing an SDK against the mock\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks
    source = EXAMPLE.read_text()
    for block in blocks:
        assert block in source  # verbatim: the README cannot drift from the file the tests run
    assert "husky_mock.faults(" in "".join(blocks)
    assert "examples/sdk/test_example_sdk.py" in section


def test_the_sdk_page_shows_the_whole_example_as_it_is() -> None:
    page = (ROOT / "docs" / "sdk.md").read_text()
    section = page.split("## The complete example\n", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks == [EXAMPLE.read_text()]  # the whole file, verbatim


def test_a_session_that_never_asks_starts_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        import sys, threading

        def test_nothing_of_ours_was_imported_or_started():
            assert "conformance.plugin" in sys.modules  # the plugin is loaded...
            assert "conformance.testing" not in sys.modules  # ...but nothing it would import lazily
            assert "conformance.mock" not in sys.modules
            assert "conformance.run.session" not in sys.modules
            assert not [t for t in threading.enumerate() if t.name == "mock-server"]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")  # a fresh interpreter: sys.modules as a user's
    result.assert_outcomes(passed=1)


def test_the_fixture_is_listed_with_its_doc(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--fixtures", "-p", "no:cacheprovider")
    text = "\n".join(result.outlines)
    assert "husky_mock [session scope]" in text
    assert "A HuskyVoice mock on a free loopback port" in text


# --- url, organisations, keys -------------------------------------------------------------------


def test_url_serves_the_api_on_loopback(husky_mock: HuskyMock) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", husky_mock.url)
    answer = httpx.get(husky_mock.url + "/v1/calls/x", trust_env=False)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_new_org_key_holds_every_scope(husky_mock: HuskyMock) -> None:
    org = husky_mock.new_org()
    assert org.scopes == SCOPES
    with api(husky_mock, org) as http:
        created = http.post("/v1/calls", json={"agent_id": "a", "contact_number": "+919812345678"})
        assert created.status_code == 201
        call_id = created.json()["data"]["call_id"]
        assert http.get(f"/v1/calls/{call_id}").status_code == 200
        assert http.post(f"/v1/calls/{call_id}/cancel").json()["status"] == "cancelled"
        completed = husky_mock.seed_call(org, "completed")
        assert http.delete(f"/v1/calls/{completed['call_id']}").status_code == 200


def test_a_new_org_has_its_webhook(husky_mock: HuskyMock) -> None:
    org = husky_mock.new_org()
    assert org.webhook_url == f"{husky_mock.url}/v1/hooks/{org.webhook_token}"
    body = {"action": "call.create", "data": {"agent_id": "a", "contact_number": "+919812345678"}}
    answer = httpx.post(org.webhook_url, json=body, trust_env=False)
    assert answer.status_code == 200
    with api(husky_mock, org) as http:
        assert http.get(f"/v1/calls/{answer.json()['call_id']}").status_code == 200


def test_scopes_limit_the_key(husky_mock: HuskyMock) -> None:
    org = husky_mock.new_org(scopes=["calls:read"])
    assert org.scopes == ("calls:read",)
    call = husky_mock.seed_call(org, "completed")
    with api(husky_mock, org) as http:
        assert http.get(f"/v1/calls/{call['call_id']}").status_code == 200
        assert http.delete(f"/v1/calls/{call['call_id']}").status_code == 403
    assert husky_mock.new_org(scopes="calls:delete").scopes == ("calls:delete",)  # one scope as a string
    assert husky_mock.new_org(scopes=()).scopes == ()


@pytest.mark.parametrize("scopes", [["calls:write"], "calls:write", ["calls:read", "calls:write"], ["read"]])
def test_an_unknown_scope_is_refused_with_the_valid_ones(husky_mock: HuskyMock, scopes: list[str] | str) -> None:
    with pytest.raises(ValueError, match="unknown scope") as raised:
        husky_mock.new_org(scopes=scopes)
    message = str(raised.value)
    assert "\n" not in message
    assert all(scope in message for scope in SCOPES)
    with pytest.raises(ValueError, match="valid scopes: calls:create, calls:read, calls:cancel, calls:delete"):
        husky_mock.new_key(husky_mock.new_org(), scopes=scopes)


def test_organisations_keep_tests_apart(husky_mock: HuskyMock) -> None:
    mine, theirs = husky_mock.new_org(), husky_mock.new_org()
    assert mine.org_id != theirs.org_id
    assert len({mine.api_key, theirs.api_key, mine.webhook_token, theirs.webhook_token}) == 4
    call = husky_mock.seed_call(mine, "completed")
    with api(husky_mock, theirs) as http:
        assert http.get(f"/v1/calls/{call['call_id']}").status_code == 404


def test_new_key(husky_mock: HuskyMock) -> None:
    org = husky_mock.new_org(scopes=())
    call = husky_mock.seed_call(org, "queued")
    key = husky_mock.new_key(org, scopes=["calls:read"])
    revoked = husky_mock.new_key(org, revoked=True)
    assert len({key, revoked, org.api_key}) == 3
    with api(husky_mock, key) as http:
        assert http.get(f"/v1/calls/{call['call_id']}").status_code == 200
        assert http.post(f"/v1/calls/{call['call_id']}/cancel").status_code == 403
    with api(husky_mock, revoked) as http:
        assert http.get(f"/v1/calls/{call['call_id']}").status_code == 401


def test_secrets_stay_out_of_reprs(husky_mock: HuskyMock) -> None:
    org = husky_mock.new_org()
    assert org.api_key not in repr(org)
    assert org.webhook_token not in repr(org)
    assert org.org_id in repr(org)
    assert repr(husky_mock) == f"HuskyMock({husky_mock.url})"


# --- calls --------------------------------------------------------------------------------------


def test_seed_call_answers_the_call_as_the_api_renders_it(husky_mock: HuskyMock) -> None:
    org = husky_mock.new_org()
    fields = {
        "contact_name": "Asha",
        "contact_email": "asha@example.com",
        "transcript": [{"speaker": "agent", "text": "hello"}],
        "recording_url": "https://recordings.example/1.mp3",
        "duration_seconds": 42,
        "additional_info": {"order": 7},
    }
    call = husky_mock.seed_call(org, status="completed", **fields)
    assert call["status"] == "completed"
    assert {name: call[name] for name in fields} == fields
    with api(husky_mock, org) as http:
        assert http.get(f"/v1/calls/{call['call_id']}").json()["data"] == call


@pytest.mark.parametrize("status", STATUSES)
def test_seed_call_in_every_status(husky_mock: HuskyMock, status: str) -> None:
    org = husky_mock.new_org()
    call = husky_mock.seed_call(org, status)
    assert call["status"] == status
    with api(husky_mock, org) as http:
        assert http.get(f"/v1/calls/{call['call_id']}").json()["data"] == call


def test_seed_call_refuses_what_it_cannot_seed(husky_mock: HuskyMock) -> None:
    org = husky_mock.new_org()
    with pytest.raises(ValueError, match=r"unknown status 'done'; valid statuses: queued, initiated, ringing"):
        husky_mock.seed_call(org, "done")
    with pytest.raises(ValueError, match=r"unknown field 'name'; valid fields: agent_id, contact_number, contact_name"):
        husky_mock.seed_call(org, "completed", name="Asha")
    with pytest.raises(ValueError, match=r"seed_call: the mock refused it \(400 VALIDATION_ERROR: .*duration_seconds"):
        husky_mock.seed_call(org, "completed", duration_seconds=-1)


def test_advance_moves_a_call_forward(husky_mock: HuskyMock) -> None:
    org = husky_mock.new_org()
    call = husky_mock.seed_call(org, "queued")
    assert husky_mock.advance(call, "ringing")["status"] == "ringing"
    done = husky_mock.advance(call["call_id"], "completed")
    assert done["status"] == "completed"
    with api(husky_mock, org) as http:
        assert http.get(f"/v1/calls/{call['call_id']}").json()["data"] == done
    with pytest.raises(ValueError, match=r"advance: the mock refused it.*Cannot move a call from completed to queued"):
        husky_mock.advance(call, "queued")
    with pytest.raises(ValueError, match="unknown status 'done'"):
        husky_mock.advance(call, "done")


# --- faults -------------------------------------------------------------------------------------


def _by_prefix(mock: HuskyMock) -> tuple[int, int]:
    """GET a completed call by a prefix of its id: (inside a loose-id-prefix block, after it)."""
    org = mock.new_org()
    call = mock.seed_call(org, "completed")
    with api(mock, org) as http:
        with mock.faults("loose-id-prefix"):
            assert mock.active_faults == {"loose-id-prefix"}
            inside = http.get(f"/v1/calls/{call['call_id'][:12]}").status_code
        return inside, http.get(f"/v1/calls/{call['call_id'][:12]}").status_code


def test_faults_are_on_inside_the_block_only(husky_mock: HuskyMock) -> None:
    assert husky_mock.active_faults == frozenset()
    assert _by_prefix(husky_mock) == (200, 404)
    assert husky_mock.active_faults == frozenset()


def test_faults_go_off_when_the_block_raises(husky_mock: HuskyMock) -> None:
    seen: list[frozenset[str]] = []

    def failing_test() -> None:
        with husky_mock.faults("text-errors", "odd-id-500"):
            seen.append(husky_mock.active_faults)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        failing_test()
    assert seen == [{"text-errors", "odd-id-500"}]
    assert husky_mock.active_faults == frozenset()
    org = husky_mock.new_org()
    with api(husky_mock, org) as http:
        answer = http.get("/v1/calls/" + "x" * 65)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "NOT_FOUND"


def test_nested_faults_leave_the_outer_ones_on(husky_mock: HuskyMock) -> None:
    with husky_mock.faults("text-errors"):
        with husky_mock.faults("odd-id-500", "text-errors"):
            assert husky_mock.active_faults == {"text-errors", "odd-id-500"}
        assert husky_mock.active_faults == {"text-errors"}
    assert husky_mock.active_faults == frozenset()


def test_what_faults_remember_is_forgotten_after_the_block(husky_mock: HuskyMock) -> None:
    org = husky_mock.new_org()
    call = husky_mock.seed_call(org, "completed")
    with api(husky_mock, org) as http:
        with husky_mock.faults("repeat-delete-200"):
            assert http.delete(f"/v1/calls/{call['call_id']}").status_code == 200
            assert http.delete(f"/v1/calls/{call['call_id']}").status_code == 200  # the fault's tombstone
        with husky_mock.faults("repeat-delete-200"):
            assert http.delete(f"/v1/calls/{call['call_id']}").status_code == 404  # a new block starts clean


@pytest.mark.parametrize("names", [("no-such-fault",), ("text-errors", "Text-Errors"), ()])
def test_an_unknown_fault_is_refused_with_the_valid_ones(husky_mock: HuskyMock, names: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="valid faults: ") as raised, husky_mock.faults(*names):
        pass
    message = str(raised.value)
    assert "\n" not in message
    assert all(name in message for name in FAULTS)
    assert husky_mock.active_faults == frozenset()  # not even the valid ones were switched on
