"""Rules every response must keep, whatever check sent the request (contract sections 1 and 7).

They watch every exchange of the public API as it happens and record what breaks them without
stopping the check that sent it. The fixtures API is not part of the contract and is not watched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from conformance.contract.spec import error_codes
from conformance.errors import Failure
from conformance.http.client import Exchange
from conformance.layers.context import Context
from conformance.target.calls import deleted_call

__all__ = ["CLAIMS", "watch"]

CLAIMS = "ID-NEVER-REUSED"  # judged on every create answer and every GET of an own call (`conformance.target.claims`)


def _envelope_ok(exchange: Exchange) -> bool:
    return exchange.error_code in error_codes() and exchange.error_message is not None


def _retry_after_ok(exchange: Exchange) -> bool:
    """Whole seconds in ASCII digits (HTTP's delta-seconds), and the code, which a HEAD answer's
    missing body cannot carry (HTTP)."""
    value = exchange.response_headers.get("retry-after", "")
    coded = exchange.method == "HEAD" or exchange.error_code == "RATE_LIMIT_EXCEEDED"
    return value.isascii() and value.isdigit() and coded


def _rules(ctx: Context, exchange: Exchange, status: int) -> Iterator[tuple[str, bool, str]]:
    """(requirement, holds, title) of every rule an answer with this status is subject to."""
    yield "ENV-NO-5XX", status < 500, f"{exchange.method} answered {status}"
    if status >= 400 and exchange.method != "HEAD":  # HTTP: a HEAD answer has no body, an envelope included
        yield (
            "ENV-ERROR-ENVELOPE",
            _envelope_ok(exchange),
            f'{exchange.method} answered {status} without {{"error": {{"code", "message"}}}} and a documented code',
        )
    if exchange.response_body:
        content_type = exchange.response_headers.get("content-type", "")
        yield "ENV-JSON", content_type.startswith("application/json"), f"content-type {content_type!r}"
    if ctx.env.erasure:
        leaks = ctx.env.erasure.leaks(exchange)
        leaked = sorted({value for values in leaks.values() for value in values})
        yield (
            "DEL-ERASURE",
            not leaked,
            f"a response still holds PII {leaked[:3]} of the deleted call(s) {sorted(leaks)[:3]}",
        )
    # Checked on every response: a throttled answer must say how long to wait.
    yield (
        "RATE-LIMIT-429",
        status != 429 or _retry_after_ok(exchange),
        "429 without RATE_LIMIT_EXCEEDED and an integer Retry-After",
    )


def watch(ctx: Context) -> None:
    def observe(exchange: Exchange) -> None:
        if exchange.status is None:
            return
        for holds, title, evidence in ctx.env.claims.judge(exchange):  # fixtures creates too: their ids are new as well
            _expect(ctx, CLAIMS, holds, title, evidence)
        if "/_fixtures/" in exchange.url:
            return
        gone = deleted_call(exchange)
        if gone is not None:  # from the next response on, none may hold this call's PII
            ctx.env.erasure.erase(gone, at=time.monotonic())
        for requirement, holds, title in _rules(ctx, exchange, exchange.status):
            _expect(ctx, requirement, holds, title, (exchange,))

    ctx.client.observers.append(observe)


def _expect(ctx: Context, requirement: str, holds: bool, title: str, exchanges: tuple[Exchange, ...]) -> None:
    try:
        ctx.expect(requirement, holds, title, *exchanges)
    except Failure as failure:  # a MUST broken in passing: record it, check the other rules
        ctx.record(failure)
