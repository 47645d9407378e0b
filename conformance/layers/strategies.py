"""Hypothesis strategies of the lifecycle layer: the ids an operation names (`TargetId`) and the
credentials it is sent with (`Auth`), as the model of `conformance.contract.model` understands them.

Adversarial ids are RAW path segments, already percent-encoded and sent byte for byte
(`calls.path_for(raw=True)`): always ASCII, never an unencoded `/`. A variant of an id never
decodes to an id that exists (prefix, suffix, case, whitespace, double encoding, dot and slash
tricks, length, unicode look-alikes); percent-encoding an id's own characters is not a variant,
since it decodes to the very same id.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, cast
from urllib.parse import quote

from hypothesis import strategies as st

from conformance.contract.model import Auth, Org, TargetId

if TYPE_CHECKING:
    from conformance.target.environment import Tenant

__all__ = [
    "TRICKS",
    "exactly",
    "existing_ids",
    "hook_auths",
    "never_existing",
    "never_existing_ids",
    "rest_auths",
    "target_ids",
    "variant_ids",
]

ID_CHARS = string.ascii_lowercase + string.digits + "_"
KEY_CHARS = string.ascii_letters + string.digits + "_-"
WHITESPACE = " \t\n\r\x0b\x0c"
HOMOGLYPHS = {"a": "\u0430", "c": "\u0441", "e": "\u0435", "o": "\u043e", "p": "\u0440", "x": "\u0445"}
LOOK_ALIKES = ("fullwidth", "homoglyph", "mark")
UNICODE_MARKS = ("\u200b", "\u0301", "\u202e", "\ufeff", "\u00e9", "\U0001f4de")
DOT_SLASH_FORMS = ("../{}", "zz/../{}", "{}/..", "./{}", "{}/", "{}/cancel", "..{}", "{}..", "{}/../{}")
LIMITED_KEY_LACKS = ("calls:cancel", "calls:delete")  # environment.Tenant.limited_key
FORMS = ("bearer", "x-api-key")


def _encode(decoded: str, *, dots: bool = False) -> str:
    """The raw segment of `decoded`: every byte but unreserved ASCII percent-encoded (dots too)."""
    raw = quote(decoded, safe="")
    return raw.replace(".", "%2E") if dots else raw


def exactly(call_id: str) -> TargetId:
    return TargetId("existing", _encode(call_id), call_id)


def never_existing(value: str) -> TargetId:
    return TargetId("never-existing", _encode(value))


def existing_ids(calls: st.SearchStrategy[str]) -> st.SearchStrategy[TargetId]:
    """Exactly the id of one of `calls` (whoever owns it, deleted or not)."""
    return calls.map(exactly)


def never_existing_ids(*, taken: Collection[str] = frozenset()) -> st.SearchStrategy[TargetId]:
    """Ids of no call: fresh UUIDs and `call_...` forms, none of them in `taken`."""
    uuids = st.uuids(version=4).map(str)
    call_forms = st.uuids(version=4).map(lambda fresh: "call_" + fresh.hex)  # random: never someone's call
    fresh = st.one_of(uuids, call_forms).filter(lambda value: value not in taken)
    return fresh.map(never_existing)


# -- variants: each trick draws a raw segment from an id ------------------------------------------

Trick = Callable[[st.DrawFn, str], str]
# Each trick draws the same choices whatever the id looks like: the state machine replays runs
# against fresh server-chosen ids, and hypothesis insists that a replay draws as the run did.
POSITIONS = st.integers(0, 255)


def _index(draw: st.DrawFn, size: int) -> int:
    """A position in a sequence of `size` (shrinks to 0), drawn the same way for any size."""
    return draw(POSITIONS) % max(1, size)


def _prefix(draw: st.DrawFn, call_id: str) -> str:
    return _encode(call_id[: 1 + _index(draw, len(call_id) - 1)])


def _suffix(draw: st.DrawFn, call_id: str) -> str:
    return _encode(call_id[1 + _index(draw, len(call_id) - 1) :])


def _extended(draw: st.DrawFn, call_id: str) -> str:
    extra = draw(st.text(ID_CHARS + "-", min_size=1, max_size=8))
    return _encode(call_id + extra if draw(st.booleans()) else extra + call_id)


def _case(draw: st.DrawFn, call_id: str) -> str:
    forms = [call_id.upper(), call_id.lower(), call_id.swapcase(), call_id[:1].swapcase() + call_id[1:]]
    first = _index(draw, len(forms))
    changed = [form for form in forms[first:] + forms[:first] if form != call_id]
    return _encode(changed[0] if changed else call_id)


def _whitespace(draw: st.DrawFn, call_id: str) -> str:
    left = draw(st.text(WHITESPACE, max_size=2))
    right = draw(st.text(WHITESPACE, min_size=0 if left else 1, max_size=2))
    return _encode(left + call_id + right)


def _double_encoded(draw: st.DrawFn, call_id: str) -> str:
    """Some characters as `%XX` before encoding: the server sees `%XX` after one decoding."""
    positions = {_index(draw, len(call_id)) for _ in range(draw(st.integers(1, 3)))}
    chars = [f"%{ord(c):02X}" if i in positions and ord(c) < 128 else c for i, c in enumerate(call_id)]
    return _encode("".join(chars))


def _dot_slash(draw: st.DrawFn, call_id: str) -> str:
    form = draw(st.sampled_from(DOT_SLASH_FORMS))
    return _encode(form.replace("{}", call_id), dots=True)


def _long(draw: st.DrawFn, call_id: str) -> str:
    filler = draw(st.sampled_from(["0", "a", "_", "the id again"]))
    filler = call_id if filler == "the id again" else filler
    return _encode(call_id + (filler * 4000)[: draw(st.integers(256, 4000))])


def _unicode(draw: st.DrawFn, call_id: str) -> str:
    """A look-alike: a fullwidth or Cyrillic letter, or an invisible or combining mark."""
    i, how, mark = _index(draw, len(call_id)), draw(st.sampled_from(LOOK_ALIKES)), draw(st.sampled_from(UNICODE_MARKS))
    glyphs = [j for j in range(i, len(call_id)) if call_id[j] in HOMOGLYPHS]
    if how == "homoglyph" and glyphs:
        j = glyphs[0]
        return _encode(call_id[:j] + HOMOGLYPHS[call_id[j]] + call_id[j + 1 :])
    c = call_id[i : i + 1]
    if how != "mark" and "!" <= c <= "~":
        return _encode(call_id[:i] + chr(ord(c) + 0xFEE0) + call_id[i + 1 :])
    return _encode(call_id[:i] + mark + call_id[i:])


TRICKS: dict[str, Trick] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "extended": _extended,
    "case": _case,
    "whitespace": _whitespace,
    "double-encoded": _double_encoded,
    "dot-slash": _dot_slash,
    "long": _long,
    "unicode": _unicode,
}


def _distinct(raw: str, call_id: str, taken: Collection[str]) -> str:
    """`raw` if it names no existing id; otherwise the id plus enough `~` to name none."""
    target = TargetId("variant", raw)
    tail = ""
    while target.decoded == call_id or target.decoded in taken:
        tail += "~"
        target = TargetId("variant", _encode(call_id + tail))
    return target.raw_segment


def variant_ids(
    calls: st.SearchStrategy[str], *, taken: Collection[str] = frozenset(), tricks: Sequence[str] = tuple(TRICKS)
) -> st.SearchStrategy[TargetId]:
    """Segments that imitate one of `calls` without being it (nor any id in `taken`)."""
    unknown = set(tricks) - set(TRICKS)
    if not tricks or unknown:
        raise ValueError(f"tricks must be a non-empty selection of {sorted(TRICKS)}, got {sorted(tricks)}")

    @st.composite
    def draw_variant(draw: st.DrawFn) -> TargetId:
        call_id = draw(calls)
        how = draw(st.sampled_from(tuple(tricks)))
        raw = _distinct(TRICKS[how](draw, call_id), call_id, taken)
        return TargetId("variant", raw, call_id, how)

    return draw_variant()


def target_ids(calls: st.SearchStrategy[str], *, taken: Collection[str] = frozenset()) -> st.SearchStrategy[TargetId]:
    """What an operation names: half the time exactly one of `calls`, else a never-existing id or
    a variant of one of `calls`. `taken` holds every id that exists (variants avoid them)."""
    odd = st.one_of(never_existing_ids(taken=taken), variant_ids(calls, taken=taken))
    return st.one_of(existing_ids(calls), odd)


# -- credentials ----------------------------------------------------------------------------------

UNKNOWN_KEYS = st.text(KEY_CHARS, min_size=8, max_size=40).map(lambda tail: "sk_test_" + tail)
UNKNOWN_TOKENS = st.text(KEY_CHARS, min_size=8, max_size=40).map(lambda tail: "whk_" + tail)


def _org(tenant: Tenant) -> Org:
    if tenant.name not in ("A", "B"):
        raise ValueError(f"tenants are named A or B, got {tenant.name!r}")
    return cast(Org, tenant.name)


def _key_headers(form: str, key: str) -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {key}"),) if form == "bearer" else (("x-api-key", key),)


def _lacking(tenant: Tenant) -> dict[str, frozenset[str]]:
    """Each key of `tenant` that misses scopes, with the scopes it misses."""
    found: dict[str, set[str]] = {}
    for scope, key in tenant.keys_without.items():
        found.setdefault(key, set()).add(scope)
    if tenant.limited_key:
        found.setdefault(tenant.limited_key, set()).update(LIMITED_KEY_LACKS)
    return {key: frozenset(scopes) for key, scopes in found.items()}


def _tenant_auths(tenant: Tenant) -> list[Auth]:
    """The tenant's full key in each form, its keys lacking scopes, its revoked key."""
    org, found = _org(tenant), []
    if tenant.key:
        found += [Auth(form, "rest", org, form=form, headers=_key_headers(form, tenant.key)) for form in FORMS]
        both = (("Authorization", f"Bearer {tenant.key}"), ("x-api-key", tenant.key))
        found.append(Auth("both", "rest", org, form="both", headers=both))
    for key, lacks in _lacking(tenant).items():
        found += [Auth("lacking-scope", "rest", org, lacks, form, _key_headers(form, key)) for form in FORMS]
    if tenant.revoked_key:
        found += [Auth("revoked", "rest", form=form, headers=_key_headers(form, tenant.revoked_key)) for form in FORMS]
    return found


