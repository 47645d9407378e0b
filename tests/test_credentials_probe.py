"""The credential check (`conformance.target.credentials_probe`): a wrong `HUSKY_*` credential is a usage
error (exit 4) naming its variable, before any check; never a FAIL of the target.

The credentials are real ones of a live mock on loopback, made through its fixtures API by the test
(the suite never sees the fixtures token), then one of them is made wrong. A target that breaks
the contract in a way that makes a right credential look wrong is judged by the checks instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from suite_runs import run_suites

from conformance.config import build_config
from conformance.errors import UsageError
from conformance.http.client import Client
from conformance.http.redaction import Secrets
from conformance.mock import MockConfig, MockServer
from conformance.target.environment import Environment
from conformance.target.fixtures_client import ALL_SCOPES, FixturesClient, SeededOrg

TOKEN = "credentials-probe-fixtures-token"
LIMITED = ("calls:create", "calls:read")
ONE_CHECK = ("-k", "create_call", "--budget", "smoke")


@dataclass
class Orgs:
    fixtures: FixturesClient
    a: SeededOrg
    b: SeededOrg
    env: dict[str, str]  # every HUSKY_* variable, right

    def key(self, org: SeededOrg, scopes: tuple[str, ...] = ALL_SCOPES, *, revoked: bool = False) -> str:
        return self.fixtures.key(org, scopes, revoked=revoked)


def _orgs(http: httpx.Client) -> Orgs:
    fixtures = FixturesClient(http, TOKEN)
    a, b = fixtures.org(), fixtures.org()
    env = {
        "HUSKY_API_KEY": fixtures.key(a),
        "HUSKY_API_KEY_LIMITED": fixtures.key(a, LIMITED),
        "HUSKY_API_KEY_REVOKED": fixtures.key(a, revoked=True),
        "HUSKY_API_KEY_B": fixtures.key(b),
        "HUSKY_WEBHOOK_TOKEN": a.webhook_token,
        "HUSKY_WEBHOOK_TOKEN_B": b.webhook_token,
    }
    return Orgs(fixtures, a, b, env)


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(MockConfig(fixtures_token=TOKEN)) as server:
        yield server


@pytest.fixture(scope="module")
def orgs(mock: MockServer) -> Iterator[Orgs]:
    with httpx.Client(base_url=mock.url, timeout=10) as http:
        yield _orgs(http)


# variable made wrong -> how (from the right set) -> what the one error line says
WRONG: dict[str, tuple[str, Callable[[Orgs], str], str]] = {
    "unknown key": ("HUSKY_API_KEY", lambda o: "sk_test_nobody_has_this_key", "the target does not know this key"),
    "key revoked": ("HUSKY_API_KEY", lambda o: o.key(o.a, revoked=True), "the target does not know this key"),
    "key without delete": (
        "HUSKY_API_KEY",
        lambda o: o.key(o.a, ("calls:create", "calls:read", "calls:cancel")),
        "HUSKY_API_KEY lacks the calls:delete scope",
    ),
    "key without create": (
        "HUSKY_API_KEY",
        lambda o: o.key(o.a, ("calls:read", "calls:cancel", "calls:delete")),
        "HUSKY_API_KEY lacks the calls:create scope",
    ),
    "B is A's key": ("HUSKY_API_KEY_B", lambda o: o.env["HUSKY_API_KEY"], "are the same key"),
    "B of organisation A": ("HUSKY_API_KEY_B", lambda o: o.key(o.a), "the suite cannot tell which"),
    "B unknown": ("HUSKY_API_KEY_B", lambda o: "sk_test_nobody_has_this_b_key", "HUSKY_API_KEY_B: the target does not"),
    "limited can cancel": (
        "HUSKY_API_KEY_LIMITED",
        lambda o: o.key(o.a, ("calls:create", "calls:read", "calls:cancel")),
        "HUSKY_API_KEY_LIMITED is allowed calls:cancel",
    ),
    "limited can delete": (
        "HUSKY_API_KEY_LIMITED",
        lambda o: o.key(o.a, ("calls:create", "calls:read", "calls:delete")),
        "HUSKY_API_KEY_LIMITED is allowed calls:delete",
    ),
    "limited cannot create": (
        "HUSKY_API_KEY_LIMITED",
        lambda o: o.key(o.a, ("calls:read",)),
        "HUSKY_API_KEY_LIMITED lacks the calls:create scope",
    ),
    "limited of organisation B": (
        "HUSKY_API_KEY_LIMITED",
        lambda o: o.key(o.b, LIMITED),
        "HUSKY_API_KEY_LIMITED cannot read a call that HUSKY_API_KEY created",
    ),
    "revoked not revoked": ("HUSKY_API_KEY_REVOKED", lambda o: o.key(o.a), "HUSKY_API_KEY_REVOKED is accepted"),
    "unknown token": ("HUSKY_WEBHOOK_TOKEN", lambda o: "whk_nobody_has_this_token", "does not know this webhook token"),
    "token B is A's": ("HUSKY_WEBHOOK_TOKEN_B", lambda o: o.a.webhook_token, "are the same token"),
}


def open_environment(mock: MockServer, env: dict[str, str], report_dir: Path) -> Environment:
    """What a run does before its first check, in process: the environment, credential check included."""
    config = build_config(
        target_url=mock.url,
        fixtures_token=None,
        report_dir=str(report_dir),
        seed=None,
        budget="smoke",
        strict=False,
        timeout=10,
        env=env,
    )
    secrets = Secrets()
    client = Client(mock.url, timeout=10, secrets=secrets)
    try:
        return Environment(client, config, secrets)
    finally:
        client.close()


@pytest.fixture(scope="module")
def refusals(mock: MockServer, orgs: Orgs, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each wrong case, in process: the usage error's message (or what happened instead)."""
    found = {}
    for name, (variable, make, _) in WRONG.items():
        try:
            open_environment(mock, orgs.env | {variable: make(orgs)}, tmp_path_factory.mktemp("wrong"))
            found[name] = "no usage error"
        except UsageError as error:
            found[name] = str(error)
    return found


