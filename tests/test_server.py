"""`MockServer`: a real uvicorn on a free loopback port, stopped by its handle, optionally wrapped."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conformance.mock import MockConfig, MockServer


def test_it_serves_on_a_free_loopback_port_until_stopped() -> None:
    with MockServer(MockConfig()) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{server.url}/v1/calls/x").status_code == 401
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/v1/calls/x")


def test_wrap_puts_a_middleware_around_the_app() -> None:
    seen: list[str] = []

    def wrap(app: Any) -> Any:
        async def recording(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append(scope["path"])
            await app(scope, receive, send)

        return recording

    with MockServer(MockConfig(), wrap=wrap) as server:
        assert httpx.get(f"{server.url}/v1/calls/abc").status_code == 401
    assert seen == ["/v1/calls/abc"]


@pytest.mark.parametrize(
    "content",
    [
        {"data": {"call_id": "c-1", "deleted": True, "n": 1.5, "none": None, "list": [1, "two", {"x": []}]}},
        {"text": 'é, \u2028, "quoted", back\\slash, \x00, \U0001f600'},
        {"error": {"code": "NOT_FOUND", "message": "No such call."}},
    ],
)
def test_json_answers_are_starlette_s_bytes(content: Any) -> None:
    """The mock's one prebuilt encoder writes what Starlette's JSONResponse writes, byte for byte."""
    from starlette.responses import JSONResponse

    from conformance.mock.http import json_response

    assert json_response(content).body == JSONResponse(content).body


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_json_answers_refuse_what_json_cannot_say(value: float) -> None:
    from conformance.mock.http import json_response

    with pytest.raises(ValueError, match="JSON compliant"):
        json_response({"x": value})
