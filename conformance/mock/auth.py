"""Who is calling (contract section 2): API keys in either header form, and webhook tokens.

Every failure is the same 401 with the same message, whatever the reason and whatever call the
request names, so that authentication never reveals whether a call exists.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers

from .errors import ApiError, Code
from .store import ApiKey, Org, Store

__all__ = ["authenticate_key", "authenticate_token", "presented_keys", "require_scope"]

KEY_MESSAGE = "Missing or invalid API key."
TOKEN_MESSAGE = "Missing or invalid webhook token."
_BEARER = re.compile(r"bearer +(\S+) *", re.IGNORECASE)


def _unauthorized(message: str = KEY_MESSAGE) -> ApiError:
    return ApiError(401, Code.UNAUTHORIZED, message)


def presented_keys(headers: Headers) -> tuple[set[str], bool]:
    """The keys the request presents in either header, and whether every header was well formed."""
    presented, well_formed = set(), True
    for value in headers.getlist("authorization"):
        match = _BEARER.fullmatch(value)
        well_formed &= match is not None
        presented.add(match.group(1) if match else value)
    presented.update(value.strip() for value in headers.getlist("x-api-key"))
    return presented, well_formed


def _presented_key(headers: Headers) -> str:
    """The one key the request presents, from `Authorization: Bearer` and/or `x-api-key`."""
    presented, well_formed = presented_keys(headers)
    if not well_formed or len(presented) != 1 or "" in presented:
        raise _unauthorized()  # none, empty, or two different keys
    return presented.pop()


def authenticate_key(store: Store, headers: Headers) -> ApiKey:
    key = store.keys.get(_presented_key(headers))
    if key is None or key.revoked:
        raise _unauthorized()
    return key


def require_scope(key: ApiKey, scope: str) -> None:
    if scope not in key.scopes:
        raise ApiError(403, Code.FORBIDDEN, f"The API key lacks the {scope} scope.")


def authenticate_token(store: Store, token: str) -> Org:
    org = store.orgs_by_token.get(token)
    if org is None:
        raise _unauthorized(TOKEN_MESSAGE)
    return org