def _known_keys(tenants: Sequence[Tenant]) -> list[str]:
    keys = [k for t in tenants for k in (t.key, t.limited_key, t.revoked_key, *t.keys_without.values())]
    return sorted({key for key in keys if key})


def _disagreeing(key: str, others: Sequence[str]) -> list[Auth]:
    """`key` in one header and another known key in the other, both ways round."""
    found = []
    for other in (o for o in others if o != key):
        found.append(
            Auth(
                "disagree",
                "rest",
                form="bearer+x-api-key",
                headers=(*_key_headers("bearer", key), ("x-api-key", other)),
            )
        )
        found.append(
            Auth(
                "disagree",
                "rest",
                form="x-api-key+bearer",
                headers=(("x-api-key", key), *_key_headers("bearer", other)),
            )
        )
    return found


def _malformed(key: str) -> list[Auth]:
    """A valid key behind a scheme that is not `Bearer <key>` (no trailing space: h11 refuses it)."""
    values = {
        "basic scheme": f"Basic {key}",
        "token scheme": f"Token {key}",
        "no scheme": key,
        "bearer without a key": "Bearer",
        "bearer without a space": f"Bearer{key}",
        "bearer with two keys": f"Bearer {key} {key}",
        "bearer with a colon": f"Bearer: {key}",
    }
    return [Auth("malformed", "rest", form=form, headers=(("Authorization", value),)) for form, value in values.items()]


