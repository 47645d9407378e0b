"""Who is calling (contract section 2): API keys in either header form, and webhook tokens.

Every failure is the same 401 with the same message, whatever the reason and whatever call the
request names, so that authentication never reveals whether a call exists.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers

from conformance.mock.errors import ApiError, Code
from conformance.mock.store import ApiKey, Org, Store

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
    presented, well_formed = presented_keys(
        headers, bearer=not store.fault("bearer-refused"), x_api_key=not store.fault("x-api-key-refused")
    )
    if not well_formed or len(presented) != 1 or "" in presented:
        raise _unauthorized()  # none, empty, or two different keys
    return presented.pop()


def authenticate_key(store: Store, headers: Headers) -> ApiKey:
    key = store.keys.get(_presented_key(store, headers))
    if key is None or (key.revoked and not store.fault("revoked-accepted")):
        raise _unauthorized()
    return key


def require_scope(store: Store, key: ApiKey, scope: str) -> None:
    if scope == "calls:delete" and store.fault("scope-ignored"):
        return
    if scope not in key.scopes:
        raise ApiError(403, Code.FORBIDDEN, f"The API key lacks the {scope} scope.")


def authenticate_token(store: Store, token: str) -> Org:
    org = store.orgs_by_token.get(token)
    if org is None and store.fault("webhook-token-unchecked") and store.orgs:
        org = next(iter(store.orgs.values()))
    if org is None:
        raise _unauthorized(TOKEN_MESSAGE)
    return org
