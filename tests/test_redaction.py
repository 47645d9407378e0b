"""Secrets never leak: `Secrets`, `Exchange.curl`, and every output of a failing run.

The reproductions are checked by running them through bash: with the secrets' variables set, a
rendered curl command must give back the exact request that was sent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from suite_runs import QUICK_PROPERTIES, SuiteRun, broken_rules, run_suite

from conformance.http.client import Exchange
from conformance.http.redaction import MIN_SUBSTRING, REDACTED, Secrets
from conformance.mock import MockConfig, MockServer

KEY = "sk_test_A1b2C3d4E5f6G7h8I9j0"
TOKEN = "whk_Zz9Yy8Xx7Ww6Vv5Uu4"
FIXTURES = "fixtures-S3cr3t-value"
SHORT = "k"  # an env credential may be this short
NAMES = {KEY: "HUSKY_API_KEY", TOKEN: "HUSKY_WEBHOOK_TOKEN", FIXTURES: "HUSKY_FIXTURES_TOKEN", SHORT: "SHORT_KEY"}
BASH = shutil.which("bash")


@pytest.fixture
def secrets() -> Secrets:
    found = Secrets()
    for value, name in NAMES.items():
        found.add(value, name)
    return found


def shell_words(command: str) -> list[str]:
    """The words bash makes of `command` (after `printf`), with the secrets' variables set."""
    assert BASH, "bash is needed to check shell quoting"
    env = {name: value for value, name in NAMES.items()}
    done = subprocess.run([BASH, "-c", f"printf '%s\\0' {command}"], env=env, capture_output=True, check=True)
    return done.stdout.decode().split("\0")[:-1]


# --- Secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("x-api-key", KEY, "${HUSKY_API_KEY}"),
        ("X-API-Key", KEY, "${HUSKY_API_KEY}"),
        ("x-api-key", KEY.swapcase(), REDACTED),
        ("x-api-key", KEY[:-1], REDACTED),
        ("x-api-key", SHORT, "${SHORT_KEY}"),
        ("x-api-key", "", ""),
        ("x-fixtures-token", FIXTURES, "${HUSKY_FIXTURES_TOKEN}"),
        ("Authorization", f"Bearer {KEY}", "Bearer ${HUSKY_API_KEY}"),
        ("Authorization", f"bearer {KEY}", "bearer ${HUSKY_API_KEY}"),
        ("Authorization", f"Basic {KEY}", "Basic ${HUSKY_API_KEY}"),
        ("Authorization", KEY, "${HUSKY_API_KEY}"),
        ("Authorization", f"Bearer {SHORT}", "Bearer ${SHORT_KEY}"),
        ("Authorization", f"Bearer {KEY.swapcase()}", f"Bearer {REDACTED}"),
        ("Authorization", f"Bearer  {KEY}", f"Bearer {REDACTED}"),
        ("Authorization", "Bearer", REDACTED),
        ("Content-Type", "application/json", "application/json"),
        ("X-Echo", f"before {KEY} after", "before ${HUSKY_API_KEY} after"),
        ("X-Echo", f"keep {SHORT} here", f"keep {SHORT} here"),
    ],
    ids=[
        "x-api-key",
        "header name in any case",
        "key in other case",
        "truncated key",
        "short key",
        "empty",
        "fixtures token",
        "bearer",
        "bearer in lower case",
        "basic scheme",
        "no scheme",
        "short key after bearer",
        "bearer with a variant",
        "two spaces",
        "scheme alone",
        "harmless header",
        "secret inside another header",
        "short secret inside another header",
    ],
)
def test_headers(secrets: Secrets, name: str, value: str, shown: str) -> None:
    assert secrets.render(secrets.mark_header(name, value)) == shown


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (f"/v1/hooks/{TOKEN}", "/v1/hooks/${HUSKY_WEBHOOK_TOKEN}"),
        ("/v1/hooks/" + quote(TOKEN, safe="").replace("w", "%77"), "/v1/hooks/${HUSKY_WEBHOOK_TOKEN}"),
        (f"/V1/HOOKS/{TOKEN}", "/V1/HOOKS/${HUSKY_WEBHOOK_TOKEN}"),
        (f"/v1/hooks/{TOKEN}?a=1", "/v1/hooks/${HUSKY_WEBHOOK_TOKEN}?a=1"),
        (f"/v1/hooks/{TOKEN}/more", "/v1/hooks/${HUSKY_WEBHOOK_TOKEN}/more"),
        (f"/v1/hooks/{TOKEN[:-1]}", f"/v1/hooks/{REDACTED}"),
        (f"/v1/hooks/{TOKEN.swapcase()}", f"/v1/hooks/{REDACTED}"),
        (f"/v1/hooks/{TOKEN[:6]}", f"/v1/hooks/{REDACTED}"),
        ("/v1/hooks/%20", f"/v1/hooks/{REDACTED}"),
        (f"/v1/calls/{KEY}", "/v1/calls/${HUSKY_API_KEY}"),
        ("/v1/calls/call_abc_123", "/v1/calls/call_abc_123"),
    ],
    ids=[
        "token",
        "percent-encoded token",
        "path in upper case",
        "query kept",
        "segment ends at slash",
        "truncated token",
        "token in other case",
        "token prefix",
        "blank token",
        "secret elsewhere in the path",
        "nothing secret",
    ],
)
def test_webhook_path_segments(secrets: Secrets, path: str, shown: str) -> None:
    assert secrets.render(secrets.mark_url("http://127.0.0.1:8080" + path)) == "http://127.0.0.1:8080" + shown