def _other_case(key: str, known: Collection[str]) -> list[Auth]:
    swapped = key.swapcase()
    if swapped == key or swapped in known:
        return []
    return [Auth("unknown", "rest", form="key in other case", headers=_key_headers("x-api-key", swapped))]


def _unknown(keys: st.SearchStrategy[str], known: Collection[str]) -> st.SearchStrategy[Auth]:
    fresh = keys.filter(lambda key: key not in known)
    return st.builds(
        lambda key, form: Auth("unknown", "rest", form=form, headers=_key_headers(form, key)),
        fresh,
        st.sampled_from(FORMS),
    )


def _by_kind(
    auths: Sequence[Auth],
    drawn: dict[str, st.SearchStrategy[Auth]],
    kinds: Collection[str] | None,
    exclude: Collection[str],
) -> st.SearchStrategy[Auth]:
    """One branch per kind, so that each kind is as likely as another however many values it has;
    only `kinds` (every possible one when None), each of which must be possible with these
    credentials, less `exclude`."""
    branches = {kind: st.sampled_from([a for a in auths if a.kind == kind]) for kind in sorted({a.kind for a in auths})}
    for kind, strategy in drawn.items():
        branches[kind] = st.one_of(branches[kind], strategy) if kind in branches else strategy
    wanted = [kind for kind in (sorted(branches) if kinds is None else sorted(kinds)) if kind not in exclude]
    missing = [kind for kind in wanted if kind not in branches]
    if missing or not wanted:
        raise ValueError(f"no credentials for auth kinds {missing or wanted}; possible here: {sorted(branches)}")
    return st.one_of(*(branches[kind] for kind in wanted))


