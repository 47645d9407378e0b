"""Where the bundled OpenAPI documents live, in an installed wheel or in a checkout."""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = ["contract_anchor", "contract_links", "contract_version", "load_spec", "spec_path"]

# libyaml's loader where PyYAML was built with it: the same documents, about ten times faster to read.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def spec_path(name: str = "openapi.yaml") -> Path:
    """The path of `specs/<name>`: bundled as `conformance/_specs` in a wheel, `specs/` in a checkout."""
    bundled = Path(str(resources.files("conformance"))) / "_specs" / name
    if bundled.is_file():
        return bundled
    checkout = Path(__file__).resolve().parents[2] / "specs" / name
    if checkout.is_file():
        return checkout
    raise FileNotFoundError(f"spec {name!r} is neither bundled nor in a checkout's specs/")


def load_spec(name: str = "openapi.yaml") -> Any:
    """`specs/<name>`, parsed."""
    return yaml.load(spec_path(name).read_text(encoding="utf-8"), Loader=_LOADER)  # a safe loader


CONTRACT = "contract.md"
_VERSION = re.compile(r"^Contract version: (\S+)$", re.MULTILINE)
_SECTION = re.compile(r"^## (\d+)\. (.+)$", re.MULTILINE)


@functools.cache
def contract_version() -> str:
    """The version `specs/contract.md` declares (its "Contract version: X.Y.Z" line)."""
    found = _VERSION.search(spec_path(CONTRACT).read_text(encoding="utf-8"))
    if found is None:
        raise ValueError(f"{spec_path(CONTRACT)} declares no 'Contract version: X.Y.Z' line")
    return found.group(1)


@functools.cache
def contract_anchor(section: str) -> str:
    """The Markdown anchor of section `section` ("5") of `specs/contract.md`: `#5-operations`."""
    titles = dict(_SECTION.findall(spec_path(CONTRACT).read_text(encoding="utf-8")))
    title = titles.get(section, "")
    slug = re.sub(r"[^a-z0-9 -]", "", f"{section} {title}".lower()).strip().replace(" ", "-")
    return f"#{slug}"


def contract_links(sections: str, contract: str) -> list[tuple[str, str]]:
    """Each section of `sections` ("1,5,6") with its link into the contract at URI `contract`."""
    return [(s, f"{contract}{contract_anchor(s)}") for s in sections.split(",")]
