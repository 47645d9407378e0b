"""The budgets: what each tries (`Budget.breadth`), how the checks sample at the smoke budget,
that `--budget smoke` covers every MUST in at most 300 requests (a five-minute run at 60/min), and
that every budget keeps the clean-up's share: none leaves a call behind, and one too small for a
check is a usage error naming the smallest that works.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FIXTURES_TOKEN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from suite_runs import run_suite, run_suites

from conformance.config import BUDGETS, SuiteConfig, build_config
from conformance.contract import model
from conformance.contract.requirements import REQUIREMENTS
from conformance.errors import NotExercised, UsageError
from conformance.http.client import Client
from conformance.http.redaction import Secrets
from conformance.layers.checks import CHECKS, Context
from conformance.layers.properties import _common, auth, create, ids, webhook
from conformance.layers.results import Results
from conformance.mock import MockServer
from conformance.run import session
from conformance.run.parallel import shares
from conformance.run.session import SuiteSession, check_budget, smallest_budget
from conformance.target import calls, environment
from conformance.target.environment import Environment, Parts
from conformance.target.ledger import clean_up

BASE = "http://127.0.0.1:9"  # nothing here sends a request
SMOKE_REQUESTS = 300


def context(report_dir: Path, budget: str, seed: int = 7) -> Context:
    """A context on environment credentials: building it sends no request (there is no target, so
    no credential check either: `tests/test_credentials_probe.py` has it)."""
    env = {"HUSKY_API_KEY": "sk_test_budgets0123456789"}
    config = build_config(
        target_url=BASE,
        fixtures_token=None,
        report_dir=str(report_dir),
        seed=seed,
        budget=budget,
        strict=False,
        timeout=1.0,
        env=env,
    )
    secrets = Secrets()
    client = Client(BASE, timeout=1.0, secrets=secrets)
    client.close()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(environment, "probe_credentials", lambda env, config: None)
        made = Environment(client, config, secrets)
    return Context(client, made, Results(), config)


@pytest.fixture
def smoke(tmp_path: Path) -> Context:
    return context(tmp_path, "smoke")


def test_only_smoke_samples_the_others_try_every_combination() -> None:
    assert {name: b.breadth for name, b in BUDGETS.items()} == {
        "smoke": "sample",
        "quick": "every",
        "default": "every",
        "thorough": "every",
    }
    assert {b.stateful_steps for name, b in BUDGETS.items() if name != "smoke"} == {0}  # schemathesis' own


def test_at_every_breadth_a_sample_is_everything_in_order(tmp_path: Path) -> None:
    sample = _common.Sample(context(tmp_path, "quick"), "anything")
    kinds = [("a", "b"), (), ("c",), ("d", "e", "f")]
    assert sample.each(kinds) == ["a", "b", "c", "d", "e", "f"]
    assert sample.one(("x", "y")) == ["x", "y"]


def test_sampled_one_of_each_kind_is_drawn_by_the_seed(tmp_path: Path) -> None:
    kinds = [("a", "b"), ("c",), ("d", "e", "f")]

    def draws(name: str) -> list[tuple[str, ...]]:
        return [tuple(_common.Sample(context(tmp_path, "smoke", seed), name).each(kinds)) for seed in range(30)]

    found = draws("anything")
    assert all(len(d) == 3 and d[0] in "ab" and d[1] == "c" and d[2] in "def" for d in found)
    assert len({d[2] for d in found}) == 3, "not drawn: always the same item of a kind"
    assert draws("anything") == found, "the same seed drew otherwise"
    assert draws("another check") != found, "two checks of one run draw alike: their draws are not their own"


def test_the_kinds_hold_exactly_what_they_sample_from() -> None:
    assert list(chain(*_common.STATE_KINDS)) == list(model.STATES)
    assert list(chain(*create.INVALID_KINDS)) == list(create.INVALID_BODIES)
    assert sorted(chain(*webhook.BAD_BODY_KINDS)) == sorted(webhook._bad_bodies("call_x"))
    call_id = "3f2c9a1e-5b7d-4c8e-9f0a-1b2c3d4e5f60"
    kinds = {kind for kind, _ in ids.labelled_variants(call_id) + ids.LABELLED_ODD_SEGMENTS}
    assert kinds == {"truncated", "extended", "case", "whitespace", "control", "encoding", "path", "unicode", "long"}
    assert (len(ids.variants(call_id)), len(ids.ODD_SEGMENTS)) == (16, 9)  # the every breadth's pool, as it was


def test_sampled_odd_ids_try_one_segment_of_each_kind_with_one_operation(smoke: Context) -> None:
    call_id = "3f2c9a1e-5b7d-4c8e-9f0a-1b2c3d4e5f60"
    labelled = ids.labelled_variants(call_id) + ids.LABELLED_ODD_SEGMENTS
    kind_of = {segment: kind for kind, segment in labelled}
    requests = ids._odd_requests(_common.Sample(smoke, "odd_ids"), random.Random(1), call_id, 3)
    assert sorted(kind_of[segment] for segment, _ in requests) == sorted({kind for kind, _ in labelled})
    assert all(len(ops) == 1 for _, ops in requests)


def test_sampled_refusals_are_one_credential_per_requirement(smoke: Context) -> None:
    found = auth._one_per_requirement(_common.Sample(smoke, "auth_rejections"), _common.bad_auths(smoke))
    requirements = [requirement for _, requirement in found.values()]
    assert sorted(requirements) == sorted(set(requirements))
    assert set(requirements) == {r for _, r in _common.bad_auths(smoke).values()}


def test_sampled_transport_equivalence_compares_the_operations_that_succeed(smoke: Context) -> None:
    pairs = webhook._state_ops(_common.Sample(smoke, "transport_equivalence"), model.STATES)
    assert sorted(pairs) == sorted(webhook.ACTING)


def test_smoke_covers_every_must_within_300_requests(tmp_path: Path) -> None:
    run = run_suite(["--budget", "smoke"], tmp_path / "reports")
    run.assert_exit_matches_verdict()
    report = run.report
    assert (report["verdict"], report["budget"]) == ("pass", "smoke"), run.describe()
    assert 0 < report["requests"] <= SMOKE_REQUESTS
    musts = {r.id for r in REQUIREMENTS if r.level == "MUST"}
    weak = {i: (r["status"], r["checks"]) for i, r in run.requirements.items() if i in musts}
    assert {i for i, (status, checks) in weak.items() if status != "pass" or checks == 0} == set(), weak
    assert set(weak) == musts


# --- the clean-up's share -------------------------------------------------------------------------

SMALL_BUDGETS = range(1, 51)


@contextlib.contextmanager
def not_skipped() -> Iterator[None]:
    """`NotExercised` is a pytest skip: escaping here, it fails the test instead of skipping it."""
    try:
        yield
    except NotExercised as error:
        pytest.fail(f"not exercised escaped: {error.reason}")


def budget_config(budget: int, target: str | None = None, report_dir: Path = Path("reports")) -> SuiteConfig:
    token = FIXTURES_TOKEN if target else None
    return build_config(
        target_url=target,
        fixtures_token=token,
        report_dir=str(report_dir),
        seed=None,
        budget=str(budget),
        strict=False,
        timeout=10.0,
        env={},
    )


def small_run(budget: int, mock: MockServer, report_dir: Path) -> tuple[SuiteSession, list[str]]:
    """The suite at `budget` against `mock`, through the library: the targeted properties in the
    run's order, then the clean-up; and the checks that ran to their end. At these budgets the
    properties spend it all before the other layers (`test_the_cli_at_small_budgets` shows it)."""
    with not_skipped():
        session = SuiteSession.open(budget_config(budget, mock.url, report_dir))
    done = []
    try:
        for found in CHECKS.values():
            try:
                found.run(session.ctx)
            except NotExercised:
                continue
            done.append(found.name)
        with not_skipped():
            session.clean_up()
    finally:
        session.close()
    return session, done


def test_every_budget_from_1_to_50_leaves_no_call_and_is_incomplete_or_a_usage_error(
    mock_server: MockServer, tmp_path: Path
) -> None:
    least = smallest_budget(budget_config(1))[0]
    for budget in SMALL_BUDGETS:
        if budget < least:
            with pytest.raises(UsageError, match=f"the smallest that works is --budget {least} "):
                check_budget(budget_config(budget))
            continue
        check_budget(budget_config(budget))
        session, done = small_run(budget, mock_server, tmp_path / str(budget))
        assert session.cleanup is not None
        assert session.cleanup.leftovers == [], (budget, session.cleanup.leftovers)
        assert session.ctx.client.requests <= budget, budget
        assert session.ctx.results.verdict(strict=False) == "incomplete", budget
        assert done or budget > least, f"--budget {least} is named the smallest that works, and exercised no check"


def test_a_setup_that_spends_the_budget_is_a_usage_error(
    mock_server: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the probe and provisioning take more than counted (429s waited out, say), the run still
    ends in a usage error before any check, not a crash."""
    monkeypatch.setattr(session, "check_budget", lambda config: None)
    with pytest.raises(UsageError, match="a budget of 5 requests was spent before the first check"), not_skipped():
        SuiteSession.open(budget_config(5, mock_server.url, tmp_path))