@pytest.mark.parametrize("case", list(WRONG))
def test_a_wrong_credential_is_a_usage_error_naming_its_variable(refusals: dict[str, str], case: str) -> None:
    variable, _, says = WRONG[case]
    assert refusals[case].startswith("HUSKY_"), refusals[case]
    assert variable in refusals[case]
    assert says in refusals[case]


def test_no_secret_in_a_credential_error(refusals: dict[str, str], orgs: Orgs) -> None:
    for case, message in refusals.items():
        for secret in orgs.env.values():
            assert secret not in message, case
        for word in message.split():  # nor the wrong value (the made ones start like every key and token)
            assert not word.strip("(),;:").startswith(("sk_test_", "whk_")), (case, message)


def test_what_the_credential_check_created_is_cleaned_up(
    refusals: dict[str, str], mock: MockServer, orgs: Orgs
) -> None:
    ours = {orgs.a.org_id, orgs.b.org_id}
    made = [c for c in mock.store.calls.values() if c.org_id in ours]
    assert made, "the credential check made no call (it needs one of A's for B and the limited key)"
    assert {c.status for c in made} <= {"cancelled"}, {c.call_id: c.status for c in made}


# Through the command line: a usage error is exit 4 and one line, before any check, with no secret.
CLI_CASES = ("unknown key", "limited can cancel", "B of organisation A", "revoked not revoked")


def test_a_wrong_credential_ends_the_run_with_exit_4(mock: MockServer, orgs: Orgs, tmp_path: Path) -> None:
    cases = {name: orgs.env | {WRONG[name][0]: WRONG[name][1](orgs)} for name in CLI_CASES}
    args = ["--target-url", mock.url, *ONE_CHECK]
    runs = run_suites([(args, tmp_path / f"r{n}" / "reports", env) for n, env in enumerate(cases.values())])
    for (name, env), run in zip(cases.items(), runs, strict=True):
        variable, _, says = WRONG[name]
        assert run.returncode == 4, run.describe()
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"ERROR: {variable}"), lines[0]
        assert says in lines[0]
        assert not (run.report_dir / "report.json").exists(), "a check ran on a wrong credential"
        for secret in env.values():  # the wrong one too: it may be a real key of something else
            assert secret not in run.output, name


def test_the_right_credentials_pass_the_check(mock: MockServer, orgs: Orgs, tmp_path: Path) -> None:
    (run,) = run_suites([(["--target-url", mock.url, *ONE_CHECK], tmp_path / "reports", orgs.env)])
    assert run.returncode == 2, run.describe()  # incomplete: one check ran, and passed
    assert run.statuses("pass") >= {"CREATE-201-QUEUED"}
    assert run.failures == []


# --- a target that breaks the contract is judged by the checks, not blamed on the credential ------------


@pytest.mark.parametrize(
    ("fault", "checks", "judged"),
    [
        # the limited key gets 404 for a random id (existence before scope), 403 for a call that exists
        ("scope-after-existence", "auth_before_existence", {"AUTH-BEFORE-EXISTENCE"}),
        # every key gets 401 in the Bearer form, and is known in the other (the api seeder speaks Bearer:
        # what needs a call is not exercised)
        ("bearer-refused", "auth_header_forms", set()),
    ],
)
def test_a_broken_target_is_judged_not_blamed_on_the_credential(
    tmp_path: Path, fault: str, checks: str, judged: set[str]
) -> None:
    with MockServer(MockConfig(fixtures_token=TOKEN, faults=frozenset({fault}))) as server:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            env = _orgs(http).env
        (run,) = run_suites([(["--target-url", server.url, "-k", checks, "--budget", "smoke"], tmp_path / "r", env)])
    assert run.returncode in (1, 2), run.describe()
    assert "ERROR" not in run.stderr, run.stderr
    assert run.report["suite_errors"] == []
    assert run.statuses("fail") == judged, run.describe()


def test_each_given_credential_is_redacted_as_its_variable(mock: MockServer, orgs: Orgs, tmp_path: Path) -> None:
    """The environment names every secret after the variable that holds it, HUSKY_API_KEY_REVOKED too,
    so that a reproduction runs as it is once the variables are set."""
    secrets = open_environment(mock, orgs.env, tmp_path).secrets
    for variable, value in orgs.env.items():
        assert secrets.redact(f"key {value} here") == f"key ${{{variable}}} here", variable