def test_free_text_is_redacted_by_substring(secrets: Secrets) -> None:
    text = f"got {KEY}, {FIXTURES} and POST /v1/hooks/{TOKEN[:-2]} back"
    redacted = secrets.redact(text)
    assert redacted == f"got ${{HUSKY_API_KEY}}, ${{HUSKY_FIXTURES_TOKEN}} and POST /v1/hooks/{REDACTED} back"


@pytest.mark.parametrize("length", [1, MIN_SUBSTRING - 1])
def test_short_secrets_are_not_substituted_in_free_text(length: int) -> None:
    secrets = Secrets()
    short = "abcdefgh"[:length]
    secrets.add(short, "SHORT")
    text = f"the {short} stays: {short}{short}"
    assert secrets.redact(text) == text
    assert secrets.render(secrets.mark_header("x-api-key", short)) == "${SHORT}"


def test_a_secret_of_the_minimum_length_is_substituted() -> None:
    secrets = Secrets()
    secret = "s" * MIN_SUBSTRING
    secrets.add(secret, "LONG_ENOUGH")
    assert secrets.redact(f"x{secret}y") == "x${LONG_ENOUGH}y"


def test_the_longest_secret_wins_where_one_holds_another() -> None:
    secrets = Secrets()
    secrets.add("abcdefgh", "INNER")
    secrets.add("abcdefgh-and-more", "OUTER")
    assert secrets.redact("abcdefgh-and-more abcdefgh") == "${OUTER} ${INNER}"


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        'double "quotes" inside',
        "single 'quotes' inside",
        "dollar $HOME and ${HOME} and $(id)",
        "backticks `id`",
        "back\\slash \\n and trailing \\",
        "a newline\nand a tab\t",
        "exclamation! and #hash",
        "${HUSKY_API_KEY} typed literally",
        f"a secret {KEY} next to $PATH and `x`",
    ],
    ids=["plain", "double quotes", "single quotes", "dollars", "backticks", "backslashes", "whitespace",
         "bang and hash", "literal placeholder", "secret among specials"],
)  # fmt: skip
def test_shell_quoting_gives_back_the_text(secrets: Secrets, text: str) -> None:
    word = secrets.render(secrets.mark_text(text), shell=True)
    assert shell_words(word) == [text]
    assert KEY not in word


# --- Exchange.curl -------------------------------------------------------------------------------


def _exchange(url: str, headers: dict[str, str], body: bytes | None) -> Exchange:
    return Exchange("POST", url, headers, body, 200, {}, b"{}")


def test_curl_gives_back_the_request_with_no_secret_in_its_text(secrets: Secrets) -> None:
    body = json.dumps({"note": f'costs $5, "quoted", `id`, back\\slash, {KEY}', "call_id": "c1"}).encode()
    url = f"http://127.0.0.1:8080/v1/hooks/{TOKEN}"
    headers = {"Authorization": f"Bearer {KEY}", "x-fixtures-token": FIXTURES, "Content-Type": "application/json"}
    command = _exchange(url, headers, body).curl(secrets)
    for secret in (KEY, TOKEN, FIXTURES):
        assert secret not in command
    assert shell_words(command.removeprefix("curl ")) == [
        "-sS",
        "-X",
        "POST",
        url,
        "-H",
        f"Authorization: Bearer {KEY}",
        "-H",
        f"x-fixtures-token: {FIXTURES}",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        body.decode(),
    ]