def test_the_cli_at_small_budgets(tmp_path: Path) -> None:
    """`--budget N` on the command line: a usage error below the smallest budget (one line, before any
    request), else INCOMPLETE with no call left; up to 50 the schema and lifecycle layers get nothing."""
    least = smallest_budget(budget_config(1))[0]
    for budget in (1, least - 1):
        run = run_suite(["--budget", str(budget)], tmp_path / str(budget))
        assert run.returncode == 4, run.describe()
        assert run.stderr.strip().splitlines() == [
            f"husky-conformance: a budget of {budget} requests is too small for one check: the smallest that"
            f" works is --budget {least} (1 reachability probe, 9 to provision through the fixtures API,"
            " 2 for the cheapest check)"
        ], run.describe()
    budgets = (least, 50)
    runs = run_suites([(["--budget", str(b)], tmp_path / str(b), None) for b in budgets])
    for budget, run in zip(budgets, runs, strict=True):
        assert run.returncode == 2, run.describe()
        assert "Traceback" not in run.output, run.describe()
        assert run.report["ledger"]["leftovers"] == [], run.describe()
        assert run.report["requests"] <= budget, run.describe()
    layers = {line.split("]")[0].strip(" [") for line in runs[1].stdout.splitlines() if line.startswith("  [")}
    assert layers == {"properties", "schema", "lifecycle"}, runs[1].describe()
    others = [line for line in runs[1].stdout.splitlines() if line.startswith(("  [schema", "  [lifecycle"))]
    assert all(line.endswith(" 0 requests") for line in others), runs[1].describe()
    assert re.search(r"routes_and_methods +pass", runs[0].stdout), runs[0].describe()


