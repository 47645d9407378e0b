"""The `husky-conformance` command line: one subcommand per job.

A usage mistake ends with one line on stderr saying what to do, and exit code 4; a failure of the
suite itself, with one line and exit code 3 (`conformance.run.crash`).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from conformance.errors import USAGE_ERROR, UsageError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


MAX_LATENCY_MS = 10_000


def _latency_ms(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_LATENCY_MS:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"expected milliseconds from 0 to {MAX_LATENCY_MS}, got {text!r}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return int(text)


def _parser() -> _Parser:
    parser = _Parser(prog="husky-conformance", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    mock = commands.add_parser("mock", help="serve the stateful reference mock server")
    mock.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    mock.add_argument("--port", type=_port, default=8080, help="port (default 8080; 0 picks a free one)")
    mock.add_argument("--fixtures-token", help="secret for the fixtures API (default: generated and printed)")
    mock.add_argument(
        "--rate-limit", type=_positive_int, metavar="N", help="N requests a minute per key (default: off)"
    )
    mock.add_argument("--no-demo", action="store_true", help="do not seed the demo organisation")
    mock.add_argument(
        "--auto-complete",
        type=float,
        metavar="SECONDS",
        help="calls created through the API complete on their own after SECONDS (like staging's test agents)",
    )
    mock.add_argument(
        "--fault", action="append", default=[], metavar="NAME", help="switch on a deliberate violation (repeatable)"
    )
    mock.add_argument("--list-faults", action="store_true", help="list the faults and the requirements they break")
    mock.add_argument(
        "--max-calls",
        type=_positive_int,
        metavar="N",
        help="hold at most N calls; a create beyond them gets 429 until calls are deleted (default 100000)",
    )
    mock.add_argument(
        "--latency",
        type=_latency_ms,
        default=0.0,
        metavar="MS",
        help="hold every request MS milliseconds before answering, without blocking others (default 0)",
    )
    run = commands.add_parser("run", help="run the conformance suite against a target (default: the bundled mock)")
    run.add_argument("--target-url", help="base URL, base path included (default: start the bundled mock)")
    run.add_argument("--fixtures-token", help="token of the target's fixtures API (or HUSKY_FIXTURES_TOKEN)")
    run.add_argument("--report-dir", default="reports", help="where the reports go (default reports/)")
    run.add_argument("--seed", type=int, help="seed of all generated input (default 20261201)")
    run.add_argument(
        "--budget",
        default="default",
        metavar="NAME|N",
        help="smoke, quick, default or thorough, or a number of requests the run may send (default: default)",
    )
    run.add_argument(
        "--strict", dest="conformance_strict", action="store_true", help="SHOULD failures fail the verdict too"
    )
    run.add_argument(
        "--timeout",
        dest="request_timeout",
        type=float,
        default=10.0,
        help="seconds each request may take in all, its whole answer included (default 10)",
    )
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only the checks matching EXPR (pytest -k)")
    run.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="run the checks in N processes at once, against the same target (default 1)",
    )
    staging = run.add_argument_group("running against a shared or live target")
    staging.add_argument(
        "--rate-limit", metavar="N/min", help="send at most N requests a minute (default 60/min; loopback: off)"
    )
    staging.add_argument(
        "--allow-destructive", action="store_true", help="cancel and delete the suite's calls on a non-loopback target"
    )
    staging.add_argument(
        "--isolated-target",
        action="store_true",
        help="the target holds no call but the suite's: cancel and delete may try near-miss ids (README, safety)",
    )
    staging.add_argument("--dry-run", action="store_true", help="print the plan (checks, requests, time); send nothing")
    staging.add_argument(
        "--seeder",
        choices=("fixtures", "api", "pool"),
        help="how calls are made (default: fixtures with a token, else api)",
    )
    staging.add_argument(
        "--pool", dest="pool_file", metavar="FILE", help="pre-provisioned completed call ids (--seeder pool)"
    )
    staging.add_argument(
        "--wait-completed",
        type=float,
        metavar="SECONDS",
        help="how long the api seeder polls a new call to complete (default 60 with --seeder api, else 0)",
    )
    staging.add_argument("--agent-id", help="agent_id of the calls the suite creates (default agent_conformance)")
    commands.add_parser("requirements", help="print the requirement catalogue")
    commands.add_parser("contract", help="print the normative contract the suite checks (specs/contract.md)")
    merge = commands.add_parser("merge", help="join the report folders of a run's shards (run --shard K/N) into one")
    merge.add_argument("directories", nargs="+", type=Path, metavar="DIR", help="each shard's --report-dir")
    merge.add_argument("--report-dir", default="reports", help="where the joined reports go (default reports/)")
    merge.add_argument("--strict", action="store_true", help="SHOULD failures fail the verdict too (as any shard's)")
    _cassette_commands(commands)
    return parser


def _list_faults() -> int:
    from conformance.mock.faults import FAULTS

    width = max(map(len, FAULTS))
    lines = []
    for fault in FAULTS.values():
        level = " (SHOULD: fails the verdict under --strict)" if fault.strict else ""
        lines.append(f"{fault.name:<{width}}  {fault.description}{level}")
        lines.append(f"{'':<{width}}  breaks {', '.join(fault.requirements)}")
    try:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `| head -3`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
    return 0


def _mock(args: argparse.Namespace) -> int:
    from conformance.mock import MockConfig
    from conformance.mock.faults import unknown_faults
    from conformance.mock.server import bind, serve
    from conformance.mock.store import STATUSES

    if args.list_faults:
        return _list_faults()
    faults = frozenset(args.fault)
    if unknown := unknown_faults(faults):
        raise UsageError(f"no fault named {', '.join(unknown)}; see 'husky-conformance mock --list-faults'")
    token = args.fixtures_token or secrets.token_urlsafe(24)
    max_calls = MockConfig.max_calls if args.max_calls is None else args.max_calls
    if not args.no_demo and max_calls < len(STATUSES):
        demo = len(STATUSES)
        raise UsageError(f"the demo seeds {demo} calls: pass --max-calls {demo} or more, or --no-demo")
    if args.auto_complete is not None and not 0 <= args.auto_complete < 86400:
        raise UsageError(f"--auto-complete takes seconds from 0 to 86400, got {args.auto_complete}")
    config = MockConfig(
        fixtures_token=token,
        rate_limit=args.rate_limit,
        faults=faults,
        auto_complete=args.auto_complete,
        latency_ms=args.latency,
        max_calls=max_calls,
    )
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); choose another --port") from None
    serve(config, sock, demo=not args.no_demo, generated_token=args.fixtures_token is None)
    return 0


def pytest_args(args: argparse.Namespace) -> list[str]:
    """The pytest command line that `run` stands for (also what `pytest --pyargs` users type)."""
    # No ini file and no conftest.py of wherever it runs: the suite is the same from every directory.
    words = ["--pyargs", "conformance.suite", "-p", "no:cacheprovider", "-c", os.devnull, "--noconftest"]
    # pytest would rewrite the asserts of every module of every plugin's distribution (hypothesis and
    # schemathesis too): seconds a run where bytecode is not cached. The suite states its rules with
    # `ctx.expect`, not with asserts.
    words += ["--assert=plain"]
    words += ["--rootdir", os.getcwd()]
    for flag, value in (
        ("--target-url", args.target_url),
        ("--fixtures-token", args.fixtures_token),
        ("--report-dir", args.report_dir),
        ("--seed", args.seed),
        ("--budget", args.budget),
        ("--request-timeout", args.request_timeout),
        ("-k", args.keyword),
        ("--rate-limit", args.rate_limit),
        ("--seeder", args.seeder),
        ("--pool", args.pool_file),
        ("--wait-completed", args.wait_completed),
        ("--agent-id", args.agent_id),
    ):
        if value is not None:
            words += [flag, str(value)]
    switches = {"--conformance-strict": args.conformance_strict, "--allow-destructive": args.allow_destructive}
    switches["--dry-run"] = args.dry_run
    switches["--isolated-target"] = args.isolated_target
    return words + [flag for flag, on in switches.items() if on]


def _run(args: argparse.Namespace) -> int:
    """Check the options and the target first, so that a mistake is one line, then run pytest."""
    import pytest

    from conformance.config import config_from
    from conformance.run.session import check_budget

    config = config_from(args, os.environ)
    check_budget(config)
    if config.target_url is not None and not config.dry_run:
        from conformance.http.client import check_reachable

        check_reachable(config.target_url, config.timeout)
    from conformance.layers.determinism import warm_unicode_tables

    warm_unicode_tables()
    if args.workers > 1:
        if config.dry_run:
            raise UsageError("--dry-run plans a run of one process; drop --workers")
        from conformance.run.parallel import check_shares, run
        from conformance.run.session import smallest_budget

        check_shares(config, args.workers, smallest_budget(config)[0])
        return run(pytest_args(args), config, args.workers)
    code = int(pytest.main(pytest_args(args)))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED and args.keyword:  # 5 is none of the run's exit codes
        raise UsageError(f"-k {args.keyword!r} selects none of the suite's checks; drop it or widen it")
    return code


def _requirements(args: argparse.Namespace) -> int:
    from conformance.contract.requirements import render_table

    print(render_table())
    return 0


def _contract(args: argparse.Namespace) -> int:
    from conformance.contract._resources import CONTRACT, spec_path

    print(spec_path(CONTRACT).read_text(encoding="utf-8"), end="")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from conformance.run.merge import merge

    return merge(args.directories, Path(args.report_dir), strict=args.strict)


# --- cassettes: record, replay, drift --------------------------------------------------------


def _cassette_commands(commands: Any) -> None:
    record = commands.add_parser(
        "record", help="record the targeted properties into a cassette set (default: against the bundled mock)"
    )
    record.add_argument("--cassettes", required=True, metavar="DIR", help="the cassette set to write (replaced)")
    record.add_argument("--target-url", help="base URL, base path included (default: start the bundled mock)")
    record.add_argument("--fixtures-token", help="token of the target's fixtures API (or HUSKY_FIXTURES_TOKEN)")
    record.add_argument("--report-dir", default="reports", help="where the reports go (default reports/)")
    record.add_argument("--seed", type=int, help="seed of all generated input (default 20261201)")
    record.add_argument("--budget", default="quick", metavar="NAME|N", help="as for run (default: quick)")
    record.add_argument("--strict", dest="conformance_strict", action="store_true", help="as for run")
    record.add_argument(
        "--timeout", dest="request_timeout", type=float, default=10.0, help="seconds each request may take in all"
    )
    record.add_argument("--rate-limit", metavar="N/min", help="as for run (default 60/min; loopback: off)")
    record.add_argument("--allow-destructive", action="store_true", help="as for run")
    record.add_argument("--isolated-target", action="store_true", help="as for run")
    record.add_argument("--seeder", choices=("fixtures", "api", "pool"), help="as for run")
    record.add_argument("--agent-id", help="as for run")
    replay = commands.add_parser("replay", help="replay a cassette set offline and judge every requirement again")
    replay.add_argument("cassettes", metavar="DIR", help="a cassette set written by record")
    replay.add_argument("--report-dir", default="reports", help="where the reports go (default reports/)")
    replay.add_argument("--seed", type=int, help="another seed than the recording's (its requests will not match)")
    replay.add_argument("--strict", dest="conformance_strict", action="store_true", help="SHOULD failures fail too")
    drift = commands.add_parser("drift", help="re-send a cassette set to a live target: where do its answers differ?")
    drift.add_argument("cassettes", metavar="DIR", help="a cassette set written by record")
    drift.add_argument("--target-url", required=True, help="the live target, base path included")
    drift.add_argument("--fixtures-token", help="its fixtures API's token (or HUSKY_FIXTURES_TOKEN)")
    drift.add_argument("--report-dir", default="reports", help="where drift.json and drift.md go (default reports/)")
    drift.add_argument(
        "--timeout", dest="request_timeout", type=float, default=10.0, help="seconds each request may take in all"
    )
    drift.add_argument("--rate-limit", metavar="N/min", help="as for run (default 60/min; loopback: off)")
    drift.add_argument("--allow-destructive", action="store_true", help="needed for a non-loopback target")


def _as_run(args: argparse.Namespace, **overrides: Any) -> argparse.Namespace:
    """Another subcommand's options as `run`'s, with run's defaults for the rest."""
    defaults = vars(_parser().parse_args(["run"]))
    return argparse.Namespace(**(defaults | vars(args) | overrides))


