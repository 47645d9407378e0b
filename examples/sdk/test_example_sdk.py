"""An SDK's tests against the HuskyVoice mock: a complete example to copy.

`pip install huskyvoice-conformance`, then `python -m pytest`: the package's pytest plugin gives
every test the `husky_mock` fixture (one mock on a free loopback port for the whole session).
Tests keep apart by organisation: each makes its own with `husky_mock.new_org()` and sees only
its own calls. Nothing else to configure, nothing to clean up.

The "SDK" here is a few lines of httpx standing in for yours.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conformance import HuskyMock, MockOrg  # for annotations: `husky_mock` and what `new_org()` gives

# --- the SDK under test (yours instead) ----------------------------------------------------------


class HuskyError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class NotFound(HuskyError): ...


class NotAllowed(HuskyError): ...  # 403: the key lacks the scope


class NotCancellable(HuskyError): ...


class ServerError(HuskyError): ...


ERRORS = {403: NotAllowed, 404: NotFound, 409: NotCancellable}


class Calls:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=5)

    def __enter__(self) -> Calls:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def create(self, agent_id: str, contact_number: str, **fields: Any) -> dict[str, Any]:
        body = {"agent_id": agent_id, "contact_number": contact_number, **fields}
        return dict(self._send("POST", "/v1/calls", json=body)["data"])

    def get(self, call_id: str) -> dict[str, Any]:
        return dict(self._send("GET", f"/v1/calls/{call_id}")["data"])

    def cancel(self, call_id: str) -> str:
        return str(self._send("POST", f"/v1/calls/{call_id}/cancel")["status"])

    def delete(self, call_id: str) -> None:
        self._send("DELETE", f"/v1/calls/{call_id}")

    def _send(self, method: str, path: str, **options: Any) -> Any:
        response = self.http.request(method, path, **options)
        if response.is_success:
            return response.json()
        try:  # the contract's error envelope; anything else still maps to an error by its status
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "UNKNOWN", response.text[:200]
        kind = ServerError if response.status_code >= 500 else ERRORS.get(response.status_code, HuskyError)
        raise kind(response.status_code, code, message)


# --- its tests -----------------------------------------------------------------------------------


@pytest.fixture
def org(husky_mock: HuskyMock) -> MockOrg:
    """An organisation of this test alone, whose API key holds every scope."""
    return husky_mock.new_org()


@pytest.fixture
def calls(husky_mock: HuskyMock, org: MockOrg) -> Iterator[Calls]:
    """The SDK, pointed at the mock with the organisation's key."""
    with Calls(husky_mock.url, org.api_key) as sdk:
        yield sdk


def test_create_then_cancel(calls: Calls) -> None:
    call = calls.create("agent_1", "+919812345678", contact_name="Asha")
    assert call["status"] == "queued"
    assert calls.cancel(call["call_id"]) == "cancelled"
    assert calls.get(call["call_id"])["status"] == "cancelled"


def test_delete_a_completed_call(husky_mock: HuskyMock, org: MockOrg, calls: Calls) -> None:
    call = husky_mock.seed_call(org, status="completed", contact_name="Asha", duration_seconds=42)
    assert call["duration_seconds"] == 42  # the call as the API renders it
    calls.delete(call["call_id"])
    with pytest.raises(NotFound):
        calls.get(call["call_id"])


def test_a_call_in_progress_cannot_be_cancelled(husky_mock: HuskyMock, org: MockOrg, calls: Calls) -> None:
    call = husky_mock.seed_call(org, status="in_progress")
    with pytest.raises(NotCancellable) as raised:
        calls.cancel(call["call_id"])
    assert raised.value.code == "CALL_NOT_CANCELLABLE"


def test_a_key_without_the_scope_is_refused(husky_mock: HuskyMock) -> None:
    reader = husky_mock.new_org(scopes=["calls:read"])  # calls:create, calls:read, calls:cancel, calls:delete
    call = husky_mock.seed_call(reader, status="completed")
    with Calls(husky_mock.url, reader.api_key) as calls, pytest.raises(NotAllowed):
        calls.delete(call["call_id"])


# Faults: inside the block the mock breaks a rule of the contract (`husky-conformance mock
# --list-faults` lists them), so that the SDK's error handling meets what real servers get wrong.


def test_an_answer_outside_the_envelope_still_raises_the_right_error(husky_mock: HuskyMock, calls: Calls) -> None:
    with husky_mock.faults("text-errors"), pytest.raises(NotFound) as raised:  # 404s: text/plain "Not Found"
        calls.get("no-such-call")
    assert raised.value.code == "UNKNOWN"


def test_a_server_error_raises_server_error(husky_mock: HuskyMock, calls: Calls) -> None:
    with husky_mock.faults("odd-id-500"), pytest.raises(ServerError):  # ids over 64 characters crash it
        calls.get("x" * 65)
