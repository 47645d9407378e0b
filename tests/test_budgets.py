"""The budgets: what each tries (`Budget.breadth`), how the checks sample at the smoke budget, and
that `--budget smoke` covers every MUST in at most 300 requests (a five-minute run at 60/min).
"""

from __future__ import annotations

import random
from itertools import chain
from pathlib import Path

import pytest
from suite_runs import run_suite

from conformance.checks import Context
from conformance.client import Client
from conformance.config import BUDGETS, build_config
from conformance.environment import Environment
from conformance.properties import _common, auth, create, ids, webhook
from conformance.redaction import Secrets
from conformance.requirements import REQUIREMENTS
from conformance.results import Results

BASE = "http://127.0.0.1:9"  # nothing here sends a request
SMOKE_REQUESTS = 300


def context(report_dir: Path, budget: str, seed: int = 7) -> Context:
    """A context on environment credentials: building it sends no request."""
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
    return Context(client, Environment(client, config, secrets), Results(), config)


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
    assert list(chain(*_common.STATE_KINDS)) == list(_common.STATES)
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
    pairs = webhook._state_ops(_common.Sample(smoke, "transport_equivalence"), _common.STATES)
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
