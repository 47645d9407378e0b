"""Where the bundled OpenAPI documents live, in an installed wheel or in a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["spec_path"]


def spec_path(name: str = "openapi.yaml") -> Path:
    """The path of `specs/<name>`: bundled as `conformance/_specs` in a wheel, `specs/` in a checkout."""
    bundled = Path(str(resources.files("conformance"))) / "_specs" / name
    if bundled.is_file():
        return bundled
    checkout = Path(__file__).resolve().parent.parent / "specs" / name
    if checkout.is_file():
        return checkout
    raise FileNotFoundError(f"spec {name!r} is neither bundled nor in a checkout's specs/")
