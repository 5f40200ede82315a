"""The demo city IT portfolio: its seeding (seed.py) and `pmo-ledger demo` (command.py)."""
