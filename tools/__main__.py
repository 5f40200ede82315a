"""`python -m tools ARGS`: `pmo-ledger ARGS`, with the tooling's commands registered from
this package rather than from the installed entry points. The tooling's own subprocesses
(the load test seeds the demo in one) run this way, so that they work from a source tree
whose installed metadata predates a change of the entry points."""

from tools.commands import COMMANDS, load
from web.cli import cli

for _name in COMMANDS:
    cli.add_command(load(_name), _name)

cli(prog_name="pmo-ledger")
