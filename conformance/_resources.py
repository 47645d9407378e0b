"""Where the bundled OpenAPI documents live, in an installed wheel or in a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = ["load_spec", "spec_path"]

# libyaml's loader where PyYAML was built with it: the same documents, about ten times faster to read.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def spec_path(name: str = "openapi.yaml") -> Path:
    """The path of `specs/<name>`: bundled as `conformance/_specs` in a wheel, `specs/` in a checkout."""
    bundled = Path(str(resources.files("conformance"))) / "_specs" / name
    if bundled.is_file():
        return bundled
    checkout = Path(__file__).resolve().parent.parent / "specs" / name
    if checkout.is_file():
        return checkout
    raise FileNotFoundError(f"spec {name!r} is neither bundled nor in a checkout's specs/")


def load_spec(name: str = "openapi.yaml") -> Any:
    """`specs/<name>`, parsed."""
    return yaml.load(spec_path(name).read_text(encoding="utf-8"), Loader=_LOADER)  # a safe loader
