"""Every option of a run, declared once (`OPTIONS`), and everything derived from the declarations.

An `Option` says all there is to say about one option: its pytest flag and name, the flag of the
`husky-conformance` subcommands that take it, its environment variable, default, parser, help,
whether a recording keeps it and whether it is secret. From `OPTIONS` come

- `add_arguments`: the arguments of a subcommand's parser (`conformance.cli`);
- `add_pytest_options`: the plugin's pytest options (`conformance.plugin`, `pytest_addoption`);
- `given` and `pytest_words`: the values of parsed options (the CLI's or pytest's), and the pytest
  command line that stands for them (`husky-conformance run` in process, each worker of
  `--workers`, a `--shard`);
- `suite_config`: the run's `SuiteConfig`, environment variables applied (`conformance.config`
  builds it from the values, by name);
- `kept`: what a recording keeps of a run's options, and a replay passes again.

Adding an option is one `Option(...)` below, and, if the config needs it, its field in
`conformance.config`. `tests/test_options.py` checks that each declaration reaches the CLI, pytest
and a worker's command line.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from conformance.config import SEEDERS, SuiteConfig, config_from

__all__ = [
    "OPTIONS",
    "Option",
    "add_arguments",
    "add_pytest_options",
    "given",
    "k_of_n",
    "kept",
    "positive_int",
    "pytest_words",
    "resolve",
    "secret_values",
    "suite_config",
]

RUN, RECORD, REPLAY, DRIFT, MERGE = "run", "record", "replay", "drift", "merge"
STAGING = "running against a shared or live target"  # the CLI's help group of the staging options
# The pytest command line of every run, whatever its options. No ini file and no conftest.py of
# wherever it runs: the suite is the same from every directory. `--assert=plain`: pytest would
# rewrite the asserts of every module of every plugin's distribution (hypothesis and schemathesis
# too), seconds a run where bytecode is not cached; the suite states its rules with `ctx.expect`.
PYTEST_BASE = ["--pyargs", "conformance.suite", "-p", "no:cacheprovider", "-c", os.devnull, "--noconftest"]
PYTEST_BASE += ["--assert=plain"]


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def k_of_n(text: str) -> str:
    """`K/N` with 1 <= K <= N, as given."""
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, got {text!r}")
    return text


@dataclass(frozen=True)
class Option:
    dest: str  # the name of its value: pytest's `config.option.<dest>`, the CLI's, and the config's input
    flag: str  # the pytest flag
    help: str  # `%(default)s` is its default (the subcommand's)
    commands: tuple[str, ...] = ()  # the `husky-conformance` subcommands that take it
    cli_flag: str | None = None  # the subcommands' flag, where it is not `flag`
    default: Any = None
    parse: Callable[[str], Any] | None = None  # text to value (argparse's `type`); None: the text
    switch: bool = False  # a flag without a value: True when given
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    env: str | None = None  # the environment variable that stands in when the option is not given
    kept: bool = False  # a recording keeps it (a config field of the same name); a replay passes it again
    secret: bool = False  # never written anywhere; a replay takes it from the recording's placeholders
    staging: bool = False  # listed in the CLI's help under `STAGING`
    required_in: tuple[str, ...] = ()  # the subcommands that need it
    command_defaults: tuple[tuple[str, Any], ...] = ()  # (subcommand, default) where it is not `default`
    owner: Literal["plugin", "pytest", "cli"] = "plugin"  # who parses it under pytest: the plugin,
    # pytest itself (`-k`), or nobody (the CLI's own: `--workers` starts processes)

    def __post_init__(self) -> None:
        if self.switch:
            object.__setattr__(self, "default", bool(self.default))

    def default_in(self, command: str) -> Any:
        return dict(self.command_defaults).get(command, self.default)

    def parser_kwargs(self, default: Any) -> dict[str, Any]:
        """What argparse (and pytest's `addoption`) take for it, `dest` and `default` included."""
        kwargs: dict[str, Any] = {"dest": self.dest, "default": default, "help": self.help}
        if self.switch:
            return kwargs | {"action": "store_true"}
        extra = {"type": self.parse, "choices": self.choices, "metavar": self.metavar}
        return kwargs | {k: v for k, v in extra.items() if v is not None}

    def words(self, value: Any) -> list[str]:
        """Its part of a pytest command line: nothing when not given."""
        if self.owner == "cli" or value is None or value is False or value == "":
            return []
        return [self.flag] if self.switch else [self.flag, str(value)]


OPTIONS: tuple[Option, ...] = (
    Option(
        "target_url",
        "--target-url",
        "base URL, base path included (default: start the bundled mock)",
        commands=(RUN, RECORD, DRIFT),
        required_in=(DRIFT,),
        metavar="URL",
    ),
    Option(
        "fixtures_token",
        "--fixtures-token",
        "token of the target's fixtures API (or HUSKY_FIXTURES_TOKEN)",
        commands=(RUN, RECORD, DRIFT),
        env="HUSKY_FIXTURES_TOKEN",
        secret=True,
        metavar="TOKEN",
    ),
    Option(
        "report_dir",
        "--report-dir",
        "where the reports go (default %(default)s/)",
        commands=(RUN, RECORD, REPLAY, DRIFT, MERGE),
        default="reports",
        metavar="DIR",
    ),
    Option(
        "seed",
        "--seed",
        "seed of all generated input: same seed, same requests (default 20261201; replay: the recording's)",
        commands=(RUN, RECORD, REPLAY),
        parse=int,
        metavar="N",
    ),
    Option(
        "budget",
        "--budget",
        "smoke, quick, default or thorough, or a number of requests the run may send (default: %(default)s)",
        commands=(RUN, RECORD),
        default="default",
        metavar="NAME|N",
        command_defaults=((RECORD, "quick"),),
    ),
    # pytest owns --strict (an alias of its strict options): the plugin's is --conformance-strict.
    Option(
        "conformance_strict",
        "--conformance-strict",
        "SHOULD failures fail the verdict too (merge: as they did in any shard)",
        commands=(RUN, RECORD, REPLAY, MERGE),
        cli_flag="--strict",
        switch=True,
    ),
    Option(
        "request_timeout",
        "--request-timeout",
        "seconds each request may take in all, its whole answer included (default %(default)g)",
        commands=(RUN, RECORD, DRIFT),
        cli_flag="--timeout",  # pytest-timeout owns --timeout
        default=10.0,
        parse=float,
        metavar="SECONDS",
    ),
    Option(
        "keyword",
        "-k",
        "only the checks matching EXPR (pytest -k)",
        commands=(RUN,),
        default="",  # pytest's
        metavar="EXPR",
        owner="pytest",
    ),
    Option(
        "workers",
        "--workers",
        "run the checks in N processes at once, against the same target (default: one a core, at most 2,"
        " for a whole run of the bundled mock at the quick budget or more; else 1)",
        commands=(RUN,),
        parse=positive_int,
        metavar="N",
        owner="cli",
    ),
    Option(
        "slice",
        "--slice",
        "run share K of the checks split N ways, as worker K of --workers N does; 'husky-conformance merge'"
        " joins the shares' report folders",
        commands=(RUN,),
        cli_flag="--shard",
        parse=k_of_n,
        metavar="K/N",
    ),
    Option(
        "rate_limit",
        "--rate-limit",
        "send at most N requests a minute: N/min, or off (default 60/min; loopback: off)",
        commands=(RUN, RECORD, DRIFT),
        metavar="N/min",
        staging=True,
    ),
    Option(
        "allow_destructive",
        "--allow-destructive",
        "cancel and delete the suite's calls on a non-loopback target",
        commands=(RUN, RECORD, DRIFT),
        switch=True,
        kept=True,
        staging=True,
    ),
    Option(
        "isolated_target",
        "--isolated-target",
        "the target holds no call but the suite's: cancel and delete may try near-miss ids (docs/staging.md)",
        commands=(RUN, RECORD),
        switch=True,
        kept=True,
        staging=True,
    ),
    Option(
        "dry_run",
        "--dry-run",
        "print the plan (checks, requests, time); send nothing",
        commands=(RUN,),
        switch=True,
        staging=True,
    ),
    Option(
        "seeder",
        "--seeder",
        "how calls are made (default: fixtures with a token, else api)",
        commands=(RUN, RECORD),
        choices=SEEDERS,
        kept=True,
        staging=True,
    ),
    Option(
        "pool_file",
        "--pool",
        "pre-provisioned completed call ids, one a line (--seeder pool)",
        commands=(RUN,),
        metavar="FILE",
        kept=True,
        staging=True,
    ),
    Option(
        "wait_completed",
        "--wait-completed",
        "how long the api seeder polls a new call to complete (default 60 with --seeder api, else 0)",
        commands=(RUN,),
        parse=float,
        metavar="SECONDS",
        kept=True,
        staging=True,
    ),
    Option(
        "agent_id",
        "--agent-id",
        "agent_id of the calls the suite creates (default agent_conformance)",
        commands=(RUN, RECORD),
        kept=True,
        staging=True,
        metavar="ID",
    ),
    # pytest's only: set by the CLI for a worker (`conformance.run.parallel`) or a record/replay run.
    Option("max_requests", "--max-requests", "this process's share of the budget's request cap", parse=int),
    Option(
        "cassettes",
        "--cassettes",
        "the cassette set to record the targeted properties into (replaced), or with --replay to replay",
        commands=(RECORD,),
        metavar="DIR",
        required_in=(RECORD,),
    ),
    Option("replay", "--replay", "with --cassettes: replay them offline and judge again", switch=True),
)


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The arguments of subcommand `command`: each option that names it."""
    staging = None
    for option in OPTIONS:
        if command not in option.commands:
            continue
        if option.staging and staging is None:
            staging = parser.add_argument_group(STAGING)
        kwargs = option.parser_kwargs(option.default_in(command))
        if command in option.required_in:
            kwargs["required"] = True
        (staging if option.staging and staging else parser).add_argument(option.cli_flag or option.flag, **kwargs)


def add_pytest_options(group: Any) -> None:
    """The plugin's pytest options (`group` is its `pytest.OptionGroup`)."""
    for option in OPTIONS:
        if option.owner == "plugin":
            group.addoption(option.flag, **option.parser_kwargs(option.default))


def given(options: Any, **overrides: Any) -> dict[str, Any]:
    """Every option's value as parsed (`options`: the CLI's namespace or pytest's `config.option`),
    its default where `options` has none, then `overrides`."""
    values = {option.dest: getattr(options, option.dest, option.default) for option in OPTIONS}
    unknown = set(overrides) - set(values)
    assert not unknown, f"no option {unknown}"
    return values | overrides


def pytest_words(values: Mapping[str, Any]) -> list[str]:
    """The pytest command line that stands for `values` (what `husky-conformance run` runs)."""
    words = [*PYTEST_BASE, "--rootdir", os.getcwd()]
    for option in OPTIONS:
        words += option.words(values.get(option.dest))
    return words


def resolve(values: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """`values` with each option's environment variable where it was not given. A replay's secrets
    are its recording's placeholders (`env`, `conformance.cassettes.cassette_set.run_environment`)."""
    resolved = dict(values)
    for option in OPTIONS:
        if option.secret and values.get("replay"):
            resolved[option.dest] = None
        if option.env and resolved.get(option.dest) is None:
            resolved[option.dest] = env.get(option.env) or None
    return resolved


def suite_config(values: Mapping[str, Any], env: Mapping[str, str]) -> SuiteConfig:
    """The run's config: from the options' values, their environment variables, and `env`'s credentials."""
    return config_from(resolve(values, env), env)


def secret_values(options: Any) -> dict[str, str]:
    """The secret options given (`options` parsed, by `dest`), each by its name in the redacted
    text (its environment variable: `${HUSKY_FIXTURES_TOKEN}`)."""
    return {o.env or o.flag: value for o in OPTIONS if o.secret and (value := getattr(options, o.dest, None))}


def kept(config: SuiteConfig) -> dict[str, Any]:
    """The run's options a recording keeps: those that shape what it sends (a replay passes them again)."""
    return {o.dest: _plain(getattr(config, o.dest)) for o in OPTIONS if o.kept}


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value
