"""The mock's request validation: its fast path (jsonschema-rs) and python-jsonschema agree.

A body jsonschema-rs accepts is accepted without asking python-jsonschema, so the two must give
the same verdict on every schema the mock checks, for valid bodies, near misses and junk alike.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.mock import validation
from conformance.mock.errors import ApiError

MOCK = Path(validation.__file__).parent
SCHEMAS = "openapi.yaml#/components/schemas/"
FIXTURE_SCHEMAS = "fixtures.yaml#/components/schemas/"
CHECKED = (
    SCHEMAS + "CreateCallRequest",
    SCHEMAS + "WebhookRequest",
    "openapi.yaml#/components/parameters/IdempotencyKey/schema",
    FIXTURE_SCHEMAS + "KeyRequest",
    FIXTURE_SCHEMAS + "SeedCallRequest",
    FIXTURE_SCHEMAS + "StatusChange",
)
# Values that sit on the schemas' edges: actions, statuses, scopes, phone numbers and near misses.
EDGES = [
    "call.create",
    "call.cancel",
    "call.delete",
    "call.Cancel",
    "queued",
    "completed",
    "in_progress",
    "calls:read",
    "calls:delete",
    "+919876543210",
    "+919876543210\n",
    "+91987654321",
    "+9198765432100",
    "919876543210",
    "",
    " ",
    "a",
    "x" * 256,
    "\u00e9t\u00e9",
    "key\x7f",
    "agent_1",
    "org_1",
]
KEYS = [
    "action",
    "data",
    "call_id",
    "agent_id",
    "contact_number",
    "contact_name",
    "contact_email",
    "additional_info",
    "scopes",
    "revoked",
    "org_id",
    "status",
    "transcript",
    "speaker",
    "text",
    "recording_url",
    "duration_seconds",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=3)
    | st.sampled_from([1.0, 0.5, -1.0, 2**53, 10**30])
    | st.sampled_from(EDGES)
    | st.text(max_size=6)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=3), inner),
    max_leaves=10,
)
# Objects made of the schemas' own member names, so that many bodies are valid or nearly so.
members = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)
junk = values | members | st.fixed_dictionaries({"action": st.sampled_from(EDGES[:4]), "data": members})


def _resolve(schema: Any, document: str) -> tuple[Any, str]:
    while isinstance(schema, dict) and "$ref" in schema:
        target, _, pointer = schema["$ref"].partition("#")
        document = target or document
        schema = validation._documents()[document]
        for part in pointer.strip("/").split("/"):
            schema = schema[part]
    return schema, document


def _valid(schema: Any, document: str) -> st.SearchStrategy[Any]:
    """Bodies the schema accepts (mostly), for the subset of JSON Schema the request schemas use."""
    schema, document = _resolve(schema, document)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "oneOf" in schema:
        return st.one_of([_near(branch, document) for branch in schema["oneOf"]])
    kinds = schema.get("type", "object")
    if isinstance(kinds, list):
        return st.one_of([_valid(schema | {"type": kind}, document) for kind in kinds])
    if kinds == "object":
        properties = {name: _near(sub, document) for name, sub in schema.get("properties", {}).items()}
        if not properties:
            return st.dictionaries(st.text(max_size=3), scalars, max_size=2)
        required = {name: properties.pop(name) for name in schema.get("required", [])}
        return st.fixed_dictionaries(required, optional=properties)
    if kinds == "array":
        return st.lists(_near(schema["items"], document), max_size=4)  # duplicates now and then: uniqueItems
    if kinds == "string" and "pattern" in schema:
        return st.from_regex(schema["pattern"].rstrip("$") + r"\Z") | st.sampled_from(EDGES)
    if kinds == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=8) | st.sampled_from(EDGES)
    if kinds == "integer":
        return st.integers(min_value=schema.get("minimum", -5) - 1, max_value=50)
    return {"boolean": st.booleans(), "null": st.none()}[kinds]


def _near(schema: Any, document: str) -> st.SearchStrategy[Any]:
    """Mostly a valid value, now and then junk in its place: near misses at every depth."""
    valid = _valid(schema, document)
    return st.integers(0, 9).flatmap(lambda n: junk if n == 0 else valid)


def bodies(pointer: str) -> st.SearchStrategy[Any]:
    document, _, path = pointer.partition("#")
    near = _near({"$ref": f"{document}#{path}"}, document)
    return st.integers(0, 3).flatmap(lambda n: junk if n == 0 else near)


def test_every_schema_the_mock_checks_is_in_this_test() -> None:
    source = "\n".join(path.read_text(encoding="utf-8") for path in MOCK.glob("*.py"))
    used = set(re.findall(r'"(openapi\.yaml#[^"]+)"', source))
    used |= {FIXTURE_SCHEMAS + name for name in re.findall(r'_body\(request, "(\w+)"\)', source)}
    assert used == set(CHECKED)


def _python_says(pointer: str, instance: Any) -> bool:
    return validation._validator(pointer).is_valid(instance)  # type: ignore[no-any-return]


@pytest.mark.parametrize("pointer", CHECKED)
@settings(max_examples=200, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fast_and_python_validation_agree(pointer: str, data: st.DataObject) -> None:
    instance = data.draw(bodies(pointer))
    assert validation._fast_accepts(pointer, instance) == _python_says(pointer, instance), instance


@pytest.mark.parametrize(
    ("pointer", "instance"),
    [
        (SCHEMAS + "WebhookRequest", {"action": "call.cancel", "data": {"call_id": "c"}}),
        (SCHEMAS + "WebhookRequest", {"action": "call.delete", "data": {"call_id": "c"}}),
        (SCHEMAS + "CreateCallRequest", {"agent_id": "a", "contact_number": "+919876543210"}),
        (FIXTURE_SCHEMAS + "KeyRequest", {"scopes": ["calls:read"], "revoked": False}),
        (FIXTURE_SCHEMAS + "SeedCallRequest", {"org_id": "o", "status": "completed", "duration_seconds": 3}),
    ],
)
def test_valid_bodies_take_the_fast_path(pointer: str, instance: Any) -> None:
    assert validation._fast_accepts(pointer, instance)
    validation.validate(pointer, instance)


@pytest.mark.parametrize(
    ("pointer", "instance", "message"),
    [
        (SCHEMAS + "CreateCallRequest", {"agent_id": "a", "contact_number": "+919876543210\n"}, "/contact_number"),
        (SCHEMAS + "WebhookRequest", {"action": "call.cancel", "data": {}}, "(oneOf)"),
        (FIXTURE_SCHEMAS + "KeyRequest", {"scopes": ["calls:read", "calls:read"]}, "/scopes (uniqueItems)"),
    ],
)
def test_a_refused_body_is_worded_by_python_jsonschema(pointer: str, instance: Any, message: str) -> None:
    with pytest.raises(ApiError, match=re.escape(message)) as refused:
        validation.validate(pointer, instance)
    assert refused.value.status == 400
