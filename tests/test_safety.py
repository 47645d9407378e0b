"""The guard (`conformance.target.safety`) and the claims (`conformance.target.claims`): which ids a cancel or a
delete may name on a shared target, and how an id a target answered twice is found and left alone."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from conformance.errors import NotExercised, UnsafeRequest
from conformance.http.client import Exchange
from conformance.target.claims import Claims
from conformance.target.safety import Guard, IdAlphabet

URL = "http://127.0.0.1:9/v1"


def _guard(*owned: str, isolated: bool = False) -> Guard:
    guard = Guard(destructive_allowed=True, isolated=isolated)
    for call_id in owned:
        guard.own(call_id)
    return guard


def test_the_guard_sends_cancels_and_deletes_only_to_ids_that_are_no_one_elses() -> None:
    guard = _guard("call_1023")
    guard.check("DELETE", "/v1/calls/call_1023", None)
    guard.check("GET", "/v1/calls/call_1022", None)  # reading is never refused
    with pytest.raises(UnsafeRequest, match="call_1022"):
        guard.check("POST", "/v1/calls/call_1022/cancel", None)
    hook = json.dumps({"action": "call.delete", "data": {"call_id": "call_102"}}).encode()
    with pytest.raises(UnsafeRequest, match="call_102"):
        guard.check("POST", "/v1/hooks/whk_x", hook)
    guard.destructive_allowed = False
    with pytest.raises(NotExercised, match="--allow-destructive"):
        guard.check("DELETE", "/v1/calls/call_1023", None)
    guard.check("DELETE", "/v1/calls/call_1023", None, cleanup=True)  # the clean-up of its own calls


@pytest.mark.parametrize(
    ("delete", "cancel"),
    [
        ("/v1/calls/{id}/", "/v1/calls/{id}/cancel/"),
        ("//v1/calls/{id}", "//v1/calls/{id}/cancel"),
        ("/v1//calls/{id}", "/v1/calls/{id}//cancel"),
        ("/V1/CALLS/{id}", "/V1/calls/{id}/CANCEL"),
        ("/v1/./calls/{id}", "/v1/calls/./{id}/cancel"),
        ("/v1/calls/{id};v=1", "/v1/calls/{id};v=1/cancel"),
        ("/v1/calls/{id}?x=1", "/v1/calls/{id}/cancel?x=1"),
    ],
)
def test_every_spelling_of_a_call_route_is_guarded_as_the_route(delete: str, cancel: str) -> None:
    """A lenient router may take each spelling for the route itself (route_variants sends them): a
    delete or cancel of another's call (call_1022, on a target that numbers its calls) is refused in
    every spelling, and one of the suite's own calls is sent."""
    guard = _guard("call_1023")
    for method, path in (("DELETE", delete), ("POST", cancel)):
        with pytest.raises(UnsafeRequest, match="call_1022"):
            guard.check(method, path.format(id="call_1022"), None)
        guard.check(method, path.format(id="call_1023"), None)
    with pytest.raises(UnsafeRequest, match="call_1022"):  # every byte percent-encoded
        guard.check("DELETE", "/v1/calls/%63%61%6C%6C%5F%31%30%32%32", None)


@pytest.mark.parametrize(
    ("near_miss", "destroyable"),
    [
        ("call_102", False),  # a truncation: call 102 exists on a target that numbers its calls
        ("call_10234", False),  # an extension with a digit the suite has not seen yet: still a digit
        ("call_1023zq", False),  # lower-case letters are in the alphabet
        ("call_1", False),
        ("c", False),
        ("CALL_1023", True),  # no id of this target has an upper-case letter
        (" call_1023", True),  # nor whitespace
        ("call_1023/..", True),
        ("call%2D1023", True),  # a double encoding keeps a `%`
        ("call\u20101023", True),
        ("call_1023f00dfeedc0ffee12", False),  # in the alphabet: only crafted ids of this form are safe
    ],
)
def test_a_near_miss_of_an_own_id_is_destroyable_only_outside_the_targets_alphabet(
    near_miss: str, destroyable: bool
) -> None:
    assert _guard("call_1023", "call_1025").may_destroy(near_miss) is destroyable
    assert _guard("call_1023", isolated=True).may_destroy(near_miss)  # nothing else lives there


def test_nothing_is_outside_an_alphabet_before_the_first_id() -> None:
    assert not IdAlphabet().outside("CALL 1")
    assert not _guard().may_destroy(" anything")


def test_ids_with_64_random_bits_the_suite_drew_are_destroyable() -> None:
    guard = _guard("call_1023")
    guard.craft("call_1023f00dfeedc0ffee12")
    assert guard.may_destroy("call_1023f00dfeedc0ffee12")
    guard.check("DELETE", "/v1/calls/call_1023f00dfeedc0ffee12", None)


