"""Contract section 5: creating and reading calls, and the Idempotency-Key."""

from __future__ import annotations

import json
from typing import Any

from conformance.contract import model
from conformance.contract.model import CALL_FIELDS
from conformance.layers.checks import check
from conformance.layers.context import Context
from conformance.layers.properties._common import Sample
from conformance.target import calls

INVALID_BODIES: dict[str, Any] = {
    "empty object": {},
    "no contact_number": {"agent_id": "agent_conformance"},
    "no agent_id": {"contact_number": "+919800000000"},
    "empty agent_id": {"agent_id": "", "contact_number": "+919800000000"},
    "non-Indian number": {"agent_id": "agent_conformance", "contact_number": "+1234567890"},
    "short number": {"agent_id": "agent_conformance", "contact_number": "+91980000000"},
    **{f"number with {name}": {**calls.CREATE_BODY, "contact_number": n} for name, n in calls.LOOSE_NUMBERS.items()},
    "agent_id of wrong type": {"agent_id": 7, "contact_number": "+919800000000"},
    "additional_info of wrong type": {**calls.CREATE_BODY, "additional_info": ["x"]},
    "array": [calls.CREATE_BODY],
}
# Missing fields, bad values, wrong types: in `INVALID_BODIES` order.
INVALID_KINDS = (
    ("empty object", "no contact_number", "no agent_id"),
    ("empty agent_id", "non-Indian number", "short number", *(f"number with {name}" for name in calls.LOOSE_NUMBERS)),
    ("agent_id of wrong type", "additional_info of wrong type", "array"),
)


# What a create may carry (contract section 5), each form read back by GET as it was sent: empty
# strings are not null, nested objects and lists stay nested, text beyond the BMP and over 255
# characters stays whole. In `Sample.one` order; sampled, one drawn.
CREATE_FORMS: dict[str, dict[str, Any]] = {
    "typical": {"contact_name": "Conformance Create", "additional_info": {"k": "v"}},
    "empty": {"contact_name": "", "contact_email": "", "additional_info": {}},
    "rich": {
        "contact_name": "Conformance \U0001f4de " + "x" * 300,
        "contact_email": "conformance+rich@example.invalid",
        "additional_info": {"nested": {"deep": [{"leaf": "\U0001f600"}, 1, True, None]}, "empty": {}, "list": []},
    },
}


@check("create_call", "CREATE-201-QUEUED", "CREATE-VALIDATION-400", "GET-CALL")
def create_call(ctx: Context) -> None:
    """A valid create, in each form of `CREATE_FORMS`, answers 201 with a queued call that GET then
    shows as it was sent; invalid bodies get 400."""
    sample = Sample(ctx, "create_call")
    for form in sample.one(list(CREATE_FORMS)):
        _create_and_read(ctx, {**calls.CREATE_BODY, **CREATE_FORMS[form]}, form)
    for name in sample.each(INVALID_KINDS):
        invalid = INVALID_BODIES[name]
        answer = ctx.env.note_created(
            ctx.client.request("POST", "/v1/calls", headers=ctx.env.a.auth(), json_body=invalid)
        )
        ctx.expect_answer("CREATE-VALIDATION-400", answer, [400], "VALIDATION_ERROR", what=name)


def _create_and_read(ctx: Context, body: dict[str, Any], form: str) -> None:
    a = ctx.env.a
    created = ctx.env.note_created(calls.create(ctx.client, a.auth(), body))
    ctx.expect_answer("CREATE-201-QUEUED", created, [201], what=f"create ({form})")
    data = (created.json() or {}).get("data") if isinstance(created.json(), dict) else None
    ok = isinstance(data, dict) and data.get("status") == "queued" and isinstance(data.get("call_id"), str)
    ctx.expect(
        "CREATE-201-QUEUED",
        ok,
        f'create ({form}) answered {created.response_body[:200]!r}, not {{"data": queued Call}}',
        created,
    )
    if not ok:
        return
    assert isinstance(data, dict)  # narrowed by `ok`
    shown = calls.get(ctx.client, data["call_id"], a.auth())
    ctx.expect_answer("GET-CALL", shown, [200], what=f"get of a created call ({form})")
    seen = (shown.json() or {}).get("data") if isinstance(shown.json(), dict) else None
    missing = sorted(set(CALL_FIELDS) - set(seen or {}))
    ctx.expect("GET-CALL", not missing, f"GET of a call lacks {missing}", shown)
    changed = sorted(k for k, v in body.items() if not isinstance(seen, dict) or not _same(seen.get(k), v))
    ctx.expect("GET-CALL", not changed, f"GET shows {changed} otherwise than the create ({form}) sent", created, shown)


