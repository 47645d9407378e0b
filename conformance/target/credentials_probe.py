"""The credential check: each `HUSKY_*` credential the user gave is tried once, before any check.

A wrong credential must never become a FAIL of the target. Each key and token is probed with a
few cheap requests that destroy nothing: reads, creates with a body the contract refuses, and
cancels and deletes of a fresh random UUID that can be nobody's call (only where destructive
requests are allowed at all). A call of organisation A is created for the checks that need one
(the other organisation and the limited key must not, or must, see it); it goes into the ledger
and is cleaned up like every other.

The rule: a usage error (exit 4, naming the variable) only for an answer that a conformant target
gives the wrong credential and never the right one. Where a target that breaks the contract could
give the same answer to the right credential, the message says so too. An answer that a target
could give the right credential (a 5xx, no answer, a 401 to a body it refuses) judges nothing:
the checks judge the target. A fixtures token needs no probe: provisioning is its probe.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from conformance.errors import BudgetSpent, UsageError
from conformance.http.client import Exchange
from conformance.target import calls
from conformance.target.fixtures_client import ALL_SCOPES
from conformance.target.ledger import clean_up

if TYPE_CHECKING:
    from conformance.config import Credentials, SuiteConfig
    from conformance.target.environment import Environment, Tenant

__all__ = ["LIMITED_SCOPES", "planned_requests", "probe_credentials"]

LIMITED_SCOPES = ("calls:create", "calls:read")  # exactly what HUSKY_API_KEY_LIMITED has
REFUSED = (401, 403)  # what a key lacking a scope gets (contract section 2)
ProbeOp = Literal["get", "create", "cancel", "delete"]
OPS: dict[str, ProbeOp] = {
    "calls:read": "get",
    "calls:create": "create",
    "calls:cancel": "cancel",
    "calls:delete": "delete",
}
INVALID_CREATE: dict[str, Any] = {}  # no agent_id, no contact_number: 400 for a key that may create
UNKNOWN_ACTION = "husky_conformance_probe"  # sent as `call.husky_conformance_probe`


@dataclass
class _Probe:
    env: Environment
    rng: random.Random
    own_call: str | None = None  # the call of A the probe created, once it has

    # -- requests ---------------------------------------------------------------------------

    def fresh_id(self) -> str:
        call_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.env.guard.craft(call_id)
        return call_id

    def send(self, op: ProbeOp, key: str, form: str, call_id: str = "") -> Exchange:
        headers = {"Authorization": f"Bearer {key}"} if form == "bearer" else {"x-api-key": key}
        if op == "create":
            return self.env.client.request("POST", "/v1/calls", headers=headers, json_body=INVALID_CREATE)
        return calls.rest(self.env.client, op, call_id, headers)

    def answer(self, op: ProbeOp, key: str, call_id: str = "") -> Exchange:
        """`op` with `key`; a 401 in one header form is asked again in the other (a target that
        refuses one form is judged by the checks, not blamed on the key)."""
        exchange = self.send(op, key, "bearer", call_id)
        if exchange.status == 401:
            exchange = self.send(op, key, "x-api-key", call_id)
        if op == "create" and exchange.status in (200, 201):
            self.env.note_created(exchange)  # it made a call of an invalid body: clean it up
        return exchange

    def create(self, tenant: Tenant) -> str | None:
        """A call of `tenant`'s own, made with a valid body (into the ledger); None if none was made."""
        body = {
            "agent_id": self.env.agent_id,
            "contact_number": "+91" + str(self.rng.randrange(6 * 10**9, 10**10)),
            "contact_name": "Zq credential probe",
        }
        exchange = self.env.note_created(calls.create(self.env.client, tenant.auth(), body))
        return calls.created_id(exchange) if exchange.status == 201 else None

    # -- keys -------------------------------------------------------------------------------

    def key(self, variable: str, key: str, scopes: tuple[str, ...], *, read: str | None = None) -> dict[str, Exchange]:
        """`key` is known and has the scopes in `scopes`: each operation once (cancel and delete only where
        they may be sent), with a random id, except the read, of the call `read` where given (A's own call,
        whose answer tells the organisation). The answers, by scope."""
        random_id = self.fresh_id()
        ops = _ops(self.env.guard.destructive_allowed)
        answers = {
            scope: self.answer(op, key, (read or random_id) if op == "get" else random_id) for scope, op in ops.items()
        }
        if all(a.status == 401 for a in answers.values()):
            shown = ", ".join(f"{a.method} {_path(a, short=True)}" for a in answers.values())
            raise UsageError(
                f"{variable}: the target does not know this key or it is revoked ({shown} all answered 401 in"
                " both header forms); set it to a valid key"
            )
        for scope, exchange in answers.items():
            if scope in scopes and exchange.status in REFUSED:
                raise UsageError(
                    f"{variable} lacks the {scope} scope: {exchange.method} {_path(exchange, short=True)} answered"
                    f" {exchange.outcome()}; {_promise(variable)}"
                )
        return answers

    def lacks(self, variable: str, key: str, answers: dict[str, Exchange]) -> None:
        """The key must lack calls:cancel and calls:delete: a 404 for the random id says it may have them."""
        for scope in (s for s in ("calls:cancel", "calls:delete") if s in answers):
            if answers[scope].status == 404:
                self.scope_not_refused(variable, key, scope, answers[scope])

    def scope_not_refused(self, variable: str, key: str, scope: str, first: Exchange) -> None:
        """A key that must lack `scope` got 404 for a random id: it has the scope, or the target looks
        the call up before the scope (a contract break the checks find). Asked again on a call of A's
        that exists: a refusal there clears the key."""
        op = OPS[scope]
        if self.own_call is None:
            return  # no call of A to ask about (no HUSKY_API_KEY): the checks judge
        again = self.answer(op, key, self.own_call)
        if again.status in REFUSED or again.status is None or again.status >= 500:
            return
        raise UsageError(
            f"{variable} is allowed {scope}: {op} answered {first.outcome()} for a random id and"
            f" {again.outcome()} for a call of organisation A, not 401 or 403; {_promise(variable)}. Either the"
            f" key has {scope}, or the target ignores scopes or checks the call before the scope (contract"
            " section 2): the suite cannot tell which"
        )

    def revoked(self, variable: str, key: str) -> None:
        exchange = self.send("get", key, "bearer", self.fresh_id())
        if exchange.status in (200, 403, 404):
            raise UsageError(
                f"{variable} is accepted: GET {_path(exchange, short=True)} answered {exchange.outcome()},"
                " not 401. It must be a revoked key of organisation A. Either the key is not revoked, or the"
                " target accepts revoked keys (contract section 2): the suite cannot tell which"
            )

    # -- webhook tokens ---------------------------------------------------------------------

    def token(self, variable: str, token: str) -> None:
        """A body the contract refuses: 401 says the token is unknown, unless a target answers 401 to
        bad bodies too (any 4xx is allowed there), so a 401 is asked again with a valid create."""
        exchange = calls.hook(self.env.client, token, UNKNOWN_ACTION, {})
        if exchange.status != 401:
            return
        body = {"agent_id": self.env.agent_id, "contact_number": "+919800000000"}
        again = self.env.note_created(calls.hook(self.env.client, token, "create", body))
        if again.status == 401:
            raise UsageError(
                f"{variable}: the target does not know this webhook token (POST /v1/hooks/{{token}} answered 401"
                " to an unknown action and to call.create)"
            )