def _record(args: argparse.Namespace) -> int:
    import pytest

    from conformance.cassettes.cassette_set import refuse_foreign, run_environment
    from conformance.config import config_from

    run = _as_run(args, keyword="test_property")
    config = config_from(run, run_environment(run))
    refuse_foreign(Path(args.cassettes))
    if config.target_url is not None:
        from conformance.http.client import check_reachable

        check_reachable(config.target_url, config.timeout)
    return int(pytest.main([*pytest_args(run), "--cassettes", args.cassettes, "--record-mode=rewrite"]))


def _replay(args: argparse.Namespace) -> int:
    """The recorded run again, offline: its target, seed, budget and options, and its placeholders as secrets."""
    import pytest

    from conformance.cassettes.cassette_set import read_index, run_environment
    from conformance.config import config_from

    index = read_index(Path(args.cassettes))
    run = _as_run(
        args,
        **index.options,
        target_url=index.target,
        fixtures_token=None,
        seed=index.seed if args.seed is None else args.seed,
        budget=index.budget,
        conformance_strict=args.conformance_strict or index.strict,
        rate_limit="off",
        keyword="test_property",
        replay=True,
    )
    config_from(run, run_environment(run))
    words = ["--cassettes", args.cassettes, "--replay", "--record-mode=none", "--block-network"]
    return int(pytest.main([*pytest_args(run), *words]))


