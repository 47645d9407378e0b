"""The lifecycle layer's hypothesis strategies, without HTTP (conformance/strategies.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from conformance.contract import model
from conformance.contract.model import Auth, TargetId
from conformance.layers import seed_data, strategies
from conformance.target.environment import ALL_SCOPES, Tenant

IDS = ["0f6c8a9e-3b1d-4c2e-9a7f-5d4b3c2a1e0f", "call_abc_123", "Call_MiXeD-9", "x7"]
TAKEN = frozenset([*IDS, "call_abc", "0f6c8a9e", "X7", "abc_123"])
EXAMPLES = settings(max_examples=300, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIND = settings(max_examples=2000, database=None, deadline=None)


def tenant(name: str, *, revoked: bool = True, limited: bool = True, token: bool = True) -> Tenant:
    low = name.lower()
    return Tenant(
        name,
        key=f"sk_test_full_{low}",
        limited_key=f"sk_test_limited_{low}" if limited else None,
        webhook_token=f"whk_token_{low}" if token else None,
        revoked_key=f"sk_test_revoked_{low}" if revoked else None,
        keys_without={s: f"sk_test_without_{s.split(':')[1]}_{low}" for s in ALL_SCOPES},
        org_id=f"org_{low}",
    )


TENANTS = [tenant("A"), tenant("B")]
SECRETS = {
    v for t in TENANTS for v in (t.key, t.limited_key, t.revoked_key, t.webhook_token, *t.keys_without.values()) if v
}


# -- ids ------------------------------------------------------------------------------------------


def check_segment(target: TargetId) -> None:
    raw = target.raw_segment
    assert raw
    assert raw.isascii()
    assert "/" not in raw
    assert re.fullmatch(r"(?:[A-Za-z0-9_.~-]|%[0-9A-F]{2})+", raw), raw
    assert unquote(raw) == target.decoded


@EXAMPLES
@given(strategies.variant_ids(st.sampled_from(IDS), taken=TAKEN))
def test_variants_never_name_an_existing_id(target: TargetId) -> None:
    check_segment(target)
    assert target.kind == "variant"
    assert target.call in IDS
    assert target.decoded != target.call
    assert target.decoded not in TAKEN
    assert target.how in strategies.TRICKS


@pytest.mark.parametrize("trick", sorted(strategies.TRICKS))
def test_each_trick_makes_distinct_raw_segments(trick: str) -> None:
    @EXAMPLES
    @given(strategies.variant_ids(st.sampled_from(IDS), taken=TAKEN, tricks=[trick]))
    def run(target: TargetId) -> None:
        check_segment(target)
        assert target.how == trick
        assert target.decoded != target.call
        assert target.decoded not in TAKEN

    run()


def test_tricks_do_what_they_say() -> None:
    def one(trick: str, condition: object) -> TargetId:
        strategy = strategies.variant_ids(st.just("call_abc_123"), tricks=[trick])
        return find(strategy, condition, settings=FIND)  # type: ignore[arg-type]

    assert one("prefix", lambda t: "call_abc_123".startswith(t.decoded)).decoded
    assert one("suffix", lambda t: "call_abc_123".endswith(t.decoded)).decoded
    assert one("case", lambda t: t.decoded.lower() == "call_abc_123").decoded.isupper()
    assert one("whitespace", lambda t: t.decoded.strip() == "call_abc_123").raw_segment
    assert "%25" in one("double-encoded", lambda t: unquote(t.decoded) == "call_abc_123").raw_segment
    assert one("dot-slash", lambda t: "%2F" in t.raw_segment and "%2E%2E" in t.raw_segment).raw_segment
    assert len(one("long", lambda t: len(t.raw_segment) > 1000).raw_segment) <= 4000 + len("call_abc_123")
    assert not one("unicode", lambda t: not t.decoded.isascii()).decoded.isascii()


def test_a_variant_that_would_name_a_taken_id_is_pushed_off_it() -> None:
    taken = {"a", "b", "A", "B", "ab", "AB", "aB", "Ab"}
    strategy = strategies.variant_ids(st.just("ab"), taken=taken, tricks=["prefix", "suffix", "case"])

    @EXAMPLES
    @given(strategy)
    def run(target: TargetId) -> None:
        assert target.decoded not in taken
        assert target.decoded.startswith(("ab~", "a", "b", "A", "B"))

    run()


def test_unknown_tricks_fail_loudly() -> None:
    with pytest.raises(ValueError, match="tricks"):
        strategies.variant_ids(st.just("x"), tricks=["teleport"])
    with pytest.raises(ValueError, match="tricks"):
        strategies.variant_ids(st.just("x"), tricks=[])


@EXAMPLES
@given(strategies.never_existing_ids(taken=TAKEN))
def test_never_existing_ids_are_fresh_uuids_or_call_forms(target: TargetId) -> None:
    check_segment(target)
    assert target.kind == "never-existing"
    assert target.call is None
    assert target.decoded not in TAKEN
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|call_[a-z0-9_]+", target.decoded
    )


@EXAMPLES
@given(strategies.existing_ids(st.sampled_from(IDS)))
def test_existing_ids_name_the_call_exactly(target: TargetId) -> None:
    check_segment(target)
    assert target.decoded == target.call


def test_target_ids_reach_every_kind() -> None:
    strategy = strategies.target_ids(st.sampled_from(IDS), taken=TAKEN)
    for kind in ("existing", "never-existing", "variant"):

        def of_kind(target: TargetId, kind: str = kind) -> bool:
            return target.kind == kind

        assert find(strategy, of_kind, settings=FIND).kind == kind


# -- credentials ----------------------------------------------------------------------------------

REST_KINDS = [k for k in model.AUTH_KINDS if k not in ("token", "unknown-token")]


@pytest.mark.parametrize("kind", REST_KINDS)
def test_every_rest_auth_kind_is_reachable(kind: str) -> None:
    found = find(strategies.rest_auths(TENANTS), lambda a: a.kind == kind, settings=FIND)
    assert found.transport == "rest"
    assert (found.org is None) == (found.refusal is not None)


@pytest.mark.parametrize("kind", ["token", "unknown-token"])
def test_every_webhook_auth_kind_is_reachable(kind: str) -> None:
    found = find(strategies.hook_auths(TENANTS), lambda a: a.kind == kind, settings=FIND)
    assert found.transport == "webhook"
    assert found.token


@pytest.mark.parametrize("org", ["A", "B"])
def test_each_organisations_key_and_token_are_reachable(org: str) -> None:
    assert find(strategies.rest_auths(TENANTS), lambda a: a.kind == "bearer" and a.org == org, settings=FIND)
    assert find(strategies.hook_auths(TENANTS), lambda a: a.kind == "token" and a.org == org, settings=FIND)


@EXAMPLES
@given(strategies.rest_auths(TENANTS))
def test_rest_credentials_match_their_kind(auth: Auth) -> None:
    headers = auth.header_dict()
    keys = {t.name: t for t in TENANTS}
    for value in headers.values():
        assert value.isascii()
        assert value == value.strip()  # h11 refuses surrounding whitespace
    if auth.kind == "bearer":
        assert headers == {"Authorization": f"Bearer {keys[auth.org or ''].key}"}
    elif auth.kind == "x-api-key":
        assert headers == {"x-api-key": keys[auth.org or ""].key}
    elif auth.kind == "both":
        assert headers["Authorization"] == f"Bearer {headers['x-api-key']}"
    elif auth.kind == "disagree":
        assert headers["Authorization"].removeprefix("Bearer ") != headers["x-api-key"]
    elif auth.kind == "missing":
        assert headers == {}
    elif auth.kind == "empty":
        assert list(headers.values()) == [""]
    elif auth.kind == "unknown":
        assert not set(headers.values()) & SECRETS
        assert all(v.removeprefix("Bearer ") not in SECRETS for v in headers.values())
    elif auth.kind == "malformed":
        assert not headers["Authorization"].startswith("Bearer ") or headers["Authorization"].count(" ") > 1
    elif auth.kind == "lacking-scope":
        assert auth.lacks
        assert auth.lacks <= set(ALL_SCOPES)
    for value in headers.values():
        assert value not in repr(auth) or not value


def test_credentials_stay_out_of_repr() -> None:
    @EXAMPLES
    @given(st.one_of(strategies.rest_auths(TENANTS), strategies.hook_auths(TENANTS)))
    def run(auth: Auth) -> None:
        assert not any(secret in repr(auth) for secret in SECRETS)

    run()


def test_limited_and_scope_keys_lack_what_they_lack() -> None:
    lacking = find(
        strategies.rest_auths(TENANTS, kinds=["lacking-scope"]),
        lambda a: a.header_dict().get("x-api-key") == "sk_test_limited_a",
        settings=FIND,
    )
    assert lacking.lacks == {"calls:cancel", "calls:delete"}
    assert lacking.org == "A"


def test_kinds_select_and_impossible_kinds_fail_loudly() -> None:
    @EXAMPLES
    @given(strategies.rest_auths(TENANTS, kinds=["bearer", "x-api-key"]))
    def run(auth: Auth) -> None:
        assert auth.kind in ("bearer", "x-api-key")

    run()
    bare = [tenant("A", revoked=False, limited=False, token=False)]
    with pytest.raises(ValueError, match="revoked"):
        strategies.rest_auths(bare, kinds=["revoked"])
    with pytest.raises(ValueError, match="token"):
        strategies.hook_auths(bare, kinds=["token"])


def test_without_fixtures_only_what_the_credentials_allow() -> None:
    a = Tenant("A", key="sk_test_only", limited_key="sk_test_lim", webhook_token=None)
    a.keys_without = {"calls:delete": "sk_test_lim", "calls:cancel": "sk_test_lim"}
    strategy = strategies.rest_auths([a, Tenant("B")])

    @EXAMPLES
    @given(strategy)
    def run(auth: Auth) -> None:
        assert auth.kind != "revoked"
        assert auth.org in (None, "A")

    run()
    assert find(strategies.hook_auths([a, Tenant("B")]), lambda x: True, settings=FIND).kind == "unknown-token"


@pytest.mark.parametrize("trick", sorted(strategies.TRICKS))
def test_tricks_draw_alike_whatever_the_id(trick: str) -> None:
    """A replay against fresh server-chosen ids must draw as the first run did (no flakiness)."""

    def drawn(call_id: str) -> list[str]:
        asked: list[str] = []

        def draw(strategy: st.SearchStrategy[Any]) -> Any:
            asked.append(repr(strategy))
            return find(strategy, lambda _: True, settings=FIND)

        strategies.TRICKS[trick](cast(st.DrawFn, draw), call_id)
        return asked

    shapes = ["0f6c8a9e-3b1d-4c2e-9a7f-5d4b3c2a1e0f", "call_abc_123", "9", "ZZZZ", "a-c-e-o-p-x"]
    assert len({tuple(drawn(call_id)) for call_id in shapes}) == 1


def test_exclude_leaves_kinds_out() -> None:
    valid = ("bearer", "x-api-key", "both")

    @EXAMPLES
    @given(strategies.rest_auths(TENANTS, exclude=valid))
    def run(auth: Auth) -> None:
        assert auth.kind not in valid

    run()
    assert find(strategies.rest_auths(TENANTS, exclude=valid), lambda a: a.kind == "lacking-scope", settings=FIND)
    with pytest.raises(ValueError, match="auth kinds"):
        strategies.hook_auths(TENANTS, exclude=["token", "unknown-token"])


# --- seeded data ----------------------------------------------------------------------------------

BASE_PII = {
    "contact_number": "+919812345678",
    "contact_name": "Zq Person 0123456789ab-t",
    "contact_email": "zq.0123456789ab-t@example.invalid",
    "additional_info": {"zq_note": "note-0123456789ab-t"},
    "transcript": [{"speaker": "contact", "text": "zq transcript 0123456789ab-t"}],
    "recording_url": "https://recordings.example.invalid/zq-0123456789ab-t.mp3",
}


def _seed_request_validator() -> Any:
    import yaml
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from conformance.mock.validation import SPEC_BASE

    specs = Path(__file__).resolve().parent.parent / "specs"
    registry: Registry = Registry()
    for name in ("openapi.yaml", "fixtures.yaml"):
        document = yaml.safe_load((specs / name).read_text(encoding="utf-8"))
        registry = registry.with_resource(SPEC_BASE + name, Resource.from_contents(document, DRAFT202012))
    schema = {"$ref": SPEC_BASE + "fixtures.yaml#/components/schemas/SeedCallRequest"}
    return Draft202012Validator(schema, registry=registry)


SEED_REQUEST = _seed_request_validator()


@given(seed_data.varied_pii(BASE_PII))
@EXAMPLES
def test_varied_pii_is_a_seed_request_and_each_string_holds_the_mark(pii: dict[str, Any]) -> None:
    request = {"org_id": "org_1", "status": "completed", **pii}
    assert not list(SEED_REQUEST.iter_errors(request))
    assert pii["contact_number"] == BASE_PII["contact_number"]
    strings = [s for s in model.pii_strings(pii) if s != pii["contact_number"]]
    strings += [str(entry["text"]) for entry in pii["transcript"]]
    assert all("0123456789ab-t" in s for s in strings if not s.startswith("{"))


def test_the_extremes_cross_every_form_of_the_data() -> None:
    sparse = seed_data.shaped_pii(BASE_PII, seed_data.extreme("sparse"))
    rich = seed_data.shaped_pii(BASE_PII, seed_data.extreme("rich"))
    assert (sparse["contact_name"], sparse["contact_email"], sparse["recording_url"]) == (None, None, None)
    assert (sparse["transcript"], sparse["additional_info"], sparse["duration_seconds"]) == ([], {}, 0)
    assert len(rich["contact_name"]) > 255
    assert any(ord(c) > 0xFFFF for c in rich["contact_name"])
    assert any(isinstance(v, dict) for v in rich["additional_info"].values())
    assert len(rich["transcript"]) > 10
    assert rich["duration_seconds"] >= 2**31 - 1


def test_examples_are_the_same_for_the_same_seed_and_differ_by_seed() -> None:
    first = seed_data.examples(seed_data.data_shapes(), 4, 7)
    assert first == seed_data.examples(seed_data.data_shapes(), 4, 7)
    assert first[0] == dict.fromkeys(seed_data.VARIED, "typical")  # the simplest: the form listed first
    assert len({tuple(sorted(s.items())) for s in first}) == len(first)
    assert first != seed_data.examples(seed_data.data_shapes(), 4, 8)
