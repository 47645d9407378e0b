"""Rules every response must keep, whatever check sent the request (contract sections 1 and 7).

They watch every exchange of the public API as it happens and record what breaks them without
stopping the check that sent it. The fixtures API is not part of the contract and is not watched.
"""

from __future__ import annotations

from .checks import Context
from .client import Exchange
from .errors import Failure
from .spec import error_codes

__all__ = ["watch"]


def _envelope_ok(exchange: Exchange) -> bool:
    return exchange.error_code in error_codes() and exchange.error_message is not None


def _retry_after_ok(exchange: Exchange) -> bool:
    value = exchange.response_headers.get("retry-after", "")
    return value.isdigit() and exchange.error_code == "RATE_LIMIT_EXCEEDED"


def _observe(ctx: Context, exchange: Exchange) -> None:
    if exchange.status is None or "/_fixtures/" in exchange.url:
        return
    status = exchange.status
    ctx.expect("ENV-NO-5XX", status < 500, f"{exchange.method} answered {status}", exchange)
    if status >= 400:
        ctx.expect(
            "ENV-ERROR-ENVELOPE",
            _envelope_ok(exchange),
            f'{exchange.method} answered {status} without {{"error": {{"code", "message"}}}} and a documented code',
            exchange,
        )
    if exchange.response_body:
        content_type = exchange.response_headers.get("content-type", "")
        ctx.expect(
            "ENV-JSON",
            content_type.startswith("application/json"),
            f"content-type {content_type!r}",
            exchange,
        )
    if ctx.erased:
        leaked = sorted(value for value in ctx.erased if value.encode() in exchange.response_body)
        ctx.expect("DEL-ERASURE", not leaked, f"a response still holds erased PII {leaked[:3]}", exchange)
    # Checked on every response: a throttled answer must say how long to wait.
    ctx.expect(
        "RATE-LIMIT-429",
        status != 429 or _retry_after_ok(exchange),
        "429 without RATE_LIMIT_EXCEEDED and an integer Retry-After",
        exchange,
    )


def watch(ctx: Context) -> None:
    def observe(exchange: Exchange) -> None:
        try:
            _observe(ctx, exchange)
        except Failure as failure:  # a MUST broken in passing: record it, let the check go on
            ctx.record(failure)

    ctx.client.observers.append(observe)
