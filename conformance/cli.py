"""The `husky-conformance` command line: one subcommand per job.

A usage mistake ends with one line on stderr saying what to do, and exit code 4.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["main"]

USAGE_ERROR = 4


class UsageError(Exception):
    """Misuse of the tool (a bad option, a port in use): a one-line message, exit code 4."""


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
    return parser


def _mock(args: argparse.Namespace) -> int:
    from .mock import MockConfig
    from .mock.server import bind, serve

    token = args.fixtures_token or secrets.token_urlsafe(24)
    config = MockConfig(fixtures_token=token, rate_limit=args.rate_limit)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); choose another --port")
    serve(config, sock, demo=not args.no_demo, generated_token=args.fixtures_token is None)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        return _mock(args)
    except UsageError as exc:
        print(f"husky-conformance: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