def rest_auths(
    tenants: Sequence[Tenant],
    *,
    kinds: Collection[str] | None = None,
    exclude: Collection[str] = (),
    unknown_keys: st.SearchStrategy[str] = UNKNOWN_KEYS,
) -> st.SearchStrategy[Auth]:
    """Every way of presenting (or not) an API key that the tenants' credentials allow: valid
    Bearer, x-api-key, both agreeing, both disagreeing, missing, empty, malformed schemes, unknown
    (a real key in the other case too), revoked, lacking a scope, each organisation's key.
    `kinds` selects some of them (`model.AUTH_KINDS`; ValueError if one is impossible here),
    `exclude` leaves some out."""
    known = _known_keys(tenants)
    fixed = [Auth("missing", "rest", form="no header")]
    fixed += [
        Auth("empty", "rest", form=f"empty {name}", headers=((name, ""),)) for name in ("x-api-key", "Authorization")
    ]
    for tenant in tenants:
        fixed += _tenant_auths(tenant)
        if tenant.key:
            fixed += _disagreeing(tenant.key, known) + _malformed(tenant.key) + _other_case(tenant.key, known)
    return _by_kind(fixed, {"unknown": _unknown(unknown_keys, known)}, kinds, exclude)


def hook_auths(
    tenants: Sequence[Tenant],
    *,
    kinds: Collection[str] | None = None,
    exclude: Collection[str] = (),
    unknown_tokens: st.SearchStrategy[str] = UNKNOWN_TOKENS,
) -> st.SearchStrategy[Auth]:
    """A webhook token: a tenant's own (that organisation calls: kind "token"), or an unknown one
    (kind "unknown-token"; a real one in the other case too). `kinds` and `exclude` as for REST."""
    tokens = {_org(t): t.webhook_token for t in tenants if t.webhook_token}
    fixed = [Auth("token", "webhook", org, form="token", token=token) for org, token in tokens.items()]
    fixed += [
        Auth("unknown-token", "webhook", form="token in other case", token=token.swapcase())
        for token in tokens.values()
        if token.swapcase() != token and token.swapcase() not in tokens.values()
    ]
    fresh = unknown_tokens.filter(lambda token: token not in tokens.values())
    unknown = fresh.map(lambda token: Auth("unknown-token", "webhook", form="token", token=token))
    return _by_kind(fixed, {"unknown-token": unknown}, kinds, exclude)