def test_curl_shows_a_variant_of_a_secret_as_redacted(secrets: Secrets) -> None:
    url = f"http://127.0.0.1:8080/v1/hooks/{TOKEN.swapcase()}"
    command = _exchange(url, {"x-api-key": KEY[:-1]}, None).curl(secrets)
    assert TOKEN.swapcase() not in command
    assert KEY[:-1] not in command
    assert shell_words(command.removeprefix("curl ")) == [
        "-sS",
        "-X",
        "POST",
        f"http://127.0.0.1:8080/v1/hooks/{REDACTED}",
        "-H",
        f"x-api-key: {REDACTED}",
    ]


def test_curl_keeps_a_short_secret_in_the_body_and_hides_it_in_headers(secrets: Secrets) -> None:
    body = b'{"kind": "k", "keep": "kk"}'
    command = _exchange("http://127.0.0.1:8080/v1/calls", {"x-api-key": SHORT}, body).curl(secrets)
    assert f"x-api-key: {SHORT}" not in command
    assert shell_words(command.removeprefix("curl "))[-3:] == [f"x-api-key: {SHORT}", "--data-binary", body.decode()]


# --- a failing run -------------------------------------------------------------------------------

RUN_FIXTURES_TOKEN = "redaction-fixtures-token-Qx81"


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteRun, list[str]]:
    """A run with many failures, under -vv (pytest shows whole reprs), and every secret it had."""
    report_dir = tmp_path_factory.mktemp("redaction") / "reports"
    args = ["--fixtures-token", RUN_FIXTURES_TOKEN, *QUICK_PROPERTIES]
    with broken_rules(), MockServer(MockConfig(fixtures_token=RUN_FIXTURES_TOKEN)) as server:
        run = run_suite(["--target-url", server.url, *args], report_dir, {"PYTEST_ADDOPTS": "--assert=plain -vv"})
        found = [*server.store.keys, *(org.webhook_token for org in server.store.orgs.values())]
    return run, [*found, RUN_FIXTURES_TOKEN]


def _outputs(run: SuiteRun) -> dict[str, str]:
    files = {
        name: (run.report_dir / name).read_text(encoding="utf-8")
        for name in ("report.json", "junit.xml", "summary.md", "report.html")
    }
    return files | {"stdout": run.stdout, "stderr": run.stderr}


def test_the_run_had_secrets_and_failures_to_leak(failing_run: tuple[SuiteRun, list[str]]) -> None:
    run, found = failing_run
    assert run.returncode == 1, run.describe()
    assert len(found) >= 17  # two organisations' keys and tokens, and the fixtures token
    reproductions = "\n".join(f["reproduction"] for f in run.failures)
    for placeholder in ("${HUSKY_API_KEY}", "${HUSKY_FIXTURES_TOKEN}", f"/v1/hooks/{REDACTED}"):
        assert placeholder in reproductions


@pytest.mark.parametrize("output", ["report.json", "junit.xml", "summary.md", "report.html", "stdout", "stderr"])
def test_no_secret_in_any_output(failing_run: tuple[SuiteRun, list[str]], output: str) -> None:
    """Not a secret, nor one in other case, nor one short of its last character."""
    run, found = failing_run
    text = _outputs(run)[output].lower()
    leaked = [secret[:12] + "..." for secret in found if secret[:-1].lower() in text]
    assert leaked == []


# --- the suite itself fails: no traceback, no secret ----------------------------------------------

SABOTAGE_TOKEN = "sabotage-fixtures-token-Wv27"
TESTS = Path(__file__).parent