def test_a_reused_id_is_never_cancelled_or_deleted_even_when_owned_and_isolated() -> None:
    guard = _guard("call_7", isolated=True)
    guard.reuse("call_7")
    assert not guard.may_destroy("call_7")
    assert not guard.owned("call_7")
    assert not guard.vouched("call_7")
    for cleanup in (False, True):
        with pytest.raises(NotExercised, match="ID-NEVER-REUSED"):
            guard.check("DELETE", "/v1/calls/call_7", None, cleanup=cleanup)


# --- claims ---------------------------------------------------------------------------------------


def _create(call_id: str, number: str = "+919800000001", key: str | None = None, status: int = 201) -> Exchange:
    headers = {"Authorization": "Bearer k"} | ({"Idempotency-Key": key} if key else {})
    body = json.dumps({"agent_id": "a", "contact_number": number}).encode()
    answer = json.dumps({"data": {"call_id": call_id, "status": "queued", "contact_number": number}}).encode()
    return Exchange("POST", f"{URL}/calls", headers, body, status, {}, answer)


def _hook_create(call_id: str) -> Exchange:
    body = json.dumps({"action": "call.create", "data": {"agent_id": "a", "contact_number": "+919800000002"}})
    answer = json.dumps({"success": True, "call_id": call_id, "status": "queued", "message": "ok"}).encode()
    return Exchange("POST", f"{URL}/hooks/whk_t", {}, body.encode(), 200, {}, answer)


def _get(call_id: str, number: str) -> Exchange:
    answer = json.dumps({"data": {"call_id": call_id, "status": "queued", "contact_number": number}}).encode()
    return Exchange("GET", f"{URL}/calls/{call_id}", {}, None, 200, {}, answer)


def _claims(guard: Guard, pii_of: dict[str, dict[str, str]] | None = None) -> Claims:
    return Claims(guard, pii_of or {}, {})


def test_an_id_answered_for_two_creates_fails_and_is_left_alone() -> None:
    guard = _guard()
    claims = _claims(guard)
    first, second = _create("call_5"), _hook_create("call_5")
    assert [holds for holds, _, _ in claims.judge(first)] == [True]
    [(holds, title, evidence)] = claims.judge(second)
    assert not holds
    assert "call_5" in title
    assert evidence == (first, second)
    assert guard.reused("call_5")


def test_an_idempotent_replay_is_the_same_call_rightly() -> None:
    guard = _guard()
    claims = _claims(guard)
    claims.judge(_create("call_5", key="k1"))
    assert claims.judge(_create("call_5", key="k1"))[0][0]  # same key, same body
    assert claims.judge(_create("call_5", "+919800000009", key="k1"))[0][0]  # another body: CREATE-IDEMPOTENT's
    first_call = _create("call_5", key="k1").response_body  # a replay answers the call the first create made
    assert claims.judge(replace(_create("call_5", "+919800000009", key="k1"), response_body=first_call))[0][0]
    assert not guard.reused("call_5")
    assert not claims.judge(_create("call_5", key="k2"))[0][0]  # another key: a new call, so a new id
    assert guard.reused("call_5")


def test_the_same_idempotency_key_under_another_organisations_key_is_no_replay() -> None:
    """A key is its organisation's own: B's create with A's key and body answered with A's call is id reuse."""
    guard = _guard()
    claims = _claims(guard)
    claims.judge(_create("call_6", key="k1"))
    as_x_api_key = replace(_create("call_6", key="k1"), headers={"x-api-key": "k", "Idempotency-Key": "k1"})
    assert claims.judge(as_x_api_key)[0][0]  # the same key by the other header: the same caller
    by_b = replace(_create("call_6", key="k1"), headers={"Authorization": "Bearer b", "Idempotency-Key": "k1"})
    assert not claims.judge(by_b)[0][0]
    assert guard.reused("call_6")


def test_a_create_answer_showing_another_calls_contact_number_fails() -> None:
    guard = _guard()
    created = _create("call_5")
    foreign = Exchange(
        created.method,
        created.url,
        created.headers,
        created.body,
        201,
        {},
        _get("call_5", "+919811111111").response_body,
    )
    [(holds, title, _)] = _claims(guard).judge(foreign)
    assert not holds
    assert "+919811111111" in title
    assert guard.reused("call_5")


def test_a_get_of_an_own_call_showing_another_calls_data_marks_the_id_reused() -> None:
    guard = _guard("call_5", "call_6")
    claims = _claims(guard, {"call_5": {"contact_number": "+919800000001"}, "call_6": {"contact_number": "+91980"}})
    assert claims.judge(_get("call_5", "+919800000001"))[0][0]
    assert not guard.reused("call_5")
    assert not claims.judge(_get("call_6", "+919899999999"))[0][0]
    assert guard.reused("call_6")
    assert not guard.may_destroy("call_6")
    assert claims.judge(_get("call_9", "+919899999999")) == []  # not the suite's call: nothing to judge