def probe_credentials(env: Environment, config: SuiteConfig) -> None:
    """Try each credential the run was given once; a UsageError naming the first that is wrong
    (after the calls the probe made are cleaned up). Its own random draws, so the checks' are as before."""
    probe = _Probe(env, random.Random(f"{config.seed}:credentials"))
    before, env.ledger.activity = env.ledger.activity, ("credential check", ())
    try:
        _probe_all(probe, config.credentials)
    except (UsageError, BudgetSpent):  # no check will run: the calls it made go now, past the budget if need be
        env.ledger.activity = ("cleanup", ())
        with env.client.overdraft():
            clean_up(env)
        raise
    env.ledger.activity = before


def planned_requests(config: SuiteConfig) -> int:
    """The requests the credential check sends when every credential is right, the clean-up of the call
    it makes included: what a budget must hold before the first check (none with a fixtures token)."""
    if config.fixtures_token or config.embedded or config.dry_run:
        return 0
    given = config.credentials
    keys = sum(1 for key in (given.api_key, given.api_key_b, given.api_key_limited) if key)
    own_call = 3 if given.api_key and (given.api_key_b or given.api_key_limited) else 0  # create, GET, cancel
    tokens = sum(1 for token in (given.webhook_token, given.webhook_token_b) if token)
    return keys * len(_ops(config.destructive_allowed)) + own_call + bool(given.api_key_revoked) + tokens


