"""The lifecycle state machine: it seeds calls of two organisations, moves them forward, and gets,
cancels and deletes them over REST and the webhook with drawn ids and credentials; after every
step the answer and the call's new state are compared with `conformance.contract.model`'s
prediction (contract sections 2 to 6). The machine only draws, calls and compares: the model
predicts. The order and names of its rules are what hypothesis draws from: keep them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import cast
from urllib.parse import quote

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from conformance.contract import model
from conformance.contract.model import Auth, ModelCall, TargetId
from conformance.contract.predictions import Prediction, predict
from conformance.http.client import Exchange
from conformance.layers import seed_data, strategies
from conformance.layers.context import Context, answered
from conformance.layers.lifecycle.steps import (
    ACTING_OP,
    OPS,
    VALID_KEY_KINDS,
    Step,
    auth_draws,
    changed,
    data_of,
    describe_statuses,
    distinct,
    signature,
    unique,
)
from conformance.target import calls
from conformance.target.safety import segment_id

__all__ = ["LifecycleMachine"]


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        env = ctx.env
        self.world = model.World()
        self.tenants = {t.name: t for t in (env.a, env.b)}
        self.seedable = [t.name for t in (env.a, env.b) if t.key and (t.org_id or not env.can_seed_any_state)]
        # Completed and queued calls first, where delete and cancel act: shrinking goes to them.
        self.states = ("completed", "queued", *model.STATES) if env.can_seed_any_state else ("queued", "cancelled")
        self.auths = auth_draws([env.a, env.b])
        self.transports = ["rest", "webhook"] if "token" in self.auths else ["rest"]
        self.twin_auths = {
            t.name: (
                strategies.rest_auths([t], kinds=VALID_KEY_KINDS),
                strategies.hook_auths([t], kinds=["token"]),
            )
            for t in (env.a, env.b)
            if t.name in self.seedable and t.webhook_token
        }
        self.last: Step | None = None
        self.trail: dict[str, list[Exchange]] = {}  # call id -> the exchanges that made its state
        self.refusals: dict[tuple[str, ...], Exchange] = {}  # the first answer to each refused caller
        self.not_found: dict[tuple[str, ...], Exchange] = {}  # the first 404 per (case, op, caller)
        self.seen: list[Exchange] = []
        ctx.client.observers.append(self.seen.append)

    def teardown(self) -> None:
        self.ctx.client.observers.remove(self.seen.append)

    # -- rules ----------------------------------------------------------------------------------

    @initialize(data=st.data())
    def first_call(self, data: st.DataObject) -> None:
        self._seed(data)

    @rule(data=st.data())
    def seed(self, data: st.DataObject) -> None:
        self._seed(data)

    @precondition(
        lambda self: self.ctx.env.can_seed_any_state and any(model.forward_moves(c.state) for c in self.world)
    )
    @rule(data=st.data())
    def advance(self, data: st.DataObject) -> None:
        movable = [c.call_id for c in self.world if model.forward_moves(c.state)]
        call = self.world.calls[data.draw(st.sampled_from(movable), label="call")]
        # Furthest first, so that a shrunk run jumps to a state rather than walking to it.
        state = data.draw(st.sampled_from(model.forward_moves(call.state)[::-1]), label="to")
        self.seen.clear()
        self.ctx.env.advance(call.call_id, state)
        self.trail[call.call_id] += self.seen
        self.world.advance(call.call_id, state)
        with distinct():
            self._refresh(call)

    @rule(data=st.data())
    def rest_op(self, data: st.DataObject) -> None:
        """A valid key (Bearer, x-api-key or both) on a call: mostly the caller's own."""
        self._operate(data, "rest", ids="existing")

    @precondition(lambda self: "token" in self.auths)
    @rule(data=st.data())
    def hook_op(self, data: st.DataObject) -> None:
        """A valid webhook token on a call: mostly the caller's own."""
        self._operate(data, "webhook", ids="existing")

    @rule(data=st.data())
    def odd_id(self, data: st.DataObject) -> None:
        """A valid credential on an id that only looks like a call's, or that names none."""
        self._operate(data, data.draw(st.sampled_from(self.transports), label="transport"), ids="odd")

    @rule(data=st.data())
    def refused(self, data: st.DataObject) -> None:
        """A credential that must be refused (or lacks a scope) on a call and then on any id:
        the same answer whatever the id, since authentication comes before existence."""
        transport = data.draw(st.sampled_from(["rest", "webhook"]), label="transport")
        auth = data.draw(self.auths[f"refused {transport}"], label="auth")
        for ids in ("existing", "any"):
            target = data.draw(self._targets(ids, auth), label="id")
            self._perform(Step(auth, data.draw(self._ops(transport, target, auth), label="op"), target))

    @precondition(lambda self: bool(self._pairs()))
    @rule(data=st.data())
    def twins(self, data: st.DataObject) -> None:
        """Two own calls in one state: the same operation on one over REST, on the other over the
        webhook; both must answer alike (HOOK-EQUIVALENCE), and as the model says."""
        pair = [self.world.calls[c] for c in data.draw(st.sampled_from(self._pairs()), label="calls")]
        key, token = (data.draw(auths, label="auth") for auths in self.twin_auths[pair[0].org])
        op, state = data.draw(self._ops("webhook", strategies.exactly(pair[0].call_id)), label="op"), pair[0].state
        rest = self._perform(Step(key, op, strategies.exactly(pair[0].call_id)))
        hook = self._perform(Step(token, op, strategies.exactly(pair[1].call_id)))
        rest_is, hook_is = signature(rest, pair[0].call_id), signature(hook, pair[1].call_id)
        title = f"{op} of a {state} call: REST answered {rest_is}, the webhook {hook_is}"
        evidence = unique((*self._evidence(pair[0].call_id, rest), *self._evidence(pair[1].call_id, hook)))
        with distinct():
            self.ctx.expect("HOOK-EQUIVALENCE", rest_is == hook_is, title, *evidence)

    def _pairs(self) -> list[tuple[str, str]]:
        """Two live calls of one organisation in one state, for each such group."""
        groups: dict[tuple[str, str], list[str]] = {}
        for call in self.world.live():
            if call.org in self.twin_auths:
                groups.setdefault((call.org, call.state or ""), []).append(call.call_id)
        return [(ids[0], ids[1]) for ids in groups.values() if len(ids) > 1]

    @precondition(lambda self: self.last is not None)
    @rule()
    def repeat(self) -> None:
        assert self.last is not None
        self._perform(self.last)

    # -- drawing --------------------------------------------------------------------------------

    def _seed(self, data: st.DataObject) -> ModelCall:
        org, state = self._draw_org(data), self._draw_state(data)
        shape = data.draw(seed_data.data_shapes(), label="data")  # null, empty, long, non-BMP, nested...
        with distinct():
            return self._new_call(org, state, shape)

    def _draw_org(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(self.seedable), label="org")

    def _draw_state(self, data: st.DataObject) -> str:
        return data.draw(st.one_of(st.sampled_from(self.states[:2]), st.sampled_from(self.states)), label="state")

    def _new_call(self, org: str, state: str, shape: dict[str, str]) -> ModelCall:
        tenant, pii = self.tenants[org], seed_data.shaped_pii(self.ctx.env.pii("-lifecycle"), shape)
        if not self.ctx.env.can_seed_any_state:  # through POST /v1/calls: no null fields
            pii = {k: v for k, v in pii.items() if v is not None}
        self.seen.clear()
        call_id = self.ctx.env.seed_call(tenant, state, pii)
        setup = self.ctx.env.setup.get(call_id)
        self.trail[call_id] = [e for e in self.seen if e is not setup]
        call = ModelCall(call_id, cast(model.Org, tenant.name), state, pii)
        self.world.add(call)
        self._refresh(call)
        return call

    def _operate(self, data: st.DataObject, transport: str, *, ids: str) -> None:
        auth = data.draw(self.auths["key" if transport == "rest" else "token"], label="auth")
        target = data.draw(self._targets(ids, auth), label="id")
        self._perform(Step(auth, data.draw(self._ops(transport, target), label="op"), target))

    def _ops(self, transport: str, target: TargetId, auth: Auth | None = None) -> st.SearchStrategy[model.Op]:
        """Any operation, but half the time the one that matters: one the key lacks the scope
        for, or the one that acts on the call's state."""
        call = self.world.calls.get(target.call or "")
        acting = ACTING_OP.get(call.state or "") if call is not None and target.kind == "existing" else None
        lacking = [op for op in OPS[transport] if auth is not None and model.SCOPE_OF[op] in auth.lacks]
        preferred = lacking[0] if lacking else acting
        ops = st.sampled_from(OPS[transport])
        return st.one_of(st.just(preferred), ops) if preferred else ops

    def _targets(self, ids: str, auth: Auth) -> st.SearchStrategy[TargetId]:
        """ "existing": exactly a call's id; "odd": a variant of one, or a never-existing id; "any"."""
        known, taken = self._calls(auth), self._taken()
        if ids == "existing":
            return strategies.existing_ids(known)
        if ids == "odd":
            return strategies.variant_ids(known, taken=taken) | strategies.never_existing_ids(taken=taken)
        return strategies.target_ids(known, taken=taken)

    def _calls(self, auth: Auth) -> st.SearchStrategy[str]:
        """The caller's own live calls half the time, else any call: the other organisation's,
        deleted ones, own ones."""
        own = [c.call_id for c in self.world.live() if c.org == auth.org]
        every = [c.call_id for c in self.world]
        return st.one_of(st.sampled_from(own), st.sampled_from(every)) if own else st.sampled_from(every)

    def _taken(self) -> Collection[str]:
        return self.ctx.env.ledger.entries.keys()  # the ids of `env.created`, without a copy at every draw

    # -- sending and comparing ------------------------------------------------------------------

    def _request(self, step: Step) -> Exchange:
        target, auth = step.target, step.auth
        if auth.transport == "webhook":
            assert auth.token is not None
            exchange = calls.hook(self.ctx.client, auth.token, step.op, {"call_id": target.decoded})
        else:
            exchange = calls.rest(self.ctx.client, step.op, target.raw_segment, auth.header_dict(), raw=True)
        return self._erasure(exchange)

    def _get(self, call: ModelCall, *, scan: bool = True) -> Exchange:
        answer = calls.get(self.ctx.client, call.call_id, self.tenants[call.org].auth())
        return self._erasure(answer) if scan else answer

    def _evidence(self, call_id: str | None, *exchanges: Exchange) -> tuple[Exchange, ...]:
        return (*self.trail.get(call_id or "", ()), *exchanges)

    def _erasure(self, exchange: Exchange) -> Exchange:
        """No response after a delete holds any PII of the deleted call (DEL-ERASURE)."""
        leaks = self.ctx.env.erasure.leaks(exchange, [call.call_id for call in self.world.gone()])
        for call in self.world.gone():
            leaked = leaks.get(call.call_id, [])
            title = f"{exchange.method} answer holds PII {leaked[:3]} of the deleted call {call.call_id}"
            self.ctx.expect("DEL-ERASURE", not leaked, title, *self._evidence(call.call_id, exchange))
        return exchange

    def _refresh(self, call: ModelCall) -> None:
        """What GET shows of `call` now becomes the model's snapshot of it."""
        answer = self._get(call)
        ok = answer.status == 200 and model.body_ok("call", answer.json(), call.call_id, call.state)
        title = f"GET of an own {call.state} call: expected 200 with it, got {answer.outcome()}"
        self.ctx.expect("GET-CALL", ok, title, *self._evidence(call.call_id, answer))
        call.snapshot = data_of(answer)

    def _aimed(self, step: Step) -> Step:
        """The step, except that on a shared target a cancel or delete that might name someone
        else's call (a truncation or an in-alphabet extension of an id, an id a create answered
        twice) names an id no one has instead: the call's id plus 64 random bits, or a fresh UUID."""
        env, target = self.ctx.env, step.target
        if step.op == "get" or env.guard.may_destroy(segment_id(target.raw_segment)):
            return step
        if target.kind == "variant" and target.call is not None:
            crafted = TargetId("variant", quote(env.random_extension(target.call), safe=""), target.call, "random tail")
        else:
            crafted = strategies.never_existing(env.never_existing_id())
        return replace(step, target=crafted)

    def _perform(self, step: Step) -> Exchange:
        step = self._aimed(step)
        prediction = predict(self.world, step.auth, step.op, step.target)
        with distinct():
            exchange = self._request(step)
            if step.target.kind != "existing" and calls.names_exactly(exchange, segment_id(step.target.raw_segment)):
                return exchange  # exactly a call the suite does not know, rightly answered (a shared target)
            self._check_answer(step, prediction, exchange)
            self._check_refusal(step, prediction, exchange)
            self._check_not_found(step, prediction, exchange)
            self.world.apply(prediction)
            self._check_effect(step, prediction, exchange)
        self.last = step
        return exchange

    def _check_answer(self, step: Step, prediction: Prediction, exchange: Exchange) -> None:
        evidence = self._evidence(step.target.call, exchange)
        for expect in prediction.expects:
            body = exchange.json()
            ok = expect.holds(exchange.status, exchange.error_code, body, step.target.decoded, prediction.state)
            shape_ok = model.body_ok(expect.shape, body, step.target.decoded, prediction.state)
            want = describe_statuses(expect.statuses) + (f" {expect.code}" if expect.code else "")
            want += f" with the {expect.shape} body" if expect.shape else ""
            got = answered(exchange, expect.statuses, expect.code)
            got += "" if shape_ok else f" {exchange.response_body[:160]!r}"
            self.ctx.expect(
                expect.requirement, ok, f"{step.describe(prediction)}: expected {want}, got {got}", *evidence
            )

    def _check_refusal(self, step: Step, prediction: Prediction, exchange: Exchange) -> None:
        """A refused caller gets the same status, code and message whatever the id (section 2)."""
        if not prediction.refused or prediction.category == "unroutable":
            return
        auth = step.auth
        key = (auth.kind, auth.form, auth.org or "", ",".join(sorted(auth.lacks)), auth.transport, step.op)
        first = self.refusals.setdefault(key, exchange)
        if first is exchange:
            return
        same = (first.status, first.error_code, first.error_message)
        now = (exchange.status, exchange.error_code, exchange.error_message)
        title = f"{step.describe(prediction)}: answered {now}, but {same} for another id"
        self.ctx.expect("AUTH-BEFORE-EXISTENCE", same == now, title, first, exchange)

    def _check_not_found(self, step: Step, prediction: Prediction, exchange: Exchange) -> None:
        """Another organisation's call answers as one that never existed, message included."""
        if prediction.refused or prediction.category not in ("foreign", "never") or exchange.status != 404:
            return
        case = (step.auth.transport, step.op, step.auth.org or "")
        other = self.not_found.get(("never" if prediction.category == "foreign" else "foreign", *case))
        if self.not_found.setdefault((prediction.category, *case), exchange) is not exchange or other is None:
            return
        messages = {prediction.category: exchange.error_message, "other": other.error_message}
        title = f"{step.describe(prediction)}: a foreign and an unknown id answer different 404s {messages}"
        self.ctx.expect("TENANT-404", exchange.error_message == other.error_message, title, other, exchange)

    def _check_effect(self, step: Step, prediction: Prediction, exchange: Exchange) -> None:
        if prediction.effect is None or prediction.effect_requirement is None or prediction.victim is None:
            return
        call = self.world.calls[prediction.victim]
        changes = prediction.effect != "unchanged" and prediction.state != "cancelled"
        if changes:
            self.trail[call.call_id].append(exchange)  # it made the call's state: evidence from now on
        after = self._get(call, scan=prediction.effect != "gone")
        evidence = self._evidence(call.call_id, *(() if changes else (exchange,)), after)
        what, requirement = step.describe(prediction), prediction.effect_requirement
        if prediction.effect == "gone":  # still there is DEL-GONE; what it shows, DEL-ERASURE
            ok = after.status == 404 and after.error_code == "NOT_FOUND"
            self.ctx.expect(
                requirement,
                ok,
                f"after {what}: GET expected 404 NOT_FOUND, got {answered(after, {404}, 'NOT_FOUND')}",
                *evidence,
            )
            self._erasure(after)
        elif prediction.effect == "unchanged":
            title = f"{what} changed the call: {changed(call.snapshot, data_of(after))}"
            self.ctx.expect(requirement, data_of(after) == call.snapshot, title, *evidence)
        else:
            data = data_of(after)
            status = data.get("status") if isinstance(data, dict) else after.outcome()
            self.ctx.expect(requirement, status == "cancelled", f"after {what}: GET shows {status}", *evidence)
            kept = model.pii_of(data) == model.pii_of(call.snapshot)
            title = f"after {what}: PII changed: {changed(model.pii_of(call.snapshot), model.pii_of(data))}"
            self.ctx.expect("CANCEL-KEEPS-RECORD", kept, title, *evidence)
            call.snapshot = data
