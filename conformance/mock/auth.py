"""Who is calling (contract section 2): API keys in either header form, and webhook tokens.

Every failure is the same 401 with the same message, whatever the reason and whatever call the
request names, so that authentication never reveals whether a call exists.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers

from conformance.mock.errors import ApiError, Code
from conformance.mock.store import SCOPES, ApiKey, Org, Store

__all__ = ["authenticate_key", "authenticate_token", "presented_keys", "require_scope"]

KEY_MESSAGE = "Missing or invalid API key."
TOKEN_MESSAGE = "Missing or invalid webhook token."
_BEARER = re.compile(r"bearer +(\S+) *", re.IGNORECASE)


def _unauthorized(message: str = KEY_MESSAGE) -> ApiError:
    return ApiError(401, Code.UNAUTHORIZED, message)


def presented_keys(headers: Headers, *, bearer: bool = True, x_api_key: bool = True) -> tuple[set[str], bool]:
    """The keys the request presents in either header, and whether every header was well formed."""
    presented, well_formed = set(), True
    for name, raw in headers.raw:  # one pass (ASGI header names are lower case), on every request
        if name == b"authorization" and bearer:
            value = raw.decode("latin-1")
            match = _BEARER.fullmatch(value)
            well_formed &= match is not None
            presented.add(match.group(1) if match else value)
        elif name == b"x-api-key" and x_api_key:
            presented.add(raw.decode("latin-1").strip())
    return presented, well_formed


def _presented_key(store: Store, headers: Headers) -> str:
    """The one key the request presents, from `Authorization: Bearer` and/or `x-api-key`."""
    if store.fault("bearer-wins") and "authorization" in headers:
        headers = Headers({"authorization": headers["authorization"]})
    if store.faults and "authorization" in headers:
        headers = _lenient_scheme(store, headers)
    presented, well_formed = presented_keys(
        headers, bearer=not store.fault("bearer-refused"), x_api_key=not store.fault("x-api-key-refused")
    )
    if not well_formed or len(presented) != 1 or "" in presented:
        raise _unauthorized()  # none, empty, or two different keys
    return presented.pop()


def _lenient_scheme(store: Store, headers: Headers) -> Headers:
    """Faults: `Authorization` read as Bearer whatever its scheme, or with none."""
    scheme, _, rest = headers["authorization"].strip().partition(" ")
    if rest and scheme.lower() != "bearer" and store.fault("authorization-any-scheme"):
        value = "Bearer " + rest.strip()  # "Basic", "Token": the part after the space is the key
    elif not rest and scheme and store.fault("authorization-bare-key"):
        value = "Bearer " + scheme
    else:
        return headers
    return Headers(raw=[(n, value.encode("latin-1") if n == b"authorization" else v) for n, v in headers.raw])


def _legacy_header(headers: Headers) -> bool:
    """Whether the key came by the documented-late `x-api-key` header alone (a second code path)."""
    return "authorization" not in headers


def _lookup(store: Store, presented: str) -> ApiKey | None:
    key = store.keys.get(presented)
    if key is not None or not store.faults:
        return key
    if store.fault("key-truncated-to-length"):  # the key column is 40 characters: what follows is cut
        key = store.keys.get(presented[:40])
    if key is None and store.fault("key-case-insensitive"):  # a case-insensitive collation
        key = next((k for secret, k in store.keys.items() if secret.lower() == presented.lower()), None)
    if key is None and store.fault("webhook-token-as-api-key"):  # one table of "secrets" for both
        org = store.orgs_by_token.get(presented)
        key = ApiKey(secret=presented, org_id=org.org_id, scopes=frozenset(SCOPES)) if org else None
    return key


def authenticate_key(store: Store, headers: Headers) -> ApiKey:
    key = _lookup(store, _presented_key(store, headers))
    if key is None:
        raise _unauthorized()
    legacy_lax = store.fault("x-api-key-revoked-accepted") and _legacy_header(headers)  # checked on Bearer only
    if key.revoked and not store.fault("revoked-accepted") and not legacy_lax:
        raise _unauthorized()
    return key


def require_scope(store: Store, key: ApiKey, scope: str, headers: Headers | None = None) -> None:
    if scope == "calls:delete" and store.fault("scope-ignored"):
        return
    if store.faults:
        if store.fault("x-api-key-scope-ignored") and headers is not None and _legacy_header(headers):
            return
        if store.fault("delete-accepts-cancel-scope") and scope == "calls:delete" and "calls:cancel" in key.scopes:
            return
        if store.fault("scope-from-org-keys") and any(
            scope in other.scopes for other in store.keys.values() if other.org_id == key.org_id and not other.revoked
        ):
            return
    if scope not in key.scopes:
        raise ApiError(403, Code.FORBIDDEN, f"The API key lacks the {scope} scope.")


def authenticate_token(store: Store, token: str) -> Org:
    org = store.orgs_by_token.get(token)
    if org is None and store.fault("webhook-token-unchecked") and store.orgs:
        org = next(iter(store.orgs.values()))
    if org is None and store.faults:
        org = _lenient_token(store, token)
    if org is None:
        raise _unauthorized(TOKEN_MESSAGE)
    return org


def _lenient_token(store: Store, token: str) -> Org | None:
    """Faults: a webhook token matched loosely, or an API key taken for one."""
    if store.fault("webhook-token-stripped"):
        org = store.orgs_by_token.get(token.strip())
        if org is not None:
            return org
    if store.fault("webhook-token-prefix"):  # the router's pattern is not anchored at the end
        org = next((o for t, o in store.orgs_by_token.items() if token.startswith(t)), None)
        if org is not None:
            return org
    if store.fault("api-key-as-webhook-token"):
        key = store.keys.get(token)
        if key is not None and not key.revoked:
            return store.orgs.get(key.org_id)
    return None
