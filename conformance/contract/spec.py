"""The bundled OpenAPI document, loaded once: what the suite knows of the contract's shapes."""

from __future__ import annotations

from functools import cache
from typing import Any

from conformance.contract._resources import load_spec

__all__ = ["error_codes", "openapi"]


@cache
def openapi() -> dict[str, Any]:
    document: dict[str, Any] = load_spec("openapi.yaml")
    return document


@cache
def error_codes() -> frozenset[str]:
    return frozenset(openapi()["components"]["schemas"]["ErrorCode"]["enum"])