def _same(shown: Any, sent: Any) -> bool:
    """Equal as JSON values: `true` is not `1`, `""` is not null, and key order does not matter."""
    return json.dumps(shown, sort_keys=True) == json.dumps(sent, sort_keys=True)


@check("idempotent_create", "CREATE-IDEMPOTENT", "DEL-ERASURE", "DEL-GONE")
def idempotent_create(ctx: Context) -> None:
    """The same Idempotency-Key and body give the same call; the same key with another body, 409; once
    that call is deleted, a replay never answers it (nor its PII)."""
    a = ctx.env.a
    key = f"husky-conformance-{ctx.config.seed}-{ctx.env.rng.getrandbits(64):016x}"
    pii = ctx.env.pii("-idem")
    body = {"agent_id": ctx.env.agent_id} | {k: pii[k] for k in REPLAYED}
    first = ctx.env.note_created(calls.create(ctx.client, a.auth(), body, **{"Idempotency-Key": key}))
    again = calls.create(ctx.client, a.auth(), body, **{"Idempotency-Key": key})
    ctx.expect_answer("CREATE-IDEMPOTENT", again, [201], what="replay of the same key and body")
    ctx.expect(
        "CREATE-IDEMPOTENT",
        _call_id(first) is not None and _call_id(first) == _call_id(again),
        f"replay created another call ({_call_id(first)} then {_call_id(again)})",
        first,
        again,
    )
    other = {**calls.CREATE_BODY, "contact_name": "Another Body"}
    conflict = ctx.env.note_created(calls.create(ctx.client, a.auth(), other, **{"Idempotency-Key": key}))
    ctx.expect_answer("CREATE-IDEMPOTENT", conflict, [409], "IDEMPOTENCY_CONFLICT", what="same key, other body")
    created = _call_id(first)
    if ctx.env.can_seed_any_state and isinstance(created, str) and not ctx.env.guard.reused(created):
        _replay_after_delete(ctx, key, body, created)


REPLAYED = ("contact_number", "contact_name", "contact_email", "additional_info")


def _call_id(exchange: Any) -> Any:
    body = exchange.json()
    return body.get("data", {}).get("call_id") if isinstance(body, dict) else None


def _replay_after_delete(ctx: Context, key: str, body: dict[str, Any], call_id: str) -> None:
    """The call completes and is deleted; the same key and body again: whatever the target answers
    (a new call, 409, ...), never the deleted call, and never it with its PII."""
    a = ctx.env.a
    ctx.env.advance(call_id, "completed")
    deleted = calls.rest(ctx.client, "delete", call_id, a.auth())
    ctx.expect_answer("DEL-ERASURE", deleted, [200], what="delete of a call made with an Idempotency-Key")
    replay = ctx.env.note_created(calls.create(ctx.client, a.auth(), body, **{"Idempotency-Key": key}))
    names = _call_id(replay) == call_id
    leaked = sorted(v for v in model.pii_strings(body) if v.encode() in replay.response_body)
    what = "an Idempotency-Key replay after the call was deleted answered the deleted call"
    ctx.expect("DEL-ERASURE", not (names and leaked), f"{what}, with its PII {leaked[:3]}", deleted, replay)
    ctx.expect("DEL-GONE", not names, what, deleted, replay)
