"""The two OpenAPI documents: valid OpenAPI 3.1, every example valid, and the contract's promises.

`specs/openapi.yaml` is the public contract, `specs/fixtures.yaml` the test control plane; the
latter refers into the former with relative refs. Schemas are checked through a `referencing`
registry that holds both documents under the same base URIs the mock uses, so an example is judged
by exactly the schemas the mock validates requests with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.mock.errors import Code
from conformance.mock.validation import SPEC_BASE

SPECS = Path(__file__).resolve().parent.parent / "specs"
PUBLIC = "openapi.yaml"
FIXTURES = "fixtures.yaml"
DOC_NAMES = (PUBLIC, FIXTURES)
DOCS: dict[str, Any] = {name: yaml.safe_load((SPECS / name).read_text(encoding="utf-8")) for name in DOC_NAMES}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
WEBHOOK_PATH = "/v1/hooks/{token}"
MIN_EXAMPLES = {PUBLIC: 20, FIXTURES: 8}


def _registry() -> Registry:
    registry: Registry = Registry()
    for name, document in DOCS.items():
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        registry = registry.with_resource(SPEC_BASE + name, resource)
    return registry


REGISTRY = _registry()


# --- a location in one of the documents, and a small $ref walker ----------------------------------


@dataclass(frozen=True)
class Loc:
    """A node of one document: the document's name and the JSON-pointer segments leading to it."""

    doc: str
    path: tuple[str, ...] = ()

    @property
    def node(self) -> Any:
        node = DOCS[self.doc]
        for segment in self.path:
            node = node[int(segment)] if isinstance(node, list) else node[segment]
        return node

    def child(self, *segments: str | int) -> Loc:
        return Loc(self.doc, self.path + tuple(str(s) for s in segments))

    @property
    def uri(self) -> str:
        escaped = (quote(s.replace("~", "~0").replace("/", "~1"), safe="~") for s in self.path)
        return f"{SPEC_BASE}{self.doc}#" + "".join("/" + s for s in escaped)

    def deref(self) -> Loc:
        """Follow `$ref` (same document or the other one) until a node without one."""
        loc, seen = self, set()
        while isinstance(loc.node, dict) and "$ref" in loc.node:
            assert loc not in seen, f"$ref cycle at {loc}"
            seen.add(loc)
            target, _, fragment = loc.node["$ref"].partition("#")
            doc = Path(target).name if target else loc.doc
            assert doc in DOCS, f"$ref {loc.node['$ref']!r} leaves the two documents"
            segments = [unquote(s).replace("~1", "/").replace("~0", "~") for s in fragment.split("/")[1:]]
            loc = Loc(doc, tuple(segments))
            loc.node  # noqa: B018 - raises if the $ref points to nowhere
        return loc


def _ref(doc: str, pointer: str) -> Loc:
    return Loc(doc, tuple(pointer.strip("/").split("/")))


ERROR_SCHEMA = _ref(PUBLIC, "components/schemas/Error")


@dataclass(frozen=True)
class Operation:
    doc: str
    path: str
    method: str

    @property
    def loc(self) -> Loc:
        return Loc(self.doc, ("paths", self.path, self.method))

    @property
    def node(self) -> dict[str, Any]:
        node: dict[str, Any] = self.loc.node
        return node

    @property
    def label(self) -> str:
        return f"{self.doc} {self.method.upper()} {self.path}"

    def responses(self) -> Iterator[tuple[str, Loc]]:
        for status in self.node.get("responses", {}):
            yield str(status), self.loc.child("responses", status).deref()

    def parameters(self) -> list[dict[str, Any]]:
        path_item = Loc(self.doc, ("paths", self.path))
        found = []
        for owner in (path_item, self.loc):
            for index, _ in enumerate(owner.node.get("parameters", [])):
                found.append(owner.child("parameters", index).deref().node)
        return found


def _operations(doc: str) -> list[Operation]:
    return [
        Operation(doc, path, method)
        for path, item in DOCS[doc]["paths"].items()
        for method in METHODS
        if method in item
    ]


ALL_OPERATIONS = [op for doc in DOC_NAMES for op in _operations(doc)]
PUBLIC_OPERATIONS = _operations(PUBLIC)
REST_OPERATIONS = [op for op in PUBLIC_OPERATIONS if op.path != WEBHOOK_PATH]
OPERATIONS_BY_ID = {(op.doc, op.node["operationId"]): op for op in ALL_OPERATIONS}


def _op_id(op: Operation) -> str:
    return op.label


# --- every example, with the schema it must satisfy -----------------------------------------------


@dataclass(frozen=True)
class Example:
    name: str
    schema: Loc
    value: Loc


