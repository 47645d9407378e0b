"""A closed-loop HTTP/1.1 load generator on raw asyncio streams, run in a process of its own.

`python benchmarks/loadgen.py --port P --connections C --plan FILE --out FILE` opens C keep-alive
connections to 127.0.0.1:P, prints `ready`, waits for a line on stdin (so that several generator
processes start together), then sends the plan's requests (raw bytes, in order, each on the next
free connection) and writes, per request, its status and latency, and the window's start and end
on `time.perf_counter` (CLOCK_MONOTONIC: comparable across processes), to FILE as a pickle.

Raw streams rather than httpx: httpx costs more per request than the servers it would measure
(see docs/performance.md, "Mock capacity"). uvloop is used when it is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
CLOSED = -1  # the status of a request whose connection broke


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        body += await reader.readexactly(size + 2)
        if size == 0:
            return bytes(body)


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bool]:
    """Send one request, read its whole answer: status, body, and whether the server closes."""
    writer.write(request)
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    status = int(head[9:12])
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        body = await reader.readexactly(int(head[at + 17 : head.index(b"\r\n", at + 2)]))
    elif b"\r\ntransfer-encoding: chunked" in head:
        body = await _chunked(reader)
    elif status in (204, 304) or request.startswith(b"HEAD "):
        body = b""
    else:
        return status, await reader.read(), True  # delimited by the end of the connection
    return status, body, b"\r\nconnection: close" in head


class Run:
    def __init__(self, plan: list[bytes], connections: int, port: int, keep_bodies: bool) -> None:
        self.plan, self.connections, self.port, self.keep = plan, connections, port, keep_bodies
        self.status = [0] * len(plan)
        self.latency = [0.0] * len(plan)
        self.bodies: list[bytes] | None = [b""] * len(plan) if keep_bodies else None
        self.jobs: Iterator[int] = iter(range(len(plan)))  # shared: each connection takes the next

    async def _worker(self, streams: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        reader, writer = streams
        for index in self.jobs:
            started = time.perf_counter()
            try:
                status, body, close = await exchange(reader, writer, self.plan[index])
            except (OSError, asyncio.IncompleteReadError, ValueError):
                status, body, close = CLOSED, b"", True
            self.latency[index] = time.perf_counter() - started
            self.status[index] = status
            if self.bodies is not None:
                self.bodies[index] = body
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, self.port)
        writer.close()

    async def main(self) -> dict[str, Any]:
        streams = [await asyncio.open_connection(HOST, self.port) for _ in range(self.connections)]
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        start = time.perf_counter()
        await asyncio.gather(*(self._worker(s) for s in streams))
        end = time.perf_counter()
        return {"start": start, "end": end, "status": self.status, "latency": self.latency, "bodies": self.bodies}


def loop_factory() -> tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    """uvloop's event loop when it is installed (the generator then costs less per request)."""
    try:
        import uvloop
    except ImportError:
        return "asyncio", None
    return "uvloop", uvloop.new_event_loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--keep-bodies", action="store_true")
    args = parser.parse_args()
    plan: list[bytes] = pickle.loads(args.plan.read_bytes())
    loop, factory = loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        result = runner.run(Run(plan, args.connections, args.port, args.keep_bodies).main())
    result["loop"] = loop
    args.out.write_bytes(pickle.dumps(result))


if __name__ == "__main__":
    main()
