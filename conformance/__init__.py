"""huskyvoice-conformance: a conformance suite and reference mock for the HuskyVoice calls API.

Imports are lazy: the pytest plugin imports this package in every pytest run, and importing the
mock (Starlette, anyio) that early would disturb pytest's own plugin loading.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.mock import MockConfig, MockServer, create_app
    from conformance.testing import HuskyMock, MockOrg

    CONTRACT_VERSION: str

try:
    __version__ = version("huskyvoice-conformance")
except PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0.0.0"

__all__ = ["CONTRACT_VERSION", "HuskyMock", "MockConfig", "MockOrg", "MockServer", "__version__", "create_app"]
_LAZY = {
    "MockConfig": ".mock",
    "MockServer": ".mock",
    "create_app": ".mock",
    "HuskyMock": ".testing",  # what the pytest fixture `husky_mock` is (testing an SDK against the mock)
    "MockOrg": ".testing",
}


def __getattr__(name: str) -> Any:
    if name == "CONTRACT_VERSION":  # from specs/contract.md, read when first asked for
        from conformance.contract._resources import contract_version

        return contract_version()
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
