"""The tooling's `pmo-ledger` commands, by name: what pyproject.toml's `pmo_ledger.commands`
entry-point group registers (tests/test_tool_commands.py holds the two to the same list)."""

from __future__ import annotations

from importlib import import_module

import click

# name -> "module:attribute", exactly as the entry points write them.
COMMANDS = {
    "bench": "tools.bench.command:bench_command",
    "loadtest": "tools.loadtest.command:loadtest_command",
    "demo": "tools.demo.command:demo_command",
}


def load(name: str) -> click.Command:
    module, attribute = COMMANDS[name].split(":")
    return getattr(import_module(module), attribute)
