"""The tooling's commands (`bench`, `loadtest`, `demo`) reach `pmo-ledger` through the
`pmo_ledger.commands` entry-point group, which pyproject.toml fills from tools/commands.py;
the product's packages never import `tools` (import-linter holds that)."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tools.commands import COMMANDS, load
from web import cli as cli_module

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _entry_points(table: dict[str, str]) -> importlib.metadata.EntryPoints:
    return importlib.metadata.EntryPoints(
        importlib.metadata.EntryPoint(name, value, cli_module.TOOL_COMMANDS)
        for name, value in table.items())


def test_pyproject_registers_exactly_the_tool_commands() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert project["entry-points"][cli_module.TOOL_COMMANDS] == COMMANDS


def test_the_cli_registers_every_command_of_the_entry_point_group(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def entry_points(*, group: str) -> importlib.metadata.EntryPoints:
        asked.append(group)
        return _entry_points(COMMANDS)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    group = click.Group("pmo-ledger")
    cli_module.add_tool_commands(group)
    assert asked == [cli_module.TOOL_COMMANDS]
    assert {name: group.commands[name] for name in COMMANDS} == {n: load(n) for n in COMMANDS}
    for name in COMMANDS:
        result = CliRunner().invoke(group, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, result.output


def test_a_tool_command_that_does_not_load_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda *, group: _entry_points({"bench": "tools.no_such_module:bench"}))
    with pytest.raises(ModuleNotFoundError):
        cli_module.add_tool_commands(click.Group("pmo-ledger"))


def test_python_m_tools_has_the_tool_commands_without_installed_entry_points() -> None:
    from tests.serving import cli

    done = cli("--help")
    assert done.returncode == 0, done.stderr
    assert all(f"  {name} " in done.stdout for name in COMMANDS), done.stdout


def test_main_loads_the_group_before_running(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`pmo-ledger` (web.cli:main) has the tool commands; importing web.cli alone loads
    none (a tool module imported first imports web.cli, and must not be loaded half-made)."""
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda *, group: _entry_points(COMMANDS))
    monkeypatch.setattr("sys.argv", ["pmo-ledger", "demo", "--help"])
    monkeypatch.setattr(cli_module.cli, "commands", dict(cli_module.cli.commands))
    with pytest.raises(SystemExit) as ended:
        cli_module.main()
    assert ended.value.code == 0
    assert "Seed the demo city IT portfolio" in capsys.readouterr().out
