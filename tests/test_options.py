"""Each option is declared once (`conformance.run.options`): every declaration reaches the parser of
each subcommand that takes it, pytest's options, and round-trips through the pytest command line
of a run and its workers; the config and a recording take what they need of it."""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conformance import cli
from conformance.config import RENAMED, SuiteConfig, build_config
from conformance.run import options
from conformance.run.options import OPTIONS, Option

pytest_plugins = ["pytester"]

COMMANDS = ("run", "record", "replay", "drift", "merge")


def _sample(option: Option) -> tuple[list[str], Any]:
    """Words that give `option` a value other than its default, and that value."""
    if option.switch:
        return [], True
    if option.choices:
        return [option.choices[-1]], option.choices[-1]
    text = {int: "7", float: "2.5", options.positive_int: "3", options.k_of_n: "2/3"}.get(option.parse, "some-text")
    return [text], option.parse(text) if option.parse else text


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    actions = cli._parser()._subparsers._group_actions  # type: ignore[union-attr]
    return dict(next(a for a in actions if isinstance(a, argparse._SubParsersAction)).choices)


def _required(option: Option, command: str) -> list[str]:
    """What else `command` needs to parse (its required options and positional argument)."""
    words = ["DIR"] if command in ("replay", "drift", "merge") else []
    for other in OPTIONS:
        if command in other.required_in and other is not option:
            words += [other.cli_flag or other.flag, _sample(other)[0][0]]
    return words


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.dest)
def test_each_option_is_in_the_parser_of_each_subcommand_that_takes_it(option: Option) -> None:
    flag = option.cli_flag or option.flag
    words, value = _sample(option)
    for command in COMMANDS:  # the others (mock, requirements, contract) are not a run's
        parser = _subcommands()[command]
        flags = {f for action in parser._actions for f in action.option_strings}
        assert (flag in flags) == (command in option.commands), (command, flag)
        if command in option.commands:
            parsed = parser.parse_args([*_required(option, command), flag, *words])
            assert getattr(parsed, option.dest) == value, command
            assert options.given(parsed)[option.dest] == value


def test_every_option_of_the_cli_is_declared() -> None:
    declared = {o.cli_flag or o.flag for o in OPTIONS} | {"-h"}
    for command in COMMANDS:
        parser = _subcommands()[command]
        flags = {a.option_strings[0] for a in parser._actions if a.option_strings}
        assert flags <= declared, (command, flags - declared)


def _here(words: list[str]) -> list[str]:
    """`words` without their `--rootdir`: pytester's folder is the test's."""
    at = words.index("--rootdir")
    return words[:at] + words[at + 2 :]


def _pytest_config(pytester: pytest.Pytester, words: list[str]) -> pytest.Config:
    return pytester.parseconfig(*_here(words))