def test_a_parallel_run_is_refused_a_budget_too_small_for_one_check_in_each_worker(tmp_path: Path) -> None:
    """Each worker probes and provisions on its own: the smallest budget named holds a check in each."""
    least = smallest_budget(budget_config(1))[0]
    run = run_suite(["--workers", "2", "--budget", str(2 * least)], tmp_path / "reports")
    assert run.returncode == 4, run.describe()
    named = re.search(r"the smallest that works is --budget (\d+), or fewer --workers$", run.stderr.strip())
    assert named, run.describe()
    assert min(shares(budget_config(int(named[1])), 2)) == least > min(shares(budget_config(int(named[1]) - 1), 2))


class FakeTarget:
    """Just enough of the calls API for the budget, in process: REST create (queued), GET, cancel.
    A cancel gets no answer while `loss` says so: "before" it reached the call, or "after"."""

    def __init__(self, pause: float = 0.0) -> None:
        self.states: dict[str, str] = {}
        self.pause = pause  # seconds each answer takes: concurrent requests overlap
        self.loss: str | None = None
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.pause)
        cancel = request.url.path.endswith("/cancel")
        if cancel and self.loss == "before":
            raise httpx.ConnectTimeout("no answer", request=request)
        answer = self._answer(request)
        if cancel and self.loss == "after":
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return answer

    def _answer(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.split("/")
        with self._lock:
            if request.method == "POST" and request.url.path == "/v1/calls":
                call_id = f"call_{len(self.states)}"
                self.states[call_id] = "queued"
                return httpx.Response(201, json={"data": {"call_id": call_id, "status": "queued"}})
            state = self.states.get(parts[3])
            if state is None:
                return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": "No such call."}})
            if request.method == "POST" and state == "queued":
                self.states[parts[3]] = state = "cancelled"
            elif request.method == "POST":
                return httpx.Response(409, json={"error": {"code": "CONFLICT", "message": "Not cancellable."}})
            return httpx.Response(200, json={"data": {"call_id": parts[3], "status": state}})


def fake_run(budget: int, target: FakeTarget, report_dir: Path) -> Environment:
    """An environment on `target` at `budget`, watched as a run's is (`conformance.run.session`)."""
    config = build_config(
        target_url=BASE,
        fixtures_token=None,
        report_dir=str(report_dir),
        seed=1,
        budget=str(budget),
        strict=False,
        timeout=1.0,
        env={"HUSKY_API_KEY": "sk_test_budgets0123456789"},
    )
    secrets, real, parts = Secrets(), httpx.Client, Parts.of(config)
    with pytest.MonkeyPatch.context() as patch:  # no TLS context to load (55 ms): the target is in process
        patch.setattr(httpx, "Client", lambda **_: real(transport=httpx.MockTransport(target)))
        client = Client(BASE, timeout=1.0, secrets=secrets, max_requests=budget, hooks=parts.hooks())
    with pytest.MonkeyPatch.context() as patch:  # the budget's rules alone, from the first request
        patch.setattr(environment, "probe_credentials", lambda env, config: None)
        env = Environment(client, config, secrets, parts)
    client.observers += [env.observe, env.ledger.observe]
    return env


def clean(env: Environment) -> list[dict[str, Any]]:
    env.client.cleaning = True
    with not_skipped():
        return clean_up(env).leftovers


Op = tuple[str, int, str | None]  # "create", "get" or "cancel"; which call of those made (modulo); its loss


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    budget=st.integers(1, 30),
    ops=st.lists(
        st.tuples(
            st.sampled_from(["create", "get", "cancel"]), st.integers(0, 20), st.sampled_from([None, "before", "after"])
        ),
        max_size=30,
    ),
)
def test_a_request_that_may_create_a_call_leaves_room_for_every_clean_up(
    budget: int, ops: list[Op], tmp_path: Path
) -> None:
    """The reservation rule: after any admitted request, the budget holds the clean-up of every call
    (and a cancel, the read-back of its answer if it is lost); no call is left on the target."""
    target = FakeTarget()
    env = fake_run(budget, target, tmp_path)
    client, a = env.client, env.a.auth()
    for op, which, target.loss in ops:
        try:
            if op == "create" or not env.created:
                env.note_created(calls.create(client, a))
            else:
                calls.rest(client, "get" if op == "get" else "cancel", env.created[which % len(env.created)], a)
        except NotExercised:
            pass
        assert client.requests + env.ledger.cleanup_cost() <= budget
    target.loss = None  # the clean-up's answers all come back: what it leaves is the budget's doing
    assert clean(env) == []
    assert client.requests <= budget
    assert set(target.states.values()) <= {"cancelled"}, target.states


def test_concurrent_creates_do_not_share_one_reservation(tmp_path: Path) -> None:
    """Creates in flight at once each keep their clean-up's share (their calls are not in the ledger yet)."""
    env = fake_run(10, FakeTarget(pause=0.05), tmp_path)
    start = threading.Barrier(8)

    def create(_: int) -> None:
        start.wait()
        with contextlib.suppress(NotExercised):
            calls.create(env.client, env.a.auth())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, range(8)))
    assert len(env.created) == 2  # 1 + 3, then 1 + 3 more: the third would leave 2 for 6 of clean-up
    assert clean(env) == []