def _probe_all(probe: _Probe, given: Credentials) -> None:
    env = probe.env
    if given.api_key and given.api_key_b and given.api_key == given.api_key_b:
        raise UsageError(
            "HUSKY_API_KEY and HUSKY_API_KEY_B are the same key: HUSKY_API_KEY_B must be of a second organisation"
        )
    if given.webhook_token and given.webhook_token == given.webhook_token_b:
        raise UsageError(
            "HUSKY_WEBHOOK_TOKEN and HUSKY_WEBHOOK_TOKEN_B are the same token: each names its organisation"
        )
    if given.api_key:
        probe.key("HUSKY_API_KEY", given.api_key, ALL_SCOPES)
        if given.api_key_b or given.api_key_limited:
            probe.own_call = probe.create(env.a)
    own = probe.own_call
    if (
        given.api_key_b
        and probe.key("HUSKY_API_KEY_B", given.api_key_b, ALL_SCOPES, read=own)["calls:read"].status == 200
    ):
        raise UsageError(
            "HUSKY_API_KEY_B reads a call that HUSKY_API_KEY created (GET answered 200): it must be a key of a"
            " second organisation. Either it is a key of the same organisation as HUSKY_API_KEY, or the"
            " target breaks tenant isolation (contract section 2): the suite cannot tell which"
        )
    if given.api_key_limited:
        answers = probe.key("HUSKY_API_KEY_LIMITED", given.api_key_limited, LIMITED_SCOPES, read=own)
        if own and answers["calls:read"].status == 404:
            raise UsageError(
                "HUSKY_API_KEY_LIMITED cannot read a call that HUSKY_API_KEY created (GET answered 404): it must be"
                " a key of organisation A, the organisation of HUSKY_API_KEY. Either it is a key of another"
                " organisation, or the target hides an organisation's calls from its own keys: the suite"
                " cannot tell which"
            )
        probe.lacks("HUSKY_API_KEY_LIMITED", given.api_key_limited, answers)
    if given.api_key_revoked:
        probe.revoked("HUSKY_API_KEY_REVOKED", given.api_key_revoked)
    for variable, token in (
        ("HUSKY_WEBHOOK_TOKEN", given.webhook_token),
        ("HUSKY_WEBHOOK_TOKEN_B", given.webhook_token_b),
    ):
        if token:
            probe.token(variable, token)


def _ops(destructive_allowed: bool) -> dict[str, ProbeOp]:
    """The operation that tries each scope; without destructive requests no cancel or delete is sent at
    all, so those scopes judge nothing."""
    return OPS if destructive_allowed else {s: op for s, op in OPS.items() if op not in ("cancel", "delete")}


def _promise(variable: str) -> str:
    if variable == "HUSKY_API_KEY_LIMITED":
        return f"{variable} must be a key of organisation A with exactly {' and '.join(LIMITED_SCOPES)}"
    return f"{variable} must be a key with every scope ({', '.join(ALL_SCOPES)})"


def _path(exchange: Exchange, *, short: bool = False) -> str:
    """The request's path from `/v1/`; `short`: with `{id}` for the random id."""
    path = exchange.url.split("://", 1)[-1]
    path = path[path.find("/v1/") :] if "/v1/" in path else path
    return re.sub(r"/v1/calls/[^/]+", "/v1/calls/{id}", path) if short else path
