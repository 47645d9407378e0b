"""Request bodies and headers, checked against the schemas of `specs/` themselves.

The mock validates with the very schemas the spec publishes, so the two cannot drift apart.
Each check runs first on jsonschema-rs (compiled, well under a microsecond: the hot path of the
webhook), and only a body it refuses goes to python-jsonschema, which words the error and has the
last say (a test holds the two to the same verdicts on every schema the mock checks).
Parsing refuses what JSON allows but a JSON answer could not carry back (NaN, infinities, lone
surrogates, absurd nesting), so nothing a client sends can make the mock fail later.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.contract._resources import load_spec
from conformance.mock.errors import ApiError, Code

__all__ = ["SPEC_BASE", "parse_json", "validate"]

SPEC_BASE = "https://huskyvoice-conformance.invalid/specs/"
MAX_DEPTH = 32


def _invalid(message: str) -> ApiError:
    return ApiError(400, Code.VALIDATION_ERROR, message)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


# Made once: `json.loads` with hooks makes a new decoder for every body.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def _check_tree(value: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH and strings that are not valid Unicode text."""
    todo: list[tuple[Any, int]] = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise _invalid(f"The request body is nested deeper than {MAX_DEPTH} levels.")
        if isinstance(item, str):
            item.encode("utf-8")  # lone surrogates raise UnicodeEncodeError, a ValueError
        elif isinstance(item, dict):
            todo.extend((k, depth) for k in item)
            todo.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            todo.extend((v, depth + 1) for v in item)


_PARENS = bytes.maketrans(b"[]{}", b"()()")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def _shallow(raw: bytes) -> bool:
    """Whether valid ASCII JSON `raw` surely nests no deeper than `_check_tree` allows, without parsing it.

    The brackets outside strings, as parentheses, peeled a level at a time (`(()())` -> `()` -> ``:
    one `replace` removes every innermost pair, and only those): at most MAX_DEPTH - 1 levels of
    containers, so that no value in them lies deeper than MAX_DEPTH. Each step is one pass in C,
    so a wide body costs well under a millisecond (60 KB of `[],` took 26 ms walked, 2.5 ms with
    regular expressions); anything deeper, and UTF-16 or UTF-32 text (NUL bytes), is walked.
    """
    if raw.count(b"{") + raw.count(b"[") < MAX_DEPTH:
        return True
    if b"\x00" in raw:
        return False
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"")  # escaped backslashes, then escaped quotes
    skeleton = b"".join(text.split(b'"')[::2]).translate(_PARENS, _NOT_BRACKETS)  # what lies outside strings
    for _ in range(MAX_DEPTH - 1):
        skeleton = skeleton.replace(b"()", b"")
        if not skeleton:
            return True
    return False


def parse_json(raw: bytes) -> Any:
    """The JSON value of a request body, or a 400 VALIDATION_ERROR."""
    if not raw.strip():
        raise _invalid("The request body is empty; send a JSON object.")
    try:
        value = _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))  # as json.loads does
        # ASCII without `\u` escapes holds no lone surrogate, and with fewer than MAX_DEPTH brackets
        # nothing in it is nested deeper: the walk is only for the bodies that could fail it.
        if not (raw.isascii() and b"\\u" not in raw and _shallow(raw)):
            _check_tree(value)
    except ApiError:
        raise
    except (ValueError, RecursionError):
        raise _invalid("The request body is not valid JSON.") from None
    return value


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    """`pattern` with JSON Schema's (ECMA-262) `$`: the very end, not before a final newline."""
    if isinstance(instance, str):
        anchored = pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern
        if re.search(anchored, instance) is None:
            yield ValidationError(f"does not match {pattern!r}")


_Validator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})  # type: ignore[no-untyped-call]


SPEC_NAMES = ("openapi.yaml", "fixtures.yaml")


@cache
def _documents() -> dict[str, Any]:
    return {name: load_spec(name) for name in SPEC_NAMES}


@cache
def _registry() -> Registry:
    registry: Registry = Registry()
    for name, document in _documents().items():
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        registry = registry.with_resource(SPEC_BASE + name, resource)
    return registry


@cache
def _validator(pointer: str) -> Any:
    return _Validator({"$ref": SPEC_BASE + pointer}, registry=_registry())


@cache
def _fast_validator(pointer: str) -> jsonschema_rs.Validator:
    registry = jsonschema_rs.Registry([(SPEC_BASE + name, document) for name, document in _documents().items()])
    return jsonschema_rs.Draft202012Validator({"$ref": SPEC_BASE + pointer}, registry=registry)


def _fast_accepts(pointer: str, instance: Any) -> bool:
    try:
        return _fast_validator(pointer).is_valid(instance)
    except (ValueError, TypeError, OverflowError):  # a value it cannot take: the slow path decides
        return False


def validate(pointer: str, instance: Any, *, what: str = "request body") -> None:
    """Check `instance` against the schema at `pointer` (e.g. `openapi.yaml#/components/...`)."""
    if _fast_accepts(pointer, instance):
        return
    error = best_match(_validator(pointer).iter_errors(instance))
    if error is not None:
        where = "/" + "/".join(str(part) for part in error.absolute_path)
        raise _invalid(f"Invalid {what} at {where} ({error.validator}).")
