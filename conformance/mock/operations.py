"""The contract's rules for each call operation (sections 5 and 6), shared by REST and webhook.

Each function takes an already authenticated organisation and returns the JSON body of the
success answer, or raises `ApiError`. REST and the webhook call the same functions, which is what
makes the two transports equivalent. Each rule is written once, here.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, NoReturn

from conformance.mock.errors import ApiError, Code
from conformance.mock.store import Call, IdempotencyRecord, Store, StoreFull

__all__ = ["cancel_call", "create_call", "delete_call", "get_call"]

NOT_FOUND_MESSAGE = "No call with that call_id exists for your organization."
DELETE_NOT_FOUND_MESSAGE = "No completed call with that call_id exists for your organization."
CANCELLED_MESSAGE = "Call has been successfully cancelled."
# What a create body may set; other members are accepted and ignored (the schema allows them).
CREATE_FIELDS = ("agent_id", "contact_number", "contact_name", "contact_email", "additional_info")


def _not_found(message: str = NOT_FOUND_MESSAGE) -> ApiError:
    return ApiError(404, Code.NOT_FOUND, message)


def store_full(store: Store) -> ApiError:
    """Why a create is refused when the store is full: 429, the contract's "not now", never a 5xx."""
    message = (
        f"The mock holds its maximum of calls ({store.max_calls} calls, {store.max_call_bytes} bytes of their"
        " fields); delete completed calls or reset the fixtures, then retry."
    )
    return ApiError(429, Code.RATE_LIMIT_EXCEEDED, message, {"Retry-After": str(FULL_RETRY_AFTER)})