def _examples_of(holder: Loc, label: str) -> Iterator[Example]:
    """Examples of a node holding `schema` plus `example`/`examples` (media type, parameter, header)."""
    node = holder.node
    for media_type in node.get("content", {}):
        media_label = label if media_type == "application/json" else f"{label} {media_type}"
        yield from _examples_of(holder.child("content", media_type), media_label)
    if "schema" not in node:
        assert not {"example", "examples"} & set(node), f"{label}: an example without a schema"
        return
    schema = holder.child("schema")
    if "example" in node:
        yield Example(f"{label} example", schema, holder.child("example"))
    for name in node.get("examples", {}):
        example = holder.child("examples", name).deref()
        assert "value" in example.node, f"{label} {name}: an example without a value"
        yield Example(f"{label} {name}", schema, example.child("value"))


def _parameter_examples(owner: Loc, label: str) -> Iterator[Example]:
    for index, parameter in enumerate(owner.node.get("parameters", [])):
        if "$ref" not in parameter:  # a referenced parameter is walked once, under components
            yield from _examples_of(owner.child("parameters", index), f"{label} parameter {parameter['name']}")


def _response_examples(response: Loc, label: str) -> Iterator[Example]:
    yield from _examples_of(response, label)
    for header in response.node.get("headers", {}):
        yield from _examples_of(response.child("headers", header).deref(), f"{label} header {header}")


def _document_examples(doc: str) -> Iterator[Example]:
    for path in DOCS[doc]["paths"]:
        yield from _parameter_examples(Loc(doc, ("paths", path)), f"{doc} {path}")
    for op in _operations(doc):
        yield from _parameter_examples(op.loc, op.label)
        if "requestBody" in op.node:
            yield from _examples_of(op.loc.child("requestBody").deref(), f"{op.label} request")
        for status, response in op.node.get("responses", {}).items():
            if "$ref" not in response:  # a referenced response is walked once, under components
                yield from _response_examples(op.loc.child("responses", status), f"{op.label} response {status}")
    components = Loc(doc, ("components",))
    for kind, walk in (
        ("parameters", _examples_of),
        ("headers", _examples_of),
        ("requestBodies", _examples_of),
        ("responses", _response_examples),
    ):
        for name in components.node.get(kind, {}):
            yield from walk(components.child(kind, name).deref(), f"{doc} components/{kind}/{name}")


def _all_examples() -> list[Example]:
    examples = [example for doc in DOC_NAMES for example in _document_examples(doc)]
    names = [example.name for example in examples]
    assert len(names) == len(set(names)), f"two examples share a test id: {sorted(names)}"
    return examples


EXAMPLES = _all_examples()


def test_the_example_walker_finds_examples_of_every_kind() -> None:
    for doc, floor in MIN_EXAMPLES.items():
        found = [example for example in EXAMPLES if example.name.startswith(doc + " ")]
        assert len(found) >= floor, f"only {len(found)} examples found in {doc}"
    for kind in (" request ", " response ", " parameter ", "components/responses/", "components/parameters/"):
        assert any(kind in example.name for example in EXAMPLES), f"no example of kind {kind.strip()!r}"


def test_every_named_example_is_used_by_some_schema() -> None:
    used = {example.value for example in EXAMPLES}
    for doc in DOC_NAMES:
        for name in DOCS[doc].get("components", {}).get("examples", {}):
            value = Loc(doc, ("components", "examples", name, "value"))
            assert value in used, f"{doc} components/examples/{name} is validated nowhere"


# --- the documents themselves ----------------------------------------------------------------------


@pytest.mark.parametrize("name", DOC_NAMES)
def test_document_is_valid_openapi(name: str) -> None:
    path = SPECS / name
    spec, _ = read_from_filename(str(path))
    assert spec["openapi"].startswith("3.1")
    validate(spec, base_uri=path.as_uri())


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
def test_example_validates_against_its_schema(example: Example) -> None:
    value = example.value.node
    json.dumps(value)  # plain JSON: YAML did not turn a date or similar into a Python object
    validator = Draft202012Validator(
        {"$ref": example.schema.uri},
        registry=REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(value)]
    assert not errors, f"{example.name} does not match {example.schema.uri}: {errors}"