def sabotaged_run(tmp_path: Path, where: str) -> tuple[SuiteRun, list[str]]:
    """A run broken by `tests/sabotage.py` at `where`, with every secret it had."""
    variables = {
        "SABOTAGE": where,
        "PYTEST_ADDOPTS": "--assert=plain -p sabotage",
        "PYTHONPATH": os.pathsep.join([str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    args = ["--fixtures-token", SABOTAGE_TOKEN, "-k", "test_property", "--budget", "smoke"]
    with MockServer(MockConfig(fixtures_token=SABOTAGE_TOKEN)) as server:
        run = run_suite(["--target-url", server.url, *args], tmp_path / "reports", variables)
        found = [*server.store.keys, *(org.webhook_token for org in server.store.orgs.values())]
    return run, [*found, SABOTAGE_TOKEN]


def assert_no_secret_anywhere(run: SuiteRun, found: list[str]) -> None:
    """Not in stdout, stderr, nor any file the run wrote; nor in other case, nor one short of its end."""
    outputs = {"stdout": run.stdout, "stderr": run.stderr}
    outputs |= {str(p): p.read_text(encoding="utf-8") for p in run.report_dir.rglob("*") if p.is_file()}
    assert len(outputs) >= 3, "the run wrote nothing to look in"
    for name, text in outputs.items():
        leaked = [secret[:12] + "..." for secret in found if secret[:-1].lower() in text.lower()]
        assert leaked == [], f"{name} holds secrets"
    assert "INTERNALERROR" not in run.stdout + run.stderr


def test_an_error_inside_a_check_shows_no_secret(tmp_path: Path) -> None:
    run, found = sabotaged_run(tmp_path, "check")
    assert run.returncode == 2, run.describe()  # its checks are not exercised: incomplete
    assert len(found) >= 10  # A: 6 keys (sampled breadth), B: 1, two webhook tokens, the fixtures token
    assert any("sabotage in a check: ${HUSKY_API_KEY}" in e for e in run.report["suite_errors"])
    assert "SUITE ERROR" in run.stdout
    assert "Traceback (most recent call last)" in run.stdout, "the suite error shows where (redacted, no locals)"
    assert_no_secret_anywhere(run, found)


@pytest.mark.parametrize("where", ["open", "report"], ids=["opening the session", "writing the reports"])
def test_the_suite_failing_itself_is_exit_3_in_one_line(tmp_path: Path, where: str) -> None:
    run, found = sabotaged_run(tmp_path, where)
    assert run.returncode == 3, run.describe()
    assert "Traceback" not in run.output
    (line,) = run.stderr.splitlines()
    assert line.startswith("husky-conformance: the suite itself failed (RuntimeError: sabotage in "), line
    assert line.endswith(f"); details in {run.report_dir / 'report.json'}"), line
    assert run.report["verdict"] == "error"
    assert run.report["exit_code"] == 3
    assert any("${HUSKY_FIXTURES_TOKEN}" in detail for detail in run.report["details"])
    assert any("in _boom" in detail for detail in run.report["details"]), "no traceback in the details"
    assert_no_secret_anywhere(run, found)


def test_the_calls_are_cleaned_up_when_the_reports_fail(tmp_path: Path) -> None:
    run, _ = sabotaged_run(tmp_path, "report")
    assert run.returncode == 3, run.describe()
    assert run.report["leftovers"] == 0
    assert run.report["ledger"] is not None


def test_no_object_shows_a_secret_in_its_repr() -> None:
    """Tracebacks, hypothesis and pytest print reprs: short secrets, which no substring search
    redacts, must not be in them either."""
    from conformance.config import Credentials, build_config
    from conformance.mock.store import ApiKey, Org
    from conformance.target.environment import Tenant
    from conformance.target.fixtures_client import FixturesClient, SeededOrg

    secret = "Sh0rt"
    env = dict.fromkeys(("HUSKY_API_KEY", "HUSKY_API_KEY_LIMITED", "HUSKY_API_KEY_B"), secret)
    env |= {"HUSKY_WEBHOOK_TOKEN": secret, "HUSKY_WEBHOOK_TOKEN_B": secret}
    store = Secrets()
    store.add(secret, "HUSKY_API_KEY")
    headers = {"Authorization": f"Bearer {secret}", "x-fixtures-token": secret}
    config = build_config(
        target_url=None,
        fixtures_token=secret,
        report_dir="r",
        seed=None,
        budget="quick",
        strict=False,
        timeout=1,
        env=env,
    )
    shown = [
        Tenant(
            "A", key=secret, limited_key=secret, webhook_token=secret, revoked_key=secret, keys_without={"s": secret}
        ),
        Exchange("POST", f"http://h/v1/hooks/{secret}", headers, secret.encode(), 201, {"x": secret}, secret.encode()),
        SeededOrg("org_1", secret),
        FixturesClient(httpx.Client(base_url="http://h"), secret),
        Org("org_1", secret),
        ApiKey(secret, "org_1", frozenset()),
        MockConfig(fixtures_token=secret),
        Credentials.from_env(env),
        config,
        store,
    ]
    leaked = [repr(thing) for thing in shown if secret in repr(thing)]
    assert leaked == []
