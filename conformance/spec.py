"""The bundled OpenAPI document, loaded once: what the suite knows of the contract's shapes."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from ._resources import spec_path

__all__ = ["error_codes", "openapi"]


@cache
def openapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(spec_path("openapi.yaml").read_text(encoding="utf-8"))
    return document


@cache
def error_codes() -> frozenset[str]:
    return frozenset(openapi()["components"]["schemas"]["ErrorCode"]["enum"])
