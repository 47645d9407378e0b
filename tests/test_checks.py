"""The check registry, `Context.expect`, and what the catalogue's MUSTs are covered by.

A MUST is covered when a registered check names it, when a test of the suite carries it in its
`husky` marker (collected with `--collect-only`, which touches no target), or when a universal
rule (`conformance.layers.universal`) checks it on every answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from helpers import OFFLINE, offline_context

from conformance.contract.requirements import REQUIREMENTS
from conformance.errors import Failure
from conformance.http.client import Exchange
from conformance.layers import checks, properties, universal
from conformance.layers.checks import CHECKS, check
from conformance.layers.context import Context
from conformance.plugin import SUITE_MARKER

pytest_plugins = ["pytester"]

KEY = "sk_test_checks0123456789abcdef"
BASE = OFFLINE  # nothing here sends a request
MUST, SHOULD = "DEL-REPEAT-404", "CANCEL-PAST-QUEUED-409"


@pytest.fixture
def ctx() -> Iterator[Context]:
    """A context on environment credentials: building it sends no request."""
    made = offline_context(KEY)
    yield made
    made.client.close()


def exchange(status: int | None = 200, body: bytes = b"{}", *, path: str = "/v1/calls/c1", **headers: str) -> Exchange:
    """A DELETE with A's key and what came back (`status` None: it timed out)."""
    response_headers = {"content-type": "application/json", **headers} if status else {}
    error = None if status else "timed out"
    return Exchange("DELETE", BASE + path, {"x-api-key": KEY}, None, status, response_headers, body, error)


# --- the registry --------------------------------------------------------------------------------


def test_every_check_is_registered_under_its_own_name() -> None:
    assert len(CHECKS) >= 20, f"importing {properties.__name__} registers them"
    assert all(name == c.name for name, c in CHECKS.items())


def test_k_name_selects_exactly_one_check() -> None:
    """pytest's -k matches substrings: no check's name may hold another's."""
    clashes = [(a, b) for a in CHECKS for b in CHECKS if a != b and a in b]
    assert clashes == []


def test_every_check_names_requirements_of_the_catalogue() -> None:
    known = {r.id for r in REQUIREMENTS}
    for c in CHECKS.values():
        assert c.requirements, c.name
        assert set(c.requirements) <= known, c.name


def test_every_check_says_what_it_checks() -> None:
    assert [c.name for c in CHECKS.values() if not c.doc] == []


@pytest.fixture
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, checks.Check]:
    registry: dict[str, checks.Check] = {}
    monkeypatch.setattr(checks, "CHECKS", registry)
    return registry


def test_a_registered_check_keeps_its_name_and_requirements(empty_registry: dict[str, checks.Check]) -> None:
    @check("probe", MUST, SHOULD)
    def probe(ctx: Context) -> None:
        """Probe the probe."""

    assert empty_registry["probe"].requirements == (MUST, SHOULD)
    assert empty_registry["probe"].run is probe
    assert empty_registry["probe"].doc == "Probe the probe."


def test_a_name_registered_twice_is_refused(empty_registry: dict[str, checks.Check]) -> None:
    check("twice", MUST)(lambda ctx: None)
    with pytest.raises(ValueError, match="'twice' is registered already"):
        check("twice", SHOULD)(lambda ctx: None)


def test_an_unknown_requirement_is_refused_at_registration(empty_registry: dict[str, checks.Check]) -> None:
    with pytest.raises(KeyError, match="DEL-NOPE"):
        check("unknown", "DEL-NOPE")
    assert empty_registry == {}


# --- coverage of the catalogue -------------------------------------------------------------------


@pytest.fixture
def marked_requirements(pytester: pytest.Pytester) -> set[str]:
    """The requirements of the `husky` markers of every collected test of the suite."""
    recorder = pytester.inline_run("--collect-only", "--pyargs", "conformance.suite", "-p", "no:cacheprovider")
    items = [call.item for call in recorder.getcalls("pytest_itemcollected")]
    assert items, "nothing collected"
    found: set[str] = set()
    for item in items:
        marker = item.get_closest_marker(SUITE_MARKER)
        assert marker is not None, f"{item.nodeid} has no {SUITE_MARKER} marker"
        found |= set(marker.kwargs["requirements"])
    return found


