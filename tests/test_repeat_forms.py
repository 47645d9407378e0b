"""A repeat delete is judged under each key header (contract 5): a server whose Bearer path takes
DELETE as idempotent (200 again for a call it deleted) is found, as one that does so for every
header is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import run_check, suite_on

from conformance.mock import MockConfig, MockServer

TOKEN = "repeat-forms-fixtures-token"
Asgi = Any


def idempotent_deletes(header: bytes) -> Any:
    """An app whose DELETEs carrying `header` answer 200 again for a call it deleted (an "idempotent
    DELETE" handler behind that credential path); every other request as the mock answers it."""
    deleted: set[str] = set()

    def wrap(app: Asgi) -> Asgi:
        async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
            path = scope.get("path", "")
            if scope["type"] != "http" or scope["method"] != "DELETE" or not path.startswith("/v1/calls/"):
                return await app(scope, receive, send)
            call_id = path.removeprefix("/v1/calls/")
            again = call_id in deleted and any(name == header for name, _ in scope["headers"])

            async def answer(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start" and message["status"] == 200:
                    deleted.add(call_id)
                if again and message["type"] == "http.response.start":
                    message = {**message, "status": 200, "headers": [(b"content-type", b"application/json")]}
                elif again and message["type"] == "http.response.body":
                    message = {**message, "body": json.dumps({"data": {"call_id": call_id, "deleted": True}}).encode()}
                await send(message)

            await app(scope, receive, answer)

        return wrapped

    return wrap


@pytest.mark.parametrize("header", [b"authorization", b"x-api-key"])
def test_a_repeat_delete_answered_200_under_one_key_header_is_found(header: bytes, tmp_path: Path) -> None:
    config = MockConfig(fixtures_token=TOKEN)
    with MockServer(config, wrap=idempotent_deletes(header)) as server, suite_on(server, tmp_path) as suite:
        failures = run_check(suite, "repeat_delete")
    assert "DEL-REPEAT-404" in failures, failures
    assert all("repeat delete over rest" in message for message in failures["DEL-REPEAT-404"])