def _drift(args: argparse.Namespace) -> int:
    from conformance.cassettes import drift
    from conformance.config import config_from
    from conformance.http.client import check_reachable

    config = config_from(_as_run(args), os.environ)
    assert config.target_url is not None
    if not config.destructive_allowed:
        raise UsageError("drift re-sends the recording's cancels and deletes: pass --allow-destructive for this target")
    index = drift.read(Path(args.cassettes))
    check_reachable(config.target_url, config.timeout)
    return drift.run(Path(args.cassettes), index, config)


COMMANDS = {"mock": _mock, "run": _run, "requirements": _requirements, "contract": _contract, "merge": _merge}
COMMANDS |= {"record": _record, "replay": _replay, "drift": _drift}


def main(argv: Sequence[str] | None = None) -> int:
    args = None
    try:
        from conformance.layers.determinism import hypothesis_home

        os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(hypothesis_home()))  # workers inherit it
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"husky-conformance: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the suite's own bug: one line and exit 3, never a traceback
        from conformance.run import crash

        secrets = crash.known_secrets(os.environ, getattr(args, "fixtures_token", None))
        report_dir = getattr(args, "report_dir", None)
        return crash.fail(exc, secrets, Path(report_dir) if report_dir else None)


if __name__ == "__main__":
    sys.exit(main())
