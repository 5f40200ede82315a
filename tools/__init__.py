"""Tooling beside the product: the benchmark (`pmo-ledger bench`), the load test
(`pmo-ledger loadtest`) and the demo portfolio (`pmo-ledger demo`), plus the stand-alone
bundle verifier (verify-bundle.mjs).

The runtime packages (ledger, domain, web) never import this package (an import-linter
contract); its commands reach the CLI through the `pmo_ledger.commands` entry-point group.
"""