def universal_requirements(ctx: Context) -> set[str]:
    """What the universal rules check on one throttled answer, after a delete."""
    ctx.env.erasure.erase("call_gone", {"erased-pii-value"})
    universal.watch(ctx)
    throttled = exchange(429, b'{"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "slow"}}', **{"retry-after": "1"})
    created = replace(exchange(201, b'{"data": {"call_id": "call_1"}}', path="/v1/calls"), method="POST")
    for observe in ctx.client.observers:
        observe(throttled)
        observe(created)
    return {rid for rid, count in ctx.results.checks.items() if count}


def test_every_must_is_covered(ctx: Context, marked_requirements: set[str]) -> None:
    by_checks = {rid for c in CHECKS.values() for rid in c.requirements}
    covered = by_checks | marked_requirements | universal_requirements(ctx)
    uncovered = [r.id for r in REQUIREMENTS if r.level == "MUST" and r.id not in covered]
    assert uncovered == []


def test_the_properties_markers_are_their_checks_requirements(pytester: pytest.Pytester) -> None:
    recorder = pytester.inline_run("--collect-only", "--pyargs", "conformance.suite.test_properties")
    items = [call.item for call in recorder.getcalls("pytest_itemcollected")]
    marks = {item.callspec.id: item.get_closest_marker(SUITE_MARKER) for item in items}
    assert set(marks) == set(CHECKS)
    for name, marker in marks.items():
        assert marker is not None
        assert marker.kwargs == {"layer": "properties", "requirements": CHECKS[name].requirements}


# --- Context.expect ------------------------------------------------------------------------------


def test_a_rule_that_holds_counts_a_check(ctx: Context) -> None:
    assert ctx.expect(MUST, True, "fine", exchange()) is True
    assert ctx.results.checks[MUST] == 1
    assert ctx.results.failures == {}


def test_a_broken_must_raises_with_its_evidence(ctx: Context) -> None:
    evidence = exchange()
    with pytest.raises(Failure) as raised:
        ctx.expect(MUST, False, "delete #2 answered 200", evidence)
    assert (raised.value.requirement, raised.value.title, raised.value.exchanges) == (
        MUST,
        "delete #2 answered 200",
        (evidence,),
    )
    assert str(raised.value) == f"[{MUST}] delete #2 answered 200"
    assert ctx.results.checks[MUST] == 1
    assert ctx.results.failures == {}  # recorded where it is caught (the plugin's report hook)


def test_a_broken_should_is_recorded_and_the_check_goes_on(ctx: Context) -> None:
    assert ctx.expect(SHOULD, False, "cancel answered 400", exchange(400)) is False
    assert ctx.expect(SHOULD, True, "the next one holds") is True
    assert ctx.results.checks[SHOULD] == 2
    (failure,) = ctx.results.failures[SHOULD]
    assert failure.message == "cancel answered 400"
    assert failure.reproduction.startswith(
        f'curl -sS -X DELETE "{BASE}/v1/calls/c1" -H "x-api-key: ${{HUSKY_API_KEY}}"'
    )
    assert failure.reproduction.splitlines()[-1].startswith(
        f"# replay the run: husky-conformance run --target-url {BASE} --seed 77 --budget quick --seeder api"
    )


def test_an_unknown_requirement_raises_key_error(ctx: Context) -> None:
    with pytest.raises(KeyError):
        ctx.expect("NOPE", True, "whatever")


@pytest.mark.parametrize(
    ("status", "body", "statuses", "code", "holds", "title"),
    [
        (404, b'{"error": {"code": "NOT_FOUND", "message": "m"}}', [404], "NOT_FOUND", True, ""),
        (404, b'{"error": {"code": "GONE", "message": "m"}}', [404], "NOT_FOUND", False, "got 404 GONE"),
        (200, b"{}", [404], "NOT_FOUND", False, "DELETE expected 404 NOT_FOUND, got 200"),
        (404, b"{}", [404], "NOT_FOUND", False, "got 404 with no error code (the envelope's error.code is missing)"),
        (409, b"{}", range(400, 500), None, True, ""),
        (None, b"", [200], None, False, "expected 200, got no answer: timed out"),
    ],
    ids=["status and code", "wrong code", "wrong status", "no code", "a range", "no answer"],
)
def test_expect_answer(
    ctx: Context, status: int | None, body: bytes, statuses: list[int], code: str | None, holds: bool, title: str
) -> None:
    assert ctx.expect_answer(SHOULD, exchange(status, body), statuses, code, what="a delete") is holds
    if not holds:
        (failure,) = ctx.results.failures[SHOULD]
        assert failure.message.startswith("a delete: DELETE expected ")
        assert failure.message.endswith(title)


