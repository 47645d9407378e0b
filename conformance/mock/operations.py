"""The contract's rules for each call operation (sections 5 and 6), shared by REST and webhook.

Each function takes an already authenticated organisation and returns the JSON body of the
success answer, or raises `ApiError`. REST and the webhook call the same functions, which is what
makes the two transports equivalent. Each rule is written once, here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .errors import ApiError, Code
from .store import IdempotencyRecord, Store

__all__ = ["cancel_call", "create_call", "delete_call", "get_call"]

NOT_FOUND_MESSAGE = "No call with that call_id exists for your organization."
DELETE_NOT_FOUND_MESSAGE = "No completed call with that call_id exists for your organization."
CANCELLED_MESSAGE = "Call has been successfully cancelled."
# What a create body may set; other members are accepted and ignored (the schema allows them).
CREATE_FIELDS = ("agent_id", "contact_number", "contact_name", "contact_email", "additional_info")


def _not_found(message: str = NOT_FOUND_MESSAGE) -> ApiError:
    return ApiError(404, Code.NOT_FOUND, message)


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def create_call(store: Store, org_id: str, body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
    """A new queued call; the same Idempotency-Key and body answer the first call again."""
    digest = _digest(body)
    with store.lock:
        record = store.idempotency.get((org_id, idempotency_key)) if idempotency_key else None
        if record is not None:
            if record.body_digest != digest:
                raise ApiError(
                    409,
                    Code.IDEMPOTENCY_CONFLICT,
                    "This Idempotency-Key was used with a different request body.",
                )
            return record.response
        fields = {name: body[name] for name in CREATE_FIELDS if name in body}
        call = store.add_call(org_id, "queued", **fields)
        response = {"data": call.to_json()}
        if idempotency_key:
            store.idempotency[(org_id, idempotency_key)] = IdempotencyRecord(digest, call.call_id, response)
    return response


def get_call(store: Store, org_id: str, call_id: str) -> dict[str, Any]:
    with store.lock:
        call = store.visible_call(org_id, call_id)
        if call is None:
            raise _not_found()
        return {"data": call.to_json()}


def cancel_call(store: Store, org_id: str, call_id: str) -> dict[str, Any]:
    """Queued -> cancelled, record and PII kept; cancelling a cancelled call is a repeat 200."""
    with store.lock:
        call = store.visible_call(org_id, call_id)
        if call is None:
            raise _not_found()
        if call.status == "queued":
            call.move("cancelled")
        elif call.status != "cancelled":
            raise ApiError(409, Code.CALL_NOT_CANCELLABLE, "Only a queued call can be cancelled.")
    return {"success": True, "call_id": call_id, "status": "cancelled", "message": CANCELLED_MESSAGE}


def delete_call(store: Store, org_id: str, call_id: str) -> dict[str, Any]:
    """A completed call is erased with all its PII; anything else is 404 and left untouched."""
    with store.lock:
        call = store.visible_call(org_id, call_id)
        if call is None or call.status != "completed":
            raise _not_found(DELETE_NOT_FOUND_MESSAGE)
        store.erase(call)
    return {"data": {"call_id": call_id, "deleted": True}}
