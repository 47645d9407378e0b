"""The `husky-conformance` command line: one subcommand per job.

A usage mistake ends with one line on stderr saying what to do, and exit code 4.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence
from typing import NoReturn

from .errors import UsageError

__all__ = ["main"]

USAGE_ERROR = 4


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


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
        "--fault", action="append", default=[], metavar="NAME", help="switch on a deliberate violation (repeatable)"
    )
    mock.add_argument("--list-faults", action="store_true", help="list the faults and the requirements they break")
    run = commands.add_parser("run", help="run the conformance suite against a target (default: the bundled mock)")
    run.add_argument("--target-url", help="base URL, base path included (default: start the bundled mock)")
    run.add_argument("--fixtures-token", help="token of the target's fixtures API (or HUSKY_FIXTURES_TOKEN)")
    run.add_argument("--report-dir", default="reports", help="where the reports go (default reports/)")
    run.add_argument("--seed", type=int, help="seed of all generated input (default 20261201)")
    run.add_argument("--budget", choices=("quick", "default", "thorough"), default="default")
    run.add_argument(
        "--strict", dest="conformance_strict", action="store_true", help="SHOULD failures fail the verdict too"
    )
    run.add_argument(
        "--timeout", dest="request_timeout", type=float, default=10.0, help="seconds per request (default 10)"
    )
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only the checks matching EXPR (pytest -k)")
    commands.add_parser("requirements", help="print the requirement catalogue")
    return parser


def _list_faults() -> int:
    from .mock.faults import FAULTS

    width = max(map(len, FAULTS))
    for fault in FAULTS.values():
        level = " (SHOULD: fails the verdict under --strict)" if fault.strict else ""
        print(
            f"{fault.name:<{width}}  {fault.description}{level}\n{'':<{width}}  breaks {', '.join(fault.requirements)}"
        )
    return 0


def _mock(args: argparse.Namespace) -> int:
    from .mock import MockConfig
    from .mock.faults import unknown_faults
    from .mock.server import bind, serve

    if args.list_faults:
        return _list_faults()
    faults = frozenset(args.fault)
    if unknown := unknown_faults(faults):
        raise UsageError(f"no fault named {', '.join(unknown)}; see 'husky-conformance mock --list-faults'")
    token = args.fixtures_token or secrets.token_urlsafe(24)
    config = MockConfig(fixtures_token=token, rate_limit=args.rate_limit, faults=faults)
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
    words += ["--rootdir", os.getcwd()]
    for flag, value in (
        ("--target-url", args.target_url),
        ("--fixtures-token", args.fixtures_token),
        ("--report-dir", args.report_dir),
        ("--seed", args.seed),
        ("--budget", args.budget),
        ("--request-timeout", args.request_timeout),
        ("-k", args.keyword),
    ):
        if value is not None:
            words += [flag, str(value)]
    return words + (["--conformance-strict"] if args.conformance_strict else [])


def _run(args: argparse.Namespace) -> int:
    """Check the options and the target first, so that a mistake is one line, then run pytest."""
    import pytest

    from .config import config_from

    config = config_from(args, os.environ)
    if config.target_url is not None:
        from .client import check_reachable

        check_reachable(config.target_url, config.timeout)
    code = int(pytest.main(pytest_args(args)))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED and args.keyword:  # 5 is none of the run's exit codes
        raise UsageError(f"-k {args.keyword!r} selects none of the suite's checks; drop it or widen it")
    return code


def _requirements(args: argparse.Namespace) -> int:
    from .requirements import render_table

    print(render_table())
    return 0


COMMANDS = {"mock": _mock, "run": _run, "requirements": _requirements}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"husky-conformance: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