FULL_RETRY_AFTER = 60


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def create_call(store: Store, org_id: str, body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
    """A new queued call; the same Idempotency-Key and body answer the first call again."""
    digest = _digest(body) if idempotency_key else ""  # a second encoding of the body: only when it is kept
    with store.lock:
        record = store.idempotency.get((_key_owner(store, org_id), idempotency_key)) if idempotency_key else None
        if record is not None:
            if record.body_digest != digest:
                raise ApiError(
                    409,
                    Code.IDEMPOTENCY_CONFLICT,
                    "This Idempotency-Key was used with a different request body.",
                )
            return dict(json.loads(record.response))
        if not (idempotency_key and store.fault("idempotency-race")):
            return _insert(store, org_id, body, idempotency_key, digest)
    time.sleep(0.05)  # "idempotency-race": checked, then inserted, with the lock released between
    with store.lock:
        return _insert(store, org_id, body, idempotency_key, digest)


def _key_owner(store: Store, org_id: str) -> str:
    """Whose the Idempotency-Key table says a key is: the caller's organisation (fault
    "idempotency-key-any-org": nobody's, so another organisation's key and body answer its call)."""
    return "" if store.faults and store.fault("idempotency-key-any-org") else org_id


def _insert(
    store: Store, org_id: str, body: dict[str, Any], idempotency_key: str | None, digest: str
) -> dict[str, Any]:
    """The new call, and its idempotency record (hold `lock`)."""
    fields = {name: body[name] for name in CREATE_FIELDS if name in body}
    if store.faults and store.contact_book:
        store.autofill(org_id, fields)  # contact-book faults: a new call filled in from the book
    try:
        call = store.add_call(org_id, "queued", **fields)
    except StoreFull:
        raise store_full(store) from None
    store.schedule_completion(call)
    response = {"data": call.to_json(fields.get("additional_info", {}))}  # decoded already: not again
    if idempotency_key:
        text = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
        store.idempotency[(_key_owner(store, org_id), idempotency_key)] = IdempotencyRecord(digest, call.call_id, text)
        call.weight += len(text)  # kept as long as the call
        store.call_bytes += len(text)
    return response


def _missing(store: Store, call_id: str, message: str) -> NoReturn:
    """404 for an id this caller cannot see (two faults let a deleted call's PII slip into it)."""
    gone = store.tombstones.get(call_id)
    if gone is not None and store.fault("erasure-keeps-recording"):
        message = f"Call deleted; its recording stays at {gone.recording_url}."
    if gone is not None and store.fault("pii-in-error"):
        message = f"The call with {gone.contact_name} was deleted already."
    raise _not_found(message)


def _find(store: Store, org_id: str, call_id: str, message: str, *, any_org: bool = False) -> Call:
    call = store.visible_call(org_id, call_id, any_org=any_org)
    if call is None:
        if store.fault("foreign-403") and call_id in store.calls:
            raise ApiError(403, Code.FORBIDDEN, "This call belongs to another organization.")
        _missing(store, call_id, message)
    return call


def get_call(store: Store, org_id: str, call_id: str, *, any_org: bool = False) -> dict[str, Any]:
    with store.lock:
        cached = store.read_cache.get((org_id, call_id)) if store.faults else None
        if cached is not None and cached[0] > store.clock():  # "stale-read-cache": a delete never invalidates it
            return cached[1]
        if store.faults and (ghost := _replica_ghost(store, org_id, call_id)) is not None:
            return {"data": ghost.to_json()}
        any_org = any_org or store.fault("cross-org-get")
        call = _find(store, org_id, call_id, NOT_FOUND_MESSAGE, any_org=any_org)
        if store.fault("long-name-500") and call.contact_name is not None and len(call.contact_name) > 255:
            raise ApiError(500, Code.INTERNAL_ERROR, "Internal server error.")  # the view's varchar(255)
        answer = {"data": call.to_json()}
        if store.fault("stale-read-cache"):
            store.read_cache[(org_id, call_id)] = (store.clock() + 2.0, answer)
        return answer


REPLICA_LAG = 1.5  # seconds: "lagging-replica"


def _replica_ghost(store: Store, org_id: str, call_id: str) -> Call | None:
    """Fault "lagging-replica": GETs are read from a replica that applies each write 1.5 s late, and
    from the primary while the replica does not have the call yet; a deleted call is still on the
    replica from its creation + 1.5 s to its delete + 1.5 s."""
    if not store.fault("lagging-replica") or (found := store.replica_ghosts.get(call_id)) is None:
        return None
    born, deleted, call = found
    now = store.clock()
    return call if call.org_id == org_id and born + REPLICA_LAG <= now < deleted + REPLICA_LAG else None


def _cancellable_by_fault(store: Store, status: str) -> bool:
    return (store.fault("cancel-in-flight") and status in ("initiated", "ringing", "in_progress")) or (
        store.fault("cancel-completed") and status in ("completed", "failed")
    )


def cancel_call(store: Store, org_id: str, call_id: str, *, via_webhook: bool = False) -> dict[str, Any]:
    """Queued -> cancelled, record and PII kept; cancelling a cancelled call is a repeat 200."""
    any_org = store.fault("cross-org-cancel") or (via_webhook and store.fault("webhook-any-org"))
    if store.fault("cancel-resurrects"):  # an ORM's load, a call to the provider, then save(): an upsert
        with store.lock:
            loaded = _find(store, org_id, call_id, NOT_FOUND_MESSAGE, any_org=any_org)
        time.sleep(0.05)
        with store.lock:
            if loaded.call_id not in store.calls:
                store.calls[loaded.call_id] = loaded
                store.call_bytes += loaded.weight
    answer = {"success": True, "call_id": call_id, "status": "cancelled", "message": CANCELLED_MESSAGE}
    if store.fault("cancel-status-canceled"):
        answer["status"] = "canceled"
    if store.fault("cancel-success-number"):
        answer["success"] = 1  # a serializer without booleans
    with store.lock:
        call = _find(store, org_id, call_id, NOT_FOUND_MESSAGE, any_org=any_org)
        repeat_refused = store.fault("repeat-cancel-409") or (via_webhook and store.fault("webhook-repeat-cancel-409"))
        if call.status == "cancelled" and repeat_refused:
            raise ApiError(409, Code.CALL_NOT_CANCELLABLE, "This call is cancelled already.")
        if call.status == "cancelled" and store.fault("repeat-cancel-after-pause-409") and _cache_expired(store, call):
            raise ApiError(409, Code.CALL_NOT_CANCELLABLE, "Only a queued call can be cancelled.")
        if call.status == "queued" or _cancellable_by_fault(store, call.status):
            call.move("cancelled")
            if store.fault("repeat-cancel-after-pause-409"):
                store.cancelled_at[call.call_id] = store.clock()
            if store.fault("cancel-drops-pii"):
                call.contact_name = call.contact_email = None
            if store.fault("cancel-deletes-record"):
                store.erase(call)
        elif call.status != "cancelled":
            if store.fault("cancel-422"):
                raise ApiError(422, Code.VALIDATION_ERROR, "Only a queued call can be cancelled.")
            raise ApiError(409, Code.CALL_NOT_CANCELLABLE, "Only a queued call can be cancelled.")
    return answer


def _cache_expired(store: Store, call: Call) -> bool:
    """Fault "repeat-cancel-after-pause-409": the response cache answers repeats for 1 s; then the state machine."""
    return store.clock() - store.cancelled_at.get(call.call_id, float("-inf")) > 1.0


DELETABLE_BY_FAULT = {
    "delete-queued": ("queued",),
    "delete-cancelled": ("cancelled",),
    "delete-failed": ("failed",),
    "delete-in-flight": ("initiated", "ringing", "in_progress"),
}


def _deletable(store: Store, call: Call) -> bool:
    if call.status == "completed" and store.faults:  # "finished" judged from the telephony fields
        if store.fault("empty-transcript-not-deletable") and call.transcript == "[]":
            return False
        if store.fault("zero-duration-not-deletable") and not call.duration_seconds:
            return False
    status = call.status
    return status == "completed" or any(store.fault(f) and status in s for f, s in DELETABLE_BY_FAULT.items())


def _deleted_already(store: Store, org_id: str, call_id: str, via_webhook: bool) -> bool:
    """Whether a fault answers this repeat delete as a success (or crashes on it)."""
    org_and_time = store.deleted_at.get(call_id)
    if org_and_time is None or org_and_time[0] != org_id:
        return False
    since = store.clock() - org_and_time[1]
    if store.fault("repeat-delete-after-pause-500") and since > 0.5:  # the deleted-ids cache expired
        raise ApiError(500, Code.INTERNAL_ERROR, "Internal server error.")  # a dangling index entry
    return (store.fault("repeat-delete-grace-200") and since < 2.0) or (
        via_webhook and store.fault("webhook-repeat-delete-200")  # "webhook handlers must be idempotent"
    )


def delete_call(store: Store, org_id: str, call_id: str, *, via_webhook: bool = False) -> dict[str, Any]:
    """A completed call is erased with all its PII; anything else is 404 and left untouched."""
    deleted: dict[str, Any] = {"data": {"call_id": call_id, "deleted": True}}
    if store.faults:
        if store.fault("deleted-string-true"):
            deleted["data"]["deleted"] = "true"
        if store.fault("delete-call-id-hex"):
            deleted["data"]["call_id"] = call_id.replace("-", "")  # the ORM's UUID.hex
    any_org = store.fault("cross-org-delete") or (via_webhook and store.fault("webhook-any-org"))
    if via_webhook and store.fault("mixed-transport-delete-race"):
        return _hook_delete(store, org_id, call_id, deleted)
    with store.lock:
        if store.fault("repeat-delete-200") and call_id in store.tombstones:
            return deleted
        if store.deleted_at and _deleted_already(store, org_id, call_id, via_webhook):
            return deleted
        call = _find(store, org_id, call_id, DELETE_NOT_FOUND_MESSAGE, any_org=any_org)
        if not _deletable(store, call):
            if store.fault("refused-delete-side-effect"):
                call.contact_name = None
            raise _not_found(DELETE_NOT_FOUND_MESSAGE)
        if store.fault("soft-delete") or (via_webhook and store.fault("webhook-delete-noop")):
            return deleted
        if store.fault("null-contact-delete-500") and call.contact_name is None:
            raise ApiError(500, Code.INTERNAL_ERROR, "Internal server error.")  # the audit line: "erased " + name
        if not store.fault("delete-race"):
            store.erase(call)
            if store.fault("null-recording-delete-500") and call.recording_url is None:
                raise ApiError(500, Code.INTERNAL_ERROR, "Internal server error.")  # the recording's purge: None.split
            return deleted
    time.sleep(0.05)  # delete-race: the window between the check and the erase, lock released
    with store.lock:
        if call.call_id in store.calls:
            store.erase(call)
    return deleted


def _hook_delete(store: Store, org_id: str, call_id: str, deleted: dict[str, Any]) -> dict[str, Any]:
    """Fault "mixed-transport-delete-race": the webhook worker serialises its own deletes, not REST's."""
    with store.hook_lock:
        with store.lock:
            call = _find(store, org_id, call_id, DELETE_NOT_FOUND_MESSAGE)
            if not _deletable(store, call):
                raise _not_found(DELETE_NOT_FOUND_MESSAGE)
        time.sleep(0.05)  # the worker's round trip, the store's lock released
        with store.lock:
            if call.call_id in store.calls:
                store.erase(call)
    return deleted