def test_a_recorded_failure_is_redacted(ctx: Context) -> None:
    ctx.expect(SHOULD, False, f"the server echoed {KEY}", exchange())
    (failure,) = ctx.results.failures[SHOULD]
    assert KEY not in failure.message + failure.reproduction
    assert failure.message == "the server echoed ${HUSKY_API_KEY}"


def test_the_reproduction_starts_with_the_seeding_of_the_calls_it_names(ctx: Context) -> None:
    seeding = Exchange("POST", BASE + "/v1/calls", {"x-api-key": KEY}, b'{"agent_id": "a"}', 201, {}, b"")
    ctx.env.created.append("c1")
    ctx.env.setup["c1"] = seeding
    lines = ctx.reproduction((exchange(),)).splitlines()
    assert lines[0].startswith(f'curl -sS -X POST "{BASE}/v1/calls"')
    assert lines[0].endswith("# -> 201")
    assert lines[1].startswith(f'curl -sS -X DELETE "{BASE}/v1/calls/c1"')
    assert lines[2].startswith(
        f"# replay the run: husky-conformance run --target-url {BASE} --seed 77 --budget quick --seeder api"
    )


def test_describe_is_what_the_terminal_shows(ctx: Context) -> None:
    failure = Failure(MUST, f"echoed {KEY}", (exchange(),))
    text = ctx.describe(failure)
    assert text.splitlines()[0] == f"[{MUST}] echoed ${{HUSKY_API_KEY}}"
    assert text.splitlines()[1:] == ctx.reproduction(failure.exchanges).splitlines()


# --- the universal rules -------------------------------------------------------------------------


def observe(ctx: Context, answer: Exchange) -> None:
    universal.watch(ctx)
    ctx.client.observers[-1](answer)


def failed(ctx: Context) -> set[str]:
    return set(ctx.results.failures)


def test_every_broken_universal_rule_of_one_answer_is_recorded(ctx: Context) -> None:
    """A 500 in plain text breaks three rules; the first (a MUST) must not hide the others."""
    observe(ctx, exchange(500, b"Internal Server Error", **{"content-type": "text/plain"}))
    assert failed(ctx) == {"ENV-NO-5XX", "ENV-ERROR-ENVELOPE", "ENV-JSON"}


def test_erased_pii_is_found_even_in_an_answer_that_breaks_another_rule(ctx: Context) -> None:
    ctx.env.erasure.erase("call_gone", {"Zq Person 123abc"})
    observe(ctx, exchange(404, b'{"detail": "Zq Person 123abc is gone"}'))
    assert failed(ctx) == {"ENV-ERROR-ENVELOPE", "DEL-ERASURE"}


def test_a_good_answer_breaks_no_universal_rule(ctx: Context) -> None:
    observe(ctx, exchange(404, b'{"error": {"code": "NOT_FOUND", "message": "No call."}}'))
    assert failed(ctx) == set()
    assert {rid for rid, n in ctx.results.checks.items() if n} == {
        "ENV-NO-5XX",
        "ENV-ERROR-ENVELOPE",
        "ENV-JSON",
        "RATE-LIMIT-429",
    }


def test_a_throttled_head_needs_only_its_retry_after(ctx: Context) -> None:
    """HTTP: a HEAD answer has no body, so a 429 to HEAD cannot name RATE_LIMIT_EXCEEDED (contract 7)."""
    observe(ctx, replace(exchange(429, b"", **{"retry-after": "2"}), method="HEAD"))
    assert failed(ctx) == set()
    observe(ctx, replace(exchange(429, b"", **{"retry-after": "²"}), method="HEAD"))
    assert failed(ctx) == {"RATE-LIMIT-429"}


@pytest.mark.parametrize(
    "answer",
    [exchange(None), exchange(500, b"oops", path="/_fixtures/orgs")],
    ids=["no answer", "fixtures API"],
)
def test_what_the_universal_rules_do_not_watch(ctx: Context, answer: Exchange) -> None:
    observe(ctx, answer)
    assert ctx.results.checks == {}
