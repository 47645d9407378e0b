"""Which call ids the suite may call its own: every create answer claims the id it names.

Contract section 3 (1.1): a create answers an id that no other call has or ever had
(ID-NEVER-REUSED). The suite judges it on every answer it sees, at no extra request:

- a create answer (REST, the webhook's `call.create`, the fixtures API) whose id an earlier create
  answered too is a failure, unless both creates sent the same `Idempotency-Key` with the same
  credential: a replay returns the same call, rightly, and what a replay with another body gets is
  the SHOULD of CREATE-IDEMPOTENT (the contract leaves the key's semantics open, section 9), never
  id reuse;
- a create answer, or a GET of one of the suite's calls, that shows another contact number than
  the suite's create sent names a call the target already had.

Either way the id is marked reused in the guard (`conformance.target.safety`): from then on no cancel or
delete names it, the clean-up included, since it may be someone else's call.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from conformance.http.client import Exchange
from conformance.target import calls
from conformance.target.safety import Guard

__all__ = ["Claims", "Judgement"]

Judgement = tuple[bool, str, tuple[Exchange, ...]]  # holds, title, evidence


class Claims:
    def __init__(self, guard: Guard, pii_of: Mapping[str, dict[str, Any]], setup: Mapping[str, Exchange]) -> None:
        self.guard = guard
        self._pii_of = pii_of  # call id -> the PII the suite seeded it with
        self._setup = setup  # call id -> the exchange that seeded it
        self._answered: dict[str, Exchange] = {}  # call id -> the create answer that named it first
        self._lock = threading.Lock()

    def judge(self, exchange: Exchange) -> list[Judgement]:
        """ID-NEVER-REUSED on `exchange`: one judgement for a create answer or a GET of an own call,
        none for anything else."""
        call_id = calls.created_id(exchange)
        if call_id is not None:
            with self._lock:
                earlier = self._answered.setdefault(call_id, exchange)
            if earlier is not exchange and not _replay(earlier, exchange):
                self.guard.reuse(call_id)
                return [(False, f"two creates were answered with the same call id {call_id!r}", (earlier, exchange))]
            if earlier is not exchange:  # a replay shows the first create's call, whatever this one sent
                return [(True, "", (exchange,))]
        shown = calls.answered_call(exchange)
        if call_id is None and shown is not None and exchange.method == "GET":
            call_id = shown.get("call_id") if isinstance(shown.get("call_id"), str) else None
        sent = self._sent_number(call_id, exchange) if call_id is not None else None
        if call_id is None or shown is None or sent is None:
            return [(True, "", (exchange,))] if call_id is not None and exchange.method == "POST" else []
        holds = shown.get("contact_number") in (None, sent)
        if not holds:
            self.guard.reuse(call_id)
        title = (
            f"{exchange.method} shows the call id {call_id!r}, which the target answered for the suite's create,"
            f" with contact number {shown.get('contact_number')!r} where the create sent {sent!r}:"
            " an id the target already had"
        )
        return [(holds, title, (*([self._setup[call_id]] if call_id in self._setup else []), exchange))]

    def _sent_number(self, call_id: str, exchange: Exchange) -> str | None:
        """The contact number the suite created `call_id` with: from the create it sent, or its PII."""
        if exchange.method == "POST":
            sent = exchange.sent_json()
            data = sent.get("data", sent) if isinstance(sent, dict) else None
            number = data.get("contact_number") if isinstance(data, dict) else None
        else:
            pii = self._pii_of.get(call_id) if self.guard.owned(call_id) else None
            number = pii.get("contact_number") if pii else None
        return number if isinstance(number, str) else None


def _replay(first: Exchange, again: Exchange) -> bool:
    """Both creates sent the same `Idempotency-Key` with the same credential: the same call may rightly
    come back. Under another organisation's credential the same key names nothing of the first's (a
    key is the caller's own; contract 2, 1.1: nothing a request carries acts in another organisation)."""
    key = _idempotency_key(first)
    return key is not None and key == _idempotency_key(again) and _credential(first) == _credential(again)


def _credential(exchange: Exchange) -> str:
    """The key or webhook token a request presented, however it presented it."""
    headers = {k.lower(): v for k, v in exchange.headers.items()}
    if "/v1/hooks/" in exchange.url:
        return exchange.url.split("/v1/hooks/", 1)[1].split("?", 1)[0]
    bearer = headers.get("authorization", "").removeprefix("Bearer ").strip()
    return headers.get("x-api-key", "").strip() or bearer


def _idempotency_key(exchange: Exchange) -> str | None:
    return next((v for k, v in exchange.headers.items() if k.lower() == "idempotency-key"), None)
