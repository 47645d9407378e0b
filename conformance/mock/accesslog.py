"""One structured access-log line per request, with every secret redacted.

The line carries method, path, status and milliseconds, nothing else: no headers (API keys,
fixtures token), no query string, no body (fixtures answers hold keys). A webhook token is a path
segment, so whatever follows a `hooks` segment is replaced.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TextIO

__all__ = ["StreamAccessLog", "access_line", "logger", "redact_path"]

logger = logging.getLogger("conformance.mock.access")
REDACTED = "[REDACTED]"


def redact_path(path: str) -> str:
    if "hooks" not in path.lower():
        return path
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if segment.lower() == "hooks":
            tail = [REDACTED] if index + 1 < len(segments) else []
            return "/".join(segments[: index + 1] + tail)
    return path


def access_line(method: str, path: str, status: int, seconds: float) -> str:
    """The JSON line of one request: `{"method", "path", "status", "ms"}`, the path redacted.

    Written out rather than `json.dumps` of a dict (the same text, a third of the time): this runs
    for every request. Only the method and the path come from the client, and both are encoded.
    """
    method, path, ms = _json_string(method), _json_string(redact_path(path)), round(seconds * 1000, 2)
    return f'{{"method": {method}, "path": {path}, "status": {status}, "ms": {ms}}}'


def _json_string(text: str) -> str:
    """`json.dumps(text)`, without its cost for the usual printable ASCII."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text)


class StreamAccessLog:
    """Access-log lines straight to a text stream (the `mock` command's stderr), in batches.

    `logging` costs a LogRecord per line, more than the request the line is about; here a line is
    queued, and the queue written (and flushed) once per turn of the event loop, right after the
    answers of that turn. Embedded mocks (tests, the suite) log through `logger` instead.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.pending: list[str] = []

    def __call__(self, line: str) -> None:
        if not self.pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self.pending.append(line)

    def flush(self) -> None:
        lines, self.pending = self.pending, []
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
