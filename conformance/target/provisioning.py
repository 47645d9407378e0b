"""How the suite gets its two organisations: made through the fixtures API (contract section 8),
each with a webhook token and keys of the scopes the budget's breadth needs, or taken from the
`HUSKY_*` credentials and checked against the target (`conformance.target.credentials_probe`).
What the fixtures API answers is read strictly: anything else is a one-line usage error that says
what to check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance.config import SuiteConfig
from conformance.errors import UsageError
from conformance.http.client import Exchange
from conformance.http.redaction import Secrets
from conformance.target.credentials_probe import probe_credentials
from conformance.target.fixtures_client import ALL_SCOPES

if TYPE_CHECKING:
    from conformance.target.environment import Environment, Tenant

__all__ = ["answered_field", "fixtures_refused", "from_credentials", "provision", "provisioning_requests"]


def _keys_to_make(org: str, breadth: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    """The keys the provisioning makes for organisation `org` ("A" or "B"), in the order it makes
    them: role ("key", "limited", "revoked", or the scope a key lacks) -> (scopes, revoked)."""
    keys: dict[str, tuple[tuple[str, ...], bool]] = {"key": (ALL_SCOPES, False)}
    if breadth == "every":
        keys["limited"] = (("calls:create", "calls:read"), False)
    if breadth == "every" or org == "A":
        keys["revoked"] = (ALL_SCOPES, True)
        keys |= {s: (tuple(x for x in ALL_SCOPES if x != s), False) for s in ALL_SCOPES}
    return keys


def provisioning_requests(config: SuiteConfig) -> int:
    """The requests the provisioning sends (none without a fixtures API): per organisation, one to
    make it and one a key."""
    if not (config.fixtures_token or config.embedded or config.dry_run):
        return 0
    return sum(1 + len(_keys_to_make(org, config.budget.breadth)) for org in ("A", "B"))


def provision(env: Environment, breadth: str = "every") -> None:
    """Two organisations, each with a webhook token and a key of every scope, and (at the budget's
    breadth "every") a limited, a revoked and a key without each scope. Sampled (`Budget.breadth`),
    only A gets the revoked key and the keys without a scope, and no limited key (those stand in
    for it): B is only ever the other organisation, whose calls A must not reach."""
    for tenant in (env.a, env.b):
        _, org = env.fixtures_api.org()
        tenant.org_id, tenant.webhook_token = org["org_id"], org["webhook_token"]
        made = {role: _key(env, tenant, *spec) for role, spec in _keys_to_make(tenant.name, breadth).items()}
        tenant.key, tenant.limited_key, tenant.revoked_key = made["key"], made.get("limited"), made.get("revoked")
        tenant.keys_without = {s: made[s] for s in ALL_SCOPES if s in made}
        _name_secrets(env.secrets, tenant)


def _key(env: Environment, tenant: Tenant, scopes: tuple[str, ...], revoked: bool = False) -> str:
    _, answer = env.fixtures_api.key(tenant.org_id, scopes, revoked=revoked)
    return answer["api_key"]


def from_credentials(env: Environment, config: SuiteConfig) -> None:
    """Organisations from the `HUSKY_*` credentials, checked against the target before the run."""
    found = config.credentials
    env.a.key, env.a.limited_key, env.a.webhook_token = (
        found.api_key,
        found.api_key_limited,
        found.webhook_token,
    )
    env.a.revoked_key = found.api_key_revoked
    env.b.key, env.b.webhook_token = found.api_key_b, found.webhook_token_b
    if not any((found.api_key, found.webhook_token)):
        raise UsageError(
            "no credentials: pass --fixtures-token, or set HUSKY_API_KEY (and HUSKY_API_KEY_LIMITED,"
            " HUSKY_API_KEY_REVOKED, HUSKY_API_KEY_B, HUSKY_WEBHOOK_TOKEN, HUSKY_WEBHOOK_TOKEN_B)"
        )
    if found.api_key_limited:
        env.a.keys_without = {
            "calls:delete": found.api_key_limited,
            "calls:cancel": found.api_key_limited,
        }
    for tenant in (env.a, env.b):
        _name_secrets(env.secrets, tenant)
    env.secrets.add(found.api_key_revoked, "HUSKY_API_KEY_REVOKED")
    probe_credentials(env, config)


def _name_secrets(secrets: Secrets, tenant: Tenant) -> None:
    n = tenant.name
    secrets.add(tenant.key, f"HUSKY_API_KEY{'' if n == 'A' else '_B'}")
    secrets.add(tenant.limited_key, f"HUSKY_API_KEY_LIMITED{'' if n == 'A' else '_B'}")
    secrets.add(tenant.webhook_token, f"HUSKY_WEBHOOK_TOKEN{'' if n == 'A' else '_B'}")
    secrets.add(tenant.revoked_key, f"REVOKED_KEY_{n}")
    for scope, key in tenant.keys_without.items():
        if key != tenant.limited_key:
            secrets.add(key, f"KEY_{n}_WITHOUT_{scope.split(':')[1].upper()}")


FIXTURES_TOKEN = "the fixtures token (--fixtures-token or HUSKY_FIXTURES_TOKEN)"


def fixtures_refused(path: str, exchange: Exchange, expect: int) -> str:
    """The usage error of a fixtures request that did not answer `expect`, naming the token's flag and variable."""
    answered = f"POST {path} answered {exchange.outcome()}"
    if exchange.status in (401, 403):
        return f"the target refused {FIXTURES_TOKEN}: {answered}; check its value"
    if exchange.status == 404 and path == "/_fixtures/orgs":
        return (
            f"the target has no fixtures API ({answered}): check the base path of --target-url, or run without"
            f" {FIXTURES_TOKEN} and set the HUSKY_* variables (README, 'Running against staging')"
        )
    return (
        f"the fixtures API answered {answered} (expected {expect}); check {FIXTURES_TOKEN}, or run without it"
        " and set the HUSKY_* variables"
    )


def answered_field(exchange: Exchange, field: str, path: str) -> str:
    """The string at `field` (dotted) of a fixtures answer; a one-line UsageError saying what is wrong instead."""
    value, problem = _lookup(exchange, field)
    body = exchange.response_body.lstrip()
    if problem == "a body that is not JSON" and body[:1] in (b"{", b"[") and _says_json(exchange):
        raise UsageError(  # the target's bug, not the options: no use asking about the URL
            f"the fixtures API answered POST {path} ({exchange.status}) with JSON cut short or broken; a"
            f" Content-Length that counts characters, not bytes, cuts it ({len(body)} bytes came): it must"
            " answer a JSON object (contract section 8)"
        )
    if problem is not None:
        raise UsageError(
            f"the fixtures API answered POST {path} ({exchange.status}) with {problem}; it must answer a JSON"
            f" object holding {field!r} (contract section 8): is --target-url the API's base URL?"
        )
    return value


def _says_json(exchange: Exchange) -> bool:
    return "json" in exchange.response_headers.get("content-type", "")


def _lookup(exchange: Exchange, field: str) -> tuple[str, str | None]:
    body = exchange.response_body.strip()
    if not body:
        return "", "an empty body"
    value = exchange.json()
    if value is None:
        return "", "null" if body == b"null" else "a body that is not JSON"
    for part in field.split("."):
        if not isinstance(value, dict):
            return "", f"a JSON {_json_type(value)} where an object holding {part!r} belongs"
        if part not in value:
            return "", f"no {field!r}"
        value = value[part]
    if isinstance(value, str) and value:
        return value, None
    return "", f"an empty {field!r}" if value == "" else f"{field!r} a JSON {_json_type(value)}, not a string"


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
