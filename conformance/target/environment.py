"""What the suite has to work with on a target: two organisations, their keys and tokens, and a
way to put calls in a state.

With a fixtures token the suite makes everything itself (contract section 8). Without one it
uses the `HUSKY_*` credentials (both: `conformance.target.provisioning`), and calls come from the
seeder (`conformance.target.seeders`): what it cannot make is `NotExercised`. Every call the suite
uses is one it created (each is written to the ledger, `conformance.target.ledger`); never-existing
ids are fresh random UUIDs. The guard (`conformance.target.safety`) holds every id the suite may
cancel or delete.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from conformance.config import SuiteConfig
from conformance.errors import NotExercised, UsageError
from conformance.http.client import Client, Exchange, Hooks
from conformance.http.redaction import Secrets
from conformance.target import calls
from conformance.target.claims import Claims
from conformance.target.erasure import Erasure
from conformance.target.fixtures_client import ALL_SCOPES, FixturesApi
from conformance.target.ledger import MAX_CLEANUP_COST, Ledger
from conformance.target.provisioning import answered_field, fixtures_refused, from_credentials, provision
from conformance.target.safety import Guard, destructive_target
from conformance.target.seeders import ApiSeeder, FixturesSeeder, PoolSeeder, Seeder, read_pool

__all__ = ["ALL_SCOPES", "Environment", "Parts", "Tenant"]


@dataclass
class Tenant:
    """One organisation as the suite sees it. Keys are absent when the target cannot give them.

    Secrets are kept out of `repr`, which tracebacks and hypothesis print."""

    name: str  # "A" or "B"
    key: str | None = field(default=None, repr=False)  # every scope
    limited_key: str | None = field(default=None, repr=False)  # without calls:delete and calls:cancel
    webhook_token: str | None = field(default=None, repr=False)
    revoked_key: str | None = field(default=None, repr=False)
    keys_without: dict[str, str] = field(default_factory=dict, repr=False)  # scope -> key lacking only it
    org_id: str | None = None

    def auth(self, form: str = "bearer", key: str | None = None) -> dict[str, str]:
        key = key or self.need_key()
        return {"Authorization": f"Bearer {key}"} if form == "bearer" else {"x-api-key": key}

    def need_key(self) -> str:
        if self.key is None:
            raise NotExercised(f"no API key for organisation {self.name}")
        return self.key

    def need_token(self) -> str:
        if self.webhook_token is None:
            raise NotExercised(f"no webhook token for organisation {self.name}")
        return self.webhook_token


@dataclass
class Parts:
    """What an environment holds that its client's hooks need before either exists: the guard, the
    ledger and the two organisations. `hooks()` are given to the client at construction; they act
    once the environment is `ready`: its own setting up (the provisioning, the credential check) is
    budgeted by `conformance.run.session.smallest_budget`, not gated or kept back for."""

    guard: Guard
    ledger: Ledger
    a: Tenant = field(default_factory=lambda: Tenant("A"))
    b: Tenant = field(default_factory=lambda: Tenant("B"))
    ready: bool = False

    @classmethod
    def of(cls, config: SuiteConfig) -> Parts:
        guard = Guard(destructive_allowed=config.destructive_allowed, isolated=config.isolated)
        return cls(guard, Ledger(None if config.dry_run else config.report_dir / "ledger.jsonl"))

    def tenant(self, name: str) -> Tenant:
        """Organisation `name` ("A" or "B")."""
        return self.b if name == "B" else self.a

    def hooks(self) -> Hooks:
        """The client asks the guard before each request, keeps back the clean-up's requests, reads lost ones back."""
        return Hooks(gate=self._gate, on_lost=self.read_back, reserved=self._reserved, reserve_for=self._reserve_for)

    def _gate(self, method: str, path: str, body: bytes | None, cleanup: bool) -> None:
        if self.ready:
            self.guard.check(method, path, body, cleanup=cleanup)

    def _reserved(self) -> int:
        return self.ledger.cleanup_cost() if self.ready else 0  # kept as the calls change: nothing to sum

    def _reserve_for(self, method: str, path: str, body: bytes | None) -> int:
        return _reserve_for(method, path, body) if self.ready else 0

    def read_back(self, client: Client, lost: Exchange) -> Exchange | None:
        """For a cancel or delete that got no answer: what a GET of that call says now (never a resend)."""
        call_id = calls.destructive_id(lost)
        if call_id is None or not self.ready:
            return None
        entry = self.ledger.entries.get(call_id)
        tenant = self.tenant(entry.org if entry is not None else "A")
        if tenant.key is None:
            return None
        return client.request("GET", calls.path_for("get", call_id), headers=tenant.auth(), cleanup=True)


def _reserve_for(method: str, path: str, body: bytes | None) -> int:
    """What a request may leave to do: the clean-up of a call it may make (at most one), or the GET
    that reads back a cancel or delete whose answer is lost (`Parts.read_back`)."""
    if calls.may_create(method, path):
        return MAX_CLEANUP_COST
    return 1 if destructive_target(method, path, body) else 0


