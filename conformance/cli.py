"""The `husky-conformance` command line: one subcommand per job.

A usage mistake ends with one line on stderr saying what to do, and exit code 4; a failure of the
suite itself, with one line and exit code 3 (`conformance.run.crash`).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from conformance.errors import USAGE_ERROR, UsageError
from conformance.run import options

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


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


class _Version(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the versions of the suite and its contract")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> NoReturn:
        from conformance import CONTRACT_VERSION, __version__

        print(f"husky-conformance {__version__} (contract {CONTRACT_VERSION})")
        parser.exit()


def _parser() -> _Parser:
    parser = _Parser(prog="husky-conformance", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _mock_parser(commands)
    run = commands.add_parser("run", help="run the conformance suite against a target (default: the bundled mock)")
    options.add_arguments(run, "run")
    commands.add_parser("requirements", help="print the requirement catalogue")
    commands.add_parser("contract", help="print the normative contract the suite checks (specs/contract.md)")
    merge = commands.add_parser("merge", help="join the report folders of a run's shards (run --shard K/N) into one")
    merge.add_argument("directories", nargs="+", type=Path, metavar="DIR", help="each shard's --report-dir")
    options.add_arguments(merge, "merge")
    _cassette_commands(commands)
    return parser


def _mock_parser(commands: Any) -> None:
    mock = commands.add_parser("mock", help="serve the stateful reference mock server")
    mock.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    mock.add_argument("--port", type=_port, default=8080, help="port (default 8080; 0 picks a free one)")
    mock.add_argument("--fixtures-token", help="secret for the fixtures API (default: generated and printed)")
    mock.add_argument(
        "--rate-limit", type=options.positive_int, metavar="N", help="N requests a minute per key (default: off)"
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
        type=options.positive_int,
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


def _run(args: argparse.Namespace) -> int:
    """Check the options and the target first, so that a mistake is one line, then run pytest."""
    from conformance.layers.determinism import warm_unicode_tables
    from conformance.run import parallel

    values = options.given(args)
    config = options.suite_config(values, os.environ)
    values["workers"] = values["workers"] or parallel.auto_workers(values, config)
    if values["workers"] > 1 and args.workers is None:
        # A whole run of the bundled mock at the quick budget or more, which passes every check
        # below: its workers start now, and import the suite while this process waits for them.
        warm_unicode_tables()
        return parallel.run(values, config, values["workers"])
    from conformance import plugin
    from conformance.run.session import check_budget, mock_started_early

    check_budget(config)
    if config.target_url is not None and not config.dry_run:
        from conformance.http.client import check_reachable

        check_reachable(config.target_url, config.timeout)
    warm_unicode_tables()
    if values["workers"] > 1 or args.slice:
        return _shared(values, config)
    with mock_started_early(config):
        return plugin.main(options.pytest_words(values), config)


def _shared(values: dict[str, Any], config: Any) -> int:
    """`--workers N`: N processes here, each a share of the checks. `--shard K/N`: share K, in this process."""
    from conformance import plugin
    from conformance.run import parallel
    from conformance.run.session import smallest_budget

    workers, shard = values["workers"], values["slice"]
    if config.dry_run:
        raise UsageError(f"--dry-run plans a run of one process; drop {'--shard' if shard else '--workers'}")
    if shard and workers > 1:
        raise UsageError("--shard K/N runs share K of the checks in this process; drop --workers")
    k, n = parallel.parse_slice(shard) if shard else (0, workers)
    parallel.check_shares(config, n, smallest_budget(config)[0])
    if not shard:
        return parallel.run(values, config, workers)
    own = parallel.worker_values(values, k, n, config, config.report_dir)  # this shard's pace and budget
    return plugin.main(options.pytest_words(own), options.suite_config(own, os.environ))


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

    return merge(args.directories, Path(args.report_dir), strict=args.conformance_strict)


# --- cassettes: record, replay, drift --------------------------------------------------------


def _cassette_commands(commands: Any) -> None:
    record = commands.add_parser(
        "record", help="record the targeted properties into a cassette set (default: against the bundled mock)"
    )
    options.add_arguments(record, "record")
    replay = commands.add_parser("replay", help="replay a cassette set offline and judge every requirement again")
    replay.add_argument("cassettes", metavar="DIR", help="a cassette set written by record")
    options.add_arguments(replay, "replay")
    drift = commands.add_parser("drift", help="re-send a cassette set to a live target: where do its answers differ?")
    drift.add_argument("cassettes", metavar="DIR", help="a cassette set written by record")
    options.add_arguments(drift, "drift")


def _record(args: argparse.Namespace) -> int:
    from conformance import plugin
    from conformance.cassettes.cassette_set import refuse_foreign

    values = options.given(args, keyword="test_property")
    config = options.suite_config(values, os.environ)
    refuse_foreign(Path(args.cassettes))
    if config.target_url is not None:
        from conformance.http.client import check_reachable

        check_reachable(config.target_url, config.timeout)
    return plugin.main([*options.pytest_words(values), "--record-mode=rewrite"], config)


def _replay(args: argparse.Namespace) -> int:
    """The recorded run again, offline: its target, seed, budget and options, and its placeholders as secrets."""
    from conformance import plugin
    from conformance.cassettes.cassette_set import read_index, replay_environment

    index = read_index(Path(args.cassettes))
    values = options.given(
        args,
        **index.options,
        target_url=index.target,
        seed=index.seed if args.seed is None else args.seed,
        budget=index.budget,
        conformance_strict=args.conformance_strict or index.strict,
        rate_limit="off",
        keyword="test_property",
        replay=True,
    )
    config = options.suite_config(values, replay_environment(index))
    words = ["--record-mode=none", "--block-network"]
    return plugin.main([*options.pytest_words(values), *words], config)


def _drift(args: argparse.Namespace) -> int:
    from conformance.cassettes import drift
    from conformance.http.client import check_reachable

    config = options.suite_config(options.given(args), os.environ)
    assert config.target_url is not None
    if not config.destructive_allowed:
        raise UsageError("drift re-sends the recording's cancels and deletes: pass --allow-destructive for this target")
    index = drift.read(Path(args.cassettes))
    check_reachable(config.target_url, config.timeout)
    return drift.run(Path(args.cassettes), index, config)


COMMANDS = {"mock": _mock, "run": _run, "requirements": _requirements, "contract": _contract, "merge": _merge}
COMMANDS |= {"record": _record, "replay": _replay, "drift": _drift}


class _ReaderMayLeave:
    """stdout that, once its reader has gone (`| head`), drops what is still written: the run goes on
    to its verdict and its clean-up (killed by SIGPIPE, it would leave its calls on the target)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream, self._gone = stream, False

    def write(self, text: str) -> int:
        return self._quietly(lambda: self._stream.write(text)) or len(text)

    def flush(self) -> None:
        self._quietly(self._stream.flush)

    def _quietly(self, act: Callable[[], int | None]) -> int | None:
        if self._gone:
            return None
        try:
            return act()
        except BrokenPipeError:
            self._gone = True
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())  # nothing left to flush at exit
            return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    stdout = sys.stdout
    sys.stdout = _ReaderMayLeave(stdout)
    try:
        return _main(argv)
    finally:
        sys.stdout = stdout


def _main(argv: Sequence[str] | None) -> int:
    args = None
    try:
        from conformance.layers.determinism import hypothesis_home

        os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(hypothesis_home()))  # workers inherit it
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except SystemExit as done:  # --help, --version
        return int(done.code or 0)
    except UsageError as exc:
        print(f"husky-conformance: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the suite's own bug: one line and exit 3, never a traceback
        from conformance.run import crash

        secrets = crash.known_secrets(os.environ)
        for name, value in options.secret_values(args).items():
            secrets.add(value, name)
        report_dir = getattr(args, "report_dir", None)
        return crash.fail(exc, secrets, Path(report_dir) if report_dir else None)


if __name__ == "__main__":
    sys.exit(main())
