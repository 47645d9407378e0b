"""What the contract predicts for each operation on the lifecycle model's calls (contract
sections 2 to 6).

Plain data, no HTTP and no hypothesis: `predict(world, auth, op, target)` says which statuses,
error code and body shape the answer may have, under which requirement ids (MUST ones first),
and what the operation does to the call. The state machine of the lifecycle layer only draws,
sends and compares; every rule of the contract it applies is written here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from conformance.contract.model import (
    ANY_4XX,
    NO_5XX,
    NOT_401,
    NOT_RESOLVED,
    REACHED_CODE,
    SCOPE_OF,
    Auth,
    Category,
    Effect,
    ModelCall,
    Op,
    Shape,
    TargetId,
    World,
    body_ok,
)

__all__ = ["Expect", "Prediction", "predict"]


@dataclass(frozen=True)
class Expect:
    """The answer must have one of `statuses`, the error `code` (if any) and the body `shape`
    (if any); otherwise `requirement` fails."""

    requirement: str
    statuses: frozenset[int]
    code: str | None = None
    shape: Shape | None = None
    not_code: str | None = None  # an error code the answer must not have

    def holds(self, status: int | None, code: str | None, body: Any, call_id: str, state: str | None) -> bool:
        """Whether an answer (status, error code, JSON body) about `call_id` in `state` meets it."""
        code_ok = (self.code is None or code == self.code) and (self.not_code is None or code != self.not_code)
        return status in self.statuses and code_ok and body_ok(self.shape, body, call_id, state)


@dataclass(frozen=True)
class Prediction:
    expects: tuple[Expect, ...]  # checked in order; MUST ones come first
    category: Category
    effect: Effect | None = None  # what happens to `victim`; None: nothing to check
    effect_requirement: str | None = None
    victim: str | None = None  # the live call the request names or imitates
    state: str | None = None  # the victim's state before the request
    refused: bool = False  # refused by authentication or scope: must not depend on the id


def _e(
    requirement: str, statuses: frozenset[int] | set[int], code: str | None = None, shape: Shape | None = None
) -> Expect:
    return Expect(requirement, frozenset(statuses), code, shape)


def _not_found(requirement: str) -> Expect:
    return _e(requirement, {404}, "NOT_FOUND")


_OP_NOT_FOUND: dict[str, tuple[Expect, ...]] = {
    "get": (),
    "cancel": (_not_found("CANCEL-NOT-FOUND-404"),),
    "delete": (_not_found("DEL-NOT-FOUND-404"),),
}


def _own(op: str, state: str) -> tuple[tuple[Expect, ...], Effect | None, str | None]:
    """The cancel-versus-delete table (section 5) for the caller's own live call."""
    if op == "get":
        return (_e("GET-CALL", {200}, shape="call"),), None, None
    if op == "cancel" and state == "queued":
        return (_e("CANCEL-QUEUED-200", {200}, shape="cancelled"),), "cancelled", "CANCEL-QUEUED-200"
    if op == "cancel" and state == "cancelled":
        return (_e("CANCEL-REPEAT-200", {200}, shape="cancelled"),), "cancelled", "CANCEL-REPEAT-200"
    if op == "cancel":
        refused = _e("CANCEL-PAST-QUEUED-REFUSED", ANY_4XX)
        return (refused, _e("CANCEL-PAST-QUEUED-409", {409}, "CALL_NOT_CANCELLABLE")), "unchanged", refused.requirement
    if state == "completed":
        return (_e("DEL-COMPLETED-200", {200}, shape="deleted"),), "gone", "DEL-GONE"
    return (_not_found("DEL-NOT-COMPLETED-404"),), "unchanged", "DEL-NOT-COMPLETED-404"


def _odd(allowed: frozenset[int] = frozenset({404})) -> tuple[Expect, ...]:
    """An id that is not exactly a visible call's (section 3): no 5xx, resolves nothing, SHOULD 404."""
    return (
        _e("ID-ODD-NO-5XX", NO_5XX),
        Expect("ID-EXACT-MATCH", NOT_RESOLVED, not_code=REACHED_CODE),
        _e("ID-ODD-404", allowed, "NOT_FOUND" if allowed == {404} else None),
    )


def _gone(op: str, owner: bool) -> tuple[Expect, ...]:
    if op == "delete":
        return (_not_found("DEL-GONE"), _not_found("DEL-REPEAT-404" if owner else "DEL-NOT-FOUND-404"))
    return (_not_found("DEL-GONE"), *_OP_NOT_FOUND[op])


def _unroutable(auth: Auth, op: str, victim: ModelCall | None) -> Prediction:
    allowed = {404} | ({401} if auth.refusal else set()) | ({401, 403} if SCOPE_OF[op] in auth.lacks else set())
    return _with_effect(Prediction(_odd(frozenset(allowed)), "unroutable"), op, victim, "ID-EXACT-MATCH")


def _refused(auth: Auth, op: str, category: Category, victim: ModelCall | None) -> Prediction:
    assert auth.refusal is not None
    expects = (_e(auth.refusal, {401}, "UNAUTHORIZED"),)
    return _with_effect(Prediction(expects, category, refused=True), op, victim, auth.refusal)


def _scope_refused(op: str, category: Category, victim: ModelCall | None) -> Prediction:
    expects = (_e("AUTH-SCOPE-REFUSED", {401, 403}), _e("AUTH-SCOPE-403", {403}, "FORBIDDEN"))
    return _with_effect(Prediction(expects, category, refused=True), op, victim, "AUTH-SCOPE-REFUSED")


def _with_effect(prediction: Prediction, op: str, victim: ModelCall | None, requirement: str) -> Prediction:
    """A request that must not change `victim`; GET changes nothing, so nothing to check then."""
    if victim is None or victim.gone or op == "get":
        return prediction
    return replace(prediction, effect="unchanged", effect_requirement=requirement, victim=victim.call_id)


def _own_call(op: str, call: ModelCall) -> Prediction:
    """The same over REST and the webhook: the webhook answers and acts as REST does (section 6)."""
    state = call.state or ""
    expects, effect, requirement = _own(op, state)
    return Prediction(expects, "own", effect, requirement, call.call_id, state)


def _accepted(auth: Auth, op: str, category: Category, call: ModelCall | None) -> Prediction:
    """The answer to an authenticated caller with the operation's scope."""
    if category == "own" and call is not None:
        return _own_call(op, call)
    if category == "variant":
        return _with_effect(Prediction(_odd(), category), op, call, "ID-EXACT-MATCH")
    if category == "foreign":
        expects = (_not_found("TENANT-404"), *_OP_NOT_FOUND[op])
        return _with_effect(Prediction(expects, category), op, call, "TENANT-UNTOUCHED")
    if category == "gone" and call is not None:
        return Prediction(_gone(op, call.org == auth.org), category)
    return Prediction(_OP_NOT_FOUND[op] or _odd(), category)


def predict(world: World, auth: Auth, op: Op, target: TargetId) -> Prediction:
    """What the contract says `op` on `target` by `auth` answers and does, in `world` as it is."""
    if op == "get" and auth.transport == "webhook":
        raise ValueError("the webhook has no get")
    category = world.category(auth, target)
    call = world.calls.get(target.call or "")
    if category == "unroutable":
        return _unroutable(auth, op, call)
    if auth.refusal:
        return _refused(auth, op, category, call)
    if SCOPE_OF[op] in auth.lacks:
        return _scope_refused(op, category, call)
    prediction = _accepted(auth, op, category, call)
    if auth.transport == "rest":
        prediction = replace(prediction, expects=(_e(auth.acceptance, NOT_401), *prediction.expects))
    return prediction
