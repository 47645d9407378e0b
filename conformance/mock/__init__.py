"""The stateful reference mock of the HuskyVoice calls contract (Starlette, served by uvicorn)."""

from .app import create_app
from .config import MockConfig
from .server import MockServer
from .store import Store

__all__ = ["MockConfig", "MockServer", "Store", "create_app"]
