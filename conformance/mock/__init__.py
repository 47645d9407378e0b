"""The stateful reference mock of the HuskyVoice calls contract (Starlette, served by uvicorn)."""

from conformance.mock.app import create_app
from conformance.mock.config import MockConfig
from conformance.mock.server import MockServer
from conformance.mock.store import Store

__all__ = ["MockConfig", "MockServer", "Store", "create_app"]
