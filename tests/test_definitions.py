"""One definition per concept, in `conformance.contract.model`, and where the spec says the same
thing (`specs/openapi.yaml`), the two agree."""

from __future__ import annotations

import re
from typing import Any

from conformance.contract import model
from conformance.contract.spec import openapi

OPERATIONS = {"create": "createCall", "get": "getCall", "cancel": "cancelCall", "delete": "deleteCall"}


def schema(name: str) -> Any:
    return openapi()["components"]["schemas"][name]


def summaries() -> dict[str, str]:
    """operationId -> summary, of every operation of the spec."""
    return {
        operation["operationId"]: operation.get("summary", "")
        for item in openapi()["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def test_the_states_are_the_specs_in_its_order() -> None:
    assert tuple(schema("CallStatus")["enum"]) == model.STATES


def test_the_call_fields_are_the_specs() -> None:
    call = schema("Call")
    assert tuple(call["required"]) == model.CALL_FIELDS
    assert set(model.COMPLETED_FIELDS) == set(call["then"]["required"])
    assert set(call["properties"]) == {*model.CALL_FIELDS, *model.COMPLETED_FIELDS}


def test_each_operation_needs_the_scope_its_summary_names() -> None:
    named = {op: re.findall(r"`(calls:[a-z]+)`", summaries()[operation_id]) for op, operation_id in OPERATIONS.items()}
    expected: dict[str, list[str]] = {"create": ["calls:create"], **{op: [s] for op, s in model.SCOPE_OF.items()}}
    assert named == expected
    assert set(model.SCOPES) == {scope for scopes in named.values() for scope in scopes}
