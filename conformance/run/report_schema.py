"""The JSON Schema of `report.json`, made from the typed report's dataclasses (`report_data`).

Published as `specs/report.schema.json` (shipped in the wheel beside the contract); write it again
after changing a dataclass with `python -m conformance.run.report_schema > specs/report.schema.json`
(`tests/test_report_schema.py` fails until the two agree).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Literal

from conformance.run.report_data import KEEP, Report

__all__ = ["schema"]

SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def schema() -> dict[str, Any]:
    """The schema of `Report.to_json()`: one definition per dataclass, every field described."""
    definitions: dict[str, Any] = {}
    _define(Report, definitions)
    top = definitions.pop(Report.__name__)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "report.json of huskyvoice-conformance",
        **top,
        "$defs": dict(sorted(definitions.items())),
    }


def _define(kind: Any, definitions: dict[str, Any]) -> dict[str, Any]:
    """A `$ref` to the definition of dataclass `kind` (written into `definitions` the first time)."""
    if kind.__name__ not in definitions:
        definitions[kind.__name__] = {}  # taken before its fields: a dataclass may refer to itself
        hints = typing.get_type_hints(kind)
        properties = {
            f.name: {"description": f.metadata["doc"], **_type(hints[f.name], definitions)}
            for f in dataclasses.fields(kind)
        }
        required = [
            f.name
            for f in dataclasses.fields(kind)
            if f.default is dataclasses.MISSING and f.metadata.get("omit", KEEP) is KEEP
        ]
        definitions[kind.__name__] = {
            "type": "object",
            "description": (kind.__doc__ or "").strip(),
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }
    return {"$ref": f"#/$defs/{kind.__name__}"}


def _type(kind: Any, definitions: dict[str, Any]) -> dict[str, Any]:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if dataclasses.is_dataclass(kind):
        return _define(kind, definitions)
    if origin in (types.UnionType, typing.Union):
        return {"anyOf": [_type(a, definitions) for a in args]}
    if origin is tuple:
        return {"type": "array", "items": _type(args[0], definitions)}
    if origin is Literal:
        return {"enum": list(args)}
    if kind is type(None):
        return {"type": "null"}
    return {"type": SCALARS[kind]}


if __name__ == "__main__":
    print(json.dumps(schema(), indent=2, ensure_ascii=False))
