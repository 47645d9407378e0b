"""huskyvoice-conformance: a conformance suite and reference mock for the HuskyVoice calls API."""

from importlib.metadata import PackageNotFoundError, version

from .mock import MockConfig, MockServer, create_app

try:
    __version__ = version("huskyvoice-conformance")
except PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0.0.0"

CONTRACT_VERSION = "1.0.0"

__all__ = ["CONTRACT_VERSION", "MockConfig", "MockServer", "__version__", "create_app"]