def test_each_plugin_option_is_a_pytest_option(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfig()
    for option in OPTIONS:
        if option.owner == "plugin":
            assert getattr(config.option, option.dest) == option.default, option.dest
    group = next(g for g in config._parser._groups if g.name == "husky-conformance")
    assert {name for o in group.options for name in o.names()} == {o.flag for o in OPTIONS if o.owner == "plugin"}


def test_every_value_round_trips_through_a_workers_command_line(pytester: pytest.Pytester) -> None:
    """Each option given (none left at its default), as pytest's command line, parsed again by pytest."""
    values = {o.dest: _sample(o)[1] for o in OPTIONS}
    config = _pytest_config(pytester, options.pytest_words(values))
    again = options.given(config.option)
    assert again == values | {"workers": options.given(SimpleNamespace())["workers"]}  # the CLI's own


def test_defaults_round_trip_too(pytester: pytest.Pytester) -> None:
    values = options.given(SimpleNamespace())
    assert options.given(_pytest_config(pytester, options.pytest_words(values)).option) == values


def test_zeros_round_trip_too(pytester: pytest.Pytester) -> None:
    """0 is a value (`--wait-completed 0` waits for nothing; unset, the api seeder waits 60 s)."""
    values = options.given(SimpleNamespace(wait_completed=0.0, seed=0, max_requests=0))
    assert options.given(_pytest_config(pytester, options.pytest_words(values)).option) == values


def test_a_secret_from_the_environment_stays_out_of_the_command_line(tmp_path: Path) -> None:
    values = options.given(SimpleNamespace(report_dir=str(tmp_path)))
    env = {"HUSKY_FIXTURES_TOKEN": "tok-from-the-environment"}
    assert options.suite_config(values, env).fixtures_token == "tok-from-the-environment"
    assert "tok-from-the-environment" not in " ".join(options.pytest_words(values))
    given = options.given(SimpleNamespace(report_dir=str(tmp_path), fixtures_token="tok-given"))
    assert options.suite_config(given, env).fixtures_token == "tok-given"  # the option wins
    assert options.secret_values(SimpleNamespace(fixtures_token="tok-given")) == {"HUSKY_FIXTURES_TOKEN": "tok-given"}


def test_the_config_takes_every_option_it_has_a_parameter_for() -> None:
    """`build_config`'s parameters are all fed by options: none is left out of `config_from`."""
    fed = {RENAMED.get(o.dest, o.dest) for o in OPTIONS}
    parameters = set(inspect.signature(build_config).parameters) - {"env"}
    assert parameters <= fed, parameters - fed


def test_an_option_named_as_a_config_field_reaches_the_config(tmp_path: Path) -> None:
    """Checked by `build_config` (its parameters) or taken as given (`SuiteConfig`'s other fields)."""
    samples = {o.dest: _sample(o)[1] for o in OPTIONS}
    values = options.given(SimpleNamespace(report_dir=str(tmp_path), seeder="api", rate_limit="30/min"))
    as_given = ("conformance_strict", "request_timeout", "allow_destructive", "isolated_target", "dry_run")
    as_given += ("wait_completed", "agent_id", "max_requests", "fixtures_token")
    config = options.suite_config(values | {name: samples[name] for name in as_given}, {})
    for name in as_given:
        assert getattr(config, RENAMED.get(name, name)) == samples[name], name
    assert (config.seeder, config.rate_limit) == ("api", 30.0)


def test_a_recording_keeps_config_fields_and_no_secret(tmp_path: Path) -> None:
    fields = set(SuiteConfig.__dataclass_fields__)
    for option in OPTIONS:
        assert not (option.kept and option.secret), option.dest
        assert not option.kept or option.dest in fields, option.dest
    config = options.suite_config(options.given(SimpleNamespace(report_dir=str(tmp_path))), {})
    assert options.kept(config) == {
        "allow_destructive": False,
        "isolated_target": False,
        "seeder": "fixtures",
        "pool_file": None,
        "wait_completed": 0.0,
        "agent_id": "agent_conformance",
    }


def test_the_plugin_takes_the_clis_config_and_builds_none(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Built once a process: the CLI's config goes to the plugin (`plugin.main`), which builds no other."""
    import json

    from suite_runs import QUICK_PROPERTIES

    from conformance import plugin

    values = options.given(SimpleNamespace(report_dir=str(tmp_path / "reports"), budget="quick", seed=4242))
    config = options.suite_config(values, {})
    built: list[Any] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(options, "config_from", lambda *args: built.append(args))
        words = _here(options.pytest_words(values | {"seed": 1}))  # the words' seed is not the config's
        result = pytester.runpytest_inprocess(
            *words, *QUICK_PROPERTIES, "-k", "repeat_delete", plugins=[plugin._Given(config)]
        )
    assert result.ret == 2, "\n".join(result.outlines + result.errlines)
    assert built == []
    assert json.loads((tmp_path / "reports" / "report.json").read_text())["seed"] == 4242
