"""One structured access-log line per request, with every secret redacted.

The line carries method, path, status and milliseconds, nothing else: no headers (API keys,
fixtures token), no query string, no body (fixtures answers hold keys). A webhook token is a path
segment, so whatever follows a `hooks` segment is replaced.
"""

from __future__ import annotations

import json
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLogMiddleware", "logger", "redact_path"]

logger = logging.getLogger("conformance.mock.access")
REDACTED = "[REDACTED]"


def redact_path(path: str) -> str:
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if segment.lower() == "hooks":
            tail = [REDACTED] if index + 1 < len(segments) else []
            return "/".join(segments[: index + 1] + tail)
    return path


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            line = {
                "method": scope["method"],
                "path": redact_path(scope["path"]),
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            }
            logger.info(json.dumps(line))