class Environment:
    def __init__(self, client: Client, config: SuiteConfig, secrets: Secrets, parts: Parts | None = None) -> None:
        """`parts`: those whose hooks `client` was made with (`Parts.of(config)` when not given)."""
        self.client = client
        self.parts = parts = parts or Parts.of(config)
        self.fixtures_token = config.fixtures_token
        self.secrets = secrets
        self.rng = random.Random(config.seed)
        self.agent_id = config.agent_id
        self.a, self.b, self.guard, self.ledger = parts.a, parts.b, parts.guard, parts.ledger
        self.created: list[str] = []  # every call id the suite made
        self.setup: dict[str, Exchange] = {}  # call id -> the exchange that seeded it
        self.pii_of: dict[str, dict[str, Any]] = {}  # call id -> the PII it was seeded with
        self.erasure = Erasure(self.pii_of)  # DEL-ERASURE: the PII of deleted calls, and the one search for it
        self.claims = Claims(self.guard, self.pii_of, self.setup)  # ID-NEVER-REUSED, judged on every answer
        self.fixtures_api = FixturesApi(self.fixtures)  # sent through `client`, as every request of the run
        self.seeder = self._seeder(config)
        self.ledger.moving = not self.can_seed_any_state  # see `Ledger.moving`
        secrets.add(config.fixtures_token, "HUSKY_FIXTURES_TOKEN")
        if self.fixtures_token:
            provision(self, config.budget.breadth)
        else:
            from_credentials(self, config)
        parts.ready = True  # set up: from here on the client's hooks act

    def _seeder(self, config: SuiteConfig) -> Seeder:
        if config.seeder == "fixtures" and self.fixtures_token:
            return FixturesSeeder(self)
        if config.seeder == "pool" and config.pool_file is not None:
            return PoolSeeder(self, read_pool(config.pool_file), config.pool_file)
        return ApiSeeder(self, config.wait_completed)

    @property
    def can_seed_any_state(self) -> bool:
        return isinstance(self.seeder, FixturesSeeder)

    def can_seed(self, state: str) -> bool:
        return self.seeder.can_seed(state)

    def need_state(self, state: str) -> None:
        """NotExercised, with the seeder's reason, unless calls in `state` can be made here."""
        if not self.seeder.can_seed(state):
            raise NotExercised(self.seeder.why_not(state))

    # -- provisioning -------------------------------------------------------------------------

    def fixtures(
        self, path: str, body: dict[str, Any] | None = None, expect: int = 201, fields: tuple[str, ...] = ()
    ) -> tuple[Exchange, dict[str, str]]:
        """POST to the fixtures API: (exchange, each of `fields` its answer holds, a dotted path such as
        `data.call_id` to a string); a one-line UsageError unless it answers `expect` with all of them."""
        assert self.fixtures_token is not None
        exchange = self.client.request("POST", path, headers={"x-fixtures-token": self.fixtures_token}, json_body=body)
        if exchange.status != expect:
            raise UsageError(fixtures_refused(path, exchange, expect))
        return exchange, {name: answered_field(exchange, name, path) for name in fields}

    def tenant(self, name: str) -> Tenant:
        """Organisation `name` ("A" or "B")."""
        return self.parts.tenant(name)

    # -- calls --------------------------------------------------------------------------------

    def pii(self, tag: str = "") -> dict[str, Any]:
        """Synthetic PII unique to one call, so any leak of it can be found by substring."""
        mark = f"{self.rng.getrandbits(48):012x}{tag}"
        return {
            "contact_number": "+91" + str(self.rng.randrange(6 * 10**9, 10**10)),
            "contact_name": f"Zq Person {mark}",
            "contact_email": f"zq.{mark}@example.invalid",
            "additional_info": {"zq_note": f"note-{mark}"},
            "transcript": [{"speaker": "contact", "text": f"zq transcript {mark}"}],
            "recording_url": f"https://recordings.example.invalid/zq-{mark}.mp3",
        }

    def never_existing_id(self, form: str = "uuid") -> str:
        """A fresh random UUID (or `call_<32 hex>`, for the `call_...` form): no call has it."""
        fresh = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        call_id = f"call_{fresh.hex}" if form == "call" else str(fresh)
        self.guard.craft(call_id)
        return call_id

    def random_extension(self, call_id: str) -> str:
        """`call_id` with 16 random hex digits added: an extension of an own id that is no one's call."""
        extended = f"{call_id}{self.rng.getrandbits(64):016x}"
        self.guard.craft(extended)
        return extended

    def seed_call(self, tenant: Tenant, state: str, pii: dict[str, Any] | None = None) -> str:
        """A new call of `tenant` in `state`, carrying `pii`; NotExercised when impossible here."""
        pii = pii if pii is not None else self.pii()
        call_id, exchange = self.seeder.seed(tenant, state, pii)
        self.setup[call_id] = exchange
        self.pii_of[call_id] = pii
        return call_id

    def created_now(self, call_id: str, tenant: Tenant, state: str | None) -> None:
        """A call of the suite's exists: into the ledger, and the guard may let it be cancelled or deleted."""
        if call_id in self.ledger.entries:
            return
        self.created.append(call_id)
        self.guard.own(call_id)
        self.ledger.add(call_id, tenant.name, tenant.org_id, state)

    def observe(self, exchange: Exchange) -> None:
        """Every create that succeeded, whoever sent it (schemathesis too), makes a call of the suite's."""
        if calls.public_create(exchange.method, exchange.url):  # the fixtures seeder notes its own calls
            self.note_created(exchange)

    def note_created(self, exchange: Exchange) -> Exchange:
        """Add the call a create answer names (REST or webhook) to the calls the suite made."""
        call_id = calls.created_id(exchange)
        if call_id is not None:
            found = calls.answered_call(exchange)
            self.created_now(call_id, self._owner(exchange), found.get("status") if found else None)
        return exchange

    def _owner(self, exchange: Exchange) -> Tenant:
        text = " ".join([exchange.url, *exchange.headers.values()])
        found = [t for t in (self.b, self.a) if any(v and v in text for v in (t.key, t.webhook_token))]
        return found[0] if found else self.a

    def advance(self, call_id: str, state: str) -> None:
        self.seeder.advance(call_id, state)

    def read_back(self, lost: Exchange) -> Exchange | None:
        """For a cancel or delete that got no answer: what a GET of that call says now (never a resend)."""
        return self.parts.read_back(self.client, lost)
