"""The lifecycle model's predictions, cell by cell, without HTTP (conformance/model.py)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.contract import model
from conformance.contract.model import Auth, ModelCall, Prediction, TargetId, World
from conformance.contract.requirements import REQUIREMENTS, by_id

A_CALL, B_CALL, GONE_CALL = "call_a_1", "call_b_1", "call_a_gone"
BEARER_A = Auth("bearer", "rest", "A", form="bearer")
X_API_KEY_A = Auth("x-api-key", "rest", "A", form="x-api-key")
BEARER_B = Auth("bearer", "rest", "B", form="bearer")
TOKEN_A = Auth("token", "webhook", "A", form="token")
REFUSED = [Auth(kind, "rest", form=kind) for kind in model.REFUSED_KINDS if kind != "unknown-token"]
REFUSED.append(Auth("unknown-token", "webhook", form="token"))


def world(state: str = "queued") -> World:
    found = World()
    found.add(ModelCall(A_CALL, "A", state, {"contact_name": "Zq A"}))
    found.add(ModelCall(B_CALL, "B", "completed", {"contact_name": "Zq B"}))
    found.add(ModelCall(GONE_CALL, "A", None, {"contact_name": "Zq gone"}))
    return found


def existing(call_id: str) -> TargetId:
    return TargetId("existing", call_id, call_id)


NEVER = TargetId("never-existing", "00000000-0000-4000-8000-000000000000")
VARIANT = TargetId("variant", A_CALL.upper(), A_CALL, "case")
SLASH = TargetId("variant", f"%2E%2E%2F{A_CALL}", A_CALL, "dot-slash")
TARGETS = [existing(A_CALL), existing(B_CALL), existing(GONE_CALL), NEVER, VARIANT]


def verdicts(prediction: Prediction, status: int | None, code: str | None = None, body: Any = None) -> dict[str, bool]:
    """Requirement id -> whether this answer meets every expectation of the prediction under it."""
    found: dict[str, bool] = {}
    for expect in prediction.expects:
        holds = expect.holds(status, code, body, A_CALL, prediction.state)
        found[expect.requirement] = found.get(expect.requirement, True) and holds
    return found


def failed(prediction: Prediction, status: int | None, code: str | None = None, body: Any = None) -> set[str]:
    return {r for r, ok in verdicts(prediction, status, code, body).items() if not ok}


CANCELLED_BODY = {"success": True, "call_id": A_CALL, "status": "cancelled", "message": "Cancelled."}
DELETED_BODY = {"data": {"call_id": A_CALL, "deleted": True}}
PAST_QUEUED = ("initiated", "ringing", "in_progress", "completed", "failed")


# -- the cancel-versus-delete table (contract section 5) ------------------------------------------


@pytest.mark.parametrize("auth", [BEARER_A, X_API_KEY_A, TOKEN_A], ids=lambda a: a.kind)
@pytest.mark.parametrize("state", ["queued", "cancelled"])
def test_cancel_queued_or_cancelled_answers_200_and_cancels(auth: Auth, state: str) -> None:
    prediction = model.predict(world(state), auth, "cancel", existing(A_CALL))
    requirement = "CANCEL-QUEUED-200" if state == "queued" else "CANCEL-REPEAT-200"
    assert requirement in verdicts(prediction, 200, body=CANCELLED_BODY)
    assert not failed(prediction, 200, body=CANCELLED_BODY)
    assert requirement in failed(prediction, 200, body={"success": True})  # the body shape counts
    assert prediction.effect == "cancelled"
    assert prediction.victim == A_CALL
    assert prediction.effect_requirement == requirement


@pytest.mark.parametrize("state", PAST_QUEUED)
def test_cancel_past_queued_is_a_4xx_409_should(state: str) -> None:
    prediction = model.predict(world(state), BEARER_A, "cancel", existing(A_CALL))
    assert not failed(prediction, 409, "CALL_NOT_CANCELLABLE")
    assert failed(prediction, 422, "VALIDATION_ERROR") == {"CANCEL-PAST-QUEUED-409"}
    assert failed(prediction, 200, body=CANCELLED_BODY) == {"CANCEL-PAST-QUEUED-REFUSED", "CANCEL-PAST-QUEUED-409"}
    assert by_id("CANCEL-PAST-QUEUED-409").level == "SHOULD"
    assert (prediction.effect, prediction.effect_requirement) == ("unchanged", "CANCEL-PAST-QUEUED-REFUSED")


def test_delete_completed_answers_200_and_the_call_is_gone() -> None:
    found = world("completed")
    prediction = model.predict(found, BEARER_A, "delete", existing(A_CALL))
    assert not failed(prediction, 200, body=DELETED_BODY)
    assert failed(prediction, 200, body={"data": {"call_id": A_CALL}}) == {"DEL-COMPLETED-200"}
    assert failed(prediction, 404, "NOT_FOUND") == {"DEL-COMPLETED-200"}
    assert (prediction.effect, prediction.effect_requirement) == ("gone", "DEL-GONE")
    found.apply(prediction)
    assert found.calls[A_CALL].gone


@pytest.mark.parametrize("state", ["queued", "initiated", "ringing", "in_progress", "failed", "cancelled"])
def test_delete_of_any_other_state_is_404_and_unchanged(state: str) -> None:
    found = world(state)
    prediction = model.predict(found, X_API_KEY_A, "delete", existing(A_CALL))
    assert not failed(prediction, 404, "NOT_FOUND")
    assert failed(prediction, 409, "CALL_NOT_CANCELLABLE") == {"DEL-NOT-COMPLETED-404"}
    assert failed(prediction, 200, body=DELETED_BODY) == {"DEL-NOT-COMPLETED-404"}
    assert (prediction.effect, prediction.effect_requirement) == ("unchanged", "DEL-NOT-COMPLETED-404")
    found.apply(prediction)
    assert found.calls[A_CALL].state == state


@pytest.mark.parametrize("state", model.STATES)
def test_get_of_an_own_call_is_200_with_it(state: str) -> None:
    prediction = model.predict(world(state), BEARER_A, "get", existing(A_CALL))
    data = dict.fromkeys(model.CALL_FIELDS + model.COMPLETED_FIELDS) | {"call_id": A_CALL, "status": state}
    assert not failed(prediction, 200, body={"data": data})
    assert failed(prediction, 200, body={"data": data | {"status": "other"}}) == {"GET-CALL"}
    assert prediction.effect is None


# -- authentication and scope come before existence (section 2) -----------------------------------


@pytest.mark.parametrize("auth", REFUSED, ids=lambda a: a.kind)
def test_a_refused_credential_gets_the_same_401_whatever_the_id(auth: Auth) -> None:
    ops: list[model.Op] = ["cancel", "delete"] if auth.transport == "webhook" else ["get", "cancel", "delete"]
    for op in ops:
        predictions = [model.predict(world("completed"), auth, op, target) for target in TARGETS]
        assert {p.expects for p in predictions} == {
            (model.Expect(auth.refusal or "", frozenset({401}), "UNAUTHORIZED"),)
        }
        assert all(p.refused for p in predictions)
        assert failed(predictions[0], 404, "NOT_FOUND") == {auth.refusal}


def test_a_refused_request_must_leave_the_call_as_it_was() -> None:
    revoked = Auth("revoked", "rest", form="bearer")
    prediction = model.predict(world("completed"), revoked, "delete", existing(A_CALL))
    assert (prediction.effect, prediction.effect_requirement, prediction.victim) == (
        "unchanged",
        "AUTH-REVOKED-401",
        A_CALL,
    )


@pytest.mark.parametrize("op", ["get", "cancel", "delete"])
def test_a_key_without_the_scope_is_refused_403_should_whatever_the_id(op: model.Op) -> None:
    lacking = Auth("lacking-scope", "rest", "A", frozenset({model.SCOPE_OF[op]}), form="bearer")
    for target in TARGETS:
        prediction = model.predict(world("completed"), lacking, op, target)
        assert prediction.refused
        assert not failed(prediction, 403, "FORBIDDEN")
        assert failed(prediction, 401, "UNAUTHORIZED") == {"AUTH-SCOPE-403"}
        assert failed(prediction, 404, "NOT_FOUND") == {"AUTH-SCOPE-REFUSED", "AUTH-SCOPE-403"}


def test_a_key_lacking_another_scope_is_accepted() -> None:
    lacking = Auth("lacking-scope", "rest", "A", frozenset({"calls:delete"}), form="x-api-key")
    prediction = model.predict(world("queued"), lacking, "cancel", existing(A_CALL))
    assert not prediction.refused
    assert [e.requirement for e in prediction.expects] == ["AUTH-X-API-KEY", "CANCEL-QUEUED-200"]


def test_accepted_keys_must_not_get_401() -> None:
    for auth, requirement in [(BEARER_A, "AUTH-BEARER"), (X_API_KEY_A, "AUTH-X-API-KEY")]:
        prediction = model.predict(world("queued"), auth, "get", existing(A_CALL))
        assert failed(prediction, 401, "UNAUTHORIZED") == {requirement, "GET-CALL"}
    both = Auth("both", "rest", "A", form="both")
    assert model.predict(world(), both, "get", NEVER).expects[0].requirement == "AUTH-BEARER"


def test_auth_kinds_know_whether_they_authenticate() -> None:
    with pytest.raises(ValueError, match="needs an org"):
        Auth("bearer", "rest")
    with pytest.raises(ValueError, match="authenticates nobody"):
        Auth("revoked", "rest", "A")
    with pytest.raises(ValueError, match="unknown auth kind"):
        Auth("guess", "rest")
    assert "sk_test_secret" not in repr(Auth("bearer", "rest", "A", headers=(("x-api-key", "sk_test_secret"),)))


# -- tenant isolation, unknown ids, gone calls, variants ------------------------------------------


@pytest.mark.parametrize("op", ["get", "cancel", "delete"])
def test_another_orgs_call_is_404_and_untouched(op: model.Op) -> None:
    found = world()
    prediction = model.predict(found, BEARER_A, op, existing(B_CALL))
    requirements = [e.requirement for e in prediction.expects]
    assert requirements[:2] == ["AUTH-BEARER", "TENANT-404"]
    assert not failed(prediction, 404, "NOT_FOUND")
    assert "TENANT-404" in failed(prediction, 403, "FORBIDDEN")
    if op == "get":
        assert prediction.effect is None
    else:
        assert (prediction.effect, prediction.effect_requirement, prediction.victim) == (
            "unchanged",
            "TENANT-UNTOUCHED",
            B_CALL,
        )
        assert {"cancel": "CANCEL-NOT-FOUND-404", "delete": "DEL-NOT-FOUND-404"}[op] in requirements
    found.apply(prediction)
    assert found.calls[B_CALL].state == "completed"


def test_the_owner_sees_its_own_call_where_the_other_org_sees_none() -> None:
    found = world()
    assert model.predict(found, BEARER_B, "delete", existing(B_CALL)).category == "own"
    assert model.predict(found, BEARER_A, "delete", existing(B_CALL)).category == "foreign"
    hook_b = Auth("token", "webhook", "B", form="token")
    assert model.predict(found, hook_b, "delete", existing(A_CALL)).category == "foreign"


@pytest.mark.parametrize("op", ["get", "cancel", "delete"])
def test_a_gone_call_is_404_for_ever(op: model.Op) -> None:
    prediction = model.predict(world(), BEARER_A, op, existing(GONE_CALL))
    requirements = {e.requirement for e in prediction.expects}
    assert "DEL-GONE" in requirements
    assert ("DEL-REPEAT-404" in requirements) == (op == "delete")
    assert not failed(prediction, 404, "NOT_FOUND")
    assert "DEL-GONE" in failed(prediction, 200, body={"data": {}})
    assert prediction.effect is None


def test_a_gone_call_is_404_over_the_webhook_and_for_the_other_org() -> None:
    over_hook = model.predict(world(), TOKEN_A, "cancel", existing(GONE_CALL))
    assert [e.requirement for e in over_hook.expects] == ["DEL-GONE", "CANCEL-NOT-FOUND-404"]
    foreign = model.predict(world(), BEARER_B, "delete", existing(GONE_CALL))
    assert "DEL-NOT-FOUND-404" in {e.requirement for e in foreign.expects}


@pytest.mark.parametrize("op", ["get", "cancel", "delete"])
def test_a_never_existing_id_is_404(op: model.Op) -> None:
    prediction = model.predict(world(), BEARER_A, op, NEVER)
    assert prediction.category == "never"
    assert not failed(prediction, 404, "NOT_FOUND")
    assert failed(prediction, 200) - {"ID-ODD-404"}
    assert prediction.effect is None


@pytest.mark.parametrize("op", ["get", "cancel", "delete"])
def test_a_variant_resolves_nothing_and_leaves_the_original_alone(op: model.Op) -> None:
    prediction = model.predict(world("in_progress"), BEARER_A, op, VARIANT)
    assert not failed(prediction, 404, "NOT_FOUND")
    assert failed(prediction, 400, "VALIDATION_ERROR") == {"ID-ODD-404"}
    assert "ID-EXACT-MATCH" in failed(prediction, 409, "CALL_NOT_CANCELLABLE")  # it reached a call
    assert "ID-ODD-NO-5XX" in failed(prediction, 500, "INTERNAL_ERROR")
    assert prediction.victim == (None if op == "get" else A_CALL)


def test_a_slash_or_dot_segment_may_be_refused_as_no_route_before_auth() -> None:
    assert not SLASH.routable
    assert not TargetId("variant", "%2E%2E").routable
    unauthenticated = Auth("missing", "rest", form="no header")
    prediction = model.predict(world(), unauthenticated, "delete", SLASH)
    assert prediction.category == "unroutable"
    assert not failed(prediction, 404, "NOT_FOUND")
    assert not failed(prediction, 401, "UNAUTHORIZED")
    assert failed(prediction, 200) >= {"ID-EXACT-MATCH"}
    assert (prediction.effect_requirement, prediction.victim) == ("ID-EXACT-MATCH", A_CALL)
    # In a webhook body the same id is a plain variant: its own auth rules apply.
    assert model.predict(world(), TOKEN_A, "delete", SLASH).category == "variant"


# -- the webhook matches REST (section 6) ---------------------------------------------------------


@pytest.mark.parametrize("state", model.STATES)
@pytest.mark.parametrize("op", ["cancel", "delete"])
def test_the_webhook_is_predicted_as_rest(state: str, op: model.Op) -> None:
    rest = model.predict(world(state), BEARER_A, op, existing(A_CALL))
    hook = model.predict(world(state), TOKEN_A, op, existing(A_CALL))
    assert rest.expects[0].requirement == "AUTH-BEARER"  # keys only
    assert hook.expects == rest.expects[1:]
    assert (hook.effect, hook.effect_requirement, hook.victim) == (rest.effect, rest.effect_requirement, rest.victim)


def test_the_webhook_has_no_get() -> None:
    with pytest.raises(ValueError, match="no get"):
        model.predict(world(), TOKEN_A, "get", existing(A_CALL))


# -- the lifecycle graph, PII and shapes ----------------------------------------------------------


def test_forward_moves_follow_the_lifecycle() -> None:
    assert set(model.forward_moves("queued")) == {"initiated", "ringing", "in_progress", "completed", "failed"}
    assert set(model.forward_moves("ringing")) == {"in_progress", "completed", "failed"}
    assert all(model.forward_moves(s) == () for s in ("completed", "failed", "cancelled", None))
    assert "cancelled" not in {s for state in model.STATES for s in model.forward_moves(state)}


def test_world_refuses_moves_telephony_cannot_make() -> None:
    found = world("completed")
    with pytest.raises(ValueError, match="does not move"):
        found.advance(A_CALL, "queued")
    fresh = world("queued")
    fresh.advance(A_CALL, "in_progress")
    assert fresh.calls[A_CALL].state == "in_progress"


PII = {
    "contact_number": "+919812345678",
    "contact_name": "Zq Person 1",
    "contact_email": "zq.1@example.invalid",
    "additional_info": {"zq_note": "note-1"},
    "transcript": [{"speaker": "contact", "text": "zq transcript 1"}],
    "recording_url": "https://recordings.example.invalid/zq-1.mp3",
}


def test_pii_strings_are_the_unique_values_only() -> None:
    strings = model.pii_strings(PII)
    assert "zq transcript 1" in strings
    assert "note-1" in strings
    assert "contact" not in strings  # the speaker label is no PII of this call


def test_pii_of_keeps_only_pii_fields() -> None:
    assert model.pii_of({"status": "queued", "contact_name": "x"})["contact_name"] == "x"
    assert "status" not in model.pii_of({"status": "queued"})
    assert model.pii_of(None) == {}


def test_body_shapes() -> None:
    assert model.body_ok(None, "anything", A_CALL)
    assert model.body_ok("cancelled", CANCELLED_BODY, A_CALL)
    assert not model.body_ok("cancelled", CANCELLED_BODY | {"call_id": B_CALL}, A_CALL)
    assert not model.body_ok("cancelled", CANCELLED_BODY | {"success": "true"}, A_CALL)
    assert model.body_ok("deleted", DELETED_BODY, A_CALL)
    assert not model.body_ok("deleted", {"data": {"call_id": A_CALL, "deleted": "yes"}}, A_CALL)
    assert not model.body_ok("deleted", [DELETED_BODY], A_CALL)
    data = dict.fromkeys(model.CALL_FIELDS) | {"call_id": A_CALL, "status": "completed"}
    assert not model.body_ok("call", {"data": data}, A_CALL, "completed")  # no transcript
    assert model.body_ok("call", {"data": data | {"status": "queued"}}, A_CALL, "queued")


# -- the catalogue ----------------------------------------------------------------------------------


def test_every_requirement_a_prediction_names_is_checked_and_catalogued() -> None:
    named = set()
    auths = [BEARER_A, X_API_KEY_A, BEARER_B, TOKEN_A, *REFUSED]
    auths.append(Auth("lacking-scope", "rest", "A", frozenset({"calls:read", "calls:cancel", "calls:delete"})))
    for state in model.STATES:
        for auth in auths:
            ops: tuple[model.Op, ...] = (
                ("get", "cancel", "delete") if auth.transport == "rest" else ("cancel", "delete")
            )
            for op in ops:
                for target in [*TARGETS, SLASH]:
                    prediction = model.predict(world(state), auth, op, target)
                    named |= {e.requirement for e in prediction.expects} | {prediction.effect_requirement}
    named.discard(None)
    assert named <= set(model.CHECKED)
    # The state machine checks these by comparing answers, not from one prediction.
    assert set(model.CHECKED) - named == {
        "AUTH-BEFORE-EXISTENCE",
        "DEL-ERASURE",
        "CANCEL-KEEPS-RECORD",
        "HOOK-EQUIVALENCE",
    }
    assert set(model.CHECKED) <= {r.id for r in REQUIREMENTS}


def test_hypothesis_prints_no_credential() -> None:
    from hypothesis.vendor.pretty import pretty

    auth = Auth("bearer", "rest", "A", form="bearer", headers=(("x-api-key", "sk_test_secret"),), token="whk_x")
    assert "sk_test_secret" not in pretty(auth)
    assert "whk_x" not in pretty(auth)
    assert "kind='bearer'" in pretty(auth)