def _stray_keys(value: Any, where: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, member in value.items():
            if member is None and isinstance(key, str) and " " in key:
                yield f"{where}/{key}"
            yield from _stray_keys(member, f"{where}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _stray_keys(item, f"{where}/{index}")


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
def test_example_has_no_member_split_off_by_a_yaml_comma(example: Example) -> None:
    """`{text: Hello Raj, this is Acme}` in YAML is `text: Hello Raj` plus a null key `this is Acme`."""
    stray = list(_stray_keys(example.value.node))
    assert not stray, f"{example.name}: unquoted commas split these null members off: {stray}"


def test_operation_ids_are_unique() -> None:
    ids = [op.node.get("operationId") for op in ALL_OPERATIONS]
    assert None not in ids
    assert len(ids) == len(set(ids)), ids


# --- authentication ------------------------------------------------------------------------------


def test_public_api_defines_both_security_schemes() -> None:
    schemes = DOCS[PUBLIC]["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"].lower() == "bearer"
    assert schemes["apiKeyHeader"]["type"] == "apiKey"
    assert schemes["apiKeyHeader"]["in"] == "header"
    assert schemes["apiKeyHeader"]["name"].lower() == "x-api-key"


def test_top_level_security_offers_the_two_schemes_as_alternatives() -> None:
    security = DOCS[PUBLIC]["security"]
    assert sorted(security, key=str) == [{"apiKeyHeader": []}, {"bearerAuth": []}]


@pytest.mark.parametrize("op", REST_OPERATIONS, ids=_op_id)
def test_rest_operation_accepts_either_key_header(op: Operation) -> None:
    assert "security" not in op.node, f"{op.label} overrides the top-level security"


def test_webhook_needs_no_api_key() -> None:
    (webhook,) = [op for op in PUBLIC_OPERATIONS if op.path == WEBHOOK_PATH]
    assert webhook.node["security"] == []
    assert {p["name"] for p in webhook.parameters() if p["in"] == "path"} == {"token"}


def test_every_rest_path_is_covered() -> None:
    assert {op.node["operationId"] for op in REST_OPERATIONS} == {
        "createCall",
        "getCall",
        "deleteCall",
        "cancelCall",
    }


# --- responses ------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", PUBLIC_OPERATIONS, ids=_op_id)
def test_operation_documents_429_with_retry_after(op: Operation) -> None:
    responses = dict(op.responses())
    assert "429" in responses, f"{op.label} does not document 429"
    headers = responses["429"].node.get("headers", {})
    names = {name.lower(): name for name in headers}
    assert "retry-after" in names, f"{op.label} 429 has no Retry-After header"
    header = responses["429"].child("headers", names["retry-after"]).deref()
    assert header.node.get("required") is True
    assert header.child("schema").deref().node["type"] == "integer"


CODES_BY_STATUS = {
    "400": {Code.VALIDATION_ERROR},
    "401": {Code.UNAUTHORIZED},
    "403": {Code.FORBIDDEN},
    "404": {Code.NOT_FOUND},
    "405": {Code.METHOD_NOT_ALLOWED},
    "409": {Code.CALL_NOT_CANCELLABLE, Code.IDEMPOTENCY_CONFLICT},
    "413": {Code.PAYLOAD_TOO_LARGE},
    "429": {Code.RATE_LIMIT_EXCEEDED},
    "500": {Code.INTERNAL_ERROR},
}
ERROR_RESPONSES = [
    (op, status, response) for op in ALL_OPERATIONS for status, response in op.responses() if status[0] in "45"
]


@pytest.mark.parametrize(
    ("op", "status", "response"),
    ERROR_RESPONSES,
    ids=[f"{op.label} {status}" for op, status, _ in ERROR_RESPONSES],
)
def test_error_response_uses_the_error_envelope(op: Operation, status: str, response: Loc) -> None:
    content = response.node.get("content", {})
    assert list(content) == ["application/json"], f"{op.label} {status}: {list(content)}"
    assert _json_schema(response) == ERROR_SCHEMA
    examples = [e for e in EXAMPLES if _inside(e.value, response)]
    assert examples, f"{op.label} {status} shows no example"
    for example in examples:
        code = example.value.node["error"]["code"]
        assert code in CODES_BY_STATUS[status], f"{example.name}: {code} is not a {status} code"


def _inside(loc: Loc, ancestor: Loc) -> bool:
    return loc.doc == ancestor.doc and loc.path[: len(ancestor.path)] == ancestor.path


def test_there_are_error_responses_in_both_documents() -> None:
    assert {op.doc for op, _, _ in ERROR_RESPONSES} == set(DOC_NAMES)


# --- links ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation_id", "status", "targets"),
    [
        ("createCall", "201", {"getCall", "cancelCall", "deleteCall"}),
        ("deleteCall", "200", {"getCall"}),
        ("cancelCall", "200", {"getCall"}),
    ],
    ids=["create->get/cancel/delete", "delete->get", "cancel->get"],
)
def test_promised_links_exist(operation_id: str, status: str, targets: set[str]) -> None:
    response = dict(OPERATIONS_BY_ID[(PUBLIC, operation_id)].responses())[status]
    linked = {link["operationId"] for link in response.node.get("links", {}).values()}
    assert targets <= linked, f"{operation_id} {status} links only to {linked}"


LINKS = [
    (op, status, name, link)
    for op in ALL_OPERATIONS
    for status, response in op.responses()
    for name, link in response.node.get("links", {}).items()
]


def _pointer_into(value: Any, pointer: str) -> Any:
    for segment in pointer.strip("/").split("/"):
        value = value[int(segment)] if isinstance(value, list) else value[segment]
    return value


@pytest.mark.parametrize(
    ("op", "status", "name", "link"),
    LINKS,
    ids=[f"{op.label} {status} {name}" for op, status, name, _ in LINKS],
)
def test_link_names_an_existing_operation_and_its_parameters(
    op: Operation, status: str, name: str, link: dict[str, Any]
) -> None:
    assert "operationId" in link, f"{name} does not name its target by operationId"
    target = OPERATIONS_BY_ID.get((op.doc, link["operationId"]))
    assert target is not None, f"{name} links to unknown operation {link['operationId']!r}"
    accepted = {p["name"] for p in target.parameters()}
    response_examples = [e for e in EXAMPLES if e.name.startswith(f"{op.label} response {status} ")]
    for parameter, expression in link.get("parameters", {}).items():
        assert parameter in accepted, f"{target.label} has no parameter {parameter!r}"
        assert expression.startswith("$response.body#/"), expression
        for example in response_examples:  # the expression finds the id in what the operation answers
            assert isinstance(_pointer_into(example.value.node, expression.split("#", 1)[1]), str)


def test_there_are_links() -> None:
    assert len(LINKS) >= 5


# --- schemas -------------------------------------------------------------------------------------


def _json_schema(holder: Loc) -> Loc:
    """The schema of the `application/json` content of a response or request body."""
    return holder.child("content", "application/json", "schema").deref()


def _schema(name: str, doc: str = PUBLIC) -> dict[str, Any]:
    node: dict[str, Any] = Loc(doc, ("components", "schemas", name)).node
    return node


def test_delete_response_promises_deleted_true() -> None:
    schema = _schema("DeleteResponse")
    assert "data" in schema["required"]
    data = schema["properties"]["data"]
    assert set(data["required"]) >= {"call_id", "deleted"}
    assert data["properties"]["deleted"] == {"const": True}
    ok = dict(OPERATIONS_BY_ID[(PUBLIC, "deleteCall")].responses())["200"]
    assert _json_schema(ok) == _ref(PUBLIC, "components/schemas/DeleteResponse")


def _mock_codes() -> set[str]:
    return {value for name, value in vars(Code).items() if not name.startswith("_")}


def test_error_code_enum_has_every_code_the_mock_produces() -> None:
    assert len(_mock_codes()) >= 9
    missing = _mock_codes() - set(_schema("ErrorCode")["enum"])
    assert not missing, f"the mock can answer codes the spec does not list: {sorted(missing)}"


def test_error_code_enum_has_no_code_the_mock_lacks() -> None:
    extra = set(_schema("ErrorCode")["enum"]) - _mock_codes()
    assert not extra, f"the spec lists codes the mock never produces: {sorted(extra)}"


def test_error_envelope_uses_the_error_code_enum() -> None:
    error = _schema("Error")
    assert error["required"] == ["error"]
    inner = error["properties"]["error"]
    assert set(inner["required"]) == {"code", "message"}
    assert inner["properties"]["code"] == {"$ref": "#/components/schemas/ErrorCode"}


def test_webhook_request_is_a_oneof_of_three_discriminated_by_action() -> None:
    schema = _schema("WebhookRequest")
    one_of = _ref(PUBLIC, "components/schemas/WebhookRequest/oneOf")
    variants = [one_of.child(index).deref() for index in range(len(schema["oneOf"]))]
    assert len(variants) == 3
    assert schema["discriminator"]["propertyName"] == "action"
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == {"call.create", "call.cancel", "call.delete"}
    targets = {action: _ref(PUBLIC, ref.partition("#")[2]) for action, ref in mapping.items()}
    assert set(targets.values()) == set(variants)
    for action, variant in targets.items():
        assert "action" in variant.node["required"]
        assert variant.node["properties"]["action"] == {"const": action}
    (webhook,) = [op for op in PUBLIC_OPERATIONS if op.path == WEBHOOK_PATH]
    assert _json_schema(webhook.loc.child("requestBody").deref()) == _ref(PUBLIC, "components/schemas/WebhookRequest")
